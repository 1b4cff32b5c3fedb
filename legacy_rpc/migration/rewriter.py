"""The drop-in step: rewrite legacy imports (and what names them) to ``legacy_rpc``.

Only the text planned by :mod:`.plan` changes (import statements, dotted references
through a plain ``import x.openstack.common.rpc.proxy``, and string literals that are a
legacy module path); every other byte of the file, comments and formatting included, stays
as it was. Running it again changes nothing. Python 2 files are rewritten the same way
(their import lines are Python 3's); a file that is neither Python 3 nor recognisably
Python 2 is refused.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass, field

from legacy_rpc.migration.plan import apply_plan, plan_source
from legacy_rpc.migration.python2 import python2_reason
from legacy_rpc.migration.resolve import Resolve, by_name

__all__ = ["Change", "Rewrite", "rewrite_source", "python_version"]


@dataclass(frozen=True)
class Change:
    """One statement changed at ``line``: its text before and after."""

    line: int
    before: str
    after: str


@dataclass
class Rewrite:
    """The rewritten text, what changed, and what must be changed by hand (line, why).

    ``python2`` says why the source was taken for Python 2 (None for Python 3).
    """

    text: str
    changes: list[Change] = field(default_factory=list)
    manual: list[tuple[int, str]] = field(default_factory=list)
    python2: str | None = None


def python_version(text: str, filename: str = "<source>") -> str | None:
    """None for Python 3 source, why it is Python 2 source otherwise.

    :raises SyntaxError: neither (a syntax error, not a Python 2 construct).
    """
    try:
        ast.parse(text, filename=filename)
    except SyntaxError as exc:
        reason = python2_reason(text, exc)
        if reason is None:
            raise
        return reason
    except ValueError as exc:  # a NUL byte
        raise SyntaxError(str(exc)) from exc
    return None


def rewrite_source(text: str, filename: str = "<source>",
                   resolve: Resolve = by_name) -> Rewrite:
    """Rewrite the legacy imports of ``text``.

    :raises SyntaxError: it is neither Python 3 nor Python 2 source.
    """
    result = Rewrite(text, python2=python_version(text, filename))
    plan = plan_source(text, resolve)
    result.manual = [(item.line, item.advice) for item in plan.items if not item.fixable]
    result.text = apply_plan(text, plan)
    if result.text != text:
        result.changes = _changes(text, result.text)
    return result


def _changes(old: str, new: str) -> list[Change]:
    """Changed line groups between ``old`` and ``new``, numbered as in ``old``."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    changes = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            changes.append(Change(i1 + 1, "\n".join(old_lines[i1:i2]),
                                  "\n".join(new_lines[j1:j2])))
    return changes

"""The drop-in step: rewrite legacy import lines to ``legacy_rpc``, nothing else.

Only the text of import statements (and the module-path strings of
``CONF.import_opt``/``import_group``) changes; every other byte of the file, comments and
formatting included, stays as it was. Running it again changes nothing.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass, field

from legacy_rpc.migration import names

__all__ = ["Change", "Rewrite", "rewrite_source"]

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


@dataclass(frozen=True)
class Change:
    """One statement changed at ``line``: its text before and after."""

    line: int
    before: str
    after: str


@dataclass
class Rewrite:
    """The rewritten text, what changed, and what must be changed by hand (line, why)."""

    text: str
    changes: list[Change] = field(default_factory=list)
    manual: list[tuple[int, str]] = field(default_factory=list)


class _Offsets:
    """Character offsets of ``(lineno, utf-8 column)`` positions of :mod:`ast`."""

    def __init__(self, text: str) -> None:
        self.lines = _LINE.findall(text)  # line ends as ast counts them
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def __call__(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1] if lineno <= len(self.lines) else ""
        return self.starts[lineno - 1] + len(line.encode()[:col].decode(errors="ignore"))


def _dotted(name: str) -> re.Pattern[str]:
    """A dotted name in source text, allowing blanks around the dots."""
    return re.compile(r"\s*\.\s*".join(re.escape(part) for part in name.split(".")))


def _alias_text(alias: ast.alias) -> str:
    return f"{alias.name} as {alias.asname}" if alias.asname else alias.name


def _split_from(node: ast.ImportFrom, indent: str) -> str | None:
    """``from <legacy parent> import ...``: the statement(s) importing from the drop-ins."""
    module = node.module or ""
    groups: dict[str, list[str]] = {}
    for alias in node.names:
        dropin = names.dropin_module(f"{module}.{alias.name}")
        if dropin is None:
            groups.setdefault(module, []).append(_alias_text(alias))
            continue
        parent, _, leaf = dropin.rpartition(".")
        text = _alias_text(alias) if leaf == alias.name else (
            f"{leaf} as {alias.asname or alias.name}")
        groups.setdefault(parent, []).append(text)
    if list(groups) == [module]:
        return None
    return f"\n{indent}".join(f"from {parent} import {', '.join(items)}"
                              for parent, items in groups.items())


class _Rewriter:
    def __init__(self, text: str) -> None:
        self.text = text
        self.offsets = _Offsets(text)
        self.edits: list[tuple[int, int, str]] = []
        self.result = Rewrite(text)

    def span(self, node: ast.stmt | ast.expr) -> tuple[int, int]:
        end_lineno = node.end_lineno or node.lineno
        end_col = node.end_col_offset if node.end_col_offset is not None else 0
        return self.offsets(node.lineno, node.col_offset), self.offsets(end_lineno, end_col)

    def replace_in(self, node: ast.stmt | ast.expr, old: str, new: str) -> None:
        """Replace the first occurrence of dotted name ``old`` in ``node``'s text."""
        start, end = self.span(node)
        match = _dotted(old).search(self.text, start, end)
        if match is not None:
            self.edits.append((match.start(), match.end(), new))

    def replace_all(self, node: ast.stmt, new: str) -> None:
        start, end = self.span(node)
        self.edits.append((start, end, new))

    def import_(self, node: ast.Import) -> None:
        for alias in node.names:
            dropin = names.dropin_module(alias.name)
            if dropin is None:
                continue
            if alias.asname:
                self.replace_in(node, alias.name, dropin)
            else:
                self.result.manual.append((node.lineno, (
                    f"'import {alias.name}' binds '{alias.name.split('.')[0]}': write "
                    f"'import {dropin} as <name>' and use <name> where '{alias.name}' is "
                    "used")))

    def import_from(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            return
        dropin = names.dropin_module(module)
        if dropin is not None:
            self.replace_in(node, module, dropin)
            return
        if not names.LEGACY_PARENTS.match(module):
            return
        line = self.offsets.lines[node.lineno - 1]
        indent = line[:len(line) - len(line.lstrip())]
        replacement = _split_from(node, indent)
        if replacement is None:
            return
        dropins = [names.dropin_module(f"{module}.{a.name}") for a in node.names]
        parents = {d.rpartition(".")[0] for d in dropins if d}
        pairs = zip(dropins, node.names, strict=True)
        if len(parents) == 1 and all(d and d.endswith("." + a.name) for d, a in pairs):
            self.replace_in(node, module, parents.pop())  # keeps the statement's layout
        else:
            self.replace_all(node, replacement)

    def import_opt(self, node: ast.Call) -> None:
        func = node.func
        if not (isinstance(func, ast.Attribute) and func.attr in ("import_opt", "import_group")
                and len(node.args) >= 2):
            return
        arg = node.args[1]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            dropin = names.dropin_module(arg.value)
            if dropin is not None:
                start, end = self.span(arg)
                index = self.text.find(arg.value, start, end)
                if index >= 0:
                    self.edits.append((index, index + len(arg.value), dropin))

    def apply(self) -> Rewrite:
        text = self.text
        for start, end, new in sorted(self.edits, reverse=True):
            text = text[:start] + new + text[end:]
        self.result.text = text
        return self.result


def rewrite_source(text: str, filename: str = "<source>") -> Rewrite:
    """Rewrite the legacy imports of ``text``. :raises SyntaxError: it does not parse."""
    tree = ast.parse(text, filename=filename)
    rewriter = _Rewriter(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            rewriter.import_(node)
        elif isinstance(node, ast.ImportFrom):
            rewriter.import_from(node)
        elif isinstance(node, ast.Call):
            rewriter.import_opt(node)
    result = rewriter.apply()
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

"""Whether a legacy-named module is the legacy implementation, decided from the tree.

A name alone does not tell: nova 2014.1's own ``nova/rpc.py`` and nova 2013.2's own
``nova/notifier.py`` are shims over oslo.messaging, while Essex's ``nova/rpc/`` package *is*
the legacy implementation. The module is looked up from the importing file's directory
upwards (as ``sys.path`` would find the project's packages) and judged by what it
defines: the legacy rpc functions (``call``, ``cast``, ``multicall``, ...), the legacy
notifier API (``notify``, ``publisher_id``, ...) or ``PublishErrorsHandler``, and no import
of a maintained core (oslo.messaging or legacy_rpc) or of another copy of the same legacy
package (a project's wrapper over its vendored copy).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from legacy_rpc.migration import imports, lexer, names

__all__ = ["Verdict", "Resolve", "by_name", "TreeResolver", "is_legacy_implementation",
           "module_facts"]

_RPC_API = frozenset({"call", "cast", "fanout_cast", "multicall", "create_connection",
                      "cast_to_server", "fanout_cast_to_server", "queue_get_for", "notify"})
_NOTIFIER_API = frozenset({"notify", "publisher_id", "notify_decorator", "add_driver"})
_CORES = ("oslo.messaging", "oslo_messaging", "legacy_rpc")
_MAX_SOURCE = 2_000_000


@dataclass(frozen=True)
class Verdict:
    """``dropin``: the ``legacy_rpc`` name replacing a legacy module name, or None to leave
    it alone; ``note``: why it is left alone when that is not certain (to report)."""

    dropin: str | None
    note: str | None = None


Resolve = Callable[[str], Verdict]
"""A module name -> its verdict."""


def by_name(module: str) -> Verdict:
    """The verdict from the name alone (for a source seen without its tree)."""
    return Verdict(names.dropin_module(module))


def module_facts(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """Names defined at the top level of a module (``def``/``class``) and modules it imports."""
    tokens = [t for t in lexer.tokenize(text) if t.kind != lexer.COMMENT]
    defined: set[str] = set()
    imported: set[str] = set()
    for i, token in enumerate(tokens):
        starts = i == 0 or tokens[i - 1].kind == lexer.NEWLINE
        if not starts or token.kind != lexer.NAME or i + 1 >= len(tokens):
            continue
        if token.col == 1 and token.text in ("def", "class"):
            defined.add(tokens[i + 1].text)
        elif token.text in ("import", "from"):
            stmt = list(itertools.takewhile(lambda t: t.kind != lexer.NEWLINE, tokens[i:]))
            parsed = imports.parse_import(stmt)
            if parsed is None or parsed.level:
                continue
            for alias in parsed.aliases:
                if parsed.is_from:
                    imported.update((parsed.module, f"{parsed.module}.{alias.name}"))
                else:
                    imported.add(alias.name)
    return frozenset(defined), frozenset(imported)


def _wraps(module: str, kind: str, own: tuple[str, ...]) -> bool:
    """Whether importing ``module`` shows a wrapper: a maintained core, or another copy of
    the same legacy package (a project's ``common/rpc.py`` over its vendored rpc)."""
    if any(module == core or module.startswith(core + ".") for core in _CORES):
        return True
    root = names.legacy_root(module)
    if root is None or root.rpartition(".")[2] != kind:
        return False
    parts = tuple(root.split("."))
    return own[-len(parts):] != parts


def _read(path: Path) -> str:
    try:
        with path.open("rb") as stream:
            return stream.read(_MAX_SOURCE).decode("utf-8", errors="replace")
    except OSError:
        return ""


def is_legacy_implementation(path: Path, kind: str) -> bool:
    """Whether the package directory or module file ``path`` is a legacy ``kind``
    (``rpc``, ``notifier`` or ``log_handler``) implementation, judged by its content."""
    files = [path / "__init__.py", path / "api.py"] if path.is_dir() else [path]
    own = path.parts if path.is_dir() else path.with_suffix("").parts
    defined: set[str] = set()
    for file in files:
        file_defined, imported = module_facts(_read(file))
        if any(_wraps(module, kind, own) for module in imported):
            return False
        defined |= file_defined
    if kind == "rpc":
        return len(defined & _RPC_API) >= 3
    if kind == "notifier":
        return len(defined & _NOTIFIER_API) >= 2
    return "PublishErrorsHandler" in defined


def _locate(parts: tuple[str, ...], near: Path) -> Path | None:
    """The package directory or module file of ``parts``, from ``near`` upwards."""
    for base in (near, *near.parents):
        package = base.joinpath(*parts)
        if (package / "__init__.py").is_file():
            return package
        module = base.joinpath(*parts[:-1], parts[-1] + ".py")
        if module.is_file():
            return module
    return None


class TreeResolver:
    """Verdicts for the files of one tree, each module judged once."""

    def __init__(self) -> None:
        self._judge = lru_cache(maxsize=None)(self._judge_uncached)
        self._locate = lru_cache(maxsize=None)(_locate)

    def for_file(self, path: Path) -> Resolve:
        """The verdicts for imports made by the file ``path``."""
        near = path.parent.resolve()
        return lambda module: self.verdict(module, near)

    def verdict(self, module: str, near: Path) -> Verdict:
        dropin = names.dropin_module(module)
        root = names.legacy_root(module)
        if dropin is None or root is None:
            return Verdict(None)
        found = self._locate(tuple(root.split(".")), near)
        if found is not None:
            return Verdict(dropin if self._judge(found, root.rpartition(".")[2]) else None)
        if names.INCUBATOR.search(root + "."):
            return Verdict(dropin)
        return Verdict(None, f"'{root}' is not in this tree, so whether it is the legacy "
                             f"implementation is unknown: if it is (Essex), use '{dropin}'; "
                             "or scan the tree that holds it")

    def is_vendored(self, path: Path) -> bool:
        """Whether ``path`` (a directory or a ``.py`` file) is a copy of a legacy package."""
        kind = path.name[:-3] if path.name.endswith(".py") else path.name
        if kind not in ("rpc", "notifier", "log_handler"):
            return False
        if path.is_dir() and not (path / "__init__.py").is_file():
            return False
        return self._judge(path.resolve(), kind)

    @staticmethod
    def _judge_uncached(path: Path, kind: str) -> bool:
        return is_legacy_implementation(path, kind)

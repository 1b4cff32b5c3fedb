"""Scan a file or a tree: per-file findings, totals, next steps, exit status."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legacy_rpc.migration import confscan, pyscan
from legacy_rpc.migration.findings import KINDS, Finding
from legacy_rpc.migration.python2 import PORT_ADVICE
from legacy_rpc.migration.resolve import TreeResolver
from legacy_rpc.migration.sources import SourceError, read_source

__all__ = ["FileReport", "Report", "scan_path", "iter_files", "SKIP_DIRS", "SCHEMA_VERSION",
           "IMPORT_KINDS"]

SCHEMA_VERSION = 1
SKIP_DIRS = frozenset({".git", ".hg", ".tox", ".nox", ".venv", "venv", "__pycache__",
                       "node_modules", "build", "dist", ".mypy_cache", ".pytest_cache"})
CONFIG_SUFFIXES = (".conf", ".conf.sample", ".conf.example")
IMPORT_KINDS = frozenset({"legacy-import", "import-opt", "legacy-string"})
"""Kinds of the drop-in step: ``legacy-rpc migrate`` changes the fixable ones, a person the
others (marked 'not done automatically')."""
_CONFIG_KINDS = frozenset({"rpc-backend", "legacy-option", "unknown-option"})

_NEXT = {
    "legacy-imports": "run: legacy-rpc migrate {path} --write (the drop-in step)",
    "manual-imports": "change by hand what is marked 'not done automatically'",
    "python2": PORT_ADVICE,
    "legacy-api": "runs on legacy_rpc; move its call sites to the new-style API one at a "
                  "time (migration_guide/call_mapping.md)",
    "legacy-config": "print the new-style options: legacy-rpc config {path}",
    "vendored": "delete this vendored copy once nothing imports it",
    "error": "fix the error above, then scan again",
    "clean": "nothing to do",
}


@dataclass
class FileReport:
    """One file: ``kind`` python/python2/config/vendored, its status and findings, or its
    error. ``python2`` says why a file was taken for Python 2 source."""

    path: str
    kind: str
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    location: str = ""
    """The path to give to another command (``path`` is relative to the scanned root)."""
    python2: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        if self.kind == "vendored":
            return "vendored"
        kinds = {f.kind for f in self.findings}
        if any(f.fixable and f.kind in IMPORT_KINDS for f in self.findings):
            return "legacy-imports"
        if kinds & IMPORT_KINDS:
            return "manual-imports"
        if self.kind == "python2":
            return "python2"
        if self.kind == "config" and kinds:
            return "legacy-config"
        return "legacy-api" if kinds else "clean"

    @property
    def next_step(self) -> str:
        step = _NEXT[self.status].format(path=self.location or self.path)
        if self.kind == "python2" and self.status != "python2":
            step += "; then " + PORT_ADVICE
        return step

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "status": self.status,
                "error": self.error, "python2": self.python2, "next": self.next_step,
                "findings": [f.as_dict() for f in self.findings]}


@dataclass
class Report:
    """Every scanned file; the files that need nothing are counted, not listed."""

    root: str
    files: list[FileReport] = field(default_factory=list)

    @property
    def listed(self) -> list[FileReport]:
        return [f for f in self.files if f.status != "clean"]

    def totals(self) -> dict[str, Any]:
        by_kind = Counter(f.kind for report in self.files for f in report.findings)
        by_status = Counter(report.status for report in self.files)
        return {"files_scanned": len(self.files),
                "files_with_legacy": sum(1 for r in self.files
                                         if r.findings or r.kind == "vendored"),
                "errors": by_status.get("error", 0),
                "python2": sum(1 for r in self.files if r.kind == "python2"),
                "findings": sum(by_kind.values()),
                "fixable": sum(1 for r in self.files for f in r.findings if f.fixable),
                "by_kind": {kind: by_kind[kind] for kind in KINDS if by_kind[kind]},
                "by_status": dict(sorted(by_status.items()))}

    def next_steps(self) -> list[str]:
        """What to do next for the whole tree, most urgent first."""
        statuses = {r.status for r in self.files}
        kinds = {f.kind for r in self.files for f in r.findings}
        steps = []
        if "error" in statuses:
            steps.append("fix the files that could not be scanned (see their errors)")
        if "legacy-imports" in statuses:
            steps.append(f"run: legacy-rpc migrate {self.root} --write (rewrites the legacy "
                         "imports to legacy_rpc; review the diff first without --write)")
        if any(f.kind in IMPORT_KINDS and not f.fixable
               for r in self.files for f in r.findings):
            steps.append("change by hand the imports and strings marked 'not done "
                         "automatically'")
        python2 = sum(1 for r in self.files if r.kind == "python2")
        if python2:
            steps.append(f"port the {python2} Python 2 file(s) to Python 3 (for example "
                         "2to3 -w, then pyupgrade; legacy_rpc runs on Python 3 only), then "
                         "scan again")
        if "unknown-option" in kinds:
            steps.append("fix or remove the unknown options in the config files")
        if "legacy-config" in statuses:
            steps.append("move the config to transport_url: legacy-rpc config FILE")
        if kinds - IMPORT_KINDS - _CONFIG_KINDS:
            steps.append("move call sites to the new-style API one at a time "
                         "(migration_guide/call_mapping.md)")
        if "vendored" in statuses:
            steps.append("delete the vendored copies of the legacy rpc and notifier packages "
                         "(listed as vendored) once nothing imports them")
        return steps or ["nothing legacy is left"]

    def as_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, "root": self.root, "totals": self.totals(),
                "next_steps": self.next_steps(),
                "files": [report.as_dict() for report in self.listed]}


def _is_config(path: Path) -> bool:
    return path.name.endswith(CONFIG_SUFFIXES)


def iter_files(root: Path, resolver: TreeResolver | None = None,
               ) -> Iterator[tuple[Path, str]]:
    """``(path, kind)`` of every Python and config file under ``root``, sorted.

    A copy of a legacy package (judged by its content, see :mod:`.resolve`) is yielded
    once, with kind ``vendored``, and not looked into.
    """
    resolver = resolver or TreeResolver()
    if any(resolver.is_vendored(p) for p in (root, *root.resolve().parents)):
        yield root, "vendored"
        return
    if not root.is_dir():
        yield root, "config" if _is_config(root) else "python"
        return
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        dirnames.sort()
        for name in list(dirnames):
            if name in SKIP_DIRS or name.endswith(".egg-info"):
                dirnames.remove(name)
            elif resolver.is_vendored(base / name):
                dirnames.remove(name)
                yield base / name, "vendored"
        for name in sorted(filenames):
            path = base / name
            if name.endswith(".py"):
                yield path, ("vendored" if resolver.is_vendored(path) else "python")
            elif _is_config(path):
                yield path, "config"


def scan_file(path: Path, kind: str, shown: str,
              resolver: TreeResolver | None = None) -> FileReport:
    """Scan one file; read and syntax errors become the report's ``error``."""
    report = FileReport(shown, kind, location=str(path))
    if kind == "vendored":
        return report
    try:
        text, _ = read_source(path, python=kind == "python")
        if kind == "python":
            resolve = (resolver or TreeResolver()).for_file(path)
            report.findings, report.python2 = pyscan.scan_python(text, str(path), resolve)
            if report.python2 is not None:
                report.kind = "python2"
        else:
            report.findings = confscan.scan_config(text)
    except SourceError as exc:
        report.error = str(exc)
    except SyntaxError as exc:
        report.error = f"syntax error at line {exc.lineno}: {exc.msg}"
    except confscan.ConfigSyntaxError as exc:
        report.error = str(exc)
    return report


def scan_path(root: Path, progress: Callable[[int, str], None] | None = None) -> Report:
    """Scan ``root`` (a file or a directory). :raises FileNotFoundError: it does not exist.

    ``progress(count, path)`` is called before each file is scanned (the CLI's progress line).
    """
    if not root.exists():
        raise FileNotFoundError(f"no such file or directory: {root}")
    report = Report(str(root))
    resolver = TreeResolver()
    for count, (path, kind) in enumerate(iter_files(root, resolver)):
        shown = path.relative_to(root).as_posix() if path != root else str(path)
        if progress is not None:
            progress(count, shown)
        report.files.append(scan_file(path, kind, shown, resolver))
    report.files.sort(key=lambda r: r.path)
    return report

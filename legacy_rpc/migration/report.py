"""Scan a file or a tree: per-file findings, totals, next steps, exit status."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legacy_rpc.migration import confscan, names, pyscan
from legacy_rpc.migration.findings import KINDS, Finding
from legacy_rpc.migration.sources import SourceError, read_source

__all__ = ["FileReport", "Report", "scan_path", "iter_files", "SKIP_DIRS", "SCHEMA_VERSION",
           "IMPORT_KINDS"]

SCHEMA_VERSION = 1
SKIP_DIRS = frozenset({".git", ".hg", ".tox", ".nox", ".venv", "venv", "__pycache__",
                       "node_modules", "build", "dist", ".mypy_cache", ".pytest_cache"})
CONFIG_SUFFIXES = (".conf", ".conf.sample", ".conf.example")
IMPORT_KINDS = frozenset({"legacy-import", "import-opt"})
"""Kinds that ``legacy-rpc migrate`` removes (the drop-in step)."""
_CONFIG_KINDS = frozenset({"rpc-backend", "legacy-option", "unknown-option"})

_NEXT = {
    "legacy-imports": "run: legacy-rpc migrate {path} --write (the drop-in step)",
    "legacy-api": "runs on legacy_rpc; move its call sites to the new-style API one at a "
                  "time (migration_guide/call_mapping.md)",
    "legacy-config": "print the new-style options: legacy-rpc config {path}",
    "vendored": "delete this vendored copy once nothing imports it",
    "error": "fix the error above, then scan again",
    "clean": "nothing to do",
}


@dataclass
class FileReport:
    """One file: ``kind`` python/config/vendored, its status and findings, or its error."""

    path: str
    kind: str
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    location: str = ""
    """The path to give to another command (``path`` is relative to the scanned root)."""

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        if self.kind == "vendored":
            return "vendored"
        kinds = {f.kind for f in self.findings}
        if kinds & IMPORT_KINDS:
            return "legacy-imports"
        if self.kind == "config" and kinds:
            return "legacy-config"
        return "legacy-api" if kinds else "clean"

    @property
    def next_step(self) -> str:
        return _NEXT[self.status].format(path=self.location or self.path)

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "status": self.status,
                "error": self.error, "next": self.next_step,
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
                                         if r.status not in ("clean", "error")),
                "errors": by_status.get("error", 0),
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
        if any(f.kind == "legacy-import" and not f.fixable
               for r in self.files for f in r.findings):
            steps.append("change by hand the imports marked 'not done automatically'")
        if "unknown-option" in kinds:
            steps.append("fix or remove the unknown options in the config files")
        if "legacy-config" in statuses:
            steps.append("move the config to transport_url: legacy-rpc config FILE")
        if kinds - IMPORT_KINDS - _CONFIG_KINDS:
            steps.append("move call sites to the new-style API one at a time "
                         "(migration_guide/call_mapping.md)")
        if "vendored" in statuses:
            steps.append("delete the vendored openstack/common rpc and notifier packages "
                         "once nothing imports them")
        return steps or ["nothing legacy is left"]

    def as_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, "root": self.root, "totals": self.totals(),
                "next_steps": self.next_steps(),
                "files": [report.as_dict() for report in self.listed]}


def _is_config(path: Path) -> bool:
    return path.name.endswith(CONFIG_SUFFIXES)


def iter_files(root: Path) -> Iterator[tuple[Path, str]]:
    """``(path, kind)`` of every Python and config file under ``root``, sorted.

    A vendored legacy package directory is yielded once, with kind ``vendored``.
    """
    if not root.is_dir():
        yield root, "config" if _is_config(root) else "python"
        return
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        dirnames.sort()
        for name in list(dirnames):
            if name in SKIP_DIRS or name.endswith(".egg-info"):
                dirnames.remove(name)
            elif names.is_vendored_path((base / name).parts):
                dirnames.remove(name)
                yield base / name, "vendored"
        for name in sorted(filenames):
            path = base / name
            if name.endswith(".py"):
                yield path, ("vendored" if names.is_vendored_path(path.parts) else "python")
            elif _is_config(path):
                yield path, "config"


def scan_file(path: Path, kind: str, shown: str) -> FileReport:
    """Scan one file; read and syntax errors become the report's ``error``."""
    report = FileReport(shown, kind, location=str(path))
    if kind == "vendored":
        return report
    try:
        text, _ = read_source(path, python=kind == "python")
        if kind == "python":
            report.findings = pyscan.scan_source(text, str(path))
        else:
            report.findings = confscan.scan_config(text)
    except SourceError as exc:
        report.error = str(exc)
    except SyntaxError as exc:
        report.error = f"syntax error at line {exc.lineno}: {exc.msg}"
    except confscan.ConfigSyntaxError as exc:
        report.error = str(exc)
    return report


def scan_path(root: Path) -> Report:
    """Scan ``root`` (a file or a directory). :raises FileNotFoundError: it does not exist."""
    if not root.exists():
        raise FileNotFoundError(f"no such file or directory: {root}")
    report = Report(str(root))
    for path, kind in iter_files(root):
        shown = path.relative_to(root).as_posix() if root.is_dir() else str(path)
        report.files.append(scan_file(path, kind, shown))
    report.files.sort(key=lambda r: r.path)
    return report

"""``legacy-rpc scan PATH``: what is still legacy in a code base, and what to do next.

Exit status: 0 nothing legacy left, 1 legacy usage found (see ``--fail-on``), 2 a file could
not be scanned or PATH does not exist. ``--json`` prints the report for CI. While a big tree is
scanned, a progress line is drawn on stderr when (and only when) stderr is a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from legacy_rpc.migration.findings import KINDS
from legacy_rpc.migration.report import IMPORT_KINDS, Report, scan_path

__all__ = ["register", "scan_command", "exit_code", "format_text", "Progress", "PROGRESS_DELAY"]

FAIL_ON = ("legacy", "imports", "never")
PROGRESS_DELAY = 0.5
"""Seconds a scan runs before its progress line appears (short scans draw nothing)."""


def register(subparsers: Any) -> None:
    """Add the ``scan`` subcommand."""
    parser = subparsers.add_parser(
        "scan", help="find legacy rpc usage in a code base",
        description="Find legacy rpc/notifier imports, strings naming legacy modules, calls, "
                    "consumers, RpcProxy classes and legacy options in config files; "
                    "report per file and in total, with what to do next. Python 2 files "
                    "are read at the token level and reported as such. Exit status: 0 "
                    "nothing legacy, 1 legacy usage found, 2 a file could not be scanned.")
    parser.add_argument("path", metavar="PATH", help="a directory or a file")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--fail-on", choices=FAIL_ON, default="legacy",
                        help="exit 1 on any legacy usage (legacy, default), only on legacy "
                             "imports the drop-in step has not changed yet (imports), or "
                             "never (never)")
    parser.set_defaults(func=scan_command)


def exit_code(report: Report, fail_on: str = "legacy") -> int:
    """2 if a file could not be scanned, 1 if ``fail_on`` findings remain, else 0."""
    if any(r.status == "error" for r in report.files):
        return 2
    kinds = {f.kind for r in report.files for f in r.findings}
    if fail_on == "imports":
        return 1 if kinds & (IMPORT_KINDS | {"unknown-option"}) else 0
    if fail_on == "legacy":
        legacy = kinds or any(r.kind in ("vendored", "python2") for r in report.files)
        return 1 if legacy else 0
    return 0


def format_text(report: Report) -> str:
    """The report for people: files with findings, totals, next steps."""
    out: list[str] = []
    for file in report.listed:
        out.append(f"{file.path}: {file.status}")
        if file.python2:
            out.append(f"  Python 2 source: {file.python2}")
        if file.error:
            out.append(f"  error: {file.error}")
        for f in file.findings:
            fix = " [migrate fixes it]" if f.fixable else ""
            out.append(f"  {f.line}:{f.col} {f.kind}: {f.code}")
            out.append(f"      -> {f.advice}{fix}")
        out.append(f"  next: {file.next_step}")
        out.append("")
    totals = report.totals()
    out.append(f"Total: {totals['files_scanned']} files scanned, "
               f"{totals['files_with_legacy']} with legacy usage, {totals['python2']} "
               f"Python 2, {totals['errors']} could not be scanned; "
               f"{totals['findings']} findings, {totals['fixable']} "
               "fixed by 'legacy-rpc migrate'.")
    for kind, count in totals["by_kind"].items():
        out.append(f"  {kind}: {count} ({KINDS[kind]})")
    out.append("Next steps:")
    out.extend(f"  {n}. {step}" for n, step in enumerate(report.next_steps(), start=1))
    return "\n".join(out)


class Progress:
    """A one-line "scanning: N files" counter on a terminal for runs longer than ``delay``
    seconds, redrawn at most every ``every`` seconds and erased at the end; nothing at all
    when ``stream`` is not a TTY (so piped and redirected output never changes)."""

    def __init__(self, stream: TextIO, delay: float | None = None, every: float = 0.1) -> None:
        self._stream = stream
        self._every = every
        self._next = time.monotonic() + (PROGRESS_DELAY if delay is None else delay)
        self._drawn = False
        isatty = getattr(stream, "isatty", None)
        self.enabled = bool(isatty and isatty())

    def __call__(self, count: int, path: str) -> None:
        now = time.monotonic()
        if not self.enabled or now < self._next:
            return
        self._next = now + self._every
        shown = "".join(c if c.isprintable() else "?" for c in path)
        self._stream.write(f"\r\x1b[Kscanning: {count} files done, now {shown}"[:200])
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Erase the line, so the report starts on a clean line."""
        if self._drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._drawn = False


def scan_command(args: argparse.Namespace) -> int:
    progress = Progress(sys.stderr)
    try:
        report = scan_path(Path(args.path), progress if progress.enabled else None)
    except FileNotFoundError as exc:
        progress.close()
        print(f"legacy-rpc scan: error: {exc}", file=sys.stderr)
        return 2
    progress.close()
    code = exit_code(report, args.fail_on)
    if args.json:
        data = report.as_dict()
        data["exit_code"] = code
        print(json.dumps(data, indent=2))
    else:
        print(format_text(report))
    return code

"""``legacy-rpc migrate PATH [--write]``: the drop-in step, rewriting legacy imports.

Without ``--write`` it prints the unified diff of what would change. Only import lines,
the dotted references through a plain ``import x.openstack.common.rpc.proxy`` and strings
that are exactly a legacy module path (``mock.patch`` targets, ``CONF.import_opt``) change.
A module is legacy when it is the legacy implementation in the tree (a project's own
``rpc.py`` is not), see :mod:`legacy_rpc.migration.resolve`. Python 2 files get the same
rewrite and are named, to be ported; files that cannot be read or parsed are left
untouched and named on stderr. Exit status: 0 done (or nothing to do), 1 some files were
left untouched because of an error, 2 PATH does not exist.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any

from legacy_rpc.migration.python2 import PORT_ADVICE
from legacy_rpc.migration.report import iter_files
from legacy_rpc.migration.resolve import TreeResolver
from legacy_rpc.migration.rewriter import Rewrite, rewrite_source
from legacy_rpc.migration.sources import SourceError, read_source, write_source

__all__ = ["register", "migrate_command"]


def register(subparsers: Any) -> None:
    """Add the ``migrate`` subcommand."""
    parser = subparsers.add_parser(
        "migrate", help="rewrite legacy rpc imports to legacy_rpc (the drop-in step)",
        description="Rewrite the imports of *.openstack.common.rpc, *.openstack.common."
                    "notifier and nova.rpc (when they are the legacy implementation) to "
                    "legacy_rpc, with the dotted references and the strings (mock.patch "
                    "targets, import_opt) naming them; nothing else in the files changes. "
                    "Python 2 files are rewritten too, and named to be ported. Shows a "
                    "diff unless --write. Running it twice changes nothing the second time.")
    parser.add_argument("path", metavar="PATH", help="a directory or a Python file")
    parser.add_argument("--write", action="store_true",
                        help="rewrite the files in place instead of showing a diff")
    parser.set_defaults(func=migrate_command)


def _diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True),
                                 after.splitlines(keepends=True),
                                 fromfile=f"a/{path}", tofile=f"b/{path}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


class _Totals:
    def __init__(self) -> None:
        self.changed = self.untouched = self.manual = self.python2 = 0


def _rewrite(path: Path, resolver: TreeResolver, totals: _Totals) -> tuple[str, str,
                                                                          Rewrite] | None:
    """Read and rewrite one file; None (and a message) when it is left untouched."""
    try:
        text, encoding = read_source(path)
        return text, encoding, rewrite_source(text, str(path), resolver.for_file(path))
    except SourceError as exc:
        print(f"{path}: left untouched: {exc}", file=sys.stderr)
    except SyntaxError as exc:
        print(f"{path}: left untouched: syntax error at line {exc.lineno}: {exc.msg} "
              "(neither Python 3 nor recognisably Python 2; fix it and run migrate again)",
              file=sys.stderr)
    totals.untouched += 1
    return None


def migrate_command(args: argparse.Namespace) -> int:
    root = Path(args.path)
    if not root.exists():
        print(f"legacy-rpc migrate: error: no such file or directory: {root}",
              file=sys.stderr)
        return 2
    totals = _Totals()
    resolver = TreeResolver()
    for path, kind in iter_files(root, resolver):
        if kind != "python":
            continue
        done = _rewrite(path, resolver, totals)
        if done is None:
            continue
        text, encoding, result = done
        for line, note in result.manual:
            print(f"{path}:{line}: change by hand: {note}", file=sys.stderr)
            totals.manual += 1
        if result.python2 is not None:
            totals.python2 += 1
            print(f"{path}: Python 2 source ({result.python2}): {PORT_ADVICE}",
                  file=sys.stderr)
        if result.text == text:
            continue
        if args.write:
            try:
                write_source(path, result.text, encoding)
            except SourceError as exc:
                print(f"{path}: left untouched: {exc}", file=sys.stderr)
                totals.untouched += 1
                continue
            print(f"rewrote {path}")
        else:
            shown = path.relative_to(root).as_posix() if root.is_dir() else path.name
            sys.stdout.write(_diff(shown, text, result.text))
        totals.changed += 1
    verb = "rewrote" if args.write else "would rewrite"
    print(f"legacy-rpc migrate: {verb} {totals.changed} file(s); {totals.untouched} left "
          f"untouched because of errors; {totals.manual} import(s) to change by hand; "
          f"{totals.python2} Python 2 file(s) to port"
          + ("" if args.write or not totals.changed else "; run again with --write to apply"),
          file=sys.stderr)
    return 1 if totals.untouched else 0

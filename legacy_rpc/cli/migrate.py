"""``legacy-rpc migrate PATH [--write]``: the drop-in step, rewriting legacy imports.

Without ``--write`` it prints the unified diff of what would change. Only import lines
(and the module paths of ``CONF.import_opt``) change; files that cannot be read or parsed
are left untouched and named on stderr. Exit status: 0 done (or nothing to do), 1 some
files were left untouched because of an error, 2 PATH does not exist.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any

from legacy_rpc.migration.report import iter_files
from legacy_rpc.migration.rewriter import rewrite_source
from legacy_rpc.migration.sources import SourceError, read_source, write_source

__all__ = ["register", "migrate_command"]


def register(subparsers: Any) -> None:
    """Add the ``migrate`` subcommand."""
    parser = subparsers.add_parser(
        "migrate", help="rewrite legacy rpc imports to legacy_rpc (the drop-in step)",
        description="Rewrite the imports of *.openstack.common.rpc, *.openstack.common."
                    "notifier and nova.rpc to legacy_rpc; nothing else in the files "
                    "changes. Shows a diff unless --write. Running it twice changes "
                    "nothing the second time.")
    parser.add_argument("path", metavar="PATH", help="a directory or a Python file")
    parser.add_argument("--write", action="store_true",
                        help="rewrite the files in place instead of showing a diff")
    parser.set_defaults(func=migrate_command)


def _diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True),
                                 after.splitlines(keepends=True),
                                 fromfile=f"a/{path}", tofile=f"b/{path}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def migrate_command(args: argparse.Namespace) -> int:
    root = Path(args.path)
    if not root.exists():
        print(f"legacy-rpc migrate: error: no such file or directory: {root}",
              file=sys.stderr)
        return 2
    changed = untouched = manual = 0
    for path, kind in iter_files(root):
        if kind != "python":
            continue
        try:
            text, encoding = read_source(path)
            result = rewrite_source(text, str(path))
        except SourceError as exc:
            print(f"{path}: left untouched: {exc}", file=sys.stderr)
            untouched += 1
            continue
        except SyntaxError as exc:
            print(f"{path}: left untouched: syntax error at line {exc.lineno}: {exc.msg} "
                  "(fix it and run migrate again)", file=sys.stderr)
            untouched += 1
            continue
        for line, note in result.manual:
            print(f"{path}:{line}: change by hand: {note}", file=sys.stderr)
            manual += 1
        if result.text == text:
            continue
        changed += 1
        if args.write:
            try:
                write_source(path, result.text, encoding)
            except SourceError as exc:
                print(f"{path}: left untouched: {exc}", file=sys.stderr)
                changed -= 1
                untouched += 1
                continue
            print(f"rewrote {path}")
        else:
            shown = path.relative_to(root).as_posix() if root.is_dir() else path.name
            sys.stdout.write(_diff(shown, text, result.text))
    verb = "rewrote" if args.write else "would rewrite"
    print(f"legacy-rpc migrate: {verb} {changed} file(s); {untouched} left untouched "
          f"because of errors; {manual} import(s) to change by hand"
          + ("" if args.write or not changed else "; run again with --write to apply"),
          file=sys.stderr)
    return 1 if untouched else 0

"""``legacy-rpc config FILE``: a legacy config file as ``transport_url`` and new-style options.

Passwords are masked unless ``--show-secrets``. Unknown messaging options (misspellings) and
mappings that keep a setting the file's reader may not expect (``rabbit_use_ssl`` with
``transport_url``) are warned about on stderr; ``[DEFAULT]`` options named like messaging
options but close to none (a project's own ``rpc_workers``) are noted there as left alone.
Exit status: 0 done, 1 done but the file has unknown messaging options, 2 the
file cannot be read or used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from legacy_rpc.migration.confmap import ConfigError, map_config
from legacy_rpc.migration.sources import SourceError

__all__ = ["register", "config_command"]


def register(subparsers: Any) -> None:
    """Add the ``config`` subcommand."""
    parser = subparsers.add_parser(
        "config", help="print the transport_url and new-style options of a legacy config",
        description="Read a legacy config file (rpc_backend, rabbit_*, qpid_*, "
                    "notification_* ...) and print the equivalent transport_url and "
                    "new-style options, as an ini snippet to paste or as JSON.")
    parser.add_argument("file", metavar="FILE", help="the legacy config file")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--show-secrets", action="store_true",
                        help="print passwords instead of ****")
    parser.set_defaults(func=config_command)


def config_command(args: argparse.Namespace) -> int:
    try:
        mapping = map_config(Path(args.file), show_secrets=args.show_secrets)
    except (SourceError, ConfigError) as exc:
        print(f"legacy-rpc config: error: {exc}", file=sys.stderr)
        return 2
    for line, name in mapping.not_messaging:
        print(f"legacy-rpc config: note: {args.file}:{line}: {name!r} in [DEFAULT] is not a "
              "messaging option, left alone", file=sys.stderr)
    for line, name, text in mapping.warnings:
        print(f"legacy-rpc config: warning: {args.file}:{line}: {name}: {text}",
              file=sys.stderr)
    for line, section, name, close in mapping.unknown:
        hint = f"; did you mean {close!r}?" if close else ""
        print(f"legacy-rpc config: warning: {args.file}:{line}: unknown option {name!r} in "
              f"[{section}], ignored{hint}", file=sys.stderr)
    if args.json:
        print(json.dumps(mapping.as_dict(), indent=2))
    else:
        secrets = "shown" if args.show_secrets else "masked; --show-secrets shows them"
        print(f"# New-style options for {args.file} (passwords {secrets})")
        sys.stdout.write(mapping.as_ini())
    return 1 if mapping.unknown else 0

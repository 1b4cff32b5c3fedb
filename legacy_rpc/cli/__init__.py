"""The ``legacy-rpc`` command: a demo and operator tools on top of the messaging core.

Each subcommand lives in its own module of this package, listed in :data:`SUBCOMMANDS`.
A module exposes ``register(subparsers) -> None``, which adds its parser(s) and sets
``func=handler`` with ``set_defaults``; ``handler(args) -> int`` returns the exit code.
Handlers read the transport URL from ``args.url`` and the verbosity from ``args.verbose``:
the global options are added here, to the main parser and to every subcommand (so both
``legacy-rpc --url URL demo`` and ``legacy-rpc demo --url URL`` work); a subcommand must
not define them itself. Passwords in URLs are never printed (:func:`masked`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from importlib import metadata
from types import ModuleType

__all__ = ["SUBCOMMANDS", "DEFAULT_URL", "build_parser", "main", "masked"]

LOG = logging.getLogger(__name__)

SUBCOMMANDS = ["demo", "notify", "ping", "call", "status", "scan", "migrate", "config"]
"""Modules of this package that register subcommands, in help order."""

DEFAULT_URL = "fake://"
"""The embedded in-memory broker: everything runs inside this process."""

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def masked(url: str) -> str:
    """``url`` with its passwords replaced by ``****``, for printing."""
    from legacy_rpc.messaging._mask import mask_url

    return mask_url(url)


def _version() -> str:
    try:
        return metadata.version("legacy-rpc")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        from legacy_rpc import __version__

        return __version__


def _add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``--url`` and ``-v``; on subcommands they default to "not given" so they do not
    overwrite a value given before the subcommand's name."""
    default_url: object = DEFAULT_URL if top else argparse.SUPPRESS
    default_verbose: object = 0 if top else argparse.SUPPRESS
    with contextlib.suppress(argparse.ArgumentError):
        parser.add_argument(
            "--url", default=default_url, metavar="URL",
            help=f"transport URL (default {DEFAULT_URL}, the embedded in-memory broker; "
                 "e.g. rabbit://user:password@host:5672/)")
    with contextlib.suppress(argparse.ArgumentError):
        parser.add_argument("-v", "--verbose", action="count", default=default_verbose,
                            help="log more: -v for INFO, -vv for DEBUG")


def _subcommand_modules() -> Iterator[ModuleType]:
    """Import the modules of :data:`SUBCOMMANDS`; one that does not exist (yet) is skipped.

    Only the absence of the module itself is tolerated: a missing dependency inside an
    existing module is still an error.
    """
    for name in SUBCOMMANDS:
        full_name = f"{__name__}.{name}"
        try:
            yield importlib.import_module(full_name)
        except ModuleNotFoundError as exc:
            if exc.name != full_name:
                raise
            LOG.debug("Subcommand module %s is not available; skipping it", full_name)


def build_parser() -> argparse.ArgumentParser:
    """The ``legacy-rpc`` argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="legacy-rpc",
        description="Command-line tools for legacy-rpc. New here? Run: legacy-rpc demo")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _add_global_options(parser, top=True)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in _subcommand_modules():
        module.register(subparsers)
    for subparser in subparsers.choices.values():
        _add_global_options(subparser, top=False)
    return parser


@contextlib.contextmanager
def _logging_to_stderr(verbosity: int) -> Iterator[None]:
    """Send log records to stderr while a command runs, then restore the root logger."""
    level = (logging.WARNING, logging.INFO)[verbosity] if verbosity < 2 else logging.DEBUG
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    handler.setLevel(level)
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, old_level) if old_level else level)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``legacy-rpc`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        return 2
    func = getattr(args, "func", None)
    if func is None:
        parser.print_usage(sys.stderr)
        print("legacy-rpc: error: a command is required (try: legacy-rpc demo)",
              file=sys.stderr)
        return 2
    with _logging_to_stderr(args.verbose):
        try:
            code: int = func(args)
        except KeyboardInterrupt:
            print("legacy-rpc: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # The reader went away (``legacy-rpc migrate . | head``): stop quietly.
            with contextlib.suppress(OSError):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silences the exit flush
            return 141
    return code

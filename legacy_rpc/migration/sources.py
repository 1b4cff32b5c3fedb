"""Reading and writing source files the way Python reads them (PEP 263 encodings)."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

__all__ = ["SourceError", "read_source", "write_source"]


class SourceError(Exception):
    """A file that cannot be read or decoded; the message says why, for printing."""


def read_source(path: Path, python: bool = True) -> tuple[str, str]:
    """The text of ``path`` with its line ends as they are, and its encoding.

    Python files are decoded with their declared encoding (default UTF-8), other files as
    UTF-8. :raises SourceError: unreadable or undecodable.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
    encoding = "utf-8"
    if python:
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError as exc:
            raise SourceError(f"cannot decode {path}: {exc}") from exc
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"cannot decode {path} as {encoding}: {exc}") from exc
    return text, encoding


def write_source(path: Path, text: str, encoding: str) -> None:
    """Write ``text`` back in ``encoding``, line ends unchanged.

    :raises SourceError: the file cannot be written.
    """
    data = text.encode(encoding)  # utf-8-sig writes the BOM back
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise SourceError(f"cannot write {path}: {exc.strerror or exc}") from exc

"""JSON encoding with ``oslo_serialization.jsonutils`` semantics.

Peers built on oslo.messaging encode entities with ``to_primitive`` as the JSON default, so a
datetime arrives as ``'%Y-%m-%dT%H:%M:%S.%f'`` and a set as a list. We produce the same text.

:func:`loads` parses what peers send, so it bounds what hostile text can cost: nesting deeper
than :data:`MAX_DEPTH` is refused before parsing (``json`` would recurse, and raise
``RecursionError`` near the interpreter's limit), and it raises only ``ValueError``.
"""

from __future__ import annotations

import datetime
import decimal
import itertools
import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["to_primitive", "dumps", "loads", "MAX_DEPTH", "TooDeeplyNested", "nesting_depth"]

MAX_DEPTH = 200
"""Deepest nesting of arrays and objects :func:`loads` accepts by default.

Real messages nest a few tens of levels at most (versioned objects inside arguments); 200 is
far above that, and far below the recursion limit that ``json`` and the code walking the
result (sanitising, serializers) would hit.
"""

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
_SIMPLE = (str, int, float, bool, type(None))


def to_primitive(value: Any, convert_instances: bool = False, convert_datetime: bool = True,
                 level: int = 0, max_depth: int = 3) -> Any:
    """Turn ``value`` into something ``json.dumps`` accepts, the way jsonutils does."""
    if isinstance(value, _SIMPLE):
        return value
    if isinstance(value, datetime.datetime):
        return value.strftime(_TIME_FORMAT) if convert_datetime else value
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if level > max_depth:
        return None

    def recurse(v: Any) -> Any:
        return to_primitive(v, convert_instances, convert_datetime, level, max_depth)

    if isinstance(value, BaseException):
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): recurse(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [recurse(v) for v in value]
    items = getattr(value, "items", None)
    if callable(items):
        return to_primitive(dict(items()), convert_instances, convert_datetime, level + 1,
                            max_depth)
    if hasattr(value, "__iter__"):
        return [recurse(v) for v in value]
    if convert_instances and hasattr(value, "__dict__"):
        return to_primitive(vars(value), convert_instances, convert_datetime, level + 1,
                            max_depth)
    raise ValueError(f"Cannot convert {type(value).__name__} object to a JSON primitive")


def _default(value: Any) -> Any:
    try:
        return to_primitive(value)
    except ValueError as exc:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable"
                        ) from exc


def dumps(obj: Any) -> str:
    """``json.dumps`` with ``to_primitive`` as the fallback, default separators."""
    return json.dumps(obj, default=_default)


class TooDeeplyNested(ValueError):
    """JSON text nests arrays and objects deeper than allowed."""


# Every byte but the four brackets, for bytes.translate(None, delete=...).
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
# Depth change of each byte value.
_DELTA = [0] * 256
_DELTA[ord("[")] = _DELTA[ord("{")] = 1
_DELTA[ord("]")] = _DELTA[ord("}")] = -1


def _brackets_outside_strings(text: str) -> bytes:
    """The ``[]{}`` of ``text`` that are not inside JSON strings, in order (C-speed steps).

    Exact for valid JSON, where every backslash starts an escape pair and quotes delimit
    strings; for invalid text it is some sequence, and the parser rejects the text anyway.
    """
    # Drop escaped backslashes, then escaped quotes: the quotes left delimit strings.
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    outside = "".join(unescaped.split('"')[::2]).encode("ascii", "ignore")
    return outside.translate(None, _NOT_BRACKETS)


def _depths(brackets: bytes) -> Iterator[int]:
    return itertools.accumulate(map(_DELTA.__getitem__, brackets))


def nesting_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside strings, in linear time."""
    if "[" not in text and "{" not in text:
        return 0
    return max(0, max(_depths(_brackets_outside_strings(text)), default=0))


def exceeds_depth(text: str, limit: int) -> bool:
    """Whether ``text`` nests deeper than ``limit``; stops at the first level beyond it, so
    a body of opening brackets costs only ``limit`` steps."""
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _brackets_outside_strings(text)
    if b"[" * (limit + 1) in brackets.replace(b"{", b"["):
        return True  # a run of openings deeper than the limit: no need to count
    return any(depth > limit for depth in _depths(brackets))


def loads(text: str | bytes | bytearray, max_depth: int | None = MAX_DEPTH) -> Any:
    """``json.loads`` that also takes UTF-8 bytes and refuses nesting beyond ``max_depth``.

    JSON's ``NaN``, ``Infinity`` and ``-Infinity`` are accepted (as by oslo.messaging, whose
    peers send them for non-finite floats); fields where they make no sense are checked where
    they are used.

    :raises TooDeeplyNested: nesting deeper than ``max_depth`` (None: only the interpreter's
        recursion limit, still reported as this error).
    :raises ValueError: anything else that is not UTF-8 JSON text (``UnicodeDecodeError``,
        ``json.JSONDecodeError``, integers longer than the interpreter's digit limit).
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    elif not isinstance(text, str):
        raise TypeError(f"the JSON text must be str or bytes, not {type(text).__name__}")
    # The count is an upper bound of the depth: most messages skip the scan.
    if max_depth is not None and exceeds_depth(text, max_depth):
        raise TooDeeplyNested(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except RecursionError:
        raise TooDeeplyNested("JSON nested too deeply for the interpreter") from None

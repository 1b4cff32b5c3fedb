"""JSON encoding with ``oslo_serialization.jsonutils`` semantics.

Peers built on oslo.messaging encode entities with ``to_primitive`` as the JSON default, so a
datetime arrives as ``'%Y-%m-%dT%H:%M:%S.%f'`` and a set as a list. We produce the same text.
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["to_primitive", "dumps", "loads"]

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


def loads(text: str | bytes) -> Any:
    """``json.loads`` that also takes UTF-8 bytes."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(text)

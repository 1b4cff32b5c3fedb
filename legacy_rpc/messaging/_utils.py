"""Small helpers shared by the core: version comparison, context dicts, the clock."""

from __future__ import annotations

import datetime
import functools
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["version_is_compatible", "parse_version", "context_dict", "utcnow"]


def context_dict(ctxt: Any) -> dict[str, Any]:
    """A serialized context as a dict: mappings as they are, others through ``to_dict()``."""
    if ctxt is None:
        return {}
    if isinstance(ctxt, Mapping):
        return dict(ctxt)
    to_dict = getattr(ctxt, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    raise TypeError(f"a serialized context must be a dict or have to_dict(), got "
                    f"{type(ctxt).__name__}")


def utcnow() -> datetime.datetime:
    """Naive UTC now; ``oslo_utils.timeutils.utcnow()`` when that module is loaded.

    Test suites freeze time with ``timeutils.set_time_override()`` or by patching
    ``timeutils.utcnow``; both then apply here too. oslo.utils is not a dependency: it is
    used only when something in the process has imported it.
    """
    timeutils = sys.modules.get("oslo_utils.timeutils")
    if timeutils is not None:
        now: datetime.datetime = timeutils.utcnow()
        return now
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


@functools.lru_cache(maxsize=256)
def parse_version(version: str) -> tuple[int, int, int]:
    """Parse ``"X.Y"`` or ``"X.Y.Z"`` into integers (the revision defaults to 0).

    Raises ``ValueError`` for anything else, so callers can report a clear error.
    """
    parts = str(version).split(".")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError(f"Version must contain a major and minor integer, got {version!r}")
    major, minor = int(parts[0]), int(parts[1])
    revision = int(parts[2]) if len(parts) == 3 else 0
    return major, minor, revision


def version_is_compatible(imp_version: str | None, version: str | None) -> bool:
    """True when an implementation at ``imp_version`` can serve a request for ``version``.

    Majors must match and the requested (minor, revision) must not exceed the implemented
    one. No implemented version means anything goes; no requested version never matches a
    real implementation (the rule oslo.messaging applies to version caps).
    """
    if imp_version is None:
        return True
    if version is None:
        return False
    try:
        imp = parse_version(imp_version)
        req = parse_version(version)
    except ValueError:
        return False
    if imp[0] != req[0]:
        return False
    return req[1:] <= imp[1:]

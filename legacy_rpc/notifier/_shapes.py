"""Calling a notifier driver in the shape it was written for.

Drivers since Folsom have ``notify(context, message)``; Essex drivers (a project's own, or
Essex nova's ``capacity_notifier``) have ``notify(message)``. The shape is read from the
signature, so both kinds can be listed together.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["call_notify"]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _message_only(notify: Callable[..., Any]) -> bool:
    """Whether ``notify`` takes exactly one positional argument (the Essex shape)."""
    try:
        params = list(inspect.signature(notify).parameters.values())
    except (TypeError, ValueError):  # no signature (some builtins): assume today's shape
        return False
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return False
    return sum(p.kind in _POSITIONAL for p in params) == 1


_cached_message_only = functools.lru_cache(maxsize=256)(_message_only)


def call_notify(driver: Any, context: Any, message: dict[str, Any]) -> Any:
    """``driver.notify(context, message)``, or ``driver.notify(message)`` for an Essex
    driver. ``notify`` is looked up at every call (tests replace it)."""
    notify = driver.notify
    try:
        message_only = _cached_message_only(notify)
    except TypeError:  # unhashable callable
        message_only = _message_only(notify)
    return notify(message) if message_only else notify(context, message)

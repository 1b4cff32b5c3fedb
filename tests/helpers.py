"""Helpers shared by the test suite.

Tests never sleep to synchronise: they wait on a condition with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.01,
    message: str | Callable[[], str] = "condition not met",
) -> T:
    """Poll ``predicate`` until it returns a truthy value, and return that value.

    Raises ``AssertionError`` carrying ``message`` (a string, or a callable that builds
    one at failure time, so it can describe the state seen last) when ``timeout``
    seconds pass first. The predicate is always evaluated once more at the deadline.
    """
    if timeout < 0:
        raise ValueError("timeout must be >= 0")
    if interval <= 0:
        raise ValueError("interval must be > 0")
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:.2f}s: {text}")
        time.sleep(min(interval, remaining))

"""Helpers shared by the test suite.

Tests never sleep to synchronise: they wait on a condition with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
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


def amqp_params(url: str) -> dict[str, str]:
    """py-amqp connection arguments for the first host of a ``rabbit://`` URL."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url.split(",")[0])
    return {"host": f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}",
            "userid": unquote(parts.username or "guest"),
            "password": unquote(parts.password or "guest"),
            "virtual_host": unquote(parts.path[1:]) or "/"}


def delete_broker_objects(url: str, queues: Iterable[str] = (),
                          exchanges: Iterable[str] = ()) -> None:
    """Delete queues and exchanges a test run declared on RabbitMQ (best effort).

    Topic queues are not auto-deleted (as with oslo.messaging), so without this they would
    pile up on the broker run after run.
    """
    import contextlib

    import amqp

    try:
        conn = amqp.Connection(**amqp_params(url))
        conn.connect()
    except Exception:
        return
    try:
        for kind, names in (("queue", queues), ("exchange", exchanges)):
            for name in sorted(names):
                with contextlib.suppress(Exception):  # a missing name closes the channel
                    channel = conn.channel()
                    if kind == "queue":
                        channel.queue_delete(name)
                    else:
                        channel.exchange_delete(name)
                    channel.close()
    finally:
        with contextlib.suppress(Exception):
            conn.close()

"""What the demo's servers ran or its listener received, with the time it arrived."""

from __future__ import annotations

import threading
import time

__all__ = ["Inbox"]


class Inbox:
    """What the servers received through ``remember``, with the time it arrived."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: list[tuple[str, str, float]] = []

    def add(self, server: str, note: str) -> None:
        with self._cond:
            self._items.append((server, note, time.perf_counter()))
            self._cond.notify_all()

    def wait(self, note: str, count: int, timeout: float) -> list[tuple[str, float]]:
        """Wait until ``count`` servers got ``note``; return (server, arrival) so far."""
        def got() -> list[tuple[str, float]]:
            return [(server, at) for server, n, at in self._items if n == note]

        with self._cond:
            self._cond.wait_for(lambda: len(got()) >= count, timeout)
            return got()

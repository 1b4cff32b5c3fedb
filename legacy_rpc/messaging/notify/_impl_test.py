"""The ``test`` notifier driver: keeps notifications in memory for tests to inspect.

Each notification is appended to the module-level :data:`NOTIFICATIONS` as
``(ctxt, message, priority, retry)``; :func:`reset` empties it. The list is global to the
process, as in ``oslo_messaging.notify._impl_test`` (which designate and others import).
"""

from __future__ import annotations

import threading
from typing import Any

from legacy_rpc.messaging.notify.notifier import Driver

__all__ = ["NOTIFICATIONS", "reset", "TestDriver"]

NOTIFICATIONS: list[tuple[dict[str, Any], dict[str, Any], str, int | None]] = []
"""Every notification sent through a ``test`` driver since the last :func:`reset`."""

_lock = threading.Lock()


def reset() -> None:
    """Forget the recorded notifications."""
    with _lock:
        del NOTIFICATIONS[:]


class TestDriver(Driver):
    """Records each notification in :data:`NOTIFICATIONS`."""

    __test__ = False  # not a pytest test class, despite its name

    def notify(self, ctxt: dict[str, Any], message: dict[str, Any], priority: str,
               retry: int | None) -> None:
        with _lock:
            NOTIFICATIONS.append((ctxt, message, priority, retry))

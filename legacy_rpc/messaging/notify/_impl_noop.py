"""The ``noop`` notifier driver: drops every notification (``Notifier.is_enabled()`` is
False when it is the only driver, so callers can skip building payloads)."""

from __future__ import annotations

from typing import Any

from legacy_rpc.messaging.notify.notifier import Driver

__all__ = ["NoOpDriver"]


class NoOpDriver(Driver):
    """Sends nothing."""

    def notify(self, ctxt: dict[str, Any], message: dict[str, Any], priority: str,
               retry: int | None) -> None:
        return None

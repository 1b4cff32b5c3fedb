"""The notifier driver for tests: keeps every notification in :data:`NOTIFICATIONS`."""

from __future__ import annotations

from typing import Any

NOTIFICATIONS: list[dict[str, Any]] = []


def notify(context: Any, message: dict[str, Any]) -> None:
    """Remember ``message``."""
    NOTIFICATIONS.append(message)

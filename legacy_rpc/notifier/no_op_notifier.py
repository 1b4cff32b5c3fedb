"""The notifier driver that drops every notification."""

from __future__ import annotations

from typing import Any


def notify(context: Any, message: dict[str, Any]) -> None:
    """Do nothing."""

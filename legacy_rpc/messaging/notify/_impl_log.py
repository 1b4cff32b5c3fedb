"""The ``log`` notifier driver: each notification as one JSON log line, passwords masked.

The logger is ``oslo.messaging.notification.<event_type>``, the name oslo.messaging uses,
so existing logging configurations keep routing these lines. The level follows the
priority; ``audit`` (which has no logging level) is logged at INFO and ``sample`` at DEBUG,
where oslo.messaging only emits a Python warning and drops them.
"""

from __future__ import annotations

import logging
from typing import Any

from legacy_rpc.messaging import _jsonutils, _mask
from legacy_rpc.messaging.notify.notifier import Driver

__all__ = ["LogDriver", "LOGGER_BASE", "LEVELS"]

LOGGER_BASE = "oslo.messaging.notification"

LEVELS: dict[str, int] = {
    "audit": logging.INFO,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "sample": logging.DEBUG,
}
"""Logging level per notification priority; an unknown priority is logged at WARNING."""


class LogDriver(Driver):
    """Logs ``json.dumps`` of the masked message on ``oslo.messaging.notification.<event>``."""

    def notify(self, ctxt: dict[str, Any], message: dict[str, Any], priority: str,
               retry: int | None) -> None:
        logger = logging.getLogger(f"{LOGGER_BASE}.{message.get('event_type')}")
        level = LEVELS.get(priority.lower(), logging.WARNING)
        if logger.isEnabledFor(level):
            logger.log(level, _jsonutils.dumps(_mask.sanitize(message)))

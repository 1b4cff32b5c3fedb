"""The notifier driver that writes each notification, as JSON, to a logger.

The logger is ``openstack.common.notification.<event_type>``, the name every project's
logging configuration used; the level is the notification's priority.
"""

from __future__ import annotations

import logging
from typing import Any

from oslo_config import cfg

from legacy_rpc.messaging import _jsonutils
from legacy_rpc.notifier import api as _api  # noqa: F401 - registers the api options

CONF = cfg.CONF


def notify(context: Any, message: dict[str, Any]) -> None:
    """Log ``message`` at its priority (default ``default_notification_level``)."""
    priority = message.get("priority") or CONF.default_notification_level
    level = logging.getLevelName(str(priority).upper())
    if not isinstance(level, int):
        level = logging.INFO
    logger = logging.getLogger(f"openstack.common.notification.{message['event_type']}")
    logger.log(level, _jsonutils.dumps(message))

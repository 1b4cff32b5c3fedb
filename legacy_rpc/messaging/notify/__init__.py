"""Notifications: the notifier, listeners with pools, filters, and logging handlers.

The names of ``oslo_messaging.notify``: :class:`Notifier` sends, the listener factories
receive (see :mod:`.listener` for who gets a copy and when a notification is acknowledged
or requeued), :class:`NotificationFilter` narrows what an endpoint sees, and the two
logging handlers turn log records into notifications.
"""

from legacy_rpc.messaging.notify.dispatcher import NotificationResult
from legacy_rpc.messaging.notify.filter import NotificationFilter
from legacy_rpc.messaging.notify.listener import (
    get_batch_notification_listener,
    get_notification_listener,
)
from legacy_rpc.messaging.notify.log_handler import (
    LoggingErrorNotificationHandler,
    PublishErrorsHandler,
)
from legacy_rpc.messaging.notify.logger import LoggingNotificationHandler
from legacy_rpc.messaging.notify.notifier import Notifier, get_notification_transport

__all__ = [
    "Notifier",
    "LoggingNotificationHandler",
    "get_notification_transport",
    "get_notification_listener",
    "get_batch_notification_listener",
    "NotificationResult",
    "NotificationFilter",
    "PublishErrorsHandler",
    "LoggingErrorNotificationHandler",
]

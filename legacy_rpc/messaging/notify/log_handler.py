"""``LoggingErrorNotificationHandler`` (``PublishErrorsHandler``): log records as error
notifications, what oslo.log's ``publish_errors`` option installs.

Each record handled becomes ``error({}, 'error_notification', {'error': <message>})`` from
publisher ``error.publisher``, through the notification transport and drivers of the
global configuration. Give the handler a level (``PublishErrorsHandler(logging.ERROR)``)
unless every record should be published.
"""

from __future__ import annotations

import logging
import threading

from oslo_config import cfg

from legacy_rpc.messaging.notify import _opts
from legacy_rpc.messaging.notify.notifier import Notifier, get_notification_transport

__all__ = ["LoggingErrorNotificationHandler", "PublishErrorsHandler"]

_sending = threading.local()


class LoggingErrorNotificationHandler(logging.Handler):
    """Publishes each log record it handles as an ``error_notification``.

    It does nothing while ``log`` is one of the configured notification drivers: the
    notification would be logged, handled here and published again, without end. ``conf``
    (an addition) replaces the global ``cfg.CONF``.
    """

    def __init__(self, level: int = logging.NOTSET, *,
                 conf: cfg.ConfigOpts | None = None) -> None:
        super().__init__(level)
        self._transport = get_notification_transport(conf if conf is not None else cfg.CONF)
        self._notifier = Notifier(self._transport, publisher_id="error.publisher")

    def emit(self, record: logging.LogRecord) -> None:
        if "log" in self._transport.conf[_opts.GROUP].driver:
            return
        if getattr(_sending, "active", False):
            return
        _sending.active = True
        try:
            self._notifier.error({}, "error_notification", {"error": record.getMessage()})
        except Exception:
            self.handleError(record)
        finally:
            _sending.active = False


PublishErrorsHandler = LoggingErrorNotificationHandler

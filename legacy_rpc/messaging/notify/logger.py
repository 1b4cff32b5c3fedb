"""``LoggingNotificationHandler``: a logging handler that sends log records as notifications.

Each record becomes a notification of event type ``logrecord`` whose priority is the
record's level name (``DEBUG``, ``INFO``, ``WARNING`` sent as ``WARN``, ``ERROR``,
``CRITICAL``; records of other levels are skipped). Usable from a logging configuration
file::

    [handler_notifier]
    class = legacy_rpc.messaging.LoggingNotificationHandler
    level = ERROR
    args = ('rabbit://user:password@broker:5672/',)
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Sequence
from typing import Any, ClassVar

from oslo_config import cfg

from legacy_rpc.messaging.notify.notifier import Notifier, get_notification_transport
from legacy_rpc.messaging.serializer import Serializer

__all__ = ["LoggingNotificationHandler", "record_payload"]

_sending = threading.local()

_METHODS = frozenset({"audit", "debug", "info", "warn", "warning", "error", "critical",
                      "sample"})


def record_payload(record: logging.LogRecord) -> dict[str, Any]:
    """The notification payload of a log record.

    ``exc_info`` is the formatted traceback text (a traceback object cannot be sent), or
    None; ``extra`` is the record's ``extra`` attribute if it has one.
    """
    exc_info = None
    if record.exc_info and record.exc_info[0] is not None:
        exc_info = "".join(traceback.format_exception(*record.exc_info))
    return {
        "name": record.name,
        "levelno": record.levelno,
        "levelname": record.levelname,
        "exc_info": exc_info,
        "pathname": record.pathname,
        "lineno": record.lineno,
        "msg": record.getMessage(),
        "funcName": record.funcName,
        "thread": record.thread,
        "processName": record.processName,
        "process": record.process,
        "extra": getattr(record, "extra", None),
    }


class LoggingNotificationHandler(logging.Handler):
    """Sends each log record as a notification on the bus at ``url``.

    ``driver`` and ``topic`` (a name or a list) default to the
    ``[oslo_messaging_notifications]`` options of :attr:`CONF` (the global config);
    ``serializer`` is a serializer class or instance. Log records emitted while a record
    is being sent (by the notifier itself) are not sent again, so a failing bus cannot
    make it recurse.
    """

    CONF: ClassVar[cfg.ConfigOpts] = cfg.CONF

    def __init__(self, url: str | None, publisher_id: str | None = None,
                 driver: str | Sequence[str] | None = None,
                 topic: str | Sequence[str] | None = None,
                 serializer: type[Serializer] | Serializer | None = None) -> None:
        super().__init__()
        if isinstance(serializer, type):
            serializer = serializer()
        topics = [topic] if isinstance(topic, str) else topic
        self.notifier = Notifier(get_notification_transport(self.CONF, url), publisher_id,
                                 driver, serializer, topics=topics)

    def emit(self, record: logging.LogRecord) -> None:
        name = record.levelname.lower()
        if name not in _METHODS or getattr(_sending, "active", False):
            return
        method = getattr(self.notifier, name)
        _sending.active = True
        try:
            method(None, "logrecord", record_payload(record))
        except Exception:
            self.handleError(record)
        finally:
            _sending.active = False

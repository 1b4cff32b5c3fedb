"""``PublishErrorsHandler``: a logging handler that sends each record as an error
notification (``error_notification``, priority ERROR, publisher ``error.publisher``).

Install it on a logger (the original's ``log.setup()`` did so on the root logger when
``publish_errors`` was set). Nothing is sent while the ``log_notifier`` driver is
configured, which would log the notification again and loop.
"""

from __future__ import annotations

import logging

from oslo_config import cfg

from legacy_rpc.notifier import _driver_names
from legacy_rpc.notifier import api as notifier_api

__all__ = ["PublishErrorsHandler", "publish_errors_opt"]

publish_errors_opt = cfg.BoolOpt("publish_errors", default=False,
                                 help="Publish error events.")
cfg.CONF.register_opt(publish_errors_opt)

_LOG_DRIVER = "legacy_rpc.notifier.log_notifier"


class PublishErrorsHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if any(_driver_names.module_name(name) == _LOG_DRIVER
               for name in cfg.CONF.notification_driver):
            return
        try:
            notifier_api.notify(None, "error.publisher", "error_notification",
                                notifier_api.ERROR, {"error": record.getMessage()})
        except Exception:
            self.handleError(record)

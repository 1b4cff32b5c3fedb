"""Logging handlers that turn log records into notifications."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from oslo_config import cfg

from legacy_rpc.messaging import opts
from legacy_rpc.messaging.notify import (
    LoggingErrorNotificationHandler,
    LoggingNotificationHandler,
    PublishErrorsHandler,
    _impl_test,
    _opts,
)
from legacy_rpc.messaging.serializer import NoOpSerializer


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("tests.notify.handlers")
    old_level, old_propagate = log.level, log.propagate
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    log.handlers.clear()
    log.setLevel(old_level)
    log.propagate = old_propagate


def handler_class(conf: cfg.ConfigOpts) -> type[LoggingNotificationHandler]:
    class Handler(LoggingNotificationHandler):
        CONF = conf

    return Handler


def test_log_records_become_notifications(conf: cfg.ConfigOpts,
                                          logger: logging.Logger) -> None:
    logger.addHandler(handler_class(conf)("fake://", publisher_id="svc", driver="test",
                                          topic="logs"))
    logger.warning("disk %s is %d%% full", "sda", 91)
    try:
        raise ValueError("bad")
    except ValueError:
        logger.exception("failed")
    logger.log(5, "a custom level without a notifier method is skipped")
    [(ctxt, warn, warn_priority, _r), (_c, err, err_priority, _r2)] = _impl_test.NOTIFICATIONS
    assert (ctxt, warn_priority, err_priority) == ({}, "WARN", "ERROR")
    assert warn["event_type"] == "logrecord"
    assert warn["publisher_id"] == "svc"
    payload = warn["payload"]
    assert set(payload) == {"name", "levelno", "levelname", "exc_info", "pathname", "lineno",
                            "msg", "funcName", "thread", "processName", "process", "extra"}
    assert payload["msg"] == "disk sda is 91% full"
    assert payload["levelname"] == "WARNING"
    assert payload["exc_info"] is None
    assert "ValueError: bad" in err["payload"]["exc_info"]


def test_serializer_may_be_a_class(conf: cfg.ConfigOpts) -> None:
    handler = handler_class(conf)("fake://", driver="test", serializer=NoOpSerializer)
    assert isinstance(handler.notifier._serializer, NoOpSerializer)


def test_the_handler_does_not_recurse(conf: cfg.ConfigOpts, logger: logging.Logger) -> None:
    # With the log driver each notification is logged again, on a logger this handler is
    # attached to as well: the records it causes itself must not be sent again.
    handler = handler_class(conf)("fake://", driver=["log", "test"])
    notification_log = logging.getLogger("oslo.messaging.notification")
    old = notification_log.level
    notification_log.setLevel(logging.DEBUG)
    notification_log.addHandler(handler)
    try:
        logger.addHandler(handler)
        logger.error("once")
    finally:
        notification_log.removeHandler(handler)
        notification_log.setLevel(old)
    assert [m["payload"]["msg"] for _c, m, _p, _r in _impl_test.NOTIFICATIONS] == ["once"]


@pytest.fixture
def error_conf(conf: cfg.ConfigOpts) -> cfg.ConfigOpts:
    opts.register_transport_opts(conf)
    _opts.register_notifier_opts(conf)
    conf.set_override("transport_url", "fake://")
    return conf


def test_publish_errors_handler(error_conf: cfg.ConfigOpts, logger: logging.Logger) -> None:
    assert PublishErrorsHandler is LoggingErrorNotificationHandler
    error_conf.set_override("driver", ["test"], group="oslo_messaging_notifications")
    logger.addHandler(PublishErrorsHandler(logging.ERROR, conf=error_conf))
    logger.warning("below the handler's level")
    logger.error("volume %s failed", "v1")
    [(ctxt, message, priority, _r)] = _impl_test.NOTIFICATIONS
    assert (ctxt, priority, message["event_type"], message["publisher_id"]) == (
        {}, "ERROR", "error_notification", "error.publisher")
    assert message["payload"] == {"error": "volume v1 failed"}


def test_publish_errors_handler_is_silent_with_the_log_driver(
        error_conf: cfg.ConfigOpts, logger: logging.Logger) -> None:
    error_conf.set_override("driver", ["log", "test"], group="oslo_messaging_notifications")
    logger.addHandler(PublishErrorsHandler(conf=error_conf))
    logger.error("would loop")
    assert _impl_test.NOTIFICATIONS == []

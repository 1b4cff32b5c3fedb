"""Spec 9.9: ``test_notifier`` — the notifier API, its drivers and the notifier proxy.

Driver and ``rpc.notify`` replacements go through module attributes, as in the original.
The bus drivers also run end to end on fake and on RabbitMQ: a legacy notification reaches
a new-style notification listener.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc import messaging, rpc
from legacy_rpc.notifier import (
    api as notifier_api,
)
from legacy_rpc.notifier import (
    log_handler,
    log_notifier,
    no_op_notifier,
    proxy,
    rpc_notifier,
    rpc_notifier2,
    test_notifier,
)
from legacy_rpc.rpc import common
from tests.legacy.conftest import TIMEOUT, LegacyEnv

CONF = cfg.CONF
CTXT = {"user": "u"}


@pytest.fixture
def notifier_conf(restore_conf: Any) -> Any:
    """``notification_driver`` = no_op_notifier, ``default_publisher_id`` = publisher."""
    restore_conf("notification_driver", ["legacy_rpc.notifier.no_op_notifier"])
    restore_conf("default_publisher_id", "publisher")
    notifier_api._reset_drivers()
    return restore_conf


class _Calls:
    def __init__(self, raises: BaseException | None = None) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.raises = raises

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append((args, kwargs))
        if self.raises is not None:
            raise self.raises


def test_9_9_send_notification(notifier_conf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _Calls()
    monkeypatch.setattr(no_op_notifier, "notify", calls)
    notifier_api.notify(CTXT, "publisher_id", "event_type", notifier_api.WARN, {"a": 3})
    assert len(calls.calls) == 1


def test_9_9_verify_message_format(notifier_conf: Any,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _Calls()
    monkeypatch.setattr(no_op_notifier, "notify", calls)
    ctxt = common.CommonRpcContext(user="u")
    notifier_api.notify(ctxt, "publisher_id", "event_type", notifier_api.WARN, {"a": 3})
    (context, message), _ = calls.calls[0]
    assert context is ctxt
    assert set(message) == {"message_id", "publisher_id", "event_type", "priority", "payload",
                            "timestamp"}
    assert message["publisher_id"] == "publisher_id"
    assert message["event_type"] == "event_type"
    assert message["priority"] == "WARN"
    assert message["payload"] == {"a": 3}
    assert message["message_id"] and message["timestamp"]


def test_9_9_rpc_notifier(notifier_conf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    notifier_conf("notification_driver", ["nova.openstack.common.notifier.rpc_notifier"])
    notifier_api._reset_drivers()
    calls = _Calls()
    monkeypatch.setattr(rpc, "notify", calls)
    notifier_api.notify(CTXT, "publisher_id", "event_type", notifier_api.WARN, {"a": 3})
    (args, kwargs), = calls.calls
    assert not kwargs.get("envelope")
    assert args[0] == CTXT and args[1] == "notifications.warn"


def test_9_9_rpc_notifier2(notifier_conf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    notifier_conf("notification_driver", ["cinder.openstack.common.notifier.rpc_notifier2"])
    notifier_api._reset_drivers()
    calls = _Calls()
    monkeypatch.setattr(rpc, "notify", calls)
    notifier_api.notify(CTXT, "publisher_id", "event_type", notifier_api.WARN, {"a": 3})
    (args, kwargs), = calls.calls
    assert kwargs == {"envelope": True}
    assert args[1] == "notifications.warn"


def test_9_9_invalid_priority(notifier_conf: Any) -> None:
    with pytest.raises(notifier_api.BadPriorityException):
        notifier_api.notify(CTXT, "publisher_id", "event_type", "not a priority", {"a": 3})


def test_9_9_rpc_priority_queue(notifier_conf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    notifier_conf("notification_driver", ["legacy_rpc.notifier.rpc_notifier"])
    notifier_conf("notification_topics", ["testnotify"])
    notifier_api._reset_drivers()
    seen: list[tuple[Any, str, Any]] = []

    def mock_notify(context: Any, topic: str, msg: Any) -> None:  # exactly 3 positional
        seen.append((context, topic, msg))

    monkeypatch.setattr(rpc, "notify", mock_notify)
    notifier_api.notify(CTXT, "publisher_id", "event_type", notifier_api.DEBUG, {"a": 3})
    assert [(c, t) for c, t, _ in seen] == [(CTXT, "testnotify.debug")]


def test_9_9_error_notification(notifier_conf: Any) -> None:
    notifier_conf("notification_driver", ["test"])
    notifier_conf("publish_errors", True)
    notifier_api._reset_drivers()
    test_notifier.NOTIFICATIONS.clear()
    logger = logging.getLogger("legacy-rpc-test-publish-errors")
    handler = log_handler.PublishErrorsHandler(logging.ERROR)
    logger.addHandler(handler)
    try:
        logger.error("foo")
    finally:
        logger.removeHandler(handler)
    assert len(test_notifier.NOTIFICATIONS) == 1
    note = test_notifier.NOTIFICATIONS[0]
    assert note["event_type"] == "error_notification"
    assert note["priority"] == "ERROR"
    assert note["payload"]["error"] == "foo"


def test_9_9_send_notification_by_decorator(notifier_conf: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _Calls()
    monkeypatch.setattr(no_op_notifier, "notify", calls)

    def example_api(arg1: int, arg2: int) -> int:
        return arg1 + arg2

    example_api = notifier_api.notify_decorator("example_api", example_api)
    assert example_api(1, 2) == 3
    (_, message), _ = calls.calls[0]
    assert message["event_type"] == "example_api"
    assert message["publisher_id"] == "publisher"
    assert message["payload"] == {"args": [1, 2], "kwarg": {}}


def test_9_9_decorator_context(notifier_conf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def mock_notify(context: Any, *args: Any) -> None:
        seen.append(context)

    monkeypatch.setattr(notifier_api, "notify", mock_notify)

    def example_api(arg1: Any, arg2: Any, context: Any = None) -> None:
        pass

    wrapped = notifier_api.notify_decorator("example_api", example_api)
    ctxt = common.CommonRpcContext(user="u")
    wrapped(1, ctxt)
    wrapped(1, 2, context=ctxt)
    wrapped(1, 2)
    assert seen == [ctxt, ctxt, None]


# --------------------------------------------------------------------------- several drivers

def _exceptions(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.name == notifier_api.__name__ and r.exc_info is not None]


def test_9_9_send_notifications_successfully(notifier_conf: Any, monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    calls = _Calls()
    monkeypatch.setattr(no_op_notifier, "notify", calls)
    notifier_api.notify(CTXT, "publisher_id", "event_type", notifier_api.WARN, {"a": 3})
    assert len(calls.calls) == 1 and _exceptions(caplog) == []


def test_9_9_send_notifications_with_errors(notifier_conf: Any,
                                            monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    notifier_conf("notification_driver", ["legacy_rpc.notifier.no_op_notifier",
                                          "nova.openstack.common.notifier.log_notifier"])
    notifier_api._reset_drivers()
    calls = _Calls()
    monkeypatch.setattr(no_op_notifier, "notify", calls)
    monkeypatch.setattr(log_notifier, "notify", _Calls(raises=RuntimeError("Bad")))
    notifier_api.notify(CTXT, "publisher_id", "event_type", notifier_api.WARN, {"a": 3})
    assert len(calls.calls) == 1
    assert len(_exceptions(caplog)) == 1


def test_9_9_when_driver_fails_to_import(notifier_conf: Any,
                                         monkeypatch: pytest.MonkeyPatch,
                                         caplog: pytest.LogCaptureFixture) -> None:
    notifier_conf("notification_driver", ["legacy_rpc.notifier.no_op_notifier",
                                          "nova.openstack.common.notifier.does_not_exist",
                                          "nova.openstack.common.notifier.also_missing"])
    notifier_api._reset_drivers()
    calls = _Calls()
    monkeypatch.setattr(no_op_notifier, "notify", calls)
    notifier_api.notify(CTXT, "publisher_id", "event_type", notifier_api.WARN, {"a": 3})
    assert len(_exceptions(caplog)) == 2
    assert len(calls.calls) == 1


def test_9_9_publisher_id(restore_conf: Any) -> None:
    assert notifier_api.publisher_id("foobar") == f"foobar.{socket.gethostname()}"
    assert notifier_api.publisher_id("foobar", "baz") == "foobar.baz"


# --------------------------------------------------------------------------- notifier proxy

@pytest.mark.parametrize(("method", "priority"), [
    ("audit", "INFO"), ("debug", "DEBUG"), ("info", "INFO"), ("warn", "WARN"),
    ("warning", "WARN"), ("critical", "CRITICAL"), ("error", "ERROR")])
def test_9_9_notifier_proxy(monkeypatch: pytest.MonkeyPatch, method: str,
                            priority: str) -> None:
    calls = _Calls()
    monkeypatch.setattr(notifier_api, "notify", calls)
    notifier = proxy.get_notifier(service="service", host="my")
    getattr(notifier, method)({}, "event", "payload")
    assert calls.calls == [(({}, "service.my", "event", priority, "payload"), {})]


# --------------------------------------------------------------------------- end to end

class _Endpoint:
    def __init__(self) -> None:
        self.received: list[tuple[str, Any, Any, Any, Any]] = []
        self.event = threading.Event()

    def _got(self, priority: str, ctxt: Any, publisher_id: Any, event_type: Any,
             payload: Any, metadata: Any) -> None:
        self.received.append((priority, ctxt, publisher_id, event_type, payload))
        self.event.set()

    def info(self, ctxt: Any, publisher_id: Any, event_type: Any, payload: Any,
             metadata: Any) -> None:
        self._got("info", ctxt, publisher_id, event_type, payload, metadata)

    def error(self, ctxt: Any, publisher_id: Any, event_type: Any, payload: Any,
              metadata: Any) -> None:
        self._got("error", ctxt, publisher_id, event_type, payload, metadata)


@pytest.mark.parametrize("driver", ["nova.openstack.common.notifier.rpc_notifier",
                                    "glance.openstack.common.notifier.rpc_notifier2"])
def test_9_9_bus_drivers_reach_new_style_listener(legacy: LegacyEnv, driver: str) -> None:
    """Legacy notifications (1.0 bare, or 2.0 enveloped) reach a new-style listener; the
    context travels without its credentials."""
    topic = legacy.topic("notifications")
    legacy.set("notification_driver", [driver])
    legacy.set("topics", [topic], group="rpc_notifier2")
    legacy.set("notification_topics", [topic])
    for priority in ("info", "error"):
        legacy.queue(f"{topic}.{priority}")
    notifier_api._reset_drivers()
    endpoint = _Endpoint()
    listener = messaging.get_notification_listener(
        legacy.transport, [messaging.Target(topic=topic)], [endpoint], executor="threading")
    listener.start()
    try:
        ctxt = common.CommonRpcContext(user="u1", tenant="t1", auth_token="secret-token")
        notifier_api.notify(ctxt, "compute.host1", "compute.instance.create.end",
                            notifier_api.INFO, {"id": 7})
        assert endpoint.event.wait(TIMEOUT)
    finally:
        listener.stop()
        listener.wait()
    (priority, got_ctxt, publisher, event_type, payload), = endpoint.received
    assert (priority, publisher, event_type, payload) == (
        "info", "compute.host1", "compute.instance.create.end", {"id": 7})
    assert got_ctxt["user"] == "u1" and got_ctxt["tenant"] == "t1"
    assert "auth_token" not in got_ctxt


def test_9_9_notification_driver_names() -> None:
    """Old driver paths of any project and the new-style names select these drivers."""
    from legacy_rpc.notifier import _driver_names

    cases = {"nova.openstack.common.notifier.rpc_notifier": rpc_notifier,
             "nova.notifier.rabbit_notifier": rpc_notifier,
             "heat.openstack.common.notifier.rpc_notifier2": rpc_notifier2,
             "messagingv2": rpc_notifier2,
             "openstack.common.notifier.log_notifier": log_notifier,
             "noop": no_op_notifier,
             "legacy_rpc.notifier.test_notifier": test_notifier}
    for name, module in cases.items():
        assert _driver_names.import_driver(name) is module, name

"""``Notifier``: message fields, context redaction, serializers, retry, error handling,
and ``get_notification_transport``."""

from __future__ import annotations

import datetime
import logging
import re
import uuid
from typing import Any, cast

import pytest
from oslo_config import cfg

from legacy_rpc.messaging import opts, wire
from legacy_rpc.messaging.notify import Notifier, _impl_test, get_notification_transport
from legacy_rpc.messaging.notify.notifier import load_driver
from legacy_rpc.messaging.rpc import get_rpc_transport
from legacy_rpc.messaging.serializer import NoOpSerializer
from legacy_rpc.messaging.transport import NotificationTransport, Transport

TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?$")


def sent() -> list[tuple[dict[str, Any], dict[str, Any], str, int | None]]:
    return list(_impl_test.NOTIFICATIONS)


# --------------------------------------------------------------------------- message fields

def test_message_fields(transport: Transport) -> None:
    before = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    Notifier(transport, "compute.host1", driver="test").warning(None, "e.t", {"a": 1})
    [(_ctxt, message, priority, _retry)] = sent()
    assert set(message) == {"message_id", "publisher_id", "event_type", "priority",
                            "payload", "timestamp"}
    assert priority == message["priority"] == "WARN"
    assert str(uuid.UUID(message["message_id"])) == message["message_id"]  # hyphenated
    assert message["publisher_id"] == "compute.host1"
    assert TIMESTAMP_RE.match(message["timestamp"])
    stamp = datetime.datetime.fromisoformat(message["timestamp"])
    assert stamp >= before - datetime.timedelta(seconds=1)  # naive UTC


def test_timestamp_is_str_of_a_naive_utc_datetime() -> None:
    moment = datetime.datetime(2026, 11, 22, 17, 7, 7, tzinfo=datetime.timezone.utc)
    assert wire._timestamp(moment) == "2026-11-22 17:07:07"  # no .ffffff at 0 us
    assert wire._timestamp(moment.replace(microsecond=108140)) == "2026-11-22 17:07:07.108140"


@pytest.mark.parametrize(("method", "priority"), [
    ("audit", "AUDIT"), ("debug", "DEBUG"), ("info", "INFO"), ("warn", "WARN"),
    ("warning", "WARN"), ("error", "ERROR"), ("critical", "CRITICAL"), ("sample", "SAMPLE"),
])
def test_priority_methods(transport: Transport, method: str, priority: str) -> None:
    getattr(Notifier(transport, "p", driver="test"), method)(None, "e", {})
    assert sent()[0][2] == priority
    assert sent()[0][1]["priority"] == priority


def test_prepare_shares_drivers_and_overrides_fields(transport: Transport) -> None:
    base = Notifier(transport, "compute.a", driver="test", retry=5)
    sub = base.prepare(publisher_id="compute.b")
    sub.info(None, "e", {})
    sub.prepare(retry=1).info(None, "e", {})
    base.info(None, "e", {})
    assert [(m["publisher_id"], r) for _c, m, _p, r in sent()] == [
        ("compute.b", 5), ("compute.b", 1), ("compute.a", 5)]
    assert sub._drivers is base._drivers


def test_retry_defaults_to_the_option(conf: cfg.ConfigOpts, transport: Transport) -> None:
    Notifier(transport, "p", driver="test").info(None, "e", {})
    conf.set_override("retry", 2, group="oslo_messaging_notifications")
    Notifier(transport, "p", driver="test").info(None, "e", {})
    assert [r for *_rest, r in sent()] == [-1, 2]


# --------------------------------------------------------------------------- context

class Ctxt:
    def __init__(self, **values: Any) -> None:
        self.values = values

    def redacted_copy(self) -> dict[str, Any]:
        return {k: v for k, v in self.values.items() if k != "auth_token"}


def test_context_rules(transport: Transport, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(transport, "p", driver="test")
    notifier.info(None, "none", {})
    notifier.info({"user": "u", "auth_token": "t"}, "dict", {})
    notifier.info(Ctxt(user="u", auth_token="t"), "redacted", {})
    with caplog.at_level(logging.WARNING):
        notifier.info(object(), "opaque", {})
    assert [(m["event_type"], c) for c, m, _p, _r in sent()] == [
        ("none", {}), ("dict", {}), ("redacted", {"user": "u"}), ("opaque", {})]
    assert "redacted_copy" in caplog.text


def test_serializer_is_applied(transport: Transport) -> None:
    class Upper(NoOpSerializer):
        def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
            return {k.upper(): v for k, v in entity.items()}

        def serialize_context(self, ctxt: Any) -> Any:
            class AsDict:
                def to_dict(self) -> dict[str, Any]:
                    return {"serialized": True}
            return AsDict()

    Notifier(transport, "p", driver="test", serializer=Upper()).info(None, "e", {"a": 1})
    [(ctxt, message, _p, _r)] = sent()
    assert message["payload"] == {"A": 1}
    # drivers get the serialized context as it is, as in oslo.messaging; the transport
    # sends its to_dict()
    assert cast(Any, ctxt).to_dict() == {"serialized": True}


def test_messaging_driver_sends_the_serialized_context_as_a_dict(
        conf: cfg.ConfigOpts, transport: Transport, monkeypatch: pytest.MonkeyPatch) -> None:
    class AsDict:
        def to_dict(self) -> dict[str, Any]:
            return {"serialized": True}

    class Ctx(NoOpSerializer):
        def serialize_context(self, ctxt: Any) -> Any:
            return AsDict()

    seen: list[Any] = []
    original = transport._driver.send_notification

    def record(target: Any, ctxt: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(ctxt)
        original(target, ctxt, *args, **kwargs)

    monkeypatch.setattr(transport._driver, "send_notification", record)
    Notifier(transport, "p", driver="messagingv2", serializer=Ctx()).info(None, "e", {})
    assert seen == [{"serialized": True}]


# --------------------------------------------------------------------------- errors

def test_a_failing_driver_never_raises_and_others_still_send(
        conf: cfg.ConfigOpts, transport: Transport, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(transport, "p", driver=["messagingv2", "test"])

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(transport, "_send_notification", broken)
    with caplog.at_level(logging.ERROR):
        notifier.info(None, "e", {"password": "hunter2"})
    assert len(sent()) == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[0].exc_info is not None
    assert "hunter2" not in caplog.text


def test_an_unserializable_payload_is_logged_not_raised(
        transport: Transport, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        Notifier(transport, "p", driver="messagingv2").info(None, "e", {"x": object()})
    assert "Could not send notification" in caplog.text


def test_every_topic_is_tried(conf: cfg.ConfigOpts, transport: Transport,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[str | None] = []

    def send(target: Any, *args: Any, **kwargs: Any) -> None:
        tried.append(target.topic)
        raise ConnectionError("down")

    monkeypatch.setattr(transport, "_send_notification", send)
    Notifier(transport, "p", driver="messaging", topics=["a", "b"]).sample(None, "e", {})
    assert tried == ["a.sample", "b.sample"]


def test_messaging_drivers_send_version_1_and_2(conf: cfg.ConfigOpts, transport: Transport,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    versions: list[float] = []
    monkeypatch.setattr(transport, "_send_notification",
                        lambda target, ctxt, message, version, retry: versions.append(version))
    load_driver("messaging", conf, ["t"], transport).notify({}, {}, "INFO", None)
    load_driver("messagingv2", conf, ["t"], transport).notify({}, {}, "INFO", None)
    assert versions == [1.0, 2.0]


# --------------------------------------------------------------------------- transport

def test_notification_transport_url_precedence(conf: cfg.ConfigOpts) -> None:
    opts.register_transport_opts(conf)
    conf.set_override("transport_url", "fake://default-host/")
    t = get_notification_transport(conf)
    assert isinstance(t, NotificationTransport)
    assert "default-host" in str(t._driver._url)
    conf.set_override("transport_url", "fake://notify-host/", group="oslo_messaging_notifications")
    assert "notify-host" in str(get_notification_transport(conf)._driver._url)
    assert "given" in str(get_notification_transport(conf, "fake://given/")._driver._url)


def test_an_rpc_transport_works_with_a_warning(conf: cfg.ConfigOpts,
                                               caplog: pytest.LogCaptureFixture) -> None:
    rpc = get_rpc_transport(conf, "fake://")
    with caplog.at_level(logging.WARNING):
        Notifier(rpc, "p", driver="test").info(None, "e", {})
    assert "get_notification_transport" in caplog.text
    assert len(sent()) == 1


def test_public_names_are_those_of_oslo_messaging_notify() -> None:
    import legacy_rpc.messaging as messaging
    from legacy_rpc.messaging import notify

    oslo_notify_all = {"Notifier", "LoggingNotificationHandler", "get_notification_transport",
                       "get_notification_listener", "get_batch_notification_listener",
                       "NotificationResult", "NotificationFilter", "PublishErrorsHandler",
                       "LoggingErrorNotificationHandler"}
    assert set(notify.__all__) == oslo_notify_all
    assert oslo_notify_all <= set(messaging.__all__)
    assert all(getattr(messaging, name) is getattr(notify, name) for name in oslo_notify_all)
    assert messaging.NotificationResult.HANDLED == "handled"
    assert messaging.NotificationResult.REQUEUE == "requeue"

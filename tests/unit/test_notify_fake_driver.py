"""The fake driver's notification side: duplicates, malformed bodies, settling, stop."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc.messaging import wire
from legacy_rpc.messaging.drivers.base import IncomingMessage, Listener
from legacy_rpc.messaging.drivers.impl_fake import FakeDriver
from legacy_rpc.messaging.notify import (
    NotificationResult,
    get_notification_listener,
    get_notification_transport,
)
from legacy_rpc.messaging.target import Target
from legacy_rpc.messaging.transport import Transport
from tests.helpers import wait_for

TOPIC = "notifications"


@pytest.fixture
def transport() -> Iterator[Transport]:
    conf = cfg.ConfigOpts()
    conf([], default_config_files=[], default_config_dirs=[])
    t = get_notification_transport(conf, f"fake:///test-{uuid.uuid4().hex}")  # a vhost of its own
    yield t
    t.cleanup()


def driver(transport: Transport) -> FakeDriver:
    d = transport._driver
    assert isinstance(d, FakeDriver)
    return d


def body(event_type: str) -> bytes:
    message = wire.build_notification("p", event_type, "info", {})
    return wire.encode_body(wire.pack_notification({}, message))


@pytest.fixture
def listener(transport: Transport) -> Iterator[tuple[Listener, list[IncomingMessage]]]:
    got: list[IncomingMessage] = []
    lis = transport._listen_for_notifications([(Target(topic=TOPIC), "info")], None, 1, None)
    lis.start(got.extend)
    yield lis, got
    lis.stop()
    lis.cleanup()


def publish(transport: Transport, data: bytes) -> None:
    assert driver(transport).broker.publish("openstack", f"{TOPIC}.info", data) == 1


def test_redelivery_of_an_acknowledged_notification_is_dropped(
        transport: Transport, listener: tuple[Listener, list[IncomingMessage]],
        caplog: pytest.LogCaptureFixture) -> None:
    _lis, got = listener
    data = body("once")
    publish(transport, data)
    wait_for(lambda: len(got) == 1, message="first delivery")
    got[0].acknowledge()
    with caplog.at_level(logging.INFO):
        publish(transport, data)                   # a broker redelivery after the ack
        publish(transport, body("marker"))
        wait_for(lambda: len(got) == 2, message="marker")
    assert [m.message["event_type"] for m in got] == ["once", "marker"]
    assert "duplicate" in caplog.text


def test_an_unacknowledged_copy_is_not_a_duplicate(
        transport: Transport, listener: tuple[Listener, list[IncomingMessage]]) -> None:
    _lis, got = listener
    data = body("twice")
    publish(transport, data)
    publish(transport, data)
    wait_for(lambda: len(got) == 2, message="both copies")


def test_a_malformed_body_is_dropped_and_logged(
        transport: Transport, listener: tuple[Listener, list[IncomingMessage]],
        caplog: pytest.LogCaptureFixture) -> None:
    _lis, got = listener
    with caplog.at_level(logging.ERROR):
        publish(transport, b'{"password": "hunter2", "no": "priority"}')
        publish(transport, b"not json")
        publish(transport, body("marker"))
        wait_for(lambda: got, message="marker")
    assert [m.message["event_type"] for m in got] == ["marker"]
    assert "hunter2" not in caplog.text
    assert "malformed" in caplog.text


def test_settling_twice_does_nothing(
        transport: Transport, listener: tuple[Listener, list[IncomingMessage]]) -> None:
    _lis, got = listener
    publish(transport, body("e"))
    wait_for(lambda: got, message="delivery")
    got[0].acknowledge()
    got[0].requeue()  # too late: already acknowledged
    publish(transport, body("marker"))
    wait_for(lambda: len(got) == 2, message="marker")
    assert [m.message["event_type"] for m in got] == ["e", "marker"]


def test_incoming_message_contract(
        transport: Transport, listener: tuple[Listener, list[IncomingMessage]]) -> None:
    _lis, got = listener
    message = wire.build_notification("pub", "ev", "warn", {"k": "v"})
    publish(transport, wire.encode_body(wire.pack_notification({"user": "u"}, message)))
    wait_for(lambda: got, message="delivery")
    [incoming] = got
    assert incoming.ctxt == {"user": "u"}
    assert incoming.message == {**message, "priority": "warn"}
    assert incoming.msg_id == message["message_id"]


def test_stop_ends_even_if_the_endpoint_keeps_requeueing(transport: Transport) -> None:
    calls = []

    class Requeuer:
        def info(self, *args: Any) -> str:
            calls.append(args)
            return NotificationResult.REQUEUE

    server = get_notification_listener(transport, [Target(topic=TOPIC)], [Requeuer()],
                                       executor="blocking", allow_requeue=True)
    server.start()
    publish(transport, body("hot"))
    wait_for(lambda: len(calls) >= 3, message="redeliveries")
    done = threading.Event()

    def shut_down() -> None:
        server.stop()
        server.wait()
        done.set()

    threading.Thread(target=shut_down, daemon=True).start()
    assert done.wait(10), "stop()/wait() did not return"
    assert driver(transport).broker.queue_depth(f"{TOPIC}.info") == 1  # given back

"""What only AMQP 1.0 has: body sections, dispositions, failover, eventlet.

Foreign AMQP 1.0 messages are sent with plain python-qpid-proton, as another client would.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging import wire
from tests.helpers import wait_for

proton = pytest.importorskip("proton", reason="python-qpid-proton (legacy-rpc[amqp1]) is missing")
from proton.utils import BlockingConnection  # noqa: E402

pytestmark = pytest.mark.broker


class Echo:
    def __init__(self) -> None:
        self.received: list[Any] = []

    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        self.received.append(value)
        return value


def _conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([])
    return conf


def _blocking(url: str) -> Any:
    """A plain proton connection to the vhost of ``url``."""
    parts = urlsplit(url)
    vhost = unquote(parts.path[1:])
    return BlockingConnection(f"amqp://{parts.hostname}:{parts.port or 5672}", timeout=10,
                              user=unquote(parts.username or "guest"),
                              password=unquote(parts.password or "guest"),
                              virtual_host=f"vhost:{vhost}" if vhost else None)


@pytest.fixture
def served(amqp1_url: str) -> Iterator[tuple[messaging.Transport, str, Echo]]:
    transport = messaging.get_rpc_transport(_conf(), amqp1_url)
    topic = f"wire-{uuid.uuid4().hex[:8]}"
    endpoint = Echo()
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [endpoint])
    server.start()
    yield transport, topic, endpoint
    server.stop()
    server.wait()
    transport.cleanup()


def _serves(transport: messaging.Transport, topic: str) -> bool:
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
    return bool(client.call({}, "echo", value="still serving") == "still serving")


SECRET_REQUEST = {"method": "echo", "args": {"value": 1}, "_context_auth_token": "hunter2",
                  "password": "hunter2"}

BAD_BODIES: dict[str, dict[str, Any]] = {
    "amqp-value map": {"body": SECRET_REQUEST, "inferred": False},
    "amqp-sequence": {"body": [SECRET_REQUEST], "inferred": True},
    "amqp-value number": {"body": 42, "inferred": False},
    "data, not JSON": {"body": b"\x00\xff password=hunter2", "inferred": True},
    "data, newer envelope": {"body": json.dumps({"oslo.version": "3.0", "oslo.message":
                                                 json.dumps(SECRET_REQUEST)}).encode(),
                             "inferred": True},
    "string, wrong envelope": {"body": json.dumps({"oslo.version": "2.0",
                                                   "oslo.message": '{"password": "hunter2", '
                                                                   'nope'}),
                               "inferred": False},
}


@pytest.mark.parametrize("message", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_malformed_message_is_rejected_logged_masked_and_dropped(
        served: tuple[messaging.Transport, str, Echo], amqp1_url: str, message: dict[str, Any],
        caplog: pytest.LogCaptureFixture) -> None:
    transport, topic, endpoint = served
    conn = _blocking(amqp1_url)
    try:
        with caplog.at_level(logging.DEBUG):
            conn.create_sender(f"/queue/{topic}").send(proton.Message(**message))
            wait_for(lambda: any("malformed" in r.getMessage() for r in caplog.records),
                     message="the malformed message was not logged")
            assert _serves(transport, topic)
        # Rejected (dropped), not released: nothing comes back to the queue.
        receiver = conn.create_receiver(f"/queue/{topic}", credit=1)
        with pytest.raises(proton.Timeout):
            receiver.receive(timeout=1)
    finally:
        conn.close()
    assert endpoint.received == ["still serving"]
    assert "hunter2" not in caplog.text


def test_a_json_string_body_is_served(served: tuple[messaging.Transport, str, Echo],
                                      amqp1_url: str) -> None:
    """AMQP 1.0 clients that send the JSON text as an amqp-value string are understood."""
    _, topic, endpoint = served
    conn = _blocking(amqp1_url)
    try:
        body = json.dumps(wire.build_request({}, {"method": "echo", "args": {"value": "s"}}))
        conn.create_sender(f"/queue/{topic}").send(proton.Message(body=body))
    finally:
        conn.close()
    wait_for(lambda: endpoint.received == ["s"], message="the string request was not served")


def test_requests_are_data_sections_as_0_9_1_peers_expect(amqp1_url: str) -> None:
    """What the driver sends is one data section of UTF-8 JSON with content type
    application/json: what RabbitMQ hands to 0-9-1 consumers as a plain body."""
    transport = messaging.get_rpc_transport(_conf(), amqp1_url)
    topic = f"wire-{uuid.uuid4().hex[:8]}"
    conn = _blocking(amqp1_url)
    try:
        receiver = conn.create_receiver(f"/queue/{topic}", credit=1)
        messaging.get_rpc_client(transport, messaging.Target(topic=topic)).cast(
            {"user": "u"}, "echo", value=[1, "two"])
        got = receiver.receive(timeout=10)
        receiver.accept()
    finally:
        conn.close()
        transport.cleanup()
    assert isinstance(got.body, bytes | memoryview)
    assert got.content_type == "application/json"
    request = wire.parse_request(json.loads(bytes(got.body)))
    assert request.message["args"] == {"value": [1, "two"]}


def test_failover_skips_a_dead_host(amqp1_url: str) -> None:
    parts = urlsplit(amqp1_url)
    dead = f"{parts.username}:{parts.password}@127.0.0.1:1"
    url = (f"amqp1://{dead},{parts.netloc}{parts.path}"
           "?connection_retry_interval=0.1&connection_retry_backoff=0.1")
    transport = messaging.get_rpc_transport(_conf(), url)
    topic = f"wire-{uuid.uuid4().hex[:8]}"
    endpoint = Echo()
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [endpoint])
    server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        assert [client.call({}, "echo", value=i) for i in range(3)] == [0, 1, 2]
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def test_bad_credentials_fail_within_the_timeout(amqp1_url: str) -> None:
    parts = urlsplit(amqp1_url)
    url = f"amqp1://guest:wrong-hunter2@{parts.hostname}:{parts.port}{parts.path}"
    transport = messaging.get_rpc_transport(_conf(), url)
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic="nobody"),
                                          timeout=3)
        with pytest.raises((messaging.MessagingTimeout,
                            messaging.MessageDeliveryFailure)) as info:
            client.call({}, "echo", value=1)
        assert "hunter2" not in str(info.value)
    finally:
        transport.cleanup()


def test_works_in_a_process_eventlet_has_monkey_patched(amqp1_url: str) -> None:
    script = textwrap.dedent(f"""
        import eventlet
        eventlet.monkey_patch()
        import threading
        from oslo_config import cfg
        import legacy_rpc.messaging as messaging
        from legacy_rpc.messaging.notify import Notifier, get_notification_listener

        conf = cfg.ConfigOpts(); conf([])
        transport = messaging.get_rpc_transport(conf, {amqp1_url!r})
        got = threading.Event()
        noted = threading.Event()
        class Endpoint:
            def add(self, ctxt, a, b):
                return a + b
            def poke(self, ctxt):
                got.set()
            def info(self, ctxt, publisher_id, event_type, payload, metadata):
                noted.set()
        target = messaging.Target(topic="green", server="s1")
        server = messaging.get_rpc_server(transport, target, [Endpoint()])
        listener = get_notification_listener(
            transport, [messaging.Target(topic="green")], [Endpoint()])
        server.start(); listener.start()
        client = messaging.get_rpc_client(transport, messaging.Target(topic="green"),
                                          timeout=10)
        assert client.call({{}}, "add", a=2, b=3) == 5
        client.cast({{}}, "poke")
        Notifier(transport, "p", driver="messagingv2", topics=["green"]).info({{}}, "e", {{}})
        assert got.wait(10) and noted.wait(10)
        server.stop(); listener.stop(); server.wait(); listener.wait()
        transport.cleanup()
        print("OK")
    """)
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", script],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and result.stdout.strip().endswith("OK"), (
        result.stdout[-2000:] + result.stderr[-3000:])


def test_listener_pools_are_refused_clearly(amqp1_url: str) -> None:
    transport = messaging.get_notification_transport(_conf(), amqp1_url)
    try:
        with pytest.raises(NotImplementedError, match="pools"):
            messaging.get_notification_listener(
                transport, [messaging.Target(topic="t")], [Echo()], pool="metering")
    finally:
        transport.cleanup()


def test_threads_end_with_the_transport(amqp1_url: str) -> None:
    before = {t.ident for t in threading.enumerate()}
    transport = messaging.get_rpc_transport(_conf(), amqp1_url)
    topic = f"wire-{uuid.uuid4().hex[:8]}"
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s"),
                                      [Echo()])
    server.start()
    assert messaging.get_rpc_client(transport, messaging.Target(topic=topic),
                                    timeout=10).call({}, "echo", value=1) == 1
    server.stop()
    server.wait()
    transport.cleanup()
    wait_for(lambda: {t.ident for t in threading.enumerate()} <= before, timeout=10,
             message=lambda: f"threads left: {[t.name for t in threading.enumerate()]}")


def test_idle_sender_links_are_bounded(amqp1_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server answering many callers keeps at most MAX_SENDERS sender links open."""
    from legacy_rpc.messaging.drivers.amqp1 import _connection

    monkeypatch.setattr(_connection, "MAX_SENDERS", 3)
    transport = messaging.get_rpc_transport(_conf(), amqp1_url)
    try:
        prefix = f"wire-{uuid.uuid4().hex[:8]}"
        for i in range(8):
            client = messaging.get_rpc_client(transport, messaging.Target(topic=f"{prefix}-{i}"))
            client.cast({}, "echo", value=i)  # returns once settled on its own link
        driver: Any = transport._driver
        conn = driver.send_connection()
        assert len(conn.call(lambda: list(conn._senders), 10)) <= 3
    finally:
        transport.cleanup()

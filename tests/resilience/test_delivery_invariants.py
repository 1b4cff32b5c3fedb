"""Delivery invariants on the real RabbitMQ, checked by what the broker holds afterwards.

Each test reproduces one fault found by fault injection (issue 9) and asserts, besides
"the server still answers", the broker-side state: consumers per queue, unacknowledged and
ready messages, channels per connection. Every test runs in a throwaway vhost.
"""

from __future__ import annotations

import bz2
import gc
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import amqp
import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging.drivers.rabbit._connection import (
    BrokerConnection,
    ConnectionClosed,
    ConnectionPlan,
)
from legacy_rpc.messaging.drivers.rabbit._errors import BrokerRefused
from legacy_rpc.messaging.drivers.rabbit._opts import load_options
from legacy_rpc.messaging.exceptions import MessageDeliveryFailure
from tests.helpers import amqp_params, wait_for
from tests.infra.inspect import BrokerInspector
from tests.resilience.conftest import Vhost, rabbitmqctl

pytestmark = pytest.mark.broker

FAST = "rabbit_retry_interval=0.2&rabbit_retry_backoff=0.3&rabbit_interval_max=2"
EXCHANGE = "openstack"


def make_conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([])
    return conf


class Echo:
    def __init__(self) -> None:
        self.casts: list[int] = []
        self.notes: list[int] = []
        self.lock = threading.Lock()

    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        return value

    def record(self, ctxt: dict[str, Any], n: int) -> None:
        with self.lock:
            self.casts.append(n)

    def info(self, ctxt: dict[str, Any], publisher_id: str, event_type: str, payload: Any,
             metadata: dict[str, Any]) -> None:
        with self.lock:
            self.notes.append(payload["n"])


@pytest.fixture
def inspector(vhost: Vhost) -> BrokerInspector:
    return BrokerInspector.for_rabbitmqctl(vhost=vhost.name)


@contextmanager
def server_on(url: str, topic: str, endpoint: Any,
              server: str = "s1") -> Iterator[Any]:
    transport = messaging.get_rpc_transport(make_conf(), url)
    srv = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server=server),
                                   [endpoint])
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        srv.wait()
        transport.cleanup()


@contextmanager
def client_on(url: str, topic: str, timeout: float = 5) -> Iterator[messaging.RPCClient]:
    transport = messaging.get_rpc_transport(make_conf(), url)
    try:
        yield messaging.get_rpc_client(transport, messaging.Target(topic=topic),
                                       timeout=timeout)
    finally:
        transport.cleanup()


def raw_publish(url: str, routing_key: str, body: bytes, exchange: str = EXCHANGE,
                headers: dict[str, Any] | None = None, **properties: Any) -> None:
    """Publish bytes as they are (no library in between), with publisher confirms."""
    conn = amqp.Connection(**amqp_params(url), confirm_publish=True)
    conn.connect()
    try:
        channel = conn.channel()
        channel.basic_publish(amqp.Message(body, application_headers=headers or {},
                                           **properties),
                              exchange=exchange, routing_key=routing_key)
    finally:
        conn.close()


def request(method: str, **extra: Any) -> bytes:
    inner = {"method": method, "args": {"value": 1}, "_unique_id": f"u-{time.time_ns()}",
             **extra}
    return json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)}).encode()


def settled(inspector: BrokerInspector, *queues: str) -> None:
    """Every named queue has exactly one consumer and holds no message at all."""
    for name in queues:
        inspector.wait_queue(name, timeout=15, consumers=1, messages_ready=0,
                             messages_unacknowledged=0)


HOSTILE = {
    # 64 KB of word characters: the old masking regex took over a minute on it.
    "long-word": b"a" * 65536,
    # 100,000 open brackets: json raised RecursionError, which escaped the listener.
    "deep-brackets": b"[" * 100_000,
    "deep-envelope": json.dumps({"oslo.version": "2.0",
                                 "oslo.message": "[" * 50_000 + "]" * 50_000}).encode(),
    "not-utf8": b"\xff\xfe" * 1000,
    "huge-int": b'{"method": "echo", "args": {"value": ' + b"9" * 20000 + b"}}",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_body_is_rejected_once_and_the_server_keeps_serving(
        vhost: Vhost, inspector: BrokerInspector, caplog: pytest.LogCaptureFixture,
        name: str) -> None:
    url = f"{vhost.url}?{FAST}"
    with server_on(url, "hostile", Echo()), client_on(url, "hostile") as client:
        assert client.call({}, "echo", value="before") == "before"
        caplog.clear()
        started = time.monotonic()
        raw_publish(vhost.url, "hostile", HOSTILE[name])
        assert client.call({}, "echo", value="after") == "after"
        # The bad message cost the server no noticeable time (it froze it for a minute).
        assert time.monotonic() - started < 3
        settled(inspector, "hostile", "hostile.s1")
        rejected = [r for r in caplog.records if "Rejecting a malformed message" in r.message]
        assert len(rejected) == 1, [r.message for r in caplog.records]
        assert len(rejected[0].getMessage()) < 4000  # logged cut short


def test_a_compression_bomb_is_rejected_without_inflating_it(
        vhost: Vhost, inspector: BrokerInspector, caplog: pytest.LogCaptureFixture) -> None:
    import tracemalloc

    bomb = bz2.compress(b"\0" * (200 * 1024 * 1024))
    assert len(bomb) < 1000
    url = f"{vhost.url}?{FAST}"
    with server_on(url, "bomb", Echo()), client_on(url, "bomb") as client:
        assert client.call({}, "echo", value=1) == 1
        tracemalloc.start()
        try:
            raw_publish(vhost.url, "bomb", bomb, headers={"compression": "application/x-bz2"})
            assert client.call({}, "echo", value=2) == 2
            settled(inspector, "bomb")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 80 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB while rejecting a bomb"
        assert any("Rejecting a malformed message" in r.message for r in caplog.records)


def test_a_deep_message_does_not_break_reconnects_or_later_starts(
        vhost: Vhost, inspector: BrokerInspector) -> None:
    """A bad message waiting in the queue while servers start and reconnect is rejected
    once; every queue keeps exactly one consumer (the old listener looped for ever)."""
    url = f"{vhost.url}?{FAST}"
    transport = messaging.get_rpc_transport(make_conf(), url)
    # Declare the queues first (a server started and stopped), then queue a bad message.
    with server_on(url, "deep", Echo()):
        pass
    raw_publish(vhost.url, "deep", b"[" * 100_000)
    try:
        with server_on(url, "deep", Echo()), client_on(url, "deep") as client:
            assert client.call({}, "echo", value=1) == 1
            settled(inspector, "deep", "deep.s1")
            raw_publish(vhost.url, "deep", b"[" * 100_000)
            vhost.drop_connections()
            wait_for(lambda: client.call({}, "echo", value=2) == 2, timeout=15)
            settled(inspector, "deep", "deep.s1")
    finally:
        transport.cleanup()


def test_a_cancelled_consumer_is_resubscribed_on_its_own_channel(
        vhost: Vhost, inspector: BrokerInspector) -> None:
    """After the broker cancels a consumer, no second channel keeps consuming: every queue
    has one consumer, every connection one channel, and casts are acked exactly once."""
    url = f"{vhost.url}?{FAST}"
    endpoint = Echo()
    with server_on(url, "cancel", endpoint), client_on(url, "cancel") as client:
        assert client.call({}, "echo", value=1) == 1
        vhost.delete_queue("cancel")
        inspector.wait_queue("cancel", timeout=15, consumers=1)
        for n in range(20):
            client.cast({}, "record", n=n)
        wait_for(lambda: len(endpoint.casts) == 20, timeout=15,
                 message=lambda: f"{len(endpoint.casts)} of 20 casts dispatched")
        settled(inspector, "cancel", "cancel.s1")
        assert set(inspector.channels_per_connection().values()) == {1}
        quiet_until = time.monotonic() + 1.0
        wait_for(lambda: time.monotonic() >= quiet_until, timeout=5)  # a quiet period
        assert sorted(endpoint.casts) == list(range(20))  # no duplicate


def test_a_conflicting_redeclaration_backs_off_and_recovers(
        vhost: Vhost, inspector: BrokerInspector, caplog: pytest.LogCaptureFixture) -> None:
    url = f"{vhost.url}?{FAST}"
    with server_on(url, "conflict", Echo()) as server, client_on(url, "conflict") as client:
        assert client.call({}, "echo", value=1) == 1
        caplog.set_level(logging.DEBUG, logger="legacy_rpc")
        caplog.clear()
        # Replace the server's queue by one with other flags: its re-declaration fails
        # with 406 PRECONDITION_FAILED until the conflicting queue goes away.
        conn = amqp.Connection(**amqp_params(vhost.url))
        conn.connect()
        try:
            listener: Any = server.listener
            channel = _make_the_listener_conflict(
                conn, "conflict", lambda: listener.poll_style_listener.degraded)
            ends = time.monotonic() + 3
            wait_for(lambda: time.monotonic() >= ends, timeout=5)  # observe 3 s of failing
            errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(errors) < 30, f"{len(errors)} warnings in 3 s: it spins"
            channel.queue_delete("conflict")
        finally:
            conn.close()
        wait_for(lambda: not listener.poll_style_listener.degraded, timeout=15,
                 message="the listener did not recover")
        assert client.call({}, "echo", value=2) == 2
        settled(inspector, "conflict", "conflict.s1")


def _make_the_listener_conflict(conn: amqp.Connection, name: str,
                                degraded: Callable[[], object]) -> Any:
    """Replace queue ``name`` by a durable one until its listener reports itself degraded.

    The listener re-declares its queue (declare, bind, consume) as soon as the broker
    cancels its consumer. When our delete and declare fall between its declare and its
    consume, it consumes from our durable queue without any conflict; then replace it
    again (which cancels that consumer)."""
    for _ in range(10):
        channel = _replace_queue_by_a_durable_one(conn, name)

        def outcome(channel: Any = channel) -> str | None:
            if degraded():
                return "degraded"
            consumers: int = channel.queue_declare(name, passive=True)[2]
            return "consuming" if consumers else None

        if wait_for(outcome, timeout=10, message="the listener never reported itself "
                    "degraded nor consumed from the replaced queue") == "degraded":
            return channel
    raise AssertionError(f"the listener kept consuming from the replaced queue {name}")


def _replace_queue_by_a_durable_one(conn: amqp.Connection, name: str) -> Any:
    """Delete queue ``name`` and declare it durable; the server it belongs to re-declares
    it (transient) as soon as it is gone, so try until our declaration wins the race."""
    for _ in range(50):
        channel = conn.channel()
        channel.queue_delete(name)
        try:
            channel.queue_declare(name, durable=True, auto_delete=False)
        except amqp.exceptions.PreconditionFailed:
            continue  # the server was quicker; the broker closed our channel
        return channel
    raise AssertionError(f"could not replace queue {name} by a durable one")


def test_a_nack_is_a_messaging_exception(vhost: Vhost) -> None:
    conn = amqp.Connection(**amqp_params(vhost.url))
    conn.connect()
    channel = conn.channel()
    channel.exchange_declare(EXCHANGE, "topic", durable=False, auto_delete=False)
    channel.queue_declare("full", arguments={"x-max-length": 0,
                                             "x-overflow": "reject-publish"})
    channel.queue_bind("full", EXCHANGE, "full")
    conn.close()
    transport = messaging.get_rpc_transport(make_conf(), f"{vhost.url}?{FAST}")
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic="full"), retry=1)
        with pytest.raises(MessageDeliveryFailure, match=r"(?i)nack"):
            client.cast({}, "record", n=1)
    finally:
        transport.cleanup()


def test_access_refused_fails_at_once_with_a_masked_error(vhost: Vhost) -> None:
    user, password = f"norights-{vhost.name[-8:]}", "s3cret-pw"
    rabbitmqctl("add_user", user, password)
    try:
        rabbitmqctl("set_permissions", "-p", vhost.name, user, "^$", "^$", "^$")
        url = vhost.url.replace("guest:guest@", f"{user}:{password}@")
        transport = messaging.get_rpc_transport(make_conf(), url)
        try:
            client = messaging.get_rpc_client(transport, messaging.Target(topic="denied"))
            started = time.monotonic()
            with pytest.raises(BrokerRefused) as info:
                client.cast({}, "record", n=1)
            assert time.monotonic() - started < 5  # not retried for ever
            assert info.value.reply_code == 403
            assert password not in str(info.value)
        finally:
            transport.cleanup()
        wrong = vhost.url.replace("guest:guest@", f"{user}:wrong-{password}@")
        transport = messaging.get_rpc_transport(make_conf(), wrong)
        try:
            client = messaging.get_rpc_client(transport, messaging.Target(topic="denied"))
            with pytest.raises(BrokerRefused) as info:
                client.cast({}, "record", n=1)
            assert password not in str(info.value)
        finally:
            transport.cleanup()
    finally:
        rabbitmqctl("delete_user", user)


def test_a_call_timeout_bounds_everything_it_does(vhost: Vhost) -> None:
    """On a slow network (every chunk 0.3 s late) a call ends by its timeout: declaring the
    reply queue, connecting, sending and waiting share one deadline (each used to get the
    whole timeout: timeout=5 calls ended after 8 s)."""
    from tests.infra.faultproxy import FaultProxy

    with FaultProxy(5672).start() as proxy, server_on(f"{vhost.url}?{FAST}", "slow", Echo()):
        proxy.latency(0.3)
        with client_on(proxy.url(f"{vhost.url}?{FAST}"), "slow", timeout=2) as client:
            for _ in range(2):
                started = time.monotonic()
                with suppress(messaging.MessagingTimeout):  # it may not make it in time
                    assert client.call({}, "echo", value=1) == 1
                assert time.monotonic() - started < 2.5


def test_replies_to_vanished_callers_do_not_pin_the_workers(vhost: Vhost) -> None:
    """130 requests whose reply queue does not exist, then a good call: it is answered at
    once (each reply used to hold a worker for 60 s)."""
    url = f"{vhost.url}?{FAST}&kombu_missing_consumer_retry_timeout=30"
    conf = make_conf()
    transport = messaging.get_rpc_transport(conf, url)
    conf.set_override("executor_thread_pool_size", 8)
    server = messaging.get_rpc_server(transport, messaging.Target(topic="gone", server="s"),
                                      [Echo()])
    server.start()
    try:
        for n in range(130):
            raw_publish(vhost.url, "gone", request("echo", _msg_id=f"m{n}",
                                                   _reply_q=f"reply_gone_{n}", _timeout=None))
        with client_on(url, "gone", timeout=10) as client:
            started = time.monotonic()
            assert client.call({}, "echo", value="good") == "good"
            assert time.monotonic() - started < 5
        retrier = transport._driver._retrier  # type: ignore[attr-defined]
        assert len(retrier) <= 130
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def test_an_unread_stream_releases_its_reply_waiter(vhost: Vhost) -> None:
    class Gen:
        def count(self, ctxt: dict[str, Any], n: int) -> Iterator[int]:
            yield from range(n)

    url = f"{vhost.url}?{FAST}"
    with server_on(url, "gen", Gen()), client_on(url, "gen") as client:
        waiters = client.transport._driver._waiters  # type: ignore[attr-defined]
        for _ in range(20):
            client.stream({}, "count", n=3)  # never iterated
        gc.collect()
        wait_for(lambda: len(waiters) == 0, timeout=5,
                 message=lambda: f"{len(waiters)} waiters still registered")
        stream = client.stream({}, "count", n=3)
        assert next(iter(stream)) == 0
        stream.close()  # type: ignore[attr-defined]
        assert len(waiters) == 0
        assert list(client.stream({}, "count", n=3)) == [0, 1, 2]


def test_a_closed_connection_stays_closed(vhost: Vhost) -> None:
    options = load_options(make_conf(), {})
    conn = BrokerConnection(ConnectionPlan(messaging.TransportURL.parse(
        make_conf(), vhost.url).hosts, vhost.name, options, "test"))
    assert conn.ensure(lambda channel: channel.is_open)
    conn.close()
    with pytest.raises(ConnectionClosed):
        conn.ensure(lambda channel: True)
    assert not conn.connected


def test_the_heartbeat_thread_never_consumes_for_a_listener(vhost: Vhost,
                                                           inspector: BrokerInspector) -> None:
    """While a listener's workers are all busy, its unpolled connection is kept alive by
    the heartbeat thread, which never takes (acks or dispatches) the waiting messages."""
    url = f"{vhost.url}?{FAST}&heartbeat_timeout_threshold=2&rabbit_qos_prefetch_count=1"
    release = threading.Event()
    started: list[int] = []

    class Busy:
        def block(self, ctxt: dict[str, Any], n: int) -> None:
            started.append(n)
            release.wait(30)

    conf = make_conf()
    transport = messaging.get_rpc_transport(conf, url)
    conf.set_override("executor_thread_pool_size", 1)
    server = messaging.get_rpc_server(transport, messaging.Target(topic="busy", server="s"),
                                      [Busy()])
    server.start()
    try:
        with client_on(url, "busy") as client:
            for n in range(5):
                client.cast({}, "block", n=n)
            wait_for(lambda: started == [0], timeout=10)
            # Several heartbeat periods pass; the other casts must stay in the queue.
            assert_holds(lambda: inspector.queue("busy").messages_ready >= 3
                         and len(started) == 1, 4.0,
                         "messages were taken from the queue while nobody polled")
            release.set()
            wait_for(lambda: len(started) == 5, timeout=15)
            settled(inspector, "busy")
    finally:
        release.set()
        server.stop()
        server.wait()
        transport.cleanup()


def assert_holds(check: Callable[[], bool], seconds: float, message: str) -> None:
    """``check()`` stays true for ``seconds`` (a quiet-period assertion)."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        assert check(), message
        time.sleep(0.1)  # sampling pace of a quiet period, not synchronisation


def _held_connections(transport: messaging.Transport) -> list[BrokerConnection]:
    driver: Any = transport._driver
    held = list(driver._pool._all) + list(driver._listener_conns)
    if driver._reply is not None:
        held.append(driver._reply.connection)
    return held


def test_half_open_connections_are_given_up_and_sends_stay_bounded(
        vhost: Vhost, inspector: BrokerInspector) -> None:
    """The broker silently vanishes (a black hole: sockets open, nothing answers). Every
    connection, idle or busy, is given up within about one heartbeat timeout; a cast and a
    notification with ``retry=1`` fail within seconds (they were blocked for good); once
    the path works again, everything serves again with one consumer per queue."""
    from legacy_rpc.messaging.notify import Notifier, get_notification_listener
    from tests.infra.faultproxy import FaultProxy

    heartbeat = 2
    with FaultProxy(5672).start() as proxy:
        url = proxy.url(f"{vhost.url}?{FAST}&heartbeat_timeout_threshold={heartbeat}")
        server_transport = messaging.get_rpc_transport(make_conf(), url)
        client_transport = messaging.get_rpc_transport(make_conf(), url)
        endpoint = Echo()
        server = messaging.get_rpc_server(
            server_transport, messaging.Target(topic="half", server="s1"), [endpoint])
        listener = get_notification_listener(server_transport,
                                             [messaging.Target(topic="half")], [endpoint])
        server.start()
        listener.start()
        try:
            client = messaging.get_rpc_client(client_transport, messaging.Target(topic="half"),
                                              timeout=5, retry=1)
            notifier = Notifier(client_transport, "half", driver="messagingv2",
                                topics=["half"], retry=1)
            assert client.call({}, "echo", value=1) == 1
            client.cast({}, "record", n=1)
            notifier.info({}, "half.tick", {"n": 1})
            before = {id(conn): conn._conn for transport in (server_transport, client_transport)
                      for conn in _held_connections(transport)}
            assert len(before) >= 5
            proxy.blackhole()
            started = time.monotonic()
            with pytest.raises((MessageDeliveryFailure, messaging.MessagingTimeout)):
                client.cast({}, "record", n=2)
            # A notifier logs what it could not send (as oslo.messaging's does) and returns.
            notifier.info({}, "half.tick", {"n": 2})
            assert time.monotonic() - started < 20

            def given_up() -> list[str]:
                still = [repr(c) for t in (server_transport, client_transport)
                         for c in _held_connections(t)
                         if id(c) in before and c._conn is not None
                         and c._conn is before[id(c)]]
                return still

            wait_for(lambda: not given_up(), timeout=2 * heartbeat + 4,
                     message=lambda: f"still on their half-open connection: {given_up()}")
            proxy.pass_through()
            wait_for(lambda: _call_ok(client), timeout=20,
                     message="calls did not resume after the path came back")
            client.cast({}, "record", n=3)
            wait_for(lambda: 3 in endpoint.casts, timeout=10)
            notifier.info({}, "half.tick", {"n": 3})
            wait_for(lambda: 3 in endpoint.notes, timeout=10)
            settled(inspector, "half", "half.s1", "half.info")
        finally:
            for srv in (server, listener):
                srv.stop()
                srv.wait()
            client_transport.cleanup()
            server_transport.cleanup()


def _call_ok(client: messaging.RPCClient) -> bool:
    try:
        return bool(client.call({}, "echo", value="back") == "back")
    except (MessageDeliveryFailure, messaging.MessagingTimeout):
        return False


def test_a_call_with_the_broker_unreachable_ends_at_its_own_timeout(vhost: Vhost) -> None:
    """A call with ``timeout=1`` is not held up by another call that is still declaring the
    reply queue against an unreachable broker (it waited behind a lock for 4.3 s)."""
    from tests.infra.faultproxy import FaultProxy

    with FaultProxy(5672).start() as proxy:
        proxy.blackhole()  # TCP connects, the AMQP handshake never answers
        transport = messaging.get_rpc_transport(make_conf(), proxy.url(f"{vhost.url}?{FAST}"))
        try:
            # Long enough to hold the reply queue's declaration well past the quick
            # call's 1.8 s bound (the bug held it for 4.3 s), no longer: the test waits
            # for it to time out.
            slow = messaging.get_rpc_client(transport, messaging.Target(topic="down"),
                                            timeout=5)
            quick = messaging.get_rpc_client(transport, messaging.Target(topic="down"),
                                             timeout=1)
            first = threading.Thread(target=_expect_timeout, args=(slow,), daemon=True)
            first.start()
            wait_for(lambda: proxy.accepted >= 1, timeout=5)  # it is declaring the queue
            started = time.monotonic()
            with pytest.raises(messaging.MessagingTimeout):
                quick.call({}, "echo", value=1)
            assert time.monotonic() - started < 1.8
            first.join(15)
            assert not first.is_alive()
        finally:
            transport.cleanup()


def _expect_timeout(client: messaging.RPCClient) -> None:
    with pytest.raises(messaging.MessagingTimeout):
        client.call({}, "echo", value=1)


def test_a_request_with_a_nan_timeout_gets_its_reply(vhost: Vhost) -> None:
    """``_timeout: NaN`` used to leave the caller without a reply."""
    conn = amqp.Connection(**amqp_params(vhost.url))
    conn.connect()
    channel = conn.channel()
    channel.queue_declare("reply_nan", auto_delete=False)
    url = f"{vhost.url}?{FAST}"
    try:
        with server_on(url, "nan", Echo()), client_on(url, "nan") as client:
            assert client.call({}, "echo", value=0) == 0
            inner = ('{"method": "echo", "args": {"value": 7}, "_msg_id": "m-nan", '
                     '"_reply_q": "reply_nan", "_timeout": NaN, "_unique_id": "u-nan"}')
            raw_publish(vhost.url, "nan", json.dumps({"oslo.version": "2.0",
                                                      "oslo.message": inner}).encode())
            message = wait_for(lambda: channel.basic_get("reply_nan", no_ack=True),
                               timeout=10, message="no reply to the request")
            reply = json.loads(json.loads(message.body)["oslo.message"])
            assert reply["result"] == 7 and reply["_msg_id"] == "m-nan"
    finally:
        conn.close()


def test_threads_and_fds_return_to_baseline_after_faults(vhost: Vhost, inspector: BrokerInspector,
                                                        resource_baseline: Any) -> None:
    """A transport that served calls, casts, streams, notifications and two connection
    kills leaves no thread, socket or broker consumer behind once cleaned up."""
    from legacy_rpc.messaging.notify import Notifier, get_notification_listener

    url = f"{vhost.url}?{FAST}&heartbeat_timeout_threshold=2"
    endpoint = Echo()
    transport = messaging.get_rpc_transport(make_conf(), url)
    server = messaging.get_rpc_server(transport, messaging.Target(topic="res", server="s"),
                                      [endpoint])
    listener = get_notification_listener(transport, [messaging.Target(topic="res")],
                                         [endpoint])
    server.start()
    listener.start()
    client = messaging.get_rpc_client(transport, messaging.Target(topic="res"), timeout=10)
    notifier = Notifier(transport, "res", driver="messagingv2", topics=["res"])
    for round_ in range(3):
        assert client.call({}, "echo", value=round_) == round_
        client.cast({}, "record", n=round_)
        notifier.info({}, "res.tick", {"n": round_})
        client.stream({}, "echo", value=round_)  # dropped unread
        if round_ < 2:
            vhost.drop_connections()
            wait_for(lambda: _call_ok(client), timeout=15)
    wait_for(lambda: len(endpoint.casts) == 3 and len(endpoint.notes) == 3, timeout=15)
    for srv in (server, listener):
        srv.stop()
        srv.wait()
    transport.cleanup()
    resource_baseline.wait_returned(timeout=15)
    inspector.wait_connections(0, timeout=15)
    assert all(q.consumers == 0 and q.messages == 0 for q in inspector.queues().values())

"""Resilience against the real RabbitMQ: dropped connections, deleted queues, dead hosts.

While calls, casts and notifications are in flight, every connection is dropped several
times. Nothing confirmed may be lost, every call must get its answer or raise
``MessagingTimeout`` within its timeout, and servers must serve again within seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging.notify import Notifier, get_notification_listener
from tests.helpers import wait_for
from tests.resilience.conftest import Vhost

pytestmark = pytest.mark.broker

FAST_RECONNECT = "rabbit_retry_interval=0.2&rabbit_retry_backoff=0.3&rabbit_interval_max=2"
CALL_TIMEOUT = 8.0


def make_conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([])
    return conf


class Sink:
    """An RPC endpoint and a notification endpoint that record what they get."""

    def __init__(self) -> None:
        self.casts: set[int] = set()
        self.notes: set[int] = set()
        self.executions = 0  # casts and notifications handled, duplicates included
        self.lock = threading.Lock()

    def double(self, ctxt: dict[str, Any], n: int) -> int:
        return 2 * n

    def record(self, ctxt: dict[str, Any], n: int) -> None:
        with self.lock:
            self.casts.add(n)
            self.executions += 1

    def info(self, ctxt: dict[str, Any], publisher_id: str, event_type: str, payload: Any,
             metadata: dict[str, Any]) -> None:
        with self.lock:
            self.notes.add(payload["n"])
            self.executions += 1


class Load:
    """Callers, casters and a notifier running until stopped, recording outcomes."""

    def __init__(self, transport: messaging.Transport, topic: str) -> None:
        self.transport = transport
        self.topic = topic
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.call_ok = 0
        self.call_timeouts: list[float] = []
        self.call_errors: list[str] = []
        self.slowest_call = 0.0
        self.casts_confirmed: set[int] = set()
        self.notes_confirmed: set[int] = set()
        self.threads = [threading.Thread(target=self._caller, args=(i,), daemon=True)
                        for i in range(3)]
        self.threads.append(threading.Thread(target=self._caster, daemon=True))
        self.threads.append(threading.Thread(target=self._notifier, daemon=True))

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(CALL_TIMEOUT * 3)
            assert not thread.is_alive(), f"{thread.name} is stuck"

    def _caller(self, index: int) -> None:
        client = messaging.get_rpc_client(self.transport, messaging.Target(topic=self.topic),
                                          timeout=CALL_TIMEOUT)
        n = index * 1_000_000
        while not self.stop.is_set():
            n += 1
            started = time.monotonic()
            try:
                result = client.call({}, "double", n=n)
            except messaging.MessagingTimeout:
                with self.lock:
                    self.call_timeouts.append(time.monotonic() - started)
                continue
            except Exception as exc:
                with self.lock:
                    self.call_errors.append(repr(exc))
                continue
            elapsed = time.monotonic() - started
            with self.lock:
                self.slowest_call = max(self.slowest_call, elapsed)
                if result == 2 * n:
                    self.call_ok += 1
                else:
                    self.call_errors.append(f"wrong result {result!r} for {n}")

    def _caster(self) -> None:
        client = messaging.get_rpc_client(self.transport, messaging.Target(topic=self.topic))
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                client.cast({}, "record", n=n)
            except messaging.MessageDeliveryFailure:
                continue  # the caster was told (its confirm was lost): not a silent loss
            with self.lock:
                self.casts_confirmed.add(n)

    def _notifier(self) -> None:
        notifier = Notifier(self.transport, "resilience", driver="messagingv2",
                            topics=[self.topic])
        n = 0
        while not self.stop.is_set():
            n += 1
            notifier.info({}, "resilience.tick", {"n": n})
            with self.lock:
                self.notes_confirmed.add(n)


@pytest.fixture
def services(vhost: Vhost) -> Iterator[tuple[Vhost, Sink, Load, Callable[[], int]]]:
    url = f"{vhost.url}?{FAST_RECONNECT}"
    server_transport = messaging.get_rpc_transport(make_conf(), url)
    client_transport = messaging.get_rpc_transport(make_conf(), url)
    topic = "resilience"
    sink = Sink()
    server = messaging.get_rpc_server(server_transport,
                                      messaging.Target(topic=topic, server="s1"), [sink])
    listener = get_notification_listener(server_transport, [messaging.Target(topic=topic)],
                                         [sink])
    server.start()
    listener.start()
    load = Load(client_transport, topic)

    def progress() -> int:
        with load.lock, sink.lock:
            return load.call_ok + len(sink.casts) + len(sink.notes)

    try:
        yield vhost, sink, load, progress
    finally:
        load.stop.set()
        for srv in (server, listener):
            srv.stop()
            srv.wait()
        client_transport.cleanup()
        server_transport.cleanup()


def test_nothing_is_lost_when_every_connection_drops(
        services: tuple[Vhost, Sink, Load, Callable[[], int]]) -> None:
    vhost, sink, load, progress = services
    load.start()
    wait_for(lambda: load.call_ok > 20 and sink.casts and sink.notes, timeout=20,
             message="no traffic before the first drop")
    for _ in range(3):
        before = progress()
        assert vhost.drop_connections() >= 5  # server, listener, reply, pooled senders
        wait_for(lambda b=before: progress() > b + 50, timeout=30,  # type: ignore[misc]
                 message="no progress after dropping every connection")
    # Servers serve again within seconds of the last drop.
    ok_before = load.call_ok
    wait_for(lambda: load.call_ok > ok_before + 10, timeout=10,
             message="calls did not resume within 10 s of the last drop")
    load.join()
    wait_for(lambda: load.casts_confirmed <= sink.casts, timeout=30,
             message=lambda: f"confirmed casts lost: "
                             f"{sorted(load.casts_confirmed - sink.casts)[:10]}")
    wait_for(lambda: load.notes_confirmed <= sink.notes, timeout=30,
             message=lambda: f"confirmed notifications lost: "
                             f"{sorted(load.notes_confirmed - sink.notes)[:10]}")
    assert not load.call_errors, load.call_errors[:5]
    assert all(t < CALL_TIMEOUT + 2 for t in load.call_timeouts), load.call_timeouts
    assert load.slowest_call < CALL_TIMEOUT + 2


def test_consumer_resubscribes_after_its_queue_is_deleted(vhost: Vhost) -> None:
    transport = messaging.get_rpc_transport(make_conf(), f"{vhost.url}?{FAST_RECONNECT}")
    sink = Sink()
    server = messaging.get_rpc_server(transport, messaging.Target(topic="cancel", server="s"),
                                      [sink])
    server.start()
    client = messaging.get_rpc_client(transport, messaging.Target(topic="cancel"), timeout=5)
    try:
        assert client.call({}, "double", n=1) == 2
        vhost.delete_queue("cancel")  # the broker cancels the consumer
        wait_for(lambda: "cancel" in vhost.queue_names(), timeout=15,
                 message="the server did not re-declare its deleted queue")
        assert client.call({}, "double", n=2) == 4
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def test_reply_to_a_vanished_caller_is_dropped_and_server_keeps_serving(
        vhost: Vhost, caplog: pytest.LogCaptureFixture) -> None:
    server_transport = messaging.get_rpc_transport(
        make_conf(), f"{vhost.url}?kombu_missing_consumer_retry_timeout=1")
    release = threading.Event()
    entered = threading.Event()

    class Slow:
        def wait(self, ctxt: dict[str, Any]) -> str:
            entered.set()
            release.wait(10)
            return "late"

        def ping(self, ctxt: dict[str, Any]) -> str:
            return "pong"

    server = messaging.get_rpc_server(server_transport,
                                      messaging.Target(topic="vanish", server="s"), [Slow()])
    server.start()
    caller_transport = messaging.get_rpc_transport(make_conf(), vhost.url)
    try:
        caller = messaging.get_rpc_client(caller_transport, messaging.Target(topic="vanish"),
                                          timeout=0.5)
        with pytest.raises(messaging.MessagingTimeout):
            caller.call({}, "wait")
        assert entered.wait(5)
        caller_transport.cleanup()
        for name in vhost.queue_names():
            if name.startswith("reply_"):
                vhost.delete_queue(name)
        release.set()
        wait_for(lambda: "has not existed" in caplog.text, timeout=15,
                 message="the server did not give up on the missing reply queue")
        fresh_transport = messaging.get_rpc_transport(make_conf(), vhost.url)
        fresh = messaging.get_rpc_client(fresh_transport, messaging.Target(topic="vanish"),
                                         timeout=5)
        assert fresh.call({}, "ping") == "pong"
        fresh_transport.cleanup()
    finally:
        release.set()
        server.stop()
        server.wait()
        server_transport.cleanup()


def test_failover_to_a_live_host(rabbit_url: str) -> None:
    base = rabbit_url.split("?")[0]
    scheme, _, rest = base.partition("://")
    authority, _, vhost_part = rest.partition("/")
    credentials = authority.rsplit("@", 1)[0] + "@" if "@" in authority else ""
    dead = f"{credentials}127.0.0.1:1"
    for hosts in (f"{dead},{authority}", f"{authority},{dead}"):
        url = f"{scheme}://{hosts}/{vhost_part}?{FAST_RECONNECT}"
        transport = messaging.get_rpc_transport(make_conf(), url)
        server = messaging.get_rpc_server(
            transport, messaging.Target(topic="failover", server="s"), [Sink()])
        server.start()
        try:
            client = messaging.get_rpc_client(transport, messaging.Target(topic="failover"),
                                              timeout=10)
            assert client.call({}, "double", n=21) == 42
        finally:
            server.stop()
            server.wait()
            transport.cleanup()


def test_unreachable_broker_fails_within_the_timeout() -> None:
    transport = messaging.get_rpc_transport(make_conf(),
                                            f"rabbit://guest:guest@127.0.0.1:1/?{FAST_RECONNECT}")
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic="nowhere"),
                                          timeout=1.5)
        started = time.monotonic()
        with pytest.raises(messaging.MessagingTimeout):
            client.call({}, "double", n=1)
        assert time.monotonic() - started < 5
        with pytest.raises(messaging.MessageDeliveryFailure) as err:
            client.prepare(retry=1).cast({}, "double", n=1)
        assert "guest:guest" not in str(err.value)
    finally:
        transport.cleanup()


def test_heartbeats_keep_idle_connections_alive(vhost: Vhost,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """With a 2 s heartbeat the broker drops a silent connection after about 4 s; ours
    send heartbeats from their own threads, so idle connections survive."""
    transport = messaging.get_rpc_transport(make_conf(),
                                            f"{vhost.url}?heartbeat_timeout_threshold=2")
    server = messaging.get_rpc_server(transport, messaging.Target(topic="idle", server="s"),
                                      [Sink()])
    server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic="idle"), timeout=5)
        assert client.call({}, "double", n=1) == 2
        before = sorted(vhost.connection_names())
        assert len(before) >= 3  # listener, reply and pooled send connections
        threading.Event().wait(7)  # the behaviour under test is 7 s of idleness
        assert sorted(vhost.connection_names()) == before
        assert client.call({}, "double", n=2) == 4
        assert "unreachable" not in caplog.text
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def test_broker_restart_loses_no_confirmed_cast_or_notification(private_vhost: Any) -> None:
    """The broker's application is stopped and started again twice (on a private node;
    default options, transient queues wiped) while casts and notifications are sent: every
    cast and notification the broker confirmed is executed once (62-615 casts were lost:
    published before the servers re-declared their queues, confirmed and routed nowhere);
    servers, listeners and the reply queue come back by themselves."""
    from tests.infra.nodes import PrivateNode

    node: PrivateNode = private_vhost.node
    url = private_vhost.url
    server_transport = messaging.get_rpc_transport(make_conf(), url)
    client_transport = messaging.get_rpc_transport(make_conf(), url)
    sink = Sink()
    server = messaging.get_rpc_server(server_transport,
                                      messaging.Target(topic="restart", server="s1"), [sink])
    listener = get_notification_listener(server_transport,
                                         [messaging.Target(topic="restart")], [sink])
    server.start()
    listener.start()
    client = messaging.get_rpc_client(client_transport, messaging.Target(topic="restart"),
                                      timeout=CALL_TIMEOUT)
    notifier = Notifier(client_transport, "restart", driver="messagingv2", topics=["restart"])
    stop = threading.Event()
    confirmed: set[int] = set()
    noted: set[int] = set()
    failed: list[str] = []

    def send() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                client.cast({}, "record", n=n)
                confirmed.add(n)
            except messaging.MessagingException as exc:
                failed.append(repr(exc))  # the caller knows: not a lost message
            notifier.info({}, "restart.tick", {"n": n})  # retries until confirmed
            noted.add(n)
            time.sleep(0.01)  # load pacing, not synchronisation

    sender = threading.Thread(target=send, daemon=True)
    try:
        assert client.call({}, "double", n=1) == 2
        sender.start()
        for _ in range(2):
            wait_for(lambda: len(sink.casts) > len(confirmed) // 2 > 0, timeout=30)
            node.stop_app()
            node.start_app()

            def call_works() -> bool:
                try:
                    return bool(client.call({}, "double", n=21) == 42)
                except messaging.MessagingTimeout:
                    return False

            wait_for(call_works, timeout=60, interval=0.2,
                     message="calls did not resume after the broker restart")
        stop.set()
        sender.join(60)
        assert not sender.is_alive()

        def executed_all() -> bool:
            with sink.lock:
                return confirmed <= sink.casts
        wait_for(executed_all, timeout=30, message=lambda: (
            f"{len(confirmed - sink.casts)} confirmed casts never executed: "
            f"{sorted(confirmed - sink.casts)[:20]}; cast errors {failed[:3]}"))
        # A cast whose publish was in flight when the broker stopped is told so
        # (PublishOutcomeUnknown; not sent again, so never twice): the one sender has at
        # most one in flight per restart. Any other failure fails the test.
        unknown = [f for f in failed if f.startswith("PublishOutcomeUnknown(")]
        assert len(unknown) <= 2 and len(unknown) == len(failed), failed[:3]
        wait_for(lambda: noted <= sink.notes, timeout=30,
                 message=lambda: f"notifications never delivered: {sorted(noted - sink.notes)}")
        with sink.lock:  # nothing ran twice (the call probes are not counted)
            assert sink.executions == len(sink.casts) + len(sink.notes)
        inspector = private_vhost.inspector("rabbitmqctl")
        inspector.wait_queue("restart", consumers=1, messages=0, timeout=15)
        inspector.wait_queue("restart.s1", consumers=1, messages=0, timeout=15)
    finally:
        stop.set()
        for srv in (server, listener):
            srv.stop()
            srv.wait()
        client_transport.cleanup()
        server_transport.cleanup()

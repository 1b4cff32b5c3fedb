"""amqp1 against a real broker that drops connections or restarts (a private node).

While calls, casts and notifications are in flight on RabbitMQ's AMQP 1.0, every connection
is dropped several times (``rabbitmqctl close_all_connections``), then the broker restarts.
Nothing confirmed may be lost or run twice, every call gets its answer or
``MessagingTimeout`` within its timeout, and servers serve again within seconds.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging.notify import Notifier, get_notification_listener
from tests.helpers import wait_for
from tests.infra.faultproxy import FaultProxy
from tests.infra.nodes import PrivateNode, RabbitMQTools

pytest.importorskip("proton", reason="python-qpid-proton (legacy-rpc[amqp1]) is missing")

pytestmark = pytest.mark.broker

FAST_RECONNECT = ("connection_retry_interval=0.2&connection_retry_backoff=0.3"
                  "&connection_retry_interval_max=2")
CALL_TIMEOUT = 8.0


@pytest.fixture(scope="module")
def amqp1_node(rabbitmq_tools: RabbitMQTools) -> Iterator[PrivateNode]:
    """A private node with the AMQP 1.0 plugin: the shared broker is never disturbed."""
    with PrivateNode(tools=rabbitmq_tools, plugins=("rabbitmq_amqp1_0",)) as node:
        yield node


@pytest.fixture
def url(amqp1_node: PrivateNode) -> Iterator[str]:
    amqp1_node.ensure_running()
    name = f"t-{uuid.uuid4().hex[:8]}"
    amqp1_node.add_vhost(name)
    try:
        yield f"amqp1://guest:guest@127.0.0.1:{amqp1_node.amqp_port}/{name}?{FAST_RECONNECT}"
    finally:
        if amqp1_node.running:
            amqp1_node.rabbitmqctl("delete_vhost", name, check=False)


def make_conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([])
    return conf


class Sink:
    """An RPC and a notification endpoint that count what they run."""

    def __init__(self) -> None:
        self.casts: dict[int, int] = {}
        self.notes: set[int] = set()
        self.lock = threading.Lock()

    def double(self, ctxt: dict[str, Any], n: int) -> int:
        return 2 * n

    def record(self, ctxt: dict[str, Any], n: int) -> None:
        with self.lock:
            self.casts[n] = self.casts.get(n, 0) + 1

    def info(self, ctxt: dict[str, Any], publisher_id: str, event_type: str, payload: Any,
             metadata: dict[str, Any]) -> None:
        with self.lock:
            self.notes.add(payload["n"])


class Load:
    """Callers, a caster and a notifier running until stopped, recording outcomes."""

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
        self.threads += [threading.Thread(target=self._caster, daemon=True),
                         threading.Thread(target=self._notifier, daemon=True)]

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
                continue  # the caster was told (its settlement was lost): not a silent loss
            with self.lock:
                self.casts_confirmed.add(n)

    def _notifier(self) -> None:
        notifier = Notifier(self.transport, "resilience", driver="messagingv2",
                            topics=[self.topic])
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                notifier.info({}, "resilience.tick", {"n": n})
            except messaging.MessageDeliveryFailure:
                continue
            with self.lock:
                self.notes_confirmed.add(n)


Services = tuple[Sink, Load, Callable[[], int]]


@pytest.fixture
def services(url: str) -> Iterator[Services]:
    with running_services(url) as running:
        yield running


@contextlib.contextmanager
def running_services(url: str) -> Iterator[Services]:
    """An RPC server and a notification listener on one transport, a load on another."""
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
        yield sink, load, progress
    finally:
        load.stop.set()
        for srv in (server, listener):
            srv.stop()
            srv.wait()
        client_transport.cleanup()
        server_transport.cleanup()


def _check_outcomes(sink: Sink, load: Load) -> None:
    wait_for(lambda: load.casts_confirmed <= set(sink.casts), timeout=30,
             message=lambda: f"confirmed casts lost: "
                             f"{sorted(load.casts_confirmed - set(sink.casts))[:10]}")
    wait_for(lambda: load.notes_confirmed <= sink.notes, timeout=30,
             message=lambda: f"confirmed notifications lost: "
                             f"{sorted(load.notes_confirmed - sink.notes)[:10]}")
    with sink.lock:
        twice = sorted(n for n, count in sink.casts.items() if count > 1)
    assert not twice, f"casts run more than once: {twice[:10]}"
    assert not load.call_errors, load.call_errors[:5]
    assert all(t < CALL_TIMEOUT + 2 for t in load.call_timeouts), load.call_timeouts
    assert load.slowest_call < CALL_TIMEOUT + 2


def kinds(sink: Sink, load: Load) -> tuple[int, int, int]:
    """Answered calls, run casts and received notifications so far."""
    with load.lock, sink.lock:
        return load.call_ok, len(sink.casts), len(sink.notes)


def _close_all_connections(node: PrivateNode) -> int:
    """``rabbitmqctl close_all_connections``; returns how many it closed.

    RabbitMQ 3.x lists and closes the AMQP 1.0 sessions' internal connections (one per
    session) there, not the AMQP 1.0 connections: each client sees its session ended by the
    broker (``amqp:internal-error``) and must recover from that.
    """
    out = node.rabbitmqctl("close_all_connections", "--global", "closed by test")
    match = re.search(r"Closed (\d+) connection", out)
    return int(match.group(1)) if match else 0


def test_nothing_is_lost_when_every_connection_drops(amqp1_node: PrivateNode,
                                                     services: Services) -> None:
    sink, load, _ = services
    load.start()
    wait_for(lambda: load.call_ok > 20 and sink.casts and sink.notes, timeout=20,
             message="no traffic before the first drop")
    for _ in range(3):
        before = kinds(sink, load)
        assert _close_all_connections(amqp1_node) >= 1
        # Calls, casts and notifications all move again: every connection came back.
        wait_for(lambda b=before: all(  # type: ignore[misc]
            now > then + 10 for now, then in zip(kinds(sink, load), b, strict=True)),
            timeout=30, message=lambda: f"no progress of each kind after dropping every "
                                        f"connection: {kinds(sink, load)}")
    ok_before = load.call_ok
    wait_for(lambda: load.call_ok > ok_before + 10, timeout=10,
             message="calls did not resume within 10 s of the last drop")
    load.join()
    _check_outcomes(sink, load)


def test_service_comes_back_after_a_broker_restart(amqp1_node: PrivateNode,
                                                   services: Services) -> None:
    """Queues of RabbitMQ's AMQP 1.0 plugin are not durable: what waits in them when the
    broker stops is gone with them (as for the rabbit driver's transient queues). What is
    confirmed after the restart is delivered, and every call is answered or times out."""
    sink, load, progress = services
    load.start()
    wait_for(lambda: load.call_ok > 20, timeout=20, message="no traffic before the restart")
    amqp1_node.stop_app()
    stopped = time.monotonic()
    amqp1_node.start_app()
    ok_before = load.call_ok
    wait_for(lambda: load.call_ok > ok_before + 10, timeout=30,
             message=lambda: f"calls did not resume within 30 s of the restart "
                             f"({time.monotonic() - stopped:.1f}s since the stop)")
    with load.lock:
        after_casts = max(load.casts_confirmed, default=0)
        after_notes = max(load.notes_confirmed, default=0)
    wait_for(lambda: progress() > 0 and max(load.casts_confirmed) > after_casts + 20,
             timeout=20, message="casts did not resume")
    load.join()
    lost = {n for n in load.casts_confirmed if n > after_casts} - set(sink.casts)
    wait_for(lambda: not ({n for n in load.casts_confirmed if n > after_casts}
                          - set(sink.casts)), timeout=30,
             message=lambda: f"casts confirmed after the restart lost: {sorted(lost)[:10]}")
    wait_for(lambda: not ({n for n in load.notes_confirmed if n > after_notes}
                          - sink.notes), timeout=30,
             message="notifications confirmed after the restart lost")
    with sink.lock:
        twice = sorted(n for n, count in sink.casts.items() if count > 1)
    assert not twice, f"casts run more than once: {twice[:10]}"
    assert not load.call_errors, load.call_errors[:5]
    assert all(t < CALL_TIMEOUT + 2 for t in load.call_timeouts), load.call_timeouts


@pytest.fixture
def proxy(amqp1_node: PrivateNode) -> Iterator[FaultProxy]:
    """A fault-injecting TCP proxy in front of the private node."""
    with FaultProxy(amqp1_node.amqp_port) as fault_proxy:
        yield fault_proxy


def _through(proxy: FaultProxy, url: str, extra: str = "") -> str:
    """``url`` with the proxy's port instead of the node's, and ``extra`` query options."""
    parts = urlsplit(url)
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc)) + extra


def test_nothing_is_lost_when_every_tcp_connection_is_reset(url: str,
                                                            proxy: FaultProxy) -> None:
    with running_services(_through(proxy, url)) as (sink, load, _):
        load.start()
        wait_for(lambda: load.call_ok > 20 and sink.casts and sink.notes, timeout=20,
                 message="no traffic before the first reset")
        for _ in range(3):
            before = kinds(sink, load)
            proxy.reset()
            wait_for(lambda b=before: all(  # type: ignore[misc]
                now > then + 10 for now, then in zip(kinds(sink, load), b, strict=True)),
                timeout=30, message=lambda: f"no progress of each kind after a reset: "
                                            f"{kinds(sink, load)}")
        load.join()
        _check_outcomes(sink, load)


def test_a_silent_broker_is_detected_by_the_idle_timeout(url: str,
                                                         proxy: FaultProxy) -> None:
    """A half-open connection (the broker vanished without a FIN): calls time out within
    their timeout, the idle time-out (heartbeats) notices the dead connection, and the
    service works again on a new one."""
    with running_services(_through(proxy, url, "&idle_timeout=2")) as (sink, load, _):
        load.start()
        wait_for(lambda: load.call_ok > 20, timeout=20, message="no traffic before")
        proxy.blackhole()
        before = proxy.accepted
        proxy.pass_through()  # new connections work; the silent ones stay silent
        wait_for(lambda: proxy.accepted >= before + 3, timeout=20,
                 message="the dead connections were not replaced (idle time-out)")
        ok = load.call_ok
        wait_for(lambda: load.call_ok > ok + 10, timeout=20, message="calls did not resume")
        load.join()
        wait_for(lambda: load.casts_confirmed <= set(sink.casts), timeout=30,
                 message="confirmed casts lost")
        assert not load.call_errors, load.call_errors[:5]
        assert all(t < CALL_TIMEOUT + 2 for t in load.call_timeouts), load.call_timeouts


def test_an_amqp1_server_binds_the_rabbit_fanout_exchange_again_after_the_drops(
        amqp1_node: PrivateNode, url: str) -> None:
    """The amqp1 server's link to the 0-9-1 peers' ``<topic>_fanout`` exchange lives on a
    session of its own: when the broker ends it, it is attached again and rabbit fanouts
    reach the amqp1 server again. RabbitMQ 3.x keeps the private queue of a link it ended
    (rabbitmq-server#2588), so the documented ``expires`` policy is applied: with it the
    broker holds one binding per server afterwards, not one per drop."""
    vhost = urlsplit(url).path.lstrip("/")
    amqp1_node.rabbitmqctl("set_policy", "-p", vhost, "--apply-to", "queues",
                           "amqp1-private-queues", r"^amq\.gen-", '{"expires":1000}')
    topic = f"fanout-{uuid.uuid4().hex[:8]}"
    got: dict[str, list[str]] = {"amqp1": [], "rabbit": []}

    class Endpoint:
        def __init__(self, name: str) -> None:
            self.name = name

        def record(self, ctxt: dict[str, Any], tag: str) -> None:
            got[self.name].append(tag)

    def bindings() -> list[str]:
        out = amqp1_node.rabbitmqctl("list_bindings", "-p", vhost, "-q",
                                     "--no-table-headers", "source_name", "destination_name")
        return [line.split("\t")[1] for line in out.splitlines()
                if line.split("\t")[0] == f"{topic}_fanout"]

    rabbit_url = "rabbit" + url[len("amqp1"):].split("?")[0] + "?rabbit_retry_interval=0.2"
    transports = {protocol: messaging.get_rpc_transport(make_conf(), u)
                  for protocol, u in (("amqp1", url), ("rabbit", rabbit_url))}
    servers = [messaging.get_rpc_server(transports[protocol],
                                        messaging.Target(topic=topic, server=protocol),
                                        [Endpoint(protocol)])
               for protocol in ("rabbit", "amqp1")]
    try:
        for server in servers:
            server.start()
        client = messaging.get_rpc_client(transports["rabbit"],
                                          messaging.Target(topic=topic, fanout=True))
        for drop in range(2):
            wait_for(lambda: len(bindings()) == 2, timeout=30,
                     message=lambda: f"bindings of {topic}_fanout: {bindings()}")
            tag = f"after-{drop}"
            client.cast({}, "record", tag=tag)

            def both_got(tag: str = tag) -> bool:
                return got["amqp1"][-1:] == [tag] and got["rabbit"][-1:] == [tag]

            wait_for(both_got, timeout=20, message=lambda: f"{got}")
            assert _close_all_connections(amqp1_node) >= 1
        wait_for(lambda: len(bindings()) == 2, timeout=30,
                 message=lambda: f"bindings of {topic}_fanout: {bindings()}")
        client.cast({}, "record", tag="last")
        wait_for(lambda: got["amqp1"][-1:] == ["last"], timeout=20, message=lambda: f"{got}")
        assert got["amqp1"] == ["after-0", "after-1", "last"]
    finally:
        for server in servers:
            server.stop()
            server.wait()
        for transport in transports.values():
            transport.cleanup()

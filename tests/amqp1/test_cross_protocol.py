"""Mixed fleets across protocols: an amqp1 (AMQP 1.0) and a rabbit (0-9-1) service on the
same RabbitMQ vhost. Each test is one cell of the matrix in ``compat/README.md``.

RabbitMQ routes between its protocols, but its AMQP 1.0 clients (3.x plugin) cannot bind a
queue to an exchange or declare one: what works is what meets in a queue both sides name,
and fanout through the 0-9-1 peers' fanout exchange while it exists.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging.notify import Notifier, get_notification_listener
from tests.amqp1.broker import rabbitmqctl
from tests.helpers import wait_for

pytest.importorskip("proton", reason="python-qpid-proton (legacy-rpc[amqp1]) is missing")

pytestmark = pytest.mark.broker

TIMEOUT = 10


class Endpoint:
    """Answers who it is; records casts and notifications."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.casts: list[Any] = []
        self.notes: list[Any] = []
        self.cond = threading.Condition()

    def whoami(self, ctxt: dict[str, Any]) -> str:
        return self.name

    def count(self, ctxt: dict[str, Any], n: int) -> Any:
        yield from range(n)

    def record(self, ctxt: dict[str, Any], value: Any) -> None:
        with self.cond:
            self.casts.append(value)

    def info(self, ctxt: dict[str, Any], publisher_id: str, event_type: str, payload: Any,
             metadata: dict[str, Any]) -> None:
        with self.cond:
            self.notes.append(payload)


class Fleet:
    """Transports of both protocols on one vhost; everything started is stopped after."""

    def __init__(self, amqp1_url: str) -> None:
        self.urls = {"amqp1": amqp1_url,
                     "rabbit": "rabbit" + amqp1_url[len("amqp1"):]}
        self.transports: dict[str, messaging.Transport] = {}
        self.servers: list[Any] = []

    def transport(self, protocol: str, query: str = "") -> messaging.Transport:
        key = protocol + query
        if key not in self.transports:
            conf = cfg.ConfigOpts()
            conf([])
            self.transports[key] = messaging.get_rpc_transport(
                conf, self.urls[protocol] + (f"?{query}" if query else ""))
        return self.transports[key]

    def server(self, protocol: str, topic: str, name: str) -> Endpoint:
        endpoint = Endpoint(f"{protocol}-{name}")
        server = messaging.get_rpc_server(self.transport(protocol),
                                          messaging.Target(topic=topic, server=name),
                                          [endpoint])
        server.start()
        self.servers.append(server)
        return endpoint

    def listener(self, protocol: str, topic: str) -> Endpoint:
        endpoint = Endpoint(f"{protocol}-listener")
        listener = get_notification_listener(self.transport(protocol),
                                             [messaging.Target(topic=topic)], [endpoint])
        listener.start()
        self.servers.append(listener)
        return endpoint

    def client(self, protocol: str, topic: str, query: str = "") -> messaging.RPCClient:
        return messaging.get_rpc_client(self.transport(protocol, query),
                                        messaging.Target(topic=topic), timeout=TIMEOUT)

    def close(self) -> None:
        for server in self.servers:
            server.stop()
            server.wait()
        for transport in self.transports.values():
            transport.cleanup()


@pytest.fixture
def fleet(amqp1_url: str) -> Iterator[Fleet]:
    fleet = Fleet(amqp1_url)
    yield fleet
    fleet.close()


@pytest.fixture
def topic() -> str:
    return f"mixed-{uuid.uuid4().hex[:8]}"


def test_amqp1_client_calls_and_casts_a_rabbit_server(fleet: Fleet, topic: str) -> None:
    endpoint = fleet.server("rabbit", topic, "r1")
    client = fleet.client("amqp1", topic)
    assert client.call({}, "whoami") == "rabbit-r1"
    assert client.prepare(server="r1").call({}, "whoami") == "rabbit-r1"
    assert list(client.stream({}, "count", n=3)) == [0, 1, 2]
    client.cast({}, "record", value="from amqp1")
    wait_for(lambda: endpoint.casts == ["from amqp1"], message="the cast did not arrive")


def test_rabbit_client_reaches_amqp1_servers_that_share_a_rabbit_servers_queue(
        fleet: Fleet, topic: str) -> None:
    """A rabbit server declares the topic queue and binds it to the control exchange; an
    amqp1 server of the same topic consumes the same queue, so rabbit callers reach both."""
    fleet.server("rabbit", topic, "r1")
    fleet.server("amqp1", topic, "a1")
    client = fleet.client("rabbit", topic)
    answers = {client.call({}, "whoami") for _ in range(30)}
    assert answers == {"rabbit-r1", "amqp1-a1"}


def test_rabbit_client_cannot_reach_an_amqp1_only_topic(fleet: Fleet, topic: str) -> None:
    """No binding from the control exchange to the amqp1 server's queue, and RabbitMQ 3.x's
    AMQP 1.0 clients cannot make one: the rabbit client is told, nothing is lost silently."""
    fleet.server("amqp1", topic, "a1")
    client = fleet.client("rabbit", topic, "rabbit_unroutable_retry_timeout=1")
    with pytest.raises(messaging.MessageDeliveryFailure):
        client.cast({}, "record", value="lost?")
    with pytest.raises((messaging.MessagingTimeout, messaging.MessageDeliveryFailure)):
        client.prepare(timeout=2).call({}, "whoami")
    # The server-targeted queue is not bound either.
    with pytest.raises(messaging.MessageDeliveryFailure):
        client.prepare(server="a1").cast({}, "record", value="lost?")


def _vhost(fleet: Fleet) -> str:
    return unquote(urlsplit(fleet.urls["amqp1"]).path.lstrip("/")) or "/"


def _fanout_bindings(fleet: Fleet, topic: str) -> list[str]:
    """The queues bound to the 0-9-1 fanout exchange ``<topic>_fanout``, as the broker
    holds them."""
    out = rabbitmqctl("list_bindings", "-p", _vhost(fleet), "-q", "--no-table-headers",
                      "source_name", "destination_name")
    return [line.split("\t")[1] for line in out.splitlines()
            if line.split("\t")[0] == f"{topic}_fanout"]


def _fanout_exchange_exists(fleet: Fleet, topic: str) -> bool:
    out = rabbitmqctl("list_exchanges", "-p", _vhost(fleet), "-q", "--no-table-headers",
                      "name")
    return f"{topic}_fanout" in out.split()


def _quiet(endpoints: list[Endpoint], fleet: Fleet, topic: str) -> None:
    """Send a last fanout from both sides and wait until every endpoint has both: a
    duplicate of anything earlier would have come before them (each path is a queue)."""
    for protocol in ("amqp1", "rabbit"):
        fleet.client(protocol, topic).prepare(fanout=True).cast({}, "record",
                                                                 value=f"end-{protocol}")
    wait_for(lambda: all({"end-amqp1", "end-rabbit"} <= set(e.casts) for e in endpoints),
             message=lambda: f"{[e.casts for e in endpoints]}")


def test_fanout_crosses_protocols_where_the_fanout_exchange_exists(fleet: Fleet,
                                                                   topic: str) -> None:
    """A rabbit server declares ``<topic>_fanout``; the amqp1 server binds a private queue
    to it as well as reading its own fanout address, and amqp1 senders send both ways.
    Every server gets every fanout once; the amqp1 server drops the second copy."""
    rabbit_server = fleet.server("rabbit", topic, "r1")
    amqp1_server = fleet.server("amqp1", topic, "a1")
    # The broker holds two bindings: the rabbit server's queue and the amqp1 server's.
    wait_for(lambda: len(_fanout_bindings(fleet, topic)) == 2,
             message=lambda: f"bindings: {_fanout_bindings(fleet, topic)}")
    for n in range(3):
        fleet.client("amqp1", topic).prepare(fanout=True).cast({}, "record", value=f"a{n}")
        fleet.client("rabbit", topic).prepare(fanout=True).cast({}, "record", value=f"r{n}")
    _quiet([rabbit_server, amqp1_server], fleet, topic)
    expected = sorted(["a0", "a1", "a2", "r0", "r1", "r2", "end-amqp1", "end-rabbit"])
    assert sorted(amqp1_server.casts) == expected
    assert sorted(rabbit_server.casts) == expected


def test_an_amqp1_server_binds_the_fanout_exchange_once_a_rabbit_peer_declares_it(
        fleet: Fleet, topic: str, caplog: pytest.LogCaptureFixture) -> None:
    """Started before any 0-9-1 peer, the amqp1 server looks for ``<topic>_fanout`` again
    every few seconds, quietly and without counting as degraded; once a rabbit sender
    has declared it, the amqp1 server binds it and gets rabbit fanouts."""
    caplog.set_level(logging.DEBUG, logger="legacy_rpc.messaging.drivers.amqp1")
    amqp1_server = fleet.server("amqp1", topic, "a1")
    amqp1_client = fleet.client("amqp1", topic)
    assert amqp1_client.call({}, "whoami") == "amqp1-a1"
    # amqp1 fanouts work while the exchange does not exist (sent one way only).
    for n in range(5):
        amqp1_client.prepare(fanout=True).cast({}, "record", value=f"a{n}")
    wait_for(lambda: amqp1_server.casts == [f"a{n}" for n in range(5)],
             message=lambda: f"{amqp1_server.casts}")
    assert not _fanout_exchange_exists(fleet, topic)
    wait_for(lambda: any("is not there" in r.getMessage() for r in caplog.records),
             message="the amqp1 server did not look for the fanout exchange")
    rabbit_client = fleet.client("rabbit", topic).prepare(fanout=True)
    rabbit_client.cast({}, "record", value="before")  # declares it; nobody is bound yet
    wait_for(lambda: len(_fanout_bindings(fleet, topic)) == 1, timeout=15,
             message="the amqp1 server did not bind the fanout exchange")
    rabbit_client.cast({}, "record", value="after")
    wait_for(lambda: amqp1_server.casts[-1:] == ["after"],
             message=lambda: f"{amqp1_server.casts}")
    assert "before" not in amqp1_server.casts  # fanout reaches those bound at the time
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING
                and r.name.startswith("legacy_rpc.messaging.drivers.amqp1")]
    assert problems == []


def test_amqp1_fanout_probes_a_missing_exchange_at_most_every_few_seconds(
        fleet: Fleet, topic: str, caplog: pytest.LogCaptureFixture) -> None:
    """Without 0-9-1 peers, the second (optional) fanout address of an amqp1 sender does
    not cost a session per cast: it is looked for once, then again after a while."""
    caplog.set_level(logging.DEBUG, logger="legacy_rpc.messaging.drivers.amqp1")
    fleet.server("amqp1", topic, "a1")
    client = fleet.client("amqp1", topic).prepare(fanout=True)
    for n in range(20):
        client.cast({}, "record", value=n)
    probes = [r for r in caplog.records if "not sending to" in r.getMessage()]
    assert len(probes) == 1, [r.getMessage() for r in probes]


@pytest.mark.parametrize(("sender", "receiver"), [("amqp1", "rabbit"), ("rabbit", "amqp1")])
def test_notifications_cross_both_ways(fleet: Fleet, topic: str, sender: str,
                                       receiver: str) -> None:
    listener = fleet.listener(receiver, topic)
    notifier = Notifier(fleet.transport(sender), "mixed", driver="messagingv2",
                        topics=[topic])
    for n in range(5):
        notifier.info({}, "mixed.event", {"n": n})
    wait_for(lambda: [p["n"] for p in listener.notes] == list(range(5)),
             message=lambda: f"got {listener.notes}")


def test_notifications_sent_before_any_listener_wait_for_the_other_protocol(
        fleet: Fleet, topic: str) -> None:
    """Both notifiers declare ``<topic>.info`` with the same flags, so what either sends
    before a listener exists waits in the queue for a listener of the other protocol."""
    Notifier(fleet.transport("amqp1"), "mixed", driver="messagingv2",
             topics=[topic]).info({}, "early", {"n": "early"})
    listener = fleet.listener("rabbit", topic)
    wait_for(lambda: listener.notes == [{"n": "early"}], message="the early one is lost")


def test_an_operators_binding_opens_the_rabbit_to_amqp1_direction(fleet: Fleet,
                                                                   topic: str) -> None:
    """What ``rabbitmqadmin declare binding`` does, here with a 0-9-1 client: bind the
    amqp1 server's queue to the control exchange; then rabbit callers reach it."""
    import amqp

    from tests.helpers import amqp_params

    fleet.server("amqp1", topic, "a1")
    client = fleet.client("amqp1", topic)
    assert client.call({}, "whoami") == "amqp1-a1"  # the server's queue exists now
    conn = amqp.Connection(**amqp_params(fleet.urls["rabbit"]))
    conn.connect()
    try:
        channel = conn.channel()
        channel.exchange_declare("openstack", "topic", durable=False, auto_delete=False)
        channel.queue_bind(topic, "openstack", topic)
    finally:
        conn.close()
    assert fleet.client("rabbit", topic).call({}, "whoami") == "amqp1-a1"

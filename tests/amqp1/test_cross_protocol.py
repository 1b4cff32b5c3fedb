"""Mixed fleets across protocols: an amqp1 (AMQP 1.0) and a rabbit (0-9-1) service on the
same RabbitMQ vhost. Each test is one cell of the matrix in ``compat/README.md``.

RabbitMQ routes between its protocols, but its AMQP 1.0 clients (3.x plugin) cannot bind a
queue to an exchange: what works is what meets in a queue both sides name.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging.notify import Notifier, get_notification_listener
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


def test_fanout_does_not_cross_protocols(fleet: Fleet, topic: str) -> None:
    """amqp1 fanout goes through amq.topic, rabbit fanout through ``<topic>_fanout``: each
    reaches only its own protocol's servers (a bounded wait shows the other one gets none)."""
    rabbit_server = fleet.server("rabbit", topic, "r1")
    amqp1_server = fleet.server("amqp1", topic, "a1")
    fleet.client("amqp1", topic).prepare(fanout=True).cast({}, "record", value="amqp1")
    fleet.client("rabbit", topic).prepare(fanout=True).cast({}, "record", value="rabbit")
    wait_for(lambda: amqp1_server.casts == ["amqp1"] and rabbit_server.casts == ["rabbit"],
             message=lambda: f"{amqp1_server.casts} {rabbit_server.casts}")
    with pytest.raises(AssertionError):
        wait_for(lambda: len(amqp1_server.casts) > 1 or len(rabbit_server.casts) > 1,
                 timeout=2)


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

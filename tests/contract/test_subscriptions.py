"""Driver contract: ``Transport._listen_subscriptions``, the primitive under the legacy
``create_consumer`` / ``create_worker`` / ``join_consumer_pool``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging.drivers.base import IncomingMessage, Subscription
from legacy_rpc.messaging.rpc.server import RPCServer
from tests.helpers import wait_for


class Recorder:
    def __init__(self) -> None:
        self.values: list[Any] = []
        self.event = threading.Event()

    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        self.values.append(value)
        self.event.set()
        return value


class SubscriptionServer(RPCServer):
    """An RPC server consuming exactly the given subscriptions."""

    def __init__(self, transport: messaging.Transport, subscriptions: list[Subscription],
                 endpoints: list[Any]) -> None:
        super().__init__(transport, messaging.Target(topic="unused", server="unused"),
                         messaging.RPCDispatcher(endpoints))
        self._subscriptions = subscriptions

    def _create_listener(self) -> Any:
        return self.transport._listen_subscriptions(self._subscriptions, "rpc")


@pytest.fixture
def start(transport: messaging.Transport) -> Iterator[Callable[..., Recorder]]:
    servers: list[RPCServer] = []

    def start(*subscriptions: Subscription) -> Recorder:
        recorder = Recorder()
        server = SubscriptionServer(transport, list(subscriptions), [recorder])
        server.start()
        servers.append(server)
        return recorder

    yield start
    for server in servers:
        server.stop()
        server.wait()


def test_topic_only_consumer_gets_no_fanout(transport: messaging.Transport,
                                            start: Callable[..., Recorder],
                                            topic: str) -> None:
    topic_only = start(Subscription(topic))
    fanout_only = start(Subscription(topic, fanout=True))
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
    assert client.call({}, "echo", value="direct") == "direct"
    client.prepare(fanout=True).cast({}, "echo", value="broadcast")
    assert fanout_only.event.wait(10)
    assert fanout_only.values == ["broadcast"]
    # The fanout cast was sent after the call; the topic-only consumer never gets it.
    assert client.call({}, "echo", value="after") == "after"
    assert topic_only.values == ["direct", "after"]


def test_named_pools_each_get_every_message(transport: messaging.Transport,
                                            start: Callable[..., Recorder],
                                            topic: str) -> None:
    """``create_worker(topic, proxy, pool_name)``: one queue per pool on the topic."""
    if not transport._driver.capabilities.pools:  # named queues on a topic are pools
        pytest.skip(f"{type(transport._driver).__name__} has no pools")
    pool_a = [start(Subscription(topic, queue=f"{topic}-pool-a")) for _ in range(2)]
    pool_b = [start(Subscription(topic, queue=f"{topic}-pool-b"))]
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
    for n in range(6):
        client.cast({}, "echo", value=n)
    wait_for(lambda: sum(len(r.values) for r in pool_a) == 6, message="pool a")
    wait_for(lambda: len(pool_b[0].values) == 6, message="pool b")
    assert sorted(pool_a[0].values + pool_a[1].values) == list(range(6))
    assert pool_a[0].values and pool_a[1].values  # shared within the pool


def test_raw_kind_hands_over_the_unenveloped_body(transport: messaging.Transport,
                                                  topic: str, exchange: str) -> None:
    if not transport._driver.capabilities.pools:  # named queues on a topic are pools
        pytest.skip(f"{type(transport._driver).__name__} has no pools")
    received: list[IncomingMessage] = []
    listener = transport._listen_subscriptions(
        [Subscription(f"{topic}.info", exchange, queue=f"{topic}-raw")], "raw")
    listener.start(lambda batch: [received.append(m) or m.acknowledge() for m in batch])
    try:
        from legacy_rpc.messaging import wire

        message = wire.build_notification("pub", "evt", "info", {"k": 1})
        transport._send_notification(messaging.Target(topic=f"{topic}.info",
                                                      exchange=exchange), {}, message, 2.0)
        wait_for(lambda: received, message="no raw message")
        body = received[0].message
        assert body["event_type"] == "evt" and body["payload"] == {"k": 1}
        assert body["priority"] == "INFO" and "_unique_id" in body
    finally:
        listener.stop()
        listener.cleanup()


def test_bad_subscriptions_are_refused(transport: messaging.Transport) -> None:
    with pytest.raises(ValueError):
        transport._listen_subscriptions([Subscription("t")], "bogus")
    with pytest.raises(ValueError):
        transport._listen_subscriptions([], "rpc")

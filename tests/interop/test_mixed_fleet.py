"""A rolling upgrade: oslo.messaging 18.3.1 and legacy_rpc consumers on the same queues.

An oslo RPC server and one of ours serve the same topic (so they share the ``<topic>``
queue and the ``<topic>_fanout`` exchange, which both declare: any difference in flags or
arguments would make RabbitMQ refuse one of them); an oslo listener and one of ours share a
pool queue, and another pair shares the default ``<topic>.info`` queue.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import legacy_rpc.messaging as messaging
from tests.helpers import wait_for
from tests.interop.conftest import Janitor, OsloPeer, StartPeer, legacy_conf

pytestmark = pytest.mark.interop


class Seen:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[dict[str, Any]] = []

    def add(self, **item: Any) -> None:
        with self.lock:
            self.items.append(item)

    def matching(self, **expected: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [i for i in self.items if all(i.get(k) == v for k, v in expected.items())]


class RpcEndpoint:
    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    def whoami(self, ctxt: dict[str, Any]) -> str:
        return "ours-m"

    def record(self, ctxt: dict[str, Any], **kwargs: Any) -> None:
        self.seen.add(kind="rpc", server="ours-m", args=kwargs)


class NotifyEndpoint:
    def __init__(self, name: str, seen: Seen) -> None:
        self.name = name
        self.seen = seen

    def info(self, ctxt: dict[str, Any], publisher_id: str, event_type: str, payload: Any,
             metadata: dict[str, Any]) -> None:
        self.seen.add(kind="notification", listener=self.name, event_type=event_type,
                      payload=payload)


@pytest.fixture(scope="module")
def names(run_id: str, janitor: Janitor) -> dict[str, str]:
    base = f"interop-{run_id}-mixed"
    found = {"exchange": f"{base}-x", "topic": f"{base}-rpc", "notify": f"{base}-notify",
             "pool": f"{base}-pool"}
    janitor.exchanges.update([found["exchange"], f"{found['topic']}_fanout"])
    janitor.queues.update([found["topic"], f"{found['topic']}.oslo-m",
                           f"{found['topic']}.ours-m", f"{found['notify']}.info",
                           f"{found['notify']}.error", found["pool"]])
    return found


@pytest.fixture(scope="module")
def oslo_server(start_peer: StartPeer, names: dict[str, str]) -> OsloPeer:
    return start_peer("server", exchange=names["exchange"], topic=names["topic"],
                      servers=["oslo-m"], label="oslo-mixed-server")


@pytest.fixture(scope="module")
def oslo_listeners(start_peer: StartPeer, names: dict[str, str]) -> OsloPeer:
    specs = [{"name": "oslo-pool-member", "topic": names["notify"], "pool": names["pool"]},
             {"name": "oslo-plain", "topic": names["notify"]}]
    return start_peer("listener", exchange=names["exchange"], topic=names["notify"],
                      listeners=specs, label="oslo-mixed-listeners")


@pytest.fixture(scope="module")
def seen() -> Seen:
    return Seen()


@pytest.fixture(scope="module")
def notify_transport(rabbit_url: str, names: dict[str, str]) -> Iterator[messaging.Transport]:
    transport = messaging.get_notification_transport(legacy_conf(names["exchange"]),
                                                     rabbit_url)
    yield transport
    transport.cleanup()


@pytest.fixture(scope="module")
def fleet(rabbit_url: str, names: dict[str, str], seen: Seen, oslo_server: OsloPeer,
          oslo_listeners: OsloPeer,
          notify_transport: messaging.Transport) -> Iterator[messaging.Transport]:
    transport = messaging.get_rpc_transport(legacy_conf(names["exchange"]), rabbit_url)
    servers: list[messaging.MessageHandlingServer] = []
    try:
        # oslo declares first, then we declare the same queues and exchanges
        oslo_server.wait_ready()
        oslo_listeners.wait_ready(count=2)
        servers.append(messaging.get_rpc_server(
            transport, messaging.Target(topic=names["topic"], server="ours-m",
                                        exchange=names["exchange"]),
            [RpcEndpoint(seen)], executor="threading"))
        target = messaging.Target(topic=names["notify"], exchange=names["exchange"])
        servers.append(messaging.get_notification_listener(
            notify_transport, [target], [NotifyEndpoint("ours-pool-member", seen)],
            executor="threading", pool=names["pool"]))
        servers.append(messaging.get_notification_listener(
            notify_transport, [target], [NotifyEndpoint("ours-plain", seen)],
            executor="threading"))
        for server in servers:
            server.start()
        yield transport
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            server.wait()
        transport.cleanup()


@pytest.fixture
def client(fleet: messaging.Transport, names: dict[str, str]) -> messaging.RPCClient:
    return messaging.get_rpc_client(
        fleet, messaging.Target(topic=names["topic"], exchange=names["exchange"]), timeout=20)


def test_calls_to_the_topic_are_shared_by_both_servers(client: messaging.RPCClient) -> None:
    answers = [client.call({}, "whoami") for _ in range(10)]
    # RabbitMQ round-robins the shared <topic> queue between the two consumers
    assert set(answers) == {"oslo-m", "ours-m"}, answers


def test_server_targeted_calls_in_a_mixed_fleet(client: messaging.RPCClient) -> None:
    for name in ("oslo-m", "ours-m"):
        assert client.prepare(server=name).call({}, "whoami") == name


def test_fanout_reaches_both_servers(client: messaging.RPCClient, oslo_server: OsloPeer,
                                     seen: Seen) -> None:
    client.prepare(fanout=True).cast({}, "record", tag="mixed-fanout")
    wait_for(lambda: seen.matching(kind="rpc", args={"tag": "mixed-fanout"}),
             message=lambda: f"our server got no fanout; seen {seen.items!r}")
    oslo_server.wait_line(lambda line: line.get("event") == "rpc"
                          and line.get("args") == {"tag": "mixed-fanout"},
                          what="the fanout cast on the oslo server")


@pytest.mark.parametrize("queue,members", [
    ("pool", ("oslo-pool-member", "ours-pool-member")),
    ("default", ("oslo-plain", "ours-plain")),
], ids=["pool-queue", "default-queue"])
def test_shared_notification_queue_delivers_each_notification_once(
        fleet: messaging.Transport, notify_transport: messaging.Transport, names: dict[str, str], oslo_listeners: OsloPeer,
        seen: Seen, queue: str, members: tuple[str, str]) -> None:
    count = 10
    event_type = f"interop.mixed.{queue}"
    notifier = messaging.Notifier(notify_transport, publisher_id="legacy.host",
                                  driver="messagingv2", topics=[names["notify"]])
    for i in range(count):
        notifier.info({}, event_type, {"i": i})

    def got() -> list[tuple[str, int]]:
        ours = [(i["listener"], i["payload"]["i"])
                for i in seen.matching(kind="notification", event_type=event_type)
                if i["listener"] in members]
        theirs = [(line["listener"], line["payload"]["i"])
                  for line in oslo_listeners.lines(
                      lambda line: line.get("event") == "notification"
                      and line.get("event_type") == event_type)
                  if line["listener"] in members]
        return ours + theirs

    wait_for(lambda: len({i for _, i in got()}) >= count,
             message=lambda: f"{queue} queue delivered {sorted(got())!r}")
    delivered = got()
    # one copy per notification for the queue, whichever library consumed it
    assert sorted(i for _, i in delivered) == list(range(count)), delivered

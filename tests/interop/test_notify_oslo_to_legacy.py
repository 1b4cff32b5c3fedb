"""oslo.messaging 18.3.1 Notifier (another process) -> legacy_rpc notification listeners.

Our listeners run in this process: one without a pool, pool A with two listeners, pool B
with one, and one that requeues each notification once. One oslo notifier process, driven
by commands, sends with the ``messagingv2`` and ``messaging`` (v1) drivers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import legacy_rpc.messaging as messaging
from tests.helpers import wait_for
from tests.interop.conftest import Janitor, OsloPeer, StartPeer, legacy_conf, notification_names

pytestmark = pytest.mark.interop

CTXT = {"user_id": "u1", "project_id": "p1", "request_id": "req-interop"}
# what RequestContext(**CTXT).to_dict() sends for those (among its other keys)
SENT_CTXT = {"user": "u1", "project_id": "p1", "request_id": "req-interop"}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$")


class Received:
    """Every notification our endpoints saw, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[dict[str, Any]] = []

    def add(self, **item: Any) -> None:
        with self.lock:
            self.items.append(item)

    def matching(self, **expected: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [i for i in self.items if all(i.get(k) == v for k, v in expected.items())]


class Endpoint:
    def __init__(self, name: str, received: Received, requeue_first: bool = False) -> None:
        self.name = name
        self.received = received
        self.requeue_first = requeue_first
        self.seen: set[str] = set()

    def _handle(self, priority: str, ctxt: dict[str, Any], publisher_id: str,
                event_type: str, payload: Any, metadata: dict[str, Any]) -> Any:
        message_id = str(metadata.get("message_id"))
        requeue = self.requeue_first and message_id not in self.seen
        self.seen.add(message_id)
        self.received.add(listener=self.name, priority=priority, ctxt=dict(ctxt),
                          publisher_id=publisher_id, event_type=event_type, payload=payload,
                          metadata=dict(metadata),
                          verdict="requeue" if requeue else "handled")
        return messaging.NotificationResult.REQUEUE if requeue else \
            messaging.NotificationResult.HANDLED

    def info(self, ctxt: dict[str, Any], publisher_id: str, event_type: str, payload: Any,
             metadata: dict[str, Any]) -> Any:
        return self._handle("info", ctxt, publisher_id, event_type, payload, metadata)

    def error(self, ctxt: dict[str, Any], publisher_id: str, event_type: str, payload: Any,
              metadata: dict[str, Any]) -> Any:
        return self._handle("error", ctxt, publisher_id, event_type, payload, metadata)


@pytest.fixture(scope="module")
def names(run_id: str, janitor: Janitor) -> dict[str, str]:
    return notification_names(f"interop-{run_id}-n-oslo-to-ours", janitor)


@pytest.fixture(scope="module")
def oslo_notifier(start_peer: StartPeer, names: dict[str, str]) -> OsloPeer:
    return start_peer("notifier", exchange=names["exchange"], topic=names["plain"],
                      label="oslo-notifier")


@pytest.fixture(scope="module")
def received() -> Received:
    return Received()


@pytest.fixture(scope="module")
def legacy_listeners(rabbit_url: str, names: dict[str, str], received: Received,
                     oslo_notifier: OsloPeer) -> Iterator[None]:
    transport = messaging.get_notification_transport(legacy_conf(names["exchange"]), rabbit_url)
    listeners: list[messaging.MessageHandlingServer] = []

    def listen(name: str, topic: str, pool: str | None = None, requeue: bool = False) -> None:
        listener = messaging.get_notification_listener(
            transport, [messaging.Target(topic=topic, exchange=names["exchange"])],
            [Endpoint(name, received, requeue_first=requeue)], executor="threading",
            allow_requeue=requeue, pool=pool)
        listener.start()  # queues declared and bound when start() returns
        listeners.append(listener)

    try:
        listen("plain", names["plain"])
        listen("A1", names["pooled"], pool=names["pool_a"])
        listen("A2", names["pooled"], pool=names["pool_a"])
        listen("B1", names["pooled"], pool=names["pool_b"])
        listen("requeue", names["requeue"], requeue=True)
        yield
    finally:
        for listener in listeners:
            listener.stop()
        for listener in listeners:
            listener.wait()
        transport.cleanup()


@pytest.fixture
def notifier(oslo_notifier: OsloPeer, legacy_listeners: None) -> OsloPeer:
    oslo_notifier.wait_ready()
    return oslo_notifier


def _notify(peer: OsloPeer, driver: str, topic: str, event_type: str, payload: Any,
            priority: str = "info", ctxt: dict[str, Any] | None = CTXT) -> None:
    peer.ok("notify", driver=driver, topics=[topic], priority=priority,
            publisher_id="oslo.host", event_type=event_type, payload=payload, ctxt=ctxt)


@pytest.mark.parametrize("driver", ["messagingv2", "messaging"])
def test_notification_reaches_our_listener(notifier: OsloPeer, received: Received,
                                           names: dict[str, str], driver: str) -> None:
    event_type = f"interop.{driver}.created"
    payload = {"id": 1, "name": "vm-é", "tags": ["a", "b"], "nested": {"ok": True}}
    _notify(notifier, driver, names["plain"], event_type, payload)
    [got] = wait_for(lambda: received.matching(event_type=event_type),
                     message=lambda: f"not received; got {received.items!r}")
    assert got["listener"] == "plain"
    assert got["priority"] == "info"
    assert got["publisher_id"] == "oslo.host"
    assert got["payload"] == payload
    assert UUID4.match(got["metadata"]["message_id"]), got["metadata"]
    assert TIMESTAMP.match(got["metadata"]["timestamp"]), got["metadata"]
    # the oslo RequestContext travels as _context_* keys
    for key, value in SENT_CTXT.items():
        assert got["ctxt"].get(key) == value, (key, got["ctxt"])


@pytest.mark.parametrize("driver", ["messagingv2", "messaging"])
def test_error_priority_reaches_the_error_method(notifier: OsloPeer, received: Received,
                                                 names: dict[str, str], driver: str) -> None:
    event_type = f"interop.{driver}.failed"
    _notify(notifier, driver, names["plain"], event_type, {"why": "disk"}, priority="error")
    [got] = wait_for(lambda: received.matching(event_type=event_type),
                     message=lambda: f"not received; got {received.items!r}")
    assert got["priority"] == "error"
    assert got["payload"] == {"why": "disk"}


def test_a_dict_context_is_not_sent(notifier: OsloPeer, received: Received,
                                    names: dict[str, str]) -> None:
    # the peer sends {} (oslo drops plain dict contexts): nothing arrives
    _notify(notifier, "messagingv2", names["plain"], "interop.no-context", {}, ctxt=None)
    [got] = wait_for(lambda: received.matching(event_type="interop.no-context"),
                     message=lambda: f"not received; got {received.items!r}")
    assert got["ctxt"] == {}


def test_every_pool_gets_every_notification_once(notifier: OsloPeer, received: Received,
                                                 names: dict[str, str]) -> None:
    count = 6
    for i in range(count):
        _notify(notifier, "messagingv2", names["pooled"], "interop.pooled", {"i": i})

    def pool(members: tuple[str, ...]) -> list[dict[str, Any]]:
        return [r for r in received.matching(event_type="interop.pooled")
                if r["listener"] in members]

    wait_for(lambda: len(pool(("A1", "A2"))) >= count and len(pool(("B1",))) >= count,
             message=lambda: f"pools got {received.matching(event_type='interop.pooled')!r}")
    for members in (("A1", "A2"), ("B1",)):
        got = pool(members)
        # each notification exactly once per pool: one listener of the pool got it
        assert sorted(r["payload"]["i"] for r in got) == list(range(count)), (members, got)
        assert len({r["metadata"]["message_id"] for r in got}) == count


def test_requeued_notification_comes_back(notifier: OsloPeer, received: Received,
                                          names: dict[str, str]) -> None:
    _notify(notifier, "messagingv2", names["requeue"], "interop.requeued", {"n": 1})
    wait_for(lambda: len(received.matching(event_type="interop.requeued")) >= 2,
             message=lambda: "no redelivery; got "
                             f"{received.matching(event_type='interop.requeued')!r}")
    got = received.matching(event_type="interop.requeued")
    assert [r["verdict"] for r in got[:2]] == ["requeue", "handled"]
    assert got[0]["metadata"]["message_id"] == got[1]["metadata"]["message_id"]
    assert got[1]["payload"] == {"n": 1}

"""legacy_rpc Notifier -> oslo.messaging 18.3.1 notification listeners (another process).

One oslo peer process runs the listeners: one without a pool, pool A with two listeners,
pool B with one, and one that requeues each notification once. Our Notifier, in this
process, sends with the ``messagingv2`` and ``messaging`` (v1) drivers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

import legacy_rpc.messaging as messaging
from tests.interop.conftest import Janitor, OsloPeer, StartPeer, legacy_conf, notification_names

pytestmark = pytest.mark.interop

CTXT = {"user": "u1", "project_id": "p1", "request_id": "req-interop"}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$")
LISTENERS = ("plain", "A1", "A2", "B1", "requeue")


class RequestContext:
    """A context with ``redacted_copy()``, as notifiers send (a plain dict is dropped)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def redacted_copy(self) -> dict[str, Any]:
        return dict(self.values)


@pytest.fixture(scope="module")
def names(run_id: str, janitor: Janitor) -> dict[str, str]:
    return notification_names(f"interop-{run_id}-n-ours-to-oslo", janitor)


@pytest.fixture(scope="module")
def oslo_listeners(start_peer: StartPeer, names: dict[str, str]) -> OsloPeer:
    specs: list[dict[str, Any]] = [
        {"name": "plain", "topic": names["plain"]},
        {"name": "A1", "topic": names["pooled"], "pool": names["pool_a"]},
        {"name": "A2", "topic": names["pooled"], "pool": names["pool_a"]},
        {"name": "B1", "topic": names["pooled"], "pool": names["pool_b"]},
        {"name": "requeue", "topic": names["requeue"], "requeue": True}]
    peer = start_peer("listener", exchange=names["exchange"], topic=names["plain"],
                      listeners=specs, label="oslo-listeners")
    # A pool only gets what is sent after its queue exists: wait for every listener.
    ready = peer.wait_ready(count=len(specs))
    assert sorted(line["listener"] for line in ready) == sorted(LISTENERS)
    return peer


@pytest.fixture(scope="module")
def transport(rabbit_url: str, names: dict[str, str]) -> Iterator[messaging.Transport]:
    t = messaging.get_notification_transport(legacy_conf(names["exchange"]), rabbit_url)
    yield t
    t.cleanup()


def _notifier(transport: messaging.Transport, driver: str, topic: str) -> messaging.Notifier:
    return messaging.Notifier(transport, publisher_id="legacy.host", driver=driver,
                              topics=[topic])


def _received(peer: OsloPeer, event_type: str, count: int = 1,
              listeners: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    return peer.wait_lines(
        lambda line: line.get("event") == "notification"
        and line.get("event_type") == event_type
        and (listeners is None or line.get("listener") in listeners),
        count, what=f"{count} notification(s) {event_type!r}"
                    + (f" on {listeners}" if listeners else ""))


@pytest.mark.parametrize("driver", ["messagingv2", "messaging"])
def test_notification_reaches_oslo_listener(transport: messaging.Transport,
                                            oslo_listeners: OsloPeer, names: dict[str, str],
                                            driver: str) -> None:
    event_type = f"interop.{driver}.created"
    payload = {"id": 1, "name": "vm-é", "tags": ["a", "b"], "nested": {"ok": True}}
    _notifier(transport, driver, names["plain"]).info(RequestContext(CTXT), event_type,
                                                      payload)
    [got] = _received(oslo_listeners, event_type)
    assert got["listener"] == "plain"
    assert got["priority"] == "info"
    assert got["publisher_id"] == "legacy.host"
    assert got["payload"] == payload
    assert UUID4.match(got["metadata"]["message_id"]), got["metadata"]
    assert TIMESTAMP.match(got["metadata"]["timestamp"]), got["metadata"]
    for key, value in CTXT.items():
        assert got["ctxt"].get(key) == value, (key, got["ctxt"])


@pytest.mark.parametrize("driver", ["messagingv2", "messaging"])
def test_error_priority_reaches_the_error_method(transport: messaging.Transport,
                                                 oslo_listeners: OsloPeer,
                                                 names: dict[str, str], driver: str) -> None:
    event_type = f"interop.{driver}.failed"
    _notifier(transport, driver, names["plain"]).error(RequestContext(CTXT), event_type,
                                                       {"why": "disk"})
    [got] = _received(oslo_listeners, event_type)
    assert got["priority"] == "error"
    assert got["payload"] == {"why": "disk"}


def test_a_dict_context_is_not_sent(transport: messaging.Transport, oslo_listeners: OsloPeer,
                                    names: dict[str, str]) -> None:
    _notifier(transport, "messagingv2", names["plain"]).info(
        {"user": "u1", "auth_token": "secret"}, "interop.no-context", {})
    [got] = _received(oslo_listeners, "interop.no-context")
    assert {k: v for k, v in got["ctxt"].items() if k != "client_timeout"} == {}


def test_every_pool_gets_every_notification_once(transport: messaging.Transport,
                                                 oslo_listeners: OsloPeer,
                                                 names: dict[str, str]) -> None:
    count = 6
    notifier = _notifier(transport, "messagingv2", names["pooled"])
    for i in range(count):
        notifier.info(RequestContext(CTXT), "interop.pooled", {"i": i})
    for members in (("A1", "A2"), ("B1",)):
        got = _received(oslo_listeners, "interop.pooled", count, members)
        # each notification exactly once per pool: one listener of the pool got it
        assert sorted(line["payload"]["i"] for line in got) == list(range(count)), got
        assert len({line["metadata"]["message_id"] for line in got}) == count


def test_requeued_notification_comes_back(transport: messaging.Transport,
                                          oslo_listeners: OsloPeer,
                                          names: dict[str, str]) -> None:
    _notifier(transport, "messagingv2", names["requeue"]).info(
        RequestContext(CTXT), "interop.requeued", {"n": 1})
    got = _received(oslo_listeners, "interop.requeued", count=2)
    assert [line["verdict"] for line in got[:2]] == ["requeue", "handled"]
    assert [line["attempt"] for line in got[:2]] == [1, 2]
    assert got[0]["metadata"]["message_id"] == got[1]["metadata"]["message_id"]
    assert got[1]["payload"] == {"n": 1}

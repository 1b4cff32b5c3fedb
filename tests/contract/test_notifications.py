"""Driver contract: notifications (notifier, listeners, pools, requeue, filters, batches).

Every test runs on every driver in ``conftest.DRIVERS``. Waits are on conditions with a
deadline. Where a test must show that something does *not* arrive, it sends a marker
after it through the same queue to a listener with the ``blocking`` executor (so order is
kept) and checks once the marker is in, instead of waiting for a silence.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging import wire
from legacy_rpc.messaging.drivers.base import Capabilities, IncomingMessage
from legacy_rpc.messaging.notify import (
    NotificationFilter,
    NotificationResult,
    Notifier,
    get_batch_notification_listener,
    get_notification_listener,
    get_notification_transport,
)
from legacy_rpc.messaging.notify.dispatcher import PRIORITIES
from tests.helpers import wait_for

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?$")

StartListener = Callable[..., messaging.MessageHandlingServer]


# --------------------------------------------------------------------------- helpers

class Context:
    """A request context as services have: notifications carry only its redacted copy."""

    def __init__(self, **values: Any) -> None:
        self.values = values

    def redacted_copy(self) -> Context:
        return Context(**{k: v for k, v in self.values.items() if k != "auth_token"})

    def to_dict(self) -> dict[str, Any]:
        return dict(self.values)


class Recorder:
    """An endpoint with a method per priority; records each call.

    ``verdict(call)`` decides the return value (default: None, i.e. HANDLED); it may raise.
    """

    def __init__(self, priorities: tuple[str, ...] | list[str] = PRIORITIES,
                 verdict: Callable[[dict[str, Any]], Any] | None = None,
                 filter_rule: NotificationFilter | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._verdict = verdict
        if filter_rule is not None:
            self.filter_rule = filter_rule
        for priority in priorities:
            setattr(self, priority, functools.partial(self._record, priority))

    def _record(self, priority: str, ctxt: Any, publisher_id: Any, event_type: Any,
                payload: Any, metadata: dict[str, Any]) -> Any:
        call = {"priority": priority, "ctxt": ctxt, "publisher_id": publisher_id,
                "event_type": event_type, "payload": payload, "metadata": metadata}
        with self._lock:
            self.calls.append(call)
        return self._verdict(call) if self._verdict else None

    def events(self) -> list[Any]:
        with self._lock:
            return [c["event_type"] for c in self.calls]

    def payloads(self) -> list[Any]:
        with self._lock:
            return [c["payload"] for c in self.calls]

    def wait(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        wait_for(lambda: len(self.calls) >= count, timeout,
                 message=lambda: f"expected {count} notification(s), got {self.events()}")
        with self._lock:
            return list(self.calls)

    def wait_event(self, event_type: str, timeout: float = 10) -> None:
        wait_for(lambda: event_type in self.events(), timeout,
                 message=lambda: f"{event_type} never arrived; got {self.events()}")


class BatchRecorder:
    """A batch endpoint: ``method(messages)``; records each batch."""

    def __init__(self, priorities: tuple[str, ...] | list[str] = PRIORITIES,
                 verdict: Callable[[list[dict[str, Any]]], Any] | None = None,
                 filter_rule: NotificationFilter | None = None) -> None:
        self.batches: list[tuple[str, list[dict[str, Any]], float]] = []
        self._lock = threading.Lock()
        self._verdict = verdict
        if filter_rule is not None:
            self.filter_rule = filter_rule
        for priority in priorities:
            setattr(self, priority, functools.partial(self._record, priority))

    def _record(self, priority: str, messages: list[dict[str, Any]]) -> Any:
        with self._lock:
            self.batches.append((priority, messages, time.monotonic()))
        return self._verdict(messages) if self._verdict else None

    def count(self) -> int:
        with self._lock:
            return sum(len(b[1]) for b in self.batches)

    def wait(self, count: int, timeout: float = 10) -> list[tuple[str, list[dict[str, Any]], float]]:
        wait_for(lambda: self.count() >= count, timeout,
                 message=lambda: f"expected {count} notification(s) in batches, got {self.batches}")
        with self._lock:
            return list(self.batches)


def publish(transport: messaging.Transport, topic: str, event_type: str, payload: Any,
            priority: str = "info", exchange: str | None = None, version: float = 2.0) -> None:
    """Publish like a notifier on another service's exchange (the driver-level send)."""
    message = wire.build_notification("other.host", event_type, priority, payload)
    target = messaging.Target(topic=f"{topic}.{priority.lower()}", exchange=exchange)
    transport._send_notification(target, {}, message, version=version)


# --------------------------------------------------------------------------- fixtures

@pytest.fixture
def ntransport(conf: cfg.ConfigOpts, driver_url: str) -> Iterator[messaging.Transport]:
    t = get_notification_transport(conf, driver_url)
    yield t
    t.cleanup()


@pytest.fixture
def notifier(ntransport: messaging.Transport, topic: str) -> Notifier:
    return Notifier(ntransport, "compute.host1", driver="messagingv2", topics=[topic])


@pytest.fixture
def listen(ntransport: messaging.Transport, topic: str) -> Iterator[StartListener]:
    """Start a listener (default target: ``topic``); all are stopped at the end."""
    servers: list[messaging.MessageHandlingServer] = []

    def start(endpoints: list[Any], targets: list[messaging.Target] | None = None,
              batch: bool = False, **kwargs: Any) -> messaging.MessageHandlingServer:
        targets = targets or [messaging.Target(topic=topic)]
        factory: Callable[..., messaging.MessageHandlingServer] = (
            get_batch_notification_listener if batch else get_notification_listener)
        server = factory(ntransport, targets, endpoints, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        server.wait()


# --------------------------------------------------------------------------- sending

def test_fields_reach_the_listener(notifier: Notifier, listen: StartListener) -> None:
    rec = Recorder(["info"])
    listen([rec])
    notifier.info(Context(user="u1", auth_token="secret"), "compute.instance.create.end",
                  {"id": 1, "name": "vm"})
    [call] = rec.wait(1)
    assert call["publisher_id"] == "compute.host1"
    assert call["event_type"] == "compute.instance.create.end"
    assert call["payload"] == {"id": 1, "name": "vm"}
    assert call["ctxt"] == {"user": "u1"}  # the redacted copy
    assert set(call["metadata"]) == {"message_id", "timestamp"}
    assert UUID_RE.match(call["metadata"]["message_id"])
    assert TIMESTAMP_RE.match(call["metadata"]["timestamp"])


@pytest.mark.parametrize("driver", ["messaging", "messagingv2"])
def test_v1_and_v2_bodies_are_readable(ntransport: messaging.Transport, topic: str,
                                       listen: StartListener, driver: str) -> None:
    rec = Recorder(["error"])
    listen([rec])
    Notifier(ntransport, "p", driver=driver, topics=[topic]).error(None, "e", {"v": driver})
    [call] = rec.wait(1)
    assert (call["priority"], call["event_type"], call["payload"]) == ("error", "e",
                                                                        {"v": driver})


def test_each_priority_reaches_its_endpoint_method(notifier: Notifier,
                                                   listen: StartListener) -> None:
    rec = Recorder()
    listen([rec])
    for method in ("audit", "debug", "info", "warn", "warning", "error", "critical", "sample"):
        getattr(notifier, method)(None, f"event.{method}", {})
    calls = rec.wait(8)
    got = sorted((c["event_type"], c["priority"]) for c in calls)
    assert got == sorted([("event.audit", "audit"), ("event.debug", "debug"),
                          ("event.info", "info"), ("event.warn", "warn"),
                          ("event.warning", "warn"), ("event.error", "error"),
                          ("event.critical", "critical"), ("event.sample", "sample")])


def test_a_dict_context_is_not_sent(notifier: Notifier, listen: StartListener) -> None:
    rec = Recorder(["info"])
    listen([rec])
    notifier.info({"user": "u1", "password": "secret"}, "e", {})
    [call] = rec.wait(1)
    assert call["ctxt"] == {}


def test_one_copy_per_topic(ntransport: messaging.Transport, topic: str,
                            listen: StartListener) -> None:
    other = f"{topic}-b"
    rec = Recorder(["info"])
    listen([rec], targets=[messaging.Target(topic=topic), messaging.Target(topic=other)])
    Notifier(ntransport, "p", driver="messagingv2", topics=[topic, other]).info(None, "e", {})
    calls = rec.wait(2)
    assert len(calls) == 2
    assert len({c["metadata"]["message_id"] for c in calls}) == 1  # one notification


def test_topics_and_driver_from_configuration(conf: cfg.ConfigOpts,
                                              ntransport: messaging.Transport, topic: str,
                                              listen: StartListener) -> None:
    conf.set_override("driver", ["messagingv2"], group="oslo_messaging_notifications")
    conf.set_override("topics", [topic], group="oslo_messaging_notifications")
    rec = Recorder(["info"])
    listen([rec])
    Notifier(ntransport, "p").info(None, "from.conf", {})
    rec.wait_event("from.conf")


def test_prepare_changes_the_publisher(notifier: Notifier, listen: StartListener) -> None:
    rec = Recorder(["info"])
    listen([rec])
    notifier.prepare(publisher_id="network.host2").info(None, "e", {})
    [call] = rec.wait(1)
    assert call["publisher_id"] == "network.host2"


def test_no_driver_configured_sends_nothing(ntransport: messaging.Transport, topic: str,
                                            notifier: Notifier, listen: StartListener) -> None:
    rec = Recorder(["info"])
    listen([rec], executor="blocking")
    silent = Notifier(ntransport, "p", topics=[topic])
    assert silent.is_enabled()  # as in oslo.messaging, although it sends nothing
    silent.info(None, "silent", {})
    notifier.info(None, "marker", {})
    rec.wait_event("marker")
    assert rec.events() == ["marker"]


def test_notifications_sent_before_any_listener_are_kept(notifier: Notifier,
                                                         listen: StartListener) -> None:
    for i in range(3):
        notifier.info(None, "early", {"i": i})
    rec = Recorder(["info"])
    listen([rec])
    assert sorted(c["payload"]["i"] for c in rec.wait(3)) == [0, 1, 2]


def test_only_the_priorities_of_the_endpoints_are_consumed(notifier: Notifier,
                                                           listen: StartListener) -> None:
    info_only = Recorder(["info"])
    listen([info_only])
    notifier.error(None, "an.error", {})
    notifier.info(None, "an.info", {})
    info_only.wait_event("an.info")
    # The error was not taken by the info-only listener: it waits in its own queue.
    errors = Recorder(["error"])
    listen([errors])
    errors.wait_event("an.error")
    assert info_only.events() == ["an.info"]


def test_several_targets_on_several_exchanges(ntransport: messaging.Transport, topic: str,
                                              exchange: str, listen: StartListener) -> None:
    other_topic, other_exchange = f"{topic}-2", f"{exchange}-2"
    rec = Recorder(["info"])
    listen([rec], targets=[messaging.Target(topic=topic, exchange=exchange),
                           messaging.Target(topic=other_topic, exchange=other_exchange)])
    publish(ntransport, topic, "first", {}, exchange=exchange)
    publish(ntransport, other_topic, "second", {}, exchange=other_exchange)
    rec.wait(2)
    assert sorted(rec.events()) == ["first", "second"]


# --------------------------------------------------------------------------- pools

def _require_pools(transport: messaging.Transport) -> None:
    if not transport._driver.capabilities.pools:
        pytest.skip(f"{type(transport._driver).__name__} has no listener pools")


def test_listeners_without_pool_share_the_default_queue(notifier: Notifier,
                                                        listen: StartListener) -> None:
    a, b = Recorder(["info"]), Recorder(["info"])
    listen([a])
    listen([b])
    for i in range(20):
        notifier.info(None, "e", {"i": i})
    wait_for(lambda: len(a.calls) + len(b.calls) >= 20, 10, message="20 notifications")
    got = [p["i"] for p in a.payloads() + b.payloads()]
    assert sorted(got) == list(range(20))  # each exactly once
    assert a.calls and b.calls  # load-balanced


def test_pools_get_a_copy_each_across_exchanges(ntransport: messaging.Transport, topic: str,
                                                exchange: str, listen: StartListener) -> None:
    """Consume other services' notifications without taking them from anyone.

    Two services publish on their own exchanges. Pool ``metering`` has two workers, pool
    ``audit`` one, and the services' own consumer listens without a pool: each group gets
    every notification once, and the metering workers share the load.
    """
    _require_pools(ntransport)
    nova, glance = f"{exchange}-nova", f"{exchange}-glance"
    targets = [messaging.Target(topic=topic, exchange=nova),
               messaging.Target(topic=topic, exchange=glance)]
    metering = [Recorder(["info"]), Recorder(["info"])]
    audit, default = Recorder(["info"]), Recorder(["info"])
    for worker in metering:
        listen([worker], targets=targets, pool=f"{topic}-metering")
    listen([audit], targets=targets, pool=f"{topic}-audit")
    listen([default], targets=targets)
    sent = []
    for i in range(10):
        for service in (nova, glance):
            publish(ntransport, topic, f"{service}.event", {"n": f"{service}-{i}"},
                    exchange=service)
            sent.append(f"{service}-{i}")

    def received(*recs: Recorder) -> list[str]:
        return sorted(p["n"] for rec in recs for p in rec.payloads())

    for group in (metering, [audit], [default]):
        wait_for(lambda g=group: len(received(*g)) >= len(sent), 10,  # type: ignore[misc]
                 message=lambda g=group: f"got {received(*g)}")  # type: ignore[misc]
        assert received(*group) == sorted(sent)
    assert all(worker.calls for worker in metering)


def test_a_pool_listener_keeps_the_default_queue_fed(notifier: Notifier,
                                                     listen: StartListener, topic: str,
                                                     ntransport: messaging.Transport) -> None:
    _require_pools(ntransport)
    pooled = Recorder(["info"])
    listen([pooled], pool=f"{topic}-pool")
    notifier.info(None, "both", {})
    pooled.wait_event("both")
    default = Recorder(["info"])
    listen([default])
    default.wait_event("both")  # kept in the default queue, declared by the publisher


# --------------------------------------------------------------------------- requeue and errors

@pytest.fixture
def requeue(ntransport: messaging.Transport) -> None:
    """Skip on a driver that cannot give a message back (Capabilities.requeue)."""
    if not ntransport._driver.capabilities.requeue:
        pytest.skip(f"{type(ntransport._driver).__name__} cannot requeue")


def _once(verdict: Any) -> Callable[[dict[str, Any]], Any]:
    """A verdict function: ``verdict`` (a value, or an exception to raise) for the first
    delivery of each message id, HANDLED afterwards."""
    seen: set[str] = set()
    lock = threading.Lock()

    def decide(call: dict[str, Any]) -> Any:
        with lock:
            first = call["metadata"]["message_id"] not in seen
            seen.add(call["metadata"]["message_id"])
        if not first:
            return NotificationResult.HANDLED
        if isinstance(verdict, BaseException):
            raise verdict
        return verdict

    return decide


@pytest.mark.usefixtures("requeue")
def test_requeued_notification_is_delivered_again(notifier: Notifier,
                                                  listen: StartListener) -> None:
    rec = Recorder(["info"], verdict=_once(NotificationResult.REQUEUE))
    listen([rec], allow_requeue=True, executor="blocking")
    notifier.info(None, "requeued", {})
    first, second = rec.wait(2)
    assert first["metadata"] == second["metadata"]
    notifier.info(None, "marker", {})
    rec.wait_event("marker")
    assert rec.events().count("requeued") == 2  # handled the second time: not again


def test_requeue_without_allow_requeue_acknowledges(notifier: Notifier,
                                                    listen: StartListener) -> None:
    rec = Recorder(["info"], verdict=lambda call: NotificationResult.REQUEUE)
    listen([rec], executor="blocking")
    notifier.info(None, "once", {})
    notifier.info(None, "marker", {})
    rec.wait_event("marker")
    assert rec.events() == ["once", "marker"]


def test_endpoint_exception_is_logged_and_acknowledged(notifier: Notifier,
                                                       listen: StartListener,
                                                       caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    rec = Recorder(["info"], verdict=_once(RuntimeError("endpoint broke")))
    listen([rec], executor="blocking")
    with caplog.at_level(logging.ERROR):
        notifier.info(None, "boom", {})
        notifier.info(None, "marker", {})
        rec.wait_event("marker")
    assert rec.events() == ["boom", "marker"]  # not redelivered, and the listener goes on
    failures = [r for r in caplog.records if r.exc_info and "endpoint broke" in
                str(r.exc_info[1])]
    assert failures, "the endpoint's exception is logged with its traceback"


@pytest.mark.usefixtures("requeue")
def test_endpoint_exception_requeues_with_allow_requeue(notifier: Notifier,
                                                        listen: StartListener) -> None:
    rec = Recorder(["info"], verdict=_once(RuntimeError("transient")))
    listen([rec], allow_requeue=True, executor="blocking")
    notifier.info(None, "retry.me", {})
    first, second = rec.wait(2)
    assert first["metadata"]["message_id"] == second["metadata"]["message_id"]


@pytest.mark.usefixtures("requeue")
def test_first_requeue_stops_the_dispatch(notifier: Notifier, listen: StartListener) -> None:
    first = Recorder(["info"], verdict=_once(NotificationResult.REQUEUE))
    second = Recorder(["info"])
    listen([first, second], allow_requeue=True, executor="blocking")
    notifier.info(None, "e", {})
    first.wait(2)
    second.wait(1)
    assert len(second.calls) == 1  # only the redelivery reached the second endpoint


@pytest.mark.usefixtures("requeue")
def test_unacknowledged_notification_is_redelivered_after_cleanup(
        ntransport: messaging.Transport, topic: str, notifier: Notifier) -> None:
    """Acknowledgement comes after dispatch: a listener that goes away first gives the
    notification back (what a crashed consumer does on a broker)."""
    target_priorities = [(messaging.Target(topic=topic), "info")]
    taken: list[IncomingMessage] = []
    listener = ntransport._listen_for_notifications(target_priorities, None, 1, None)
    listener.start(taken.extend)
    notifier.info(None, "not.acked", {})
    wait_for(lambda: taken, 10, message="the notification was never delivered")
    listener.stop()
    listener.cleanup()

    again: list[IncomingMessage] = []
    listener = ntransport._listen_for_notifications(target_priorities, None, 1, None)
    listener.start(again.extend)
    try:
        wait_for(lambda: again, 10,
                 message="the unacknowledged notification was not redelivered")
        assert again[0].message["event_type"] == "not.acked"
        assert again[0].message["message_id"] == taken[0].message["message_id"]
        again[0].acknowledge()
    finally:
        listener.stop()
        listener.cleanup()


def test_allow_requeue_on_a_driver_that_cannot_requeue(ntransport: messaging.Transport,
                                                       topic: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ntransport._driver, "capabilities", Capabilities(requeue=False))
    targets = [messaging.Target(topic=topic)]
    with pytest.raises(NotImplementedError):
        get_notification_listener(ntransport, targets, [Recorder()], allow_requeue=True)
    get_notification_listener(ntransport, targets, [Recorder()])  # without: fine


def test_pool_on_a_driver_without_pools(ntransport: messaging.Transport, topic: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ntransport._driver, "capabilities", Capabilities(pools=False))
    with pytest.raises(NotImplementedError):
        get_notification_listener(ntransport, [messaging.Target(topic=topic)], [Recorder()],
                                  pool="p")


def test_unknown_priority_is_acknowledged_and_listener_goes_on(
        ntransport: messaging.Transport, topic: str, notifier: Notifier,
        listen: StartListener, caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder(["info"])
    listen([rec], executor="blocking")
    message = wire.build_notification("p", "odd", "bogus", {})
    with caplog.at_level(logging.WARNING):
        ntransport._send_notification(messaging.Target(topic=f"{topic}.info"), {}, message,
                                      version=2.0)
        notifier.info(None, "marker", {})
        rec.wait_event("marker")
    assert rec.events() == ["marker"]
    assert any("bogus" in r.getMessage() for r in caplog.records)


def test_listener_can_be_restarted(notifier: Notifier, listen: StartListener) -> None:
    rec = Recorder(["info"])
    server = listen([rec])
    notifier.info(None, "one", {})
    rec.wait_event("one")
    server.stop()
    server.wait()
    notifier.info(None, "two", {})
    server.start()
    rec.wait_event("two")


# --------------------------------------------------------------------------- filters

def test_filters_select_per_endpoint(ntransport: messaging.Transport, topic: str,
                                     listen: StartListener) -> None:
    by_publisher = Recorder(["info"], filter_rule=NotificationFilter(publisher_id=r"^compute\."))
    by_event = Recorder(["info"], filter_rule=NotificationFilter(event_type=r"instance\.delete"))
    by_context = Recorder(["info"], filter_rule=NotificationFilter(context={"project": "^p1$"}))
    by_metadata = Recorder(["info"], filter_rule=NotificationFilter(
        metadata={"timestamp": r"\d{4}-"}))
    by_payload = Recorder(["info"], filter_rule=NotificationFilter(
        payload={"state": "^active$", "host": {"name": "^h1$"}}))
    everything = Recorder(["info"])
    listen([by_publisher, by_event, by_context, by_metadata, by_payload, everything],
           executor="blocking")

    compute = Notifier(ntransport, "compute.h1", driver="messagingv2", topics=[topic])
    network = Notifier(ntransport, "network.h1", driver="messagingv2", topics=[topic])
    compute.info(Context(project="p1"), "instance.delete",
                 {"state": "active", "host": {"name": "h1"}})
    network.info(Context(project="p10"), "instance.create",
                 {"state": "active-ish", "host": {"name": "h1"}})
    compute.info(None, "instance.update", {"state": "active", "host": "h1"})
    everything.wait(3)

    assert by_publisher.events() == ["instance.delete", "instance.update"]
    assert by_event.events() == ["instance.delete"]
    assert by_context.events() == ["instance.delete"]  # "^p1$" rejects "p10", no context
    assert by_metadata.events() == ["instance.delete", "instance.create", "instance.update"]
    assert by_payload.events() == ["instance.delete"]  # "host" is not a dict in the third


# --------------------------------------------------------------------------- batches

def test_batches_are_cut_at_batch_size(notifier: Notifier, listen: StartListener) -> None:
    for i in range(6):
        notifier.info(None, "e", {"i": i})
    rec = BatchRecorder(["info"])
    listen([rec], batch=True, batch_size=3, batch_timeout=30, executor="blocking")
    batches = rec.wait(6)
    assert [len(b[1]) for b in batches] == [3, 3]
    assert sorted(m["payload"]["i"] for b in batches for m in b[1]) == list(range(6))
    assert set(batches[0][1][0]) == {"ctxt", "publisher_id", "event_type", "payload",
                                     "metadata"}


def test_a_partial_batch_is_dispatched_after_batch_timeout(notifier: Notifier,
                                                           listen: StartListener) -> None:
    notifier.info(None, "e", {"i": 0})
    notifier.info(None, "e", {"i": 1})
    rec = BatchRecorder(["info"])
    started = time.monotonic()
    listen([rec], batch=True, batch_size=100, batch_timeout=0.3)
    [(priority, messages, at)] = rec.wait(2)
    assert (priority, len(messages)) == ("info", 2)
    # Not before batch_timeout (a lower bound only: the upper one depends on the machine).
    assert at - started >= 0.25


def test_batches_are_split_by_priority_and_filtered(ntransport: messaging.Transport,
                                                    notifier: Notifier,
                                                    listen: StartListener) -> None:
    for priority in ("info", "error", "info"):
        getattr(notifier, priority)(None, f"{priority}.event", {})
    notifier.info(None, "skip.me", {})
    rec = BatchRecorder(["info", "error"], filter_rule=NotificationFilter(
        event_type=r"(info|error)\.event$"))
    everything = BatchRecorder(["info", "error"])
    listen([rec, everything], batch=True, batch_size=4, batch_timeout=30)
    everything.wait(4)
    by_priority: dict[str, list[str]] = {}
    for priority, messages, _at in rec.batches:
        by_priority.setdefault(priority, []).extend(m["event_type"] for m in messages)
    assert by_priority == {"info": ["info.event", "info.event"], "error": ["error.event"]}


@pytest.mark.usefixtures("requeue")
def test_a_requeued_batch_is_delivered_again(notifier: Notifier,
                                             listen: StartListener) -> None:
    verdicts = iter([NotificationResult.REQUEUE])
    rec = BatchRecorder(["info"], verdict=lambda messages: next(verdicts, None))
    notifier.info(None, "a", {})
    notifier.info(None, "b", {})
    listen([rec], batch=True, batch_size=2, batch_timeout=30, allow_requeue=True,
           executor="blocking")
    batches = rec.wait(4)
    ids = [m["metadata"]["message_id"] for b in batches for m in b[1]]
    assert sorted(ids[:2]) == sorted(ids[2:])  # the same two, twice


def test_a_raising_batch_endpoint_is_acknowledged_without_allow_requeue(
        notifier: Notifier, listen: StartListener) -> None:
    def explode(messages: list[dict[str, Any]]) -> None:
        if any(m["event_type"] == "boom" for m in messages):
            raise RuntimeError("batch endpoint broke")

    rec = BatchRecorder(["info"], verdict=explode)
    listen([rec], batch=True, batch_size=1, executor="blocking")
    notifier.info(None, "boom", {})
    notifier.info(None, "marker", {})
    rec.wait(2)
    assert [m["event_type"] for _p, b, _at in rec.batches for m in b] == ["boom", "marker"]

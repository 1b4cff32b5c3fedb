"""Tracing and metrics (``[oslo_messaging_tracing]``, ``[oslo_messaging_metrics]``) on the
in-memory driver, with OpenTelemetry's SDK and in-memory exporters: span names, kinds,
attributes and parent links of calls, casts, fanout casts, notifications and legacy calls;
the trace context in the message's context; metric names and values after a known
workload; nothing of OpenTelemetry imported while both are off."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging import _metrics, _tracing
from tests.helpers import wait_for

EXPORTER = InMemorySpanExporter()
READER = InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def providers() -> Iterator[None]:
    """One SDK provider of each kind per process (OpenTelemetry allows setting it once)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        metrics.set_meter_provider(MeterProvider(metric_readers=[READER]))
    yield


def make_conf(tracing: bool = True, metering: bool = True) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([])
    _tracing.register_opts(conf)
    _metrics.register_opts(conf)
    conf.set_override("tracing_enabled", tracing, group=_tracing.GROUP)
    conf.set_override("metrics_enabled", metering, group=_metrics.GROUP)
    return conf


class Endpoint:
    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []
        self.casts = threading.Semaphore(0)

    def add(self, ctxt: dict[str, Any], a: int, b: int) -> int:
        self.contexts.append(dict(ctxt))
        return a + b

    def fail(self, ctxt: dict[str, Any]) -> None:
        raise ValueError("no")

    def record(self, ctxt: dict[str, Any]) -> None:
        self.contexts.append(dict(ctxt))
        self.casts.release()


class Notes:
    def __init__(self) -> None:
        self.got = threading.Semaphore(0)
        self.contexts: list[dict[str, Any]] = []

    def info(self, ctxt: dict[str, Any], publisher_id: str, event_type: str, payload: Any,
             metadata: Any) -> None:
        self.contexts.append(dict(ctxt))
        self.got.release()


def spans_named(name: str) -> list[ReadableSpan]:
    return [s for s in EXPORTER.get_finished_spans() if s.name == name]


def one(name: str) -> ReadableSpan:
    found = wait_for(lambda: spans_named(name), timeout=5, message=f"no span {name!r}")
    assert len(found) == 1, found
    return found[0]


def linked(producer: ReadableSpan, consumer: ReadableSpan) -> bool:
    assert producer.context is not None and consumer.context is not None
    return (consumer.parent is not None
            and consumer.parent.span_id == producer.context.span_id
            and consumer.context.trace_id == producer.context.trace_id)


@pytest.fixture
def rpc() -> Iterator[tuple[messaging.RPCClient, Endpoint, str]]:
    EXPORTER.clear()
    url = f"fake:///telemetry-{uuid.uuid4().hex[:8]}"
    topic = f"t-{uuid.uuid4().hex[:6]}"
    transport = messaging.get_rpc_transport(make_conf(), url)
    endpoint = Endpoint()
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [endpoint])
    server.start()
    try:
        yield (messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=5),
               endpoint, topic)
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def test_a_call_is_one_trace_from_client_to_endpoint(
        rpc: tuple[messaging.RPCClient, Endpoint, str]) -> None:
    client, endpoint, topic = rpc
    assert client.call({"request_id": "req-1"}, "add", a=1, b=2) == 3
    producer, consumer = one(f"{topic}.add"), one("add receive")
    assert producer.kind is trace.SpanKind.PRODUCER
    assert consumer.kind is trace.SpanKind.CONSUMER
    assert linked(producer, consumer)
    assert producer.attributes is not None and consumer.attributes is not None
    assert dict(producer.attributes) == {
        "messaging.system": "fake", "messaging.operation": "call",
        "messaging.destination.name": topic, "rpc.method": "add",
        "openstack.request_id": "req-1"}
    assert consumer.attributes["messaging.operation"] == "receive"
    assert consumer.attributes["rpc.method"] == "add"
    assert consumer.attributes["openstack.request_id"] == "req-1"
    assert "messaging.message.id" in consumer.attributes
    # The W3C trace context travels in the message's context, as oslo.messaging puts it.
    traceparent = endpoint.contexts[-1]["traceparent"]
    assert producer.context is not None
    assert f"{producer.context.trace_id:032x}" in traceparent


def test_casts_fanouts_and_failures(rpc: tuple[messaging.RPCClient, Endpoint, str]) -> None:
    client, endpoint, topic = rpc
    client.cast({}, "record")
    client.prepare(fanout=True).cast({}, "record")
    assert endpoint.casts.acquire(timeout=5) and endpoint.casts.acquire(timeout=5)
    wait_for(lambda: len(spans_named(f"{topic}.record")) == 2
             and len(spans_named("record receive")) == 2, timeout=5, message="cast spans")
    casts, receives = spans_named(f"{topic}.record"), spans_named("record receive")
    assert {s.attributes["messaging.operation"] for s in casts if s.attributes} == {"cast"}
    for consumer in receives:
        assert any(linked(producer, consumer) for producer in casts)
    with pytest.raises(ValueError):
        client.call({}, "fail")
    failed = one(f"{topic}.fail")
    assert failed.status.status_code is trace.StatusCode.ERROR
    assert failed.events and failed.events[0].name == "exception"


def test_a_notification_is_one_trace_from_notifier_to_listener() -> None:
    EXPORTER.clear()
    url = f"fake:///telemetry-{uuid.uuid4().hex[:8]}"
    topic = f"n-{uuid.uuid4().hex[:6]}"
    transport = messaging.get_notification_transport(make_conf(), url)
    notes = Notes()
    listener = messaging.get_notification_listener(transport, [messaging.Target(topic=topic)],
                                                   [notes])
    listener.start()
    try:
        notifier = messaging.Notifier(transport, "svc.host", driver="messagingv2",
                                      topics=[topic])
        notifier.info({"request_id": "req-n"}, "thing.created", {"n": 1})
        assert notes.got.acquire(timeout=5)
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
    producer = one(f"{topic}.info.thing.created")  # the topic of the info priority
    consumer = one("thing.created receive")
    assert linked(producer, consumer)
    assert "traceparent" in notes.contexts[0]


def test_a_legacy_call_is_traced_through_the_same_core(
        rpc: tuple[messaging.RPCClient, Endpoint, str]) -> None:
    from legacy_rpc import rpc as legacy
    from legacy_rpc.messaging import opts as core_opts

    client, _endpoint, topic = rpc
    driver = client.transport._driver
    conf = cfg.CONF
    core_opts.register_transport_opts(conf)
    _tracing.register_opts(conf)
    overrides = [("transport_url", str(driver._url), None),
                 ("tracing_enabled", True, _tracing.GROUP)]
    for name, value, group in overrides:
        conf.set_override(name, value, group=group)
    try:
        legacy.cleanup()
        assert legacy.call({}, topic, {"method": "add", "args": {"a": 2, "b": 2}}) == 4
    finally:
        legacy.cleanup()
        for name, _, group in overrides:
            conf.clear_override(name, group=group)
    assert linked(one(f"{topic}.add"), one("add receive"))


def _points(name: str) -> list[Any]:
    data = READER.get_metrics_data()
    found: list[Any] = []
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


def test_metrics_after_a_known_workload(
        rpc: tuple[messaging.RPCClient, Endpoint, str]) -> None:
    client, endpoint, topic = rpc
    for n in range(3):
        assert client.call({}, "add", a=n, b=1) == n + 1
    client.cast({}, "record")
    assert endpoint.casts.acquire(timeout=5)
    with pytest.raises(ValueError):
        client.call({}, "fail")

    def sent(operation: str, method: str, error: str | None = None) -> int:
        return sum(int(p.value) for p in _points("messaging.client.sent.messages")
                   if p.attributes.get("messaging.destination.name") == topic
                   and p.attributes.get("messaging.operation.name") == operation
                   and p.attributes.get("rpc.method") == method
                   and p.attributes.get("error.type") == error)

    assert sent("call", "add") == 3
    assert sent("cast", "record") == 1
    assert sent("call", "fail", "ValueError_Remote") == 1
    durations = [p for p in _points("messaging.client.operation.duration")
                 if p.attributes.get("messaging.destination.name") == topic
                 and p.attributes.get("rpc.method") == "add"]
    assert sum(p.count for p in durations) == 3
    assert all(p.sum > 0 for p in durations)

    def processed() -> int:
        return sum(int(p.value) for p in _points("messaging.client.consumed.messages")
                   if p.attributes.get("messaging.destination.name") == topic)

    wait_for(lambda: processed() == 5, timeout=5, message=lambda: f"processed {processed()}")


def test_nothing_of_opentelemetry_is_imported_while_both_are_off() -> None:
    code = """
import sys, uuid
from oslo_config import cfg
import legacy_rpc.messaging as messaging
conf = cfg.ConfigOpts(); conf([])
t = messaging.get_rpc_transport(conf, "fake:///off-" + uuid.uuid4().hex)
class E:
    def ping(self, ctxt): return "pong"
s = messaging.get_rpc_server(t, messaging.Target(topic="t", server="s"), [E()]); s.start()
assert messaging.get_rpc_client(t, messaging.Target(topic="t")).call({}, "ping") == "pong"
s.stop(); s.wait(); t.cleanup()
print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"

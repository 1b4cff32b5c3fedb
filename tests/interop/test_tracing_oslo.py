"""One trace across legacy-rpc and an unmodified oslo.messaging 18.3.1, on RabbitMQ, in both
directions: the W3C trace context that one side injects into the message's context is the
parent of the other side's span. oslo.messaging runs in its own process with the
OpenTelemetry SDK and an in-memory exporter, and prints its spans."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging import _tracing
from tests.helpers import wait_for
from tests.infra.fixtures import SharedVhost
from tests.infra.inspect import BrokerInspector

pytestmark = [pytest.mark.interop, pytest.mark.broker]

EXCHANGE = "tracing-interop"
EXPORTER = InMemorySpanExporter()

PEER = r"""
import json, sys, threading, warnings
warnings.simplefilter("ignore")
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
provider = TracerProvider(); provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
import oslo_messaging
from oslo_config import cfg
role, url, exchange, topic = sys.argv[1:5]
cfg.CONF(args=[], default_config_files=[], default_config_dirs=[])
cfg.CONF.set_override("tracing_enabled", True, group="oslo_messaging_tracing")
transport = oslo_messaging.get_rpc_transport(cfg.CONF, url)
def spans():
    return [{"name": s.name, "kind": s.kind.name, "trace_id": s.context.trace_id,
             "span_id": s.context.span_id,
             "parent": s.parent.span_id if s.parent else None,
             "attributes": dict(s.attributes)} for s in exporter.get_finished_spans()]
if role == "server":
    class Endpoint:
        def add(self, ctxt, a, b):
            return a + b
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(exchange=exchange, topic=topic, server="oslo-1"),
        [Endpoint()], executor="threading")
    server.start()
    print(json.dumps({"event": "ready"}), flush=True)
    sys.stdin.readline()
    server.stop(); server.wait()
else:
    client = oslo_messaging.get_rpc_client(
        transport, oslo_messaging.Target(exchange=exchange, topic=topic), timeout=20)
    print(json.dumps({"event": "result", "result": client.call({}, "add", a=2, b=3)}),
          flush=True)
transport.cleanup()
print(json.dumps({"event": "spans", "spans": spans()}), flush=True)
"""


@pytest.fixture(scope="module", autouse=True)
def provider() -> Iterator[None]:
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        current = TracerProvider()
        trace.set_tracer_provider(current)
    current.add_span_processor(SimpleSpanProcessor(EXPORTER))
    yield


def traced_conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([])
    _tracing.register_opts(conf)
    conf.set_override("tracing_enabled", True, group=_tracing.GROUP)
    return conf


def events(proc: subprocess.Popen[str]) -> Iterator[dict[str, Any]]:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("{"):
            yield json.loads(line)


@contextlib.contextmanager
def oslo_server(vhost: SharedVhost, topic: str) -> Iterator[list[dict[str, Any]]]:
    """An oslo.messaging RPC server process on ``topic``, ready when entered; the list
    yielded is filled with its spans once the block ends and the process has stopped."""
    spans: list[dict[str, Any]] = []
    peer = subprocess.Popen([sys.executable, "-c", PEER, "server", vhost.url, EXCHANGE,
                             topic], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        stream = events(peer)
        assert next(stream)["event"] == "ready"
        BrokerInspector.for_rabbitmqctl(vhost=vhost.name).wait_queue(
            topic, timeout=15, consumers=1)
        yield spans
        assert peer.stdin is not None
        peer.stdin.write("quit\n")
        peer.stdin.flush()
        spans.extend(next(stream)["spans"])
    finally:
        try:
            peer.wait(30)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait(10)


def oslo_client_call(vhost: SharedVhost, topic: str) -> dict[str, Any]:
    """Run an oslo.messaging client process calling ``add(a=2, b=3)`` on ``topic``; return
    its producer span after checking the result."""
    proc = subprocess.run([sys.executable, "-c", PEER, "client", vhost.url, EXCHANGE, topic],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines[0] == {"event": "result", "result": 5}
    producer = [s for s in lines[1]["spans"] if s["name"] == f"{topic}.add"]
    assert len(producer) == 1 and producer[0]["kind"] == "PRODUCER"
    span: dict[str, Any] = producer[0]
    return span


def ours(name: str) -> ReadableSpan:
    found = wait_for(lambda: [s for s in EXPORTER.get_finished_spans() if s.name == name],
                     timeout=10, message=f"no span {name!r}")
    assert len(found) == 1
    return found[0]


def test_a_legacy_rpc_call_continues_in_an_oslo_messaging_server(
        shared_vhost: SharedVhost) -> None:
    EXPORTER.clear()
    topic = f"trace-{uuid.uuid4().hex[:8]}"
    with oslo_server(shared_vhost, topic) as theirs:
        transport = messaging.get_rpc_transport(traced_conf(), shared_vhost.url)
        try:
            client = messaging.get_rpc_client(
                transport, messaging.Target(exchange=EXCHANGE, topic=topic), timeout=20)
            assert client.call({}, "add", a=1, b=2) == 3
        finally:
            transport.cleanup()
    producer = ours(f"{topic}.add")
    assert producer.attributes is not None
    assert producer.attributes["messaging.system"] == "rabbitmq"
    receive = [s for s in theirs if s["name"] == "add receive"]
    assert len(receive) == 1, theirs
    assert producer.context is not None
    assert receive[0]["kind"] == "CONSUMER"
    assert receive[0]["trace_id"] == producer.context.trace_id
    assert receive[0]["parent"] == producer.context.span_id


def test_an_oslo_messaging_call_continues_in_a_legacy_rpc_server(
        shared_vhost: SharedVhost) -> None:
    EXPORTER.clear()
    topic = f"trace-{uuid.uuid4().hex[:8]}"

    class Endpoint:
        def add(self, ctxt: dict[str, Any], a: int, b: int) -> int:
            return a + b

    transport = messaging.get_rpc_transport(traced_conf(), shared_vhost.url)
    server = messaging.get_rpc_server(
        transport, messaging.Target(exchange=EXCHANGE, topic=topic, server="ours-1"),
        [Endpoint()])
    server.start()
    try:
        producer = oslo_client_call(shared_vhost, topic)
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
    receive = ours("add receive")
    assert receive.parent is not None and receive.context is not None
    assert receive.context.trace_id == producer["trace_id"]
    assert receive.parent.span_id == producer["span_id"]
    assert receive.attributes is not None
    assert receive.attributes["messaging.system"] == "rabbitmq"


class LegacyManager:
    RPC_API_VERSION = "1.0"

    def add(self, context: Any, a: int, b: int) -> int:
        return a + b


@pytest.fixture
def legacy_on(shared_vhost: SharedVhost) -> Iterator[None]:
    """The legacy API configured as a 2013 service would be (global CONF), traced."""
    from legacy_rpc import rpc
    from legacy_rpc.messaging import opts as core_opts

    conf = cfg.CONF
    core_opts.register_transport_opts(conf)
    _tracing.register_opts(conf)
    overrides = [("transport_url", shared_vhost.url, None),
                 ("control_exchange", EXCHANGE, None),
                 ("tracing_enabled", True, _tracing.GROUP)]
    rpc.cleanup()
    for name, value, group in overrides:
        conf.set_override(name, value, group=group)
    try:
        yield
    finally:
        rpc.cleanup()
        for name, _, group in overrides:
            conf.clear_override(name, group=group)


def test_an_oslo_messaging_call_continues_in_a_2013_style_legacy_service(
        shared_vhost: SharedVhost, legacy_on: None) -> None:
    from legacy_rpc import rpc
    from legacy_rpc.rpc import dispatcher

    EXPORTER.clear()
    topic = f"trace-{uuid.uuid4().hex[:8]}"
    conn = rpc.create_connection(new=True)
    try:
        conn.create_consumer(topic, dispatcher.RpcDispatcher([LegacyManager()]))
        conn.consume_in_thread()
        producer = oslo_client_call(shared_vhost, topic)
    finally:
        conn.close()
    receive = ours("add receive")
    assert receive.parent is not None and receive.context is not None
    assert receive.context.trace_id == producer["trace_id"]
    assert receive.parent.span_id == producer["span_id"]


def test_a_legacy_rpc_call_continues_in_an_oslo_messaging_server_too(
        shared_vhost: SharedVhost, legacy_on: None) -> None:
    from legacy_rpc import rpc

    EXPORTER.clear()
    topic = f"trace-{uuid.uuid4().hex[:8]}"
    with oslo_server(shared_vhost, topic) as theirs:
        assert rpc.call({}, topic, {"method": "add", "args": {"a": 20, "b": 22}},
                        timeout=20) == 42
    producer = ours(f"{topic}.add")
    [receive] = [s for s in theirs if s["name"] == "add receive"]
    assert producer.context is not None
    assert receive["trace_id"] == producer.context.trace_id
    assert receive["parent"] == producer.context.span_id

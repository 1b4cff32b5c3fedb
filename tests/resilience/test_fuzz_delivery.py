"""Property-based fuzzing of the delivery pipeline on the real RabbitMQ.

Hypothesis generates hostile and odd deliveries (``tests/strategies.py``): random bytes,
non-JSON text with long runs of word characters and quotes, JSON of the wrong types,
refused envelopes, requests and notifications with fields of the wrong types, odd but valid
requests (unknown and private methods, ``_timeout`` NaN/Infinity/negative/strings, reply
queues that do not exist), nesting 10,000+ levels deep, 20,000-digit numbers, megabyte
values, corrupt and truncated compressed bodies and compression bombs, plus thousands of
cheap mutants of all of them. They are published raw, in batches, to the three kinds of
consumer at once: a core RPC server (its topic, server and fanout queues), a legacy
``create_consumer`` consumer and a notification listener, with good calls, casts and
notifications interleaved.

After every batch:

- every good call is answered correctly (within a few seconds), every good cast and
  notification is handled;
- every message the wire format refuses is rejected exactly once, in order, per queue
  (matched by the size in the "Rejecting a malformed message" log record), and nothing
  else is rejected: accepted odd requests are dispatched (a failure reply, or nothing);
- no consumer reports itself degraded.

Every few batches and at the end the broker confirms it: each queue has exactly one
consumer and holds no ready or unacknowledged message. Once every consumer has handled one
of each expensive kind (which raises RSS once: freed memory stays with the allocator of the
thread that used it), the fuzzing grows the process RSS by less than
:data:`RSS_GROWTH_LIMIT`; the average CPU per message (the whole process, publisher
included) stays under :data:`CPU_PER_MESSAGE_LIMIT`; the CPU of each expensive kind of
message is measured on its own at the end. The consumers stop promptly (no worker is left
pinned). The figures are printed (``pytest -s``).

The tests at the end of this module are regressions for the three faults this fuzzing
found (a ``_reply_q`` over 255 bytes that desynchronised the publisher's confirm counter; a
body that py-amqp decodes to a lone surrogate, which stayed unacknowledged; a compressed
flood of brackets that cost a second of CPU in the depth check).
"""

from __future__ import annotations

import bz2
import contextlib
import functools
import json
import logging
import random
import re
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import amqp
import pytest
from _pytest.logging import LogCaptureHandler
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc import rpc
from legacy_rpc.messaging.drivers import common
from legacy_rpc.messaging.rpc.server import RPCServer
from legacy_rpc.rpc import common as rpc_common
from tests.helpers import amqp_params, wait_for
from tests.infra.inspect import BrokerInspector, QueueInfo
from tests.legacy.conftest import Janitor, LegacyEnv
from tests.resilience.conftest import Vhost
from tests.strategies import (
    TARGETS,
    FuzzMessage,
    GoodStep,
    Step,
    heavy_messages,
    mutants,
    steps,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow]

TOPIC, SERVER, NOTE_TOPIC = "fuzz", "s1", "fuzznote"
EXCHANGE = "openstack"
CALL_TIMEOUT = 5.0

EXAMPLES = 150         # hypothesis batches (plus the explicit bulk one)
BATCH_MIN, BATCH_MAX = 8, 30  # generated messages per batch
MUTANTS_MAX = 40       # cheap mutants added to a batch
BULK = 2000            # mutants of the one bulk batch
CHECK_BROKER_EVERY = 10
COST_COPIES = 3
WARM_UP_ROUNDS = 2     # of the expensive kinds, to every consumer

RSS_GROWTH_LIMIT = 100 * 1024 * 1024
CPU_PER_MESSAGE_LIMIT = 0.020
# Server CPU of one expensive message (measured alone): linear work over a megabyte, or
# inflating a bomb up to the 32 MiB cap (about 70-100 ms here), with room for slower hosts.
HEAVY_CPU_LIMIT = 0.100
BOMB_CPU_LIMIT = 0.400

REJECTED = re.compile(r"Rejecting a malformed message \((\d+) bytes\) from queue (.+?): ")


# --------------------------------------------------------------------------- measurements

def _status_kb(field_name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field_name} in /proc/self/status")


def rss() -> int:
    """Resident set size of this process, in bytes (VmRSS)."""
    return _status_kb("VmRSS") * 1024


def peak_rss() -> int:
    return _status_kb("VmHWM") * 1024


def forget_captured_logs() -> None:
    """Drop what pytest captured of the logs so far: a failure report then shows the logs of
    the failing batch, not megabytes of earlier ones.

    pytest keeps every record until the test ends, and a record logged with a traceback
    keeps its frames, so every argument of a failed dispatch, alive: thousands of them would
    be counted as the consumers' memory.
    """
    for handler in logging.getLogger().handlers:
        if isinstance(handler, LogCaptureHandler):
            handler.clear()


@dataclass
class Cpu:
    """CPU seconds some work took: the whole process, and all but the test's own thread
    (the consumers' threads: polling, dispatching, replying)."""

    process: float = 0.0
    server: float = 0.0

    @classmethod
    def measure(cls, work: Callable[[], None]) -> Cpu:
        process, own = time.process_time(), time.thread_time()
        work()
        d_process, d_own = time.process_time() - process, time.thread_time() - own
        return cls(d_process, max(0.0, d_process - d_own))


# --------------------------------------------------------------------------- endpoints

class Markers:
    """Markers seen by endpoints (good casts and notifications), waited for by the test."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seen: set[str] = set()

    def add(self, marker: object) -> None:
        if isinstance(marker, str):
            with self._cond:
                self._seen.add(marker)
                self._cond.notify_all()

    def wait(self, marker: str, what: str) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: marker in self._seen, CALL_TIMEOUT):
                raise AssertionError(f"{what} {marker} was not handled in {CALL_TIMEOUT}s")
            self._seen.discard(marker)


class CoreEndpoint:
    def __init__(self, markers: Markers) -> None:
        self._markers = markers

    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        return value

    def record(self, ctxt: dict[str, Any], marker: Any) -> None:
        self._markers.add(marker)


class LegacyManager:
    RPC_API_VERSION = "1.0"

    def echo(self, context: Any, value: Any) -> Any:
        return value


class NotificationEndpoint:
    def __init__(self, markers: Markers) -> None:
        self._markers = markers

    def info(self, ctxt: dict[str, Any], publisher_id: Any, event_type: Any, payload: Any,
             metadata: dict[str, Any]) -> None:
        if isinstance(payload, dict):
            self._markers.add(payload.get("marker"))


class Rejections(logging.Handler):
    """The delivery pipeline's rejections, per queue in order (their logged body sizes),
    and any other error its logger reports (a degraded consumer)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self._mutex = threading.Lock()
        self.sizes: dict[str, list[int]] = defaultdict(list)
        self.other: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        match = REJECTED.match(text)
        with self._mutex:
            if match:
                self.sizes[match.group(2)].append(int(match.group(1)))
            else:
                self.other.append(text[:500])

    def snapshot(self) -> dict[str, int]:
        with self._mutex:
            return {queue: len(sizes) for queue, sizes in self.sizes.items()}

    def since(self, snapshot: dict[str, int]) -> dict[str, list[int]]:
        with self._mutex:
            return {queue: sizes[snapshot.get(queue, 0):]
                    for queue, sizes in self.sizes.items()}


# --------------------------------------------------------------------------- the rig

@dataclass(frozen=True)
class Route:
    exchange: str
    routing_key: str
    queue: str


@dataclass
class Totals:
    messages: int = 0
    rejected: int = 0
    good_steps: int = 0
    batches: int = 0
    cpu: Cpu = field(default_factory=Cpu)
    labels: Counter[str] = field(default_factory=Counter)
    slowest_good_step: float = 0.0
    rss_samples: list[int] = field(default_factory=list)


class Rig:
    """The three consumers, a client of each, a raw publisher and the checks."""

    def __init__(self, routes: dict[str, Route], client: messaging.RPCClient,
                 notifier: messaging.Notifier, legacy_topic: str, markers: Markers,
                 inspector: BrokerInspector, rejections: Rejections,
                 channel: Any) -> None:
        self.routes = routes
        self.client = client
        self.notifier = notifier
        self.legacy_topic = legacy_topic
        self.markers = markers
        self.inspector = inspector
        self.rejections = rejections
        self.channel = channel
        self.legacy_context = rpc_common.CommonRpcContext(user="fuzz")
        self.totals = Totals()
        self.watched = sorted({route.queue for route in routes.values()})

    # ---------------------------------------------------------------- traffic

    def publish(self, message: FuzzMessage) -> None:
        route = self.routes[message.target]
        self.channel.basic_publish(
            amqp.Message(message.body, application_headers=dict(message.headers),
                         content_encoding=message.content_encoding),
            exchange=route.exchange, routing_key=route.routing_key)

    def good(self, target: str) -> None:
        """One well-formed call, cast or notification to ``target``, handled correctly."""
        marker = uuid.uuid4().hex
        started = time.monotonic()
        if target == "rpc-topic":
            assert self.client.call({}, "echo", value=marker) == marker
        elif target == "rpc-server":
            assert self.client.prepare(server=SERVER).call({}, "echo", value=marker) == marker
        elif target == "rpc-fanout":
            self.client.prepare(fanout=True).cast({}, "record", marker=marker)
            self.markers.wait(marker, "fanout cast")
        elif target == "legacy":
            message = {"method": "echo", "args": {"value": marker}}
            assert rpc.call(self.legacy_context, self.legacy_topic, message,
                            timeout=CALL_TIMEOUT) == marker
        else:
            self.notifier.info({}, "fuzz.good", {"marker": marker})
            self.markers.wait(marker, "notification")
        elapsed = time.monotonic() - started
        self.totals.slowest_good_step = max(self.totals.slowest_good_step, elapsed)
        self.totals.good_steps += 1

    # ---------------------------------------------------------------- batches

    def feed(self, batch: Sequence[Step], sync: Sequence[str] = TARGETS,
             record: bool = True) -> Cpu:
        """Publish ``batch`` (good steps run in place), then a good step to each ``sync``
        target, which returns only once every earlier delivery there was handled; check
        the rejections. Return the CPU it took (added to the totals if ``record``)."""
        before = self.rejections.snapshot()
        published: dict[str, list[FuzzMessage]] = defaultdict(list)

        def run() -> None:
            for step in batch:
                if isinstance(step, GoodStep):
                    self.good(step.target)
                else:
                    self.publish(step)
                    published[self.routes[step.target].queue].append(step)
            for target in sync:
                self.good(target)

        cpu = Cpu.measure(run)
        self._check_rejections(published, before)
        if record:
            self._record(cpu, [m for queue in published.values() for m in queue])
        return cpu

    def _record(self, cpu: Cpu, messages: list[FuzzMessage]) -> None:
        totals = self.totals
        totals.batches += 1
        totals.messages += len(messages)
        totals.rejected += sum(m.rejected for m in messages)
        totals.labels.update(m.label for m in messages)
        totals.cpu.process += cpu.process
        totals.cpu.server += cpu.server
        forget_captured_logs()
        totals.rss_samples.append(rss())
        if totals.batches % CHECK_BROKER_EVERY == 0:
            self.check_broker()

    def _check_rejections(self, published: dict[str, list[FuzzMessage]],
                          before: dict[str, int]) -> None:
        expected = {queue: [len(m.received) for m in messages if m.rejected]
                    for queue, messages in published.items()}

        def counts_reached() -> bool:
            seen = self.rejections.since(before)
            return all(len(seen.get(q, [])) >= len(sizes) for q, sizes in expected.items())

        with contextlib.suppress(AssertionError):  # a shortfall is described below
            wait_for(counts_reached, timeout=10)
        seen = self.rejections.since(before)
        for queue in sorted(set(expected) | set(seen)):
            want, got = expected.get(queue, []), seen.get(queue, [])
            if want != got:
                raise AssertionError(_describe_mismatch(queue, want, got,
                                                        published.get(queue, [])))
        assert not self.rejections.other, f"the pipeline reported: {self.rejections.other}"

    def check_broker(self) -> None:
        """Each watched queue has one consumer; no queue of the vhost holds a message."""
        seen: dict[str, QueueInfo] = {}

        def settled(inspector: BrokerInspector) -> bool:
            nonlocal seen
            seen = inspector.queues()
            return (all(seen[q].consumers == 1 for q in self.watched if q in seen)
                    and set(self.watched) <= set(seen)
                    and all(q.messages == 0 for q in seen.values()))

        self.inspector.wait_until(settled, 30, lambda: "queues not settled: " + str(
            {name: (q.consumers, q.messages_ready, q.messages_unacknowledged)
             for name, q in seen.items()
             if q.messages or (name in self.watched and q.consumers != 1)}))

    def cost_of(self, message: FuzzMessage) -> float:
        """Server CPU seconds of one ``message`` (sent :data:`COST_COPIES` times alone)."""
        cpu = self.feed([message] * COST_COPIES, sync=[message.target], record=False)
        return cpu.server / COST_COPIES


def _describe_mismatch(queue: str, want: list[int], got: list[int],
                       published: list[FuzzMessage]) -> str:
    first = next((i for i, (w, g) in enumerate(zip(want, got, strict=False)) if w != g),
                 min(len(want), len(got)))
    lines = [f"queue {queue}: expected {len(want)} rejections, saw {len(got)}; the "
             f"sequences of rejected sizes differ from rejection #{first} "
             f"(expected {want[first:first + 5]}, saw {got[first:first + 5]}). "
             "Published to this queue, in order:"]
    lines += [f"  {i}: {m!r}" for i, m in enumerate(published)]
    return "\n".join(lines)


def make_conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([])
    return conf


@contextlib.contextmanager
def consumers(vhost: Vhost) -> Iterator[Rig]:
    """A core RPC server, a legacy consumer and a notification listener on ``vhost``,
    clients of each, and a raw publisher; stopped at the end, promptly."""
    markers = Markers()
    rejections = Rejections()
    pipeline_log = logging.getLogger(common.__name__)
    with contextlib.ExitStack() as stack:
        pipeline_log.addHandler(rejections)
        stack.callback(pipeline_log.removeHandler, rejections)

        server_transport = messaging.get_rpc_transport(make_conf(), vhost.url)
        stack.callback(server_transport.cleanup)
        server = messaging.get_rpc_server(
            server_transport, messaging.Target(topic=TOPIC, server=SERVER),
            [CoreEndpoint(markers)])
        note_transport = messaging.get_notification_transport(make_conf(), vhost.url)
        stack.callback(note_transport.cleanup)
        listener = messaging.get_notification_listener(
            note_transport, [messaging.Target(topic=NOTE_TOPIC)],
            [NotificationEndpoint(markers)])
        legacy = LegacyEnv("rabbit", vhost.url, Janitor())
        stack.callback(legacy.close)

        server.start()
        listener.start()
        legacy_topic = legacy.topic("fuzz")
        legacy_connection = legacy.consumer(legacy_topic, [LegacyManager()])

        def stop_promptly() -> None:
            # A worker pinned by a reply (or anything else) would hold these up.
            started = time.monotonic()
            for handler in (server, listener):
                handler.stop()
                handler.wait()
            legacy_connection.close()
            elapsed = time.monotonic() - started
            assert elapsed < 5, f"stopping the consumers took {elapsed:.1f}s"

        stack.callback(stop_promptly)

        client_transport = messaging.get_rpc_transport(make_conf(), vhost.url)
        stack.callback(client_transport.cleanup)
        client = messaging.get_rpc_client(client_transport, messaging.Target(topic=TOPIC),
                                          timeout=CALL_TIMEOUT)
        notifier = messaging.Notifier(note_transport, publisher_id="fuzz",
                                      driver="messagingv2", topics=[NOTE_TOPIC])

        publisher = amqp.Connection(**amqp_params(vhost.url), confirm_publish=True)
        publisher.connect()
        stack.callback(publisher.close)

        inspector = BrokerInspector.for_rabbitmqctl(vhost=vhost.name)
        fanout = inspector.wait_until(
            lambda i: next((n for n in i.queues() if n.startswith(f"{TOPIC}_fanout_")), None),
            15, "the server's fanout queue never appeared")
        routes = {
            "rpc-topic": Route(EXCHANGE, TOPIC, TOPIC),
            "rpc-server": Route(EXCHANGE, f"{TOPIC}.{SERVER}", f"{TOPIC}.{SERVER}"),
            "rpc-fanout": Route(f"{TOPIC}_fanout", TOPIC, fanout),
            "legacy": Route(legacy.exchange, legacy_topic, legacy_topic),
            "notify": Route(EXCHANGE, f"{NOTE_TOPIC}.info", f"{NOTE_TOPIC}.info"),
        }
        yield Rig(routes, client, notifier, legacy_topic, markers, inspector, rejections,
                  publisher.channel())


def _interleave(batch: Sequence[Step], extra: Sequence[Step], seed: int) -> list[Step]:
    merged = list(batch)
    rng = random.Random(seed)
    for step in extra:
        merged.insert(rng.randint(0, len(merged)), step)
    return merged


# --------------------------------------------------------------------------- the fuzz test

@pytest.mark.timeout(600)
def test_fuzzed_deliveries_are_rejected_once_and_the_consumers_keep_serving(
        vhost: Vhost) -> None:
    started = time.monotonic()
    heavy = {target: heavy_messages(target) for target in TARGETS}
    with consumers(vhost) as rig:
        for target in TARGETS:
            rig.good(target)
        rig.check_broker()
        before_heavy = rss()
        # The expensive kinds to every consumer first: freed memory stays with the allocator
        # of the thread that used it (glibc arenas, pymalloc), so the first megabyte values
        # and bombs raise RSS for good. Growth after that would be a leak.
        for _ in range(WARM_UP_ROUNDS):
            for target in TARGETS:
                rig.feed(heavy[target], sync=[target])
        rig.check_broker()
        baseline = rss()

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=(Phase.explicit, Phase.generate), print_blob=False,
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
        @given(batch=st.lists(steps(), min_size=BATCH_MIN, max_size=BATCH_MAX),
               mutant_seed=st.integers(0, 2 ** 32 - 1),
               mutant_count=st.integers(0, MUTANTS_MAX))
        @example(batch=[], mutant_seed=20240601, mutant_count=BULK)
        def fuzz(batch: list[Step], mutant_seed: int, mutant_count: int) -> None:
            corpus = [m.body for m in batch if isinstance(m, FuzzMessage) and not m.headers]
            rig.feed(_interleave(batch, mutants(mutant_seed, mutant_count, corpus),
                                 mutant_seed))

        fuzz()
        rig.check_broker()
        totals = rig.totals
        growth = max(totals.rss_samples) - baseline
        costs = {m.label: rig.cost_of(m) for m in heavy["rpc-topic"]}
        rig.check_broker()
    messages, cpu = totals.messages, totals.cpu

    print(f"\nfuzzed {messages} messages in {totals.batches} batches ({totals.rejected} "
          f"rejected, {totals.good_steps} good steps interleaved, slowest "
          f"{totals.slowest_good_step * 1000:.0f} ms) in {time.monotonic() - started:.0f}s")
    print(f"CPU per message: {cpu.process / messages * 1000:.2f} ms (process), "
          f"{cpu.server / messages * 1000:.2f} ms (consumer threads)")
    print(f"RSS: {before_heavy >> 20} MiB before, +{(baseline - before_heavy) >> 20} MiB "
          f"after the expensive kinds, then at most +{growth >> 20} MiB over the fuzzing; "
          f"peak {peak_rss() >> 20} MiB")
    print("server CPU of one message, alone: " + ", ".join(
        f"{label} {seconds * 1000:.1f} ms" for label, seconds in costs.items()))
    print("messages by kind: " + json.dumps(dict(totals.labels.most_common())))

    assert messages >= 4000
    assert cpu.process / messages < CPU_PER_MESSAGE_LIMIT
    assert growth < RSS_GROWTH_LIMIT, f"RSS grew by {growth >> 20} MiB"
    for label, seconds in costs.items():
        limit = BOMB_CPU_LIMIT if label.startswith("bomb") else HEAVY_CPU_LIMIT
        assert seconds < limit, f"one {label} message cost {seconds * 1000:.0f} ms of CPU"


# --------------------------------------------------------------------------- known bugs

@contextlib.contextmanager
def core_server(url: str, topic: str) -> Iterator[tuple[RPCServer, messaging.RPCClient]]:
    transport = messaging.get_rpc_transport(make_conf(), url)
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server=SERVER),
                                      [CoreEndpoint(Markers())])
    client_transport = messaging.get_rpc_transport(make_conf(), url)
    server.start()
    try:
        yield server, messaging.get_rpc_client(client_transport,
                                               messaging.Target(topic=topic),
                                               timeout=CALL_TIMEOUT)
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
        client_transport.cleanup()


def raw_publish(url: str, routing_key: str, body: bytes, **properties: Any) -> None:
    conn = amqp.Connection(**amqp_params(url), confirm_publish=True)
    conn.connect()
    try:
        conn.channel().basic_publish(amqp.Message(body, **properties), exchange=EXCHANGE,
                                     routing_key=routing_key)
    finally:
        conn.close()


def _request(**extra: Any) -> bytes:
    inner = {"method": "echo", "args": {"value": 1}, **extra}
    return json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)}).encode()


def test_a_reply_queue_name_over_255_bytes_does_not_stall_later_replies(vhost: Vhost) -> None:
    url = f"{vhost.url}?kombu_missing_consumer_retry_timeout=3"
    with core_server(url, "longq") as (server, client):
        assert client.call({}, "echo", value=0) == 0
        raw_publish(vhost.url, "longq", _request(_msg_id="m", _reply_q="q" * 256, _timeout=None))
        assert client.call({}, "echo", value=1) == 1  # its reply gets through...
        started = time.monotonic()
        server.stop()
        server.wait()  # ...but the worker that sent it waits for a confirm that never comes
        assert time.monotonic() - started < 1.5


def test_a_body_that_decodes_to_a_lone_surrogate_is_rejected_once(vhost: Vhost) -> None:
    inspector = BrokerInspector.for_rabbitmqctl(vhost=vhost.name)
    rejections = Rejections()
    pipeline_log = logging.getLogger(common.__name__)
    pipeline_log.addHandler(rejections)
    try:
        with core_server(vhost.url, "surrogate") as (_, client):
            assert client.call({}, "echo", value=0) == 0
            raw_publish(vhost.url, "surrogate", b"\\ud800", content_encoding="unicode_escape")
            assert client.call({}, "echo", value=1) == 1
            inspector.wait_queue("surrogate", timeout=5, consumers=1, messages=0)
            assert sum(len(sizes) for sizes in rejections.sizes.values()) == 1
            assert not rejections.other, rejections.other
    finally:
        pipeline_log.removeHandler(rejections)


def _inflate(data: bytes) -> None:
    bz2.decompress(data)


def test_a_compressed_bracket_flood_costs_little_more_than_inflating_it(vhost: Vhost) -> None:
    flood = bz2.compress(b"[" * (30 << 20))
    with core_server(vhost.url, "flood") as (_, client):
        assert client.call({}, "echo", value=0) == 0

        def one_flood() -> None:
            raw_publish(vhost.url, "flood", flood,
                        application_headers={"compression": "application/x-bz2"})
            assert client.call({}, "echo", value=1) == 1

        cpu = Cpu.measure(one_flood)
    # Relative to inflating it here, on the same machine (an absolute budget fails on a
    # slower one): parsing and rejecting what it inflates to must add little, not seconds.
    inflating = Cpu.measure(functools.partial(_inflate, flood)).process
    budget = 3 * inflating + 0.05
    assert cpu.server < budget, (f"one {len(flood)}-byte message cost {cpu.server:.2f}s of "
                                 f"CPU; inflating it costs {inflating:.2f}s")

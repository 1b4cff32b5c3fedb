"""Issue 12 item 4: the kombu ``Connection``'s driver-level methods that Grizzly-era code
called directly, on the legacy connection of every backend (fake and RabbitMQ here).

Messages go through the core's subscriptions: a consumer declared with
``declare_*_consumer`` gets the message dict it was sent (un-enveloped, plus
``_unique_id``); ``consume``/``iterconsume`` handle messages in the calling thread with
bounded waits; ``close()`` leaves no consumer and no unacknowledged message on the broker.
"""

from __future__ import annotations

import importlib
import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oslo_config import cfg

from legacy_rpc import messaging, rpc
from legacy_rpc.rpc import common, dispatcher
from legacy_rpc.rpc._connection import Connection
from tests.helpers import wait_for
from tests.infra.fixtures import ResourceBaseline, SharedVhost
from tests.infra.inspect import BrokerInspector
from tests.legacy.conftest import TIMEOUT, Janitor, LegacyEnv, Recorder

CONF = cfg.CONF
BACKEND_MODULES = {"fake": "legacy_rpc.rpc.impl_fake", "rabbit": "legacy_rpc.rpc.impl_kombu",
                   "qpid": "legacy_rpc.rpc.impl_qpid", "zmq": "legacy_rpc.rpc.impl_zmq"}


def _connect(env: LegacyEnv) -> Connection:
    """A legacy connection (closed at the end of the test)."""
    conn = env.connection()
    assert isinstance(conn, Connection)
    return conn


def _require_pools(env: LegacyEnv) -> None:
    """Skip on a backend without named queues on a topic (when the suite runs such)."""
    check = getattr(env, "require_pools", None)
    if check is not None:
        check()


def _collector(recorder: Recorder) -> Any:
    def callback(message: dict[str, Any]) -> None:
        recorder.add({k: v for k, v in message.items() if k != "_unique_id"})
    return callback


class _Manager:
    RPC_API_VERSION = "1.0"

    def __init__(self) -> None:
        self.seen = Recorder()

    def echo(self, context: Any, value: Any) -> Any:
        self.seen.add(value)
        return value


# --------------------------------------------------------------------------- send/receive

def test_topic_send_receive(legacy: LegacyEnv) -> None:
    topic = legacy.topic()
    recorder = Recorder()
    conn = _connect(legacy)
    assert conn.declare_topic_consumer(topic, _collector(recorder)) is not None
    conn.topic_send(topic, common.serialize_msg({"text": "enveloped"}))
    conn.topic_send(topic, {"text": "bare"}, timeout=0)
    conn.consume(limit=2, timeout=TIMEOUT)
    assert recorder.items == [{"text": "enveloped"}, {"text": "bare"}]


def test_topic_consumers_with_queue_names_each_get_a_copy(legacy: LegacyEnv) -> None:
    _require_pools(legacy)
    topic = legacy.topic()
    recorders = [Recorder(), Recorder()]
    conn = _connect(legacy)
    for i, recorder in enumerate(recorders):
        conn.declare_topic_consumer(topic, _collector(recorder),
                                    queue_name=legacy.queue(f"{topic}-queue{i}"))
    conn.topic_send(topic, {"n": 1})
    conn.consume(limit=2, timeout=TIMEOUT)
    assert [r.items for r in recorders] == [[{"n": 1}], [{"n": 1}]]


def test_topic_consumer_in_another_exchange(legacy: LegacyEnv, context: Any) -> None:
    """``exchange_name`` selects the exchange; a cast to the control exchange does not
    reach it."""
    _require_pools(legacy)
    topic = legacy.topic()
    exchange = f"{legacy.prefix}-other"
    legacy.janitor.exchanges.add(exchange)
    recorder = Recorder()
    conn = _connect(legacy)
    conn.declare_topic_consumer(topic, _collector(recorder), legacy.queue(f"{topic}-other"),
                                exchange)
    sender = _connect(legacy)
    sender.declare_topic_consumer(topic, _collector(Recorder()))  # the control exchange's
    sender.topic_send(topic, {"to": "control"})
    with pytest.raises(common.Timeout):
        conn.consume(limit=1, timeout=0.3)
    assert recorder.items == []


def test_fanout_send_reaches_every_fanout_consumer(legacy: LegacyEnv) -> None:
    topic = legacy.topic()
    recorders = [Recorder(), Recorder()]
    conns = [_connect(legacy), _connect(legacy)]
    for conn, recorder in zip(conns, recorders, strict=True):
        conn.declare_fanout_consumer(topic, _collector(recorder))
    conns[0].fanout_send(topic, {"fan": "out"})
    for conn in conns:
        conn.consume(limit=1, timeout=TIMEOUT)
    assert [r.items for r in recorders] == [[{"fan": "out"}], [{"fan": "out"}]]


def test_direct_send_receive(legacy: LegacyEnv) -> None:
    _require_pools(legacy)
    msg_id = legacy.topic("direct")
    legacy.janitor.exchanges.add(msg_id)
    recorder = Recorder()
    conn = _connect(legacy)
    conn.declare_direct_consumer(msg_id, _collector(recorder))
    conn.direct_send(msg_id, common.serialize_msg({"result": 42}))
    conn.consume(limit=1, timeout=TIMEOUT)
    assert recorder.items == [{"result": 42}]


def test_notify_send_waits_in_its_queue_for_a_consumer(legacy: LegacyEnv) -> None:
    topic = legacy.queue(f"{legacy.topic('notifications')}.info")
    conn = _connect(legacy)
    conn.notify_send(topic, {"event_type": "bare"})
    conn.notify_send(topic, common.serialize_msg({"event_type": "enveloped"}), durable=False)
    recorder = Recorder()
    conn.declare_topic_consumer(topic, _collector(recorder))
    conn.consume(limit=2, timeout=TIMEOUT)
    assert recorder.items == [{"event_type": "bare"}, {"event_type": "enveloped"}]


def test_sent_raw_dict_reaches_a_create_consumer_as_a_request(legacy: LegacyEnv) -> None:
    """Grizzly code built requests itself: ``topic_send`` of ``{method, args}`` is a cast."""
    topic = legacy.topic()
    manager = _Manager()
    conn = _connect(legacy)
    conn.create_consumer(topic, dispatcher.RpcDispatcher([manager]))
    conn.topic_send(topic, {"method": "echo", "args": {"value": 7}, "_context_user": "u"})
    conn.consume(limit=1, timeout=TIMEOUT)
    assert manager.seen.items == [7]


# --------------------------------------------------------------------------- consuming here

def test_consume_serves_a_call_in_the_calling_thread(legacy: LegacyEnv,
                                                     context: Any) -> None:
    topic = legacy.topic()
    manager = _Manager()
    conn = _connect(legacy)
    conn.create_consumer(topic, dispatcher.RpcDispatcher([manager]))
    results: list[Any] = []
    caller = threading.Thread(target=lambda: results.append(rpc.call(
        context, topic, {"method": "echo", "args": {"value": 42}}, timeout=TIMEOUT)))
    caller.start()
    conn.consume(limit=1, timeout=TIMEOUT)
    caller.join(TIMEOUT)
    assert results == [42]


def test_iterconsume_yields_once_per_message(legacy: LegacyEnv) -> None:
    topic = legacy.topic()
    recorder = Recorder()
    conn = _connect(legacy)
    conn.declare_topic_consumer(topic, _collector(recorder))
    for n in range(3):
        conn.topic_send(topic, {"n": n})
    steps = conn.iterconsume(limit=2, timeout=TIMEOUT)
    next(steps)
    assert recorder.items == [{"n": 0}]
    assert list(steps) == [None]
    assert recorder.items == [{"n": 0}, {"n": 1}]
    conn.consume(limit=1, timeout=TIMEOUT)  # the third waited in the queue
    assert recorder.items[-1] == {"n": 2}


def test_consume_timeout_is_bounded(legacy: LegacyEnv) -> None:
    conn = _connect(legacy)
    topics = sorted([legacy.topic(), legacy.topic("fan")])
    conn.declare_topic_consumer(topics[0], _collector(Recorder()))
    conn.declare_fanout_consumer(topics[1], _collector(Recorder()))
    started = time.monotonic()
    with pytest.raises(common.Timeout, match=r"No message within 0\.2s") as caught:
        conn.consume(limit=1, timeout=0.2)
    assert time.monotonic() - started < TIMEOUT
    assert (caught.value.topic, caught.value.method) == (", ".join(topics), "consume")


def test_ack_on_error_false_requeues_for_the_next_consume(legacy: LegacyEnv) -> None:
    legacy.require_requeue()
    topic = legacy.topic()
    attempts: list[int] = []

    def callback(message: dict[str, Any]) -> None:
        attempts.append(message["n"])
        if len(attempts) == 1:
            raise ValueError("first attempt fails")

    conn = _connect(legacy)
    conn.declare_topic_consumer(topic, callback, ack_on_error=False)
    conn.topic_send(topic, {"n": 5})
    conn.consume(limit=2, timeout=TIMEOUT)
    assert attempts == [5, 5]


def test_close_ends_a_consume_without_limit(legacy: LegacyEnv) -> None:
    topic = legacy.topic()
    got = threading.Event()
    errors: list[BaseException] = []
    conn = _connect(legacy)
    conn.declare_topic_consumer(topic, lambda message: got.set())

    def run() -> None:
        try:
            conn.consume()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    consumer = threading.Thread(target=run)
    consumer.start()
    conn.topic_send(topic, {"n": 1})
    assert got.wait(TIMEOUT)
    conn.close()
    consumer.join(TIMEOUT)
    assert not consumer.is_alive() and errors == []


def test_consume_in_thread_takes_over_after_consume(legacy: LegacyEnv) -> None:
    topic = legacy.topic()
    recorder = Recorder()
    conn = _connect(legacy)
    conn.declare_topic_consumer(topic, _collector(recorder))
    conn.topic_send(topic, {"n": 1})
    conn.consume(limit=1, timeout=TIMEOUT)
    conn.consume_in_thread()
    conn.topic_send(topic, {"n": 2})
    assert recorder.wait(2) == [{"n": 1}, {"n": 2}]
    with pytest.raises(RuntimeError, match="consume_in_thread"):
        conn.consume(limit=1, timeout=0.1)


def test_reset_forgets_the_consumers_and_keeps_the_connection(legacy: LegacyEnv) -> None:
    topic = legacy.topic()
    old, new = Recorder(), Recorder()
    conn = _connect(legacy)
    conn.declare_topic_consumer(topic, _collector(old))
    conn.consume_in_thread()
    conn.reset()
    conn.topic_send(topic, {"n": 1})  # waits in the queue: nobody consumes it now
    conn.declare_topic_consumer(topic, _collector(new))
    conn.consume(limit=1, timeout=TIMEOUT)
    assert old.items == [] and new.items == [{"n": 1}]


def test_direct_construction_of_the_backend_connection(legacy: LegacyEnv) -> None:
    """``impl_kombu.Connection(cfg.CONF)`` (``impl_fake`` on fake), as Grizzly code did."""
    module = importlib.import_module(BACKEND_MODULES[legacy.backend])
    topic = legacy.topic()
    recorder = Recorder()
    with module.Connection(CONF) as conn:
        conn.declare_topic_consumer(topic, _collector(recorder))
        conn.topic_send(topic, {"n": 1})
        conn.consume(limit=1, timeout=TIMEOUT)
    assert recorder.items == [{"n": 1}]


def test_backend_connection_with_server_params(legacy: LegacyEnv) -> None:
    """``Connection(conf, server_params)`` talks to the broker they name, on a transport
    of its own that ``close()`` releases."""
    if legacy.backend != "rabbit":
        pytest.skip("server_params name a RabbitMQ broker")
    from legacy_rpc.rpc import impl_kombu

    params = {"hostname": CONF.rabbit_host, "port": CONF.rabbit_port,
              "username": CONF.rabbit_userid, "password": CONF.rabbit_password,
              "virtual_host": CONF.rabbit_virtual_host}
    topic = legacy.topic()
    recorder = Recorder()
    conn = impl_kombu.Connection(CONF, server_params=params)
    assert conn.transport is not legacy.transport
    try:
        conn.declare_topic_consumer(topic, _collector(recorder))
        _connect(legacy).topic_send(topic, {"n": 1})  # through the shared transport
        conn.consume(limit=1, timeout=TIMEOUT)
    finally:
        conn.close()
    assert recorder.items == [{"n": 1}]
    assert conn._own_transport is None


# --------------------------------------------------------------------------- errors

def test_clear_errors(legacy: LegacyEnv) -> None:
    topic = legacy.topic()
    conn = _connect(legacy)
    with pytest.raises(ValueError, match="without consumers"):
        conn.consume(limit=1, timeout=0.1)
    with pytest.raises(ValueError, match="needs a callback"):
        conn.declare_topic_consumer(topic)
    with pytest.raises(TypeError, match=r"topic_send\(\) sends a message dict"):
        conn.topic_send(topic, "a string")
    with pytest.raises(TypeError, match=r"fanout_send\(\) sends a message dict"):
        conn.fanout_send(topic, common.serialize_msg(["a", "list"]))
    with pytest.raises(TypeError, match="unexpected keyword argument 'exchange'"):
        conn.notify_send(topic, {}, exchange="x")
    with pytest.raises(ValueError, match="limit must be"):
        conn.consume(limit=-1)
    conn.close()
    for action in (lambda: conn.topic_send(topic, {}), lambda: conn.notify_send(topic, {}),
                   lambda: conn.declare_fanout_consumer(topic, print),
                   lambda: conn.consume(limit=1), conn.reset):
        with pytest.raises(common.InvalidRPCConnectionReuse):
            action()


# --------------------------------------------------------------------------- ensure

class _Flaky:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, value: int) -> int:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return value


def test_ensure_retries_connection_errors(legacy: LegacyEnv) -> None:
    from legacy_rpc.rpc import impl_kombu  # noqa: F401 - registers the rabbit_* options

    legacy.set("rabbit_retry_interval", 0)
    legacy.set("rabbit_retry_backoff", 0)
    conn = _connect(legacy)
    errors: list[BaseException] = []
    flaky = _Flaky([ConnectionResetError("reset"), RuntimeError("socket timeout")])
    assert conn.ensure(errors.append, flaky, 3) == 3
    assert flaky.calls == 3 and [type(e) for e in errors] == [ConnectionResetError,
                                                              RuntimeError]
    with pytest.raises(KeyError):  # not a connection error: raised at once
        conn.ensure(None, _Flaky([KeyError("k")]), 1)

    legacy.set("rabbit_max_retries", 2)
    always = _Flaky([OSError("refused")] * 5)
    with pytest.raises(common.RPCException, match="after 2 tries: refused"):
        conn.ensure(None, always, 1)
    assert always.calls == 2


# --------------------------------------------------------------------------- broker state

def test_close_leaves_no_consumer_and_nothing_unacknowledged(
        shared_vhost: SharedVhost, inspector: BrokerInspector,
        resource_baseline: ResourceBaseline) -> None:
    env = LegacyEnv("rabbit", shared_vhost.url, Janitor())  # the vhost is deleted anyway
    try:
        topic = env.topic()
        manager = _Manager()
        recorder = Recorder()
        conn = _connect(env)
        conn.declare_topic_consumer(topic, _collector(recorder))
        conn.declare_fanout_consumer(topic, _collector(Recorder()))
        conn.declare_direct_consumer(f"{topic}-direct", _collector(Recorder()))
        conn.create_consumer(f"{topic}-rpc", dispatcher.RpcDispatcher([manager]))
        for n in range(3):
            conn.topic_send(topic, {"n": n})
        conn.consume(limit=1, timeout=TIMEOUT)
        assert recorder.items == [{"n": 0}]
        inspector.wait_until(lambda i: i.consumers_per_queue().get(topic) == 1,
                             message="the topic queue is consumed")
        conn.close()
        inspector.wait_until(lambda i: not i.consumers(), message="no consumer is left")
        inspector.wait_settled()
        queue = inspector.wait_queue(topic, messages_ready=2)
        assert queue.messages_unacknowledged == 0
        fanout = [name for name in inspector.queues() if name.startswith(f"{topic}_fanout_")]
        assert fanout == []  # the fanout consumer's own queue is deleted
    finally:
        env.close()
    resource_baseline.wait_returned(timeout=15)  # threads and sockets given back


def test_close_from_another_thread_during_consume_gives_back_nothing_unacked(
        shared_vhost: SharedVhost, inspector: BrokerInspector) -> None:
    env = LegacyEnv("rabbit", shared_vhost.url, Janitor())
    try:
        topic = env.topic()
        conn = _connect(env)
        conn.declare_topic_consumer(topic, _collector(Recorder()))
        consumer = threading.Thread(target=lambda: conn.consume())
        consumer.start()
        inspector.wait_until(lambda i: i.consumers_per_queue().get(topic) == 1,
                             message="consume() consumes the queue")
        conn.close()
        consumer.join(TIMEOUT)
        assert not consumer.is_alive()
        inspector.wait_until(lambda i: not i.consumers(), message="no consumer is left")
        wait_for(lambda: inspector.unacknowledged() == 0, timeout=TIMEOUT)
    finally:
        env.close()


# --------------------------------------------------------------------------- generated input

_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8)
_envelope_keys = st.fixed_dictionaries({"oslo.version": _values, "oslo.message": _values})


def test_any_message_dict_arrives_as_sent(janitor: Janitor) -> None:
    """Generated messages through ``topic_send``: a dict arrives as it was sent (bare or
    enveloped); anything else, or a broken envelope, is refused with a clear error before
    anything is sent."""
    env = LegacyEnv("fake", None, janitor)
    try:
        topic = env.topic()
        recorder = Recorder()
        conn = _connect(env)
        conn.declare_topic_consumer(topic, _collector(recorder))

        @settings(max_examples=80, deadline=None)
        @given(st.one_of(_values, _envelope_keys), st.booleans())
        def check(value: Any, envelope: bool) -> None:
            plain = isinstance(value, dict) and not {"oslo.version", "oslo.message",
                                                     "_unique_id"} & set(value)
            if plain:
                conn.topic_send(topic, common.serialize_msg(value) if envelope else value)
                conn.consume(limit=1, timeout=TIMEOUT)
                assert recorder.items.pop() == value
                return
            with pytest.raises((TypeError, ValueError, common.RPCException,
                                messaging.MessagingException)):
                conn.topic_send(topic, value)
            with pytest.raises(common.Timeout):  # nothing was sent
                conn.consume(limit=1, timeout=0.01)

        check()
    finally:
        env.close()

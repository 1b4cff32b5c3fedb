"""Spec 9.2: the AMQP suite (``BaseRpcAMQPTestCase``), on fake and on RabbitMQ.

The original reached into driver internals (stubbed ``unpack_context``, ``notify_send``,
``ReplyProxy``, ``CallbackWrapper``); these tests check the same behaviours where they are
observable: on the wire (raw access to the broker) and at the consumers.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest

from legacy_rpc import rpc
from legacy_rpc.rpc import amqp, common
from tests.helpers import wait_for
from tests.legacy.conftest import TIMEOUT, LegacyEnv, Recorder
from tests.legacy.test_9_1_shared_suite import MSG_ECHO_42, Receiver


def _body(data: bytes) -> Any:
    """A received body without its envelope."""
    return common.deserialize_msg(json.loads(data))


def test_9_2_proxycallback_handles_exceptions(legacy: LegacyEnv, context: Any) -> None:
    """Bad messages and failing methods are contained; the consumer keeps serving."""

    class Failing(Receiver):
        def explode(self, ctxt: Any) -> None:
            raise RuntimeError("boom")

    topic = legacy.topic("test")
    legacy.consumer(topic, [Failing()])
    raw = legacy.raw()
    raw.publish(topic, b"this is not JSON")
    raw.publish(topic, json.dumps({"no": "method"}).encode())
    rpc.cast(context, topic, {"method": "explode"})
    rpc.cast(context, topic, {"method": "no_such_method"})
    assert rpc.call(context, topic, dict(MSG_ECHO_42)) == 42


def test_9_2_notification_envelope(legacy: LegacyEnv, context: Any) -> None:
    topic = legacy.topic("notifications") + ".info"
    legacy.queue(topic)
    raw = legacy.raw()
    bodies = raw.collect_routed(legacy.queue(f"{legacy.prefix}-collector"), topic)
    message = {"event_type": "test.event", "priority": "INFO", "payload": {"a": 1},
               "message_id": str(uuid.uuid4()), "publisher_id": "p",
               "timestamp": "2024-01-01 00:00:00"}
    original = dict(message)

    rpc.notify(context, topic, message, envelope=False)
    wait_for(lambda: len(bodies) == 1, TIMEOUT)
    plain = json.loads(bodies[0])
    assert "oslo.version" not in plain
    assert {k: plain[k] for k in message} == message
    assert plain["_context_user"] == "fake_user" and "_unique_id" in plain
    assert message == original  # the caller's dict is not modified (spec 10.3, fixed)

    rpc.notify(context, topic, message, envelope=True)
    wait_for(lambda: len(bodies) == 2, TIMEOUT)
    enveloped = json.loads(bodies[1])
    assert enveloped["oslo.version"] == "2.0"
    assert _body(bodies[1])["event_type"] == "test.event"


def test_9_2_single_reply_queue_caller_on(legacy: LegacyEnv, context: Any) -> None:
    """Requests carry ``_reply_q`` (one reply queue per process) and ``_msg_id``."""
    topic = legacy.topic("collected")
    requests = legacy.raw().collect(topic, bind=True)
    for _ in range(2):
        with pytest.raises(common.Timeout):
            rpc.call(context, topic, dict(MSG_ECHO_42), timeout=1)
    wait_for(lambda: len(requests) == 2, TIMEOUT)
    first, second = (_body(b) for b in requests)
    assert first["_reply_q"].startswith("reply_") and first["_msg_id"]
    assert second["_reply_q"] == first["_reply_q"]
    assert second["_msg_id"] != first["_msg_id"]
    assert first["method"] == "echo" and first["args"] == {"value": 42}
    assert first["_context_user"] == "fake_user"


def test_9_2_single_reply_queue_caller_on_callee_off(legacy: LegacyEnv) -> None:
    """A request without ``_reply_q`` (a pre-Grizzly caller, 1.0 format) is answered on a
    direct exchange named after its msg_id, without ``_msg_id``, in the legacy sequence:
    the value, then an empty ending reply."""
    topic = legacy.topic("test")
    legacy.consumer(topic, [Receiver()])
    msg_id = uuid.uuid4().hex
    raw = legacy.raw()
    replies = raw.collect(legacy.queue(msg_id), direct_exchange=True)
    legacy.janitor.exchanges.add(msg_id)
    request = {"method": "echo", "args": {"value": 42}, "_msg_id": msg_id,
               "_unique_id": uuid.uuid4().hex, "_context_user": "old"}
    raw.publish(topic, json.dumps(request).encode())
    wait_for(lambda: len(replies) == 2, TIMEOUT)
    value, ending = (_body(b) for b in replies)
    assert value["result"] == 42 and not value["failure"] and "ending" not in value
    assert ending["ending"] is True and ending["result"] is None
    assert "_msg_id" not in value and "_msg_id" not in ending


def test_9_2_duplicate_message_check(legacy: LegacyEnv) -> None:
    cache = amqp._MsgIdCache()
    message = {"method": "echo", amqp.UNIQUE_ID: uuid.uuid4().hex}
    cache.check_duplicate_message(message)
    with pytest.raises(common.DuplicateMessageError):
        cache.check_duplicate_message(message)
    cache.check_duplicate_message({"method": "no unique id"})
    cache.check_duplicate_message({"method": "no unique id"})

    # End to end: a message delivered twice (same _unique_id) is handled once.
    legacy.set("rpc_thread_pool_size", 1)  # handle in delivery order
    recorder = Recorder()
    topic = legacy.topic("test")
    legacy.consumer(topic, [Receiver(recorder)])
    raw = legacy.raw()
    request = json.dumps(common.serialize_msg(
        {"method": "echo", "args": {"value": "dup"}, "_unique_id": uuid.uuid4().hex}))
    raw.publish(topic, request.encode())
    raw.publish(topic, request.encode())
    raw.publish(topic, json.dumps({"method": "echo", "args": {"value": "end"}}).encode())
    assert recorder.wait(2) == ["dup", "end"]


def test_9_2_context_dict_type_check(legacy: LegacyEnv) -> None:
    msg: dict[str, Any] = {"method": "echo"}
    amqp.pack_context(msg, {"fake": "context"})
    assert msg == {"method": "echo", "_context_fake": "context"}
    topic = legacy.topic("test")
    legacy.consumer(topic, [Receiver()])
    result = rpc.call({"fake": "context"}, topic, {"method": "context", "args": {"value": 1}})
    assert result == {"fake": "context"}


class _Pool:
    """A ``join_consumer_pool`` callback that fails on chosen attempts."""

    def __init__(self, fail_first: set[str] | None = None) -> None:
        self.fail_first = fail_first or set()
        self.attempts: dict[str, int] = {}
        self.handled = Recorder()
        self.lock = threading.Lock()

    def __call__(self, message: dict[str, Any]) -> None:
        value = message["args"]["value"]
        with self.lock:
            attempt = self.attempts[value] = self.attempts.get(value, 0) + 1
        if value in self.fail_first and attempt == 1:
            raise ValueError(f"failing {value} once")
        self.handled.add(value)


def test_9_2_callback_wrapper_exception_no_wait(legacy: LegacyEnv, context: Any) -> None:
    """ack_on_error=True: a failing callback's message is acknowledged (not redelivered)."""
    legacy.require_pools()
    legacy.set("rpc_thread_pool_size", 1)
    topic = legacy.topic("pool")
    pool = _Pool(fail_first={"a"})
    conn = legacy.connection()
    conn.join_consumer_pool(pool, legacy.queue(f"{topic}-pool"), topic, ack_on_error=True)
    conn.consume_in_thread()
    for value in ("a", "b"):
        rpc.cast(context, topic, {"method": "m", "args": {"value": value}})
    assert pool.handled.wait(1) == ["b"]
    assert pool.attempts == {"a": 1, "b": 1}


def test_9_2_callback_wrapper_exception_wait(legacy: LegacyEnv, context: Any) -> None:
    """ack_on_error=False: a failing callback's message is requeued and delivered again."""
    legacy.require_pools()
    legacy.require_requeue()
    topic = legacy.topic("pool")
    pool = _Pool(fail_first={"a"})
    conn = legacy.connection()
    conn.join_consumer_pool(pool, legacy.queue(f"{topic}-pool"), topic, ack_on_error=False)
    conn.consume_in_thread()
    rpc.cast(context, topic, {"method": "m", "args": {"value": "a"}})
    assert pool.handled.wait(1) == ["a"]
    assert pool.attempts == {"a": 2}


def test_9_2_callback_wrapper_no_exception_wait(legacy: LegacyEnv, context: Any) -> None:
    """ack_on_error=False and a succeeding callback: acknowledged once."""
    legacy.require_pools()
    legacy.require_requeue()
    legacy.set("rpc_thread_pool_size", 1)
    topic = legacy.topic("pool")
    pool = _Pool()
    conn = legacy.connection()
    conn.join_consumer_pool(pool, legacy.queue(f"{topic}-pool"), topic, ack_on_error=False)
    conn.consume_in_thread()
    for value in ("a", "b"):
        rpc.cast(context, topic, {"method": "m", "args": {"value": value}})
    assert pool.handled.wait(2) == ["a", "b"]
    assert pool.attempts == {"a": 1, "b": 1}

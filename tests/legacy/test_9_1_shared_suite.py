"""Spec 9.1: the shared driver suite (``BaseRpcTestCase``), on fake and on RabbitMQ.

Each test drives the module functions of ``legacy_rpc.rpc`` against a consumer created the
legacy way: ``create_connection``, ``create_consumer(topic, RpcDispatcher([...]))``,
``consume_in_thread()``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from legacy_rpc import rpc
from legacy_rpc.rpc import common
from tests.legacy.conftest import TIMEOUT, LegacyEnv, Recorder

MSG_ECHO_42 = {"method": "echo", "args": {"value": 42}}


class Receiver:
    """The methods of the original suite's receiver (made instance methods to record)."""

    def __init__(self, recorder: Recorder | None = None) -> None:
        self.recorder = recorder or Recorder()
        self.release: dict[int, threading.Event] = {}
        self.waiting: list[int] = []
        self.finished: list[int] = []
        self.lock = threading.Lock()
        self.all_waiting = threading.Event()
        self.unblock = threading.Event()

    def echo(self, context: Any, value: Any) -> Any:
        self.recorder.add(value)
        return value

    def synced_echo(self, context: Any, value: int, callid: int) -> int:
        with self.lock:
            self.waiting.append(callid)
            if len(self.waiting) == 3:
                self.all_waiting.set()
        assert self.release[callid].wait(TIMEOUT), f"call {callid} was never released"
        with self.lock:
            self.finished.append(callid)
        return value

    def fortytwo(self, context: Any) -> int:
        self.recorder.add(42)
        return 42

    def context(self, context: Any, value: Any) -> dict[str, Any]:
        result: dict[str, Any] = context.to_dict()
        return result

    def multicall_three_nones(self, context: Any, value: Any) -> Iterator[None]:
        yield None
        yield None
        yield None

    def echo_three_times_yield(self, context: Any, value: int) -> Iterator[int]:
        yield value
        yield value + 1
        yield value + 2

    def fail(self, context: Any, value: Any) -> None:
        raise NotImplementedError(value)

    def block(self, context: Any, value: Any) -> None:
        self.unblock.wait(5)  # the server is slow on purpose; the test releases it


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def test_topic(legacy: LegacyEnv, receiver: Receiver) -> Iterator[str]:
    """A consumer on a ``test`` topic, as the original setUp made it."""
    topic = legacy.topic("test")
    legacy.consumer(topic, [receiver])
    yield topic
    receiver.unblock.set()


def test_9_1_call_succeed(legacy: LegacyEnv, test_topic: str, context: Any) -> None:
    assert rpc.call(context, test_topic, dict(MSG_ECHO_42)) == 42


def test_9_1_call_succeed_despite_missing_args(legacy: LegacyEnv, test_topic: str,
                                               context: Any) -> None:
    assert rpc.call(context, test_topic, {"method": "fortytwo"}) == 42


def test_9_1_call_succeed_despite_multiple_returns_yield(legacy: LegacyEnv, test_topic: str,
                                                         context: Any) -> None:
    msg = {"method": "echo_three_times_yield", "args": {"value": 42}}
    assert rpc.call(context, test_topic, msg) == 44


def test_9_1_multicall_succeed_once(legacy: LegacyEnv, test_topic: str,
                                    context: Any) -> None:
    assert list(rpc.multicall(context, test_topic, dict(MSG_ECHO_42))) == [42]


def test_9_1_multicall_three_nones(legacy: LegacyEnv, test_topic: str, context: Any) -> None:
    msg = {"method": "multicall_three_nones", "args": {"value": 42}}
    assert list(rpc.multicall(context, test_topic, msg)) == [None, None, None]


def test_9_1_multicall_succeed_three_times_yield(legacy: LegacyEnv, test_topic: str,
                                                 context: Any) -> None:
    msg = {"method": "echo_three_times_yield", "args": {"value": 42}}
    values = rpc.multicall(context, test_topic, msg)
    assert next(values) == 42  # values come one by one, not as a list at the end
    assert list(values) == [43, 44]


def test_9_1_context_passed(legacy: LegacyEnv, test_topic: str, context: Any) -> None:
    msg = {"method": "context", "args": {"value": 42}}
    assert rpc.call(context, test_topic, msg) == context.to_dict()
    assert context.to_dict() == {"user": "fake_user", "pw": "fake_pw"}


def test_9_1_cast_success(legacy: LegacyEnv, test_topic: str, context: Any) -> None:
    nested = Receiver()
    topic = legacy.topic("nested")
    legacy.consumer(topic, [nested])
    assert rpc.cast(context, topic, dict(MSG_ECHO_42)) is None
    assert nested.recorder.wait(1, timeout=2) == [42]


def test_9_1_fanout_success(legacy: LegacyEnv, context: Any) -> None:
    topic = legacy.topic("fanout")
    receivers = [Receiver(), Receiver()]
    for receiver in receivers:
        legacy.consumer(topic, [receiver], fanout=True)
    assert rpc.fanout_cast(context, topic, dict(MSG_ECHO_42)) is None
    for receiver in receivers:  # every fanout consumer gets a copy
        assert receiver.recorder.wait(1) == [42]


def test_9_1_cast_success_despite_missing_args(legacy: LegacyEnv, context: Any) -> None:
    topic = legacy.topic("fanout")
    receiver = Receiver()
    legacy.consumer(topic, [receiver], fanout=True)
    rpc.fanout_cast(context, topic, {"method": "fortytwo"})
    assert receiver.recorder.wait(1) == [42]


def test_9_1_nested_calls(legacy: LegacyEnv, test_topic: str, context: Any) -> None:
    class Nested:
        def echo(self, ctxt: Any, queue: str, value: Any) -> Any:
            # A blocking call from inside a handler, through the same process's reply queue.
            result = rpc.call(ctxt, queue, {"method": "echo", "args": {"value": value}})
            return result

    nested_topic = legacy.topic("nested")
    legacy.consumer(nested_topic, [Nested()])
    msg = {"method": "echo", "args": {"queue": test_topic, "value": 42}}
    assert rpc.call(context, nested_topic, msg) == 42


def test_9_1_call_timeout(legacy: LegacyEnv, test_topic: str, context: Any) -> None:
    msg = {"method": "block", "args": {"value": 42}}
    with pytest.raises(common.Timeout):
        rpc.call(context, test_topic, msg, timeout=1)
    try:
        rpc.call(context, test_topic, msg, timeout=1)
    except common.Timeout as exc:
        assert exc.topic == test_topic and exc.method == "block"
    else:
        pytest.fail("no Timeout raised")


def test_9_1_multithreaded_resp_routing(legacy: LegacyEnv, test_topic: str,
                                        receiver: Receiver, context: Any) -> None:
    receiver.release = {i: threading.Event() for i in (1, 2, 3)}
    results: dict[int, Any] = {}
    done_at: dict[int, float] = {}

    def caller(value: int) -> None:
        msg = {"method": "synced_echo", "args": {"value": value, "callid": value}}
        results[value] = rpc.call(context, test_topic, msg)
        done_at[value] = time.monotonic()

    threads = [threading.Thread(target=caller, args=(i,)) for i in (1, 2, 3)]
    for thread in threads:
        thread.start()
    # All three handlers block at the same time: dispatch is concurrent.
    assert receiver.all_waiting.wait(TIMEOUT), f"waiting: {receiver.waiting}"
    for callid in (3, 1, 2):
        receiver.release[callid].set()
        threads[callid - 1].join(TIMEOUT)
    assert results == {1: 1, 2: 2, 3: 3}  # each caller got its own reply
    assert receiver.finished == [3, 1, 2]
    assert done_at[3] < done_at[1] < done_at[2]

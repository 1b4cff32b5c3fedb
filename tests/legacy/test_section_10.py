"""Spec section 10: behaviours a drop-in replacement must get right, and the original's
bugs this one fixes (listed in migration_guide/legacy_drop_in.md), on fake and RabbitMQ."""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

import pytest

from legacy_rpc import rpc
from legacy_rpc.rpc import common
from tests.legacy.conftest import LegacyEnv, Recorder
from tests.legacy.test_9_1_shared_suite import MSG_ECHO_42, Receiver


def test_10_3_message_dict_not_modified(legacy: LegacyEnv, context: Any) -> None:
    """The original added _msg_id, _reply_q, _unique_id and _context_* to the caller's
    dict, so a reused dict carried a stale _msg_id; the dict is left alone now."""
    topic = legacy.topic("test")
    legacy.consumer(topic, [Receiver()])
    msg = {"method": "echo", "args": {"value": 42}}
    before = copy.deepcopy(msg)
    assert rpc.call(context, topic, msg) == 42
    assert list(rpc.multicall(context, topic, msg)) == [42]
    rpc.cast(context, topic, msg)
    assert msg == before
    assert rpc.call(context, topic, msg) == 42  # and it can be reused


def test_10_4_context_round_trip(legacy: LegacyEnv) -> None:
    """Dict or to_dict() contexts; keys become strings, tuples come back as lists."""
    topic = legacy.topic("test")
    legacy.consumer(topic, [Receiver()])
    ctxt = {"user": "u", "roles": ("admin", "member"), "is_admin": True, "n": None}
    result = rpc.call(ctxt, topic, {"method": "context", "args": {"value": 1}})
    assert result == {"user": "u", "roles": ["admin", "member"], "is_admin": True, "n": None}


def test_10_4_server_context_object(legacy: LegacyEnv, context: Any) -> None:
    """The server's context has attribute access, elevated(), deepcopy() and a store."""
    seen = Recorder()

    class Manager:
        def inspect(self, ctxt: Any) -> dict[str, Any]:
            elevated = ctxt.elevated(read_deleted="yes")
            seen.add(common.current_context() is ctxt)
            return {"user": ctxt.user, "elevated": elevated.to_dict(),
                    "copy": ctxt.deepcopy().to_dict(), "is_call": ctxt.msg_id is not None}

    topic = legacy.topic("test")
    legacy.consumer(topic, [Manager()])
    result = rpc.call(context, topic, {"method": "inspect"})
    assert result["user"] == "fake_user"
    assert result["elevated"] == {"user": "fake_user", "pw": "fake_pw", "is_admin": True,
                                  "roles": ["admin"], "read_deleted": "yes"}
    assert result["copy"] == context.to_dict()
    assert result["is_call"] is True
    assert seen.items == [True]


@pytest.mark.parametrize("module", ["exceptions", "builtins"])
def test_10_5_builtin_exception_module_names(module: str) -> None:
    """Python 2's ``exceptions`` and Python 3's ``builtins`` are both understood."""

    class Conf:
        allowed_rpc_exception_modules = ["exceptions"]

    failure = {"class": "KeyError", "module": module, "message": "'k'", "tb": ["tb line"],
               "args": ["k"], "kwargs": {}}
    exc = common.deserialize_remote_exception(Conf(), json.dumps(failure))
    assert isinstance(exc, KeyError) and exc.args[0] == "k" and "tb line" in str(exc)


def test_10_6_generator_results_and_none(legacy: LegacyEnv, context: Any) -> None:
    """An empty generator: call returns None. multicall yields one None, not nothing (the
    only reply, an empty ending, reads on the wire exactly like oslo.messaging's single
    reply of a None result; documented in the migration guide). A failure after some
    values is raised during the iteration, after those values."""

    class Manager:
        def empty(self, ctxt: Any) -> Any:
            yield from ()

        def broken(self, ctxt: Any) -> Any:
            yield 1
            raise ValueError("half way")

    legacy.set("allowed_rpc_exception_modules", ["exceptions"])
    topic = legacy.topic("test")
    legacy.consumer(topic, [Manager()])
    assert rpc.call(context, topic, {"method": "empty"}) is None
    assert list(rpc.multicall(context, topic, {"method": "empty"})) == [None]
    values = rpc.multicall(context, topic, {"method": "broken"})
    assert next(values) == 1
    with pytest.raises(ValueError, match="half way"):
        next(values)


def test_10_14_missing_method(legacy: LegacyEnv, context: Any) -> None:
    """A request without a method is logged and dropped; the caller times out; the consumer
    goes on serving."""
    topic = legacy.topic("test")
    legacy.consumer(topic, [Receiver()])
    with pytest.raises(common.Timeout):
        rpc.call(context, topic, {"args": {}}, timeout=1)
    assert rpc.call(context, topic, dict(MSG_ECHO_42)) == 42


def test_10_17_fanout_reaches_only_fanout_consumers(legacy: LegacyEnv, context: Any) -> None:
    """The original fake delivered fanout_cast to every consumer of the topic; like a real
    broker, only fanout consumers get it (and casts reach one shared consumer)."""
    topic = legacy.topic("test")
    shared = Receiver()
    fanout = Receiver()
    legacy.consumer(topic, [shared])
    legacy.consumer(topic, [fanout], fanout=True)
    rpc.fanout_cast(context, topic, {"method": "echo", "args": {"value": "fanout"}})
    rpc.cast(context, topic, {"method": "echo", "args": {"value": "cast"}})
    assert fanout.recorder.wait(1) == ["fanout"]
    assert shared.recorder.wait(1) == ["cast"]


def test_10_7_consume_in_thread_is_a_real_thread(legacy: LegacyEnv) -> None:
    import threading

    conn = legacy.connection()
    conn.create_consumer(legacy.topic("test"), Receiver())
    thread = conn.consume_in_thread()
    assert isinstance(thread, threading.Thread) and thread.is_alive()
    assert conn.consume_in_thread() is thread
    conn.close()
    assert not thread.is_alive()
    with pytest.raises(common.InvalidRPCConnectionReuse):
        conn.create_consumer(legacy.topic("other"), Receiver())


def test_10_7_connection_context_manager(legacy: LegacyEnv, context: Any) -> None:
    topic = legacy.topic("test")
    with rpc.create_connection() as conn:
        from legacy_rpc.rpc import dispatcher

        conn.create_consumer(topic, dispatcher.RpcDispatcher([Receiver()]))
        conn.consume_in_thread()
        assert rpc.call(context, topic, dict(MSG_ECHO_42)) == 42
    with pytest.raises(common.Timeout):  # closed: nobody consumes any more
        rpc.call(context, topic, dict(MSG_ECHO_42), timeout=1)


def test_10_7_no_eventlet_imported() -> None:
    """The legacy API needs no eventlet: importing all of it loads none."""
    import subprocess

    code = ("import sys\n"
            "from legacy_rpc import rpc\n"
            "from legacy_rpc.rpc import amqp, common, dispatcher, impl_fake, impl_kombu, "
            "impl_qpid, impl_zmq, proxy, serializer, service\n"
            "from legacy_rpc.notifier import api, log_notifier, no_op_notifier, proxy, "
            "rpc_notifier, rpc_notifier2, test_notifier\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'eventlet'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_10_7_close_from_a_handler(legacy: LegacyEnv, context: Any) -> None:
    """A method may close its own connection (e.g. a ``stop`` RPC): no deadlock; the
    consumer thread ends once the method returned."""
    import threading

    from legacy_rpc.rpc import dispatcher
    from tests.helpers import wait_for

    closed = threading.Event()
    holder: dict[str, Any] = {}

    class Manager:
        def stop(self, ctxt: Any) -> None:
            holder["conn"].close()
            closed.set()

    topic = legacy.topic("test")
    conn = holder["conn"] = legacy.connection()
    conn.create_consumer(topic, dispatcher.RpcDispatcher([Manager()]))
    thread = conn.consume_in_thread()
    rpc.cast(context, topic, {"method": "stop"})
    assert closed.wait(10)
    wait_for(lambda: not thread.is_alive(), 10, message="the consumer thread did not end")

"""The start/stop/wait ordering of MessageHandlingServer, on the fake driver."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging.server import TaskTimeout


class Endpoint:
    def ping(self, ctxt: dict[str, Any]) -> str:
        return "pong"


@pytest.fixture
def transport() -> Any:
    conf = cfg.ConfigOpts()
    conf([])
    t = messaging.get_rpc_transport(conf, f"fake:///test-{uuid.uuid4().hex}")  # a vhost of its own
    yield t
    t.cleanup()


def make_server(transport: messaging.Transport, **kwargs: Any) -> messaging.RPCServer:
    return messaging.get_rpc_server(transport, messaging.Target(topic="t", server="s"),
                                    [Endpoint()], **kwargs)


def ping(transport: messaging.Transport, timeout: float = 5) -> str:
    client = messaging.get_rpc_client(transport, messaging.Target(topic="t"), timeout=timeout)
    return str(client.call({}, "ping"))


def test_second_start_is_a_harmless_no_op(transport: messaging.Transport,
                                          caplog: pytest.LogCaptureFixture) -> None:
    srv = make_server(transport)
    srv.start()
    srv.start()
    assert "already running" in caplog.text
    assert ping(transport) == "pong"
    srv.stop()
    srv.wait()


def test_stop_and_wait_are_idempotent(transport: messaging.Transport) -> None:
    srv = make_server(transport)
    srv.start()
    srv.stop()
    srv.stop()
    srv.wait()
    srv.wait()


def test_wait_blocks_until_stop_from_another_thread(transport: messaging.Transport) -> None:
    srv = make_server(transport)
    srv.start()
    waited = threading.Event()

    def waiter() -> None:
        srv.wait()
        waited.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    assert not waited.wait(0.2), "wait() returned before stop()"  # bounded negative check
    srv.stop()
    assert waited.wait(10)
    thread.join(10)


def test_stop_waits_for_a_concurrent_start(transport: messaging.Transport) -> None:
    srv = make_server(transport)
    stopped = threading.Event()
    thread = threading.Thread(target=lambda: (srv.stop(), stopped.set()))
    thread.start()
    assert not stopped.wait(0.2), "stop() returned before start()"  # bounded negative check
    srv.start()
    assert stopped.wait(10)
    srv.wait()
    thread.join(10)


def test_stop_before_start_times_out_when_asked(transport: messaging.Transport) -> None:
    srv = make_server(transport)
    with pytest.raises(TaskTimeout):
        srv.stop(timeout=0.1)


def test_restart_after_stop_without_wait(transport: messaging.Transport) -> None:
    srv = make_server(transport)
    srv.start()
    srv.stop()
    srv.start()
    assert ping(transport) == "pong"
    srv.stop()
    srv.wait()


def test_unknown_executor_is_refused(transport: messaging.Transport) -> None:
    with pytest.raises(messaging.ExecutorLoadFailure) as err:
        make_server(transport, executor="gevent")
    assert "threading" in str(err.value)


def test_eventlet_executor_is_deprecated_and_runs_on_threads(
        transport: messaging.Transport) -> None:
    with pytest.warns(DeprecationWarning, match="eventlet"):
        srv = make_server(transport, executor="eventlet")
    assert srv.executor_type == "eventlet"  # as oslo.messaging reports it
    srv.start()
    try:
        assert ping(transport) == "pong"
    finally:
        srv.stop()
        srv.wait()


def test_override_pool_size_bounds_concurrency(transport: messaging.Transport) -> None:
    inside = threading.Semaphore(0)
    release = threading.Event()
    concurrent = []
    lock = threading.Lock()
    active = [0]

    class Blocking:
        def block(self, ctxt: dict[str, Any]) -> None:
            with lock:
                active[0] += 1
                concurrent.append(active[0])
            inside.release()
            release.wait(10)
            with lock:
                active[0] -= 1

    srv = messaging.get_rpc_server(transport, messaging.Target(topic="p", server="s"),
                                   [Blocking()])
    srv.start(override_pool_size=2)
    client = messaging.get_rpc_client(transport, messaging.Target(topic="p"))
    for _ in range(4):
        client.cast({}, "block")
    assert inside.acquire(timeout=10) and inside.acquire(timeout=10)
    assert not inside.acquire(timeout=0.2)  # bounded negative check: a third cannot start
    release.set()
    srv.stop()
    srv.wait()
    assert max(concurrent) == 2

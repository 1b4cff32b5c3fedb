"""The amqp1 driver's thread hand-overs (issue 10): the I/O thread's wake-up, RPC requests
accepted by the I/O thread as they arrive, calls that do not wait for their request's
outcome, and credit given back in batches. Stubs stand in for proton where the logic is
the driver's own; the broker tests check the same paths end to end."""

from __future__ import annotations

import concurrent.futures
import json
import os
import sys
import threading
import time
import uuid
from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging import wire
from legacy_rpc.messaging.exceptions import MessageDeliveryFailure, MessagingTimeout
from tests.helpers import wait_for

pytest.importorskip("proton", reason="python-qpid-proton (legacy-rpc[amqp1]) is missing")
from proton import Delivery

from legacy_rpc.messaging.drivers.amqp1 import _listeners
from legacy_rpc.messaging.drivers.amqp1._connection import Incoming, Outgoing, Subscriber, _Waker
from legacy_rpc.messaging.drivers.amqp1._errors import BrokerRefused, PublishOutcomeUnknown


def _conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([])
    return conf


# --------------------------------------------------------------------------- the waker

def _pending_bytes(waker: _Waker) -> bytes:
    try:
        return os.read(waker.fileno(), 512)
    except BlockingIOError:
        return b""


def test_a_burst_of_wakes_writes_once_until_the_io_thread_ran() -> None:
    ran: list[int] = []
    waker = _Waker(lambda: ran.append(1))
    try:
        for _ in range(5):
            waker.wake()
        assert _pending_bytes(waker) == b"!"

        class Event:
            context = None

        waker.on_selectable_readable(Event())  # the I/O thread: clears, then runs
        assert ran == [1] and not waker.pending
        waker.wake()  # a task queued after the run wakes it again
        assert _pending_bytes(waker) == b"!"
    finally:
        waker.close()


def test_no_wake_up_is_lost_when_tasks_race_the_io_thread() -> None:
    """Producers queue tasks and wake while an emulated I/O thread selects on the pipe and
    runs them: every task runs, and the pipe never stays empty while ``pending`` is set (a
    lost wake-up would leave tasks queued with nothing to select on)."""
    import collections
    import select

    tasks: collections.deque[int] = collections.deque()
    done: list[int] = []

    def run() -> None:
        while tasks:
            done.append(tasks.popleft())

    waker = _Waker(run)
    total = 60000

    def produce(start: int) -> None:
        for i in range(start, total, 2):
            tasks.append(i)
            waker.wake()
            time.sleep(0)  # let the I/O thread run between wakes

    class Event:
        context = None

    producers = [threading.Thread(target=produce, args=(k,)) for k in (0, 1)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: widen every race
    try:
        for producer in producers:
            producer.start()
        deadline = time.monotonic() + 30
        while len(done) < total and time.monotonic() < deadline:
            readable, _, _ = select.select([waker.fileno()], [], [], 1.0)
            if readable:
                waker.on_selectable_readable(Event())
            else:
                assert not (tasks and waker.pending), "a wake-up was lost"
        assert len(done) == total
    finally:
        sys.setswitchinterval(interval)
        for producer in producers:
            producer.join()
        waker.close()


def test_a_closed_waker_ignores_wakes_and_closes_its_pipe_once() -> None:
    waker = _Waker(lambda: None)
    fd = waker.fileno()
    waker.close()
    waker.close()
    waker.wake()  # no write to a closed (maybe reused) descriptor
    assert not waker.pending
    with pytest.raises(OSError):
        os.fstat(fd)


# --------------------------------------------------------------------------- RPC listener

class _StubConnection:
    """The connection methods a listener uses, recording settlements."""

    def __init__(self) -> None:
        self.here: list[tuple[int, int]] = []
        self.disposed: list[tuple[int, int]] = []
        self.degraded = None

    def subscribe(self, sub: Any) -> None:
        pass

    def set_active(self, sub: Any, active: bool) -> None:
        pass

    def settle_here(self, incoming: Incoming, outcome: int) -> bool:
        self.here.append((incoming.key, outcome))
        return True

    def dispose(self, incoming: Incoming, outcome: int) -> concurrent.futures.Future[bool]:
        self.disposed.append((incoming.key, outcome))
        future: concurrent.futures.Future[bool] = concurrent.futures.Future()
        future.set_result(True)
        return future


class _StubDriver:
    def __init__(self) -> None:
        self.conn = _StubConnection()

    def new_connection(self, role: str) -> _StubConnection:
        return self.conn


def _request(key: int) -> Incoming:
    body = wire.encode_body(wire.build_request({}, {"method": "m", "args": {}}))
    return Incoming(body, "/queue/t", 1, key)


def _listener() -> tuple[_listeners.RpcListener, _StubConnection]:
    driver: Any = _StubDriver()
    return _listeners.RpcListener(driver, ["/queue/t"], 10), driver.conn


def test_a_request_is_accepted_by_the_io_thread_as_it_arrives() -> None:
    listener, conn = _listener()
    listener.start()
    listener._on_incoming(_request(1))
    assert conn.here == [(1, Delivery.ACCEPTED)]
    [message] = listener.poll(timeout=1)
    assert message.message["method"] == "m"
    assert conn.disposed == []  # no second hand-over to settle it


def test_a_request_arriving_while_stopped_stays_unsettled_until_polled_after_start() -> None:
    listener, conn = _listener()
    listener.start()
    listener.stop()
    listener._on_incoming(_request(2))
    assert conn.here == []  # the broker takes it back if the listener is cleaned up
    listener.start()
    [message] = listener.poll(timeout=1)
    assert conn.disposed == [(2, Delivery.ACCEPTED)]
    assert message.message["method"] == "m"


def test_a_malformed_request_is_rejected_by_the_io_thread_and_never_polled() -> None:
    listener, conn = _listener()
    listener.start()
    listener._on_incoming(Incoming(b"{not json", "/queue/t", 1, 3))
    assert conn.here == [(3, Delivery.REJECTED)]
    assert listener.poll(timeout=0.05) == []


def test_a_request_accepted_before_stop_is_still_polled_after_it() -> None:
    listener, conn = _listener()
    listener.start()
    listener._on_incoming(_request(4))
    listener.stop()
    [message] = listener.poll(timeout=0)
    assert conn.here == [(4, Delivery.ACCEPTED)] and message.message["method"] == "m"


# --------------------------------------------------------------------------- calls

class _NeverSettled:
    """A send connection that takes sends and never settles them (no broker)."""

    def __init__(self) -> None:
        self.futures: list[concurrent.futures.Future[None]] = []

    def send(self, address: str, outgoing: Any, retry: Any = None, optional: bool = False
             ) -> concurrent.futures.Future[None]:
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.futures.append(future)
        return future

    def subscribe(self, sub: Any) -> None:
        pass

    def unsubscribe(self, sub: Any) -> None:
        pass

    def close(self, timeout: float = 0) -> None:
        pass


def _stubbed_transport(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, _NeverSettled]:
    transport = messaging.get_rpc_transport(_conf(), "amqp1://127.0.0.1:1/")
    stub = _NeverSettled()
    monkeypatch.setattr(transport._driver, "send_connection", lambda: stub)
    return transport, stub


def test_a_call_that_times_out_withdraws_its_request(monkeypatch: pytest.MonkeyPatch) -> None:
    transport, stub = _stubbed_transport(monkeypatch)
    client = messaging.get_rpc_client(transport, messaging.Target(topic="t"), timeout=0.2)
    with pytest.raises(MessagingTimeout):
        client.call({}, "m")
    [future] = stub.futures
    assert future.cancelled()  # not sent if a connection comes later


def test_a_refused_request_fails_its_call_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    transport, stub = _stubbed_transport(monkeypatch)
    client = messaging.get_rpc_client(transport, messaging.Target(topic="t"), timeout=30)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            client.call({}, "m")
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    started = time.monotonic()
    caller.start()
    wait_for(lambda: stub.futures, message="the request was not sent")
    stub.futures[0].set_exception(BrokerRefused("refused", "amqp:not-allowed"))
    caller.join(10)
    assert not caller.is_alive()
    assert isinstance(outcome[0], MessageDeliveryFailure)
    assert time.monotonic() - started < 10  # far from its 30 s timeout


def test_an_unknown_outcome_keeps_the_call_waiting_for_its_reply(
        monkeypatch: pytest.MonkeyPatch) -> None:
    transport, stub = _stubbed_transport(monkeypatch)
    client = messaging.get_rpc_client(transport, messaging.Target(topic="t"), timeout=0.5)
    done = threading.Event()

    def lose() -> None:
        wait_for(lambda: stub.futures, message="the request was not sent")
        stub.futures[0].set_exception(PublishOutcomeUnknown("lost"))
        done.set()

    threading.Thread(target=lose).start()
    with pytest.raises(MessagingTimeout):  # waited for the reply, not failed at the loss
        client.call({}, "m")
    assert done.is_set()


# --------------------------------------------------------------------------- on a broker

@pytest.mark.broker
@pytest.mark.parametrize("credit", [1, 3])
def test_small_credit_windows_keep_flowing(amqp1_url: str, credit: int) -> None:
    """Credit comes back in batches (half a window): with tiny windows, more messages than
    the window still all arrive."""
    url = f"{amqp1_url}?rpc_server_credit={credit}&reply_link_credit={credit}"
    transport = messaging.get_rpc_transport(_conf(), url)
    got: list[int] = []

    class Endpoint:
        def poke(self, ctxt: dict[str, Any], i: int) -> None:
            got.append(i)

        def echo(self, ctxt: dict[str, Any], i: int) -> int:
            return i

    target = messaging.Target(topic=f"handover-{uuid.uuid4().hex[:8]}", server="s1")
    server = messaging.get_rpc_server(transport, target, [Endpoint()])
    server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic=target.topic),
                                          timeout=20)
        for i in range(12):
            client.cast({}, "poke", i=i)
        assert [client.call({}, "echo", i=i) for i in range(12)] == list(range(12))
        wait_for(lambda: len(got) == 12, message=lambda: f"casts dispatched: {got}")
        assert sorted(got) == list(range(12))
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


@pytest.mark.broker
def test_sends_from_many_threads_arrive_in_each_threads_order(amqp1_url: str) -> None:
    """A send is written by the sending thread itself when the I/O thread waits for its
    sockets, else by the I/O thread: with 4 threads racing each other and the I/O thread,
    both happen, every send is settled, and each thread's messages arrive in its order."""
    transport = messaging.get_rpc_transport(_conf(), amqp1_url)
    driver: Any = transport._driver
    queue = f"/queue/handover-{uuid.uuid4().hex[:8]}"
    got: list[tuple[int, int]] = []
    receiving = driver.new_connection("test-receiver")

    def on_incoming(incoming: Incoming) -> None:  # on the receiver's I/O thread
        assert isinstance(incoming.body, bytes)
        thread, n = json.loads(incoming.body)
        got.append((thread, n))
        receiving.settle_here(incoming, Delivery.ACCEPTED)

    sub = Subscriber(queue, 50, on_incoming)
    receiving.subscribe(sub)
    sending = driver.new_connection("test-sender")
    per_thread = 150

    def send_all(thread: int) -> None:
        # Not waiting for each outcome: a send queued for the I/O thread must not be
        # overtaken by the same thread's next, direct one.
        futures = [sending.send(queue, Outgoing(json.dumps([thread, n]).encode()))
                   for n in range(per_thread)]
        for future in futures:
            future.result(20)

    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(send_all, range(4)))
        wait_for(lambda: len(got) == 4 * per_thread, timeout=20,
                 message=lambda: f"{len(got)} of {4 * per_thread} arrived")
        for thread in range(4):
            assert [n for t, n in got if t == thread] == list(range(per_thread))
        assert sending.direct_runs > 0
    finally:
        receiving.unsubscribe(sub)
        receiving.close()
        sending.close()
        transport.cleanup()

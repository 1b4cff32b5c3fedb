"""``IOLoop``: the sockets are driven by one thread at a time, nothing handed over is lost,
and the loop's own thread steps in only when nobody else drives."""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

from legacy_rpc.messaging.drivers.zmq import _loop
from legacy_rpc.messaging.drivers.zmq._loop import IOLoop
from tests.helpers import wait_for


@pytest.fixture
def loop() -> Iterator[IOLoop]:
    context: zmq.Context[Any] = zmq.Context()
    io = IOLoop(context, "test-loop")
    yield io
    io.close()
    context.destroy(linger=0)


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def test_a_wake_racing_a_clear_is_never_lost() -> None:
    """pending set over an empty eventfd would leave the loop asleep for good."""
    waker = _loop._Waker()
    stop = threading.Event()

    def producer() -> None:
        while not stop.is_set():
            waker.wake()

    threads = [threading.Thread(target=producer) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(20000):
            if _readable(waker.fd):
                waker.clear()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        waker.wake()
        try:
            assert _readable(waker.fd), "pending is set but the fd will never poll readable"
        finally:
            waker.close()


def test_a_call_runs_at_once_in_the_calling_thread_when_nobody_drives(loop: IOLoop) -> None:
    ran: list[threading.Thread] = []

    def inline() -> bool:
        loop.drive(0.05)  # the loop thread steps aside for IDLE_AFTER after another driver
        ran.clear()
        loop.call(lambda: ran.append(threading.current_thread()))
        return ran == [threading.current_thread()]  # not queued for another thread

    wait_for(inline, 5, message=lambda: f"the call ran in {ran}")


def test_a_call_while_another_thread_drives_is_run_by_that_thread(loop: IOLoop) -> None:
    context = loop.context
    pull = context.socket(zmq.PULL)
    pull.bind("inproc://test-loop-drive")
    got: list[bytes] = []
    loop.call(lambda: loop.add(pull, lambda s, _m: got.append(s.recv())))
    driving = threading.Event()
    done = threading.Event()

    def driver() -> None:
        driving.set()
        while not done.is_set():
            loop.drive(5.0)  # a long poll: only a wake-up ends it early

    thread = threading.Thread(target=driver)
    thread.start()
    try:
        driving.wait(5)
        wait_for(lambda: loop._driver is thread, 5, message="the driver never drove")
        ran: list[threading.Thread] = []
        started = time.monotonic()
        loop.call(lambda: ran.append(threading.current_thread()))
        wait_for(lambda: ran, 2, message="the queued call never ran")
        assert ran == [thread]
        assert time.monotonic() - started < 2  # woken, not at the end of its 5 s poll
    finally:
        done.set()
        loop.call(lambda: None)
        thread.join(10)
        assert not thread.is_alive()


def test_drive_takes_over_from_the_loop_thread(loop: IOLoop) -> None:
    # Nobody has driven: the loop's own thread polls (with no timeout, no timers).
    wait_for(lambda: loop._driver is loop._thread, 5, message="the loop thread never drove")
    started = time.monotonic()
    loop.drive(0.05)  # must not wait for the loop thread's endless poll
    assert time.monotonic() - started < 2
    # Within IDLE_AFTER of another driver, the loop thread stays away.
    loop.drive(0)
    assert loop._driver is not loop._thread


def test_timers_fire_when_nobody_drives(loop: IOLoop) -> None:
    fired = threading.Event()
    loop.call(lambda: loop.later(0.05, fired.set))
    assert fired.wait(5)


def test_close_stops_the_thread_and_later_calls_are_ignored(loop: IOLoop) -> None:
    loop.close()
    assert not loop._thread.is_alive()
    ran: list[int] = []
    loop.call(lambda: ran.append(1))
    loop.drive(0.01)
    assert ran == []

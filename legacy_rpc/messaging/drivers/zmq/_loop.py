"""``IOLoop``: a group of zmq sockets that one thread at a time drives.

ZeroMQ sockets are not thread-safe, so only the thread holding the loop's *drive* lock
touches them. Rather than handing every send and every received reply across threads (a
thread wake-up each, about 50 us), the threads that need the sockets drive the loop
themselves: a caller waiting for its reply polls the sockets in its own thread
(:meth:`IOLoop.drive`), a sender whose message can go at once sends it in its own thread
(:meth:`IOLoop.call`). The loop's own thread only drives when nobody else has for
:data:`IDLE_AFTER` seconds (timers, late replies, flushing backlogs), and steps aside as soon
as another thread asks. Work handed over while another thread drives is queued and that
thread is woken through an eventfd (or pipe) in its poll set: no polling by sleeping.

In a process that eventlet has monkey-patched, the threads are green threads: they must not
block in ``zmq_poll``, so the loop waits on the sockets' file descriptors with eventlet's
green ``select`` instead (ZeroMQ signals every socket event on them) and then takes what is
ready with a non-blocking poll.
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import itertools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

LOG = logging.getLogger(__name__)

__all__ = ["IOLoop"]

Handler = Callable[[Any, int], None]

IDLE_AFTER = 0.02
"""How long the loop's own thread leaves the sockets to other threads after they last
drove it (a sequential caller drives it again within microseconds)."""


def _green_select() -> Callable[..., Any] | None:
    """eventlet's green ``select`` when eventlet has monkey-patched threads, else None."""
    eventlet = sys.modules.get("eventlet")
    if eventlet is None:
        return None
    try:
        from eventlet import patcher
        from eventlet.green import select

        if patcher.is_monkey_patched("thread"):
            green: Callable[..., Any] = select.select
            return green
    except Exception:
        LOG.debug("eventlet is imported but not usable", exc_info=True)
    return None


class _Waker:
    """A file descriptor that polls readable after :meth:`wake` until :meth:`clear`."""

    def __init__(self) -> None:
        eventfd = getattr(os, "eventfd", None)
        if eventfd is not None:
            self.fd = eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._write_fd = self.fd
        else:  # pragma: no cover - not Linux
            self.fd, self._write_fd = os.pipe()
            os.set_blocking(self.fd, False)
            os.set_blocking(self._write_fd, False)
        self._pending = False
        self._closed = False
        self._lock = threading.Lock()

    def wake(self) -> None:
        with self._lock:  # also against close(): a late wake must not write a closed fd
            if self._pending or self._closed:
                return
            self._pending = True
            with contextlib.suppress(BlockingIOError):  # already readable
                os.write(self._write_fd, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    def clear(self) -> None:
        """Consume the wake-up (a wake racing with this is seen by the caller's next look
        at its queue, which comes after). Only the driving thread clears, before close."""
        with contextlib.suppress(BlockingIOError):
            os.read(self.fd, 4096)
        with self._lock:
            self._pending = False

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self.fd)
            if self._write_fd != self.fd:  # pragma: no cover - not Linux
                os.close(self._write_fd)


class _Command:
    """A function handed to the loop; ``done`` once it ran (or was dropped at close)."""

    __slots__ = ("done", "event", "func")

    def __init__(self, func: Callable[[], None]) -> None:
        self.func = func
        self.done = False
        self.event: threading.Event | None = None

    def finish(self) -> None:
        self.done = True  # before reading event: see IOLoop.call
        event = self.event
        if event is not None:
            event.set()


class IOLoop:
    """Sockets driven by one thread at a time, with thread-safe hand-over (:meth:`call`),
    timers (:meth:`later`) and a thread of its own for when nobody else drives."""

    def __init__(self, context: zmq.Context[Any], name: str) -> None:
        self.context = context
        self.name = name
        self._poller = zmq.Poller()
        self._handlers: dict[Any, Handler] = {}
        self._commands: collections.deque[_Command] = collections.deque()
        self._lock = threading.Lock()        # guards _commands and _wanting
        self._drive = threading.Lock()       # held by the thread that uses the sockets
        self._driver: threading.Thread | None = None
        self._wanting = 0                    # threads waiting for the drive lock
        self._last_driven = 0.0              # when another thread last let go of it
        self._idle = threading.Event()       # set: the loop thread may want to drive
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._waker = _Waker()
        self._poller.register(self._waker.fd, zmq.POLLIN)
        self._green_select = _green_select()
        self._running = True
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ any thread

    def call(self, func: Callable[[], None], wait: float | None = None) -> None:
        """Run ``func`` with the sockets, in order of calls: at once in this thread when
        nobody drives the loop, else soon in the thread that does. With ``wait``, a call
        handed to another thread waits until it ran, up to ``wait`` seconds (so that a
        sender's flow control counts what it sent, not what waits to be sent)."""
        command = _Command(func)
        with self._lock:
            if not self._running:
                return
            self._commands.append(command)
        if self._drive.acquire(blocking=False):
            self._driver = threading.current_thread()
            try:
                if self._running:
                    self._run_commands()
            finally:
                self._let_go()
            return
        self._waker.wake()
        self._idle.set()  # the loop thread, if idle, takes them when the driver lets go
        if wait is not None and wait > 0 and not self.in_loop():
            event = command.event = threading.Event()
            if not command.done:  # read after setting event: finish() sets done first
                event.wait(wait)

    def drive(self, timeout: float | None) -> None:
        """Drive the loop in this thread for one turn, waiting up to ``timeout`` seconds
        for socket events (None: until one comes); takes over from the thread driving."""
        if not self._running:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._drive.acquire(blocking=False):
            with self._lock:
                self._wanting += 1
            self._waker.wake()
            try:
                if not self._drive.acquire(timeout=-1 if timeout is None else timeout):
                    return
            finally:
                with self._lock:
                    self._wanting -= 1
        self._driver = threading.current_thread()
        try:
            if self._running:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                self._turn(remaining)
        finally:
            self._let_go()

    def in_loop(self) -> bool:
        """Whether this thread drives the loop now."""
        return self._driver is threading.current_thread()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the loop and close every socket it owns; idempotent."""
        self.call(self.stop)
        self._idle.set()
        if not self.in_loop() and threading.current_thread() is not self._thread:
            self._closed.wait(timeout)

    # ------------------------------------------------------------------ driving thread only

    def add(self, socket: Any, handler: Handler, events: int = zmq.POLLIN) -> None:
        self._handlers[socket] = handler
        self._poller.register(socket, events)

    def modify(self, socket: Any, events: int) -> None:
        self._poller.modify(socket, events)

    def remove(self, socket: Any, linger_ms: int = 0) -> None:
        """Stop polling ``socket`` and close it; ZeroMQ still delivers what it queued for
        up to ``linger_ms``."""
        if self._handlers.pop(socket, None) is not None:
            with contextlib.suppress(KeyError):  # paused: modified to no events
                self._poller.unregister(socket)
        socket.close(linger=linger_ms)

    def later(self, delay: float, func: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), func))
        self._idle.set()

    def stop(self) -> None:
        """End the loop after this turn (its thread then closes the sockets)."""
        self._running = False
        self._idle.set()

    # ------------------------------------------------------------------ internals

    def _let_go(self) -> None:
        """Release the drive lock; take it again for commands queued meanwhile (their
        callers could not take it while we held it)."""
        while True:
            self._driver = None
            if threading.current_thread() is not self._thread:
                self._last_driven = time.monotonic()
            self._drive.release()
            if not self._commands or not self._running:
                return
            if not self._drive.acquire(blocking=False):
                return  # whoever holds it runs them
            self._driver = threading.current_thread()
            self._run_commands()

    def _run_commands(self) -> None:
        while True:
            with self._lock:
                if not self._commands:
                    return
                commands = list(self._commands)
                self._commands.clear()
            for command in commands:
                self._safely(command.func)
                command.finish()

    def _safely(self, func: Callable[[], None]) -> None:
        try:
            func()
        except Exception:
            LOG.exception("%s: a task failed", self.name)

    def _poll(self, timeout: int | None) -> dict[Any, int]:
        """Ready sockets, waiting at most ``timeout`` ms (None: until one is ready)."""
        if self._green_select is None:
            return dict(self._poller.poll(timeout))
        events = dict(self._poller.poll(0))
        if events or timeout == 0:
            return events
        fds = [self._waker.fd] + [socket.getsockopt(zmq.FD) for socket in self._handlers]
        self._green_select(fds, [], [], None if timeout is None else timeout / 1000)
        return dict(self._poller.poll(0))

    def _turn(self, timeout: float | None) -> None:
        """One poll of the sockets (up to ``timeout`` s and the next timer), then the
        commands, the ready sockets' handlers and the timers due."""
        self._run_commands()
        wait = timeout
        if self._timers:
            until_timer = max(0.0, self._timers[0][0] - time.monotonic())
            wait = until_timer if wait is None else min(wait, until_timer)
        try:
            events = self._poll(None if wait is None else int(wait * 1000 + 0.999))
        except zmq.ZMQError as exc:
            if exc.errno == zmq.ETERM:
                self._running = False
                return
            raise
        if self._waker.fd in events:
            self._waker.clear()
        self._run_commands()
        for socket, mask in events.items():
            handler = self._handlers.get(socket)
            if handler is not None:
                try:
                    handler(socket, mask)
                except Exception:
                    LOG.exception("%s: handling a socket failed", self.name)
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, func = heapq.heappop(self._timers)
            self._safely(func)

    def _wait_idle(self) -> None:
        """(Loop thread) wait until no other thread drives or has for IDLE_AFTER seconds
        (it looks again every IDLE_AFTER while one drives: nobody tells it when they stop)."""
        while self._running:
            busy = self._driver is not None or self._wanting > 0
            quiet = time.monotonic() - self._last_driven
            if not busy and quiet >= IDLE_AFTER:
                return
            self._idle.clear()
            self._idle.wait(IDLE_AFTER if busy else IDLE_AFTER - quiet)

    def _run(self) -> None:
        try:
            while self._running:
                self._wait_idle()
                if not self._drive.acquire(blocking=False):
                    continue
                self._driver = self._thread
                try:
                    while self._running and not self._wanting and \
                            time.monotonic() - self._last_driven >= IDLE_AFTER:
                        self._turn(None)
                finally:
                    self._let_go()
        except Exception:
            LOG.exception("%s: the loop thread failed", self.name)
        finally:
            self._shut()

    def _shut(self) -> None:
        """(Loop thread) close every socket, once no other thread drives the loop."""
        with self._lock:
            self._running = False
            dropped = list(self._commands)
            self._commands.clear()
        for command in dropped:
            command.finish()
        with self._drive:
            for socket in list(self._handlers):
                socket.close()  # with the socket's own LINGER: replies still get out
            self._handlers.clear()
            self._waker.close()
        self._closed.set()

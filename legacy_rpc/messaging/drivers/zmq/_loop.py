"""``IOLoop``: one thread that owns a group of zmq sockets and polls them.

ZeroMQ sockets are not thread-safe, so only the loop's thread touches them; other threads
hand work over with :meth:`IOLoop.call`, which queues a function and wakes the poller
through an inproc socket (no polling by sleeping: the poller waits for its sockets, the
wake-up socket or the next timer).

In a process that eventlet has monkey-patched, the loop's "thread" is a green thread: it
must not block in ``zmq_poll``, so it waits on the sockets' file descriptors with eventlet's
green ``select`` instead (ZeroMQ signals every socket event on them) and then takes what is
ready with a non-blocking poll.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import zmq

LOG = logging.getLogger(__name__)

__all__ = ["IOLoop"]

Handler = Callable[[Any, int], None]


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


class IOLoop:
    """A poller thread with thread-safe hand-over (:meth:`call`) and timers (:meth:`later`)."""

    def __init__(self, context: zmq.Context[Any], name: str) -> None:
        self.context = context
        self.name = name
        self._poller = zmq.Poller()
        self._handlers: dict[Any, Handler] = {}
        self._commands: collections.deque[Callable[[], None]] = collections.deque()
        self._lock = threading.Lock()
        self._wake_pending = False
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        address = f"inproc://legacy-rpc-wake-{uuid.uuid4().hex}"
        self._wake_in = context.socket(zmq.PULL)
        self._wake_in.bind(address)
        self._wake_out = context.socket(zmq.PUSH)
        self._wake_out.connect(address)
        self._poller.register(self._wake_in, zmq.POLLIN)
        self._green_select = _green_select()
        self._running = True
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ any thread

    def call(self, func: Callable[[], None]) -> None:
        """Run ``func`` on the loop's thread soon (in order of calls)."""
        with self._lock:
            if not self._running:
                return
            self._commands.append(func)
            if self._wake_pending:
                return
            self._wake_pending = True
            self._wake_out.send(b"", zmq.NOBLOCK)

    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread and close every socket it owns; idempotent."""
        self.call(self.stop)
        if not self.in_loop():
            self._closed.wait(timeout)

    # ------------------------------------------------------------------ loop thread only

    def add(self, socket: Any, handler: Handler, events: int = zmq.POLLIN) -> None:
        self._handlers[socket] = handler
        self._poller.register(socket, events)

    def modify(self, socket: Any, events: int) -> None:
        self._poller.modify(socket, events)

    def remove(self, socket: Any) -> None:
        if self._handlers.pop(socket, None) is not None:
            self._poller.unregister(socket)
        socket.close(linger=0)

    def later(self, delay: float, func: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), func))

    def stop(self) -> None:
        """(Loop thread) end the loop after this turn."""
        self._running = False

    def _run_commands(self) -> None:
        while True:
            try:
                self._wake_in.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
        with self._lock:
            self._wake_pending = False
            commands = list(self._commands)
            self._commands.clear()
        for command in commands:
            self._safely(command)

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
        fds = [self._wake_in.getsockopt(zmq.FD)]
        fds += [socket.getsockopt(zmq.FD) for socket in self._handlers]
        self._green_select(fds, [], [], None if timeout is None else timeout / 1000)
        return dict(self._poller.poll(0))

    def _run(self) -> None:
        try:
            while self._running:
                timeout = None
                if self._timers:
                    timeout = max(0, int((self._timers[0][0] - time.monotonic()) * 1000) + 1)
                try:
                    events = self._poll(timeout)
                except zmq.ZMQError as exc:
                    if exc.errno == zmq.ETERM:
                        break
                    raise
                if self._wake_in in events:
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
        finally:
            with self._lock:
                self._running = False
                self._commands.clear()
            for socket in list(self._handlers):
                socket.close()  # with the socket's own LINGER: replies still get out
            self._handlers.clear()
            self._wake_in.close(linger=0)
            self._wake_out.close(linger=0)
            self._closed.set()

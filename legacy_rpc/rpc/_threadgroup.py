"""``ThreadGroup``: the ``tg`` of a legacy service, on native threads.

The interface of ``openstack.common.threadgroup.ThreadGroup``:

- ``add_thread(callback, *args, **kwargs)`` runs ``callback`` in a new thread;
- ``add_timer(interval, callback, initial_delay=None, *args, **kwargs)`` calls
  ``callback(*args, **kwargs)`` every ``interval`` seconds (measured from the start of one
  call to the start of the next), first after ``initial_delay`` (immediately when None);
- ``stop()`` ends the timers and asks the threads to end; ``wait()`` waits for them;
- ``threads`` and ``timers`` list what is running.

Native threads cannot be killed as green threads were: a timer ends between two calls of
its callback, and an ``add_thread`` callback can watch :attr:`Thread.stopped` (or
:func:`current_thread_stopping`). Every wait after ``stop()`` is bounded by
``stop_timeout``; threads still running then are logged and left behind (they are daemon
threads, so they never keep the process alive). An exception in a timer callback is
logged and the timer keeps going; a callback ends its timer by raising
:class:`LoopingCallDone`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["LoopingCallDone", "Thread", "ThreadGroup", "Timer", "current_thread_stopping"]

LOG = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT = 10.0

_local = threading.local()


class LoopingCallDone(Exception):
    """Raised by a timer callback to end its timer (``retvalue`` is the timer's result)."""

    def __init__(self, retvalue: Any = True) -> None:
        super().__init__()
        self.retvalue = retvalue


def current_thread_stopping() -> bool:
    """Whether the group thread or timer running this code has been asked to stop."""
    event: threading.Event | None = getattr(_local, "stopped", None)
    return event is not None and event.is_set()


def _join(thread: threading.Thread, deadline: float | None, what: str) -> bool:
    """Join ``thread`` until ``deadline`` (monotonic, None: forever); False if still alive."""
    if thread is threading.current_thread():
        return True  # a thread of the group stopping or waiting for its own group
    if deadline is None:
        thread.join()
    else:
        thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        LOG.warning("%s did not end in time; leaving it running", what)
        return False
    return True


class Thread:
    """A thread of a :class:`ThreadGroup`, running ``callback(*args, **kwargs)`` once."""

    def __init__(self, group: ThreadGroup, callback: Callable[..., Any],
                 args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.group = group
        self.stopped = threading.Event()
        self._callback = callback
        self._args = args
        self._kwargs = kwargs
        name = getattr(callback, "__name__", "callback")
        self.thread = threading.Thread(target=self._run, name=f"tg-thread-{name}",
                                       daemon=True)

    def _run(self) -> None:
        _local.stopped = self.stopped
        try:
            self._callback(*self._args, **self._kwargs)
        except Exception:
            LOG.exception("Unhandled exception in thread group thread %s", self.thread.name)
        finally:
            self.group.thread_done(self)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Ask the callback to end (it sees :attr:`stopped` set)."""
        self.stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the callback to end; False if it is still running after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return _join(self.thread, deadline, self.thread.name)

    def is_alive(self) -> bool:
        return self.thread.is_alive()


class Timer:
    """Calls ``callback(*args, **kwargs)`` at a fixed interval until stopped.

    The interval is from the start of one call to the start of the next; a call that
    takes longer than the interval is followed by the next one at once.
    """

    def __init__(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.callback = callback
        self.args = args
        self.kwargs = kwargs
        self.stopped = threading.Event()
        self.retvalue: Any = None
        self.thread: threading.Thread | None = None
        self.calls = 0

    def start(self, interval: float, initial_delay: float | None = None) -> Timer:
        name = getattr(self.callback, "__name__", "callback")
        self.thread = threading.Thread(target=self._run, args=(interval, initial_delay),
                                       name=f"tg-timer-{name}", daemon=True)
        self.thread.start()
        return self

    def _run(self, interval: float, initial_delay: float | None) -> None:
        _local.stopped = self.stopped
        if initial_delay and self.stopped.wait(initial_delay):
            return
        while not self.stopped.is_set():
            started = time.monotonic()
            try:
                self.calls += 1
                self.callback(*self.args, **self.kwargs)
            except LoopingCallDone as done:
                self.retvalue = done.retvalue
                return
            except Exception:
                LOG.exception("Error in timer callback %r; the timer goes on", self.callback)
            delay = interval - (time.monotonic() - started)
            if delay > 0:
                if self.stopped.wait(delay):
                    return
            elif delay < 0:
                LOG.debug("Timer callback %r ran %.2fs longer than its interval",
                          self.callback, -delay)

    def stop(self) -> None:
        """End the timer after the current call, if any."""
        self.stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the timer to end; False if it is still running after ``timeout``."""
        if self.thread is None:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        return _join(self.thread, deadline, self.thread.name)

    def is_alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class ThreadGroup:
    """Threads and timers that a service starts and stops together.

    ``thread_pool_size`` is accepted for compatibility (the original's green pool size);
    native threads are not pooled.
    """

    def __init__(self, thread_pool_size: int = 10,
                 stop_timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        self.thread_pool_size = thread_pool_size
        self.stop_timeout = stop_timeout
        self.threads: list[Thread] = []
        self.timers: list[Timer] = []
        self._lock = threading.Lock()
        self._stopping = False

    def add_timer(self, interval: float, callback: Callable[..., Any],
                  initial_delay: float | None = None, *args: Any, **kwargs: Any) -> Timer:
        timer = Timer(callback, *args, **kwargs)
        with self._lock:
            self.timers.append(timer)
        timer.start(interval=interval, initial_delay=initial_delay)
        return timer

    def add_thread(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> Thread:
        thread = Thread(self, callback, args, kwargs)
        with self._lock:
            self.threads.append(thread)
        thread.start()
        return thread

    def thread_done(self, thread: Thread) -> None:
        with self._lock:
            if thread in self.threads:
                self.threads.remove(thread)

    def stop_timers(self) -> None:
        with self._lock:
            timers, self.timers = list(self.timers), []
        for timer in timers:
            timer.stop()
        deadline = time.monotonic() + self.stop_timeout
        for timer in timers:
            timer.wait(max(0.0, deadline - time.monotonic()))

    def stop(self, graceful: bool = False) -> None:
        """End the timers and ask every thread to end; waits at most ``stop_timeout``.

        ``graceful`` (the later original's flag) lets the threads finish instead.
        """
        with self._lock:
            self._stopping = True
            threads = list(self.threads)
        if not graceful:
            for thread in threads:
                thread.stop()
        self.stop_timers()
        deadline = time.monotonic() + self.stop_timeout
        for thread in threads:
            thread.wait(max(0.0, deadline - time.monotonic()))

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the timers, then the threads, to end.

        Without ``timeout``: forever before :meth:`stop`, ``stop_timeout`` after it.
        """
        if timeout is None and self._stopping:
            timeout = self.stop_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            members: list[Timer | Thread] = [*self.timers, *self.threads]
        for member in members:
            member.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))

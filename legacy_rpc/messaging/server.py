"""``MessageHandlingServer``: the lifecycle shared by RPC servers and notification listeners.

``start()`` creates the executor and the listener; ``stop()`` stops taking new messages
(messages already taken are still dispatched); ``wait()`` waits for in-flight work, then
releases the listener. The three are ordered as in oslo.messaging: ``stop`` waits for
``start`` to finish and ``wait`` for ``stop``, so they can be called from different threads;
``start`` after a finished ``stop`` begins a new run.
"""

from __future__ import annotations

import abc
import concurrent.futures
import logging
import threading
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from legacy_rpc.messaging.drivers.base import PollStyleListenerAdapter
from legacy_rpc.messaging.exceptions import MessagingException

if TYPE_CHECKING:
    from legacy_rpc.messaging.drivers.base import IncomingMessage, Listener
    from legacy_rpc.messaging.transport import Transport

LOG = logging.getLogger(__name__)

__all__ = [
    "MessageHandlingServer",
    "MessagingServerError",
    "ExecutorLoadFailure",
    "ServerListenError",
    "TaskTimeout",
]

EXECUTORS = ("threading", "blocking")


class MessagingServerError(MessagingException):
    """Base class for server errors."""


class ExecutorLoadFailure(MessagingServerError):
    """The requested executor does not exist."""

    def __init__(self, executor: str, ex: BaseException) -> None:
        super().__init__(f"Failed to load executor {executor!r}: {ex}")
        self.executor = executor
        self.ex = ex


class ServerListenError(MessagingServerError):
    """The listener could not be created."""

    def __init__(self, target: Any, ex: BaseException) -> None:
        super().__init__(f"Failed to listen on target {target!r}: {ex}")
        self.target = target
        self.ex = ex


class TaskTimeout(MessagingServerError):
    """``start``/``stop``/``wait`` gave up waiting for the preceding step (``timeout=``)."""


class _InlineExecutor:
    """The ``blocking`` executor: dispatch in the listener's thread, one at a time."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            LOG.exception("Unhandled error while processing a message")

    def shutdown(self, wait: bool = True) -> None:
        pass


def _load_executor(name: str, workers: int) -> Any:
    if name == "threading":
        return concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                                     thread_name_prefix="legacy-rpc-worker")
    return _InlineExecutor()


# Lifecycle: idle (never started) -> starting -> running -> stopping -> stopped -> waiting
# -> waited, and start() again from stopped or waited.
_IDLE, _STARTING, _RUNNING = "idle", "starting", "running"
_STOPPING, _STOPPED = "stopping", "stopped"
_WAITING, _WAITED = "waiting", "waited"


class MessageHandlingServer(abc.ABC):
    """Feeds messages from a listener to ``_process_incoming`` on an executor."""

    def __init__(self, transport: Transport, dispatcher: Any,
                 executor: str | None = None) -> None:
        executor = executor or "threading"
        if executor == "eventlet":
            # Deprecated in oslo.messaging too; native threads work in an eventlet-patched
            # process, so code that still asks for it keeps working on threads.
            warnings.warn("executor='eventlet' is deprecated: the server runs on the "
                          "'threading' executor", DeprecationWarning, stacklevel=3)
        elif executor not in EXECUTORS:
            raise ExecutorLoadFailure(executor, ValueError(
                f"unknown executor; known: {', '.join(EXECUTORS)} ('eventlet' is taken as "
                f"'threading')"))
        self.conf = transport.conf
        self.transport = transport
        self.dispatcher = dispatcher
        self.executor_type = executor
        self._executor_kind = "threading" if executor == "eventlet" else executor
        self.listener: Listener | None = None
        self._executor: Any = None
        self._state = _IDLE
        self._cond = threading.Condition()

    @abc.abstractmethod
    def _create_listener(self) -> Listener:
        """Subscribe; called by :meth:`start`."""

    @abc.abstractmethod
    def _process_incoming(self, incoming: list[IncomingMessage]) -> None:
        """Handle one batch of messages; runs on the executor."""

    def _on_incoming(self, incoming: list[IncomingMessage]) -> None:
        executor = self._executor
        if executor is not None:
            executor.submit(self._safe_process, incoming)

    def _safe_process(self, incoming: list[IncomingMessage]) -> None:
        try:
            self._process_incoming(incoming)
        except Exception:
            LOG.exception("Unhandled error while processing %d message(s)", len(incoming))

    def _await(self, ready: Callable[[], bool], what: str, timeout: float | None,
               log_after: float) -> None:
        """Wait (holding ``_cond``) until ``ready()``, logging once after ``log_after`` s."""
        start = time.monotonic()
        logged = False
        while not ready():
            elapsed = time.monotonic() - start
            if timeout is not None and elapsed >= timeout:
                raise TaskTimeout(f"Timed out after {timeout}s waiting for {what}")
            if not logged and log_after and elapsed >= log_after:
                LOG.warning("Possible hang: %s has been waiting %.0fs for %s",
                            type(self).__name__, elapsed, what)
                logged = True
            limits = [x for x in (timeout, log_after if not logged else None) if x]
            self._cond.wait(max(0.01, min(limits) - elapsed) if limits else None)

    def start(self, override_pool_size: int | None = None, *, timeout: float | None = None,
              log_after: float = 30) -> None:
        """Start consuming. A second ``start`` on a running server only logs a warning."""
        with self._cond:
            if self._state in (_STARTING, _RUNNING):
                LOG.warning("%s is already running; start() ignored", type(self).__name__)
                return
            self._await(lambda: self._state in (_IDLE, _STOPPED, _WAITED),
                        "the previous stop/wait", timeout, log_after)
            previous, self._state = self._state, _STARTING
        try:
            if previous == _STOPPED:
                self._release()  # a new run after stop() without wait(): finish the old one
            workers = override_pool_size or self.conf.executor_thread_pool_size
            self.listener = self._create_listener()
            if (self._executor_kind == "threading"
                    and isinstance(self.listener, PollStyleListenerAdapter)):
                # The listener's own threads dispatch what they read (leader/follower):
                # no hand-off from a polling thread to a worker pool.
                self._executor = None
                self.listener.start(self._safe_process, workers=workers)
            else:
                self._executor = _load_executor(self._executor_kind, workers)
                try:
                    self.listener.start(self._on_incoming)
                except BaseException:
                    self._executor.shutdown(wait=False)
                    self._executor = None
                    raise
        except BaseException:
            with self._cond:
                self._state = _WAITED if previous != _IDLE else _IDLE
                self._cond.notify_all()
            raise
        with self._cond:
            self._state = _RUNNING
            self._cond.notify_all()

    def stop(self, *, timeout: float | None = None, log_after: float = 30) -> None:
        """Stop taking messages; blocks until a concurrent ``start`` has finished."""
        with self._cond:
            self._await(lambda: self._state not in (_IDLE, _STARTING), "start() to complete",
                        timeout, log_after)
            if self._state != _RUNNING:
                return
            self._state = _STOPPING
            listener = self.listener
        try:
            if listener is not None:
                listener.stop()
        finally:
            with self._cond:
                self._state = _STOPPED
                self._cond.notify_all()

    def wait(self, *, timeout: float | None = None, log_after: float = 30) -> None:
        """Wait for in-flight messages, then release the listener. Blocks until ``stop``."""
        with self._cond:
            self._await(lambda: self._state in (_STOPPED, _WAITED), "stop() to complete",
                        timeout, log_after)
            if self._state == _WAITED:
                return
            self._state = _WAITING
        try:
            self._release()
        finally:
            with self._cond:
                self._state = _WAITED
                self._cond.notify_all()

    def _release(self) -> None:
        executor, listener = self._executor, self.listener
        self._executor = None
        if executor is not None:
            executor.shutdown(wait=True)
        if isinstance(listener, PollStyleListenerAdapter):
            listener.join()  # in-flight messages dispatched by the listener's threads
        if listener is not None:
            listener.cleanup()

    def reset(self) -> None:  # noqa: B027 - a hook subclasses may override
        """The oslo.service hook; nothing to do."""

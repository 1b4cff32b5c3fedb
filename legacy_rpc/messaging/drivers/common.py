"""Machinery every driver shares: reply routing, the reply iterator, duplicate filtering.

A driver gives each transport one reply address; replies that arrive there are handed to
:meth:`ReplyWaiters.deliver`, which routes them by ``_msg_id`` to the waiting call the moment
they arrive (no polling). :class:`ReplyStream` turns one call's replies into values,
applying the wire rules for values, heartbeats, the final reply and failures, and the
deadlines of ``timeout`` and ``call_monitor_timeout``.

The delivery pipeline policy is here too, so every driver applies the same one: a delivery
that fails to decode or parse for any reason is rejected without requeue and logged once,
cut short before anything is masked (:func:`parse_delivery`, :func:`log_rejected`), and a
consume loop that keeps failing backs off and reports itself degraded
(:class:`ConsumerHealth`) instead of spinning.
"""

from __future__ import annotations

import collections
import logging
import queue
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from legacy_rpc.messaging import _mask, _metrics, wire
from legacy_rpc.messaging.exceptions import MessagingTimeout

LOG = logging.getLogger(__name__)

__all__ = ["DuplicateFilter", "ReplyStream", "ReplyWaiters", "last_value",
           "start_call", "describe_call", "parse_delivery", "log_rejected", "ConsumerHealth"]

DUPLICATE_WINDOW = 16


class DuplicateFilter:
    """Remembers the last ``size`` unique ids; :meth:`seen` is True for a repeat."""

    def __init__(self, size: int = DUPLICATE_WINDOW) -> None:
        self._order: collections.deque[str] = collections.deque(maxlen=size)
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def contains(self, unique_id: str | None) -> bool:
        """Whether ``unique_id`` is among the remembered ones (without recording it)."""
        with self._lock:
            return unique_id is not None and unique_id in self._ids

    def seen(self, unique_id: str | None) -> bool:
        if unique_id is None:
            return False
        with self._lock:
            if unique_id in self._ids:
                return True
            if len(self._order) == self._order.maxlen:
                self._ids.discard(self._order[0])
            self._order.append(unique_id)
            self._ids.add(unique_id)
            return False


ReplyQueue = queue.SimpleQueue  # holds wire.Reply objects, or an exception to raise


_WAKE = object()  # tells a waiting call to try to become the reader


class Undelivered:
    """Put in a call's reply queue by a driver: the request was not routed (``returned``)
    or was refused (``nacked``) after the call began waiting; the call publishes it again."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
READ_SLICE = 0.2   # longest single read by a calling thread, so the reader role moves on
SETTLE_AFTER = 0.05
"""A call whose driver did not wait for the request's confirm, and that has no reply after
this long, has the confirm read (``ReplyStream(settle=)``), so a request that could not be
routed is published again at once instead of waiting for its timeout."""


class ReplyWaiters:
    """Routes each reply to the call waiting for it, keyed by ``_msg_id``.

    With a ``reader`` (a function that reads the reply address for up to N seconds and
    hands what it reads to :meth:`deliver`), waiting calls read the replies themselves, one
    at a time (leader/follower): a sequential caller gets its reply straight from the
    socket, without a hand-off from another thread. When the reading call stops reading, it
    wakes one of the waiting calls to take over.
    """

    WARN_THRESHOLD = 10

    def __init__(self, reader: Callable[[float, float | None], None] | None = None) -> None:
        self._queues: dict[str, ReplyQueue[Any]] = {}
        self._lock = threading.Lock()
        self._warn_threshold = self.WARN_THRESHOLD
        self._reader = reader
        self._reading = threading.Lock()
        self._followers: set[ReplyQueue[Any]] = set()

    def next_reply(self, replies: ReplyQueue[Any], timeout: float | None) -> Any:
        """The next item for ``replies``, reading the reply address when nobody else does.

        Raises ``queue.Empty`` after ``timeout`` seconds.
        """
        if self._reader is None:
            return replies.get(timeout=timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                item = replies.get_nowait()
            except queue.Empty:
                pass
            else:
                if item is not _WAKE:
                    return item
                continue
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise queue.Empty
            slice_ = READ_SLICE if remaining is None else min(READ_SLICE, remaining)
            with self._lock:
                self._followers.add(replies)
            if self._reading.acquire(blocking=False):
                with self._lock:
                    self._followers.discard(replies)
                try:
                    self._reader(slice_, deadline)
                finally:
                    self._reading.release()
                    self._wake_a_follower()
                continue
            try:
                item = replies.get(timeout=slice_)
            except queue.Empty:
                continue
            finally:
                with self._lock:
                    self._followers.discard(replies)
            if item is not _WAKE:
                return item

    def _wake_a_follower(self) -> None:
        with self._lock:
            follower = next(iter(self._followers), None)
        if follower is not None:
            follower.put(_WAKE)

    def register(self, msg_id: str) -> ReplyQueue[Any]:
        """Register a call before its request is sent, so no reply can be missed."""
        replies: ReplyQueue[Any] = queue.SimpleQueue()
        with self._lock:
            self._queues[msg_id] = replies
            outstanding = len(self._queues)
            if outstanding > self._warn_threshold:
                LOG.warning("%d calls are waiting for replies on one transport", outstanding)
                self._warn_threshold *= 2
        return replies

    def unregister(self, msg_id: str) -> None:
        with self._lock:
            self._queues.pop(msg_id, None)
            if len(self._queues) < self.WARN_THRESHOLD:
                self._warn_threshold = self.WARN_THRESHOLD

    def deliver(self, body: Any) -> None:
        """Hand a received reply body to its waiter; drop it quietly if nobody waits."""
        try:
            reply = wire.parse_reply(body)
        except wire.MalformedMessage as exc:
            LOG.warning("Dropping a malformed reply: %s", exc)
            return
        if reply.msg_id is None:
            LOG.warning("Dropping a reply without _msg_id")
            return
        with self._lock:
            replies = self._queues.get(reply.msg_id)
        if replies is None:
            LOG.debug("No call is waiting for a reply to message ID %s; dropping it",
                      reply.msg_id)
            return
        replies.put(reply)

    def push(self, msg_id: str, item: Any) -> None:
        """Hand ``item`` to the call waiting on ``msg_id``, if it still waits."""
        with self._lock:
            replies = self._queues.get(msg_id)
        if replies is not None:
            replies.put(item)

    def fail_all(self, exc: BaseException) -> None:
        """Wake every waiting call with ``exc`` (e.g. the reply address was lost)."""
        with self._lock:
            waiting = list(self._queues.values())
        for replies in waiting:
            replies.put(exc)

    def __len__(self) -> int:
        with self._lock:
            return len(self._queues)


class _Final(Exception):
    """Internal: the final reply arrived; nothing more follows."""


class ReplyStream(Iterator[Any]):
    """The reply values of one call, owning the call's reply waiter.

    The waiter is released when the stream ends, fails or is closed, and also when the
    stream is garbage-collected unread, so an abandoned ``stream()``/``multicall()``
    result leaks nothing. ``deadline`` (monotonic) bounds the whole call, or with
    ``per_value_timeout`` each value gets ``timeout`` seconds (the legacy ``multicall``
    rule). ``call_monitor_timeout`` is the longest wait with no reply or heartbeat at all.
    """

    def __init__(self, waiters: ReplyWaiters | None, replies: ReplyQueue[Any], msg_id: str,
                 *, allowed_remote_exmods: Iterable[str], timeout: float | None,
                 deadline: float | None = None, call_monitor_timeout: float | None = None,
                 per_value_timeout: bool = False, describe: str = "",
                 resend: Callable[[str], None] | None = None,
                 settle: Callable[[], None] | None = None) -> None:
        """``resend(kind)`` publishes the request again when an :class:`Undelivered`
        arrives; ``settle()`` is called once if no reply came within ``SETTLE_AFTER``."""
        self._waiters = waiters
        self._resend = resend
        self._settle_hook = settle
        self._settle = settle  # armed until a reply comes or it ran
        self._replies = replies
        self._msg_id = msg_id
        self._allowed = list(allowed_remote_exmods)
        self._timeout = timeout
        self._call_monitor_timeout = call_monitor_timeout
        self._per_value_timeout = per_value_timeout
        self._describe = describe
        self._dedup = DuplicateFilter()
        now = time.monotonic()
        if deadline is None and timeout is not None:
            deadline = now + timeout
        self._deadline = deadline
        self._monitor_deadline = now + call_monitor_timeout if call_monitor_timeout else None
        self._values_seen = False
        self._done = False
        self._release = (weakref.finalize(self, waiters.unregister, msg_id)
                         if waiters is not None else None)

    def close(self) -> None:
        """Stop waiting for replies and release the waiter (idempotent)."""
        self._done = True
        if self._release is not None:
            self._release()

    def __iter__(self) -> ReplyStream:
        return self

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        try:
            return self._next_value()
        except _Final:
            self.close()
            raise StopIteration from None
        except StopIteration as exc:
            # Raised by the remote method: inside iteration it would silently end the
            # stream, so it surfaces as an error of its own.
            self.close()
            raise RuntimeError(f"the remote method raised StopIteration: {exc}") from exc
        except BaseException:
            self.close()
            raise

    def result(self) -> Any:
        """The last value, or None: what ``call`` returns. A remote exception (even
        ``StopIteration``) is raised as it is."""
        result = None
        try:
            while not self._done:
                result = self._next_value()
        except _Final:
            pass
        finally:
            self.close()
        return result

    def _get(self, wait: float | None) -> Any:
        return (self._waiters.next_reply(self._replies, wait) if self._waiters is not None
                else self._replies.get(timeout=wait))

    def _wait(self) -> Any:
        due = [d for d in (self._deadline, self._monitor_deadline) if d is not None]
        wait = max(0.0, min(due) - time.monotonic()) if due else None
        try:
            if self._settle is not None and (wait is None or wait > SETTLE_AFTER):
                try:
                    return self._get(SETTLE_AFTER)
                except queue.Empty:
                    settle, self._settle = self._settle, None
                    settle()
                    return self._wait()
            return self._get(wait)
        except queue.Empty:
            if self._monitor_deadline is not None and (
                    self._deadline is None or self._monitor_deadline < self._deadline):
                raise MessagingTimeout(
                    f"Timed out waiting for a reply or heartbeat to message ID {self._msg_id}"
                    f"{self._describe} (call_monitor_timeout {self._call_monitor_timeout}s)"
                ) from None
            raise MessagingTimeout(f"Timed out waiting for a reply to message ID {self._msg_id}"
                                   f"{self._describe} (timeout {self._timeout}s)") from None

    def _next_value(self) -> Any:
        """The next value; raises ``_Final`` after the last one."""
        while True:
            if self._done:
                raise _Final
            reply = self._wait()
            if isinstance(reply, BaseException):
                raise reply
            if isinstance(reply, Undelivered):
                if self._resend is not None:
                    self._resend(reply.kind)
                    self._settle = self._settle_hook
                continue
            self._settle = None
            assert isinstance(reply, wire.Reply)
            if self._dedup.seen(reply.unique_id):
                LOG.debug("Ignoring a duplicate reply to message ID %s", self._msg_id)
                continue
            now = time.monotonic()
            if self._call_monitor_timeout:
                self._monitor_deadline = now + self._call_monitor_timeout
            if reply.kind is wire.ReplyKind.FAILURE:
                assert reply.failure is not None
                self._done = True
                raise wire.deserialize_remote_exception(reply.failure, self._allowed)
            if reply.kind is wire.ReplyKind.HEARTBEAT:
                continue
            if reply.kind is wire.ReplyKind.VALUE:
                self._values_seen = True
                if self._per_value_timeout and self._timeout is not None:
                    self._deadline = now + self._timeout
                return reply.value
            # The final reply: oslo.messaging puts the result in it; legacy peers sent their
            # values before it and an empty ending marker.
            self._done = True
            if reply.value is not None or not self._values_seen:
                return reply.value
            raise _Final


def last_value(values: Iterator[Any]) -> Any:
    """The last value of a reply stream, or None: what ``call`` returns."""
    if isinstance(values, ReplyStream):
        return values.result()
    result = None
    for result in values:  # noqa: B007
        pass
    return result


def start_call(waiters: ReplyWaiters, publish: Callable[[dict[str, Any]], None],
               ctxt: dict[str, Any], message: dict[str, Any], *, reply_q: str,
               timeout: float | None, call_monitor_timeout: float | None,
               per_value_timeout: bool, allowed_remote_exmods: Iterable[str],
               describe: str, deadline: float | None = None,
               resend: Callable[[dict[str, Any], str], None] | None = None,
               settle: Callable[[], None] | None = None,
               msg_id: str | None = None) -> ReplyStream:
    """Send a call and return the stream of its reply values.

    The waiter is registered before the request is published, so no reply can be missed;
    the returned stream owns it. ``deadline`` (monotonic; default: ``timeout`` from now)
    bounds the whole call, sending included. ``resend(body, kind)`` and ``settle()``: for
    a driver that does not wait for the request's confirm (see ``ReplyStream``), which
    may choose the ``msg_id`` to know it before the request is built.
    """
    if deadline is None and timeout is not None and not per_value_timeout:
        deadline = time.monotonic() + timeout
    msg_id = msg_id or wire.new_id()
    body = wire.build_request(ctxt, message, msg_id=msg_id, reply_q=reply_q,
                              call_monitor_timeout=call_monitor_timeout,
                              stream=per_value_timeout)
    replies = waiters.register(msg_id)
    try:
        publish(body)
    except BaseException:
        waiters.unregister(msg_id)
        raise
    return ReplyStream(waiters, replies, msg_id, allowed_remote_exmods=allowed_remote_exmods,
                       timeout=timeout, deadline=None if per_value_timeout else deadline,
                       call_monitor_timeout=call_monitor_timeout,
                       per_value_timeout=per_value_timeout,
                       describe=f"{describe}, reply queue {reply_q})",
                       resend=None if resend is None else (lambda kind: resend(body, kind)),
                       settle=settle)


def describe_call(target: Any, message: dict[str, Any]) -> str:
    """The start of the text that timeouts add to their message (closed by start_call)."""
    return f" (target {target!r}, method {message.get('method')!r}"


# --------------------------------------------------------------------------- delivery pipeline

LOG_EXCERPT = 1000
"""How much of a rejected body is logged (cut before masking: bounded work per message)."""

MAX_MESSAGE_SIZE = 32 * 1024 * 1024
"""The largest body a receiver inflates from a compressed one; beyond it the message is
rejected as malformed (a 177-byte bz2 body can otherwise become 200 MB). No RPC request or
notification of this ecosystem comes near it."""


def parse_delivery(kind: str, body: bytes | str) -> wire.Request | wire.Notification:
    """Decode and parse one delivered body for a listener of ``kind`` (``LISTEN_KINDS``).

    Every failure, whatever its type (``RecursionError`` from a deeply nested body, huge
    numbers, ...), is raised as :class:`wire.MalformedMessage`, so that the caller's one
    ``except`` rejects it.
    """
    try:
        decoded = wire.decode_body(body)
        if kind == "rpc":
            return wire.parse_request(decoded)
        if kind == "notification":
            return wire.parse_notification(decoded)
        message = wire.deserialize_msg(decoded)
        if not isinstance(message, dict):
            raise wire.MalformedMessage(f"message must be a JSON object, got "
                                        f"{type(message).__name__}")
        unique_id = message.get(wire.UNIQUE_ID)
        return wire.Notification(ctxt={}, publisher_id=None, event_type=None, priority="",
                                 payload=message, unique_id=unique_id
                                 if isinstance(unique_id, str) else None)
    except wire.MalformedMessage:
        raise
    except Exception as exc:
        raise wire.MalformedMessage(f"{type(exc).__name__}: {str(exc)[:200]}") from None


def log_rejected(queue_name: str, exc: BaseException, body: bytes | str) -> None:
    """Log a rejected delivery once: the reason and a masked excerpt of the body."""
    size = len(body)
    try:
        excerpt = _mask.sanitize_body(body[:LOG_EXCERPT], limit=LOG_EXCERPT)
    except Exception:  # logging must never stop the pipeline
        excerpt = "<not printable>"
    LOG.error("Rejecting a malformed message (%d bytes) from queue %s: %s; message: %s",
              size, queue_name, _mask.mask_text(str(exc)[:300]), excerpt)
    _metrics.rejected(type(exc).__name__)


class ConsumerHealth:
    """Backoff and state of a consume loop that keeps failing.

    :meth:`failed` returns how long to wait before the next attempt (growing from
    ``first`` to ``longest``, with jitter) and logs the first failure of a run at error
    level and later ones at debug level; :meth:`ok` ends the run with one info line.
    ``degraded`` holds the reason while the loop is failing.
    """

    def __init__(self, name: str, first: float = 0.5, longest: float = 30.0) -> None:
        self.name = name
        self.first = first
        self.longest = longest
        self.failures = 0
        self.degraded: str | None = None

    def failed(self, exc: BaseException) -> float:
        reason = _mask.mask_text(str(exc)[:300]) or type(exc).__name__
        delay: float = min(self.longest, self.first * 2.0 ** min(self.failures, 16))
        delay *= random.uniform(0.75, 1.0)
        if self.degraded is None:
            LOG.error("%s is degraded: %s; trying again with backoff (next in %.1fs)",
                      self.name, reason, delay)
        else:
            LOG.debug("%s still failing (%d times): %s", self.name, self.failures + 1, reason)
        self.degraded = reason
        self.failures += 1
        return delay

    def ok(self) -> None:
        if self.degraded is not None:
            LOG.info("%s recovered after %d failures", self.name, self.failures)
        self.degraded = None
        self.failures = 0

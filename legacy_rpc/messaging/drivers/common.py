"""Machinery every driver shares: reply routing, the reply iterator, duplicate filtering.

A driver gives each transport one reply address; replies that arrive there are handed to
:meth:`ReplyWaiters.deliver`, which routes them by ``_msg_id`` to the waiting call the moment
they arrive (no polling). :func:`iterate_replies` turns one call's replies into values,
applying the wire rules for values, heartbeats, the final reply and failures, and the
deadlines of ``timeout`` and ``call_monitor_timeout``.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from legacy_rpc.messaging import wire
from legacy_rpc.messaging.exceptions import MessagingTimeout

LOG = logging.getLogger(__name__)

__all__ = ["DuplicateFilter", "ReplyWaiters", "iterate_replies", "last_value", "start_call",
           "describe_call"]

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
READ_SLICE = 0.2   # longest single read by a calling thread, so the reader role moves on


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

    def fail_all(self, exc: BaseException) -> None:
        """Wake every waiting call with ``exc`` (e.g. the reply address was lost)."""
        with self._lock:
            waiting = list(self._queues.values())
        for replies in waiting:
            replies.put(exc)

    def __len__(self) -> int:
        with self._lock:
            return len(self._queues)


def iterate_replies(replies: ReplyQueue[Any], msg_id: str, *,
                    allowed_remote_exmods: Iterable[str], timeout: float | None,
                    call_monitor_timeout: float | None = None, per_value_timeout: bool = False,
                    describe: str = "", waiters: ReplyWaiters | None = None) -> Iterator[Any]:
    """Yield the values of one call's replies until its final reply.

    ``timeout`` is the overall deadline, or with ``per_value_timeout`` the longest wait for
    each value. ``call_monitor_timeout`` is the longest wait with no reply or heartbeat at
    all. A failure reply raises the rebuilt remote exception.
    """
    allowed = list(allowed_remote_exmods)
    dedup = DuplicateFilter()
    now = time.monotonic()
    deadline = now + timeout if timeout is not None else None
    monitor_deadline = now + call_monitor_timeout if call_monitor_timeout else None
    values_seen = False
    while True:
        due = [d for d in (deadline, monitor_deadline) if d is not None]
        wait = max(0.0, min(due) - time.monotonic()) if due else None
        try:
            reply = (waiters.next_reply(replies, wait) if waiters is not None
                     else replies.get(timeout=wait))
        except queue.Empty:
            if monitor_deadline is not None and (deadline is None
                                                 or monitor_deadline < deadline):
                raise MessagingTimeout(
                    f"Timed out waiting for a reply or heartbeat to message ID {msg_id}"
                    f"{describe} (call_monitor_timeout {call_monitor_timeout}s)") from None
            raise MessagingTimeout(f"Timed out waiting for a reply to message ID {msg_id}"
                                   f"{describe} (timeout {timeout}s)") from None
        if isinstance(reply, BaseException):
            raise reply
        assert isinstance(reply, wire.Reply)
        if dedup.seen(reply.unique_id):
            LOG.debug("Ignoring a duplicate reply to message ID %s", msg_id)
            continue
        now = time.monotonic()
        if call_monitor_timeout:
            monitor_deadline = now + call_monitor_timeout
        if reply.kind is wire.ReplyKind.FAILURE:
            assert reply.failure is not None
            raise wire.deserialize_remote_exception(reply.failure, allowed)
        if reply.kind is wire.ReplyKind.HEARTBEAT:
            continue
        if reply.kind is wire.ReplyKind.VALUE:
            values_seen = True
            if per_value_timeout and timeout is not None:
                deadline = now + timeout
            yield reply.value
            if per_value_timeout and timeout is not None:
                deadline = time.monotonic() + timeout
            continue
        # The final reply: oslo.messaging puts the result in it; legacy peers sent their
        # values before it and an empty ending marker.
        if reply.value is not None or not values_seen:
            yield reply.value
        return


def last_value(values: Iterator[Any]) -> Any:
    """The last value of a reply stream, or None: what ``call`` returns."""
    result = None
    for result in values:  # noqa: B007
        pass
    return result


def start_call(waiters: ReplyWaiters, publish: Callable[[dict[str, Any]], None],
               ctxt: dict[str, Any], message: dict[str, Any], *, reply_q: str,
               timeout: float | None, call_monitor_timeout: float | None,
               per_value_timeout: bool, allowed_remote_exmods: Iterable[str],
               describe: str) -> Iterator[Any]:
    """Send a call and return the iterator over its reply values.

    The waiter is registered before the request is published, so no reply can be missed;
    it is removed when the iterator ends, fails or is closed.
    """
    msg_id = wire.new_id()
    body = wire.build_request(ctxt, message, msg_id=msg_id, reply_q=reply_q,
                              call_monitor_timeout=call_monitor_timeout,
                              stream=per_value_timeout)
    replies = waiters.register(msg_id)
    try:
        publish(body)
    except BaseException:
        waiters.unregister(msg_id)
        raise
    return _replies(waiters, replies, msg_id, timeout, call_monitor_timeout,
                    per_value_timeout, list(allowed_remote_exmods),
                    f"{describe}, reply queue {reply_q})")


def _replies(waiters: ReplyWaiters, replies: ReplyQueue[Any], msg_id: str,
             timeout: float | None, call_monitor_timeout: float | None,
             per_value_timeout: bool, allowed: list[str], describe: str) -> Iterator[Any]:
    try:
        yield from iterate_replies(replies, msg_id, allowed_remote_exmods=allowed,
                                   timeout=timeout, call_monitor_timeout=call_monitor_timeout,
                                   per_value_timeout=per_value_timeout, describe=describe,
                                   waiters=waiters)
    finally:
        waiters.unregister(msg_id)


def describe_call(target: Any, message: dict[str, Any]) -> str:
    """The start of the text that timeouts add to their message (closed by start_call)."""
    return f" (target {target!r}, method {message.get('method')!r}"

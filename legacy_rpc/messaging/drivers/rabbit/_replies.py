"""Replies whose queue is missing, retried off the dispatch path.

A caller that reconnects re-declares its reply queue, so a reply the broker returned as
unroutable is worth trying again for ``kombu_missing_consumer_retry_timeout`` seconds (as
oslo.messaging does). Doing that in the worker that ran the method would pin the worker for
the whole time: a burst of calls from vanished callers would starve the server. Here one
thread per transport retries them with a growing pause, the number waiting is bounded
(the oldest is dropped, with an error), and an address that stayed missing is remembered
as gone for a while, so later replies to it are dropped at once.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from legacy_rpc.messaging.exceptions import MessageUndeliverable

LOG = logging.getLogger(__name__)

__all__ = ["ReplyRetrier"]

MAX_PENDING = 1000
OBSOLETE_ADDRESSES = 200
OBSOLETE_FOR = 60.0
FIRST_PAUSE = 0.25
LONGEST_PAUSE = 5.0


@dataclass
class _Pending:
    address: str
    exchange: Any
    data: bytes
    msg_id: str | None
    give_up: float
    next_try: float
    pause: float


Publish = Callable[[str, Any, bytes, float], None]


class ReplyRetrier:
    """Retries replies to missing queues on its own thread (started on first use)."""

    def __init__(self, publish: Publish, timeout: float, max_pending: int = MAX_PENDING) -> None:
        self._publish = publish
        self._timeout = timeout
        self._max_pending = max_pending
        self._pending: collections.deque[_Pending] = collections.deque()
        self._obsolete: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._pending)

    def is_obsolete(self, address: str) -> bool:
        with self._cond:
            expiry = self._obsolete.get(address)
            if expiry is None:
                return False
            if expiry < time.monotonic():
                del self._obsolete[address]
                return False
            return True

    def _mark_obsolete(self, address: str) -> None:
        self._obsolete[address] = time.monotonic() + OBSOLETE_FOR
        while len(self._obsolete) > OBSOLETE_ADDRESSES:
            self._obsolete.popitem(last=False)

    def add(self, address: str, exchange: Any, data: bytes, msg_id: str | None) -> None:
        """Retry this reply until its queue exists or the timeout passes."""
        now = time.monotonic()
        with self._cond:
            if self._stopped:
                return
            if len(self._pending) >= self._max_pending:
                dropped = self._pending.popleft()
                LOG.error("%d replies wait for missing reply queues; dropping the oldest "
                          "(message ID %s)", len(self._pending) + 1, dropped.msg_id)
            self._pending.append(_Pending(address, exchange, data, msg_id,
                                          now + self._timeout, now + FIRST_PAUSE, FIRST_PAUSE))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="Rabbit-reply-retrier",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def _next_due(self) -> _Pending | None:
        """Wait (holding the condition) for the next reply due for a retry."""
        while not self._stopped:
            if not self._pending:
                self._cond.wait()
                continue
            now = time.monotonic()
            due = min(self._pending, key=lambda p: p.next_try)
            if due.next_try <= now:
                self._pending.remove(due)
                return due
            self._cond.wait(due.next_try - now)
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                item = self._next_due()
                if item is None:
                    return
                gone = item.address in self._obsolete
            if gone:
                continue
            self._try(item)

    def _try(self, item: _Pending) -> None:
        try:
            self._publish(item.address, item.exchange, item.data,
                          time.monotonic() + LONGEST_PAUSE)
        except MessageUndeliverable:
            now = time.monotonic()
            with self._cond:
                if now + item.pause >= item.give_up:
                    LOG.error("The reply queue %s has not existed for %.0fs; dropping the "
                              "reply to message ID %s", item.address, self._timeout,
                              item.msg_id)
                    self._mark_obsolete(item.address)
                    return
                item.pause = min(LONGEST_PAUSE, item.pause * 2)
                item.next_try = now + item.pause
                self._pending.append(item)
        except Exception as exc:
            LOG.error("Could not send the reply to message ID %s: %s", item.msg_id, exc)

    def stop(self) -> None:
        """Drop what is pending and end the thread."""
        with self._cond:
            self._stopped = True
            self._pending.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(LONGEST_PAUSE + 1)

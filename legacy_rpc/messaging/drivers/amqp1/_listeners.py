"""Consumers of the amqp1 driver: RPC, notification and raw listeners, and replies.

Each listener has its own connection (and so its own I/O thread), which decodes and parses
each delivery as it arrives, under the shared pipeline policy (``common.parse_delivery``): a
message that is not a data or string body, or does not parse, is rejected (AMQP 1.0
``rejected``: dropped) and logged once with secrets masked. The polling thread gets parsed
messages.

Delivery rules (as the rabbit driver): an RPC request is accepted before it is dispatched
(at most once): the I/O thread accepts it as it buffers it for the polling thread, with no
hand-over back and forth; a request that arrives while the listener is stopped stays
unsettled instead (the broker takes it back if the listener is cleaned up), and is
accepted from the polling thread before dispatch if the listener starts again (one whose
acceptance cannot reach the broker then is not dispatched, the broker delivers it again).
A notification is accepted, or released for redelivery, after its endpoints returned.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from proton import Delivery

from legacy_rpc.messaging import _mask, wire
from legacy_rpc.messaging.drivers import base, common
from legacy_rpc.messaging.drivers.amqp1._connection import (
    Amqp1Connection,
    Incoming,
    Subscriber,
)

if TYPE_CHECKING:
    from legacy_rpc.messaging.drivers.amqp1._driver import Amqp1Driver

LOG = logging.getLogger(__name__)

__all__ = ["RpcListener", "NotificationListener", "RawListener", "ReplyConsumer",
           "body_of"]

SETTLE_TIMEOUT = 10.0  # longest wait for the I/O thread to settle a request before dispatch


def body_of(incoming: Incoming) -> bytes | str:
    """The body of a delivery: a data section (bytes) or a string value; else malformed."""
    body = incoming.body
    if not isinstance(body, bytes | str):
        raise wire.MalformedMessage(f"the body section holds {type(body).__name__}, not "
                                    "data or a string")
    if len(body) > common.MAX_MESSAGE_SIZE:
        raise wire.MalformedMessage(f"the body has {len(body)} bytes, more than "
                                    f"{common.MAX_MESSAGE_SIZE}")
    return body


class Amqp1RpcIncoming(base.RpcIncomingMessage):
    def __init__(self, driver: Amqp1Driver, request: wire.Request,
                 conn: Amqp1Connection) -> None:
        super().__init__(**self.fields_of(request))
        self._driver = driver
        self._conn = conn

    def transmit_reply(self, body: dict[str, Any]) -> None:
        self._driver.send_reply(self.reply_q, self.msg_id, body, conn=self._conn)


class Amqp1NotificationIncoming(base.IncomingMessage):
    def __init__(self, listener: NotificationListener, incoming: Incoming,
                 note: wire.Notification, raw: bool) -> None:
        message_id = note.metadata.get("message_id")
        super().__init__(note.ctxt, note.payload if raw else wire.notification_message(note),
                         message_id if isinstance(message_id, str) else None)
        self._listener = listener
        self._incoming = incoming
        self._unique_id = note.unique_id

    def acknowledge(self) -> None:
        self._listener.settle(self._incoming, Delivery.ACCEPTED, self._unique_id)

    def requeue(self) -> None:
        self._listener.settle(self._incoming, Delivery.RELEASED, None)


class _Buffered(NamedTuple):
    incoming: Incoming
    parsed: wire.Request | wire.Notification
    accepted: bool  # already accepted by the I/O thread


class _Listener(base.PollStyleListener):
    """Consumes some addresses on its own connection; ``poll`` returns parsed messages."""

    kind: str  # one of base.LISTEN_KINDS, set by each subclass
    accept_on_arrival = False  # RPC requests: accepted by the I/O thread as they arrive

    def __init__(self, driver: Amqp1Driver, addresses: list[str], credit: int,
                 twins: dict[str, str] | None = None) -> None:
        """``twins`` maps an optional address (one that may not exist) to the address of
        ``addresses`` that gets the same messages from this driver's senders: a message
        that comes both ways is expected, its second copy dropped without a word."""
        super().__init__(credit)
        self._driver = driver
        self._conn = driver.new_connection(f"{self.kind}-listener")
        self._buffer: collections.deque[_Buffered] = collections.deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._closed = False
        self._dedup = common.DuplicateFilter()
        self._subs = [Subscriber(address, credit, self._on_incoming, active=False)
                      for address in addresses]
        twins = twins or {}
        self._subs += [Subscriber(address, credit, self._on_incoming, active=False,
                                  optional=True) for address in twins]
        self._twins = set(twins) | set(twins.values())
        for sub in self._subs:
            self._conn.subscribe(sub)

    @property
    def degraded(self) -> str | None:
        """Why consuming does not work at the moment, or None while it does."""
        return self._conn.degraded

    def _on_incoming(self, incoming: Incoming) -> None:  # on the I/O thread
        try:
            parsed = common.parse_delivery(self.kind, body_of(incoming))
        except Exception as exc:
            self._conn.settle_here(incoming, Delivery.REJECTED)
            raw = incoming.body
            common.log_rejected(incoming.address, exc, raw if isinstance(raw, bytes | str)
                                else repr(raw)[:common.LOG_EXCERPT])
            return
        with self._cond:
            # Accepted under the lock that stop() takes: a request accepted here is in the
            # buffer before stop() returns, so the polling threads still dispatch it.
            accepted = (self.accept_on_arrival and not self._stopped
                        and self._conn.settle_here(incoming, Delivery.ACCEPTED))
            self._buffer.append(_Buffered(incoming, parsed, accepted))
            self._cond.notify()

    def start(self) -> None:
        with self._cond:
            self._stopped = False
        for sub in self._subs:
            self._conn.set_active(sub, True)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        for sub in self._subs:
            self._conn.set_active(sub, False)

    def _next(self, deadline: float | None) -> _Buffered | None:
        with self._cond:
            while not self._buffer:
                if self._stopped:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return self._buffer.popleft()

    def poll(self, timeout: float | None = None, batch_size: int = 1,
             batch_timeout: float | None = None) -> list[base.IncomingMessage]:
        deadline = time.monotonic() + timeout if timeout is not None else None
        batch: list[base.IncomingMessage] = []
        batch_deadline: float | None = None
        while len(batch) < batch_size:
            if batch and batch_timeout is None:
                wait_until: float | None = time.monotonic()
            elif batch and batch_timeout is not None:
                wait_until = batch_deadline
            else:
                wait_until = deadline
            if deadline is not None and wait_until is not None:
                wait_until = min(wait_until, deadline)
            buffered = self._next(wait_until)
            if buffered is None:
                break
            message = self._accept(*buffered)
            if message is not None:
                if not batch and batch_timeout is not None:
                    batch_deadline = time.monotonic() + batch_timeout
                batch.append(message)
        return batch

    def _accept(self, incoming: Incoming, parsed: wire.Request | wire.Notification,
                accepted: bool) -> base.IncomingMessage | None:
        raise NotImplementedError

    def cleanup(self) -> None:
        if self._closed:
            return
        self._closed = True
        for sub in self._subs:
            self._conn.unsubscribe(sub)
        self._conn.close()


class RpcListener(_Listener):
    """An RPC server's addresses: topic, topic.server and its fanout."""

    kind = "rpc"
    accept_on_arrival = True

    def _accept(self, incoming: Incoming, parsed: wire.Request | wire.Notification,
                accepted: bool) -> base.IncomingMessage | None:
        assert isinstance(parsed, wire.Request)
        if not accepted:  # it arrived while the listener was stopped
            try:
                accepted = self._conn.dispose(incoming, Delivery.ACCEPTED).result(
                    SETTLE_TIMEOUT)
            except concurrent.futures.TimeoutError:
                accepted = False
        if not accepted:
            LOG.info("Not dispatching request %s from %s: its connection was lost before "
                     "it was accepted, so the broker delivers it again", parsed.unique_id,
                     incoming.address)
            return None
        if self._dedup.seen(parsed.unique_id):
            log = LOG.debug if incoming.address in self._twins else LOG.info
            log("Ignoring duplicate message %s on %s", parsed.unique_id, incoming.address)
            return None
        return Amqp1RpcIncoming(self._driver, parsed, self._conn)


class NotificationListener(_Listener):
    """Notification addresses (``<topic>.<priority>``)."""

    kind = "notification"

    def _accept(self, incoming: Incoming, parsed: wire.Request | wire.Notification,
                accepted: bool) -> base.IncomingMessage | None:
        assert isinstance(parsed, wire.Notification)
        if self._dedup.contains(parsed.unique_id):
            LOG.info("Ignoring redelivered notification %s that was already handled",
                     parsed.unique_id)
            self._conn.dispose(incoming, Delivery.ACCEPTED)
            return None
        return Amqp1NotificationIncoming(self, incoming, parsed, raw=self.kind == "raw")

    def settle(self, incoming: Incoming, outcome: int, unique_id: str | None) -> None:
        """Accept (remembering ``unique_id``) or release a message; never raises."""
        if outcome == Delivery.ACCEPTED:
            self._dedup.seen(unique_id)
        self._conn.dispose(incoming, outcome)


class RawListener(NotificationListener):
    """Raw bodies (the legacy ``join_consumer_pool``): the un-enveloped dict is the message;
    accepted or released after the callback, like a notification."""

    kind = "raw"


class ReplyConsumer:
    """The transport's reply address, read by the send connection's I/O thread, which
    accepts each reply and routes it to the waiting call (``ReplyWaiters``)."""

    def __init__(self, driver: Amqp1Driver, waiters: common.ReplyWaiters) -> None:
        self.queue_name = f"reply_{wire.new_id()}"
        self._waiters = waiters
        self._conn = driver.send_connection()
        self._sub = Subscriber(driver.addresses.reply_source(self.queue_name),
                               driver.options.reply_link_credit, self._on_incoming,
                               auto_accept=True)
        self._conn.subscribe(self._sub)

    def _on_incoming(self, incoming: Incoming) -> None:
        try:
            body = wire.decode_body(body_of(incoming))
        except Exception as exc:  # any failure: the reply is dropped
            LOG.warning("Dropping a malformed reply: %s", _mask.mask_text(str(exc)[:300]))
            return
        self._waiters.deliver(body)

    def close(self) -> None:
        self._conn.unsubscribe(self._sub)

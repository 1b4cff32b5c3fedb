"""Consumers of the rabbit driver: RPC and notification listeners, and the reply consumer.

Each has its own connection, used only by its own thread (the server's polling thread, or
the reply thread), which also ticks its heartbeats. Acknowledgements requested by worker
threads are queued and performed by that thread, since a connection is not thread-safe.

Delivery rules (as oslo.messaging): an RPC request is acknowledged before it is dispatched;
a notification is acknowledged, or requeued, after its endpoint returns; a message that
cannot be parsed is rejected without requeue (dropped) and logged with secrets masked.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from legacy_rpc.messaging import _mask, wire
from legacy_rpc.messaging.drivers import base, common
from legacy_rpc.messaging.drivers.rabbit._connection import (
    BrokerConnection,
    DeadlineExceeded,
    Delivery,
)
from legacy_rpc.messaging.drivers.rabbit._topology import Queue

if TYPE_CHECKING:
    from legacy_rpc.messaging.drivers.rabbit._driver import RabbitDriver

LOG = logging.getLogger(__name__)

__all__ = ["RpcListener", "NotificationListener", "ReplyConsumer"]

DRAIN_SLICE = 0.2  # longest wait in one drain, so queued acks and stop() are served soon


class RabbitRpcIncoming(base.RpcIncomingMessage):
    def __init__(self, driver: RabbitDriver, request: wire.Request) -> None:
        super().__init__(**self.fields_of(request))
        self._driver = driver

    def transmit_reply(self, body: dict[str, Any]) -> None:
        self._driver.send_reply(self.reply_q, self.msg_id, body, wait_for_queue=True)

    def heartbeat(self) -> None:
        if self.wants_reply:
            self._driver.send_reply(self.reply_q, self.msg_id,
                                    wire.build_heartbeat(self._reply_msg_id),
                                    wait_for_queue=False)


class RabbitNotificationIncoming(base.IncomingMessage):
    def __init__(self, listener: NotificationListener, delivery: Delivery,
                 note: wire.Notification, raw: bool = False) -> None:
        message_id = note.metadata.get("message_id")
        super().__init__(note.ctxt, note.payload if raw else wire.notification_message(note),
                         message_id if isinstance(message_id, str) else None)
        self._listener = listener
        self._delivery = delivery
        self._unique_id = note.unique_id

    def acknowledge(self) -> None:
        self._listener.settle(self._delivery, requeue=None, unique_id=self._unique_id)

    def requeue(self) -> None:
        self._listener.settle(self._delivery, requeue=True, unique_id=None)


class _QueueListener(base.PollStyleListener):
    """Consumes some queues on its own connection; ``poll`` returns parsed messages.

    The queues are declared when the listener is created and consumed from :meth:`start`
    on. The reading thread only buffers raw deliveries; they are decoded and parsed by the
    polling thread under the pipeline policy (``common.parse_delivery``): anything that
    fails is rejected without requeue and logged once.
    """

    kind: str  # one of base.LISTEN_KINDS, set by each subclass

    def __init__(self, driver: RabbitDriver, queues: list[Queue], role: str,
                 delete_on_cleanup: tuple[str, ...] = (), retry: int | None = None) -> None:
        """``retry``: how often declaring the queues retries connecting (None: until it
        works); then ``MessageDeliveryFailure``."""
        super().__init__(driver.options.rabbit_qos_prefetch_count or -1)
        self._driver = driver
        self._conn = driver.new_connection(role, consumer=True)
        self._deliveries: collections.deque[Delivery] = collections.deque()
        self._ops: collections.deque[Callable[[], None]] = collections.deque()
        self._stopped = False
        self._wakeup = threading.Event()
        self._cancelled = False
        self._closed = False
        self._delete_on_cleanup = delete_on_cleanup
        self._dedup = common.DuplicateFilter()
        self._health = common.ConsumerHealth(
            f"Consumer of {', '.join(q.name for q in queues)}",
            longest=max(1.0, float(driver.options.rabbit_interval_max)))
        self._next_attempt = 0.0
        driver.track_listener(self._conn)
        try:
            for queue in queues:
                self._conn.add_consumer(queue, self._deliveries.append, active=False,
                                        retry=retry)
        except BaseException:
            driver.untrack_listener(self._conn)
            self._conn.close()
            raise

    @property
    def degraded(self) -> str | None:
        """Why consuming keeps failing, or None while it works."""
        return self._health.degraded

    def start(self) -> None:
        self._conn.activate()

    def _handle(self, delivery: Delivery) -> base.IncomingMessage | None:
        try:
            body = delivery.decoded_body(common.MAX_MESSAGE_SIZE)
            parsed = common.parse_delivery(self.kind, body)
        except Exception as exc:
            self._conn.reject(delivery, requeue=False)
            common.log_rejected(delivery.queue, exc, delivery.body)
            return None
        return self._accept(delivery, parsed)

    def _accept(self, delivery: Delivery,
                parsed: wire.Request | wire.Notification) -> base.IncomingMessage | None:
        raise NotImplementedError

    def _run_ops(self) -> None:
        while self._ops:
            self._ops.popleft()()

    def _consume(self, timeout: float) -> None:
        """Read deliveries for up to ``timeout``; failures back off instead of spinning."""
        now = time.monotonic()
        if now < self._next_attempt:
            self._wakeup.wait(min(timeout, self._next_attempt - now))
            return
        try:
            self._conn.drain(timeout, stop=lambda: self._stopped)
        except Exception as exc:
            if self._stopped:
                return
            delay = self._health.failed(exc)
            self._next_attempt = time.monotonic() + delay
        else:
            if self._conn.connected:
                self._health.ok()

    def poll(self, timeout: float | None = None, batch_size: int = 1,
             batch_timeout: float | None = None) -> list[base.IncomingMessage]:
        deadline = time.monotonic() + timeout if timeout is not None else None
        batch: list[base.IncomingMessage] = []
        batch_deadline: float | None = None
        while len(batch) < batch_size:
            self._run_ops()
            if self._deliveries:
                incoming = self._handle(self._deliveries.popleft())
                if incoming is not None:
                    batch.append(incoming)
                    if batch_deadline is None and batch_timeout is not None:
                        batch_deadline = time.monotonic() + batch_timeout
                continue
            if self._stopped and not self._cancelled:
                # Stop consuming (in this thread, which owns the connection): messages
                # requeued from now on go to other consumers, not back to this draining one.
                self._cancelled = True
                self._conn.cancel_consumers()
            if self._stopped or (batch and batch_timeout is None):
                break
            due = [d for d in (deadline, batch_deadline) if d is not None]
            remaining = min(due) - time.monotonic() if due else DRAIN_SLICE
            if remaining <= 0:
                break
            self._consume(min(DRAIN_SLICE, remaining))
        return batch

    def stop(self) -> None:
        self._stopped = True
        self._wakeup.set()

    def cleanup(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._conn.closing = True
        try:
            self._run_ops()
            for name in self._delete_on_cleanup:
                self._conn.delete_queue(name)
        finally:
            self._driver.untrack_listener(self._conn)
            self._conn.close()


class RpcListener(_QueueListener):
    """An RPC server's queues: topic, topic.server and its own fanout queue."""

    kind = "rpc"

    def _accept(self, delivery: Delivery,
                parsed: wire.Request | wire.Notification) -> base.IncomingMessage | None:
        assert isinstance(parsed, wire.Request)
        # Before dispatch: at most once, as oslo.messaging. An ack that certainly did not
        # reach the broker (the connection was lost after the delivery was read) leaves the
        # request in its queue: the broker delivers it again, maybe to another server, so
        # running it here too would run it twice. Only a queue the broker lost with it (a
        # transient queue at a broker restart) does not give it back: then it is lost with
        # the rest of that queue, as at-most-once allows.
        if not self._conn.ack(delivery):
            LOG.info("Not dispatching request %s from queue %s: it was not acknowledged, "
                     "so the broker delivers it again", parsed.unique_id, delivery.queue)
            return None
        if self._dedup.seen(parsed.unique_id):
            LOG.info("Ignoring duplicate message %s on queue %s", parsed.unique_id,
                     delivery.queue)
            return None
        if delivery.ttl is not None and time.monotonic() - delivery.received_at > delivery.ttl:
            LOG.warning("Dropping request %s from queue %s: its caller stopped waiting "
                        "(timeout %.1fs) before it could be dispatched",
                        parsed.msg_id or parsed.unique_id, delivery.queue, delivery.ttl)
            return None
        return RabbitRpcIncoming(self._driver, parsed)


class NotificationListener(_QueueListener):
    """Notification queues (``<topic>.<priority>`` or a pool's queue)."""

    kind = "notification"

    def _accept(self, delivery: Delivery,
                parsed: wire.Request | wire.Notification) -> base.IncomingMessage | None:
        assert isinstance(parsed, wire.Notification)
        if self._dedup.contains(parsed.unique_id):
            LOG.info("Ignoring redelivered notification %s that was already handled",
                     parsed.unique_id)
            self._conn.ack(delivery)
            return None
        return RabbitNotificationIncoming(self, delivery, parsed, raw=self.kind == "raw")

    def settle(self, delivery: Delivery, requeue: bool | None, unique_id: str | None) -> None:
        """Queue an ack (``requeue=None``) or a requeue for the polling thread."""
        if requeue:
            self._ops.append(lambda: self._conn.reject(delivery, requeue=True))
        else:
            self._dedup.seen(unique_id)
            self._ops.append(lambda: self._ack_quietly(delivery))

    def _ack_quietly(self, delivery: Delivery) -> None:
        self._conn.ack(delivery)


class RawListener(NotificationListener):
    """Raw bodies (the legacy ``join_consumer_pool``): the un-enveloped dict is the message;
    acknowledged or requeued after the callback, like a notification."""

    kind = "raw"


class ReplyConsumer:
    """The transport's reply queue. It has no thread of its own: the calls waiting for
    replies read it in turn (``ReplyWaiters``), and the heartbeat thread keeps it alive and
    clears stray replies while no call waits."""

    def __init__(self, driver: RabbitDriver, waiters: common.ReplyWaiters,
                 deadline: float | None = None) -> None:
        self.queue_name = f"reply_{wire.new_id()}"
        self._waiters = waiters
        self._conn = driver.new_connection("reply")
        self._stopped = False
        try:
            self._conn.add_consumer(driver.topology.reply_queue(self.queue_name),
                                    self._on_delivery, no_ack=True, deadline=deadline)
        except BaseException:
            self._conn.close()
            raise

    @property
    def connection(self) -> BrokerConnection:
        return self._conn

    def _on_delivery(self, delivery: Delivery) -> None:
        try:
            body = wire.decode_body(delivery.decoded_body(common.MAX_MESSAGE_SIZE))
        except Exception as exc:  # any failure: the reply is dropped (it was not acked)
            LOG.warning("Dropping a malformed reply (%d bytes): %s", len(delivery.body),
                        _mask.mask_text(str(exc)[:300]))
            return
        self._waiters.deliver(body)

    def read(self, timeout: float, deadline: float | None) -> None:
        """Read replies for up to ``timeout`` seconds (called by a waiting call)."""
        try:
            self._conn.drain(timeout, stop=lambda: self._stopped, deadline=deadline)
        except DeadlineExceeded:
            return  # the reading call's own deadline passed while reconnecting
        except Exception:
            if not self._stopped:
                LOG.exception("Reading replies failed; the next read tries again")

    def close(self) -> None:
        self._stopped = True
        self._conn.close()

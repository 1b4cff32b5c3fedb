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
    """Consumes some queues on its own connection; ``poll`` returns parsed messages."""

    def __init__(self, driver: RabbitDriver, queues: list[Queue], role: str,
                 delete_on_cleanup: tuple[str, ...] = ()) -> None:
        super().__init__(driver.options.rabbit_qos_prefetch_count or -1)
        self._driver = driver
        self._conn = driver.new_connection(role)
        self._incoming: collections.deque[base.IncomingMessage] = collections.deque()
        self._ops: collections.deque[Callable[[], None]] = collections.deque()
        self._stopped = False
        self._cancelled = False
        self._closed = False
        self._delete_on_cleanup = delete_on_cleanup
        self._dedup = common.DuplicateFilter()
        driver.track_listener(self._conn)
        try:
            for queue in queues:
                self._conn.consume(queue, self._on_delivery)
        except BaseException:
            driver.untrack_listener(self._conn)
            self._conn.close()
            raise

    def _on_delivery(self, delivery: Delivery) -> None:
        try:
            incoming = self._parse(delivery)
        except wire.MalformedMessage as exc:
            LOG.error("Dropping a malformed message from queue %s: %s; message: %s",
                      delivery.queue, exc, _mask.sanitize_body(delivery.body))
            self._conn.reject(delivery, requeue=False)
            return
        if incoming is not None:
            self._incoming.append(incoming)

    def _parse(self, delivery: Delivery) -> base.IncomingMessage | None:
        raise NotImplementedError

    def _run_ops(self) -> None:
        while self._ops:
            self._ops.popleft()()

    def poll(self, timeout: float | None = None, batch_size: int = 1,
             batch_timeout: float | None = None) -> list[base.IncomingMessage]:
        deadline = time.monotonic() + timeout if timeout is not None else None
        batch: list[base.IncomingMessage] = []
        batch_deadline: float | None = None
        while len(batch) < batch_size:
            self._run_ops()
            if self._incoming:
                batch.append(self._incoming.popleft())
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
            try:
                self._conn.drain(min(DRAIN_SLICE, remaining), stop=lambda: self._stopped)
            except Exception:
                LOG.exception("Consuming failed; trying again")
        return batch

    def stop(self) -> None:
        self._stopped = True

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

    def _parse(self, delivery: Delivery) -> base.IncomingMessage | None:
        request = wire.parse_request(wire.decode_body(delivery.body))
        self._conn.ack(delivery)  # before dispatch: at most once, as oslo.messaging
        if self._dedup.seen(request.unique_id):
            LOG.info("Ignoring duplicate message %s on queue %s", request.unique_id,
                     delivery.queue)
            return None
        return RabbitRpcIncoming(self._driver, request)


class NotificationListener(_QueueListener):
    """Notification queues (``<topic>.<priority>`` or a pool's queue)."""

    def _parse(self, delivery: Delivery) -> base.IncomingMessage | None:
        note = wire.parse_notification(wire.decode_body(delivery.body))
        if self._dedup.contains(note.unique_id):
            LOG.info("Ignoring redelivered notification %s that was already handled",
                     note.unique_id)
            self._conn.ack(delivery)
            return None
        return RabbitNotificationIncoming(self, delivery, note)

    def settle(self, delivery: Delivery, requeue: bool | None, unique_id: str | None) -> None:
        """Queue an ack (``requeue=None``) or a requeue for the polling thread."""
        if requeue:
            self._ops.append(lambda: self._conn.reject(delivery, requeue=True))
        else:
            self._dedup.seen(unique_id)
            self._ops.append(lambda: self._conn.ack(delivery))


class RawListener(NotificationListener):
    """Raw bodies (the legacy ``join_consumer_pool``): the un-enveloped dict is the message;
    acknowledged or requeued after the callback, like a notification."""

    def _parse(self, delivery: Delivery) -> base.IncomingMessage | None:
        message = wire.deserialize_msg(wire.decode_body(delivery.body))
        if not isinstance(message, dict):
            raise wire.MalformedMessage(f"message must be a JSON object, got "
                                        f"{type(message).__name__}")
        unique_id = message.get(wire.UNIQUE_ID)
        note = wire.Notification(ctxt={}, publisher_id=None, event_type=None, priority="",
                                 payload=message, unique_id=unique_id
                                 if isinstance(unique_id, str) else None)
        if self._dedup.contains(note.unique_id):
            self._conn.ack(delivery)
            return None
        return RabbitNotificationIncoming(self, delivery, note, raw=True)


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
            self._conn.consume(driver.topology.reply_queue(self.queue_name),
                               self._on_delivery, no_ack=True, deadline=deadline)
        except BaseException:
            self._conn.close()
            raise

    @property
    def connection(self) -> BrokerConnection:
        return self._conn

    def _on_delivery(self, delivery: Delivery) -> None:
        try:
            body = wire.decode_body(delivery.body)
        except wire.MalformedMessage as exc:
            LOG.warning("Dropping a malformed reply: %s", exc)
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

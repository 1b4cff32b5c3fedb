"""The ``fake`` driver: an in-memory broker with RabbitMQ's semantics, one per virtual host.

URL: ``fake://`` or ``fake:///<virtual host>`` (any host part is ignored).

Transports whose URLs name the same virtual host in one process share one broker and meet
there, as transports to one real broker do: a client on one transport reaches a server on
another. Tests keep apart by giving each test a virtual host of its own
(``fake:///test-<id>``; the pytest plugin does this), never by a global reset. A broker lives
as long as a transport on it does; when the last one is gone, so are its queued messages.

The broker mirrors the topology of the rabbit driver (topic exchange, ``<topic>`` and
``<topic>.<server>`` queues, ``<topic>_fanout`` exchange with a queue per server, one
``reply_<id>`` queue per transport, notification queues declared by publishers, pool queues
named after the pool) and its delivery rules: round-robin among the consumers of a queue,
messages kept in a queue until a consumer comes, a message to a queue nobody declared is
dropped, a call request expires after its timeout. Queue names are per virtual host, not
per exchange, as on RabbitMQ. Bodies cross it as the bytes :mod:`~legacy_rpc.messaging.wire`
encodes, so a payload that is not JSON-serialisable fails here exactly as it would on a real
broker.

Capabilities: requeue, fanout, streaming replies, call monitoring, pools.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from legacy_rpc.messaging import wire
from legacy_rpc.messaging.drivers import base, common
from legacy_rpc.messaging.exceptions import InvalidTarget, MessageUndeliverable
from legacy_rpc.messaging.target import Target

LOG = logging.getLogger(__name__)

__all__ = ["FakeDriver", "FakeBroker", "broker_for"]


@dataclass
class _Delivery:
    body: bytes
    expires_at: float | None = None
    redelivered: bool = False


class _Consumer(Protocol):
    def push(self, queue_name: str, delivery: _Delivery) -> None: ...


@dataclass
class _Queue:
    name: str
    messages: collections.deque[_Delivery] = field(default_factory=collections.deque)
    consumers: list[_Consumer] = field(default_factory=list)
    next_consumer: int = 0


class FakeBroker:
    """Exchanges, queues and bindings in memory; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._topic: dict[str, dict[str, set[str]]] = {}   # exchange -> key -> queues
        self._fanout: dict[str, set[str]] = {}              # exchange -> queues
        self._queues: dict[str, _Queue] = {}

    def declare_queue(self, name: str) -> None:
        with self._lock:
            self._queues.setdefault(name, _Queue(name))

    def bind(self, exchange: str, queue: str, routing_key: str) -> None:
        with self._lock:
            self._topic.setdefault(exchange, {}).setdefault(routing_key, set()).add(queue)

    def bind_fanout(self, exchange: str, queue: str) -> None:
        with self._lock:
            self._fanout.setdefault(exchange, set()).add(queue)

    def has_queue(self, name: str) -> bool:
        with self._lock:
            return name in self._queues

    def queue_depth(self, name: str) -> int:
        """Messages waiting in a queue for a consumer (for tests and the CLI)."""
        with self._lock:
            q = self._queues.get(name)
            return len(q.messages) if q else 0

    def delete_queue(self, name: str) -> None:
        with self._lock:
            self._queues.pop(name, None)
            for keys in self._topic.values():
                for queues in keys.values():
                    queues.discard(name)
            for queues in self._fanout.values():
                queues.discard(name)

    def publish(self, exchange: str, routing_key: str, body: bytes, *, fanout: bool = False,
                expiration: float | None = None) -> int:
        """Route a message; return how many queues it reached (0: it was dropped)."""
        expires_at = time.monotonic() + expiration if expiration else None
        with self._lock:
            if fanout:
                names = sorted(self._fanout.get(exchange, ()))
            elif exchange == "":
                names = [routing_key] if routing_key in self._queues else []
            else:
                names = sorted(self._topic.get(exchange, {}).get(routing_key, ()))
            for name in names:
                self._enqueue(self._queues[name], _Delivery(body, expires_at))
            return len(names)

    def _enqueue(self, q: _Queue, delivery: _Delivery, at_head: bool = False) -> None:
        if q.consumers:
            consumer = q.consumers[q.next_consumer % len(q.consumers)]
            q.next_consumer += 1
            consumer.push(q.name, delivery)
        elif at_head:
            q.messages.appendleft(delivery)
        else:
            q.messages.append(delivery)

    def consume(self, queue_name: str, consumer: _Consumer) -> None:
        """Add a consumer; messages waiting in the queue are handed out at once."""
        with self._lock:
            q = self._queues[queue_name]
            q.consumers.append(consumer)
            now = time.monotonic()
            while q.messages:
                delivery = q.messages.popleft()
                if delivery.expires_at is not None and delivery.expires_at <= now:
                    continue
                self._enqueue(q, delivery)

    def cancel(self, queue_name: str, consumer: _Consumer) -> None:
        with self._lock:
            q = self._queues.get(queue_name)
            if q is not None and consumer in q.consumers:
                q.consumers.remove(consumer)

    def requeue(self, queue_name: str, delivery: _Delivery) -> None:
        """Give a message back to the head of its queue (or to the next consumer)."""
        with self._lock:
            q = self._queues.get(queue_name)
            if q is None:
                LOG.debug("Queue %s is gone; dropping a requeued message", queue_name)
                return
            delivery.redelivered = True
            self._enqueue(q, delivery, at_head=True)


_brokers: weakref.WeakValueDictionary[str, FakeBroker] = weakref.WeakValueDictionary()
_brokers_lock = threading.Lock()


def broker_for(virtual_host: str | None) -> FakeBroker:
    """The process's in-memory broker of ``virtual_host`` (``None`` and ``""`` are one).

    Created on first use; kept while a transport (or the caller) holds it.
    """
    name = virtual_host or ""
    with _brokers_lock:
        broker = _brokers.get(name)
        if broker is None:
            broker = FakeBroker()
            _brokers[name] = broker
        return broker


class _RpcIncoming(base.RpcIncomingMessage):
    def __init__(self, driver: FakeDriver, request: wire.Request) -> None:
        super().__init__(**self.fields_of(request))
        self._driver = driver

    def transmit_reply(self, body: dict[str, Any]) -> None:
        # Legacy callers without _reply_q wait on a direct exchange named after the msg id.
        address = self.reply_q if self.reply_q is not None else self.msg_id
        exchange = "" if self.reply_q is not None else self.msg_id
        if not self._driver.broker.publish(exchange, address, wire.encode_body(body)):
            LOG.info("Reply queue %s no longer exists; the caller gave up. Dropping the reply "
                     "to message ID %s", address, self.msg_id)


class _FakeListener(base.PollStyleListener):
    """Consumes a set of queues into one inbox; decodes on poll."""

    def __init__(self, driver: FakeDriver, queues: list[str],
                 delete_on_cleanup: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._driver = driver
        self._queues = queues
        self._delete_on_cleanup = delete_on_cleanup
        self._inbox: collections.deque[tuple[str, _Delivery]] = collections.deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._closed = False
        self._dedup = common.DuplicateFilter()
        self._consuming = False

    def start(self) -> None:
        with self._cond:
            if self._consuming or self._closed:
                return
            self._consuming = True
        for name in self._queues:
            self._driver.broker.consume(name, self)

    def push(self, queue_name: str, delivery: _Delivery) -> None:
        with self._cond:
            self._inbox.append((queue_name, delivery))
            self._cond.notify()

    def _to_incoming(self, queue_name: str, delivery: _Delivery) -> base.IncomingMessage | None:
        try:
            request = common.parse_delivery("rpc", delivery.body)
        except wire.MalformedMessage as exc:
            common.log_rejected(queue_name, exc, delivery.body)
            return None
        assert isinstance(request, wire.Request)
        if self._dedup.seen(request.unique_id):
            LOG.info("Ignoring duplicate message %s on queue %s", request.unique_id, queue_name)
            return None
        return _RpcIncoming(self._driver, request)

    def poll(self, timeout: float | None = None, batch_size: int = 1,
             batch_timeout: float | None = None) -> list[base.IncomingMessage]:
        deadline = time.monotonic() + timeout if timeout is not None else None
        batch: list[base.IncomingMessage] = []
        batch_deadline: float | None = None
        with self._cond:
            while len(batch) < batch_size:
                if self._inbox:
                    queue_name, delivery = self._inbox.popleft()
                    incoming = self._to_incoming(queue_name, delivery)
                    if incoming is not None:
                        batch.append(incoming)
                        if batch_deadline is None and batch_timeout is not None:
                            batch_deadline = time.monotonic() + batch_timeout
                    continue
                if self._stopped or (batch and batch_timeout is None):
                    break
                due = [d for d in (deadline, batch_deadline) if d is not None]
                remaining = min(due) - time.monotonic() if due else None
                if remaining is not None and remaining <= 0:
                    break
                self._cond.wait(remaining)
        return batch

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def cleanup(self) -> None:
        """Cancel the consumers; messages not yet polled go back to their queues."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            pending = list(self._inbox)
            self._inbox.clear()
        broker = self._driver.broker
        for name in self._queues:
            broker.cancel(name, self)
        for queue_name, delivery in pending:
            broker.requeue(queue_name, delivery)
        for name in self._delete_on_cleanup:
            broker.delete_queue(name)


class _NotificationIncoming(base.IncomingMessage):
    """A delivered notification, unacknowledged until :meth:`acknowledge` or :meth:`requeue`."""

    def __init__(self, listener: _NotificationListener, queue_name: str, delivery: _Delivery,
                 note: wire.Notification, raw: bool = False) -> None:
        message_id = note.metadata.get("message_id")
        super().__init__(note.ctxt, note.payload if raw else wire.notification_message(note),
                         message_id if isinstance(message_id, str) else None)
        self.unique_id = note.unique_id
        self.queue_name = queue_name
        self.delivery = delivery
        self._listener = listener

    def acknowledge(self) -> None:
        self._listener.settle(self, requeue=False)

    def requeue(self) -> None:
        self._listener.settle(self, requeue=True)


class _NotificationListener(_FakeListener):
    """Consumes notification queues; tracks what is delivered but not yet settled.

    As on RabbitMQ: a requeued notification goes back to the head of its queue, and the
    ones still unacknowledged when the listener is cleaned up are given back too. The
    redelivery of a notification acknowledged recently (same ``_unique_id``) is dropped.
    """

    def __init__(self, driver: FakeDriver, queues: list[str],
                 delete_on_cleanup: tuple[str, ...] = (), raw: bool = False) -> None:
        self._raw = raw
        self._unacked: set[_NotificationIncoming] = set()
        self._acked = common.DuplicateFilter()  # the unique ids acknowledged last
        self._settle_lock = threading.Lock()
        super().__init__(driver, queues, delete_on_cleanup=delete_on_cleanup)

    def _to_incoming(self, queue_name: str, delivery: _Delivery) -> base.IncomingMessage | None:
        try:
            note = common.parse_delivery("raw" if self._raw else "notification",
                                         delivery.body)
        except wire.MalformedMessage as exc:
            common.log_rejected(queue_name, exc, delivery.body)
            return None
        assert isinstance(note, wire.Notification)
        if self._acked.contains(note.unique_id):
            LOG.info("Ignoring duplicate message %s on queue %s", note.unique_id,
                     queue_name)
            return None
        incoming = _NotificationIncoming(self, queue_name, delivery, note, raw=self._raw)
        with self._settle_lock:
            self._unacked.add(incoming)
        return incoming

    def settle(self, incoming: _NotificationIncoming, requeue: bool) -> None:
        """Acknowledge or requeue once; a second call, or one after cleanup, does nothing."""
        with self._settle_lock:
            if incoming not in self._unacked:
                LOG.debug("Notification %s is already settled", incoming.msg_id)
                return
            self._unacked.discard(incoming)
            if not requeue:
                self._acked.seen(incoming.unique_id)
        if requeue:
            self._driver.broker.requeue(incoming.queue_name, incoming.delivery)

    def stop(self) -> None:
        """Stop consuming at once: what is requeued from now on goes to the queue (or to
        another listener) instead of back into this draining listener, so a requeueing
        endpoint cannot keep the drain going."""
        super().stop()
        for name in self._queues:
            self._driver.broker.cancel(name, self)

    def cleanup(self) -> None:
        super().cleanup()
        with self._settle_lock:
            unsettled, self._unacked = self._unacked, set()
        for incoming in unsettled:
            self._driver.broker.requeue(incoming.queue_name, incoming.delivery)


class _ReplyConsumer:
    """Hands each reply to its waiting call as soon as it is published."""

    def __init__(self, waiters: common.ReplyWaiters) -> None:
        self._waiters = waiters

    def push(self, queue_name: str, delivery: _Delivery) -> None:
        try:
            body = wire.decode_body(delivery.body)
        except wire.MalformedMessage as exc:
            LOG.warning("Dropping a malformed reply on %s: %s", queue_name, exc)
            return
        self._waiters.deliver(body)


class FakeDriver(base.BaseDriver):
    """The in-memory driver (``fake://``)."""

    capabilities = base.Capabilities(requeue=True, fanout=True, streaming_replies=True,
                                     call_monitor=True, pools=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.broker = broker_for(self._url.virtual_host)
        self._waiters = common.ReplyWaiters()
        self._reply_q: str | None = None
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- sending

    def _exchange(self, target: Target) -> str:
        return target.exchange or self._default_exchange or "openstack"

    def _reply_queue(self) -> str:
        with self._lock:
            if self._reply_q is None:
                name = f"reply_{wire.new_id()}"
                self.broker.declare_queue(name)
                self.broker.consume(name, _ReplyConsumer(self._waiters))
                self._reply_q = name
            return self._reply_q

    @staticmethod
    def _routing_key(target: Target) -> str:
        if not target.topic:
            raise InvalidTarget("A topic is required to send", target)
        return f"{target.topic}.{target.server}" if target.server else target.topic

    def _publish_request(self, target: Target, body: dict[str, Any], message: dict[str, Any],
                         transport_options: Any, expiration: float | None = None) -> None:
        data = wire.encode_body(body)
        routing_key = self._routing_key(target)
        if target.fanout:
            self.broker.publish(f"{target.topic}_fanout", "", data, fanout=True)
            return
        exchange = self._exchange(target)
        routed = self.broker.publish(exchange, routing_key, data, expiration=expiration)
        if not routed and getattr(transport_options, "at_least_once", False):
            raise MessageUndeliverable(None, exchange, routing_key, message)

    def send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
             wait_for_reply: bool | None = None, timeout: float | None = None,
             call_monitor_timeout: float | None = None, retry: int | None = None,
             transport_options: Any = None) -> Any:
        if not wait_for_reply:
            self._publish_request(target, wire.build_request(ctxt, message), message,
                                  transport_options)
            return None
        return common.last_value(self._call(target, ctxt, message, timeout,
                                            call_monitor_timeout, transport_options,
                                            per_value_timeout=False))

    def send_stream(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
                    timeout: float | None = None, call_monitor_timeout: float | None = None,
                    retry: int | None = None, transport_options: Any = None) -> Iterator[Any]:
        return self._call(target, ctxt, message, timeout, call_monitor_timeout,
                          transport_options, per_value_timeout=True)

    def _call(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
              timeout: float | None, call_monitor_timeout: float | None,
              transport_options: Any, per_value_timeout: bool) -> Iterator[Any]:
        if target.fanout:
            raise InvalidTarget("A call cannot be sent to a fanout target", target)

        def publish(body: dict[str, Any]) -> None:
            self._publish_request(target, body, message, transport_options,
                                  expiration=timeout)

        return common.start_call(
            self._waiters, publish, ctxt, message, reply_q=self._reply_queue(),
            timeout=timeout, call_monitor_timeout=call_monitor_timeout,
            per_value_timeout=per_value_timeout,
            allowed_remote_exmods=self._allowed_remote_exmods,
            describe=common.describe_call(target, message))

    def send_notification(self, target: Target, ctxt: dict[str, Any],
                          message: dict[str, Any], version: float,
                          retry: int | None = None) -> None:
        """Publish to ``<topic>.<priority>`` (``target.topic``); ``retry`` has no use here."""
        if not target.topic:
            raise InvalidTarget("A topic is required to send a notification", target)
        exchange = self._exchange(target)
        # Like the rabbit driver, the publisher declares the default queue so that
        # notifications sent before any listener exists are kept.
        self.broker.declare_queue(target.topic)
        self.broker.bind(exchange, target.topic, target.topic)
        body = wire.pack_notification(ctxt, message, version)
        self.broker.publish(exchange, target.topic, wire.encode_body(body))

    # ----------------------------------------------------------------- listening

    def listen_subscriptions(self, subscriptions: list[base.Subscription], kind: str,
                             batch_size: int = 1,
                             batch_timeout: float | None = None) -> base.Listener:
        queues: list[str] = []
        generated: list[str] = []
        for sub in subscriptions:
            if sub.fanout:
                name = sub.queue or f"{sub.routing_key}_fanout_{wire.new_id()}"
                if sub.queue is None:
                    generated.append(name)
                self.broker.declare_queue(name)
                self.broker.bind_fanout(f"{sub.routing_key}_fanout", name)
            else:
                name = sub.queue or sub.routing_key
                self.broker.declare_queue(name)
                self.broker.bind(sub.exchange or self._default_exchange or "openstack", name,
                                 sub.routing_key)
            if name not in queues:
                queues.append(name)
        listener: _FakeListener
        if kind == "rpc":
            listener = _FakeListener(self, queues, delete_on_cleanup=tuple(generated))
        else:
            listener = _NotificationListener(self, queues, tuple(generated), raw=kind == "raw")
        return base.PollStyleListenerAdapter(listener, batch_size, batch_timeout)

    def cleanup(self) -> None:
        with self._lock:
            if self._reply_q is not None:
                self.broker.delete_queue(self._reply_q)
                self._reply_q = None

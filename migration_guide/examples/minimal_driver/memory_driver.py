"""A minimal in-memory driver: the complete example of the driver porting guide.

It implements the five methods a driver must (``send``, ``send_stream``,
``send_notification``, ``listen_subscriptions``, ``cleanup``) on a tiny broker: named
queues, ``(exchange, routing key) -> queues`` bindings, and listeners that pull from their
queues. Message bodies are built and parsed only by ``legacy_rpc.messaging.wire``; replies
are routed by ``legacy_rpc.messaging.drivers.common``. It passes the driver contract suite
(see ``migration_guide/driver_porting.md`` for the command).

To use it, give it a name with ``registry.register_driver("memory", "<module>:MemoryDriver")``
(then ``memory://`` selects it), or declare it as an entry point in ``legacy_rpc.drivers``.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from legacy_rpc.messaging import _mask, wire
from legacy_rpc.messaging.drivers import base, common
from legacy_rpc.messaging.exceptions import InvalidTarget, MessageUndeliverable
from legacy_rpc.messaging.target import Target

LOG = logging.getLogger(__name__)


class _Broker:
    """Queues and bindings under one condition variable.

    As a real broker does, each message is given to the started listeners of its queue in
    turn (round-robin) when it is published; one published while nobody listens, or given
    back, goes to whichever listener takes it first.
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.queues: dict[str, collections.deque[tuple[int | None, bytes]]] = {}
        self.bindings: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
        self.consumers: dict[str, list[int]] = collections.defaultdict(list)
        self._turn: collections.Counter[str] = collections.Counter()

    def declare(self, queue: str, exchange: str, routing_key: str) -> None:
        with self.cond:
            self.queues.setdefault(queue, collections.deque())
            self.bindings[(exchange, routing_key)].add(queue)

    def delete(self, queue: str) -> None:
        with self.cond:
            self.queues.pop(queue, None)
            for bound in self.bindings.values():
                bound.discard(queue)

    def consume(self, queue: str, consumer: int, active: bool) -> None:
        """Start (``active``) or stop giving messages of ``queue`` to ``consumer``."""
        with self.cond:
            members = self.consumers[queue]
            if active and consumer not in members:
                members.append(consumer)
            elif not active and consumer in members:
                members.remove(consumer)
            self.cond.notify_all()  # messages given to a stopped consumer are free again

    def publish(self, exchange: str, routing_key: str, body: bytes) -> int:
        with self.cond:
            names = ([routing_key] if exchange == "" and routing_key in self.queues
                     else sorted(self.bindings.get((exchange, routing_key), ())))
            for name in names:
                members = self.consumers.get(name)
                owner = members[self._turn[name] % len(members)] if members else None
                self._turn[name] += 1
                self.queues[name].append((owner, body))
            self.cond.notify_all()
            return len(names)

    def take(self, queue: str, consumer: int) -> bytes | None:
        """The first message of ``queue`` given to ``consumer`` or to nobody (in order)."""
        pending = self.queues.get(queue)
        if not pending:
            return None
        members = self.consumers.get(queue, [])
        for index, (owner, body) in enumerate(pending):
            if owner is None or owner == consumer or owner not in members:
                del pending[index]
                return body
        return None

    def give_back(self, queue: str, body: bytes) -> None:
        with self.cond:
            if queue in self.queues:
                self.queues[queue].appendleft((None, body))
                self.cond.notify_all()


class _Request(base.RpcIncomingMessage):
    def __init__(self, driver: MemoryDriver, request: wire.Request) -> None:
        super().__init__(**self.fields_of(request))
        self._driver = driver

    def transmit_reply(self, body: dict[str, Any]) -> None:
        if self.reply_q is not None:
            self._driver.broker.publish("", self.reply_q, wire.encode_body(body))
        else:  # a pre-Grizzly caller waits on a direct exchange named after the msg id
            self._driver.broker.publish(str(self.msg_id), str(self.msg_id),
                                        wire.encode_body(body))


class _Delivered(base.IncomingMessage):
    """A notification (or raw message), acknowledged or requeued after dispatch."""

    def __init__(self, listener: _Listener, queue: str, body: bytes,
                 note: wire.Notification, raw: bool) -> None:
        message_id = note.metadata.get("message_id")
        super().__init__(note.ctxt, note.payload if raw else wire.notification_message(note),
                         message_id if isinstance(message_id, str) else None)
        self.queue, self.body, self.unique_id = queue, body, note.unique_id
        self._listener = listener

    def acknowledge(self) -> None:
        self._listener.settle(self, requeue=False)

    def requeue(self) -> None:
        self._listener.settle(self, requeue=True)


class _Listener(base.PollStyleListener):
    """Pulls from its queues; messages are parsed per the listener's kind."""

    def __init__(self, driver: MemoryDriver, queues: list[str], kind: str,
                 temporary: list[str]) -> None:
        super().__init__()
        self._driver, self._queues, self._kind, self._temporary = driver, queues, kind, temporary
        self._stopped = False
        self._seen = common.DuplicateFilter()
        self._unsettled: set[_Delivered] = set()

    def start(self) -> None:
        for queue in self._queues:
            self._driver.broker.consume(queue, id(self), active=True)

    def _take(self) -> tuple[str, bytes] | None:
        for queue in self._queues:
            body = self._driver.broker.take(queue, id(self))
            if body is not None:
                return queue, body
        return None

    def _parse(self, queue: str, body: bytes) -> base.IncomingMessage | None:
        try:
            data = wire.decode_body(body)
            if self._kind == "rpc":
                request = wire.parse_request(data)
                return None if self._seen.seen(request.unique_id) else _Request(
                    self._driver, request)
            if self._kind == "raw":
                message = wire.deserialize_msg(data)
                if not isinstance(message, dict):
                    raise wire.MalformedMessage("a raw message must be a JSON object")
                unique = message.get(wire.UNIQUE_ID)
                note = wire.Notification({}, None, None, "", message,
                                         unique_id=unique if isinstance(unique, str) else None)
            else:
                note = wire.parse_notification(data)
        except wire.MalformedMessage as exc:
            LOG.error("Dropping a malformed message from queue %s: %s; message: %s", queue,
                      exc, _mask.sanitize_body(body))
            return None
        if self._seen.contains(note.unique_id):
            return None
        delivered = _Delivered(self, queue, body, note, raw=self._kind == "raw")
        self._unsettled.add(delivered)
        return delivered

    def poll(self, timeout: float | None = None, batch_size: int = 1,
             batch_timeout: float | None = None) -> list[base.IncomingMessage]:
        deadline = None if timeout is None else time.monotonic() + timeout
        batch: list[base.IncomingMessage] = []
        broker = self._driver.broker
        with broker.cond:
            while len(batch) < batch_size and not self._stopped:
                taken = self._take()
                if taken is not None:
                    incoming = self._parse(*taken)
                    if incoming is not None:
                        batch.append(incoming)
                        if batch_timeout is not None and len(batch) == 1:
                            deadline = time.monotonic() + batch_timeout
                    continue
                if batch and batch_timeout is None:
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                broker.cond.wait(remaining)
        return batch

    def settle(self, delivered: _Delivered, requeue: bool) -> None:
        with self._driver.broker.cond:
            if delivered not in self._unsettled:
                return
            self._unsettled.discard(delivered)
            if not requeue:
                self._seen.seen(delivered.unique_id)
        if requeue:
            self._driver.broker.give_back(delivered.queue, delivered.body)

    def stop(self) -> None:
        with self._driver.broker.cond:
            self._stopped = True  # nothing is fetched ahead, so nothing is left behind
            self._driver.broker.cond.notify_all()
        for queue in self._queues:
            self._driver.broker.consume(queue, id(self), active=False)

    def cleanup(self) -> None:
        self.stop()
        with self._driver.broker.cond:
            unsettled, self._unsettled = self._unsettled, set()
        for delivered in unsettled:
            self._driver.broker.give_back(delivered.queue, delivered.body)
        for queue in self._temporary:
            self._driver.broker.delete(queue)


class _ReplyQueue(collections.deque[tuple[int | None, bytes]]):
    """The transport's reply queue: each reply goes straight to its waiting call."""

    def __init__(self, waiters: common.ReplyWaiters) -> None:
        super().__init__()
        self._waiters = waiters

    def append(self, item: tuple[int | None, bytes]) -> None:
        body = item[1]
        try:
            self._waiters.deliver(wire.decode_body(body))
        except wire.MalformedMessage as exc:
            LOG.warning("Dropping a malformed reply: %s", exc)


class MemoryDriver(base.BaseDriver):
    """An in-memory driver in about 250 lines (one broker per transport)."""

    capabilities = base.Capabilities(requeue=True, fanout=True, streaming_replies=True,
                                     call_monitor=True, pools=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.broker = _Broker()
        self._waiters = common.ReplyWaiters()
        self._reply_q = f"reply_{wire.new_id()}"
        self.broker.queues[self._reply_q] = _ReplyQueue(self._waiters)

    def _exchange(self, exchange: str | None) -> str:
        return exchange or self._default_exchange or "openstack"

    def _publish_request(self, target: Target, body: dict[str, Any], options: Any) -> None:
        if not target.topic:
            raise InvalidTarget("A topic is required to send", target)
        data = wire.encode_body(body)
        if target.fanout:
            self.broker.publish(f"{target.topic}_fanout", "", data)
            return
        key = f"{target.topic}.{target.server}" if target.server else target.topic
        exchange = self._exchange(target.exchange)
        if not self.broker.publish(exchange, key, data) and getattr(
                options, "at_least_once", False):
            raise MessageUndeliverable(None, exchange, key, body)

    def send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
             wait_for_reply: bool | None = None, timeout: float | None = None,
             call_monitor_timeout: float | None = None, retry: int | None = None,
             transport_options: Any = None) -> Any:
        if not wait_for_reply:
            self._publish_request(target, wire.build_request(ctxt, message), transport_options)
            return None
        return common.last_value(self.send_stream(target, ctxt, message, timeout,
                                                  call_monitor_timeout, retry,
                                                  transport_options, per_value=False))

    def send_stream(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
                    timeout: float | None = None, call_monitor_timeout: float | None = None,
                    retry: int | None = None, transport_options: Any = None,
                    per_value: bool = True) -> Iterator[Any]:
        if target.fanout:
            raise InvalidTarget("A call cannot be sent to a fanout target", target)
        return common.start_call(
            self._waiters, lambda body: self._publish_request(target, body, transport_options),
            ctxt, message, reply_q=self._reply_q, timeout=timeout,
            call_monitor_timeout=call_monitor_timeout, per_value_timeout=per_value,
            allowed_remote_exmods=self._allowed_remote_exmods,
            describe=common.describe_call(target, message))

    def send_notification(self, target: Target, ctxt: dict[str, Any],
                          message: dict[str, Any], version: float,
                          retry: int | None = None) -> None:
        if not target.topic:
            raise InvalidTarget("A topic is required to send a notification", target)
        exchange = self._exchange(target.exchange)
        self.broker.declare(target.topic, exchange, target.topic)  # kept until a listener
        self.broker.publish(exchange, target.topic, wire.encode_body(
            wire.pack_notification(ctxt, message, version)))

    def listen_subscriptions(self, subscriptions: list[base.Subscription], kind: str,
                             batch_size: int = 1,
                             batch_timeout: float | None = None) -> base.Listener:
        queues: list[str] = []
        temporary: list[str] = []
        for sub in subscriptions:
            if sub.fanout:
                name = sub.queue or f"{sub.routing_key}_fanout_{wire.new_id()}"
                temporary += [] if sub.queue else [name]
                self.broker.declare(name, f"{sub.routing_key}_fanout", "")
            else:
                name = sub.queue or sub.routing_key
                self.broker.declare(name, self._exchange(sub.exchange), sub.routing_key)
            if name not in queues:
                queues.append(name)
        listener = _Listener(self, queues, kind, temporary)
        return base.PollStyleListenerAdapter(listener, batch_size, batch_timeout)

    def cleanup(self) -> None:
        self.broker.delete(self._reply_q)

    # Test hooks used by the contract suite's raw-message tests.

    def raw_publish(self, exchange: str, routing_key: str, body: bytes) -> None:
        self.broker.publish(exchange, routing_key, body)

    def raw_collect(self, queue: str, bindings: list[tuple[str, str]]) -> list[bytes]:
        collected: list[bytes] = []

        class _Tap(collections.deque[tuple[int | None, bytes]]):
            def append(self, item: tuple[int | None, bytes]) -> None:
                collected.append(item[1])

        with self.broker.cond:
            self.broker.queues[queue] = _Tap()
            for exchange, key in bindings:
                self.broker.bindings[(exchange, key)].add(queue)
        return collected

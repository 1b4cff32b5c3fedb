"""Exchange and queue declarations, exactly as oslo.messaging 18.x makes them.

RabbitMQ refuses a declaration whose flags differ from the existing object's
(``PRECONDITION_FAILED``), so services of both kinds can only share a broker if every flag
and argument here matches oslo.messaging's under the same options (spec section 3.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from legacy_rpc.messaging.drivers.base import Subscription, rpc_subscriptions
from legacy_rpc.messaging.drivers.rabbit._opts import RabbitOptions
from legacy_rpc.messaging.target import Target

__all__ = ["Exchange", "Queue", "Topology"]


@dataclass(frozen=True)
class Exchange:
    name: str
    type: str
    durable: bool
    auto_delete: bool


@dataclass(frozen=True)
class Queue:
    name: str
    durable: bool
    auto_delete: bool
    arguments: dict[str, Any] = field(default_factory=dict, hash=False)
    bindings: tuple[tuple[Exchange, str], ...] = ()


class Topology:
    """Builds the declarations of one transport from its options."""

    def __init__(self, options: RabbitOptions) -> None:
        self.options = options
        quorum = options.rabbit_quorum_queue
        self._durable = options.amqp_durable_queues or quorum
        self._auto_delete = options.amqp_auto_delete
        self._transient_durable = options.rabbit_transient_quorum_queue

    def _arguments(self, quorum: bool, expiring: bool) -> dict[str, Any]:
        opts = self.options
        args: dict[str, Any] = {}
        if opts.rabbit_ha_queues:
            args["x-ha-policy"] = "all"
        if quorum:
            args["x-queue-type"] = "quorum"
            if opts.rabbit_quorum_delivery_limit > 0:
                args["x-delivery-limit"] = opts.rabbit_quorum_delivery_limit
            if opts.rabbit_quorum_max_memory_length > 0:
                args["x-max-in-memory-length"] = opts.rabbit_quorum_max_memory_length
            if opts.rabbit_quorum_max_memory_bytes > 0:
                args["x-max-in-memory-bytes"] = opts.rabbit_quorum_max_memory_bytes
        if expiring and opts.rabbit_transient_queues_ttl > 0:
            args["x-expires"] = opts.rabbit_transient_queues_ttl * 1000
        return args

    def topic_exchange(self, name: str) -> Exchange:
        return Exchange(name, "topic", self._durable, self._auto_delete)

    def fanout_exchange(self, topic: str) -> Exchange:
        return Exchange(f"{topic}_fanout", "fanout", self._transient_durable, True)

    def _shared_queue(self, name: str, bindings: tuple[tuple[Exchange, str], ...]) -> Queue:
        return Queue(name, self._durable, self._auto_delete,
                     self._arguments(self.options.rabbit_quorum_queue, expiring=False),
                     bindings)

    def subscription_queue(self, subscription: Subscription, default_exchange: str,
                           unique: str) -> Queue:
        """The queue (with its binding) of one listener subscription."""
        key = subscription.routing_key
        if subscription.fanout:
            return Queue(subscription.queue or f"{key}_fanout_{unique}",
                         self._transient_durable, False,
                         self._arguments(self.options.rabbit_transient_quorum_queue,
                                         expiring=True),
                         ((self.fanout_exchange(key), key),))
        exchange = self.topic_exchange(subscription.exchange or default_exchange)
        return self._shared_queue(subscription.queue or key, ((exchange, key),))

    def rpc_queues(self, exchange: str, topic: str, server: str,
                   unique: str) -> list[Queue]:
        """The three queues of an RPC server: topic, topic.server and its fanout queue."""
        target = Target(exchange=exchange, topic=topic, server=server)
        return [self.subscription_queue(sub, exchange, unique)
                for sub in rpc_subscriptions(target)]

    def notification_queue(self, exchange: str, routing_key: str) -> Queue:
        """``<topic>.<priority>``, which notifiers declare so nothing is lost before a
        listener exists (pool queues are listener subscriptions)."""
        return self.subscription_queue(Subscription(routing_key, exchange), exchange, "")

    def reply_queue(self, name: str) -> Queue:
        return Queue(name, self._transient_durable, False,
                     self._arguments(self.options.rabbit_transient_quorum_queue,
                                     expiring=True))

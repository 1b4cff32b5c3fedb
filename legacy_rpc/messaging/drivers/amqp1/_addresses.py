"""AMQP 1.0 addresses of the amqp1 driver: where each kind of message is sent and read.

AMQP 1.0 has no exchanges or bindings; a broker maps addresses onto its own objects. This
module is the only place that knows the mapping, for RabbitMQ 3.x's ``rabbitmq_amqp1_0``
plugin (the AMQP 1.0 broker available here); another broker family needs only another
:class:`AddressScheme`.

RabbitMQ 3.x addresses: ``/queue/Q`` (declares queue ``Q``: not durable, not auto-deleted,
no arguments, the flags the rabbit driver gives topic queues by default), ``/amq/queue/Q``
(an existing queue, through the default exchange), ``/exchange/X/K`` (an existing exchange
with routing key ``K``) and ``/topic/K`` (``amq.topic``; a receiver gets a private queue
bound with ``K``, deleted with its link). Its AMQP 1.0 clients cannot bind a named queue to
an exchange, hence the limits below.

The mapping, chosen so that 0-9-1 (rabbit driver, oslo.messaging) services on the same
broker meet the same queues:

- RPC topic and server queues: ``/queue/<topic>`` and ``/queue/<topic>.<server>``, for the
  default (control) exchange; another exchange prefixes the name (``<exchange>.<topic>``),
  so that exchanges still scope topics. Senders use the same address, so a cast sent before
  any server listens waits in the queue.
- Fanout: ``/topic/legacy_rpc.fanout.<topic>``; every server has its own queue. To meet
  0-9-1 peers, whose fanout is the exchange ``<topic>_fanout`` (declared by their servers
  and senders, not creatable here), servers also attach ``/exchange/<topic>_fanout/<topic>``
  and senders also send there, both only while that exchange exists; a server that gets a
  message both ways drops the second copy (same ``_unique_id``).
- Notifications: ``/queue/<topic>.<priority>`` (same queue as the rabbit driver's).
  Listener pools (each pool a copy) need a binding per pool: not available.
- Replies: the caller reads ``/queue/reply_<id>``; a server answers ``/amq/queue/<reply_q>``
  (also reaching 0-9-1 callers' reply queues). A pre-Grizzly caller (no ``_reply_q``) is
  answered on ``/exchange/<msg_id>/<msg_id>``, the direct exchange it declared.
"""

from __future__ import annotations

from legacy_rpc.messaging.drivers.base import Subscription
from legacy_rpc.messaging.target import Target

__all__ = ["AddressScheme", "RabbitMQ3Scheme", "valid_name"]

FANOUT_PREFIX = "legacy_rpc.fanout."


def valid_name(name: str) -> str:
    """Refuse a name that would change the meaning of an address (``/`` splits it)."""
    if not name or "/" in name:
        raise ValueError(f"{name!r} cannot be used in an AMQP 1.0 address (empty or with '/')")
    return name


class AddressScheme:
    """Maps targets and subscriptions onto AMQP 1.0 addresses (one broker family)."""

    pools = False
    """Whether several named queues can each get a copy of a topic's messages."""

    def __init__(self, default_exchange: str) -> None:
        self.default_exchange = default_exchange

    def queue_name(self, exchange: str | None, topic: str) -> str:
        """The queue of a topic: its own name in the default exchange, else prefixed."""
        valid_name(topic)
        if exchange is None or exchange == self.default_exchange:
            return topic
        return f"{valid_name(exchange)}.{topic}"

    def request(self, target: Target) -> str:
        raise NotImplementedError

    def notification(self, target: Target) -> str:
        raise NotImplementedError

    def subscription(self, sub: Subscription) -> str:
        raise NotImplementedError

    def foreign_fanout(self, topic: str) -> str | None:
        """Where 0-9-1 peers fan a topic out, if this broker lets AMQP 1.0 clients meet
        them there (the address may not exist: an optional link)."""
        return None

    def reply_source(self, name: str) -> str:
        raise NotImplementedError

    def reply_target(self, reply_q: str | None, msg_id: str | None) -> str:
        raise NotImplementedError


class RabbitMQ3Scheme(AddressScheme):
    """RabbitMQ 3.x's ``rabbitmq_amqp1_0`` plugin (see the module docstring)."""

    def request(self, target: Target) -> str:
        assert target.topic
        if target.fanout:
            return f"/topic/{FANOUT_PREFIX}{valid_name(target.topic)}"
        topic = f"{target.topic}.{target.server}" if target.server else target.topic
        return f"/queue/{self.queue_name(target.exchange, topic)}"

    def notification(self, target: Target) -> str:
        assert target.topic
        return f"/queue/{self.queue_name(target.exchange, target.topic)}"

    def subscription(self, sub: Subscription) -> str:
        if sub.fanout:
            if sub.queue is not None:
                raise NotImplementedError("a named fanout queue needs a binding, which "
                                          "AMQP 1.0 clients of RabbitMQ 3.x cannot create")
            return f"/topic/{FANOUT_PREFIX}{valid_name(sub.routing_key)}"
        own = self.queue_name(sub.exchange, sub.routing_key)
        if sub.queue is not None and sub.queue != own:
            raise NotImplementedError(
                f"queue {sub.queue!r} for topic {sub.routing_key!r} is a pool: it needs a "
                "binding, which AMQP 1.0 clients of RabbitMQ 3.x cannot create")
        return f"/queue/{own}"

    def foreign_fanout(self, topic: str) -> str | None:
        # The rabbit driver's and oslo.messaging's fanout exchange; a fanout exchange
        # ignores the routing key, the topic is there for the 0-9-1 consumer to see.
        return f"/exchange/{valid_name(topic)}_fanout/{topic}"

    def reply_source(self, name: str) -> str:
        return f"/queue/{valid_name(name)}"

    def reply_target(self, reply_q: str | None, msg_id: str | None) -> str:
        if reply_q is None:
            name = valid_name(str(msg_id))
            return f"/exchange/{name}/{name}"
        return f"/amq/queue/{valid_name(reply_q)}"

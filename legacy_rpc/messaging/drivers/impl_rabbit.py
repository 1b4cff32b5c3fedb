"""Entry point of the ``rabbit`` and ``kombu`` drivers (named as in oslo.messaging)."""

from legacy_rpc.messaging.drivers.rabbit import RabbitDriver

__all__ = ["RabbitDriver"]

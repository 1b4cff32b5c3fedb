"""Entry point of the ``amqp1`` and ``amqp`` drivers (the legacy ``impl_qpid`` backend)."""

from legacy_rpc.messaging.drivers.amqp1 import Amqp1Driver

__all__ = ["Amqp1Driver"]

"""The RabbitMQ driver (AMQP 0-9-1 on py-amqp); see ``_driver``."""

from legacy_rpc.messaging.drivers.rabbit._driver import RabbitDriver

__all__ = ["RabbitDriver"]

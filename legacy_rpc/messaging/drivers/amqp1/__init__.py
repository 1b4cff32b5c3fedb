"""The AMQP 1.0 driver (python-qpid-proton); see ``_driver``."""

from legacy_rpc.messaging.drivers.amqp1._driver import Amqp1Driver

__all__ = ["Amqp1Driver"]

"""The brokerless ZeroMQ driver (pyzmq); see ``_driver``."""

from legacy_rpc.messaging.drivers.zmq._driver import ZmqDriver

__all__ = ["ZmqDriver"]

"""Entry point of the ``zmq`` driver (the legacy ``impl_zmq`` backend)."""

from legacy_rpc.messaging.drivers.zmq import ZmqDriver

__all__ = ["ZmqDriver"]

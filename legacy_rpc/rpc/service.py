"""``Service``: a server with the three standard consumers of a legacy service.

``Service(host, topic, manager)`` consumes, on one connection:

1. ``topic``: the shared queue, each request to one instance of the service
   (``rpc.call(ctxt, topic, ...)``);
2. ``topic.host``: this instance only (``rpc.call(ctxt, rpc.queue_get_for(ctxt, topic,
   host), ...)``);
3. the ``topic`` fanout: every instance (``rpc.fanout_cast(ctxt, topic, ...)``),

and dispatches to ``manager`` (the service itself when None) through an ``RpcDispatcher``.
A manager's ``initialize_service_hook(service)``, if any, is called after the consumers
exist and before they start consuming.

Every service has a thread group, ``tg`` (:class:`~legacy_rpc.rpc._threadgroup.ThreadGroup`),
from construction, as ``openstack.common.service.Service`` had: subclasses add threads and
timers to it (before or after ``start()``), and ``stop()``/``wait()`` stop and wait for
them.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from legacy_rpc import rpc
from legacy_rpc.rpc import _threadgroup
from legacy_rpc.rpc import dispatcher as rpc_dispatcher
from legacy_rpc.rpc.serializer import Serializer

__all__ = ["Service"]

LOG = logging.getLogger(__name__)


class _BaseService:
    """The ``start``/``stop``/``wait`` lifecycle of ``openstack.common.service.Service``."""

    def __init__(self, threads: int = 1000) -> None:
        self._done = threading.Event()
        self.tg = _threadgroup.ThreadGroup(threads)

    def reset(self) -> None:
        """Called on SIGHUP by service launchers; nothing to do here."""

    def start(self) -> None:
        self._done.clear()

    def stop(self) -> None:
        """Stop the thread group (bounded wait) and release :meth:`wait`."""
        try:
            self.tg.stop()
        finally:
            self._done.set()

    def wait(self) -> None:
        """Block until :meth:`stop` has been called, then until the thread group ended."""
        self._done.wait()
        self.tg.wait()


class Service(_BaseService):
    """Service object for binaries running on hosts."""

    def __init__(self, host: str, topic: str, manager: Any = None,
                 serializer: Serializer | None = None) -> None:
        super().__init__()
        self.host = host
        self.topic = topic
        self.serializer = serializer
        self.manager = self if manager is None else manager
        self.conn: Any = None

    def start(self) -> None:
        super().start()
        self.conn = rpc.create_connection(new=True)
        LOG.debug("Creating Consumer connection for Service %s", self.topic)
        dispatcher = rpc_dispatcher.RpcDispatcher([self.manager], self.serializer)
        self.conn.create_consumer(self.topic, dispatcher, fanout=False)
        node_topic = f"{self.topic}.{self.host}"
        self.conn.create_consumer(node_topic, dispatcher, fanout=False)
        self.conn.create_consumer(self.topic, dispatcher, fanout=True)
        hook = getattr(self.manager, "initialize_service_hook", None)
        if callable(hook):
            hook(self)
        self.conn.consume_in_thread()

    def stop(self) -> None:
        try:
            if self.conn is not None:
                self.conn.close()
        except Exception:  # the original ignored any error here, on the way out
            LOG.debug("Error closing the connection of service %s", self.topic,
                      exc_info=True)
        super().stop()

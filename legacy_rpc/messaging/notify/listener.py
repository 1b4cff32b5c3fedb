"""Notification listeners: ``get_notification_listener`` and
``get_batch_notification_listener``.

A listener subscribes, for each of its targets (topic and exchange; ``None`` means the
control exchange), to ``<topic>.<priority>`` for every priority one of its endpoints
implements, and hands what arrives to the endpoints (see :mod:`.dispatcher`).

Who gets a copy:

- Listeners without a ``pool`` share the default queue ``<topic>.<priority>``: each
  notification reaches one of them. The publisher declares that queue, so notifications
  sent before any listener exists wait there.
- Each ``pool`` is a queue named exactly after the pool, bound to the same routing keys:
  every pool gets its own copy of each notification sent after the pool first listened,
  and within a pool each notification reaches one listener. A service that consumes
  another service's notifications joins them with a pool of its own, so it takes nothing
  away from their other consumers. The default queue is fed whatever the pools do, so a
  deployment needs a consumer without a pool too, or that queue grows without bound.

Delivery (at least once): a notification is acknowledged only after the endpoints
returned. REQUEUE (returned, or an endpoint raised) puts it back for redelivery when the
listener was made with ``allow_requeue=True``; otherwise it is acknowledged and, for an
exception, the traceback is logged. Either way the listener goes on with the next one.
Notifications fetched but not yet acknowledged when the listener stops are given back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from legacy_rpc.messaging import server as msg_server
from legacy_rpc.messaging.drivers.base import IncomingMessage, Listener, TransportDriverError
from legacy_rpc.messaging.notify.dispatcher import (
    BatchNotificationDispatcher,
    NotificationDispatcher,
    NotificationResult,
)
from legacy_rpc.messaging.serializer import Serializer
from legacy_rpc.messaging.target import Target
from legacy_rpc.messaging.transport import NotificationTransport, Transport

LOG = logging.getLogger(__name__)

__all__ = [
    "NotificationServerBase",
    "NotificationServer",
    "BatchNotificationServer",
    "get_notification_listener",
    "get_batch_notification_listener",
]


class NotificationServerBase(msg_server.MessageHandlingServer):
    """Listens on ``targets`` x the endpoints' priorities; acks or requeues after dispatch.

    :raises NotImplementedError: ``allow_requeue`` or ``pool`` on a driver that cannot
        requeue, or has no pools.
    """

    def __init__(self, transport: Transport, targets: Sequence[Target],
                 dispatcher: NotificationDispatcher | BatchNotificationDispatcher,
                 executor: str | None = None, allow_requeue: bool = True,
                 pool: str | None = None, batch_size: int = 1,
                 batch_timeout: float | None = None) -> None:
        if not isinstance(transport, NotificationTransport):
            LOG.warning("Using an RPC transport for notifications. Use "
                        "get_notification_transport() to get a notification transport.")
        if allow_requeue:
            transport._require_driver_features(requeue=True)
        if pool is not None and not transport._driver.capabilities.pools:
            raise NotImplementedError(
                f"the {type(transport._driver).__name__} driver has no listener pools")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        super().__init__(transport, dispatcher, executor)
        self.targets = list(targets)
        self._allow_requeue = allow_requeue
        self._pool = pool
        self._batch_size = batch_size
        self._batch_timeout = batch_timeout
        self._targets_priorities = [(target, priority) for target in self.targets
                                    for priority in dispatcher.supported_priorities]
        if not self._targets_priorities:
            LOG.warning("This notification listener has no target or no endpoint method "
                        "named after a priority (%s); it will receive nothing",
                        ", ".join(dispatcher.supported_priorities) or "none")

    def _create_listener(self) -> Listener:
        try:
            return self.transport._listen_for_notifications(
                self._targets_priorities, self._pool, self._batch_size, self._batch_timeout)
        except TransportDriverError as exc:
            raise msg_server.ServerListenError(self.targets, exc) from exc

    def _settle(self, message: IncomingMessage, requeue: bool) -> None:
        try:
            if requeue and self._allow_requeue:
                message.requeue()
            else:
                message.acknowledge()
        except Exception:
            LOG.exception("Could not %s notification %s",
                          "requeue" if requeue and self._allow_requeue else "acknowledge",
                          message.msg_id)


class NotificationServer(NotificationServerBase):
    """Dispatches notifications one at a time (see :func:`get_notification_listener`)."""

    def _process_incoming(self, incoming: list[IncomingMessage]) -> None:
        dispatcher = self.dispatcher
        assert isinstance(dispatcher, NotificationDispatcher)
        topic = str(self.targets[0].topic) if len(self.targets) == 1 else ""
        for message in incoming:
            try:
                with self.transport._observe_dispatch(message.ctxt, message.message,
                                                      message.msg_id, topic,
                                                      notification=True):
                    verdict = dispatcher.dispatch(message)
            except Exception:
                LOG.exception("Could not dispatch notification %s; this counts as REQUEUE",
                              message.msg_id)
                verdict = NotificationResult.REQUEUE
            self._settle(message, verdict == NotificationResult.REQUEUE)


class BatchNotificationServer(NotificationServerBase):
    """Dispatches notifications in batches (see :func:`get_batch_notification_listener`)."""

    def _process_incoming(self, incoming: list[IncomingMessage]) -> None:
        dispatcher = self.dispatcher
        assert isinstance(dispatcher, BatchNotificationDispatcher)
        try:
            requeue = dispatcher.dispatch(incoming)
        except Exception:
            LOG.exception("Could not dispatch a batch of %d notification(s); they count as "
                          "REQUEUE", len(incoming))
            requeue = set(incoming)
        for message in incoming:
            self._settle(message, message in requeue)


def get_notification_listener(transport: Transport, targets: Sequence[Target],
                              endpoints: Sequence[Any], executor: str | None = None,
                              serializer: Serializer | None = None,
                              allow_requeue: bool = False,
                              pool: str | None = None) -> NotificationServer:
    """A listener that calls ``endpoint.<priority>(ctxt, publisher_id, event_type, payload,
    metadata)`` for each notification on ``targets``.

    ``executor`` is ``'threading'`` (the default: a pool of ``executor_thread_pool_size``
    threads, so notifications may be handled concurrently and out of order) or
    ``'blocking'`` (one at a time, in order, in the listener's thread). ``pool`` makes this
    listener a member of a pool (see the module documentation). With ``allow_requeue`` a
    REQUEUE verdict gives the notification back for redelivery; without it, it is
    acknowledged. Call ``start()``, then ``stop()`` and ``wait()``.

    :raises NotImplementedError: the transport's driver cannot requeue (with
        ``allow_requeue=True``) or has no pools (with ``pool``).
    """
    dispatcher = NotificationDispatcher(endpoints, serializer)
    return NotificationServer(transport, targets, dispatcher, executor, allow_requeue, pool)


def get_batch_notification_listener(transport: Transport, targets: Sequence[Target],
                                    endpoints: Sequence[Any], executor: str | None = None,
                                    serializer: Serializer | None = None,
                                    allow_requeue: bool = False, pool: str | None = None,
                                    batch_size: int | None = None,
                                    batch_timeout: float | None = None
                                    ) -> BatchNotificationServer:
    """A listener that calls ``endpoint.<priority>(messages)`` with batches.

    A batch is dispatched when ``batch_size`` notifications (default 1) have arrived, or
    ``batch_timeout`` seconds after its first one arrived, whichever comes first; without
    ``batch_timeout`` whatever has arrived is dispatched at once. Each message is a dict
    with ``ctxt``, ``publisher_id``, ``event_type``, ``payload`` and ``metadata``. Other
    arguments and the delivery rules are those of :func:`get_notification_listener`.
    """
    dispatcher = BatchNotificationDispatcher(endpoints, serializer)
    return BatchNotificationServer(transport, targets, dispatcher, executor, allow_requeue,
                                   pool, batch_size if batch_size is not None else 1,
                                   batch_timeout)

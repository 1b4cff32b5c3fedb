"""Notification dispatchers: which endpoint methods see a notification, and the verdict.

Endpoint methods are named after the lower-case priorities (``audit``, ``debug``, ``info``,
``warn``, ``error``, ``critical``, ``sample``; there is no ``warning``). Endpoints are tried
in order; one whose ``filter_rule`` rejects a notification is skipped. The verdict is
:attr:`NotificationResult.HANDLED` (``None`` counts as HANDLED) or
:attr:`NotificationResult.REQUEUE`; the first endpoint that says REQUEUE stops the dispatch
of that notification. An endpoint that raises is logged with its traceback and counts as
REQUEUE. What the listener then does with the verdict is in :mod:`.listener`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

from legacy_rpc.messaging.drivers.base import IncomingMessage
from legacy_rpc.messaging.notify.filter import NotificationFilter
from legacy_rpc.messaging.serializer import NoOpSerializer, Serializer
from legacy_rpc.messaging.wire import NOTIFICATION_PRIORITIES

LOG = logging.getLogger(__name__)

__all__ = [
    "NotificationResult",
    "NotificationDispatcher",
    "BatchNotificationDispatcher",
    "PRIORITIES",
]

PRIORITIES: tuple[str, ...] = NOTIFICATION_PRIORITIES
"""The priorities, lower case; also the names of the endpoint methods."""


class NotificationResult:
    """What an endpoint method returns: HANDLED (or None) acks, REQUEUE asks for redelivery."""

    HANDLED = "handled"
    REQUEUE = "requeue"


_Callback: TypeAlias = tuple[NotificationFilter | None, Callable[..., Any]]


class _DispatcherBase:
    """Collects the endpoint methods per priority; extracts what endpoints receive."""

    def __init__(self, endpoints: Sequence[Any], serializer: Serializer | None = None) -> None:
        # the caller's list itself, as oslo.messaging keeps it (tests assert identity)
        self.endpoints = endpoints if isinstance(endpoints, list) else list(endpoints)
        self.serializer: Serializer = serializer or NoOpSerializer()
        self._callbacks_by_priority: dict[str, list[_Callback]] = {}
        for endpoint in self.endpoints:
            rule = getattr(endpoint, "filter_rule", None)
            for priority in PRIORITIES:
                method = getattr(endpoint, priority, None)
                if callable(method):
                    self._callbacks_by_priority.setdefault(priority, []).append((rule, method))

    @property
    def supported_priorities(self) -> list[str]:
        """The priorities at least one endpoint implements: only these are subscribed to."""
        return [p for p in PRIORITIES if p in self._callbacks_by_priority]

    def _extract(self, incoming: IncomingMessage) -> tuple[str, dict[str, Any]]:
        """``(priority, user message)``: what endpoint methods and filters receive."""
        message = incoming.message
        ctxt = self.serializer.deserialize_context(incoming.ctxt)
        return str(message.get("priority") or "").lower(), {
            "ctxt": ctxt,
            "publisher_id": message.get("publisher_id"),
            "event_type": message.get("event_type"),
            "payload": self.serializer.deserialize_entity(ctxt, message.get("payload")),
            "metadata": {"message_id": message.get("message_id"),
                         "timestamp": message.get("timestamp")},
        }

    @staticmethod
    def _accepts(rule: NotificationFilter | None, msg: dict[str, Any]) -> bool:
        return rule is None or rule.match(msg["ctxt"], msg["publisher_id"], msg["event_type"],
                                          msg["metadata"], msg["payload"])

    @staticmethod
    def _call(callback: Callable[..., Any], args: tuple[Any, ...], what: str) -> str:
        try:
            result = callback(*args)
        except Exception:
            LOG.exception("Notification endpoint %s raised while handling %s; this counts as "
                          "REQUEUE (redelivered only if the listener allows requeue)",
                          getattr(callback, "__qualname__", callback), what)
            return NotificationResult.REQUEUE
        if result == NotificationResult.REQUEUE:
            return NotificationResult.REQUEUE
        if result not in (None, NotificationResult.HANDLED):
            LOG.warning("Notification endpoint %s returned %r; treating it as HANDLED",
                        getattr(callback, "__qualname__", callback), result)
        return NotificationResult.HANDLED


class NotificationDispatcher(_DispatcherBase):
    """Dispatches one notification at a time to ``method(ctxt, publisher_id, event_type,
    payload, metadata)``; ``metadata`` is ``{"message_id": ..., "timestamp": ...}``."""

    def dispatch(self, incoming: IncomingMessage) -> str | None:
        """Run the endpoints for one notification; return HANDLED or REQUEUE, or None for an
        unknown priority (as oslo.messaging; the listener acknowledges it)."""
        what = f"notification {incoming.msg_id}"
        try:
            priority, msg = self._extract(incoming)
        except Exception:
            LOG.exception("Could not deserialize %s; this counts as REQUEUE", what)
            return NotificationResult.REQUEUE
        what = f"{what} ({msg['event_type']}, {priority})"
        if priority not in PRIORITIES:
            LOG.warning("Acknowledging %s: unknown priority %r", what, priority)
            return None
        for rule, callback in self._callbacks_by_priority.get(priority, []):
            if not self._accepts(rule, msg):
                continue
            args = (msg["ctxt"], msg["publisher_id"], msg["event_type"], msg["payload"],
                    msg["metadata"])
            if self._call(callback, args, what) == NotificationResult.REQUEUE:
                return NotificationResult.REQUEUE
        return NotificationResult.HANDLED


class BatchNotificationDispatcher(_DispatcherBase):
    """Dispatches a batch: ``method(messages)``, one call per priority and endpoint.

    ``messages`` is a list of dicts with the keys ``ctxt``, ``publisher_id``,
    ``event_type``, ``payload`` and ``metadata``, holding the batch's notifications of that
    priority which the endpoint's filter accepts. When a call returns REQUEUE (or raises),
    the notifications it was given are requeued and are not passed to later endpoints;
    the rest of the batch goes on to them.
    """

    def dispatch(self, incoming: Sequence[IncomingMessage]) -> set[IncomingMessage]:
        """Run the endpoints for a batch; return the messages to requeue."""
        requeue: set[IncomingMessage] = set()
        groups: dict[str, list[tuple[IncomingMessage, dict[str, Any]]]] = {}
        for message in incoming:
            try:
                priority, msg = self._extract(message)
            except Exception:
                LOG.exception("Could not deserialize notification %s; this counts as REQUEUE",
                              message.msg_id)
                requeue.add(message)
                continue
            groups.setdefault(priority, []).append((message, msg))
        for priority, items in groups.items():
            if priority not in PRIORITIES:
                LOG.warning("Acknowledging %d notification(s) of unknown priority %r",
                            len(items), priority)
                continue
            for rule, callback in self._callbacks_by_priority.get(priority, []):
                chosen = [(m, msg) for m, msg in items
                          if m not in requeue and self._accepts(rule, msg)]
                if not chosen:
                    continue
                what = f"a batch of {len(chosen)} {priority} notification(s)"
                verdict = self._call(callback, ([msg for _, msg in chosen],), what)
                if verdict == NotificationResult.REQUEUE:
                    requeue.update(m for m, _ in chosen)
        return requeue

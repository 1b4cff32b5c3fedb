"""The ``messaging`` and ``messagingv2`` notifier drivers: notifications on the bus.

Each notification is published once per configured topic, to routing key
``<topic>.<priority in lower case>`` on the transport's control exchange. The transport's
driver declares and binds the queue of that name before publishing, so notifications sent
before any listener exists wait in it. ``messagingv2`` sends the 2.0 envelope (what every
oslo.messaging release since Icehouse reads); ``messaging`` sends the bare 1.0 dict, for
consumers that predate the envelope.
"""

from __future__ import annotations

import logging
from typing import Any

from legacy_rpc.messaging import _mask
from legacy_rpc.messaging.notify.notifier import Driver
from legacy_rpc.messaging.target import Target

LOG = logging.getLogger(__name__)

__all__ = ["MessagingDriver", "MessagingV2Driver"]


class MessagingDriver(Driver):
    """Publishes notifications without the envelope (message format 1.0).

    A topic that fails is logged with the traceback; the other topics are still tried.
    """

    version = 1.0

    def notify(self, ctxt: dict[str, Any], message: dict[str, Any], priority: str,
               retry: int | None) -> None:
        for topic in self.topics:
            target = Target(topic=f"{topic}.{priority.lower()}")
            try:
                self.transport._send_notification(target, ctxt, message,
                                                  version=self.version, retry=retry)
            except Exception:
                LOG.exception("Could not send notification to %s; message: %s", target.topic,
                              _mask.sanitize(message))


class MessagingV2Driver(MessagingDriver):
    """Publishes notifications in the 2.0 envelope (``oslo.version`` / ``oslo.message``)."""

    version = 2.0

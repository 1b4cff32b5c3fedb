"""The notifier driver that publishes on the message bus in the 2.0 envelope.

Each notification goes to ``<topic>.<priority>`` for every topic of
``[rpc_notifier2] topics``, in the control exchange.
"""

from __future__ import annotations

import logging
from typing import Any

from oslo_config import cfg

from legacy_rpc import rpc
from legacy_rpc.messaging import _mask
from legacy_rpc.notifier import _context
from legacy_rpc.notifier import api as _api  # noqa: F401 - registers the api options

__all__ = ["notification_topic_opt", "notify"]

LOG = logging.getLogger(__name__)

notification_topic_opt = cfg.ListOpt(
    "topics", default=["notifications"],
    help="AMQP topic(s) used for OpenStack notifications.")

opt_group = cfg.OptGroup(name="rpc_notifier2", title="Options for rpc_notifier2")

CONF = cfg.CONF
CONF.register_group(opt_group)
CONF.register_opt(notification_topic_opt, opt_group)


def notify(context: Any, message: dict[str, Any]) -> None:
    """Send a notification on every configured topic (an admin context when None).

    A topic that fails is logged, with the message sanitized and cut (``_mask.safe_repr``).
    """
    if not context:
        context = _context.get_admin_context()
    priority = str(message.get("priority", CONF.default_notification_level)).lower()
    for topic in CONF.rpc_notifier2.topics:
        topic = f"{topic}.{priority}"
        try:
            rpc.notify(context, topic, message, envelope=True)
        except Exception:
            LOG.exception("Could not send notification to %(topic)s. Payload=%(message)s",
                          {"topic": topic, "message": _mask.safe_repr(message)})

"""The ``[oslo_messaging_notifications]`` options."""

from __future__ import annotations

from oslo_config import cfg

from legacy_rpc.messaging import _opt_types as _ot

__all__ = ["GROUP", "notifier_opts", "register_notifier_opts"]

GROUP = "oslo_messaging_notifications"

notifier_opts = [
    _ot.MultiStrOpt("driver", default=[],
                    deprecated_name="notification_driver", deprecated_group="DEFAULT",
                    help="Notification drivers: messagingv2, messaging, log, test, noop, "
                         "routing. None configured means notifications are not sent."),
    _ot.StrOpt("transport_url", secret=True,
               deprecated_name="notification_transport_url", deprecated_group="DEFAULT",
               help="A separate messaging backend for notifications; defaults to "
                    "[DEFAULT] transport_url."),
    _ot.ListOpt("topics", default=["notifications"],
                deprecated_name="notification_topics", deprecated_group="DEFAULT",
                help="Topics notifications are sent to (routing key <topic>.<priority>)."),
    _ot.IntOpt("retry", default=-1,
               help="Send retries for a notification: -1 forever, 0 none, N at most N."),
    _ot.StrOpt("routing_config", default="",
               help="YAML file of the 'routing' notification driver."),
]


def register_notifier_opts(conf: cfg.ConfigOpts) -> None:
    """Register the notification options on ``conf`` (idempotent)."""
    conf.register_opts(notifier_opts, group=GROUP)

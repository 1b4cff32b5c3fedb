"""``rabbit_notifier``: the name ``rpc_notifier`` had until Grizzly, which deprecated it.

It sends exactly what :mod:`~legacy_rpc.notifier.rpc_notifier` sends, and logs that it is
deprecated (once per process).
"""

from __future__ import annotations

import logging
from typing import Any

from legacy_rpc.notifier import rpc_notifier

__all__ = ["notify"]

LOG = logging.getLogger(__name__)

_warned = False


def notify(context: Any, message: dict[str, Any]) -> None:
    """Deprecated in Grizzly: use rpc_notifier (this calls ``rpc_notifier.notify``)."""
    global _warned
    if not _warned:
        _warned = True
        LOG.warning("The rabbit_notifier is now deprecated. Please use rpc_notifier instead.")
    rpc_notifier.notify(context, message)

"""A notifier object shaped like oslo.messaging's ``Notifier``, on the legacy API.

``get_notifier(service, host)`` gives an object with ``info(ctxt, event_type, payload)``
and the other priorities, each calling ``api.notify`` (looked up at call time).
"""

from __future__ import annotations

from typing import Any

from oslo_config import cfg

from legacy_rpc.messaging.notify.notifier import PriorityMethods
from legacy_rpc.notifier import api as notifier_api

__all__ = ["Notifier", "get_notifier"]

CONF = cfg.CONF


class Notifier(PriorityMethods):
    """Sends notifications with one ``publisher_id``."""

    _marker: Any = object()

    def __init__(self, publisher_id: str) -> None:
        self.publisher_id = publisher_id

    def prepare(self, publisher_id: Any = _marker) -> Notifier:
        """A copy, with another ``publisher_id`` if given."""
        return Notifier(self.publisher_id if publisher_id is self._marker else publisher_id)

    def _notify(self, ctxt: Any, event_type: str, payload: Any, priority: str) -> None:
        # The legacy API has no AUDIT or SAMPLE level: INFO stands in for them.
        legacy_priority = "INFO" if priority in ("AUDIT", "SAMPLE") else priority
        notifier_api.notify(ctxt, self.publisher_id, event_type, legacy_priority, payload)


def get_notifier(service: str | None = None, host: str | None = None,
                 publisher_id: str | None = None) -> Notifier:
    """A notifier for ``publisher_id``, by default ``<service>.<host or CONF.host>``."""
    if not publisher_id:
        publisher_id = f"{service}.{host or CONF.host}"
    return Notifier(publisher_id)

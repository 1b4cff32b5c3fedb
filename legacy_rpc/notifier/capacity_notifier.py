"""Essex nova's ``capacity_notifier`` driver: keeps the compute nodes' capacity figures
up to date from the compute manager's notifications.

For ``compute.instance.<event>.start`` and ``.end`` notifications from a publisher
``compute.<host>`` it records one change of the host's utilization: work +1 when an
event starts, -1 when it ends (``create.start`` is skipped: the scheduler counted it
already); ``delete.end`` also frees the instance's ``memory_mb``/``disk_gb`` and one VM.
``notify`` returns whether it recorded a change.

The change is recorded by :data:`utilization_update`, which Essex nova's
``db.api.compute_node_utilization_update`` is by default (imported when first needed);
a service without nova's database sets its own function of the same signature.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["notify", "utilization_update", "get_admin_context"]

LOG = logging.getLogger(__name__)

utilization_update: Callable[..., Any] | None = None
"""``f(context, host, free_ram_mb_delta=, free_disk_gb_delta=, work_delta=, vm_delta=)``;
None: nova's ``db.api.compute_node_utilization_update``."""

get_admin_context: Callable[[], Any] | None = None
"""The context given to :data:`utilization_update`; None: nova's
``context.get_admin_context``."""

_EVENT_PREFIX = "compute.instance."
_PUBLISHER_PREFIX = "compute."


def _nova(module: str, name: str, setting: str) -> Callable[..., Any]:
    """Essex nova's ``module.name``, or a RuntimeError saying to set ``setting``."""
    try:
        found: Callable[..., Any] = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(f"capacity_notifier needs {module}.{name} (Essex nova), or "
                           f"capacity_notifier.{setting} set: {exc}") from exc
    return found


def _change(message: dict[str, Any]) -> tuple[str, dict[str, int]] | None:
    """The host and the deltas a notification stands for; None if it stands for none."""
    event_type = message.get("event_type")
    if not isinstance(event_type, str) or not event_type.startswith(_EVENT_PREFIX):
        return None
    event, _, suffix = event_type[len(_EVENT_PREFIX):].rpartition(".")
    suffix = suffix.lower()
    if suffix not in ("start", "end") or (suffix == "start" and event == "create"):
        return None
    publisher = message.get("publisher_id")
    if not isinstance(publisher, str) or not publisher.startswith(_PUBLISHER_PREFIX):
        return None
    deltas = {"free_ram_mb_delta": 0, "free_disk_gb_delta": 0,
              "work_delta": 1 if suffix == "start" else -1, "vm_delta": 0}
    if suffix == "end" and event == "delete":
        payload = message.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        deltas.update(free_ram_mb_delta=int(payload.get("memory_mb", 0) or 0),
                      free_disk_gb_delta=int(payload.get("disk_gb", 0) or 0), vm_delta=-1)
    return publisher[len(_PUBLISHER_PREFIX):], deltas


def notify(context: Any, message: dict[str, Any] | None = None) -> bool:
    """Record the capacity change of one notification; True if there was one.

    Takes ``(context, message)`` or, as in Essex, ``(message)``.
    """
    if message is None:
        context, message = None, context
    if not isinstance(message, dict):
        return False
    change = _change(message)
    if change is None:
        return False
    host, deltas = change
    LOG.debug("EventType=%s -> host %s: %s", message.get("event_type"), host, deltas)
    update = utilization_update or _nova("nova.db.api", "compute_node_utilization_update",
                                         "utilization_update")
    admin = get_admin_context or _nova("nova.context", "get_admin_context",
                                       "get_admin_context")
    update(admin(), host, **deltas)
    return True

"""The Essex ``list_notifier`` driver: sends each notification to the drivers of
``list_notifier_drivers``.

Select it with ``notification_driver = nova.notifier.list_notifier`` (any legacy path).
Its drivers are module paths (old paths of any project name this package's drivers) or
objects added with :func:`add_driver`; Essex drivers with ``notify(message)`` work too. A
driver that fails to import fails every notification it is given, which is logged; a
failing driver never affects the others or the caller. Since Folsom the same is built into
:mod:`legacy_rpc.notifier.api` (several ``notification_driver`` lines).
"""

from __future__ import annotations

import logging
from typing import Any

from oslo_config import cfg

from legacy_rpc.messaging import _mask
from legacy_rpc.notifier import _driver_names, _shapes
from legacy_rpc.notifier import api as _api

__all__ = ["list_notifier_drivers_opt", "ImportFailureNotifier", "add_driver",
           "remove_driver", "notify"]

LOG = logging.getLogger(__name__)

list_notifier_drivers_opt = _api.list_notifier_drivers_opt  # registered by the api module

CONF = cfg.CONF

drivers: list[Any] | None = None
"""The loaded drivers; None until first used (``list_notifier.drivers = None`` resets)."""


class ImportFailureNotifier:
    """Stands for a driver that could not be imported: raises its import error at every
    notification, so the failure keeps being logged."""

    def __init__(self, exception: BaseException, driver_name: str | None = None) -> None:
        self.exception = exception
        self.driver_name = driver_name

    def notify(self, context: Any, message: dict[str, Any]) -> None:
        raise self.exception


def _load(name: str) -> Any:
    try:
        return _driver_names.import_driver(name)
    except ImportError as exc:
        return ImportFailureNotifier(exc, name)


def _get_drivers() -> list[Any]:
    """The drivers of ``list_notifier_drivers``, loaded on first use."""
    global drivers
    if drivers is None:
        drivers = [_load(name) for name in CONF.list_notifier_drivers]
    return drivers


def add_driver(notification_driver: Any) -> None:
    """Add a driver at run time: a module path or an object with ``notify``."""
    loaded = _get_drivers()
    if isinstance(notification_driver, str):
        loaded.append(_load(notification_driver))
    else:
        loaded.append(notification_driver)


def _object_name(obj: Any) -> str:
    """``module.name`` of a driver module, or ``module.ClassName`` of a driver object."""
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__name__", None) or type(obj).__name__
    return f"{module}.{name}" if module else name


def _names(driver: Any) -> set[str]:
    """The names a driver can be removed by (a failed import also by its path)."""
    names = {_object_name(driver)}
    if isinstance(driver, ImportFailureNotifier) and driver.driver_name:
        names.add(driver.driver_name)
    return names


def remove_driver(notification_driver: Any) -> None:
    """Remove a driver: the object itself, or every driver of that name (a module path,
    old paths included, or ``module.ClassName``).

    :raises ValueError: no such driver is loaded.
    """
    loaded = _get_drivers()
    if any(d is notification_driver for d in loaded):
        loaded[:] = [d for d in loaded if d is not notification_driver]
        return
    names = {str(notification_driver)}
    if isinstance(notification_driver, str):
        names.add(_driver_names.module_name(notification_driver))
    kept = [d for d in loaded if not _names(d) & names]
    if len(kept) == len(loaded):
        raise ValueError(f"Cannot remove; {notification_driver} is not in list")
    loaded[:] = kept


def notify(context: Any, message: dict[str, Any]) -> None:
    """Pass the notification to every driver; failures are logged, never raised."""
    for driver in list(_get_drivers()):
        try:
            _shapes.call_notify(driver, context, message)
        except Exception as exc:
            LOG.exception("Problem '%(e)s' attempting to send to notification driver "
                          "%(driver)s.", {"e": _mask.mask_text(str(exc)[:300]),
                                          "driver": " or ".join(sorted(_names(driver)))})


def _reset_drivers() -> None:
    """Forget the loaded drivers (tests)."""
    global drivers
    drivers = None

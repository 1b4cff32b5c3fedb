"""``notify(context, publisher_id, event_type, priority, payload)`` and its drivers.

The message sent is ``{message_id, publisher_id, event_type, priority, payload,
timestamp}``; it goes to every driver module named in ``notification_driver`` (each has
``notify(context, message)``). A failing driver is logged and never affects the others or
the caller. Old driver paths (``nova.openstack.common.notifier.rpc_notifier``, any project
prefix) name this package's drivers. The loaded drivers are the module variable
``_drivers`` (``None``: load them again at the next notification); :func:`add_driver` adds
one at run time.
"""

from __future__ import annotations

import datetime
import functools
import logging
import socket
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from oslo_config import cfg

from legacy_rpc.messaging import _jsonutils, _mask
from legacy_rpc.notifier import _driver_names as _driver_names_module
from legacy_rpc.notifier import _shapes
from legacy_rpc.rpc import common

__all__ = [
    "notifier_opts",
    "DEBUG",
    "INFO",
    "WARN",
    "ERROR",
    "CRITICAL",
    "log_levels",
    "BadPriorityException",
    "notify",
    "notify_decorator",
    "publisher_id",
    "add_driver",
    "list_notifier_drivers_opt",
]

LOG = logging.getLogger(__name__)

notifier_opts = [
    cfg.MultiStrOpt("notification_driver", default=[],
                    help="Driver or drivers to handle sending notifications."),
    cfg.StrOpt("default_notification_level", default="INFO",
               help="Default notification level for outgoing notifications."),
    cfg.StrOpt("default_publisher_id",
               help="Default publisher_id for outgoing notifications."),
]

list_notifier_drivers_opt = cfg.MultiStrOpt(
    "list_notifier_drivers", default=["legacy_rpc.notifier.no_op_notifier"],
    help="Drivers of the Essex list_notifier; in Grizzly a deprecated alias of "
         "notification_driver.")

CONF = cfg.CONF
CONF.register_opts(notifier_opts)
CONF.register_opt(list_notifier_drivers_opt)

WARN = "WARN"
INFO = "INFO"
ERROR = "ERROR"
CRITICAL = "CRITICAL"
DEBUG = "DEBUG"

log_levels = (DEBUG, WARN, INFO, ERROR, CRITICAL)

F = TypeVar("F", bound=Callable[..., Any])


class BadPriorityException(Exception):
    pass


def _timestamp() -> str:
    """``str()`` of the naive UTC time, as ``timeutils.utcnow()`` gave it."""
    return str(datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None))


def _is_context(value: Any) -> bool:
    """A request context: ours, or any object with ``to_dict()`` (the original
    ``openstack.common.context.RequestContext`` has no ``elevated()``)."""
    return isinstance(value, common.CommonRpcContext) or (
        not isinstance(value, type) and callable(getattr(value, "to_dict", None)))


def _context_from_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The first request context among the keyword, then the positional arguments."""
    for value in (*kwargs.values(), *args):
        if _is_context(value):
            return value
    return None


def notify_decorator(name: str, fn: F) -> F:
    """Wrap ``fn`` so that each call first sends a ``name`` notification of its arguments.

    The context is the first request context among the arguments (None if there is none).
    """

    @functools.wraps(fn)
    def wrapped_func(*args: Any, **kwarg: Any) -> Any:
        body = {"args": list(args), "kwarg": kwarg}
        ctxt = _context_from_args(args, kwarg)
        notify(ctxt, CONF.default_publisher_id or socket.gethostname(), name,
               CONF.default_notification_level, body)
        return fn(*args, **kwarg)

    return wrapped_func  # type: ignore[return-value]


def publisher_id(service: str, host: str | None = None) -> str:
    """``<service>.<host>``; host defaults to ``CONF.host``, else the publisher id option,
    else the host name."""
    if not host:
        try:
            host = CONF.host
        except (AttributeError, cfg.NoSuchOptError):
            host = CONF.default_publisher_id or socket.gethostname()
    return f"{service}.{host}"


_NOTIFY_PARAMS = ("context", "publisher_id", "event_type", "priority", "payload")


def _notify_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The five arguments of :func:`notify`, from either call shape.

    Four arguments without ``context`` are the Essex shape ``(publisher_id, event_type,
    priority, payload)`` when the publisher id is a string; four whose first is a request
    context (or not a string) are today's shape missing an argument, a TypeError.
    """
    unknown = sorted(set(kwargs) - set(_NOTIFY_PARAMS))
    if unknown:
        raise TypeError(f"notify() got an unexpected keyword argument {unknown[0]!r}")
    names: tuple[str, ...] = _NOTIFY_PARAMS
    if len(args) + len(kwargs) == 4 and "context" not in kwargs:
        first = args[0] if args else kwargs.get("publisher_id")
        if isinstance(first, str):
            names = _NOTIFY_PARAMS[1:]
    if len(args) > len(names):
        raise TypeError(f"notify() takes {len(names)} positional arguments but "
                        f"{len(args)} were given")
    values = dict(zip(names, args, strict=False))
    for name, value in kwargs.items():
        if name in values:
            raise TypeError(f"notify() got multiple values for argument {name!r}")
        values[name] = value
    missing = [name for name in names if name not in values]
    if missing:
        raise TypeError(f"notify() missing required argument(s): {', '.join(missing)}")
    values.setdefault("context", None)
    return values


def notify(*args: Any, **kwargs: Any) -> None:
    """Send a notification through every configured driver.

    ``notify(context, publisher_id, event_type, priority, payload)``, or the Essex
    ``notify(publisher_id, event_type, priority, payload)`` (the drivers then get a None
    context, which the rpc drivers replace with an admin context).

    A failing driver is logged with the payload sanitized and cut (``_mask.safe_repr``) and
    the error text masked.

    :raises BadPriorityException: ``priority`` is not one of :data:`log_levels`.
    :raises TypeError: the arguments match neither shape.
    """
    values = _notify_arguments(args, kwargs)
    _notify(values["context"], values["publisher_id"], values["event_type"],
            values["priority"], values["payload"])


def _notify(context: Any, publisher_id: str, event_type: str, priority: str,
            payload: Any) -> None:
    if priority not in log_levels:
        raise BadPriorityException(f"{priority} not in valid priorities")
    # Ensure everything is JSON serializable.
    payload = _jsonutils.to_primitive(payload, convert_instances=True)
    msg = {"message_id": str(uuid.uuid4()), "publisher_id": publisher_id,
           "event_type": event_type, "priority": priority, "payload": payload,
           "timestamp": _timestamp()}
    for driver in _get_drivers():
        try:
            _shapes.call_notify(driver, context, msg)
        except Exception as e:
            LOG.exception("Problem '%(e)s' attempting to send to notification system. "
                          "Payload=%(payload)s",
                          {"e": _mask.mask_text(str(e)[:300]),
                           "payload": _mask.safe_repr(payload)})


_drivers: dict[Any, Any] | None = None
"""The loaded drivers, by name (or by the driver object itself, see :func:`add_driver`);
None until the first notification. Read at every notification, so tests reset the drivers
with ``notifier_api._drivers = None``, as the original's did."""


def _driver_names() -> list[str]:
    """``notification_driver``, or else Grizzly's deprecated alias ``list_notifier_drivers``
    when it is set to something other than its default."""
    names = list(CONF.notification_driver)
    if names:
        return names
    alias = list(CONF.list_notifier_drivers)
    if alias != list_notifier_drivers_opt.default:
        LOG.warning("list_notifier_drivers is deprecated: use notification_driver")
        return alias
    return []


def _get_drivers() -> list[Any]:
    """The drivers of ``notification_driver`` (modules or objects with ``notify``), loaded
    on first use. A driver that cannot be imported is logged and skipped until
    :func:`_reset_drivers`."""
    global _drivers
    if _drivers is None:
        _drivers = {}
        for name in _driver_names():
            add_driver(name)
    return list(_drivers.values())


def add_driver(notification_driver: Any) -> None:
    """Add a driver at run time: a module path (imported now; an import failure is logged
    and the driver skipped) or an object with ``notify(context, message)``."""
    _get_drivers()
    assert _drivers is not None
    if isinstance(notification_driver, str):
        try:
            _drivers[notification_driver] = _driver_names_module.import_driver(
                notification_driver)
        except ImportError:
            LOG.exception("Failed to load notifier %s. These notifications will not be "
                          "sent.", notification_driver)
    else:
        _drivers[notification_driver] = notification_driver


def _reset_drivers() -> None:
    """Forget the loaded drivers (tests, or after changing ``notification_driver``)."""
    global _drivers
    _drivers = None

"""Sending notifications: :class:`Notifier`, the notifier :class:`Driver` interface, the
driver lookup, and :func:`get_notification_transport`.

A notification is a message dict (``message_id``, ``publisher_id``, ``event_type``,
``priority``, ``payload``, ``timestamp``; see :func:`legacy_rpc.messaging.wire.
build_notification`) handed to each configured driver. The ``messagingv2`` driver puts it
on the bus in the 2.0 envelope, ``messaging`` without it, ``log`` writes it to a logger,
``test`` keeps it in memory, ``noop`` drops it and ``routing`` picks drivers per event.
Sending never raises to the caller: a failing driver is logged, with the traceback.
"""

from __future__ import annotations

import abc
import functools
import importlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from oslo_config import cfg

from legacy_rpc.messaging import _mask, _utils, wire
from legacy_rpc.messaging import transport as _transport
from legacy_rpc.messaging.drivers import registry
from legacy_rpc.messaging.drivers.registry import DriverLoadFailure
from legacy_rpc.messaging.notify import _opts
from legacy_rpc.messaging.serializer import NoOpSerializer, Serializer
from legacy_rpc.messaging.transport import NotificationTransport, Transport, TransportURL

_LOG = logging.getLogger(__name__)

__all__ = [
    "Notifier",
    "Driver",
    "NotifierDriverLoadFailure",
    "ENTRY_POINT_GROUP",
    "BUILTIN_DRIVERS",
    "available_drivers",
    "clear_cache",
    "load_driver",
    "get_notification_transport",
]

ENTRY_POINT_GROUP = "legacy_rpc.notify.drivers"
"""Entry-point group in which distributions declare notifier drivers."""

BUILTIN_DRIVERS: dict[str, str] = {
    "messaging": "legacy_rpc.messaging.notify.messaging:MessagingDriver",
    "messagingv2": "legacy_rpc.messaging.notify.messaging:MessagingV2Driver",
    "log": "legacy_rpc.messaging.notify._impl_log:LogDriver",
    "noop": "legacy_rpc.messaging.notify._impl_noop:NoOpDriver",
    "test": "legacy_rpc.messaging.notify._impl_test:TestDriver",
    "routing": "legacy_rpc.messaging.notify._impl_routing:RoutingDriver",
}
"""In-tree notifier drivers, found even without installed metadata; they win over entry
points of the same name."""


# --------------------------------------------------------------------------- transport

def get_notification_transport(conf: cfg.ConfigOpts, url: str | TransportURL | None = None,
                               allowed_remote_exmods: Sequence[str] | None = None,
                               aliases: Mapping[str, str] | None = None) -> Transport:
    """A transport for notifiers and notification listeners.

    The URL is ``url``, else ``[oslo_messaging_notifications] transport_url``, else
    ``[DEFAULT] transport_url``, so notifications can use a bus of their own.
    """
    _opts.register_notifier_opts(conf)
    if url is None:
        url = conf[_opts.GROUP].transport_url
    # looked up at call time: test suites patch transport._get_transport
    return _transport._get_transport(conf, url, allowed_remote_exmods, aliases,
                                     transport_cls=NotificationTransport)


# --------------------------------------------------------------------------- drivers

class Driver(abc.ABC):
    """A notifier driver, built as ``cls(conf, topics=topics, transport=transport)``.

    ``notify`` gets a dict context, the message dict (its own copy), the upper-case
    priority and the retry count (-1/None: forever, 0: no retry, N: at most N).
    """

    def __init__(self, conf: cfg.ConfigOpts, topics: Sequence[str],
                 transport: Transport) -> None:
        self.conf = conf
        self.topics = list(topics)
        self.transport = transport

    @abc.abstractmethod
    def notify(self, ctxt: dict[str, Any], message: dict[str, Any], priority: str,
               retry: int | None) -> None:
        """Send one notification; may raise (the notifier logs it)."""


class NotifierDriverLoadFailure(DriverLoadFailure):
    """A notifier driver could not be found, imported or built; ``.ex`` tells why."""

    def __init__(self, driver: str, ex: BaseException) -> None:
        super().__init__(driver, ex)
        self.args = (f"Could not load notification driver {driver!r}: {ex}",)


@functools.cache
def _discover() -> dict[str, str]:
    drivers = registry.entry_point_targets(ENTRY_POINT_GROUP)
    drivers.update(BUILTIN_DRIVERS)
    return drivers


def available_drivers() -> dict[str, str]:
    """Map each notifier driver name to its ``"module:attr"`` target (a copy; cached)."""
    return dict(_discover())


def clear_cache() -> None:
    """Forget the discovered drivers, e.g. after installing a distribution."""
    _discover.cache_clear()


def _import_class(name: str, target: str) -> type:
    module_name, _colon, attr_path = target.partition(":")
    try:
        obj: object = importlib.import_module(module_name.strip())
        for attr in attr_path.strip().split("."):
            obj = getattr(obj, attr)
    except Exception as exc:
        raise NotifierDriverLoadFailure(name, exc) from exc
    if not isinstance(obj, type):
        raise NotifierDriverLoadFailure(name, TypeError(f"{target!r} is not a class"))
    return obj


def load_driver(name: str, conf: cfg.ConfigOpts, topics: Sequence[str],
                transport: Transport) -> Driver:
    """Build the notifier driver called ``name``.

    :raises NotifierDriverLoadFailure: unknown name (the message lists the known ones),
        import error, or an object without a ``notify`` method.
    """
    drivers = available_drivers()
    target = drivers.get(name)
    if target is None:
        raise NotifierDriverLoadFailure(name, LookupError(
            f"unknown notification driver; known drivers: {', '.join(sorted(drivers))}"))
    cls = _import_class(name, target)
    try:
        driver = cls(conf, topics=list(topics), transport=transport)
    except Exception as exc:
        raise NotifierDriverLoadFailure(name, exc) from exc
    if not callable(getattr(driver, "notify", None)):
        raise NotifierDriverLoadFailure(name, TypeError(f"{target!r} has no notify() method"))
    result: Driver = driver
    return result


# --------------------------------------------------------------------------- notifier

def _redacted(ctxt: Any) -> Any:
    """The context a notification may carry (oslo.messaging >= 14.4, bug 2030976).

    Only an object's ``redacted_copy()`` is sent. A plain dict (or None) is dropped, since
    it may hold the caller's credentials; another object without the method is dropped
    with a warning.
    """
    redacted_copy = getattr(ctxt, "redacted_copy", None)
    if callable(redacted_copy):
        return redacted_copy()
    if ctxt is None or isinstance(ctxt, Mapping):
        return {}
    _LOG.warning("The notification context (a %s) has no redacted_copy() method, so it is not "
                "sent with the notification", type(ctxt).__name__)
    return {}


class PriorityMethods:
    """``audit``, ``debug``, ``info``, ``warn``/``warning``, ``error``, ``critical`` and
    ``sample``, each ``(ctxt, event_type, payload)``, on top of ``_notify``."""

    def _notify(self, ctxt: Any, event_type: str, payload: Any, priority: str) -> None:
        raise NotImplementedError

    def audit(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send an AUDIT notification."""
        self._notify(ctxt, event_type, payload, "AUDIT")

    def debug(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a DEBUG notification."""
        self._notify(ctxt, event_type, payload, "DEBUG")

    def info(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send an INFO notification."""
        self._notify(ctxt, event_type, payload, "INFO")

    def warn(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a WARN notification (also available as :meth:`warning`)."""
        self._notify(ctxt, event_type, payload, "WARN")

    warning = warn

    def error(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send an ERROR notification."""
        self._notify(ctxt, event_type, payload, "ERROR")

    def critical(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a CRITICAL notification."""
        self._notify(ctxt, event_type, payload, "CRITICAL")

    def sample(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a SAMPLE notification (metering data)."""
        self._notify(ctxt, event_type, payload, "SAMPLE")


class Notifier(PriorityMethods):
    """Sends notifications through the configured drivers.

    ``driver`` names one driver (or a list of them); by default the drivers are
    ``[oslo_messaging_notifications] driver``, and none configured means nothing is sent.
    ``topics`` defaults to ``[oslo_messaging_notifications] topics``, ``retry`` to its
    ``retry`` option. The priority methods (``audit``, ``debug``, ``info``, ``warn`` or
    ``warning``, ``error``, ``critical``, ``sample``) take ``(ctxt, event_type, payload)``
    and never raise: errors are logged. ``ctxt`` is sent only when it is an object with
    ``redacted_copy()``; a plain dict is dropped, as by oslo.messaging.

    Delivery: with the messaging drivers the call returns once the bus owns the message
    (store and forward: the ``<topic>.<priority>`` queue is declared by the publisher, so
    nothing is lost before a listener exists).
    """

    _marker: Any = object()

    def __init__(self, transport: Transport, publisher_id: str | None = None,
                 driver: str | Sequence[str] | None = None,
                 serializer: Serializer | None = None, retry: int | None = None,
                 topics: Sequence[str] | None = None) -> None:
        conf = transport.conf
        _opts.register_notifier_opts(conf)
        group = conf[_opts.GROUP]
        if not isinstance(transport, NotificationTransport):
            _LOG.warning("Using an RPC transport for notifications. Use "
                        "get_notification_transport() to get a notification transport.")
        self.transport = transport
        self.conf = conf
        self.publisher_id = publisher_id
        self.retry: int | None = retry if retry is not None else group.retry
        if driver is None:
            names = list(group.driver)
        elif isinstance(driver, str):
            names = [driver]
        else:
            names = list(driver)
        self._driver_names = list(dict.fromkeys(names))
        self._topics = list(topics) if topics is not None else list(group.topics)
        self._serializer: Serializer = serializer or NoOpSerializer()
        self._drivers = [(name, load_driver(name, conf, self._topics, transport))
                         for name in self._driver_names]

    def prepare(self, publisher_id: Any = _marker, retry: Any = _marker) -> Notifier:
        """A notifier sharing these drivers with another ``publisher_id`` or ``retry``."""
        return _SubNotifier(self,
                            self.publisher_id if publisher_id is self._marker else publisher_id,
                            self.retry if retry is self._marker else retry)

    def is_enabled(self) -> bool:
        """False only when the drivers are exactly ``['noop']`` (as in oslo.messaging)."""
        return self._driver_names != ["noop"]

    def _notify(self, ctxt: Any, event_type: str, payload: Any, priority: str,
                publisher_id: str | None = None, retry: int | None = None) -> None:
        try:
            payload = self._serializer.serialize_entity(ctxt, payload)
            # Drivers get the serialized context as it is (as in oslo.messaging); the
            # transport turns it into a dict when it is sent.
            context = self._serializer.serialize_context(_redacted(ctxt))
            message = wire.build_notification(publisher_id or self.publisher_id, event_type,
                                              priority, payload,
                                              timestamp=str(_utils.utcnow()))
        except Exception:
            _LOG.exception("Could not build the %s notification %s; it is not sent",
                          priority, event_type)
            return
        retry = retry if retry is not None else self.retry
        for name, driver in self._drivers:
            try:
                driver.notify(context, dict(message), priority, retry)
            except Exception:
                _LOG.exception("Notification driver %s could not send the %s notification %s; "
                              "payload: %s", name, priority, event_type,
                              _mask.sanitize(message["payload"]))


class _SubNotifier(Notifier):
    """What :meth:`Notifier.prepare` returns: same drivers, its own publisher and retry."""

    def __init__(self, base: Notifier, publisher_id: str | None, retry: int | None) -> None:
        # Deliberately not calling Notifier.__init__: the drivers are shared, not rebuilt.
        self.transport = base.transport
        self.conf = base.conf
        self.publisher_id = publisher_id
        self.retry = retry
        self._driver_names = base._driver_names
        self._topics = base._topics
        self._serializer = base._serializer
        self._drivers = base._drivers

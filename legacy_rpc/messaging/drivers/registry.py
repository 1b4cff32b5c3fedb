"""Driver registry: from a URL scheme or a legacy ``rpc_backend`` value to a driver class.

Drivers are named ``"module:attr"`` targets: the in-tree ones in :data:`BUILTIN_DRIVERS`,
third-party ones through the ``legacy_rpc.drivers`` entry-point group (and oslo.messaging's
``oslo.messaging.drivers`` group, for out-of-tree drivers declared there). A driver module is
imported only when that driver is loaded. Legacy backend names (``impl_kombu`` module paths
of any project, ``impl_qpid``, ...) resolve through one small alias table, so an old config
keeps working and a wrong name fails with a message that says what would work.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import logging
from collections.abc import Mapping
from importlib.metadata import entry_points

from legacy_rpc.messaging.exceptions import MessagingException

__all__ = [
    "DriverLoadFailure",
    "ENTRY_POINT_GROUP",
    "OSLO_ENTRY_POINT_GROUP",
    "BUILTIN_DRIVERS",
    "DRIVER_EXTRAS",
    "LEGACY_ALIASES",
    "legacy_driver_name",
    "resolve_driver_name",
    "register_driver",
    "available_drivers",
    "clear_cache",
    "load_driver_class",
]

LOG = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "legacy_rpc.drivers"
"""Entry-point group in which distributions declare drivers (``name = "module:attr"``)."""

OSLO_ENTRY_POINT_GROUP = "oslo.messaging.drivers"
"""oslo.messaging's group: out-of-tree drivers declared there are found too (after ours).
oslo.messaging's own drivers in it (``oslo_messaging.*`` modules) are skipped: they are
built on its private internals."""

BUILTIN_DRIVERS: dict[str, str] = {
    "fake": "legacy_rpc.messaging.drivers.impl_fake:FakeDriver",
    "rabbit": "legacy_rpc.messaging.drivers.impl_rabbit:RabbitDriver",
    "kombu": "legacy_rpc.messaging.drivers.impl_rabbit:RabbitDriver",
}
"""In-tree drivers, found even when the package is not installed; they win over entry
points of the same name (entry points only add names)."""

DRIVER_EXTRAS: dict[str, str] = {
    "rabbit": "rabbit",
    "kombu": "rabbit",
    "amqp1": "amqp1",
    "zmq": "zmq",
}
"""Drivers shipped as optional extras: driver name -> the pip extra that installs it."""

LEGACY_ALIASES: dict[str, str] = {
    "impl_kombu": "rabbit",
    "impl_qpid": "amqp1",
    "impl_zmq": "zmq",
    "impl_fake": "fake",
    "qpid": "amqp1",
    "amqp": "amqp1",
}
"""Legacy backend names -> driver names. The ``impl_*`` keys also match as the last
component of a module path in one of :data:`_LEGACY_PACKAGES`."""

_LEGACY_PACKAGES: tuple[str, ...] = ("openstack.common.rpc", "nova.rpc", "legacy_rpc.rpc")
"""Packages that held the legacy ``impl_*`` modules; any project prefix is allowed before
``openstack.common.rpc`` (``nova.``, ``cinder.``, ...)."""


class DriverLoadFailure(MessagingException):
    """A messaging driver could not be found or imported; ``.ex`` tells why."""

    def __init__(self, driver: str, ex: BaseException) -> None:
        super().__init__(f"Could not load messaging driver {driver!r}: {ex}")
        self.driver = driver
        self.ex = ex


def legacy_driver_name(name: str) -> str | None:
    """Return the driver a legacy backend name stands for, or ``None`` if it is not one.

    Matches a bare key of :data:`LEGACY_ALIASES` (``impl_kombu``, ``qpid``), or a module
    path ``[<project>.]openstack.common.rpc.impl_X`` / ``nova.rpc.impl_X``.
    """
    if name in LEGACY_ALIASES:
        return LEGACY_ALIASES[name]
    package, dot, module = name.rpartition(".")
    if not dot or not module.startswith("impl_") or module not in LEGACY_ALIASES:
        return None
    if any(package == p or package.endswith("." + p) for p in _LEGACY_PACKAGES):
        return LEGACY_ALIASES[module]
    return None


def _known_names() -> set[str]:
    """Every driver name that is valid as is: available ones and installable extras."""
    return set(available_drivers()) | set(DRIVER_EXTRAS)


def resolve_driver_name(name: str, aliases: Mapping[str, str] | None = None) -> str:
    """Turn a URL scheme or an ``rpc_backend`` value into a driver name.

    In order: drop a ``+suffix`` (``kombu+memory`` -> ``kombu``); apply the application's
    ``aliases`` (exact match on the whole name, then on the part before ``+``; the value
    is a driver name, a legacy name looked up in the alias table once, or a
    ``"module:Class"`` target); keep a known driver
    name; map a legacy name through the alias table; else return the name unchanged, so
    that loading it fails with a clear message.
    """
    base = name.strip().split("+", 1)[0]
    if aliases:
        key = name.strip() if name.strip() in aliases else base
        if key in aliases:
            base = aliases[key].strip().split("+", 1)[0]
    if base in _known_names():
        return base
    legacy = legacy_driver_name(base)
    return legacy if legacy is not None else base


def entry_point_targets(group: str) -> dict[str, str]:
    """``name -> "module:attr"`` declared in an entry-point group; imports nothing.

    The first of a duplicate name wins; unreadable metadata is logged, not raised, so that
    a broken distribution cannot hide the built-in plugins.
    """
    found: dict[str, str] = {}
    try:
        eps = entry_points(group=group)
    except Exception:
        LOG.warning("Could not read the %s entry points", group, exc_info=True)
        return found
    for ep in eps:
        found.setdefault(ep.name, ep.value)
    return found


def _entry_point_drivers() -> dict[str, str]:
    drivers = {name: target for name, target in entry_point_targets(OSLO_ENTRY_POINT_GROUP).items()
               if not target.startswith("oslo_messaging.")}
    drivers.update(entry_point_targets(ENTRY_POINT_GROUP))
    return drivers


@functools.cache
def _discover() -> dict[str, str]:
    """Built-in drivers plus entry-point drivers (cached; see :func:`clear_cache`)."""
    drivers = _entry_point_drivers()
    drivers.update(_registered)
    drivers.update(BUILTIN_DRIVERS)
    return drivers


_registered: dict[str, str] = {}


def register_driver(name: str, target: str) -> None:
    """Make ``name`` load the driver class ``target`` (``"package.module:Class"``).

    For drivers not installed with an entry point: in-house code, examples, a driver under
    development being run through the contract suite. Built-in names cannot be replaced.
    """
    if name in BUILTIN_DRIVERS:
        raise ValueError(f"{name!r} is a built-in driver and cannot be replaced")
    if ":" not in target:
        raise ValueError(f"target must look like 'package.module:Class', got {target!r}")
    _registered[name] = target
    clear_cache()


def available_drivers() -> dict[str, str]:
    """Map each driver that can be asked for by name to its ``"module:attr"`` target.

    Reading the entry points imports nothing. The result is cached; a copy is returned.
    """
    return dict(_discover())


def clear_cache() -> None:
    """Forget the discovered drivers, e.g. after installing a distribution or in tests."""
    _discover.cache_clear()


def _not_installed(driver: str, cause: BaseException | None) -> ImportError:
    """The error for an extras driver that is not installed, with the pip command."""
    extra = DRIVER_EXTRAS[driver]
    text = f"The {driver!r} driver is not installed: pip install 'legacy-rpc[{extra}]'"
    if cause is not None:
        text += f" ({type(cause).__name__}: {cause})"
    return ImportError(text)


def _unknown(driver: str, name: str) -> LookupError:
    """The error for a name that is neither a driver nor a legacy alias."""
    known = sorted(_known_names())
    text = (f"Unknown messaging driver {driver!r} (from {name!r}). Known drivers: "
            f"{', '.join(known)}; legacy rpc_backend names such as "
            "'<project>.openstack.common.rpc.impl_kombu' are accepted too.")
    candidates = known + sorted(LEGACY_ALIASES)
    close = difflib.get_close_matches(driver, candidates, n=1)
    if not close and "." in driver:
        close = difflib.get_close_matches(driver.rpartition(".")[2], candidates, n=1)
    if close:
        suggestion = LEGACY_ALIASES.get(close[0], close[0])
        text += f" Did you mean {suggestion!r}?"
    return LookupError(text)


def _import_target(driver: str, target: str) -> object:
    """Import ``"module:attr"`` (``attr`` may be dotted) and return the object it names."""
    module_name, colon, attr_path = target.partition(":")
    module_name, attr_path = module_name.strip(), attr_path.strip()
    if not colon or not module_name or not attr_path:
        raise DriverLoadFailure(driver, ValueError(
            f"Driver target {target!r} is not of the form 'module:attr'"))
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as exc:
        if driver in DRIVER_EXTRAS:
            raise DriverLoadFailure(driver, _not_installed(driver, exc)) from exc
        raise DriverLoadFailure(driver, exc) from exc
    except Exception as exc:  # a broken driver module: report it as a load failure
        raise DriverLoadFailure(driver, exc) from exc
    for attr in attr_path.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError as exc:
            raise DriverLoadFailure(driver, AttributeError(
                f"{target!r} names no existing object ({attr!r} is missing)")) from exc
    return obj


def load_driver_class(name: str, aliases: Mapping[str, str] | None = None) -> type:
    """Resolve ``name`` (see :func:`resolve_driver_name`), import its module, return the class.

    :raises DriverLoadFailure: unknown name (with the known ones and a suggestion), an
        extras driver that is not installed (with the pip command), an import error, or a
        target that is missing or not a class.
    """
    driver = resolve_driver_name(name, aliases)
    if ":" in driver:
        # An application alias may name the class itself ("package.module:Driver"), for a
        # driver that is not installed with an entry point (tests, examples, in-house code).
        obj = _import_target(driver, driver)
        if not isinstance(obj, type):
            raise DriverLoadFailure(driver, TypeError(f"{driver!r} is not a driver class"))
        return obj
    target = available_drivers().get(driver)
    if target is None:
        if driver in DRIVER_EXTRAS:
            raise DriverLoadFailure(driver, _not_installed(driver, None))
        raise DriverLoadFailure(driver, _unknown(driver, name))
    obj = _import_target(driver, target)
    if not isinstance(obj, type):
        raise DriverLoadFailure(driver, TypeError(
            f"{target!r} is {type(obj).__name__} {obj!r}, not a driver class"))
    return obj

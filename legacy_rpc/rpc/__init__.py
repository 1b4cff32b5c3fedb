"""The legacy RPC API: a drop-in replacement for ``openstack.common.rpc`` and ``nova.rpc``.

``from nova.openstack.common import rpc`` becomes ``from legacy_rpc import rpc``; every call
site stays as it is. Each function forwards to the backend module that ``rpc_backend``
names (``impl_kombu`` by default), resolved on first use through the core's driver
registry, so that configuration files are parsed first, and again only after the
configuration changed or :func:`cleanup` ran; all of it runs on the new-style
core (``legacy_rpc.messaging``). ``[DEFAULT] transport_url``, when set, wins over the
legacy connection options.

``context`` is a dict or an object with ``to_dict()``; ``msg`` is
``{"method": name, "args": {...}}`` with optional ``version`` and ``namespace``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from oslo_config import cfg

from legacy_rpc.messaging.drivers import registry
from legacy_rpc.rpc import _backend, _opts, _transport_url, _transports, common

__all__ = [
    "rpc_opts",
    "set_defaults",
    "create_connection",
    "call",
    "multicall",
    "cast",
    "fanout_cast",
    "notify",
    "cleanup",
    "cast_to_server",
    "fanout_cast_to_server",
    "queue_get_for",
    "get_transport",
    "common",
]

LOG = logging.getLogger(__name__)

rpc_opts = _opts.rpc_opts
CONF = cfg.CONF
CONF.register_opts(rpc_opts)

# The backend module of each core driver; other drivers get a module-like Backend.
_BACKEND_MODULES = {
    "rabbit": "legacy_rpc.rpc.impl_kombu",
    "kombu": "legacy_rpc.rpc.impl_kombu",
    "amqp1": "legacy_rpc.rpc.impl_qpid",
    "zmq": "legacy_rpc.rpc.impl_zmq",
    "fake": "legacy_rpc.rpc.impl_fake",
}

_RPCIMPL: Any = None
"""The backend last used (informational: it is chosen again after a configuration change
or :func:`cleanup`)."""


def set_defaults(control_exchange: str) -> None:
    """Change the default of ``control_exchange`` (projects call it with their name).

    Takes effect even after the option was read (``CONF`` caches the values it read).
    """
    cfg.set_defaults(rpc_opts, control_exchange=control_exchange)
    CONF.set_default("control_exchange", control_exchange)


def _load_backend(name: str) -> Any:
    driver = _transport_url.backend_driver(CONF)
    module = _BACKEND_MODULES.get(driver)
    if module is not None:
        return importlib.import_module(module)
    if driver in registry.available_drivers():
        return _backend.Backend(driver)
    try:  # a project's own legacy backend module, as the original imported it
        return importlib.import_module(name)
    except ImportError:
        registry.load_driver_class(name)  # raises the registry's error, with suggestions
        raise


_BACKEND = _transports.ConfMemo("backend", lambda conf: _load_backend(str(conf.rpc_backend)))


def _get_impl() -> Any:
    """The backend ``rpc_backend`` names (a module with the conf-first functions), chosen
    once per configuration."""
    global _RPCIMPL
    _RPCIMPL = impl = _BACKEND.get(CONF)
    return impl


def get_transport() -> Any:
    """The core transport the legacy API uses in this process (created on first use).

    An addition to the legacy API, for migrating call sites one at a time: new-style code
    in the same process can share it (``RPCClient(rpc.get_transport(), target)``); on the
    in-memory ``impl_fake`` backend that is the only way the two can reach each other.
    """
    return _get_impl().transport(CONF)


def create_connection(new: bool = True) -> common.Connection:
    """A connection to create consumers on (``new`` is accepted for compatibility)."""
    connection: common.Connection = _get_impl().create_connection(CONF, new=new)
    return connection


def call(context: Any, topic: str, msg: dict[str, Any], timeout: float | None = None) -> Any:
    """Invoke a method on one consumer of ``topic`` and return its result.

    For a generator method the last value it yielded (None if none). A consumer of this
    library (or of oslo.messaging) sends it in one reply; an original legacy one streams.
    :raises common.Timeout: the result did not arrive within ``timeout`` seconds (default
        ``rpc_response_timeout``), counted from the call (the original counted it per
        streamed reply; ``multicall`` still does).
    :raises common.RemoteError: the method raised an exception that could not be
        re-created; an allowed one (``allowed_rpc_exception_modules``) is raised itself.
    """
    return _get_impl().call(CONF, context, topic, msg, timeout)


def multicall(context: Any, topic: str, msg: dict[str, Any],
              timeout: float | None = None) -> Iterator[Any]:
    """Invoke a method and iterate over the values it produces, as they arrive.

    A plain method produces one value, a generator one per ``yield`` (bare values, not
    tuples). Timeouts (per value) and remote exceptions are raised during the iteration.
    """
    values: Iterator[Any] = _get_impl().multicall(CONF, context, topic, msg, timeout)
    return values


def cast(context: Any, topic: str, msg: dict[str, Any]) -> None:
    """Invoke a method on one consumer of ``topic`` without waiting for anything."""
    _get_impl().cast(CONF, context, topic, msg)


def fanout_cast(context: Any, topic: str, msg: dict[str, Any]) -> None:
    """Invoke a method on every fanout consumer of ``topic``, without waiting."""
    _get_impl().fanout_cast(CONF, context, topic, msg)


def cast_to_server(context: Any, server_params: Mapping[str, Any], topic: str,
                   msg: dict[str, Any]) -> None:
    """``cast`` over a fresh connection to the broker ``server_params`` describes
    (``hostname``, ``port``, ``username``, ``password``, ``virtual_host``)."""
    _get_impl().cast_to_server(CONF, context, server_params, topic, msg)


def fanout_cast_to_server(context: Any, server_params: Mapping[str, Any], topic: str,
                          msg: dict[str, Any]) -> None:
    """``fanout_cast`` over a fresh connection to the broker ``server_params`` describes."""
    _get_impl().fanout_cast_to_server(CONF, context, server_params, topic, msg)


def notify(context: Any, topic: str, msg: dict[str, Any], envelope: bool = False) -> None:
    """Publish a notification dict on ``topic`` (e.g. ``notifications.info``); in the 2.0
    envelope only with ``envelope=True``."""
    _get_impl().notify(cfg.CONF, context, topic, msg, envelope)


def cleanup() -> None:
    """Release the backend's resources (connections, reply queue); call before exiting."""
    _get_impl().cleanup()


def queue_get_for(context: Any, topic: str, host: str | None) -> str:
    """The per-host topic ``<topic>.<host>``, or ``topic`` when ``host`` is empty."""
    return f"{topic}.{host}" if host else topic

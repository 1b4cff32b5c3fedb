"""The transports of the legacy API: created on first use, shared per process.

Every legacy function of one process that targets the same URL uses the same core
transport, so a consumer and a caller in one process meet on the in-memory ``fake``
broker, and a process has one reply queue per broker, as the original had one reply proxy
per connection pool. ``allowed_rpc_exception_modules`` is read when a transport is created
(changing it later needs :func:`cleanup` first). After a fork the child starts afresh:
the parent's connections are not reused (nor closed) by the child.
"""

from __future__ import annotations

import logging
import os
import threading

from oslo_config import cfg

from legacy_rpc.messaging.rpc.transport import get_rpc_transport
from legacy_rpc.messaging.transport import Transport, TransportURL
from legacy_rpc.rpc import _opts

__all__ = ["get", "create", "cleanup", "allowed_exception_modules"]

LOG = logging.getLogger(__name__)

_lock = threading.Lock()
_transports: dict[tuple[int, str], Transport] = {}
_pid = os.getpid()


def allowed_exception_modules(conf: cfg.ConfigOpts) -> list[str]:
    """``allowed_rpc_exception_modules`` (``exceptions`` is understood as ``builtins``)."""
    _opts.register(conf, _opts.rpc_opts)
    return list(conf.allowed_rpc_exception_modules)


def create(conf: cfg.ConfigOpts, url: TransportURL) -> Transport:
    """A new transport for ``url``, owned by the caller (who must clean it up)."""
    return get_rpc_transport(conf, url, allowed_remote_exmods=allowed_exception_modules(conf))


def get(conf: cfg.ConfigOpts, url: TransportURL) -> Transport:
    """The process's transport for ``url`` and ``conf``, created on first use."""
    global _pid
    key = (id(conf), url.as_uri(include_password=True))
    with _lock:
        if os.getpid() != _pid:
            _transports.clear()
            _pid = os.getpid()
        transport = _transports.get(key)
        if transport is None:
            transport = _transports[key] = create(conf, url)
        return transport


def cleanup() -> None:
    """Release every transport; the next use creates new ones."""
    with _lock:
        transports = list(_transports.values())
        _transports.clear()
    for transport in transports:
        try:
            transport.cleanup()
        except Exception:
            LOG.exception("Could not clean up %r", transport)

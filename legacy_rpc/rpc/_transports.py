"""The transports of the legacy API: created on first use, shared per process.

Every legacy function of one process that targets the same URL uses the same core
transport, so a consumer and a caller in one process meet on the in-memory ``fake``
broker, and a process has one reply queue per broker, as the original had one reply proxy
per connection pool. After a fork the child starts afresh: the parent's connections are
not reused (nor closed) by the child.

What the legacy options resolve to (backend, URL, transport, timeouts, the
``allowed_rpc_exception_modules`` of the transport) is worked out once per configuration:
:class:`ConfMemo` keeps it until the configuration changes (``set_override``, a reload, a
new option registered ...), so a legacy call costs no more than a core one.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from oslo_config import cfg

from legacy_rpc.messaging.rpc.transport import get_rpc_transport
from legacy_rpc.messaging.transport import Transport, TransportURL
from legacy_rpc.rpc import _opts

__all__ = ["get", "create", "cleanup", "allowed_exception_modules", "set_allowed_modules",
           "ConfMemo"]

LOG = logging.getLogger(__name__)

T = TypeVar("T")

_lock = threading.Lock()
_transports: dict[tuple[int, str], Transport] = {}
_pid = os.getpid()
_generation = 0
"""Incremented by :func:`cleanup` and after a fork: memos computed before are stale."""

# oslo.config caches every option value it resolved in this dict and empties it whenever
# the configuration may change (set_override, clear_override, set_default, register_opt,
# reload_config_files, mutate_config_files, __call__, clear ...).
_CONF_CACHE_ATTR = "_ConfigOpts__cache"
_MEMO_PREFIX = "\0legacy_rpc:"


class ConfMemo(Generic[T]):
    """A value computed from a ``ConfigOpts``, recomputed only after the configuration may
    have changed, or after :func:`cleanup`.

    The value is stored in the configuration's own cache of option values, under a key no
    option can have, so it is dropped exactly when oslo.config drops the values it was
    computed from. An object without that cache (a stand-in for ``ConfigOpts``) gets a
    fresh value on every call. A change made by another thread while a value is being
    computed may be noticed only at the next change (as with any cached option value).
    """

    def __init__(self, name: str, compute: Callable[[Any], T]) -> None:
        self._key = (None, f"{_MEMO_PREFIX}{name}")  # never an option's (group, name)
        self._compute = compute

    def get(self, conf: Any) -> T:
        cache = getattr(conf, _CONF_CACHE_ATTR, None)
        if cache is not None:
            entry = cache.get(self._key)
            if entry is not None and entry[0] == _generation and entry[1] == os.getpid():
                value: T = entry[2]
                return value
        generation = _generation
        # Computing registers options (idempotent, but oslo.config then empties its cache):
        # the other memos still hold, since registering an option changes no value.
        memos = {key: entry for key, entry in (cache or {}).items()
                 if isinstance(key, tuple) and str(key[1]).startswith(_MEMO_PREFIX)}
        value = self._compute(conf)
        cache = getattr(conf, _CONF_CACHE_ATTR, None)
        if isinstance(cache, dict):
            for key, entry in memos.items():
                cache.setdefault(key, entry)
            cache[self._key] = (generation, os.getpid(), value)
        return value


def allowed_exception_modules(conf: cfg.ConfigOpts) -> list[str]:
    """``allowed_rpc_exception_modules`` (``exceptions`` is understood as ``builtins``)."""
    _opts.register(conf, _opts.rpc_opts)
    return list(conf.allowed_rpc_exception_modules)


def set_allowed_modules(transport: Transport, modules: Sequence[str]) -> None:
    """Make ``transport`` re-create remote exceptions of ``modules`` from now on.

    The drivers read their list at each call, so the change applies to the next call
    without a new transport (a new one would lose the consumers of the ``fake`` broker).
    """
    allowed = getattr(transport._driver, "_allowed_remote_exmods", None)
    if isinstance(allowed, list) and allowed != list(modules):
        allowed[:] = modules


def create(conf: cfg.ConfigOpts, url: TransportURL) -> Transport:
    """A new transport for ``url``, owned by the caller (who must clean it up)."""
    return get_rpc_transport(conf, url, allowed_remote_exmods=allowed_exception_modules(conf))


def _forget_parent() -> None:
    """After a fork (called with the lock held): the parent's transports are not ours."""
    global _pid, _generation
    if os.getpid() != _pid:
        _transports.clear()
        _pid = os.getpid()
        _generation += 1


def get(conf: cfg.ConfigOpts, url: TransportURL) -> Transport:
    """The process's transport for ``url`` and ``conf``, created on first use."""
    key = (id(conf), url.as_uri(include_password=True))
    with _lock:
        _forget_parent()
        transport = _transports.get(key)
        if transport is None:
            transport = _transports[key] = create(conf, url)
        return transport


def cleanup() -> None:
    """Release every transport; the next use creates new ones (and resolves the options
    again)."""
    global _generation
    with _lock:
        transports = list(_transports.values())
        _transports.clear()
        _generation += 1
    for transport in transports:
        try:
            transport.cleanup()
        except Exception:
            LOG.exception("Could not clean up %r", transport)

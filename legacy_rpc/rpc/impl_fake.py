"""The in-memory backend of the legacy API (``rpc_backend = ...impl_fake``), on the core's
``fake`` driver.

Unlike the original fake it behaves as a broker does: messages are JSON-encoded (a
non-JSON-serialisable argument raises ``TypeError`` when sending), casts are delivered
asynchronously, ``fanout_cast`` reaches only fanout consumers, and calls are distributed
round-robin. All legacy functions of a process share one in-memory broker. Like the
original it has no ``cast_to_server``/``fanout_cast_to_server``.
"""

from __future__ import annotations

from legacy_rpc.rpc import _backend, _connection

__all__ = [
    "Connection",
    "create_connection",
    "multicall",
    "call",
    "cast",
    "fanout_cast",
    "notify",
    "cleanup",
]

_BACKEND = _backend.Backend("fake")

create_connection = _BACKEND.create_connection
transport = _BACKEND.transport  # the core transport (an addition; rpc.get_transport)
multicall = _BACKEND.multicall
call = _BACKEND.call
cast = _BACKEND.cast
fanout_cast = _BACKEND.fanout_cast
notify = _BACKEND.notify
cleanup = _BACKEND.cleanup


class Connection(_connection.BackendConnection):
    """``Connection(conf, server_params=None)``, made directly as Grizzly-era code did:
    a legacy connection (as ``create_connection`` gives) with the driver-level methods
    (``topic_send``, ``declare_topic_consumer``, ``consume``, ...)."""

    backend = _BACKEND

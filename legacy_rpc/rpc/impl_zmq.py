"""The ZeroMQ backend of the legacy API (``rpc_backend = ...impl_zmq``), on the core's
``zmq`` driver.

Importing it registers the ``rpc_zmq_*`` options. Using it needs the ``zmq`` driver: until
it is installed, the first call fails with the driver registry's "not installed" error.
Like the original it has no ``cast_to_server``/``fanout_cast_to_server``.
"""

from __future__ import annotations

from oslo_config import cfg

from legacy_rpc.rpc import _backend, _connection, _opts

__all__ = [
    "Connection",
    "zmq_opts",
    "create_connection",
    "multicall",
    "call",
    "cast",
    "fanout_cast",
    "notify",
    "cleanup",
]

zmq_opts = _opts.zmq_opts
cfg.CONF.register_opts(zmq_opts)

_BACKEND = _backend.Backend("zmq")

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

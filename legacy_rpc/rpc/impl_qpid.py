"""The Qpid backend of the legacy API (``rpc_backend = ...impl_qpid``), on the core's
``amqp1`` (AMQP 1.0) driver.

Importing it registers the ``qpid_*`` options (and the ``amqp_*`` ones). Using it needs the
``amqp1`` driver: until it is installed, the first call fails with the driver registry's
"not installed" error, which names the package to install.
"""

from __future__ import annotations

from oslo_config import cfg

from legacy_rpc.rpc import _backend, _connection, _opts, amqp  # noqa: F401 - amqp registers its options

__all__ = [
    "Connection",
    "qpid_opts",
    "create_connection",
    "multicall",
    "call",
    "cast",
    "fanout_cast",
    "cast_to_server",
    "fanout_cast_to_server",
    "notify",
    "cleanup",
]

qpid_opts = _opts.qpid_opts
cfg.CONF.register_opts(qpid_opts)

_BACKEND = _backend.Backend("amqp1")

create_connection = _BACKEND.create_connection
transport = _BACKEND.transport  # the core transport (an addition; rpc.get_transport)
multicall = _BACKEND.multicall
call = _BACKEND.call
cast = _BACKEND.cast
fanout_cast = _BACKEND.fanout_cast
cast_to_server = _BACKEND.cast_to_server
fanout_cast_to_server = _BACKEND.fanout_cast_to_server
notify = _BACKEND.notify
cleanup = _BACKEND.cleanup


class Connection(_connection.BackendConnection):
    """``Connection(conf, server_params=None)``, made directly as Grizzly-era code did:
    a legacy connection (as ``create_connection`` gives) with the driver-level methods
    (``topic_send``, ``declare_topic_consumer``, ``consume``, ...)."""

    backend = _BACKEND

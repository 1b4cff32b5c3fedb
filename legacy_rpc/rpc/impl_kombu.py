"""The RabbitMQ backend of the legacy API (``rpc_backend = ...impl_kombu``), on the core's
``rabbit`` driver.

Importing it registers the ``kombu_*`` and ``rabbit_*`` options (and the ``amqp_*`` ones);
they are turned into the transport URL by :mod:`legacy_rpc.rpc._transport_url`.
``fake_rabbit = True`` uses the in-memory ``fake`` driver instead.
"""

from __future__ import annotations

from oslo_config import cfg

from legacy_rpc.rpc import _backend, _connection, _opts, amqp  # noqa: F401 - amqp registers its options

__all__ = [
    "Connection",
    "kombu_opts",
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

kombu_opts = _opts.kombu_opts
cfg.CONF.register_opts(kombu_opts)

_BACKEND = _backend.Backend("rabbit")

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

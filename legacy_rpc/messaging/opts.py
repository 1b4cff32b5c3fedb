"""The configuration options of the core, in oslo.messaging's groups, and ``list_opts``."""

from __future__ import annotations

import copy
from typing import Any

from oslo_config import cfg

from legacy_rpc.messaging import _opt_types as _ot

__all__ = ["list_opts", "set_defaults", "register_transport_opts", "DEFAULT_OPTS"]

transport_opts = [
    _ot.StrOpt("transport_url", default="rabbit://", secret=True,
               help="Messaging backend URL: driver://[user:pass@]host:port[,host2...]/vhost"
                    "?option=value. 'fake://' is the embedded in-memory broker."),
    _ot.StrOpt("control_exchange", default="openstack",
               help="The default exchange topics are scoped to; services usually set their "
                    "own (set_transport_defaults)."),
]

rpc_client_opts = [
    _ot.IntOpt("rpc_response_timeout", default=60,
               help="Seconds to wait for a response from a call."),
]

server_opts = [
    _ot.IntOpt("executor_thread_pool_size", default=64, min=1,
               deprecated_name="rpc_thread_pool_size",
               help="Size of the worker thread pool of a server's 'threading' executor."),
]

dispatcher_opts = [
    _ot.BoolOpt("rpc_ping_enabled", default=False,
                help="Add an endpoint answering 'oslo_rpc_server_ping' to every RPC server."),
]

DEFAULT_OPTS = transport_opts + rpc_client_opts + server_opts + dispatcher_opts


def register_transport_opts(conf: cfg.ConfigOpts) -> None:
    """Register the ``[DEFAULT]`` options of the core on ``conf`` (idempotent)."""
    conf.register_opts(DEFAULT_OPTS)


def list_opts() -> list[tuple[str | None, list[Any]]]:
    """Options for documentation and sample config generation, as oslo.messaging's.

    Found by oslo-config-generator through the ``oslo.config.opts`` entry point
    ``legacy_rpc.messaging``. Each call returns copies, so callers may change them.
    """
    from legacy_rpc.messaging.drivers.rabbit import _opts as rabbit_opts
    from legacy_rpc.messaging.notify import _opts as notify_opts

    groups: list[tuple[str | None, list[Any]]] = [
        (None, list(DEFAULT_OPTS)),
        (notify_opts.GROUP, list(notify_opts.notifier_opts)),
        (rabbit_opts.GROUP, list(rabbit_opts.rabbit_opts)),
    ]
    return [(group, copy.deepcopy(options)) for group, options in groups]


def set_defaults(conf: cfg.ConfigOpts, executor_thread_pool_size: int | None = None) -> None:
    """Change the defaults of the core's options, as ``oslo_messaging.opts.set_defaults``."""
    register_transport_opts(conf)
    if executor_thread_pool_size is not None:
        cfg.set_defaults(server_opts, executor_thread_pool_size=executor_thread_pool_size)

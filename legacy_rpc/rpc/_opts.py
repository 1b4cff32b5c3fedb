"""Definitions of the legacy options, with their original names, groups and defaults.

Only definitions live here. Each is registered on ``cfg.CONF`` when the module that owned
it in ``openstack.common.rpc`` is imported (``rpc_opts`` by ``legacy_rpc.rpc``,
``kombu_opts`` by ``impl_kombu``, ...), as the original did, and on any other ``ConfigOpts``
by :mod:`legacy_rpc.rpc._transport_url` when it reads them. Options the new-style core has
too (``control_exchange``, ``rpc_response_timeout``, ``transport_url``) are the core's own
option objects, so both APIs read and override the same value.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

from oslo_config import cfg

from legacy_rpc.messaging import opts as core_opts

__all__ = [
    "rpc_opts",
    "amqp_opts",
    "kombu_opts",
    "qpid_opts",
    "zmq_opts",
    "DEFAULT_BACKEND",
    "register",
]

_CORE = {opt.dest: opt for opt in core_opts.DEFAULT_OPTS}

DEFAULT_BACKEND = "legacy_rpc.rpc.impl_kombu"

rpc_opts = [
    cfg.StrOpt("rpc_backend", default=DEFAULT_BACKEND,
               help="The messaging backend: a legacy module path such as "
                    "'nova.openstack.common.rpc.impl_kombu' (any project prefix, or "
                    "'nova.rpc.impl_kombu'), or a driver name ('rabbit', 'fake'). "
                    "[DEFAULT] transport_url, when set, wins."),
    cfg.IntOpt("rpc_thread_pool_size", default=64,
               help="Size of the thread pool that dispatches the messages of each "
                    "consumer."),
    cfg.IntOpt("rpc_conn_pool_size", default=30,
               help="Maximum number of pooled connections used for sending."),
    _CORE["rpc_response_timeout"],
    cfg.IntOpt("rpc_cast_timeout", default=30,
               help="Seconds to wait for a cast to be sent (zmq backend only)."),
    cfg.ListOpt("allowed_rpc_exception_modules",
                default=["nova.exception", "cinder.exception", "exceptions"],
                help="Modules whose exceptions may be re-created on the caller side; "
                     "'exceptions' means the built-in exceptions."),
    cfg.BoolOpt("fake_rabbit", default=False,
                help="Use the in-memory broker instead of RabbitMQ (tests)."),
    _CORE["control_exchange"],
]

amqp_opts = [
    cfg.BoolOpt("amqp_durable_queues", default=False,
                deprecated_name="rabbit_durable_queues", deprecated_group="DEFAULT",
                help="Use durable queues in AMQP."),
    cfg.BoolOpt("amqp_auto_delete", default=False, help="Auto-delete queues in AMQP."),
]

kombu_opts = [
    cfg.StrOpt("kombu_ssl_version", default="",
               help="SSL/TLS version to use (TLSv1, TLSv1_1, TLSv1_2, SSLv23 = negotiate)."),
    cfg.StrOpt("kombu_ssl_keyfile", default="", help="SSL key file."),
    cfg.StrOpt("kombu_ssl_certfile", default="", help="SSL certificate file."),
    cfg.StrOpt("kombu_ssl_ca_certs", default="",
               help="SSL certification authority file (the broker is verified against it)."),
    cfg.FloatOpt("kombu_reconnect_delay", default=1.0,
                 help="Seconds to wait before reconnecting after a connection error."),
    cfg.StrOpt("rabbit_host", default="localhost", help="The RabbitMQ broker address."),
    cfg.IntOpt("rabbit_port", default=5672, help="The RabbitMQ broker port."),
    cfg.ListOpt("rabbit_hosts", default=["$rabbit_host:$rabbit_port"],
                help="RabbitMQ brokers, host:port ([v6addr]:port for IPv6)."),
    cfg.BoolOpt("rabbit_use_ssl", default=False, help="Connect over SSL/TLS."),
    cfg.StrOpt("rabbit_userid", default="guest", help="The RabbitMQ user id."),
    cfg.StrOpt("rabbit_password", default="guest", secret=True,
               help="The RabbitMQ password."),
    cfg.StrOpt("rabbit_virtual_host", default="/", help="The RabbitMQ virtual host."),
    cfg.IntOpt("rabbit_retry_interval", default=1,
               help="Seconds before the first reconnect attempt."),
    cfg.IntOpt("rabbit_retry_backoff", default=2,
               help="Seconds added to the reconnect delay at each failed attempt."),
    cfg.IntOpt("rabbit_max_retries", default=0,
               help="Tries of a send (cast, call, notify) while the broker is unreachable "
                    "before it fails with RPCException (0: until the send's own deadline, "
                    "forever for a cast)."),
    cfg.BoolOpt("rabbit_ha_queues", default=False,
                help="Declare queues with x-ha-policy: all."),
]

qpid_opts = [
    cfg.StrOpt("qpid_hostname", default="localhost", help="Qpid broker hostname."),
    cfg.IntOpt("qpid_port", default=5672, help="Qpid broker port."),
    cfg.ListOpt("qpid_hosts", default=["$qpid_hostname:$qpid_port"],
                help="Qpid brokers, host:port."),
    cfg.StrOpt("qpid_username", default="", help="Username for the Qpid connection."),
    cfg.StrOpt("qpid_password", default="", secret=True,
               help="Password for the Qpid connection."),
    cfg.StrOpt("qpid_sasl_mechanisms", default="",
               help="Space-separated SASL mechanisms to use for authentication."),
    cfg.IntOpt("qpid_heartbeat", default=60, help="Seconds between connection keepalives."),
    cfg.StrOpt("qpid_protocol", default="tcp", help="Transport to use: tcp or ssl."),
    cfg.BoolOpt("qpid_tcp_nodelay", default=True, help="Disable the Nagle algorithm."),
    cfg.IntOpt("qpid_topology_version", default=1,
               help="The qpid topology version (1 or 2)."),
]

zmq_opts = [
    cfg.StrOpt("rpc_zmq_bind_address", default="*",
               help="ZeroMQ bind address: a wildcard (*), an ethernet interface or an IP."),
    cfg.StrOpt("rpc_zmq_matchmaker",
               default="openstack.common.rpc.matchmaker.MatchMakerLocalhost",
               help="MatchMaker driver."),
    cfg.IntOpt("rpc_zmq_port", default=9501, help="ZeroMQ receiver listening port."),
    cfg.IntOpt("rpc_zmq_contexts", default=1, help="Number of ZeroMQ contexts."),
    cfg.IntOpt("rpc_zmq_topic_backlog",
               help="Maximum number of ingress messages to buffer per topic."),
    cfg.StrOpt("rpc_zmq_ipc_dir", default="/var/run/openstack",
               help="Directory for the ipc sockets."),
    cfg.StrOpt("rpc_zmq_host", default=socket.gethostname(), sample_default="localhost",
               help="Name of this node: a hostname, FQDN or IP address."),
]


def register(conf: cfg.ConfigOpts, *groups: Sequence[cfg.Opt]) -> None:
    """Register option lists in ``[DEFAULT]`` of ``conf`` (idempotent)."""
    for options in groups:
        conf.register_opts(options)

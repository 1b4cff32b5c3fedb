"""The ``[oslo_messaging_rabbit]`` options, with oslo.messaging's names and defaults.

A transport URL's query string overrides them per transport (``rabbit://h/?ssl=1``); an
unknown key is an error at load time that lists the valid ones.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import ssl
import sys
from dataclasses import dataclass, fields
from typing import Any

from oslo_config import cfg, types

from legacy_rpc.messaging import _opt_types as _ot

__all__ = ["GROUP", "rabbit_opts", "RabbitOptions", "load_options"]

GROUP = "oslo_messaging_rabbit"

rabbit_opts = [
    _ot.BoolOpt("amqp_durable_queues", default=False,
                help="Topic exchange and topic/notification queues are durable."),
    _ot.BoolOpt("amqp_auto_delete", default=False,
                help="Topic exchange and topic/notification queues are auto-deleted."),
    _ot.IntOpt("rpc_conn_pool_size", default=30, min=1,
               help="Maximum number of pooled connections used for sending."),
    _ot.IntOpt("conn_pool_min_size", default=2, help="Pooled connections kept when idle."),
    _ot.IntOpt("conn_pool_ttl", default=1200, help="Seconds an idle pooled connection lives."),
    _ot.BoolOpt("ssl", default=False, help="Connect over TLS (put port 5671 in the URL)."),
    _ot.StrOpt("ssl_version", default="", help="Minimum TLS version, e.g. TLSv1_2."),
    _ot.StrOpt("ssl_key_file", default="", help="Client private key file."),
    _ot.StrOpt("ssl_cert_file", default="", help="Client certificate file."),
    _ot.StrOpt("ssl_ca_file", default="",
               help="CA bundle used to verify the broker (system CAs when empty)."),
    _ot.BoolOpt("ssl_enforce_hostname_verification", default=True,
                help="Verify that the broker's certificate matches its host name. On by "
                     "default; turning it off allows man-in-the-middle attacks."),
    _ot.FloatOpt("kombu_reconnect_delay", default=1.0, min=0.0, max=4.5,
                 help="Extra seconds to wait after a connection error before reconnecting."),
    _ot.FloatOpt("kombu_reconnect_splay", default=0.0, min=0.0,
                 help="Up to this many random extra seconds before each reconnect, so a "
                      "fleet does not reconnect in lock step."),
    _ot.StrOpt("kombu_compression", default=None,
               help="Compress sent bodies: gzip (zlib data) or bz2."),
    _ot.IntOpt("kombu_missing_consumer_retry_timeout", default=60,
               deprecated_name="kombu_reconnect_timeout",
               help="Seconds a server keeps retrying a reply to a missing reply queue."),
    _ot.FloatOpt("rabbit_unroutable_retry_timeout", default=20.0, min=0.0,
                 help="Seconds a cast or call whose queue does not exist (yet) is published "
                      "again before it fails: a cast with MessageDeliveryFailure, a call "
                      "with MessagingTimeout. This covers servers re-subscribing after a "
                      "broker restart, when the broker would otherwise confirm a message "
                      "and route it nowhere. 0 gives oslo.messaging's behaviour (such a "
                      "cast is silently dropped). Not in oslo.messaging."),
    _ot.StrOpt("kombu_failover_strategy", default="round-robin",
               choices=("round-robin", "shuffle"),
               help="How the next broker host is chosen after a failure."),
    _ot.StrOpt("rabbit_login_method", default="AMQPLAIN",
               choices=("PLAIN", "AMQPLAIN", "EXTERNAL", "RABBIT-CR-DEMO"),
               help="SASL mechanism."),
    # Whole seconds in the file, as oslo.messaging's (so both can share one ConfigOpts);
    # a transport URL's query may give fractions (see _URL_FLOATS).
    _ot.IntOpt("rabbit_retry_interval", default=1, min=1,
               help="Seconds before the first reconnect attempt."),
    _ot.IntOpt("rabbit_retry_backoff", default=2, min=0,
               help="Seconds added to the reconnect delay at each failed attempt."),
    _ot.IntOpt("rabbit_interval_max", default=30, min=1,
               help="Longest delay between reconnect attempts."),
    _ot.BoolOpt("rabbit_ha_queues", default=False,
                help="Declare queues with x-ha-policy: all (RabbitMQ 2.x era)."),
    _ot.BoolOpt("rabbit_quorum_queue", default=False,
                help="Topic and notification queues are durable quorum queues."),
    _ot.BoolOpt("rabbit_transient_quorum_queue", default=False,
                help="Reply and fanout queues are durable quorum queues."),
    _ot.IntOpt("rabbit_quorum_delivery_limit", default=0, help="x-delivery-limit (quorum)."),
    _ot.IntOpt("rabbit_quorum_max_memory_length", default=0,
               help="x-max-in-memory-length (quorum)."),
    _ot.IntOpt("rabbit_quorum_max_memory_bytes", default=0,
               help="x-max-in-memory-bytes (quorum)."),
    _ot.IntOpt("rabbit_transient_queues_ttl", default=1800, min=0,
               help="Seconds an unused reply or fanout queue lives (x-expires); 0: forever."),
    _ot.IntOpt("rabbit_qos_prefetch_count", default=0,
               help="basic.qos prefetch count of listener connections; 0: unlimited."),
    _ot.IntOpt("heartbeat_timeout_threshold", default=60,
               help="AMQP heartbeat timeout in seconds; 0 disables heartbeats."),
    _ot.IntOpt("heartbeat_rate", default=3,
               help="Heartbeat frames sent per heartbeat timeout."),
    _ot.BoolOpt("direct_mandatory_flag", default=True,
                help="Publish replies with the mandatory flag (always on; kept for "
                     "configuration compatibility)."),
    _ot.BoolOpt("enable_cancel_on_failover", default=False,
                help="Consume with x-cancel-on-ha-failover."),
    _ot.BoolOpt("use_queue_manager", default=False,
                help="Deterministic reply/fanout queue names (not supported yet)."),
    _ot.StrOpt("hostname", default=socket.gethostname(), sample_default="<hostname>",
               help="Host name used in connection names."),
    _ot.StrOpt("processname", default=os.path.basename(sys.argv[0] or "python"),
               sample_default="<process name>", help="Process name used in connection names."),
    _ot.BoolOpt("rabbit_stream_fanout", default=False,
                help="One stream queue per fanout topic (not supported yet)."),
]

_BY_NAME = {opt.dest: opt for opt in rabbit_opts}
_URL_FLOATS = {name: types.Float(min=0.0) for name in
               ("rabbit_retry_interval", "rabbit_retry_backoff", "rabbit_interval_max")}
"""Reconnect delays a transport URL may give in fractions of a second (tests, tools)."""
_COMPRESSION_NAMES: dict[str, str | None] = {"": None, "gzip": "gzip", "zlib": "gzip",
                                             "bz2": "bz2", "bzip2": "bz2", "bzip": "bz2"}


@dataclass(frozen=True)
class RabbitOptions:
    """The effective options of one transport (configuration plus URL overrides)."""

    amqp_durable_queues: bool
    amqp_auto_delete: bool
    rpc_conn_pool_size: int
    conn_pool_min_size: int
    conn_pool_ttl: int
    ssl: bool
    ssl_version: str
    ssl_key_file: str
    ssl_cert_file: str
    ssl_ca_file: str
    ssl_enforce_hostname_verification: bool
    kombu_reconnect_delay: float
    kombu_reconnect_splay: float
    kombu_compression: str | None
    kombu_missing_consumer_retry_timeout: int
    rabbit_unroutable_retry_timeout: float
    kombu_failover_strategy: str
    rabbit_login_method: str
    rabbit_retry_interval: float
    rabbit_retry_backoff: float
    rabbit_interval_max: float
    rabbit_ha_queues: bool
    rabbit_quorum_queue: bool
    rabbit_transient_quorum_queue: bool
    rabbit_quorum_delivery_limit: int
    rabbit_quorum_max_memory_length: int
    rabbit_quorum_max_memory_bytes: int
    rabbit_transient_queues_ttl: int
    rabbit_qos_prefetch_count: int
    heartbeat_timeout_threshold: int
    heartbeat_rate: int
    direct_mandatory_flag: bool
    enable_cancel_on_failover: bool
    use_queue_manager: bool
    hostname: str
    processname: str
    rabbit_stream_fanout: bool


def _convert(name: str, value: str) -> Any:
    opt = _BY_NAME[name]
    if value == "" and isinstance(opt.type, types.String):
        return ""
    convert = _URL_FLOATS.get(name, opt.type)
    try:
        return convert(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"Invalid value {value!r} for transport URL option {name!r}: {exc}"
                         ) from None


def load_options(conf: cfg.ConfigOpts, query: dict[str, str]) -> RabbitOptions:
    """Read ``[oslo_messaging_rabbit]`` and apply the URL's query overrides."""
    conf.register_opts(rabbit_opts, group=GROUP)
    group = conf[GROUP]
    values = {f.name: getattr(group, f.name) for f in fields(RabbitOptions)}
    unknown = sorted(set(query) - set(values))
    if unknown:
        raise ValueError(f"Unknown transport URL option(s) {', '.join(unknown)}; valid options "
                         f"are the [{GROUP}] options: {', '.join(sorted(values))}")
    for key, value in query.items():
        values[key] = _convert(key, value)
    options = RabbitOptions(**values)
    if options.rabbit_ha_queues and (options.rabbit_quorum_queue
                                     or options.rabbit_transient_quorum_queue):
        raise ValueError("rabbit_ha_queues cannot be combined with quorum queues")
    for unsupported in ("use_queue_manager", "rabbit_stream_fanout"):
        if getattr(options, unsupported):
            raise ValueError(f"{unsupported} is not supported by this driver yet")
    if options.ssl_version and not hasattr(ssl.TLSVersion, options.ssl_version):
        raise ValueError(f"ssl_version must be one of TLSv1_2, TLSv1_3, got "
                         f"{options.ssl_version!r}")
    # oslo.messaging documents "bz2", but with kombu only "bzip2" works: accept kombu's names.
    compression = _COMPRESSION_NAMES.get(options.kombu_compression or "", "invalid")
    if compression == "invalid":
        raise ValueError(f"kombu_compression must be gzip or bz2 (or kombu's names zlib, "
                         f"bzip2), got {options.kombu_compression!r}")
    options = dataclasses.replace(options, kombu_compression=compression)
    return options

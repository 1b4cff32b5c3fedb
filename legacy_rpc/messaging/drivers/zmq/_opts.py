"""The zmq driver's options: the legacy ``rpc_zmq_*`` and matchmaker options, plus CurveZMQ.

The legacy names and groups are kept (``[DEFAULT] rpc_zmq_*``, ``matchmaker_heartbeat_*``,
``[matchmaker_redis]``, ``[matchmaker_ring]``); the security options are new, in
``[oslo_messaging_zmq]``. A transport URL's query overrides any of them per transport with
the short names of :data:`URL_KEYS` (``zmq://127.0.0.1/ns?matchmaker=redis&bind_address=...``).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, fields
from typing import Any

from oslo_config import cfg

__all__ = ["ZmqOptions", "load_options", "list_opts", "URL_KEYS"]

# The same definitions as the legacy layer's, so that either may register them first.
zmq_opts: list[cfg.Opt] = [
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

matchmaker_opts: list[cfg.Opt] = [
    cfg.IntOpt("matchmaker_heartbeat_freq", default=300,
               help="Heartbeat frequency (seconds between registration refreshes)."),
    cfg.IntOpt("matchmaker_heartbeat_ttl", default=600,
               help="Heartbeat time-to-live (a registration not refreshed for this long "
                    "is gone)."),
]

redis_opts: list[cfg.Opt] = [
    cfg.StrOpt("host", default="127.0.0.1", help="Host to locate redis."),
    cfg.IntOpt("port", default=6379, help="Use this port to connect to redis host."),
    cfg.StrOpt("password", secret=True, help="Password for Redis server (optional)."),
]

ring_opts: list[cfg.Opt] = [
    cfg.StrOpt("ringfile", default="/etc/oslo/matchmaker_ring.json",
               deprecated_name="matchmaker_ringfile", deprecated_group="DEFAULT",
               help="Matchmaker ring file (JSON)."),
]

security_opts: list[cfg.Opt] = [
    cfg.StrOpt("curve_public_key", default="",
               help="This node's CurveZMQ public key (Z85, 40 characters; write a '$' in a "
                    "key as '$$' in the configuration file). With curve_secret_key it turns "
                    "CurveZMQ on: every connection is encrypted and only peers holding the "
                    "keys can talk."),
    cfg.StrOpt("curve_secret_key", default="", secret=True,
               help="This node's CurveZMQ secret key (Z85)."),
    cfg.StrOpt("curve_server_key", default="",
               help="The servers' CurveZMQ public key (default: curve_public_key, a fleet "
                    "sharing one key pair)."),
    cfg.ListOpt("curve_allowed_clients", default=[],
                help="Client public keys a server accepts (default: curve_public_key only)."),
    cfg.IntOpt("send_queue_limit", default=1000, min=1,
               help="Messages queued per peer (ZeroMQ high-water mark) before sends to a "
                    "slow or absent peer are dropped (casts) or time out (calls)."),
    cfg.FloatOpt("pending_ttl", default=30.0, min=0.0,
                 help="Seconds a cast or notification to a topic without any live "
                      "receiver is kept by the sender, waiting for one to register."),
]

SECURITY_GROUP = "oslo_messaging_zmq"

URL_KEYS = {
    "bind_address": ("DEFAULT", "rpc_zmq_bind_address"),
    "matchmaker": ("DEFAULT", "rpc_zmq_matchmaker"),
    "port": ("DEFAULT", "rpc_zmq_port"),
    "topic_backlog": ("DEFAULT", "rpc_zmq_topic_backlog"),
    "heartbeat_freq": ("DEFAULT", "matchmaker_heartbeat_freq"),
    "heartbeat_ttl": ("DEFAULT", "matchmaker_heartbeat_ttl"),
    "redis_host": ("matchmaker_redis", "host"),
    "redis_port": ("matchmaker_redis", "port"),
    "redis_password": ("matchmaker_redis", "password"),
    "ringfile": ("matchmaker_ring", "ringfile"),
    "curve_public_key": (SECURITY_GROUP, "curve_public_key"),
    "curve_secret_key": (SECURITY_GROUP, "curve_secret_key"),
    "curve_server_key": (SECURITY_GROUP, "curve_server_key"),
    "curve_allowed_clients": (SECURITY_GROUP, "curve_allowed_clients"),
    "send_queue_limit": (SECURITY_GROUP, "send_queue_limit"),
    "pending_ttl": (SECURITY_GROUP, "pending_ttl"),
}
"""URL query key -> (group, option)."""

_SECRET_KEYS = {"redis_password", "curve_secret_key"}


@dataclass(frozen=True)
class ZmqOptions:
    """The effective options of one transport (configuration plus URL overrides)."""

    bind_address: str
    matchmaker: str
    port: int
    topic_backlog: int | None
    heartbeat_freq: float
    heartbeat_ttl: float
    redis_host: str
    redis_port: int
    redis_password: str | None
    ringfile: str
    curve_public_key: str
    curve_secret_key: str
    curve_server_key: str
    curve_allowed_clients: list[str]
    send_queue_limit: int
    pending_ttl: float
    host: str
    namespace: str

    @property
    def curve(self) -> bool:
        return bool(self.curve_public_key and self.curve_secret_key)

    def __repr__(self) -> str:  # secrets never reach a log line
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in _SECRET_KEYS:
            if shown[key]:
                shown[key] = "***"
        return f"ZmqOptions({shown})"


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(zmq_opts)
    conf.register_opts(matchmaker_opts)
    conf.register_opts(redis_opts, group="matchmaker_redis")
    conf.register_opts(ring_opts, group="matchmaker_ring")
    conf.register_opts(security_opts, group=SECURITY_GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [("DEFAULT", zmq_opts + matchmaker_opts), ("matchmaker_redis", redis_opts),
            ("matchmaker_ring", ring_opts), (SECURITY_GROUP, security_opts)]


def _opt(group: str, name: str) -> cfg.Opt:
    for group_name, opts in list_opts():
        if group_name == group:
            for opt in opts:
                if opt.dest == name:
                    return opt
    raise KeyError(name)


def _convert(key: str, value: str) -> Any:
    opt = _opt(*URL_KEYS[key])
    try:
        return opt.type(value)
    except (ValueError, TypeError) as exc:
        shown = "***" if key in _SECRET_KEYS else repr(value)
        raise ValueError(f"Invalid value {shown} for transport URL option {key!r}: "
                         f"{exc}") from None


def load_options(conf: cfg.ConfigOpts, query: dict[str, str], host: str | None,
                 namespace: str | None) -> ZmqOptions:
    """Read the options, apply the URL's query; ``host`` (the URL's) overrides
    ``rpc_zmq_host``; ``namespace`` (the URL's virtual host) scopes the registrations."""
    register(conf)
    unknown = sorted(set(query) - set(URL_KEYS))
    if unknown:
        raise ValueError(f"Unknown transport URL option(s) {', '.join(unknown)} for zmq; "
                         f"valid options are: {', '.join(sorted(URL_KEYS))}")
    values: dict[str, Any] = {}
    for key, (group, name) in URL_KEYS.items():
        values[key] = (_convert(key, query[key]) if key in query else
                       getattr(conf if group == "DEFAULT" else conf[group], name))
    if values["heartbeat_freq"] <= 0 or values["heartbeat_ttl"] <= values["heartbeat_freq"]:
        raise ValueError("matchmaker_heartbeat_ttl must be greater than "
                         "matchmaker_heartbeat_freq, and both positive")
    if values["topic_backlog"] is not None and values["topic_backlog"] < 1:
        raise ValueError("rpc_zmq_topic_backlog must be at least 1")
    values["curve_allowed_clients"] = list(values["curve_allowed_clients"] or [])
    return ZmqOptions(**values, host=host or conf.rpc_zmq_host,
                      namespace=(namespace or "").strip("/") or "legacy-rpc")

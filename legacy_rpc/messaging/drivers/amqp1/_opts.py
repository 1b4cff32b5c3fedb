"""The ``[oslo_messaging_amqp1]`` options (oslo.messaging's names where it has them).

A transport URL's query overrides them per transport (``amqp1://h/?ssl=1``); an unknown
key is an error that lists the valid ones.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from oslo_config import cfg

__all__ = ["GROUP", "amqp1_opts", "Amqp1Options", "load_options"]

GROUP = "oslo_messaging_amqp1"

amqp1_opts = [
    cfg.BoolOpt("ssl", default=False, help="Connect over TLS (put port 5671 in the URL)."),
    cfg.StrOpt("ssl_ca_file", default="",
               help="CA bundle used to verify the broker (system CAs when empty)."),
    cfg.StrOpt("ssl_cert_file", default="", help="Client certificate file."),
    cfg.StrOpt("ssl_key_file", default="", help="Client private key file."),
    cfg.StrOpt("ssl_key_password", default="", secret=True,
               help="Password of the client private key."),
    cfg.BoolOpt("ssl_verify_hostname", default=True,
                help="Verify that the broker's certificate matches its host name. On by "
                     "default; turning it off allows man-in-the-middle attacks."),
    cfg.StrOpt("sasl_mechanisms", default="",
               help="Space-separated SASL mechanisms to allow (empty: what the broker "
                    "offers, e.g. PLAIN or ANONYMOUS)."),
    cfg.IntOpt("idle_timeout", default=60, min=0,
               help="AMQP 1.0 idle time-out in seconds (heartbeats); 0 disables it."),
    cfg.FloatOpt("connection_retry_interval", default=1.0, min=0.0,
                 help="Seconds before the first reconnect attempt."),
    cfg.FloatOpt("connection_retry_backoff", default=2.0, min=0.0,
                 help="Seconds added to the reconnect delay at each failed attempt."),
    cfg.FloatOpt("connection_retry_interval_max", default=30.0, min=0.0,
                 help="Longest delay between reconnect attempts."),
    cfg.IntOpt("rpc_server_credit", default=100, min=1,
               help="Link credit (prefetch) of an RPC server's links."),
    cfg.IntOpt("notify_server_credit", default=100, min=1,
               help="Link credit (prefetch) of a notification listener's links."),
    cfg.IntOpt("reply_link_credit", default=200, min=1,
               help="Link credit of the reply link."),
]

_BY_NAME = {opt.dest: opt for opt in amqp1_opts}


@dataclass(frozen=True)
class Amqp1Options:
    """The effective options of one transport (configuration plus URL overrides)."""

    ssl: bool
    ssl_ca_file: str
    ssl_cert_file: str
    ssl_key_file: str
    ssl_key_password: str
    ssl_verify_hostname: bool
    sasl_mechanisms: str
    idle_timeout: int
    connection_retry_interval: float
    connection_retry_backoff: float
    connection_retry_interval_max: float
    rpc_server_credit: int
    notify_server_credit: int
    reply_link_credit: int

    def __repr__(self) -> str:  # the key password never reaches a log line
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        if shown["ssl_key_password"]:
            shown["ssl_key_password"] = "***"
        return f"Amqp1Options({shown})"


def _convert(name: str, value: str) -> Any:
    opt = _BY_NAME[name]
    try:
        return opt.type(value)
    except (ValueError, TypeError) as exc:
        shown = "***" if opt.secret else repr(value)
        raise ValueError(f"Invalid value {shown} for transport URL option {name!r}: "
                         f"{exc}") from None


def load_options(conf: cfg.ConfigOpts, query: dict[str, str]) -> Amqp1Options:
    """Read ``[oslo_messaging_amqp1]`` and apply the URL's query overrides."""
    conf.register_opts(amqp1_opts, group=GROUP)
    group = conf[GROUP]
    values = {f.name: getattr(group, f.name) for f in fields(Amqp1Options)}
    aliases = {"ssl_ca_certs": "ssl_ca_file", "ssl_certfile": "ssl_cert_file",
               "ssl_keyfile": "ssl_key_file"}
    query = {aliases.get(k, k): v for k, v in query.items()}
    unknown = sorted(set(query) - set(values))
    if unknown:
        raise ValueError(f"Unknown transport URL option(s) {', '.join(unknown)}; valid options "
                         f"are the [{GROUP}] options: {', '.join(sorted(values))}")
    for key, value in query.items():
        values[key] = _convert(key, value)
    return Amqp1Options(**values)

"""The one place where the legacy options become a transport URL.

Rules, in order:

1. ``[DEFAULT] transport_url``, when it was set (config file, command line, environment or
   ``set_override``), wins over every legacy option, except one: ``rabbit_use_ssl = True``
   with a ``rabbit://`` URL whose query does not say ``ssl`` is carried into the query as
   ``ssl=true``, with the ``kombu_ssl_*`` options the query does not set, and a warning is
   logged (dropping it would silently connect without TLS).
2. Otherwise the driver is the one ``rpc_backend`` names, resolved by the core's driver
   registry (``nova.openstack.common.rpc.impl_kombu`` with any project prefix,
   ``nova.rpc.impl_kombu``, ``impl_qpid``, a bare driver name ...).
3. The URL of that driver is built from its legacy options: ``rabbit_hosts`` (or
   ``rabbit_host``/``rabbit_port``), ``rabbit_userid``, ``rabbit_password``,
   ``rabbit_virtual_host``; ``fake_rabbit`` selects ``fake://``; ``qpid_*`` for ``amqp1``;
   ``rpc_zmq_host``/``rpc_zmq_port`` for ``zmq``. Legacy options that change how queues and
   connections behave (``rabbit_ha_queues``, ``amqp_durable_queues``, ``rabbit_use_ssl``,
   ``kombu_ssl_*``, ...) go into the URL's query, and only when they differ from their
   legacy default, so that ``[oslo_messaging_rabbit]`` settings apply otherwise.
4. ``server_params`` (``cast_to_server``) replace host, port, user, password and virtual
   host in every broker entry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from oslo_config import cfg

from legacy_rpc.messaging import opts as core_opts
from legacy_rpc.messaging.drivers import registry
from legacy_rpc.messaging.transport import TransportHost, TransportURL
from legacy_rpc.rpc import _opts

__all__ = ["transport_url", "backend_driver", "InvalidLegacyOption", "legacy_ssl_query"]

LOG = logging.getLogger(__name__)

_OWN_PACKAGE = "legacy_rpc.rpc."
_LEGACY_PACKAGE = "openstack.common.rpc."

# kombu_ssl_version values of the legacy API -> the core's ssl_version ("" negotiates).
_SSL_VERSIONS = {"tlsv1": "TLSv1", "tlsv1_1": "TLSv1_1", "tlsv1_2": "TLSv1_2",
                 "tlsv1_3": "TLSv1_3", "sslv23": "", "": ""}
_INSECURE_SSL = ("sslv2", "sslv3")
_warned: set[str] = set()

# Legacy [DEFAULT] option -> [oslo_messaging_rabbit] option set through the URL query.
_RABBIT_QUERY = {
    "rabbit_use_ssl": "ssl",
    "kombu_ssl_keyfile": "ssl_key_file",
    "kombu_ssl_certfile": "ssl_cert_file",
    "kombu_ssl_ca_certs": "ssl_ca_file",
    "kombu_reconnect_delay": "kombu_reconnect_delay",
    "rabbit_retry_interval": "rabbit_retry_interval",
    "rabbit_retry_backoff": "rabbit_retry_backoff",
    "rabbit_ha_queues": "rabbit_ha_queues",
    "amqp_durable_queues": "amqp_durable_queues",
    "amqp_auto_delete": "amqp_auto_delete",
    "rpc_conn_pool_size": "rpc_conn_pool_size",
}


class InvalidLegacyOption(RuntimeError):
    """A legacy option has a value the backend cannot use (e.g. ``kombu_ssl_version``).

    A ``RuntimeError``, which is what the original raised for a bad SSL version.
    """


def _explicitly_set(conf: cfg.ConfigOpts, name: str) -> bool:
    """Whether ``name`` was set by the user or by code, not left at a default."""
    try:
        info = conf.get_location(name)
    except (cfg.NoSuchOptError, AttributeError):
        return False
    if info is None or info.location in (cfg.Locations.opt_default, cfg.Locations.set_default):
        return False
    if info.location is cfg.Locations.set_override:
        # oslo.config keeps reporting set_override after clear_override: look for the
        # override itself (a test that overrode transport_url must not leak into others).
        try:
            return "override" in conf._get_opt_info(name)
        except Exception:
            return True
    return True


def backend_driver(conf: cfg.ConfigOpts) -> str:
    """The core driver name that ``rpc_backend`` stands for (not checked for existence)."""
    _opts.register(conf, _opts.rpc_opts)
    name = str(conf.rpc_backend).strip()
    if name.startswith(_OWN_PACKAGE):  # our own legacy modules, legacy_rpc.rpc.impl_*
        name = _LEGACY_PACKAGE + name[len(_OWN_PACKAGE):]
    return registry.resolve_driver_name(name)


def _split_host_port(entry: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address."""
    entry = entry.strip()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:] else default_port
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port) if port else default_port
    return entry, default_port


def _hosts(entries: list[str], default_port: int, username: str | None,
           password: str | None) -> list[TransportHost]:
    hosts: list[TransportHost] = []
    for entry in entries:
        hostname, port = _split_host_port(entry, default_port)
        host = TransportHost(hostname=hostname, port=port, username=username,
                             password=password)
        if host not in hosts:
            hosts.append(host)
    return hosts


def _apply_server_params(url: TransportURL, server_params: Mapping[str, Any]) -> TransportURL:
    """Replace host, port, user, password and virtual host of every broker entry.

    Keys are those of the legacy ``server_params``: ``hostname``, ``port``, ``username``
    (or ``userid``), ``password``, ``virtual_host``.
    """
    params = dict(server_params)
    if "userid" in params and "username" not in params:
        params["username"] = params["userid"]
    hosts: list[TransportHost] = []
    for old in url.hosts or [TransportHost()]:
        port = params.get("port", old.port)
        host = TransportHost(hostname=params.get("hostname", old.hostname),
                             port=int(port) if port else None,
                             username=params.get("username", old.username),
                             password=params.get("password", old.password))
        if host not in hosts:
            hosts.append(host)
    return TransportURL(url.conf, transport=url.transport,
                        virtual_host=params.get("virtual_host", url.virtual_host),
                        hosts=hosts, query=url.query)


def _ssl_version(value: str) -> str:
    key = value.strip().lower()
    if key in _INSECURE_SSL:
        raise InvalidLegacyOption(f"kombu_ssl_version {value!r} is insecure and not supported; "
                                  "use TLSv1_2 or leave it empty")
    if key not in _SSL_VERSIONS:
        raise InvalidLegacyOption(f"Invalid SSL version: {value!r} (valid: TLSv1, TLSv1_1, "
                                  "TLSv1_2, TLSv1_3, SSLv23)")
    return _SSL_VERSIONS[key]


def _query_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _rabbit_query(conf: cfg.ConfigOpts) -> dict[str, str]:
    defaults = {opt.dest: opt.default for opt in
                (*_opts.kombu_opts, *_opts.amqp_opts, *_opts.rpc_opts)}
    query = {new: _query_value(getattr(conf, old))
             for old, new in _RABBIT_QUERY.items() if getattr(conf, old) != defaults[old]}
    version = _ssl_version(conf.kombu_ssl_version)
    if version:
        query["ssl_version"] = version
    return query


def _rabbit_url(conf: cfg.ConfigOpts) -> TransportURL:
    _opts.register(conf, _opts.kombu_opts, _opts.amqp_opts)
    if conf.fake_rabbit:
        return TransportURL(conf, transport="fake")
    hosts = _hosts(list(conf.rabbit_hosts), conf.rabbit_port, conf.rabbit_userid,
                   conf.rabbit_password)
    return TransportURL(conf, transport="rabbit", virtual_host=conf.rabbit_virtual_host,
                        hosts=hosts, query=_rabbit_query(conf))


def _qpid_query(conf: cfg.ConfigOpts) -> dict[str, str]:
    """The ``amqp1`` URL query for the ``qpid_*`` options that differ from their defaults.

    ``qpid_protocol = ssl`` becomes ``ssl=true``; ``qpid_heartbeat`` the AMQP 1.0 idle
    time-out; ``qpid_sasl_mechanisms`` the allowed SASL mechanisms. ``qpid_tcp_nodelay``
    (proton always disables Nagle) and ``qpid_topology_version`` (qpid-python's AMQP 0-10
    exchange names; AMQP 1.0 has addresses instead) have no effect, but must be valid.
    """
    protocol = str(conf.qpid_protocol).strip().lower()
    if protocol not in ("tcp", "ssl"):
        raise InvalidLegacyOption(f"qpid_protocol must be tcp or ssl, got {conf.qpid_protocol!r}")
    if conf.qpid_topology_version not in (1, 2):
        raise InvalidLegacyOption(f"qpid_topology_version must be 1 or 2, got "
                                  f"{conf.qpid_topology_version!r}")
    if conf.qpid_heartbeat < 0:
        raise InvalidLegacyOption(f"qpid_heartbeat must be 0 or more, got "
                                  f"{conf.qpid_heartbeat!r}")
    query: dict[str, str] = {}
    if protocol == "ssl":
        query["ssl"] = "true"
    if conf.qpid_heartbeat != 60:
        query["idle_timeout"] = str(conf.qpid_heartbeat)
    mechanisms = " ".join(str(conf.qpid_sasl_mechanisms).split())
    if mechanisms:
        query["sasl_mechanisms"] = mechanisms
    return query


def _qpid_url(conf: cfg.ConfigOpts) -> TransportURL:
    _opts.register(conf, _opts.qpid_opts)
    hosts = _hosts(list(conf.qpid_hosts), conf.qpid_port, conf.qpid_username or None,
                   conf.qpid_password or None)
    return TransportURL(conf, transport="amqp1", hosts=hosts, query=_qpid_query(conf))


def _zmq_url(conf: cfg.ConfigOpts) -> TransportURL:
    _opts.register(conf, _opts.zmq_opts)
    return TransportURL(conf, transport="zmq",
                        hosts=[TransportHost(conf.rpc_zmq_host, conf.rpc_zmq_port)])


def _backend_url(conf: cfg.ConfigOpts, driver: str) -> TransportURL:
    if driver in ("rabbit", "kombu"):
        return _rabbit_url(conf)
    if driver == "amqp1":
        return _qpid_url(conf)
    if driver == "zmq":
        return _zmq_url(conf)
    return TransportURL(conf, transport=driver)


def legacy_ssl_query(conf: cfg.ConfigOpts, url: TransportURL) -> tuple[dict[str, str], str]:
    """What ``rabbit_use_ssl = True`` adds to the query of a ``transport_url`` URL.

    Returns ``(query, warning)``: the parameters to add (``ssl`` and the ``kombu_ssl_*``
    options the URL's query does not set) and the message explaining it; ``({}, "")`` when
    ``rabbit_use_ssl`` is off or the URL is not a rabbit one.
    """
    if (url.transport or "").partition("+")[0] not in ("rabbit", "kombu"):
        return {}, ""
    _opts.register(conf, _opts.kombu_opts, _opts.amqp_opts)
    if not conf.rabbit_use_ssl:
        return {}, ""
    if "ssl" in url.query:
        return {}, (f"rabbit_use_ssl = True is ignored: transport_url says "
                    f"ssl={url.query['ssl']}")
    legacy = {name: value for name, value in _rabbit_query(conf).items()
              if name.startswith("ssl") and name not in url.query}
    legacy["ssl"] = "true"
    added = ", ".join(f"{name}={value}" for name, value in legacy.items())
    return legacy, ("transport_url is set but does not say ssl; the legacy rabbit_use_ssl = "
                    f"True is kept (TLS), as {added} in the URL's query; set ssl = true (and "
                    "the ssl_* options) in [oslo_messaging_rabbit] instead of rabbit_use_ssl "
                    "and kombu_ssl_*")


def transport_url(conf: cfg.ConfigOpts, driver: str | None = None,
                  server_params: Mapping[str, Any] | None = None, *,
                  warn: bool = True) -> TransportURL:
    """The URL of the transport the legacy API uses for ``driver`` (default: ``rpc_backend``).

    ``warn=False`` does not log the warning of :func:`legacy_ssl_query`.

    :raises InvalidLegacyOption: a legacy option has an unusable value.
    """
    core_opts.register_transport_opts(conf)
    _opts.register(conf, _opts.rpc_opts)
    if _explicitly_set(conf, "transport_url"):
        url = TransportURL.parse(conf, conf.transport_url)
        query, warning = legacy_ssl_query(conf, url)
        if query:
            url = TransportURL(conf, transport=url.transport, virtual_host=url.virtual_host,
                               hosts=url.hosts, query={**url.query, **query})
        if warning and warn and warning not in _warned:
            _warned.add(warning)  # once: the URL is computed for every call
            LOG.warning("%s", warning)
    else:
        url = _backend_url(conf, driver or backend_driver(conf))
    return _apply_server_params(url, server_params) if server_params else url

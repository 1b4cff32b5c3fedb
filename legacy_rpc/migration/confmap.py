"""A legacy config file as a transport URL and new-style options.

The URL comes from :func:`legacy_rpc.rpc._transport_url.transport_url`, the one place that
turns legacy options into a URL; its query (behaviour options) is shown as the
``[oslo_messaging_rabbit]`` options it stands for, which oslo.messaging reads too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oslo_config import cfg

from legacy_rpc.messaging import _mask
from legacy_rpc.messaging.drivers import registry
from legacy_rpc.messaging.transport import TransportURL
from legacy_rpc.migration import confscan
from legacy_rpc.migration.sources import read_source
from legacy_rpc.notifier import _drivers as notifier_drivers
from legacy_rpc.rpc import _opts, _transport_url

__all__ = ["ConfigError", "Mapping", "map_config", "NO_EQUIVALENT"]

RABBIT_GROUP = "oslo_messaging_rabbit"
NOTIFY_GROUP = "oslo_messaging_notifications"

_IN_URL = frozenset({
    "rpc_backend", "fake_rabbit", "rabbit_host", "rabbit_port", "rabbit_hosts",
    "rabbit_userid", "rabbit_password", "rabbit_virtual_host", "qpid_hostname", "qpid_port",
    "qpid_hosts", "qpid_username", "qpid_password", "rpc_zmq_host", "rpc_zmq_port",
    # Behaviour options: in the URL's query, shown as [oslo_messaging_rabbit] options.
    "rabbit_use_ssl", "kombu_ssl_version", "kombu_ssl_keyfile", "kombu_ssl_certfile",
    "kombu_ssl_ca_certs", "kombu_reconnect_delay", "rabbit_retry_interval",
    "rabbit_retry_backoff", "rabbit_ha_queues", "amqp_durable_queues",
    "rabbit_durable_queues", "amqp_auto_delete", "rpc_conn_pool_size",
})
_SAME_NAME = frozenset({"control_exchange", "rpc_response_timeout", "transport_url"})

NO_EQUIVALENT = {
    "allowed_rpc_exception_modules": "no option: pass allowed_remote_exmods=[...] to "
                                     "get_rpc_transport() ('exceptions' is not needed)",
    "default_notification_level": "no option: the Notifier method you call (info, warn, "
                                  "error, ...) is the level",
    "default_publisher_id": "no option: Notifier(transport, publisher_id=...)",
    "publish_errors": "no option: add a legacy_rpc.messaging.LoggingErrorNotificationHandler "
                      "to the root logger",
    "rabbit_max_retries": "no effect: each send retries up to its own retry= argument",
    "rpc_cast_timeout": "no effect (zmq only)",
    "amqp_rpc_single_reply_queue": "no effect (removed in Havana)",
}
"""Legacy options with no new-style option, and what to do instead."""

_NO_EFFECT_PREFIXES = ("qpid_", "rpc_zmq_", "matchmaker_")

_NOTIFIER_DRIVERS = {"rpc_notifier": "messaging", "rpc_notifier2": "messagingv2",
                     "log_notifier": "log", "no_op_notifier": "noop", "test_notifier": "test"}


class ConfigError(Exception):
    """The file cannot be read or parsed, or an option has an unusable value."""


@dataclass
class Mapping:
    """The new-style equivalent of one legacy config file.

    ``options`` is ``{group: {name: value}}`` with ``transport_url`` first in
    ``DEFAULT``; ``notes`` are ``(line, option, text)`` for legacy options without a
    new-style option; ``unknown`` are ``(line, section, option, suggestion)``.
    """

    path: str
    options: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[tuple[int, str, str]] = field(default_factory=list)
    unknown: list[tuple[int, str, str, str | None]] = field(default_factory=list)
    unrelated: int = 0

    def set(self, group: str, name: str, value: str) -> None:
        self.options.setdefault(group, {})[name] = value

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.path,
                "transport_url": self.options.get("DEFAULT", {}).get("transport_url"),
                "options": self.options,
                "no_equivalent": [{"line": line, "option": name, "note": note}
                                  for line, name, note in self.notes],
                "unknown_options": [{"line": line, "section": section, "option": name,
                                     "suggestion": close}
                                    for line, section, name, close in self.unknown],
                "unrelated_options": self.unrelated}

    def as_ini(self) -> str:
        """The options as an ini snippet, notes as comments."""
        out: list[str] = []
        for group, values in self.options.items():
            out.append(f"[{group}]")
            out.extend(f"{name} = {value}" for name, value in values.items())
            out.append("")
        if self.notes:
            out.append("# Legacy options without a new-style option (remove them):")
            out.extend(f"#   {name} (line {line}): {note}" for line, name, note in self.notes)
        return "\n".join(out).rstrip("\n") + "\n"


def _load(path: Path) -> tuple[cfg.ConfigOpts, list[confscan.Entry]]:
    text, _ = read_source(path, python=False)  # SourceError for an unreadable file
    try:
        entries = confscan.parse_ini(text)
    except confscan.ConfigSyntaxError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    conf = cfg.ConfigOpts()
    _opts.register(conf, _opts.rpc_opts, _opts.amqp_opts, _opts.kombu_opts,
                   _opts.qpid_opts, _opts.zmq_opts)
    try:
        conf(["--config-file", str(path)], project="legacy-rpc-config",
             default_config_files=[], default_config_dirs=[], use_env=False)
    except cfg.Error as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return conf, entries


def _check_backend(conf: cfg.ConfigOpts) -> None:
    driver = _transport_url.backend_driver(conf)
    if driver in registry.available_drivers() or driver in registry.DRIVER_EXTRAS:
        return
    try:
        registry.load_driver_class(driver)
    except registry.DriverLoadFailure as exc:
        raise ConfigError(f"rpc_backend = {conf.rpc_backend}: {exc.ex}") from exc


def _url(conf: cfg.ConfigOpts, show_secrets: bool, mapping: Mapping) -> None:
    _check_backend(conf)
    try:
        url = _transport_url.transport_url(conf)
    except (_transport_url.InvalidLegacyOption, ValueError, cfg.Error) as exc:
        raise ConfigError(f"{mapping.path}: {exc}") from exc
    plain = TransportURL(conf, transport=url.transport, virtual_host=url.virtual_host,
                         hosts=url.hosts)
    mapping.set("DEFAULT", "transport_url", plain.as_uri(include_password=show_secrets))
    for name, value in url.query.items():
        mapping.set(RABBIT_GROUP, name, value)


def _notifier_driver(value: str) -> str:
    module = notifier_drivers.module_name(value)
    return _NOTIFIER_DRIVERS.get(module.rpartition(".")[2], value) \
        if module.startswith("legacy_rpc.notifier.") else value


def _map_entry(entry: confscan.Entry, mapping: Mapping, show_secrets: bool) -> None:
    kind = confscan.classify(entry)
    name, section = entry.key, entry.section
    if kind == "other":
        mapping.unrelated += 1
    elif kind == "unknown":
        mapping.unknown.append((entry.line, section, name, confscan.suggestion(entry)))
    elif kind == "new":
        if name in _SAME_NAME and section == "DEFAULT":
            if name != "transport_url":
                mapping.set("DEFAULT", name, entry.value)
        else:
            value = entry.value if show_secrets else _mask.mask_url(entry.value)
            mapping.set(section, name, value)
    elif name in _IN_URL:
        pass
    elif name == "rpc_thread_pool_size":
        mapping.set("DEFAULT", "executor_thread_pool_size", entry.value)
    elif name in ("notification_driver", "list_notifier_drivers"):
        drivers = mapping.options.get(NOTIFY_GROUP, {}).get("driver")
        new = _notifier_driver(entry.value)
        mapping.set(NOTIFY_GROUP, "driver", f"{drivers},{new}" if drivers else new)
    elif name in ("notification_topics", "topics"):  # [DEFAULT] or [rpc_notifier2]
        mapping.set(NOTIFY_GROUP, "topics", entry.value)
    elif name in NO_EQUIVALENT:
        mapping.notes.append((entry.line, name, NO_EQUIVALENT[name]))
    elif name.startswith(_NO_EFFECT_PREFIXES) or section.startswith("matchmaker"):
        mapping.notes.append((entry.line, name, "no effect: no driver uses it"))


def map_config(path: Path, show_secrets: bool = False) -> Mapping:
    """The new-style equivalent of the legacy config file ``path``.

    :raises SourceError: unreadable. :raises ConfigError: not an ini file, a value of the
        wrong type, an unknown ``rpc_backend`` or an unusable legacy value.
    """
    conf, entries = _load(path)
    mapping = Mapping(str(path))
    try:
        _url(conf, show_secrets, mapping)
        for entry in entries:
            _map_entry(entry, mapping, show_secrets)
    except (ValueError, cfg.Error) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    finally:
        conf.reset()
    return mapping

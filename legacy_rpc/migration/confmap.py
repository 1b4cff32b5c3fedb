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
from legacy_rpc.notifier import _driver_names as notifier_drivers
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
    # amqp1 (impl_qpid): in the URL's query, shown as [oslo_messaging_amqp1] options.
    "qpid_protocol", "qpid_heartbeat", "qpid_sasl_mechanisms",
})
AMQP1_GROUP = "oslo_messaging_amqp1"
NO_EFFECT_QPID = {
    "qpid_tcp_nodelay": "no effect: the amqp1 driver (python-qpid-proton) always disables "
                        "Nagle",
    "qpid_topology_version": "no effect: qpid-python's AMQP 0-10 exchange names; the amqp1 "
                             "driver uses AMQP 1.0 addresses",
}
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

_NO_EFFECT_PREFIXES = ("qpid_",)
_ZMQ_PREFIXES = ("rpc_zmq_", "matchmaker_")

_NOTIFIER_DRIVERS = {"rpc_notifier": "messaging", "rpc_notifier2": "messagingv2",
                     "log_notifier": "log", "no_op_notifier": "noop", "test_notifier": "test"}
# Essex's list_notifier sent to the drivers of list_notifier_drivers (default: no_op_notifier).
_LIST_NOTIFIER = "list_notifier"
_LIST_NOTIFIER_DEFAULT = "nova.notifier.no_op_notifier"


class ConfigError(Exception):
    """The file cannot be read or parsed, or an option has an unusable value."""


@dataclass
class Mapping:
    """The new-style equivalent of one legacy config file.

    ``options`` is ``{group: {name: value}}`` with ``transport_url`` first in
    ``DEFAULT``; a list value is a MultiStrOpt, one ``name = value`` line per item.
    ``notes`` are ``(line, option, text)`` for legacy options without a new-style option;
    ``explained`` are ``(line, option, text)`` for mappings worth a word (list_notifier);
    ``warnings`` are ``(line, option, text)`` for mappings that change what a reader of the
    file may expect (TLS kept with transport_url); ``unknown`` are ``(line, section, option,
    suggestion)``; ``not_messaging`` are ``(line, option)`` for ``[DEFAULT]`` options named
    like messaging ones but close to none (a project's own, left alone).
    """

    path: str
    options: dict[str, dict[str, str | list[str]]] = field(default_factory=dict)
    notes: list[tuple[int, str, str]] = field(default_factory=list)
    explained: list[tuple[int, str, str]] = field(default_factory=list)
    warnings: list[tuple[int, str, str]] = field(default_factory=list)
    unknown: list[tuple[int, str, str, str | None]] = field(default_factory=list)
    not_messaging: list[tuple[int, str]] = field(default_factory=list)
    unrelated: int = 0

    def set(self, group: str, name: str, value: str | list[str]) -> None:
        self.options.setdefault(group, {})[name] = value

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.path,
                "transport_url": self.options.get("DEFAULT", {}).get("transport_url"),
                "options": self.options,
                "no_equivalent": [{"line": line, "option": name, "note": note}
                                  for line, name, note in self.notes],
                "explained": [{"line": line, "option": name, "note": note}
                              for line, name, note in self.explained],
                "warnings": [{"line": line, "option": name, "warning": text}
                             for line, name, text in self.warnings],
                "unknown_options": [{"line": line, "section": section, "option": name,
                                     "suggestion": close}
                                    for line, section, name, close in self.unknown],
                "not_messaging_options": [{"line": line, "option": name}
                                          for line, name in self.not_messaging],
                "unrelated_options": self.unrelated}

    def as_ini(self) -> str:
        """The options as an ini snippet, notes as comments."""
        out: list[str] = []
        for group, values in self.options.items():
            out.append(f"[{group}]")
            for name, value in values.items():
                items = value if isinstance(value, list) else [value]
                out.extend(f"{name} = {item}" for item in items)  # MultiStrOpt: repeated
            out.append("")
        if self.explained or self.warnings:
            out.append("# Notes:")
            out.extend(f"#   {name} (line {line}): {text}"
                       for line, name, text in self.explained + self.warnings)
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


def _url(conf: cfg.ConfigOpts, show_secrets: bool, mapping: Mapping,
         entries: list[confscan.Entry]) -> None:
    _check_backend(conf)
    try:
        url = _transport_url.transport_url(conf, warn=False)
        given = [e for e in entries if (e.section, e.key) == ("DEFAULT", "transport_url")]
        if given:
            _, warning = _transport_url.legacy_ssl_query(
                conf, TransportURL.parse(conf, conf.transport_url))
            ssl = [e.line for e in entries
                   if (e.section, e.key) == ("DEFAULT", "rabbit_use_ssl")]
            if warning:
                mapping.warnings.append((ssl[-1] if ssl else given[-1].line,
                                         "rabbit_use_ssl", warning))
    except (_transport_url.InvalidLegacyOption, ValueError, cfg.Error) as exc:
        raise ConfigError(f"{mapping.path}: {exc}") from exc
    plain = TransportURL(conf, transport=url.transport, virtual_host=url.virtual_host,
                         hosts=url.hosts)
    mapping.set("DEFAULT", "transport_url", plain.as_uri(include_password=show_secrets))
    group = AMQP1_GROUP if url.transport == "amqp1" else RABBIT_GROUP
    for name, value in url.query.items():
        mapping.set(group, name, value)


def _notifier_driver(value: str) -> str:
    module = notifier_drivers.module_name(value)
    return _NOTIFIER_DRIVERS.get(module.rpartition(".")[2], value) \
        if module.startswith("legacy_rpc.notifier.") else value


def _is_list_notifier(value: str) -> bool:
    return value.strip().rpartition(".")[2] == _LIST_NOTIFIER


def _add_driver(mapping: Mapping, name: str) -> None:
    current = mapping.options.setdefault(NOTIFY_GROUP, {}).setdefault("driver", [])
    names = current if isinstance(current, list) else [current]
    if name not in names:
        mapping.set(NOTIFY_GROUP, "driver", [*names, name])


def _notification_drivers(entries: list[confscan.Entry], mapping: Mapping) -> None:
    """``notification_driver`` (MultiStrOpt) as repeated ``driver`` lines, list_notifier
    replaced by the drivers of ``list_notifier_drivers``."""
    mine = [e for e in entries if e.section == "DEFAULT" and e.key in (
        "notification_driver", "list_notifier_drivers") and confscan.classify(e) == "legacy"]
    listed = [e.value for e in mine if e.key == "list_notifier_drivers"]
    drivers: list[str] = []
    expanded = False
    for entry in mine:
        if entry.key == "notification_driver" and _is_list_notifier(entry.value):
            real = listed or [_LIST_NOTIFIER_DEFAULT]
            names = ", ".join(_notifier_driver(v) for v in real)
            where = "list_notifier_drivers" if listed else "the default list_notifier_drivers"
            mapping.explained.append((entry.line, entry.key, (
                f"{entry.value} (Essex) only sent to the drivers of {where}; they are "
                f"the drivers now: {names}")))
            drivers.extend(real)
            expanded = True
        elif entry.key == "notification_driver":
            drivers.append(entry.value)
    if listed and not expanded:  # the historic alias of notification_driver
        drivers.extend(listed)
    for driver in drivers:  # after the new-style [oslo_messaging_notifications] driver lines
        _add_driver(mapping, _notifier_driver(driver))
    group = mapping.options.get(NOTIFY_GROUP, {})
    new = group.get("driver")
    if isinstance(new, list) and len(new) == 1:
        group["driver"] = new[0]
    elif new == []:
        del group["driver"]
        if not group:
            del mapping.options[NOTIFY_GROUP]


def _map_entry(entry: confscan.Entry, mapping: Mapping, show_secrets: bool) -> None:
    kind = confscan.classify(entry)
    name, section = entry.key, entry.section
    if kind == "other":
        mapping.unrelated += 1
    elif kind == "project":
        mapping.unrelated += 1
        mapping.not_messaging.append((entry.line, name))
    elif kind == "unknown":
        mapping.unknown.append((entry.line, section, name, confscan.suggestion(entry)))
    elif kind == "new":
        if name in _SAME_NAME and section == "DEFAULT":
            if name != "transport_url":
                mapping.set("DEFAULT", name, entry.value)
        elif (section, name) == (NOTIFY_GROUP, "driver"):  # a MultiStrOpt: every line counts
            _add_driver(mapping, entry.value)
        else:
            value = entry.value if show_secrets else _mask.mask_url(entry.value)
            mapping.set(section, name, value)
    elif name in _IN_URL:
        pass
    elif name == "rpc_thread_pool_size":
        mapping.set("DEFAULT", "executor_thread_pool_size", entry.value)
    elif name in ("notification_driver", "list_notifier_drivers"):
        if "driver" not in mapping.options.get(NOTIFY_GROUP, {}):
            mapping.set(NOTIFY_GROUP, "driver", [])  # keeps the group order; filled later
    elif name in ("notification_topics", "topics"):  # [DEFAULT] or [rpc_notifier2]
        mapping.set(NOTIFY_GROUP, "topics", entry.value)
    elif name in NO_EQUIVALENT:
        mapping.notes.append((entry.line, name, NO_EQUIVALENT[name]))
    elif name in NO_EFFECT_QPID:
        mapping.notes.append((entry.line, name, NO_EFFECT_QPID[name]))
    elif name.startswith(_ZMQ_PREFIXES) or section.startswith("matchmaker"):
        # The zmq driver reads these under their legacy names and groups.
        secret = name == "password" and not show_secrets
        mapping.set(section, name, "****" if secret else entry.value)
    elif name.startswith(_NO_EFFECT_PREFIXES):
        mapping.notes.append((entry.line, name, "no effect: no driver uses it"))


def map_config(path: Path, show_secrets: bool = False) -> Mapping:
    """The new-style equivalent of the legacy config file ``path``.

    :raises SourceError: unreadable. :raises ConfigError: not an ini file, a value of the
        wrong type, an unknown ``rpc_backend`` or an unusable legacy value.
    """
    conf, entries = _load(path)
    mapping = Mapping(str(path))
    try:
        _url(conf, show_secrets, mapping, entries)
        for entry in entries:
            _map_entry(entry, mapping, show_secrets)
        _notification_drivers(entries, mapping)
    except (ValueError, cfg.Error) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    finally:
        conf.reset()
    return mapping

"""The ``routing`` notifier driver: sends each notification to the drivers its rules pick.

The rules are a YAML file named by ``[oslo_messaging_notifications] routing_config``::

    audit_and_errors:            # a group name (free text)
      messagingv2:               # a notifier driver
        accepted_events: ["compute.instance.*"]
        accepted_priorities: [error, critical]
      log:
        accepted_priorities: [info]

A driver entry accepts a notification when every rule it lists matches (AND): one of the
``accepted_events`` shell patterns matches the event type, and one of the
``accepted_priorities`` patterns matches the priority (case-insensitive). An entry with no
rules accepts everything. Entries and groups combine as OR; a driver gets a notification at
most once. Unknown rule keys are logged and ignored, as oslo.messaging does.

The option is read from the transport's configuration; when it is empty there, from the
global ``cfg.CONF`` (where oslo.messaging reads it). No file configured routes nothing.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from oslo_config import cfg

from legacy_rpc.messaging.notify import _opts
from legacy_rpc.messaging.notify.notifier import Driver, load_driver
from legacy_rpc.messaging.transport import Transport

LOG = logging.getLogger(__name__)

__all__ = ["RoutingDriver", "RULE_KEYS", "parse_rules", "drivers_for"]

RULE_KEYS = ("accepted_events", "accepted_priorities")

Rules = dict[str, dict[str, dict[str, list[str]]]]
"""group -> driver -> rule key -> patterns."""


def _patterns(where: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"{where} must be a string or a list of strings, got {value!r}")


def parse_rules(document: Any) -> Rules:
    """Validate a loaded routing document and return it normalised.

    :raises ValueError: the document does not have the group/driver/rules shape.
    """
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise ValueError("the routing config must map group names to drivers")
    rules: Rules = {}
    for group, drivers in document.items():
        if not isinstance(drivers, Mapping):
            raise ValueError(f"group {group!r} must map driver names to rules")
        rules[str(group)] = {}
        for driver, driver_rules in drivers.items():
            if driver_rules is None:
                driver_rules = {}
            if not isinstance(driver_rules, Mapping):
                raise ValueError(f"the rules of driver {driver!r} in group {group!r} must be "
                                 "a mapping")
            kept: dict[str, list[str]] = {}
            for key, value in driver_rules.items():
                if key not in RULE_KEYS:
                    LOG.warning("Ignoring unknown routing rule %r of driver %r in group %r "
                                "(known: %s)", key, driver, group, ", ".join(RULE_KEYS))
                    continue
                kept[key] = _patterns(f"{group}.{driver}.{key}", value)
            rules[str(group)][str(driver)] = kept
    return rules


def _accepts(driver_rules: Mapping[str, Sequence[str]], event_type: str, priority: str) -> bool:
    events = driver_rules.get("accepted_events")
    if events is not None and not any(fnmatch.fnmatchcase(event_type, p) for p in events):
        return False
    priorities = driver_rules.get("accepted_priorities")
    return priorities is None or any(
        fnmatch.fnmatchcase(priority.lower(), p.lower()) for p in priorities)


def drivers_for(rules: Rules, event_type: str, priority: str) -> list[str]:
    """The drivers that accept a notification, in the order they appear in the rules."""
    chosen: list[str] = []
    for drivers in rules.values():
        for driver, driver_rules in drivers.items():
            if driver not in chosen and _accepts(driver_rules, event_type, priority):
                chosen.append(driver)
    return chosen


def _config_file(conf: cfg.ConfigOpts) -> str:
    path: str = conf[_opts.GROUP].routing_config
    if not path and conf is not cfg.CONF:
        _opts.register_notifier_opts(cfg.CONF)
        path = cfg.CONF[_opts.GROUP].routing_config
    return path


class RoutingDriver(Driver):
    """Routes notifications to other notifier drivers by event type and priority.

    The rules file is read and every driver it names is loaded when the driver is built,
    so a missing file or an unknown driver fails at ``Notifier(...)``, not at send time.
    """

    def __init__(self, conf: cfg.ConfigOpts, topics: Sequence[str],
                 transport: Transport) -> None:
        super().__init__(conf, topics, transport)
        _opts.register_notifier_opts(conf)
        path = _config_file(conf)
        self.rules: Rules = {}
        if not path:
            LOG.warning("The routing notification driver has no routing_config file; "
                        "notifications will not be sent anywhere")
        else:
            with open(path, encoding="utf-8") as f:
                self.rules = parse_rules(yaml.safe_load(f))
        self._drivers: dict[str, Driver] = {}
        for drivers in self.rules.values():
            for name in drivers:
                if name == "routing":
                    raise ValueError(f"{path}: the routing driver cannot route to itself")
                if name not in self._drivers:
                    self._drivers[name] = load_driver(name, conf, topics, transport)

    def notify(self, ctxt: dict[str, Any], message: dict[str, Any], priority: str,
               retry: int | None) -> None:
        event_type = message.get("event_type")
        for name in drivers_for(self.rules, str(event_type), priority):
            try:
                self._drivers[name].notify(ctxt, dict(message), priority, retry)
            except Exception:
                LOG.exception("Routed notification driver %s could not send %s", name,
                              event_type)

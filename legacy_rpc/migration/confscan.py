"""Legacy messaging options in one oslo.config-style ini file.

The file is read line by line (oslo.config files may repeat a key, which configparser
rejects), so every option keeps its line number. Options unrelated to messaging are left
alone: a service's config file holds many of them.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

from legacy_rpc.migration.findings import Finding

__all__ = ["ConfigSyntaxError", "Entry", "parse_ini", "known_options", "classify",
           "suggestion", "scan_config"]

_SECTION = re.compile(r"^\[([^\]]+)\]\s*$")
_OPTION = re.compile(r"^([A-Za-z_][\w.-]*)\s*[=:]\s?(.*)$")
_MESSAGING_PREFIXES = ("rabbit_", "kombu_", "qpid_", "rpc_", "amqp_", "matchmaker_",
                       "notification_", "zmq_")

_EXTRA_LEGACY_DEFAULT = {
    # notifier/api.py, rpc_notifier.py, log.py, matchmaker.py; deprecated and historic names
    "notification_driver", "default_notification_level", "default_publisher_id",
    "notification_topics", "publish_errors", "matchmaker_heartbeat_freq",
    "matchmaker_heartbeat_ttl", "matchmaker_ringfile", "rabbit_durable_queues",
    "amqp_rpc_single_reply_queue", "list_notifier_drivers",
}
# How close a [DEFAULT] name must be to a known one to be taken for its misspelling; below
# it, a name with a messaging prefix is a project's own option (rpc_workers, notification_format).
_PREFIXED_CUTOFF = 0.8
_OTHER_CUTOFF = 0.85
_LEGACY_GROUPS = {
    "rpc_notifier2": {"topics"},
    "matchmaker_ring": {"ringfile"},
    "matchmaker_redis": {"host", "port", "password"},
}


class ConfigSyntaxError(ValueError):
    """A line that is neither a section, an option, a continuation nor a comment."""

    def __init__(self, line: int, text: str) -> None:
        super().__init__(f"line {line}: cannot parse {text.strip()!r} (expected "
                         "'[section]' or 'name = value')")
        self.line = line


@dataclass(frozen=True)
class Entry:
    """``key = value`` in ``[section]`` at ``line``; ``value`` joins continuation lines."""

    section: str
    key: str
    value: str
    line: int


def parse_ini(text: str) -> list[Entry]:
    """Every option of ``text`` in order. :raises ConfigSyntaxError: on a bad line."""
    entries: list[Entry] = []
    section = "DEFAULT"
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if raw[0] in " \t" and entries and entries[-1].line < number:
            last = entries[-1]  # continuation of the previous value
            entries[-1] = Entry(last.section, last.key, f"{last.value}\n{stripped}", last.line)
            continue
        if match := _SECTION.match(stripped):
            section = match.group(1).strip()
            continue
        if match := _OPTION.match(stripped):
            entries.append(Entry(section, match.group(1), match.group(2).strip(), number))
            continue
        raise ConfigSyntaxError(number, raw)
    return entries


@functools.cache
def known_options() -> dict[str, dict[str, frozenset[str]]]:
    """``{"legacy": {group: names}, "new": {group: names}}`` of every known option."""
    from legacy_rpc.messaging import opts as core_opts
    from legacy_rpc.messaging.drivers.rabbit import _opts as rabbit_opts
    from legacy_rpc.messaging.notify import _opts as notify_opts
    from legacy_rpc.rpc import _opts as legacy_opts

    legacy_default = {opt.dest for group in (legacy_opts.rpc_opts, legacy_opts.amqp_opts,
                                             legacy_opts.kombu_opts, legacy_opts.qpid_opts,
                                             legacy_opts.zmq_opts) for opt in group}
    legacy = {"DEFAULT": frozenset(legacy_default | _EXTRA_LEGACY_DEFAULT)}
    legacy.update({group: frozenset(keys) for group, keys in _LEGACY_GROUPS.items()})
    new = {"DEFAULT": frozenset(opt.dest for opt in core_opts.DEFAULT_OPTS),
           rabbit_opts.GROUP: frozenset(opt.dest for opt in rabbit_opts.rabbit_opts),
           notify_opts.GROUP: frozenset(opt.dest for opt in notify_opts.notifier_opts)}
    return {"legacy": legacy, "new": new}


def classify(entry: Entry) -> str:
    """``legacy``, ``new`` (a new-style option), ``unknown`` (looks like a messaging option
    but nothing knows it: a misspelling), ``project`` (a ``[DEFAULT]`` option named like a
    messaging one but close to none, a project's own: ``rpc_workers``) or ``other`` (not a
    messaging option)."""
    known = known_options()
    if entry.key in known["new"].get(entry.section, ()):
        return "new"  # also legacy names the core kept (control_exchange, ...)
    if entry.key in known["legacy"].get(entry.section, ()):
        return "legacy"
    messaging_section = ((entry.section in known["new"] and entry.section != "DEFAULT")
                         or entry.section in _LEGACY_GROUPS)
    if messaging_section:
        return "unknown"
    if entry.section != "DEFAULT":
        return "other"
    prefixed = entry.key.startswith(_MESSAGING_PREFIXES)
    if suggestion(entry, cutoff=_PREFIXED_CUTOFF if prefixed else _OTHER_CUTOFF):
        return "unknown"  # a misspelt messaging option (rabit_host, rabbit_hots)
    return "project" if prefixed else "other"


def suggestion(entry: Entry, cutoff: float = 0.6) -> str | None:
    """The known option of ``entry``'s section whose name is closest, if any is close."""
    known = known_options()
    names = set(known["legacy"].get(entry.section, ())) | set(
        known["new"].get(entry.section, ()))
    close = difflib.get_close_matches(entry.key, sorted(names), n=1, cutoff=cutoff)
    return close[0] if close else None


def scan_config(text: str) -> list[Finding]:
    """Findings for the legacy and unknown messaging options of an ini text.

    :raises ConfigSyntaxError: the text is not an ini file.
    """
    findings: list[Finding] = []
    for entry in parse_ini(text):
        kind = classify(entry)
        code = f"[{entry.section}] {entry.key}"
        if entry.key == "rpc_backend" and entry.section == "DEFAULT":
            findings.append(Finding(entry.line, 1, "rpc-backend", code,
                                    "keeps working through the alias table; replace the "
                                    "connection options by transport_url (legacy-rpc config "
                                    "FILE prints it)"))
        elif kind == "legacy":
            findings.append(Finding(entry.line, 1, "legacy-option", code,
                                    "see the new-style equivalent: legacy-rpc config FILE"))
        elif kind == "unknown":
            close = suggestion(entry)
            hint = f"; did you mean {close!r}?" if close else ""
            findings.append(Finding(entry.line, 1, "unknown-option", code,
                                    f"no legacy or new-style option has this name{hint}"))
    return findings

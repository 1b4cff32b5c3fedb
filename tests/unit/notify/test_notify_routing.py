"""The ``routing`` notifier driver: rules file parsing, matching, and routing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from oslo_config import cfg

from legacy_rpc.messaging.notify import Notifier, _impl_test
from legacy_rpc.messaging.notify._impl_routing import drivers_for, parse_rules
from legacy_rpc.messaging.notify.notifier import NotifierDriverLoadFailure
from legacy_rpc.messaging.transport import Transport

RULES = """
group_1:
  test:
    accepted_events:
      - compute.instance.*
    accepted_priorities:
      - error
      - CRITICAL
  log:
    accepted_priorities: [info]
group_2:
  test:
    accepted_events: [image.upload]
  noop:
"""


def rules_file(tmp_path: Path, conf: cfg.ConfigOpts, text: str = RULES) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    conf.set_override("routing_config", str(path), group="oslo_messaging_notifications")
    return path


def test_rules_combine_with_and_inside_an_entry_and_or_across() -> None:
    import yaml

    rules = parse_rules(yaml.safe_load(RULES))
    assert drivers_for(rules, "compute.instance.create", "error") == ["test", "noop"]
    assert drivers_for(rules, "compute.instance.create", "critical") == ["test", "noop"]
    assert drivers_for(rules, "compute.instance.create", "info") == ["log", "noop"]
    assert drivers_for(rules, "image.upload", "debug") == ["test", "noop"]
    assert drivers_for(rules, "network.create", "warn") == ["noop"]


def test_priorities_match_case_insensitively() -> None:
    rules = parse_rules({"g": {"test": {"accepted_priorities": ["Info"]}}})
    assert drivers_for(rules, "e", "INFO") == ["test"]


def test_event_patterns_are_case_sensitive_shell_globs() -> None:
    rules = parse_rules({"g": {"test": {"accepted_events": "compute.?.end"}}})
    assert drivers_for(rules, "compute.x.end", "info") == ["test"]
    assert drivers_for(rules, "Compute.x.end", "info") == []


@pytest.mark.parametrize("document", [
    ["not", "a", "mapping"],
    {"g": ["test"]},
    {"g": {"test": ["accepted_events"]}},
    {"g": {"test": {"accepted_events": [1, 2]}}},
])
def test_malformed_documents_are_rejected(document: object) -> None:
    with pytest.raises(ValueError):
        parse_rules(document)


def test_unknown_rule_keys_are_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        rules = parse_rules({"g": {"test": {"accepted_event": ["x"]}}})
    assert rules == {"g": {"test": {}}}
    assert "accepted_event" in caplog.text


def test_routing_sends_to_the_chosen_drivers(tmp_path: Path, conf: cfg.ConfigOpts,
                                             transport: Transport,
                                             caplog: pytest.LogCaptureFixture) -> None:
    rules_file(tmp_path, conf)
    notifier = Notifier(transport, "p", driver="routing")
    with caplog.at_level(logging.INFO, logger="oslo.messaging.notification"):
        notifier.error(None, "compute.instance.delete", {"id": 1})
        notifier.info(None, "compute.instance.create", {"id": 2})
        notifier.warn(None, "network.create", {"id": 3})
    assert [(m["event_type"], p) for _c, m, p, _r in _impl_test.NOTIFICATIONS] == [
        ("compute.instance.delete", "ERROR")]
    logged = [r.name for r in caplog.records if r.name.startswith("oslo.messaging.")]
    assert logged == ["oslo.messaging.notification.compute.instance.create"]


def test_a_missing_rules_file_fails_when_the_notifier_is_built(
        tmp_path: Path, conf: cfg.ConfigOpts, transport: Transport) -> None:
    conf.set_override("routing_config", str(tmp_path / "missing.yaml"),
                      group="oslo_messaging_notifications")
    with pytest.raises(NotifierDriverLoadFailure, match="routing"):
        Notifier(transport, "p", driver="routing")


def test_an_unknown_driver_in_the_rules_fails_when_the_notifier_is_built(
        tmp_path: Path, conf: cfg.ConfigOpts, transport: Transport) -> None:
    rules_file(tmp_path, conf, "g:\n  smtp:\n    accepted_events: ['*']\n")
    with pytest.raises(NotifierDriverLoadFailure, match="smtp"):
        Notifier(transport, "p", driver="routing")


def test_routing_to_itself_is_refused(tmp_path: Path, conf: cfg.ConfigOpts,
                                      transport: Transport) -> None:
    rules_file(tmp_path, conf, "g:\n  routing:\n")
    with pytest.raises(NotifierDriverLoadFailure, match="itself"):
        Notifier(transport, "p", driver="routing")


def test_no_rules_file_routes_nothing(conf: cfg.ConfigOpts, transport: Transport,
                                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        notifier = Notifier(transport, "p", driver="routing")
        notifier.info(None, "e", {})
    assert _impl_test.NOTIFICATIONS == []
    assert "routing_config" in caplog.text

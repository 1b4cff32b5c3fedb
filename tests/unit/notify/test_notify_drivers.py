"""Notifier drivers: ``log``, ``test``, ``noop``, the driver lookup and its entry points."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc.messaging.notify import Notifier, _impl_test
from legacy_rpc.messaging.notify._impl_log import LogDriver
from legacy_rpc.messaging.notify.notifier import (
    BUILTIN_DRIVERS,
    ENTRY_POINT_GROUP,
    Driver,
    NotifierDriverLoadFailure,
    available_drivers,
    load_driver,
)
from legacy_rpc.messaging.transport import Transport

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    tomllib = pytest.importorskip("tomli")


# --------------------------------------------------------------------------- log

@pytest.mark.parametrize(("method", "level"), [
    ("audit", logging.INFO), ("debug", logging.DEBUG), ("info", logging.INFO),
    ("warn", logging.WARNING), ("warning", logging.WARNING), ("error", logging.ERROR),
    ("critical", logging.CRITICAL), ("sample", logging.DEBUG),
])
def test_log_driver_logs_json_at_the_priority_level(transport: Transport, method: str,
                                                    level: int,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(transport, "compute.host1", driver="log")
    with caplog.at_level(logging.DEBUG, logger="oslo.messaging.notification"):
        getattr(notifier, method)(None, "compute.instance.create", {"id": 1})
    [record] = [r for r in caplog.records if r.name.startswith("oslo.messaging")]
    assert record.name == "oslo.messaging.notification.compute.instance.create"
    assert record.levelno == level
    message = json.loads(record.getMessage())
    assert message["payload"] == {"id": 1}
    assert message["priority"] == ("WARN" if method == "warning" else method.upper())
    assert message["publisher_id"] == "compute.host1"


def test_log_driver_masks_passwords(transport: Transport,
                                    caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(transport, "p", driver="log")
    with caplog.at_level(logging.INFO, logger="oslo.messaging.notification"):
        notifier.info(None, "e", {"admin_password": "hunter2", "nested": {"password": "x"},
                                  "url": "rabbit://user:s3cret@host:5672/"})
    assert "hunter2" not in caplog.text
    assert "s3cret" not in caplog.text
    assert '"password": "<SANITIZED>"' in caplog.text


def test_log_driver_skips_work_when_the_level_is_disabled(conf: cfg.ConfigOpts,
                                                          transport: Transport) -> None:
    logger = logging.getLogger("oslo.messaging.notification.quiet")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        driver = LogDriver(conf, ["notifications"], transport)
        driver.notify({}, {"event_type": "quiet", "payload": object()}, "INFO", None)
    finally:
        logger.setLevel(old)


# --------------------------------------------------------------------------- test and noop

def test_test_driver_records_and_resets(transport: Transport) -> None:
    notifier = Notifier(transport, "p", driver="test", retry=3)
    notifier.info(None, "e1", {"a": 1})
    notifier.prepare(retry=0).critical(None, "e2", {})
    [(ctxt, message, priority, retry), second] = _impl_test.NOTIFICATIONS
    assert (ctxt, message["event_type"], message["payload"], priority, retry) == (
        {}, "e1", {"a": 1}, "INFO", 3)
    assert (second[1]["event_type"], second[2], second[3]) == ("e2", "CRITICAL", 0)
    _impl_test.reset()
    assert _impl_test.NOTIFICATIONS == []


def test_noop_sends_nothing_and_disables_the_notifier(transport: Transport) -> None:
    notifier = Notifier(transport, "p", driver="noop")
    assert not notifier.is_enabled()
    notifier.info(None, "e", {})
    assert Notifier(transport, "p", driver=["noop", "test"]).is_enabled()


def test_every_driver_gets_the_same_message(transport: Transport) -> None:
    Notifier(transport, "p", driver=["test", "messagingv2", "test"]).info(None, "e", {})
    [(_ctxt, message, _priority, _retry)] = _impl_test.NOTIFICATIONS  # duplicates dropped
    # messagingv2 does not leak _unique_id or _context_* into the shared message
    assert set(message) == {"message_id", "publisher_id", "event_type", "priority",
                            "payload", "timestamp"}


# --------------------------------------------------------------------------- lookup

def test_unknown_driver_lists_the_known_ones(transport: Transport) -> None:
    with pytest.raises(NotifierDriverLoadFailure) as info:
        Notifier(transport, "p", driver="smtp")
    text = str(info.value)
    assert "'smtp'" in text
    for name in ("log", "messaging", "messagingv2", "noop", "routing", "test"):
        assert name in text


def test_a_driver_without_notify_is_refused(conf: cfg.ConfigOpts, transport: Transport,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BUILTIN_DRIVERS, "broken", "logging:Formatter")
    from legacy_rpc.messaging.notify import notifier as notifier_module

    notifier_module.clear_cache()
    try:
        with pytest.raises(NotifierDriverLoadFailure):
            load_driver("broken", conf, ["t"], transport)
    finally:
        monkeypatch.delitem(BUILTIN_DRIVERS, "broken")
        notifier_module.clear_cache()


def test_a_third_party_driver_class(conf: cfg.ConfigOpts, transport: Transport,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from legacy_rpc.messaging.notify import notifier as notifier_module

    monkeypatch.setitem(BUILTIN_DRIVERS, "custom", f"{__name__}:CustomDriver")
    notifier_module.clear_cache()
    try:
        driver = load_driver("custom", conf, ["t"], transport)
        assert isinstance(driver, CustomDriver)
        assert driver.topics == ["t"]
    finally:
        monkeypatch.delitem(BUILTIN_DRIVERS, "custom")
        notifier_module.clear_cache()


class CustomDriver(Driver):
    def notify(self, ctxt: dict[str, Any], message: dict[str, Any], priority: str,
               retry: int | None) -> None:
        pass


def test_entry_points_match_the_builtin_table() -> None:
    pyproject = Path(__file__).resolve().parents[3] / "pyproject.toml"
    with pyproject.open("rb") as f:
        data: dict[str, Any] = tomllib.load(f)
    declared = data["project"]["entry-points"][ENTRY_POINT_GROUP]
    assert declared == BUILTIN_DRIVERS
    assert set(available_drivers()) >= set(BUILTIN_DRIVERS)

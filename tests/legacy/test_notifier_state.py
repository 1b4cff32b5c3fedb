"""Issue 12 items 3 and 5: the notifier module's state as ``openstack.common.notifier.api``
had it (``_drivers``, ``add_driver``, ``_reset_drivers``), the Essex ``list_notifier`` and
``capacity_notifier``, ``rabbit_notifier`` as a module, and ``notify_decorator`` with a
context that has ``to_dict()`` but no ``elevated()``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc import messaging
from legacy_rpc.migration import names
from legacy_rpc.notifier import (
    _driver_names,
    capacity_notifier,
    list_notifier,
    no_op_notifier,
    rabbit_notifier,
    rpc_notifier,
    test_notifier,
)
from legacy_rpc.notifier import api as notifier_api
from tests.legacy.conftest import TIMEOUT, LegacyEnv, Recorder

CONF = cfg.CONF
TEST_DRIVER = "nova.openstack.common.notifier.test_notifier"


class _Driver:
    """A driver object: ``notify(context, message)``; ``essex`` makes it ``notify(message)``."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def notify(self, context: Any, message: dict[str, Any]) -> None:
        self.seen.append((context, message["event_type"]))


class _EssexDriver:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def notify(self, message: dict[str, Any]) -> None:
        self.seen.append(message["event_type"])


class _ToDictOnly:
    """The original ``openstack.common.context.RequestContext``: ``to_dict()``, no
    ``elevated()``."""

    def to_dict(self) -> dict[str, Any]:
        return {"user": "u"}


@pytest.fixture
def notes(restore_conf: Any) -> Iterator[list[dict[str, Any]]]:
    """``notification_driver`` = the test driver under its old path; its notifications."""
    restore_conf("notification_driver", [TEST_DRIVER])
    notifier_api._reset_drivers()
    list_notifier._reset_drivers()
    del test_notifier.NOTIFICATIONS[:]
    yield test_notifier.NOTIFICATIONS
    del test_notifier.NOTIFICATIONS[:]
    list_notifier._reset_drivers()


def _send(event_type: str, context: Any = None) -> None:
    notifier_api.notify(context, "publisher", event_type, notifier_api.INFO, {"a": 1})


def _events(notes: list[dict[str, Any]]) -> list[str]:
    return [n["event_type"] for n in notes]


# --------------------------------------------------------------------------- api state

def test_drivers_is_a_variable_read_at_every_notification(
        notes: list[dict[str, Any]], restore_conf: Any) -> None:
    _send("first")
    assert notifier_api._drivers is not None
    assert list(notifier_api._drivers.values()) == [test_notifier]
    restore_conf("notification_driver", ["legacy_rpc.notifier.no_op_notifier"])
    _send("still-cached")
    notifier_api._drivers = None  # how real projects' tests reset the drivers
    _send("after-reset")
    assert _events(notes) == ["first", "still-cached"]
    assert notifier_api._get_drivers() == [no_op_notifier]

    driver = _Driver()
    notifier_api._drivers = {"mine": driver}
    _send("replaced", context={"user": "u"})
    assert driver.seen == [({"user": "u"}, "replaced")]


def test_add_driver_by_legacy_path_or_object(notes: list[dict[str, Any]],
                                            caplog: pytest.LogCaptureFixture) -> None:
    driver, essex = _Driver(), _EssexDriver()
    notifier_api.add_driver(driver)
    notifier_api.add_driver(essex)
    notifier_api.add_driver(TEST_DRIVER)  # already loaded from the config: once only
    with caplog.at_level(logging.ERROR, logger=notifier_api.__name__):
        notifier_api.add_driver("acme.no_such_notifier")
    assert [r.getMessage() for r in caplog.records] == [
        "Failed to load notifier acme.no_such_notifier. These notifications will not be "
        "sent."]
    _send("event")
    assert _events(notes) == ["event"]
    assert driver.seen == [(None, "event")] and essex.seen == ["event"]
    notifier_api._reset_drivers()
    _send("after-reset")
    assert driver.seen == [(None, "event")]  # added drivers are forgotten too
    assert _events(notes) == ["event", "after-reset"]


def test_grizzly_alias_list_notifier_drivers(notes: list[dict[str, Any]],
                                             restore_conf: Any) -> None:
    """With no notification_driver, Grizzly read its deprecated alias."""
    restore_conf("notification_driver", [])
    restore_conf("list_notifier_drivers", [TEST_DRIVER])
    _send("via-alias")
    assert _events(notes) == ["via-alias"]


def test_no_driver_configured_sends_nothing(restore_conf: Any) -> None:
    restore_conf("notification_driver", [])
    notifier_api._reset_drivers()
    assert notifier_api._get_drivers() == []


# --------------------------------------------------------------------------- list_notifier

def test_list_notifier_forwards_to_its_drivers(notes: list[dict[str, Any]],
                                               restore_conf: Any,
                                               caplog: pytest.LogCaptureFixture) -> None:
    restore_conf("notification_driver", ["nova.notifier.list_notifier"])
    restore_conf("list_notifier_drivers", [TEST_DRIVER, "acme.missing_notifier"])
    notifier_api._reset_drivers()
    essex = _EssexDriver()
    list_notifier.add_driver(essex)
    with caplog.at_level(logging.ERROR, logger=list_notifier.__name__):
        _send("one")
    assert _events(notes) == ["one"] and essex.seen == ["one"]
    # The driver that could not be imported fails every notification, logged each time.
    failures = [r for r in caplog.records if r.name == list_notifier.__name__]
    assert len(failures) == 1 and "acme.missing_notifier" in failures[0].getMessage()
    assert failures[0].exc_info is not None

    list_notifier.remove_driver(essex)
    list_notifier.remove_driver("nova.openstack.common.notifier.test_notifier")
    list_notifier.remove_driver("acme.missing_notifier")
    assert list_notifier.drivers == []
    with pytest.raises(ValueError, match=r"Cannot remove; acme\.other is not in list"):
        list_notifier.remove_driver("acme.other")
    _send("two")
    assert _events(notes) == ["one"] and essex.seen == ["one"]


def test_list_notifier_defaults_to_no_op(restore_conf: Any) -> None:
    list_notifier._reset_drivers()
    try:
        assert list_notifier._get_drivers() == [no_op_notifier]
        list_notifier.drivers = None
        list_notifier.add_driver("legacy_rpc.notifier.test_notifier")
        assert list_notifier.drivers == [no_op_notifier, test_notifier]
    finally:
        list_notifier._reset_drivers()


# --------------------------------------------------------------------------- rabbit_notifier

def test_rabbit_notifier_is_rpc_notifier_deprecated(monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[Any, Any]] = []
    monkeypatch.setattr(rpc_notifier, "notify", lambda c, m: seen.append((c, m)))
    monkeypatch.setattr(rabbit_notifier, "_warned", False)
    with caplog.at_level(logging.WARNING, logger=rabbit_notifier.__name__):
        rabbit_notifier.notify("ctxt", {"n": 1})
        rabbit_notifier.notify("ctxt", {"n": 2})
    assert seen == [("ctxt", {"n": 1}), ("ctxt", {"n": 2})]
    assert [r.getMessage() for r in caplog.records] == [
        "The rabbit_notifier is now deprecated. Please use rpc_notifier instead."]


class _Endpoint:
    def __init__(self) -> None:
        self.received = Recorder()

    def info(self, ctxt: Any, publisher_id: Any, event_type: Any, payload: Any,
             metadata: Any) -> None:
        self.received.add((publisher_id, event_type, payload))


def test_list_notifier_with_rabbit_notifier_on_the_bus(legacy: LegacyEnv) -> None:
    """Essex config: list_notifier -> rabbit_notifier (a module) -> a new-style listener."""
    topic = legacy.topic("notifications")
    legacy.set("notification_driver", ["nova.notifier.list_notifier"])
    legacy.set("list_notifier_drivers", ["nova.notifier.no_op_notifier"])
    legacy.set("notification_topics", [topic])
    legacy.queue(f"{topic}.info")
    notifier_api._reset_drivers()
    list_notifier._reset_drivers()
    list_notifier.add_driver(rabbit_notifier)
    endpoint = _Endpoint()
    listener = messaging.get_notification_listener(
        legacy.transport, [messaging.Target(topic=topic)], [endpoint], executor="threading")
    listener.start()
    try:
        notifier_api.notify(None, "compute.host1", "essex.event", notifier_api.INFO,
                            {"n": 1})
        assert endpoint.received.wait(1, TIMEOUT) == [
            ("compute.host1", "essex.event", {"n": 1})]
    finally:
        listener.stop()
        listener.wait()
        list_notifier._reset_drivers()


# --------------------------------------------------------------------------- capacity_notifier

class _Updates:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, str, dict[str, int]]] = []

    def __call__(self, context: Any, host: str, **deltas: int) -> None:
        self.calls.append((context, host, deltas))


@pytest.fixture
def updates(monkeypatch: pytest.MonkeyPatch) -> _Updates:
    recorded = _Updates()
    monkeypatch.setattr(capacity_notifier, "utilization_update", recorded)
    monkeypatch.setattr(capacity_notifier, "get_admin_context", lambda: "admin")
    return recorded


def _deltas(ram: int = 0, disk: int = 0, work: int = 0, vms: int = 0) -> dict[str, int]:
    return {"free_ram_mb_delta": ram, "free_disk_gb_delta": disk, "work_delta": work,
            "vm_delta": vms}


@pytest.mark.parametrize(("event_type", "publisher", "expected"), [
    ("compute.instance.create.start", "compute.h1", None),  # counted by the scheduler
    ("compute.instance.create.end", "compute.h1", _deltas(work=-1)),
    ("compute.instance.resize.prep.START", "compute.h1", _deltas(work=1)),
    ("compute.instance.delete.end", "compute.h1", _deltas(ram=512, disk=10, work=-1,
                                                          vms=-1)),
    ("compute.instance.delete.start", "compute.h1", _deltas(work=1)),
    ("compute.instance.exists", "compute.h1", None),
    ("scheduler.run_instance.start", "compute.h1", None),
    ("compute.instance.create.end", "scheduler.h1", None),
    ("compute.instance.create.end", None, None),
])
def test_capacity_notifier_events(updates: _Updates, event_type: str, publisher: Any,
                                  expected: dict[str, int] | None) -> None:
    message = {"event_type": event_type, "publisher_id": publisher,
               "payload": {"memory_mb": 512, "disk_gb": 10}}
    assert capacity_notifier.notify(message) is (expected is not None)  # Essex shape
    assert capacity_notifier.notify(None, message) is (expected is not None)
    want = [] if expected is None else [("admin", "h1", expected)] * 2
    assert updates.calls == want


def test_capacity_notifier_as_a_configured_driver(notes: list[dict[str, Any]],
                                                  updates: _Updates,
                                                  restore_conf: Any) -> None:
    restore_conf("notification_driver", ["nova.notifier.capacity_notifier", TEST_DRIVER])
    notifier_api._reset_drivers()
    notifier_api.notify(None, "compute.h2", "compute.instance.reboot.start",
                        notifier_api.INFO, {})
    assert updates.calls == [("admin", "h2", _deltas(work=1))]
    assert _events(notes) == ["compute.instance.reboot.start"]


def test_capacity_notifier_without_nova_says_what_to_set(
        notes: list[dict[str, Any]], restore_conf: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    message = {"event_type": "compute.instance.delete.end", "publisher_id": "compute.h1"}
    with pytest.raises(RuntimeError, match=r"nova\.db\.api\.compute_node_utilization_update "
                                           r"\(Essex nova\), or capacity_notifier\."
                                           r"utilization_update set"):
        capacity_notifier.notify(None, message)
    # As a driver the error is logged; the other drivers still get the notification.
    restore_conf("notification_driver", ["nova.notifier.capacity_notifier", TEST_DRIVER])
    notifier_api._reset_drivers()
    with caplog.at_level(logging.ERROR, logger=notifier_api.__name__):
        notifier_api.notify(None, "compute.h1", "compute.instance.delete.end",
                            notifier_api.INFO, {})
    assert any("capacity_notifier" in r.getMessage() for r in caplog.records)
    assert _events(notes) == ["compute.instance.delete.end"]


# --------------------------------------------------------------------------- legacy paths

@pytest.mark.parametrize("module", ["list_notifier", "capacity_notifier", "rabbit_notifier"])
@pytest.mark.parametrize("package", ["nova.openstack.common.notifier", "nova.notifier",
                                     "cinder.openstack.common.notifier"])
def test_importable_under_legacy_paths(package: str, module: str) -> None:
    legacy = f"{package}.{module}"
    dropin = names.dropin_module(legacy)
    assert dropin == f"legacy_rpc.notifier.{module}"
    imported = importlib.import_module(dropin)
    resolved = _driver_names.import_driver(legacy)
    # rabbit_notifier as a configured driver name selects rpc_notifier, which it wraps.
    assert resolved is (rpc_notifier if module == "rabbit_notifier" else imported)
    assert callable(imported.notify)


# --------------------------------------------------------------------------- notify_decorator

def test_notify_decorator_takes_a_context_with_only_to_dict(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(notifier_api, "notify",
                        lambda context, *args: seen.append(context))

    def example_api(arg1: Any, arg2: Any = None, context: Any = None) -> int:
        return 3

    wrapped = notifier_api.notify_decorator("example_api", example_api)
    ctxt = _ToDictOnly()
    assert wrapped(1, ctxt) == 3
    assert wrapped(1, 2, context=ctxt) == 3
    wrapped({"user": "u"}, _ToDictOnly)  # a dict, a class: neither is a context
    assert seen == [ctxt, ctxt, None]


def test_notify_decorator_sends_the_context_to_the_drivers(
        notes: list[dict[str, Any]]) -> None:
    driver = _Driver()
    notifier_api.add_driver(driver)
    ctxt = _ToDictOnly()
    notifier_api.notify_decorator("example_api", lambda c, x: x)(ctxt, 5)
    assert driver.seen == [(ctxt, "example_api")]
    assert notes[0]["payload"]["args"][1] == 5

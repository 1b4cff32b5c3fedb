"""Driver registry: name resolution, the legacy alias table, discovery and lazy loading."""

from __future__ import annotations

import collections
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from legacy_rpc.messaging.drivers import registry
from legacy_rpc.messaging.drivers.registry import (
    DriverLoadFailure,
    available_drivers,
    load_driver_class,
    resolve_driver_name,
)
from legacy_rpc.messaging.exceptions import MessagingException

REPO_ROOT = Path(__file__).resolve().parents[2]
ORIGINAL_ENTRY_POINT_DRIVERS = registry._entry_point_drivers


@pytest.fixture(autouse=True)
def _isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only the built-ins are known unless a test adds entry points; caches are fresh."""
    monkeypatch.setattr(registry, "_entry_point_drivers", dict)
    registry.clear_cache()
    yield
    registry.clear_cache()


def _use_entry_points(monkeypatch: pytest.MonkeyPatch, **targets: str) -> None:
    eps = [EntryPoint(name, value, registry.ENTRY_POINT_GROUP) for name, value in targets.items()]

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        assert group == registry.ENTRY_POINT_GROUP
        return eps

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    monkeypatch.setattr(registry, "_entry_point_drivers", ORIGINAL_ENTRY_POINT_DRIVERS)
    registry.clear_cache()



# ------------------------------------------------------------ constants

def test_constants() -> None:
    assert registry.ENTRY_POINT_GROUP == "legacy_rpc.drivers"
    assert registry.BUILTIN_DRIVERS == {
        "fake": "legacy_rpc.messaging.drivers.impl_fake:FakeDriver",
        "rabbit": "legacy_rpc.messaging.drivers.impl_rabbit:RabbitDriver",
        "kombu": "legacy_rpc.messaging.drivers.impl_rabbit:RabbitDriver"}
    assert registry.DRIVER_EXTRAS == {
        "rabbit": "rabbit", "kombu": "rabbit", "amqp1": "amqp1", "zmq": "zmq"}


# ------------------------------------------------------------ legacy alias table

@pytest.mark.parametrize(
    ("name", "driver"),
    [
        ("openstack.common.rpc.impl_kombu", "rabbit"),
        ("nova.openstack.common.rpc.impl_kombu", "rabbit"),
        ("cinder.openstack.common.rpc.impl_kombu", "rabbit"),
        ("heat.openstack.common.rpc.impl_kombu", "rabbit"),
        ("nova.rpc.impl_kombu", "rabbit"),
        ("impl_kombu", "rabbit"),
        ("nova.openstack.common.rpc.impl_qpid", "amqp1"),
        ("nova.rpc.impl_qpid", "amqp1"),
        ("impl_qpid", "amqp1"),
        ("qpid", "amqp1"),
        ("amqp", "amqp1"),
        ("quantum.openstack.common.rpc.impl_zmq", "zmq"),
        ("nova.rpc.impl_zmq", "zmq"),
        ("impl_zmq", "zmq"),
        ("ceilometer.openstack.common.rpc.impl_fake", "fake"),
        ("nova.rpc.impl_fake", "fake"),
        ("impl_fake", "fake"),
    ],
)
def test_legacy_names_resolve(name: str, driver: str) -> None:
    assert registry.legacy_driver_name(name) == driver
    assert resolve_driver_name(name) == driver
    assert resolve_driver_name(f"  {name} ") == driver


@pytest.mark.parametrize(
    "name",
    ["kombu", "rabbit", "foo", "mycompany.rpc.impl_kombu", "nova.rpc.qpid", "impl_other",
     "nova.openstack.common.rpc.impl_other", "openstack.common.rpc", "impl_kombu.x", ""],
)
def test_not_legacy_names(name: str) -> None:
    assert registry.legacy_driver_name(name) is None


@pytest.mark.parametrize(
    ("name", "driver"),
    [
        ("fake", "fake"),
        ("rabbit", "rabbit"),
        ("kombu", "kombu"),  # a real driver name, not an alias
        ("amqp1", "amqp1"),
        ("zmq", "zmq"),
        ("kombu+memory", "kombu"),
        ("rabbit+whatever", "rabbit"),
        ("unknown", "unknown"),
        ("nova.openstack.common.rpc.impl_kombu", "rabbit"),
    ],
)
def test_resolve_driver_name(name: str, driver: str) -> None:
    assert resolve_driver_name(name) == driver


def test_app_aliases() -> None:
    aliases = {"mybus": "fake", "old": "nova.openstack.common.rpc.impl_kombu",
               "rabbit": "kombu", "special+x": "zmq", "loop": "old"}
    assert resolve_driver_name("mybus", aliases) == "fake"
    assert resolve_driver_name("mybus+tls", aliases) == "fake"
    assert resolve_driver_name("old", aliases) == "rabbit"  # chains into the table once
    assert resolve_driver_name("rabbit", aliases) == "kombu"  # applied before known names
    assert resolve_driver_name("special+x", aliases) == "zmq"  # whole name first
    assert resolve_driver_name("loop", aliases) == "old"  # aliases are applied only once
    assert resolve_driver_name("fake", aliases) == "fake"
    assert resolve_driver_name("mybus", {}) == "mybus"


def test_entry_point_names_are_known(monkeypatch: pytest.MonkeyPatch) -> None:
    _use_entry_points(monkeypatch, impl_kombu="collections:OrderedDict")
    # A driver registered under a legacy name is taken as that driver.
    assert resolve_driver_name("impl_kombu") == "impl_kombu"


# ------------------------------------------------------------ discovery

def test_available_drivers_builtin_only() -> None:
    assert available_drivers() == registry.BUILTIN_DRIVERS


def test_entry_points_add_names_and_builtins_win(monkeypatch: pytest.MonkeyPatch) -> None:
    _use_entry_points(monkeypatch, fake="elsewhere:Fake", thirdparty="tp.mod:Driver")
    drivers = available_drivers()
    assert drivers["fake"] == registry.BUILTIN_DRIVERS["fake"]
    assert drivers["thirdparty"] == "tp.mod:Driver"


def test_available_drivers_is_cached_and_a_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def discover() -> dict[str, str]:
        calls.append(1)
        return {"x": "m:X"}

    monkeypatch.setattr(registry, "_entry_point_drivers", discover)
    registry.clear_cache()
    first = available_drivers()
    first["y"] = "mutated"
    assert available_drivers() == {"x": "m:X", **registry.BUILTIN_DRIVERS}
    assert len(calls) == 1
    registry.clear_cache()
    available_drivers()
    assert len(calls) == 2


def test_broken_entry_point_metadata_keeps_builtins(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*, group: str) -> list[EntryPoint]:
        raise RuntimeError("bad metadata")

    monkeypatch.setattr(registry, "entry_points", broken)
    monkeypatch.setattr(registry, "_entry_point_drivers", ORIGINAL_ENTRY_POINT_DRIVERS)
    registry.clear_cache()
    assert available_drivers() == registry.BUILTIN_DRIVERS


def test_real_entry_points_are_read() -> None:
    # Whatever is installed, reading the group works and built-ins are present.
    registry.clear_cache()
    drivers = ORIGINAL_ENTRY_POINT_DRIVERS()
    assert isinstance(drivers, dict)


# ------------------------------------------------------------ loading

def test_load_builtin_like_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_DRIVERS, "odict", "collections:OrderedDict")
    registry.clear_cache()
    assert load_driver_class("odict") is collections.OrderedDict
    assert load_driver_class("odict+anything") is collections.OrderedDict
    assert load_driver_class("bus", aliases={"bus": "odict"}) is collections.OrderedDict


def test_load_dotted_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_DRIVERS, "nested", f"{__name__}:Outer.Inner")
    registry.clear_cache()
    assert load_driver_class("nested") is Outer.Inner


class Outer:
    class Inner:
        pass


def test_load_from_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    _use_entry_points(monkeypatch, thirdparty="collections:Counter")
    assert load_driver_class("thirdparty") is collections.Counter


def test_loading_imports_only_the_asked_driver(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pkg = tmp_path / "regtest_drivers"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in ("impl_a", "impl_b"):
        (pkg / f"{name}.py").write_text(f"class Driver:\n    name = {name!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for mod in ("regtest_drivers", "regtest_drivers.impl_a", "regtest_drivers.impl_b"):
        monkeypatch.delitem(sys.modules, mod, raising=False)
    monkeypatch.setitem(registry.BUILTIN_DRIVERS, "a", "regtest_drivers.impl_a:Driver")
    monkeypatch.setitem(registry.BUILTIN_DRIVERS, "b", "regtest_drivers.impl_b:Driver")
    registry.clear_cache()

    available_drivers()
    resolve_driver_name("a")
    assert "regtest_drivers.impl_a" not in sys.modules
    cls = load_driver_class("a")
    assert cls.__dict__["name"] == "impl_a"
    assert "regtest_drivers.impl_a" in sys.modules
    assert "regtest_drivers.impl_b" not in sys.modules


def test_importing_registry_imports_no_driver_module() -> None:
    code = textwrap.dedent("""
        import sys
        from legacy_rpc.messaging.drivers import registry
        registry.available_drivers()
        registry.resolve_driver_name("nova.openstack.common.rpc.impl_kombu")
        try:
            registry.load_driver_class("no_such_driver")  # fails, importing nothing
        except registry.DriverLoadFailure:
            pass
        print(sorted(m for m in sys.modules if "impl_" in m or m in ("kombu", "zmq", "proton")))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True,
                         capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# ------------------------------------------------------------ load errors

def test_unknown_name_lists_known_drivers() -> None:
    with pytest.raises(DriverLoadFailure) as info:
        load_driver_class("foo")
    exc = info.value
    assert isinstance(exc, MessagingException)
    assert exc.driver == "foo"
    assert isinstance(exc.ex, LookupError)
    text = str(exc)
    assert "Unknown messaging driver 'foo' (from 'foo')" in text
    assert "Known drivers: amqp1, fake, kombu, rabbit, zmq;" in text
    assert "'<project>.openstack.common.rpc.impl_kombu' are accepted too." in text
    assert "Did you mean" not in text


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("rabit", "rabbit"), ("fak", "fake"), ("amqp2", "amqp1"), ("impl_kombo", "rabbit"),
     ("nova.openstack.common.rpc.impl_kombo", "rabbit"), ("zqm", "zmq")],
)
def test_unknown_name_did_you_mean(name: str, suggestion: str) -> None:
    with pytest.raises(DriverLoadFailure) as info:
        load_driver_class(name)
    assert f"Did you mean {suggestion!r}?" in str(info.value)
    assert f"(from {name!r})" in str(info.value)


def test_unknown_name_after_alias_shows_original() -> None:
    with pytest.raises(DriverLoadFailure) as info:
        load_driver_class("bus", aliases={"bus": "nothere"})
    assert "Unknown messaging driver 'nothere' (from 'bus')" in str(info.value)


@pytest.mark.parametrize(
    ("name", "driver", "extra"),
    [("zmq", "zmq", "zmq"), ("impl_zmq", "zmq", "zmq"), ("rabbit", "rabbit", "rabbit"),
     ("kombu+memory", "kombu", "rabbit"), ("nova.rpc.impl_kombu", "rabbit", "rabbit"),
     ("qpid", "amqp1", "amqp1")],
)
def test_extras_driver_not_installed(name: str, driver: str, extra: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # py-amqp is installed here: make it look missing, as without the 'rabbit' extra.
    monkeypatch.setitem(sys.modules, "amqp", None)
    for module in [m for m in sys.modules if m.startswith(
            ("legacy_rpc.messaging.drivers.impl_rabbit", "legacy_rpc.messaging.drivers.rabbit"))]:
        monkeypatch.delitem(sys.modules, module)
    with pytest.raises(DriverLoadFailure) as info:
        load_driver_class(name)
    assert info.value.driver == driver
    assert isinstance(info.value.ex, ImportError)
    assert (f"The {driver!r} driver is not installed: pip install 'legacy-rpc[{extra}]'"
            in str(info.value))


def test_extras_driver_import_error_is_included(monkeypatch: pytest.MonkeyPatch) -> None:
    _use_entry_points(monkeypatch, zmq="legacy_rpc_no_such_module_xyz.impl_zmq:ZmqDriver")
    with pytest.raises(DriverLoadFailure) as info:
        load_driver_class("zmq")
    text = str(info.value)
    assert "pip install 'legacy-rpc[zmq]'" in text
    assert "No module named 'legacy_rpc_no_such_module_xyz'" in text
    assert isinstance(info.value.__cause__, ImportError)


def test_import_error_of_other_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_DRIVERS, "mine", "no_such_module_xyz:Driver")
    registry.clear_cache()
    with pytest.raises(DriverLoadFailure) as info:
        load_driver_class("mine")
    assert isinstance(info.value.ex, ModuleNotFoundError)
    assert "No module named 'no_such_module_xyz'" in str(info.value)
    assert "pip install" not in str(info.value)


def test_broken_driver_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "regtest_broken.py").write_text("raise RuntimeError('driver exploded')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "regtest_broken", raising=False)
    monkeypatch.setitem(registry.BUILTIN_DRIVERS, "broken", "regtest_broken:Driver")
    registry.clear_cache()
    with pytest.raises(DriverLoadFailure, match="driver exploded"):
        load_driver_class("broken")


def test_missing_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_DRIVERS, "missing", "collections:NoSuchDriver")
    registry.clear_cache()
    with pytest.raises(DriverLoadFailure) as info:
        load_driver_class("missing")
    assert isinstance(info.value.ex, AttributeError)
    assert "'collections:NoSuchDriver' names no existing object" in str(info.value)


def test_not_a_class(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_DRIVERS, "func", "collections:namedtuple")
    registry.clear_cache()
    with pytest.raises(DriverLoadFailure) as info:
        load_driver_class("func")
    assert isinstance(info.value.ex, TypeError)
    assert "not a driver class" in str(info.value)


@pytest.mark.parametrize("target", ["collections.OrderedDict", "collections:", ":OrderedDict"])
def test_malformed_target(monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    monkeypatch.setitem(registry.BUILTIN_DRIVERS, "bad", target)
    registry.clear_cache()
    with pytest.raises(DriverLoadFailure, match="not of the form 'module:attr'"):
        load_driver_class("bad")


def test_driver_load_failure_shape() -> None:
    cause = ValueError("boom")
    exc = DriverLoadFailure("rabbit", cause)
    assert exc.driver == "rabbit" and exc.ex is cause
    assert str(exc) == "Could not load messaging driver 'rabbit': boom"


def test_own_legacy_backend_paths_are_aliases() -> None:
    assert resolve_driver_name("legacy_rpc.rpc.impl_kombu") == "rabbit"
    assert resolve_driver_name("legacy_rpc.rpc.impl_fake") == "fake"


def test_alias_may_name_a_driver_class() -> None:
    cls = load_driver_class("mine", aliases={"mine": "collections:OrderedDict"})
    assert cls is collections.OrderedDict
    with pytest.raises(DriverLoadFailure):
        load_driver_class("mine", aliases={"mine": "os.path:sep"})


def test_register_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_registered", {})
    registry.register_driver("ordered", "collections:OrderedDict")
    assert load_driver_class("ordered") is collections.OrderedDict
    with pytest.raises(ValueError):
        registry.register_driver("fake", "collections:OrderedDict")
    with pytest.raises(ValueError):
        registry.register_driver("bad", "no_colon_here")
    registry.clear_cache()

"""Packaging metadata: entry points, extras and the typing marker."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    tomllib = pytest.importorskip("tomli")

REPO_ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = REPO_ROOT / "pyproject.toml"


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    with PYPROJECT.open("rb") as f:
        data: dict[str, Any] = tomllib.load(f)
    proj: dict[str, Any] = data["project"]
    return proj


def test_distribution_name_and_python(project: dict[str, Any]) -> None:
    assert project["name"] == "legacy-rpc"
    assert project["requires-python"] == ">=3.10"
    assert "Typing :: Typed" in project["classifiers"]


def test_console_script(project: dict[str, Any]) -> None:
    assert project["scripts"]["legacy-rpc"] == "legacy_rpc.cli:main"


def test_driver_entry_points(project: dict[str, Any]) -> None:
    drivers = project["entry-points"]["legacy_rpc.drivers"]
    assert drivers["fake"] == "legacy_rpc.messaging.drivers.impl_fake:FakeDriver"


def test_pytest_plugin_entry_point(project: dict[str, Any]) -> None:
    assert project["entry-points"]["pytest11"]["legacy_rpc"] == "legacy_rpc.testing.pytest_plugin"


def test_extras_keep_drivers_and_test_tools_apart(project: dict[str, Any]) -> None:
    extras = project["optional-dependencies"]
    for name in ("rabbit", "amqp1", "zmq", "test", "all"):
        assert name in extras, name
    assert not any(dep.startswith(("kombu", "amqp", "pyzmq")) for dep in extras["test"])
    assert any(dep.startswith("amqp") for dep in extras["rabbit"])


def test_py_typed_marker_exists() -> None:
    assert (REPO_ROOT / "legacy_rpc" / "py.typed").is_file()


def test_installed_metadata_matches() -> None:
    """When installed (e.g. editable by tools/run_tests.sh), the entry points are live."""
    try:
        dist = metadata.distribution("legacy-rpc")
    except metadata.PackageNotFoundError:
        pytest.skip("legacy-rpc is not installed in this environment")
    eps = {(ep.group, ep.name): ep.value for ep in dist.entry_points}
    assert eps[("legacy_rpc.drivers", "fake")] == (
        "legacy_rpc.messaging.drivers.impl_fake:FakeDriver"
    )
    assert eps[("console_scripts", "legacy-rpc")] == "legacy_rpc.cli:main"
    assert eps[("pytest11", "legacy_rpc")] == "legacy_rpc.testing.pytest_plugin"

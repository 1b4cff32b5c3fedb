"""The example legacy service (migration_guide/examples/inventory) runs, unchanged, on fake
and on RabbitMQ, in a process of its own: plain, and with eventlet monkey-patching first."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from legacy_rpc.messaging.transport import TransportURL
from tests.legacy.conftest import CONF, Janitor

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "migration_guide" / "examples"

EXPECTED = {
    "add": [3, 5, 1],
    "get": {"host": "node1", "name": "apple", "quantity": 5},
    "list": [{"name": "apple", "quantity": 5}, {"name": "pear", "quantity": 1}],
    "missing": "plum",
    "notifications": ["inventory.item.added"] * 3 + ["inventory.item.removed"],
    "pinged": True,
    "removed": True,
    "unsupported": "UnsupportedRpcVersion",
}

EVENTLET_FIRST = ("import eventlet; eventlet.monkey_patch()\n"
                  "import runpy, sys\n"
                  "sys.argv[0] = 'inventory.service'\n"
                  "runpy.run_module('inventory.service', run_name='__main__')\n")


def _config(tmp_path: Path, backend: str, rabbit_url: str | None, janitor: Janitor) -> Path:
    name = f"inv-{uuid.uuid4().hex[:10]}"
    lines = ["[DEFAULT]", "host = node1", f"inventory_topic = {name}",
             f"control_exchange = {name}-x", f"notification_topics = {name}-notifications",
             "notification_driver = nova.openstack.common.notifier.rpc_notifier",
             f"rpc_backend = nova.openstack.common.rpc.impl_{backend}"]
    if rabbit_url is not None:
        url = TransportURL.parse(CONF, rabbit_url)
        host = url.hosts[0]
        lines += [f"rabbit_host = {host.hostname}", f"rabbit_port = {host.port or 5672}",
                  f"rabbit_userid = {host.username or 'guest'}",
                  f"rabbit_password = {host.password or 'guest'}",
                  f"rabbit_virtual_host = {url.virtual_host or '/'}"]
        janitor.url = rabbit_url
        janitor.queues.update([name, f"{name}.node1", f"{name}-audit",
                               f"{name}-notifications.info"])
        janitor.exchanges.update([f"{name}-x", f"{name}_fanout"])
    path = tmp_path / "inventory.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(config: Path, eventlet_first: bool) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(EXAMPLES)]),
               PYTHONWARNINGS="ignore")
    argv = ([sys.executable, "-c", EVENTLET_FIRST] if eventlet_first
            else [sys.executable, "-m", "inventory.service"])
    proc = subprocess.run([*argv, "--config-file", str(config)], cwd=EXAMPLES, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"the example failed:\n{proc.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("backend", ["fake", "kombu"])
def test_example_service_runs(request: pytest.FixtureRequest, tmp_path: Path,
                              janitor: Janitor, backend: str) -> None:
    rabbit_url = request.getfixturevalue("rabbit_url") if backend == "kombu" else None
    assert _run(_config(tmp_path, backend, rabbit_url, janitor), False) == EXPECTED


@pytest.mark.parametrize("backend", ["fake", "kombu"])
def test_example_service_runs_under_eventlet(request: pytest.FixtureRequest, tmp_path: Path,
                                             janitor: Janitor, backend: str) -> None:
    pytest.importorskip("eventlet")
    rabbit_url = request.getfixturevalue("rabbit_url") if backend == "kombu" else None
    assert _run(_config(tmp_path, backend, rabbit_url, janitor), True) == EXPECTED


# The drop-in import lines: the only places where the example names legacy_rpc.
_DROP_IN = re.compile(r"^from legacy_rpc(\.rpc|\.notifier)? import \w+( as \w+)?$")


def _docstring_lines(text: str) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            end = body[0].end_lineno or body[0].lineno
            lines.update(range(body[0].lineno, end + 1))
    return lines


def test_example_only_imports_changed() -> None:
    """Every mention of legacy_rpc in the example is a drop-in import line, i.e. the code
    is the old service's with ``nova.openstack.common`` replaced in its imports (and the
    module paths of its config file are the old ones)."""
    sources = sorted((EXAMPLES / "inventory").glob("*.py"))
    assert len(sources) == 4
    for path in sources:
        text = path.read_text()
        docstrings = _docstring_lines(text)
        for number, line in enumerate(text.splitlines(), 1):
            if "legacy_rpc" in line and number not in docstrings:
                assert _DROP_IN.match(line) or "import_opt(" in line, f"{path.name}:{number}"
    sample = (EXAMPLES / "inventory.conf.sample").read_text()
    assert "legacy_rpc" not in sample and "nova.openstack.common.rpc.impl_kombu" in sample

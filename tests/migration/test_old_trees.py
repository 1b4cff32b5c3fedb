"""Scan and migrate on Python 2 trees of the Essex and Havana eras (issue 12, items 6-9).

``old_trees/essex``: ``nova/rpc/`` and ``nova/notifier/`` are the legacy implementation;
``old_trees/havana``: ``nova/rpc.py`` and ``nova/notifier.py`` are the project's own shims
over oslo.messaging, ``nova/openstack/common/rpc/`` the vendored incubator copy.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

from tests.migration.conftest import OLD_TREES, Run


def _scan(run: Run, path: Path) -> tuple[int, dict[str, Any]]:
    code, out, _ = run("scan", str(path), "--json")
    return code, json.loads(out)


def _files(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in data["files"]}


def test_python2_files_are_scanned_not_errors(old_trees: Path, run: Run) -> None:
    code, data = _scan(run, old_trees)
    assert code == 1  # legacy usage, not "could not be scanned"
    assert data["totals"]["errors"] == 0
    assert data["totals"]["python2"] == 4
    files = _files(data)
    rpcapi = files["havana/nova/compute/rpcapi.py"]
    assert rpcapi["kind"] == "python2"
    assert rpcapi["python2"] == "except E, e: (line 35)"
    assert rpcapi["status"] == "legacy-imports"
    assert "then port it to Python 3 (for example 2to3 -w FILE, then pyupgrade)" in \
        rpcapi["next"]
    # Call sites of Python 2 files are found from tokens.
    kinds = [(f["line"], f["kind"]) for f in files["essex/nova/scheduler/api.py"]["findings"]]
    assert kinds == [(3, "legacy-import"), (4, "legacy-import"), (5, "legacy-import"),
                     (13, "rpc-call"), (20, "notifier"), (22, "rpc-call"), (26, "consumer"),
                     (27, "consumer"), (28, "consumer")]
    assert any("port the 4 Python 2 file(s) to Python 3" in step
               for step in data["next_steps"])


def test_legacy_implementations_are_vendored_own_modules_are_not(old_trees: Path,
                                                                  run: Run) -> None:
    files = _files(_scan(run, old_trees)[1])
    for vendored in ("essex/nova/rpc", "essex/nova/notifier",
                     "havana/nova/openstack/common/rpc",
                     "havana/nova/openstack/common/notifier"):
        assert files[vendored]["status"] == "vendored", vendored
    # The project's own shims are scanned like any module, and are clean.
    assert "havana/nova/rpc.py" not in files and "havana/nova/notifier.py" not in files
    conductor = files["havana/nova/conductor/api.py"]["findings"]
    assert [(f["line"], f["kind"]) for f in conductor] == [(4, "legacy-import"),
                                                           (10, "notifier")]


def test_plain_dotted_import_is_rewritten_with_its_references(old_trees: Path,
                                                              run: Run) -> None:
    rpcapi = old_trees / "havana" / "nova" / "compute" / "rpcapi.py"
    before = rpcapi.read_text()
    code, _, err = run("migrate", str(old_trees), "--write")
    assert code == 0
    after = rpcapi.read_text()
    assert "import legacy_rpc.rpc.proxy\nfrom nova import rpc\n" in after
    assert "class ComputeAPI(legacy_rpc.rpc.proxy.RpcProxy):" in after
    assert "topic=legacy_rpc.rpc.queue_get_for(ctxt, CONF.compute_topic," in after
    assert "        legacy_rpc.rpc.proxy.RpcProxy.cast(self, ctxt," in after
    # The docstring and the project's own nova.rpc are left as they were.
    assert "Uses nova.openstack.common.rpc.proxy.RpcProxy (this docstring" in after
    assert "self.client = rpc.get_client(None)" in after
    # Nothing else changed: the old text comes back by undoing the four replacements.
    restored = after.replace("import legacy_rpc.rpc.proxy",
                             "import nova.openstack.common.rpc.proxy")
    restored = restored.replace("legacy_rpc.rpc.", "nova.openstack.common.rpc.")
    assert restored == before
    assert f"{rpcapi}: Python 2 source (except E, e: (line 35)): port it to Python 3" in err


def test_own_shims_are_left_alone_essex_package_is_rewritten(old_trees: Path,
                                                             run: Run) -> None:
    havana = old_trees / "havana" / "nova"
    own = {p: p.read_bytes() for p in (havana / "rpc.py", havana / "notifier.py",
                                       havana / "conductor" / "api.py")}
    run("migrate", str(old_trees), "--write")
    conductor = (havana / "conductor" / "api.py").read_text()
    assert "from nova import notifier\nfrom legacy_rpc.notifier import api as notifier_api\n" \
        in conductor
    assert (havana / "rpc.py").read_bytes() == own[havana / "rpc.py"]
    assert (havana / "notifier.py").read_bytes() == own[havana / "notifier.py"]
    essex = (old_trees / "essex" / "nova" / "scheduler" / "api.py").read_text()
    assert ("from nova import flags\nfrom legacy_rpc import rpc\n"
            "from legacy_rpc.notifier import api as notifier\n"
            "from legacy_rpc.rpc import common as rpc_common\n") in essex
    # The vendored legacy packages themselves are not rewritten.
    vendored = (old_trees / "essex" / "nova" / "rpc" / "__init__.py").read_text()
    assert vendored == (OLD_TREES / "essex" / "nova" / "rpc" / "__init__.py").read_text()


def test_strings_naming_legacy_modules_are_rewritten(old_trees: Path, run: Run) -> None:
    run("migrate", str(old_trees), "--write")
    checks = (old_trees / "havana" / "nova" / "tests" / "compute_rpcapi_checks.py").read_text()
    for line in ("CONF.import_opt('rpc_backend', 'legacy_rpc.rpc')",
                 "CONF.import_opt('notification_driver', \"legacy_rpc.notifier.api\")",
                 "kombu = importutils.try_import('legacy_rpc.rpc.impl_kombu')",
                 "    @mock.patch('legacy_rpc.rpc.call')",
                 "    @mock.patch('legacy_rpc.rpc.proxy.RpcProxy.cast')",
                 # the project's own module, a comment and a sentence stay as they were
                 "shim = importutils.import_module('nova.rpc')",
                 "        # 'nova.openstack.common.rpc.cast' in a comment stays as it is",
                 "'not a module path: nova.openstack.common.rpc.cast'"):
        assert line in checks, line
    essex = (old_trees / "essex" / "nova" / "tests" / "scheduler_checks.py").read_text()
    assert "@mock.patch('legacy_rpc.notifier.api.notify')" in essex


def test_migrate_converges(old_trees: Path, run: Run) -> None:
    """After migrate --write, scan no longer asks for it and migrate changes nothing."""
    assert run("migrate", str(old_trees), "--write")[0] == 0
    code, data = _scan(run, old_trees)
    assert code == 1  # call sites and Python 2 files are left
    assert data["totals"]["fixable"] == 0
    assert not any("migrate" in step for step in data["next_steps"])
    assert not any("migrate" in f["next"] for f in data["files"])
    assert {f["status"] for f in data["files"]} == {"vendored", "python2", "legacy-api"}
    assert run("scan", str(old_trees), "--fail-on", "imports")[0] == 0
    before = {p: p.read_bytes() for p in old_trees.rglob("*.py")}
    code, out, err = run("migrate", str(old_trees), "--write")
    assert (code, out) == (0, "")
    assert "rewrote 0 file(s)" in err
    assert {p: p.read_bytes() for p in old_trees.rglob("*.py")} == before


_LEGACY_RPC_NAME = re.compile(r"legacy_rpc(?:\.\w+)+")


def _resolves(dotted: str) -> bool:
    """Whether ``dotted`` names a module or an attribute reachable from one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                target = getattr(target, attr)
        except AttributeError:
            return False
        return True
    return False


def test_every_rewritten_name_exists_in_legacy_rpc(old_trees: Path, run: Run) -> None:
    run("migrate", str(old_trees), "--write")
    written = {name for path in old_trees.rglob("*.py")
               for name in _LEGACY_RPC_NAME.findall(path.read_text())}
    assert len(written) >= 10
    assert {name for name in written if not _resolves(name)} == set()

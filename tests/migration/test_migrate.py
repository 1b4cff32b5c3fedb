"""``legacy-rpc migrate``: the drop-in step on the sample tree, and on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from legacy_rpc.migration.rewriter import rewrite_source
from tests.migration.conftest import ESSEX_RPC, SAMPLE_TREE, Run, broken_files


def _texts(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*.py")) if not p.is_symlink()}


def test_diff_without_write_changes_nothing(tree: Path, run: Run) -> None:
    before = _texts(tree)
    code, out, err = run("migrate", str(tree))
    assert code == 0
    assert _texts(tree) == before
    assert "--- a/acme/service.py\n+++ b/acme/service.py\n" in out
    assert "\n-from acme.openstack.common import rpc\n" in out
    assert "\n+from legacy_rpc import rpc\n" in out
    assert "\n-from nova.rpc import common as rpc_common\n" in out
    assert "\n+from legacy_rpc.rpc import common as rpc_common\n" in out
    assert "+import legacy_rpc.rpc.proxy as rpc_proxy\n" in out
    assert "+CONF.import_opt('notification_topics', 'legacy_rpc.notifier.rpc_notifier')" in out
    assert "would rewrite 5 file(s); 0 left untouched" in err
    assert "+    @mock.patch('legacy_rpc.rpc.call')\n" in out
    assert "openstack/common" not in "".join(
        line for line in out.splitlines(keepends=True) if line.startswith(("---", "+++")))


def test_write_keeps_comments_and_is_idempotent(tree: Path, run: Run) -> None:
    code, out, err = run("migrate", str(tree), "--write")
    assert code == 0
    assert f"rewrote {tree / 'acme' / 'widget' / 'manager.py'}" in out
    manager = (tree / "acme" / "widget" / "manager.py").read_text()
    assert "from legacy_rpc.notifier import api as notifier_api  # publishes widget.*\n" \
        in manager
    original = (SAMPLE_TREE / "acme" / "widget" / "manager.py").read_text()
    assert manager.replace("legacy_rpc.notifier", "acme.openstack.common.notifier") == original
    after = _texts(tree)
    code, out, err = run("migrate", str(tree))
    assert (code, out) == (0, "")
    assert "would rewrite 0 file(s)" in err
    run("migrate", str(tree), "--write")
    assert _texts(tree) == after


def test_rewritten_sample_tree_runs_on_fake(tree: Path, run: Run) -> None:
    assert run("migrate", str(tree), "--write")[0] == 0
    conf = tree / "etc" / "acme" / "acme.conf"
    fake_conf = tree / "fake.conf"
    # The legacy impl_fake module path of the project still names a backend (alias table).
    fake_conf.write_text(conf.read_text().replace("impl_kombu", "impl_fake"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), *sys.path])}
    proc = subprocess.run([sys.executable, "-m", "acme.service", "--config-file",
                           str(fake_conf)], cwd=tree, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"audited": True, "created": {"host": "widget-1", "name": "gear",
                                                   "size": 3},
                      "deleted": True, "direct": {"name": "cog", "size": 1},
                      "got": {"name": "gear", "size": 3}, "listed": ["gear"],
                      "missing": "sprocket"}


def test_unmigrated_sample_tree_does_not_import(tree: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), *sys.path])}
    proc = subprocess.run([sys.executable, "-c", "import acme.service"], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "run 'legacy-rpc migrate'" in proc.stderr


def test_bad_files_are_left_untouched(tree: Path, run: Run) -> None:
    files = broken_files(tree)
    syntax_before = files["syntax"].read_bytes()
    latin_before = files["undecodable"].read_bytes()
    code, _, err = run("migrate", str(tree), "--write")
    assert code == 1
    assert f"{files['syntax']}: left untouched: syntax error at line 2: invalid syntax" in err
    assert f"{files['dangling']}: left untouched: cannot read" in err
    assert f"{files['undecodable']}: left untouched: cannot decode" in err
    assert "rewrote 5 file(s); 3 left untouched because of errors" in err
    assert files["syntax"].read_bytes() == syntax_before
    assert files["undecodable"].read_bytes() == latin_before


def test_missing_path(tmp_path: Path, run: Run) -> None:
    code, _, err = run("migrate", str(tmp_path / "nope"))
    assert code == 2 and "no such file or directory" in err


def test_mixed_and_plain_imports(tmp_path: Path, run: Run) -> None:
    essex = tmp_path / "nova" / "rpc"
    essex.mkdir(parents=True)
    (tmp_path / "nova" / "__init__.py").write_text("")
    (essex / "__init__.py").write_text(ESSEX_RPC)
    source = tmp_path / "mod.py"
    source.write_text(
        "import nova.rpc\n"
        "from nova.openstack.common import log as logging, rpc  # mixed\n"
        "from nova.openstack.common.rpc import (common,\n"
        "                                       proxy)\n"
        "if True:\n"
        "    from nova import exception, rpc as nova_rpc\n"
        "nova.rpc.cast(None, 'topic', {'method': 'f'})  # nova.rpc.cast\n"
        "NotFound = nova.exception.NotFound\n")
    code, _, err = run("migrate", str(source), "--write")
    assert code == 0
    assert source.read_text() == (
        "import nova, legacy_rpc.rpc\n"  # 'nova' is still used: kept bound
        "from nova.openstack.common import log as logging\n"
        "from legacy_rpc import rpc  # mixed\n"
        "from legacy_rpc.rpc import (common,\n"
        "                                       proxy)\n"
        "if True:\n"
        "    from nova import exception\n"
        "    from legacy_rpc import rpc as nova_rpc\n"
        "legacy_rpc.rpc.cast(None, 'topic', {'method': 'f'})  # nova.rpc.cast\n"
        "NotFound = nova.exception.NotFound\n")
    assert "0 import(s) to change by hand" in err


def test_rewrite_keeps_crlf_and_other_code() -> None:
    source = "# -*- coding: utf-8 -*-\r\nfrom cinder.openstack.common import rpc\r\nx = 'é'\r\n"
    result = rewrite_source(source)
    assert result.text == "# -*- coding: utf-8 -*-\r\nfrom legacy_rpc import rpc\r\nx = 'é'\r\n"
    assert [(c.line, c.before, c.after) for c in result.changes] == [
        (2, "from cinder.openstack.common import rpc", "from legacy_rpc import rpc")]


def test_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    import shutil

    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE_TREE, tree)
    pipeline = subprocess.run(
        f"{sys.executable} -m legacy_rpc.cli migrate {tree} | head -1",
        shell=True, capture_output=True, text=True, timeout=60, check=False)
    assert "Traceback" not in pipeline.stderr
    assert pipeline.stdout.startswith("---")


def test_rewritten_patch_targets_take_effect(tree: Path, run: Run) -> None:
    """The sample's unit checks patch 'acme.openstack.common.rpc.call' by name: once the
    strings are rewritten with the imports, the patches hit the code under test."""
    assert run("migrate", str(tree), "--write")[0] == 0
    checks = (tree / "acme" / "tests" / "widget_checks.py").read_text()
    assert "@mock.patch('legacy_rpc.rpc.proxy.RpcProxy.cast')" in checks
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), *sys.path])}
    proc = subprocess.run([sys.executable, "-m", "unittest", "-v", "acme.tests.widget_checks"],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Ran 3 tests" in proc.stderr and "OK" in proc.stderr

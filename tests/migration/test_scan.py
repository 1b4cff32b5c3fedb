"""``legacy-rpc scan`` on the sample legacy tree and on bad input."""

from __future__ import annotations

import json
from pathlib import Path

from tests.migration.conftest import Run, broken_files


def test_report_per_file_and_total(tree: Path, run: Run) -> None:
    code, out, _ = run("scan", str(tree))
    assert code == 1
    assert "acme/service.py: legacy-imports" in out
    assert "14:1 legacy-import: from acme.openstack.common import rpc" in out
    assert "-> from legacy_rpc import rpc [migrate fixes it]" in out
    assert "conn.create_consumer(CONF.widget_topic, dispatcher, fanout=True)" in out
    assert "rpc-proxy: class WidgetAPI(rpc_proxy.RpcProxy):" in out
    assert "acme/scheduler_client.py: legacy-imports" in out  # nova.rpc
    assert "notifier: notifier_api.notify(" in out
    assert "etc/acme/acme.conf: legacy-config" in out
    assert "rpc-backend: [DEFAULT] rpc_backend" in out
    assert "acme/openstack/common/rpc: vendored" in out
    assert "nova/rpc: vendored" in out  # the Essex package is the legacy implementation
    assert "30:41 legacy-string: self.assertIsNotNone(try_import('acme.openstack.common.rpc'))" \
        in out
    assert "-> 'legacy_rpc.rpc.proxy.RpcProxy.cast' [migrate fixes it]" in out
    assert ("Total: 16 files scanned, 9 with legacy usage, 0 Python 2, 0 could not be "
            "scanned; 41 findings, 13 fixed by 'legacy-rpc migrate'.") in out
    assert f"1. run: legacy-rpc migrate {tree} --write" in out
    # Options that are not about messaging are not reported.
    assert "[database]" not in out and "debug" not in out


def test_json_schema(tree: Path, run: Run) -> None:
    code, out, _ = run("scan", str(tree), "--json")
    data = json.loads(out)
    assert code == data["exit_code"] == 1
    assert data["schema"] == 1 and data["root"] == str(tree)
    assert set(data["totals"]) == {"files_scanned", "files_with_legacy", "errors", "python2",
                                   "findings", "fixable", "by_kind", "by_status"}
    assert data["totals"]["by_kind"]["legacy-import"] == 8
    assert data["totals"]["by_kind"]["consumer"] == 5
    assert data["totals"]["by_kind"]["legacy-string"] == 3
    files = {f["path"]: f for f in data["files"]}
    service = files["acme/service.py"]
    assert set(service) == {"path", "kind", "status", "error", "python2", "next", "findings"}
    assert service["status"] == "legacy-imports" and service["error"] is None
    first = service["findings"][0]
    assert set(first) == {"line", "col", "kind", "code", "advice", "fixable"}
    assert (first["line"], first["kind"], first["fixable"]) == (14, "legacy-import", True)
    assert "acme/exception.py" not in files  # clean files are counted, not listed


def test_exit_status_follows_the_migration(tree: Path, run: Run) -> None:
    assert run("scan", str(tree), "--fail-on", "imports")[0] == 1
    assert run("migrate", str(tree), "--write")[0] == 0
    # The drop-in step is done: no legacy import is left, the call sites still are legacy.
    assert run("scan", str(tree), "--fail-on", "imports")[0] == 0
    code, out, _ = run("scan", str(tree / "acme"))
    assert code == 1
    assert "acme/service.py: legacy-api" not in out  # paths are relative to the root
    assert "service.py: legacy-api" in out
    assert "move call sites to the new-style API one at a time" in out
    assert run("scan", str(tree), "--fail-on", "never")[0] == 0


def test_clean_tree_exits_0(tmp_path: Path, run: Run) -> None:
    (tmp_path / "app.py").write_text("from legacy_rpc import messaging\n")
    code, out, _ = run("scan", str(tmp_path))
    assert code == 0
    assert "nothing legacy is left" in out


def test_bad_files_are_reported_and_exit_2(tree: Path, run: Run) -> None:
    broken_files(tree)
    code, out, _ = run("scan", str(tree), "--json")
    assert code == 2
    files = {f["path"]: f for f in json.loads(out)["files"]}
    assert files["acme/broken.py"]["error"] == "syntax error at line 2: invalid syntax"
    assert "cannot read" in files["acme/gone.py"]["error"]
    assert "No such file or directory" in files["acme/gone.py"]["error"]
    assert "cannot decode" in files["acme/latin.py"]["error"]
    # The other files are still scanned.
    assert files["acme/service.py"]["status"] == "legacy-imports"


def test_missing_path(tmp_path: Path, run: Run) -> None:
    code, out, err = run("scan", str(tmp_path / "nope"))
    assert (code, out) == (2, "")
    assert "no such file or directory" in err


def test_unknown_option_in_config(tmp_path: Path, run: Run) -> None:
    conf = tmp_path / "svc.conf"
    conf.write_text("[DEFAULT]\nrabbit_hots = r1:5672\nverbose = true\n")
    code, out, _ = run("scan", str(conf))
    assert code == 1
    assert "unknown-option: [DEFAULT] rabbit_hots" in out
    assert "did you mean 'rabbit_hosts'?" in out

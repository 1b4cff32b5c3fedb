"""A module is legacy when the tree shows it is the legacy implementation, never from its
name alone (issue 12 item 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from legacy_rpc.migration.resolve import TreeResolver, Verdict, is_legacy_implementation
from tests.migration.conftest import ESSEX_RPC, Run

_SHIM = ("from oslo import messaging\n"
         "def call(context, topic, msg):\n    pass\n"
         "def cast(context, topic, msg):\n    pass\n"
         "def multicall(context, topic, msg):\n    pass\n")


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize(("files", "target", "kind", "legacy"), [
    ({"rpc/__init__.py": ESSEX_RPC}, "rpc", "rpc", True),
    ({"rpc.py": ESSEX_RPC}, "rpc.py", "rpc", True),
    # Defining the functions over a maintained core is a shim, not the implementation.
    ({"rpc.py": _SHIM}, "rpc.py", "rpc", False),
    ({"rpc.py": _SHIM.replace("from oslo import messaging", "import oslo_messaging")},
     "rpc.py", "rpc", False),
    ({"rpc.py": _SHIM.replace("from oslo import messaging", "from legacy_rpc import rpc")},
     "rpc.py", "rpc", False),
    ({"rpc.py": "def init(conf):\n    pass\ndef cleanup():\n    pass\n"}, "rpc.py", "rpc",
     False),
    ({"notifier/__init__.py": "",
      "notifier/api.py": "def notify(ctxt, pub, ev, prio, payload):\n    pass\n"
                         "def publisher_id(service, host=None):\n    pass\n"},
     "notifier", "notifier", True),
    ({"notifier.py": "def notify(context, message):\n    pass\n"}, "notifier.py", "notifier",
     False),
    ({"log_handler.py": "import logging\nclass PublishErrorsHandler(logging.Handler):\n"
                        "    pass\n"}, "log_handler.py", "log_handler", True),
    ({"rpc/__init__.py": "# empty\n"}, "rpc", "rpc", False),
    # A project's wrapper over its vendored copy is not the implementation either...
    ({"heat/common/rpc.py": "from heat.openstack.common import rpc as _rpc\n"
                            + ESSEX_RPC}, "heat/common/rpc.py", "rpc", False),
    # ...while the copy may import its own modules and other incubator modules.
    ({"nova/rpc/__init__.py": "from nova.rpc import common\nfrom nova import flags\n"
                              "from oslo.config import cfg\n" + ESSEX_RPC},
     "nova/rpc", "rpc", True),
    ({"x/openstack/common/log_handler.py":
      "from x.openstack.common import notifier\nclass PublishErrorsHandler(object):\n"
      "    pass\n"}, "x/openstack/common/log_handler.py", "log_handler", True),
])
def test_judged_by_content(tmp_path: Path, files: dict[str, str], target: str, kind: str,
                           legacy: bool) -> None:
    _write(tmp_path, files)
    assert is_legacy_implementation(tmp_path / target, kind) is legacy


def test_verdicts_follow_the_tree(tmp_path: Path) -> None:
    _write(tmp_path, {"essex/nova/__init__.py": "", "essex/nova/rpc/__init__.py": ESSEX_RPC,
                      "essex/nova/api/x.py": "",
                      "icehouse/nova/__init__.py": "", "icehouse/nova/rpc.py": _SHIM,
                      "icehouse/nova/api/x.py": "",
                      "other/app.py": ""})
    resolver = TreeResolver()
    essex = resolver.for_file(tmp_path / "essex" / "nova" / "api" / "x.py")
    icehouse = resolver.for_file(tmp_path / "icehouse" / "nova" / "api" / "x.py")
    other = resolver.for_file(tmp_path / "other" / "app.py")
    assert essex("nova.rpc.common.Timeout") == Verdict("legacy_rpc.rpc.common.Timeout")
    assert icehouse("nova.rpc") == Verdict(None)
    unknown = other("nova.rpc")
    assert unknown.dropin is None and unknown.note is not None
    assert "'nova.rpc' is not in this tree" in unknown.note
    # The incubator's path names its copy even when the copy is not in the tree...
    assert other("acme.openstack.common.rpc.proxy") == Verdict("legacy_rpc.rpc.proxy")
    # ...but a module at that path that is not the legacy implementation is left alone.
    _write(tmp_path, {"other/acme/__init__.py": "", "other/acme/openstack/__init__.py": "",
                      "other/acme/openstack/common/__init__.py": "",
                      "other/acme/openstack/common/rpc.py": _SHIM})
    assert TreeResolver().for_file(tmp_path / "other" / "app.py")(
        "acme.openstack.common.rpc") == Verdict(None)
    assert other("acme.openstack.common.jsonutils") == Verdict(None)


def test_unknown_module_is_listed_never_rewritten(tmp_path: Path, run: Run) -> None:
    source = tmp_path / "client.py"
    text = ("from nova import rpc\n"
            "import mock\n"
            "@mock.patch('nova.rpc.cast')\n"
            "def f(cast):\n"
            "    rpc.cast(None, 'topic', {'method': 'x'})\n")
    source.write_text(text)
    code, out, err = run("migrate", str(source), "--write")
    assert code == 0 and source.read_text() == text
    assert f"{source}:1: change by hand: 'nova.rpc' is not in this tree" in err
    assert f"{source}:3: change by hand: 'nova.rpc' is not in this tree" in err
    assert "2 import(s) to change by hand" in err
    code, out, _ = run("scan", str(tmp_path), "--json")
    data = json.loads(out)
    assert code == 1 and data["totals"]["fixable"] == 0
    (report,) = data["files"]
    assert report["status"] == "manual-imports"
    assert report["next"] == "change by hand what is marked 'not done automatically'"
    assert [f["kind"] for f in report["findings"]] == ["legacy-import", "legacy-string"]
    assert not any("migrate" in step for step in data["next_steps"])
    assert run("scan", str(tmp_path), "--fail-on", "imports")[0] == 1


def test_scanning_part_of_a_tree_still_finds_the_modules(tmp_path: Path, run: Run) -> None:
    _write(tmp_path, {"nova/__init__.py": "", "nova/rpc.py": _SHIM,
                      "nova/openstack/__init__.py": "",
                      "nova/openstack/common/__init__.py": "",
                      "nova/openstack/common/rpc/__init__.py": ESSEX_RPC,
                      "nova/compute/api.py": "from nova import rpc\n"
                                             "from nova.openstack.common import rpc as o\n"})
    code, out, _ = run("migrate", str(tmp_path / "nova" / "compute"), "--write")
    assert code == 0
    assert (tmp_path / "nova" / "compute" / "api.py").read_text() == (
        "from nova import rpc\nfrom legacy_rpc import rpc as o\n")
    code, out, _ = run("scan", str(tmp_path / "nova" / "openstack" / "common" / "rpc"))
    assert "rpc: vendored" in out

"""Python 2 source (issue 12 item 6): told from syntax errors, scanned and rewritten at the
token level, reported with the next step (port it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from legacy_rpc.migration.rewriter import python_version, rewrite_source
from tests.migration.conftest import Run

PY2_CONSTRUCTS = [
    ("print 'hello'\n", "a print statement (line 1)"),
    ("print >>sys.stderr, 'x'\nexec 'y'\n", "a print statement (line 1)"),
    ("exec code in ns\n", "a exec statement (line 1)"),
    ("try:\n    pass\nexcept (IOError, OSError), e:\n    pass\n", "except E, e: (line 3)"),
    ("def f():\n    raise ValueError, 'bad'\n", "raise E, message (line 2)"),
    ("x = `y`\n", "the ` operator (line 1)"),
    ("if a <> b:\n    pass\n", "the <> operator (line 1)"),
    ("mode = 0755\n", "the number 0755 (line 1)"),
    ("big = 10L\n", "the number 10L (line 1)"),
    ("s = ur'\\d+'\n", "a ur string (line 1)"),
    ("if x:\n\tif y:\n        pass\n", "tabs and spaces mixed in an indent (line 3)"),
]


@pytest.mark.parametrize(("source", "reason"), PY2_CONSTRUCTS)
def test_python2_constructs_are_recognised(source: str, reason: str) -> None:
    assert python_version(source) == reason


def test_python3_source_is_not_python2() -> None:
    assert python_version("print('hello')\nx = 0o755\n") is None


@pytest.mark.parametrize("source", ["def f(:\n    pass\n", "x = (1,\n", "class\n",
                                    "print(x for x in)\n"])
def test_a_syntax_error_is_not_python2(source: str) -> None:
    with pytest.raises(SyntaxError):
        python_version(source)
    with pytest.raises(SyntaxError):
        rewrite_source("from nova.openstack.common import rpc\n" + source)


def test_python2_import_lines_are_rewritten() -> None:
    source = ("from nova.openstack.common import rpc\n"
              "import nova.openstack.common.notifier.api as notifier\n"
              "try:\n"
              "    rpc.call(ctxt, 'topic', msg)\n"
              "except rpc.common.Timeout, e:\n"
              "    print 'timeout: %s' % e  # nova.openstack.common.rpc\n")
    result = rewrite_source(source)
    assert result.python2 == "except E, e: (line 5)"
    assert result.text == source.replace(
        "from nova.openstack.common import rpc", "from legacy_rpc import rpc").replace(
        "import nova.openstack.common.notifier.api", "import legacy_rpc.notifier.api")
    assert [c.line for c in result.changes] == [1]


def _py2_tree(root: Path) -> Path:
    (root / "svc").mkdir()
    (root / "svc" / "__init__.py").write_text("")
    api = root / "svc" / "api.py"
    api.write_text("from svc.openstack.common import rpc\n"
                   "def ping(ctxt):\n"
                   "    print 'ping'\n"
                   "    rpc.cast(ctxt, 'svc', {'method': 'ping'})\n")
    (root / "svc" / "util.py").write_text("def f(d):\n    return d.has_key('x') and 0777\n")
    return api


def test_scan_reports_python2_files_with_the_next_step(tmp_path: Path, run: Run) -> None:
    _py2_tree(tmp_path)
    code, out, _ = run("scan", str(tmp_path))
    assert code == 1
    assert "svc/api.py: legacy-imports\n  Python 2 source: a print statement (line 3)\n" in out
    assert "4:5 rpc-call: rpc.cast(ctxt, 'svc', {'method': 'ping'})" in out
    assert "svc/util.py: python2\n  Python 2 source: the number 0777 (line 2)\n" in out
    assert "next: port it to Python 3 (for example 2to3 -w FILE, then pyupgrade)" in out
    assert "Total: 3 files scanned, 1 with legacy usage, 2 Python 2, 0 could not be" in out
    assert "port the 2 Python 2 file(s) to Python 3" in out


def test_migrate_rewrites_python2_files_and_names_them(tmp_path: Path, run: Run) -> None:
    api = _py2_tree(tmp_path)
    code, out, err = run("migrate", str(tmp_path))
    assert code == 0
    assert "-from svc.openstack.common import rpc\n+from legacy_rpc import rpc\n" in out
    assert f"{api}: Python 2 source (a print statement (line 3)): port it to Python 3" in err
    assert "would rewrite 1 file(s); 0 left untouched because of errors; 0 import(s) to " \
        "change by hand; 2 Python 2 file(s) to port" in err
    assert run("migrate", str(tmp_path), "--write")[0] == 0
    assert api.read_text().startswith("from legacy_rpc import rpc\ndef ping(ctxt):\n")
    # Converged: nothing left for migrate; the Python 2 files still have to be ported.
    code, out, _ = run("scan", str(tmp_path), "--json")
    data = json.loads(out)
    assert code == 1 and data["totals"]["fixable"] == 0
    assert {f["status"] for f in data["files"]} == {"python2"}
    assert run("scan", str(tmp_path), "--fail-on", "imports")[0] == 0


def test_unreadable_and_broken_files_are_still_refused(tmp_path: Path, run: Run) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("from nova.openstack.common import rpc\nprint(x for x in)\n")
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"from nova.openstack.common import rpc\nprint 'caf\xe9'\n")
    code, _, err = run("migrate", str(tmp_path), "--write")
    assert code == 1
    assert f"{broken}: left untouched: syntax error at line 2" in err
    assert "neither Python 3 nor recognisably Python 2" in err
    assert f"{latin}: left untouched: cannot decode" in err
    assert broken.read_text().startswith("from nova.openstack.common import rpc")
    assert latin.read_bytes().startswith(b"from nova.openstack.common import rpc")
    assert run("scan", str(tmp_path))[0] == 2

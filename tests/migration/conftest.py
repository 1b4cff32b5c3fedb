"""Fixtures of the migration tests: a copy of the sample legacy tree, and the CLI."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from legacy_rpc.cli import main

SAMPLE_TREE = Path(__file__).parent / "sample_tree"
OLD_TREES = Path(__file__).parent / "old_trees"
"""Python 2 trees: ``essex`` (nova/rpc/ is the legacy implementation) and ``havana``
(nova/rpc.py and nova/notifier.py are the project's own shims over oslo.messaging)."""

ESSEX_RPC = (
    "# nova/rpc/__init__.py of an Essex-style tree: the legacy implementation\n"
    "def create_connection(new=True):\n    pass\n\n"
    "def call(context, topic, msg, timeout=None):\n    pass\n\n"
    "def cast(context, topic, msg):\n    pass\n\n"
    "def multicall(context, topic, msg, timeout=None):\n    pass\n")
"""Enough of a legacy rpc package to be judged the legacy implementation."""

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A fresh copy of the sample legacy project "acme"."""
    target = tmp_path / "acme-project"
    shutil.copytree(SAMPLE_TREE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def old_trees(tmp_path: Path) -> Path:
    """A fresh copy of the Python 2 trees (``essex``, ``havana``)."""
    target = tmp_path / "old"
    shutil.copytree(OLD_TREES, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``legacy-rpc *argv``; return (exit status, stdout, stderr)."""

    def run_(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run_


def broken_files(root: Path) -> dict[str, Path]:
    """Add a file with a syntax error, a dangling symlink and an undecodable file."""
    files = {"syntax": root / "acme" / "broken.py",
             "dangling": root / "acme" / "gone.py",
             "undecodable": root / "acme" / "latin.py"}
    files["syntax"].write_text("from acme.openstack.common import rpc\ndef f(:\n")
    files["dangling"].symlink_to(root / "nowhere.py")
    files["undecodable"].write_bytes(b"from nova import rpc\nNAME = '\xe9t\xe9'\n")
    return files

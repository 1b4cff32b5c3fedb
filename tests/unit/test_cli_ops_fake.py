"""The operator commands on ``fake://`` (servers in this process, as the in-memory broker
is per process) and ``scan``'s progress line on a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.cli import main
from legacy_rpc.messaging import opts

REPO = Path(__file__).resolve().parents[2]


class Echo:
    def echo(self, ctxt: Any, **kwargs: Any) -> dict[str, Any]:
        return kwargs


@pytest.fixture
def fake_server() -> Iterator[str]:
    """A ping-enabled server on topic ``t`` in a fake vhost of its own; yields the URL."""
    url = f"fake://ops-{uuid.uuid4().hex[:8]}"
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[], default_config_dirs=[])
    opts.register_transport_opts(conf)
    conf.set_override("rpc_ping_enabled", True)
    transport = messaging.get_rpc_transport(conf, url)
    server = messaging.get_rpc_server(transport, messaging.Target(topic="t", server="s"),
                                      [Echo()])
    server.start()
    try:
        yield url
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def test_ping_call_and_status_on_fake_in_one_process(
        fake_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ping", "t", "--url", fake_server]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("pong from t: ping 1 time=")
    assert "fake:// is an in-memory broker inside one process" in captured.err
    assert main(["call", "t", "echo", "a=[1]", "--url", fake_server]) == 0
    assert json.loads(capsys.readouterr().out) == {"a": [1]}
    assert main(["status", "t", "other", "--url", fake_server, "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [{"name": "t", "messages": 0, "consumers": None},
                                        {"name": "other", "missing": True}]
    assert "holds the queues listed above" in captured.err


def test_status_on_fake_in_a_new_process_says_it_sees_nothing() -> None:
    proc = subprocess.run([sys.executable, "-m", "legacy_rpc.cli", "status"],
                          capture_output=True, text=True, timeout=60, check=False, cwd=REPO)
    assert proc.returncode == 0
    assert proc.stdout == ""
    assert "this status command has its own, which holds nothing" in proc.stderr
    assert "cannot see the queues of any other process" in proc.stderr


def test_a_call_on_fake_without_a_server_ends_with_status_1(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", "t", "m", "--url", "fake://nobody", "--timeout", "0.5"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("legacy-rpc call: error: no answer in time")


def _scan(tree: Path, stderr_tty: bool) -> tuple[str, str]:
    """Run ``scan`` in a process (progress shown at once), stderr on a pty or a pipe;
    return (stdout, stderr)."""
    code = ("import sys; import legacy_rpc.cli.scan as s; s.PROGRESS_DELAY = 0; "
            "from legacy_rpc.cli import main; sys.exit(main(sys.argv[1:]))")
    argv = [sys.executable, "-c", code, "scan", str(tree)]
    if not stderr_tty:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False,
                              cwd=REPO)
        return proc.stdout, proc.stderr
    master, slave = pty.openpty()
    try:
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, cwd=REPO) as child:
            os.close(slave)
            slave = -1
            out = child.stdout.read() if child.stdout else b""
            child.wait(120)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    return out.decode(), b"".join(chunks).decode()


def test_scan_draws_progress_on_a_terminal_only(tmp_path: Path) -> None:
    for n in range(40):
        (tmp_path / f"m{n}.py").write_text(
            "from nova.openstack.common import rpc\n\n"
            "def f(ctxt):\n    return rpc.call(ctxt, 't', {'method': 'm'})\n")
    piped_out, piped_err = _scan(tmp_path, stderr_tty=False)
    tty_out, tty_err = _scan(tmp_path, stderr_tty=True)
    assert piped_err == ""
    assert tty_out == piped_out  # the report itself does not change
    assert "40 files scanned" in tty_out
    assert "\r\x1b[Kscanning: 0 files done, now m" in tty_err
    assert tty_err.endswith("\r\x1b[K")  # erased before the report

"""The ``legacy-rpc`` command and its ``demo``: exit codes and what a user reads."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest

import legacy_rpc.cli as cli
import legacy_rpc.messaging as messaging
from legacy_rpc.cli import demo, main

LEGACY_TITLES = ["1. rpc.call", "2. rpc.cast and rpc.fanout_cast", "3. rpc.multicall",
                 "4. RpcProxy with versions", "5. RPCClient to the old service",
                 "6. Legacy notification"]
NEW_TITLES = ["Call", "Cast", "Fanout cast", "Versioned call", "Remote exception",
              "Streamed call", "Timeout"]


def _assert_legacy_part(out: str) -> None:
    for title in LEGACY_TITLES:
        assert title in out, title
    assert "hosts host-1 and host-2 consume topic" in out
    assert "rpc.call(ctxt, topic, {'method': 'add', 'args': {'a': 2, 'b': 3}})" in out
    assert "ran remember(note='hello')" in out
    assert "host-1    ran remember(note='hello, everyone')" in out
    assert "host-2    ran remember(note='hello, everyone')" in out
    assert "yielded   3" in out and "yielded   1" in out
    assert "raised    RemoteError (UnsupportedRpcVersion)" in out
    assert "returned  42" in out
    assert "returned  'host-2'" in out
    assert "listener  info(publisher_id='demo.host-1', event_type='demo.started')" in out
    assert "oslo.messaging client" not in out  # only on a real broker


def _assert_full_demo(out: str) -> None:
    assert "legacy-rpc demo on fake:// (the embedded in-memory broker)" in out
    assert "Part 1: the legacy API" in out
    assert "Part 2: the new-style API" in out
    assert out.index("Part 1:") < out.index("Part 2:")
    _assert_legacy_part(out)
    _assert_new_part(out, first=len(LEGACY_TITLES) + 1)
    assert out.rstrip().splitlines()[-1].startswith("All 13 steps passed in ")


def _assert_new_part(out: str, first: int = 1) -> None:
    for number, title in enumerate(NEW_TITLES, first):
        assert f"{number}. {title}" in out, title
    assert "add(a=2, b=3)" in out
    assert "returned  5" in out
    assert "ran remember(note='hello')" in out
    assert "server-1  ran remember(note='hello, everyone')" in out
    assert "server-2  ran remember(note='hello, everyone')" in out
    assert "add(a=1, b=1) at version 1.1" in out
    assert "returned  2" in out
    assert "add(a=1, b=1) at version 2.0" in out
    assert "RemoteError (UnsupportedVersion)" in out
    assert "Endpoint does not support RPC version 2.0" in out
    assert "ValueError: n must be positive, got -1" in out
    assert "yielded   3" in out and "yielded   1" in out
    assert "ended     after 3 values" in out
    assert "raised    MessagingTimeout" in out
    assert "Timed out waiting for a reply" in out


def test_demo_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    captured = capsys.readouterr()
    _assert_full_demo(captured.out)
    assert "\x1b[" not in captured.out  # no colour codes when stdout is not a terminal
    assert "Traceback" not in captured.out + captured.err


def test_demo_as_a_module_in_a_subprocess() -> None:
    proc = subprocess.run([sys.executable, "-m", "legacy_rpc.cli", "demo"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    _assert_full_demo(proc.stdout)
    assert "Traceback" not in proc.stderr
    assert "ERROR" not in proc.stderr  # the provoked server errors are not logged


def test_url_after_or_before_the_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--url", "fake:///"]) == 0
    assert "legacy-rpc demo on fake:///" in capsys.readouterr().out
    assert main(["--url", "fake:///", "demo"]) == 0
    assert "legacy-rpc demo on fake:///" in capsys.readouterr().out


def test_unknown_driver_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--url", "nosuchdriver://host/"]) == 1
    captured = capsys.readouterr()
    assert "Unknown messaging driver 'nosuchdriver'" in captured.err
    assert "Known drivers:" in captured.err
    assert "fake" in captured.err
    assert "hint:" in captured.err
    assert "Traceback" not in captured.out + captured.err


def test_unusable_broker_url_never_shows_the_password(
        capsys: pytest.CaptureFixture[str]) -> None:
    # Port 1 refuses connections; without the rabbit extra the driver does not even load.
    assert main(["--url", "rabbit://user:s3cret@127.0.0.1:1/", "demo", "--timeout", "1"]) == 1
    captured = capsys.readouterr()
    assert "s3cret" not in captured.out + captured.err
    assert "rabbit://user:****@127.0.0.1:1/" in captured.out + captured.err
    assert "legacy-rpc demo: error:" in captured.err
    assert "Traceback" not in captured.out + captured.err


def test_a_step_with_a_wrong_result_fails_the_demo(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo.DemoEndpoint, "add", lambda self, ctxt, a, b: a - b)
    assert main(["demo", "--part", "new"]) == 1
    captured = capsys.readouterr()
    assert "step 1 (call) failed: StepFailed: expected 5, got -1" in captured.err
    assert "0 of 7 steps passed; stopped at step 1." in captured.out
    assert "2. Cast" not in captured.out


def test_a_hung_connection_is_given_up_on(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    unblock = threading.Event()

    def hang(*args: Any, **kwargs: Any) -> Any:
        unblock.wait(30)
        raise RuntimeError("released by the test")

    monkeypatch.setattr(messaging, "get_rpc_transport", hang)
    try:
        assert main(["demo", "--timeout", "0.2", "--part", "new"]) == 1
    finally:
        unblock.set()
    err = capsys.readouterr().err
    assert "connecting to fake:// did not finish within 0.2 s" in err
    assert "is the broker at fake:// running and reachable?" in err


def test_non_positive_timeout_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--timeout", "0"]) == 2
    assert "--timeout must be positive" in capsys.readouterr().err


def test_version_help_and_missing_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("legacy-rpc ")
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main([]) == 2
    assert "a command is required" in capsys.readouterr().err
    assert main(["no-such-command"]) == 2


def test_missing_subcommand_module_is_skipped(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "SUBCOMMANDS", ["demo", "does_not_exist"])
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out


def test_verbose_logs_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-vv", "demo"]) == 0
    captured = capsys.readouterr()
    assert "All 13 steps passed" in captured.out
    assert "DEBUG" in captured.err or "INFO" in captured.err


def test_only_one_part(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--part", "legacy"]) == 0
    out = capsys.readouterr().out
    _assert_legacy_part(out)
    assert "Part 1" not in out and "7. Call" not in out
    assert out.rstrip().splitlines()[-1].startswith("All 6 steps passed in ")
    assert main(["demo", "--part", "new"]) == 0
    out = capsys.readouterr().out
    _assert_new_part(out)
    assert "rpc.call" not in out
    assert out.rstrip().splitlines()[-1].startswith("All 7 steps passed in ")
    assert main(["demo", "--part", "both"]) == 2
    assert "invalid choice: 'both'" in capsys.readouterr().err


def test_the_legacy_part_leaves_the_global_configuration_as_it_was() -> None:
    from oslo_config import cfg

    from legacy_rpc import rpc  # noqa: F401 - registers the legacy options

    names = ("control_exchange", "rpc_backend", "transport_url", "notification_driver")
    assert main(["demo", "--part", "legacy"]) == 0  # registers what it sets
    before = {name: cfg.CONF[name] for name in names}
    assert main(["demo", "--part", "legacy"]) == 0
    assert {name: cfg.CONF[name] for name in names} == before
    assert before["transport_url"] != "fake://"


def test_a_failing_legacy_step_stops_the_demo_before_the_new_part(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from legacy_rpc.cli import demo_legacy

    monkeypatch.setattr(demo_legacy.LegacyManager, "add", lambda self, ctxt, a, b: a * b)
    assert main(["demo"]) == 1
    captured = capsys.readouterr()
    assert "step 1 (rpc.call) failed: StepFailed: expected 5, got 6" in captured.err
    assert "0 of 13 steps passed; stopped at step 1." in captured.out
    assert "Part 2" not in captured.out

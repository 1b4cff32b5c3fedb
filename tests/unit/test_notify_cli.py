"""``legacy-rpc notify`` and ``legacy-rpc listen``.

On ``fake://`` a separate ``notify`` process cannot reach a ``listen`` process, so the
two meet in this process through a shared transport (``run_listen(..., transport=,
ready=)``); the signal handling is tested on a real subprocess.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc.cli import notify as cli
from legacy_rpc.messaging.drivers.impl_fake import FakeDriver
from legacy_rpc.messaging.notify import _impl_test, get_notification_transport
from legacy_rpc.messaging.transport import Transport
from tests.helpers import wait_for

REPO = Path(__file__).resolve().parents[2]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="fake://")
    cli.register(parser.add_subparsers())
    return parser.parse_args(argv)


@pytest.fixture
def transport() -> Iterator[Transport]:
    conf = cfg.ConfigOpts()
    conf([], default_config_files=[], default_config_dirs=[])
    t = get_notification_transport(conf, f"fake:///test-{uuid.uuid4().hex}")  # a vhost of its own
    yield t
    t.cleanup()


def test_notify_then_listen_in_one_process(transport: Transport,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()

    def send() -> None:
        assert cli.run_notify(parse("notify", "--event-type", "vm.create",
                                    '{"id": 1, "admin_password": "hunter2"}'), transport) == 0
        assert cli.run_notify(parse("notify", "--priority", "error", "--publisher-id", "me",
                                    "plain text"), transport) == 0

    status = cli.run_listen(parse("listen", "--count", "2", "--timeout", "10"), transport,
                            ready=send, out=out)
    assert status == 0
    text = out.getvalue()
    assert "INFO     vm.create" in text
    assert "ERROR    test  publisher=me" in text
    assert '"plain text"' in text
    assert "hunter2" not in text and "<SANITIZED>" in text
    assert "received 2 notification(s)" in capsys.readouterr().err


def test_listen_json_output_with_pool_and_priorities(transport: Transport) -> None:
    out = io.StringIO()

    def send() -> None:
        cli.run_notify(parse("notify", "--priority", "info", "--event-type", "skipped"),
                       transport)
        cli.run_notify(parse("notify", "--priority", "warning", "--event-type", "kept", "[1]"),
                       transport)

    status = cli.run_listen(parse("listen", "--json", "--pool", "watchers", "--priority",
                                  "warn", "--count", "1", "--timeout", "10"),
                            transport, ready=send, out=out)
    assert status == 0
    [line] = out.getvalue().splitlines()
    record = json.loads(line)
    assert (record["priority"], record["event_type"], record["payload"]) == ("warn", "kept",
                                                                            [1])
    assert set(record) == {"priority", "event_type", "publisher_id", "payload", "metadata",
                           "ctxt"}


def test_listen_on_another_exchange_and_topic(transport: Transport) -> None:
    out = io.StringIO()

    def send() -> None:
        from legacy_rpc.messaging import wire
        from legacy_rpc.messaging.target import Target

        message = wire.build_notification("glance.h", "image.upload", "info", {})
        transport._send_notification(Target(topic="images.info", exchange="glance"), {},
                                     message, version=2.0)

    assert cli.run_listen(parse("listen", "--exchange", "glance", "--topic", "images",
                                "--count", "1", "--timeout", "10"),
                          transport, ready=send, out=out) == 0
    assert "image.upload" in out.getvalue()


def test_notifications_beyond_count_are_left_for_others(transport: Transport) -> None:
    def send() -> None:
        for i in range(3):
            cli.run_notify(parse("notify", str(i)), transport)

    assert cli.run_listen(parse("listen", "--count", "2", "--timeout", "10"), transport,
                          ready=send, out=io.StringIO()) == 0
    driver = transport._driver
    assert isinstance(driver, FakeDriver)
    assert driver.broker.queue_depth("notifications.info") == 1


def test_listen_timeout(transport: Transport) -> None:
    assert cli.run_listen(parse("listen", "--timeout", "0.1"), transport,
                          out=io.StringIO()) == 0
    assert cli.run_listen(parse("listen", "--timeout", "0.1", "--count", "1"), transport,
                          out=io.StringIO()) == 1


@pytest.mark.parametrize("argv", [("listen", "--count", "0"), ("listen", "--timeout", "-1")])
def test_listen_rejects_bad_limits(argv: tuple[str, ...]) -> None:
    assert cli.listen_command(parse(*argv)) == 2


def test_notify_reports_an_unknown_driver(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.notify_command(parse("notify", "--driver", "smtp")) == 1
    err = capsys.readouterr().err
    assert "smtp" in err and "messagingv2" in err


def test_notify_reports_a_failed_send(transport: Transport, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(transport, "_send_notification", broken)
    assert cli.run_notify(parse("notify"), transport) == 1
    assert "could not be sent" in capsys.readouterr().err


def test_notify_through_the_main_command() -> None:
    from legacy_rpc.cli import main

    _impl_test.reset()
    try:
        assert main(["notify", "--driver", "test", "--event-type", "from.main",
                     '{"a": 1}']) == 0
        [(_ctxt, message, priority, _retry)] = _impl_test.NOTIFICATIONS
        assert (message["event_type"], message["payload"], priority) == ("from.main",
                                                                         {"a": 1}, "INFO")
    finally:
        _impl_test.reset()


def test_help_says_fake_is_per_process(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("notify", "listen"):
        with pytest.raises(SystemExit):
            parse(command, "--help")
        assert "inside one process" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_listen_exits_cleanly_on_signal(sig: signal.Signals) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "legacy_rpc.cli", "listen"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=REPO)
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        lines.extend(proc.stderr)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("listening on" in line for line in lines), 30,
                 message=lambda: f"listen did not start: {lines}")
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0
        reader.join(10)
        assert "Traceback" not in "".join(lines)
        assert any("received 0 notification(s)" in line for line in lines), lines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

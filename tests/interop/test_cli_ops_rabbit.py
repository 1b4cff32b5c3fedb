"""``legacy-rpc ping``, ``call``, ``cast`` and ``status`` against RabbitMQ, with every error
case and its exit status.

Each test has a vhost of its own on the shared broker (``shared_vhost``) and starts the RPC
servers it talks to: new-style servers of this library in the test process, an old-style
2013 service (``create_consumer``), and an unmodified oslo.messaging server in a separate
process. The commands run through ``legacy_rpc.cli.main`` (as the console script does) or as
a real ``python -m legacy_rpc.cli`` process where the whole output of a process matters.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.cli import main
from legacy_rpc.messaging import opts
from tests.helpers import wait_for
from tests.infra.fixtures import SharedVhost, _rabbitmqctl
from tests.interop.conftest import OsloPeer

pytestmark = [pytest.mark.broker]

EXCHANGE = "lrpc_ops"
TOPIC = "ops-topic"
SERVERS = ("s1", "s2")


class Endpoint:
    """What the test servers answer; ``seen`` records who ran which method."""

    def __init__(self, name: str, seen: list[tuple[str, str, dict[str, Any]]]) -> None:
        self.name = name
        self.seen = seen

    def echo(self, ctxt: Any, **kwargs: Any) -> dict[str, Any]:
        self.seen.append((self.name, "echo", kwargs))
        return kwargs

    def add(self, ctxt: Any, a: int, b: int) -> int:
        self.seen.append((self.name, "add", {"a": a, "b": b}))
        return a + b

    def boom(self, ctxt: Any) -> None:
        raise ValueError("boom\nsecond line")


class VersionedEndpoint:
    """An endpoint in namespace ``ns`` at version 1.2."""

    target = messaging.Target(namespace="ns", version="1.2")

    def where(self, ctxt: Any) -> str:
        return "ns-1.2"


class Fleet:
    """New-style RPC servers of this library on one transport."""

    def __init__(self, url: str, ping: bool) -> None:
        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[], default_config_dirs=[])
        opts.register_transport_opts(conf)
        conf.set_override("control_exchange", EXCHANGE)
        conf.set_override("rpc_ping_enabled", ping)
        self.transport = messaging.get_rpc_transport(conf, url)
        self.seen: list[tuple[str, str, dict[str, Any]]] = []
        self.servers: list[messaging.MessageHandlingServer] = []

    def start(self, topic: str = TOPIC, names: tuple[str, ...] = SERVERS) -> Fleet:
        for name in names:
            server = messaging.get_rpc_server(
                self.transport, messaging.Target(topic=topic, server=name),
                [Endpoint(name, self.seen), VersionedEndpoint()])
            server.start()
            self.servers.append(server)
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
            server.wait()
        self.servers.clear()

    def close(self) -> None:
        self.stop()
        self.transport.cleanup()


@pytest.fixture
def fleet(shared_vhost: SharedVhost) -> Iterator[Callable[[bool], Fleet]]:
    made: list[Fleet] = []

    def make(ping: bool = True) -> Fleet:
        made.append(Fleet(shared_vhost.url, ping))
        return made[-1]

    yield make
    for each in made:
        each.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``legacy-rpc ARGV`` in this process: (exit status, stdout, stderr)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli_lines(err: str) -> list[str]:
    """The command's own lines of stderr (in-process servers log there too while it runs)."""
    return [line for line in err.splitlines() if line.startswith("legacy-rpc ")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    creds, host = rest.split("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}:{password}@{host}"


def with_port(url: str, port: int) -> str:
    scheme, rest = url.split("://", 1)
    creds, tail = rest.split("@", 1)
    path = tail.split("/", 1)[1]
    return f"{scheme}://{creds}@127.0.0.1:{port}/{path}"


# ------------------------------------------------------------------------------ ping


def test_ping_shows_a_round_trip_per_answer_and_a_summary(
        shared_vhost: SharedVhost, fleet: Callable[[bool], Fleet],
        capsys: pytest.CaptureFixture[str]) -> None:
    fleet(True).start()
    code, out, err = run(capsys, "ping", TOPIC, "--url", shared_vhost.url, "--exchange",
                         EXCHANGE, "--count", "3", "--interval", "0", "--timeout", "10")
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == [f"pong from {TOPIC}"] * 3
    assert [line.split(" time=")[1].endswith(" ms") for line in lines[:3]] == [True] * 3
    assert lines[3].startswith(f"--- {TOPIC}: 3 answered, round trip min/avg/max ")
    code, out, err = run(capsys, "ping", TOPIC, "--server", "s2", "--url", shared_vhost.url,
                         "--exchange", EXCHANGE)
    assert code == 0, err
    assert out.startswith(f"pong from {TOPIC}.s2: ping 1 time=")


@pytest.mark.interop
@pytest.mark.parametrize("enabled", [True, False], ids=["ping-enabled", "ping-disabled"])
def test_ping_an_unmodified_oslo_messaging_server(
        enabled: bool, shared_vhost: SharedVhost, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("oslo_messaging")
    # oslo.config's environment source sets [DEFAULT] rpc_ping_enabled of the peer.
    monkeypatch.setenv("OS_DEFAULT__RPC_PING_ENABLED", "true" if enabled else "false")
    peer = OsloPeer("server", ["--url", shared_vhost.url, "--exchange", EXCHANGE, "--topic",
                               "oslo-topic", "--server", "oslo-1"], "oslo-server")
    try:
        peer.wait_ready()
        code, out, err = run(capsys, "ping", "oslo-topic", "--server", "oslo-1", "--url",
                             shared_vhost.url, "--exchange", EXCHANGE, "--timeout", "10")
    finally:
        peer.close()
    if enabled:
        assert code == 0, err
        assert out.startswith("pong from oslo-topic.oslo-1: ping 1 time=")
    else:
        assert code == 1
        assert "a server of oslo-topic.oslo-1 answered, but ping is not enabled" in err


def test_ping_says_when_the_servers_do_not_have_ping_enabled(
        shared_vhost: SharedVhost, fleet: Callable[[bool], Fleet],
        capsys: pytest.CaptureFixture[str]) -> None:
    fleet(False).start()
    code, out, err = run(capsys, "ping", TOPIC, "--url", shared_vhost.url, "--exchange",
                         EXCHANGE)
    assert code == 1 and "pong" not in out
    assert len(cli_lines(err)) == 1, err
    assert "answered, but ping is not enabled" in err
    assert "rpc_ping_enabled = true" in err


def test_ping_without_a_server_ends_within_its_timeout(
        shared_vhost: SharedVhost, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.monotonic()
    code, out, _err = run(capsys, "ping", "nobody-listens", "--url", shared_vhost.url,
                         "--count", "2", "--interval", "0", "--timeout", "1")
    assert time.monotonic() - start < 15  # two pings of 1 s each, with ample slack
    assert code == 1
    assert out.splitlines() == ["no answer from nobody-listens within 1 s (ping 1)",
                                "no answer from nobody-listens within 1 s (ping 2)",
                                "--- nobody-listens: 0 answered"]


# ------------------------------------------------------------------------- call, cast


@pytest.mark.parametrize("style", [[], ["--legacy"]], ids=["new-style", "legacy"])
def test_call_prints_the_result_as_json_with_typed_arguments(
        style: list[str], shared_vhost: SharedVhost, fleet: Callable[[bool], Fleet],
        capsys: pytest.CaptureFixture[str]) -> None:
    fleet(True).start()
    code, out, err = run(capsys, "call", TOPIC, "echo", "n=3", "flag=true", 'text="3"',
                         "ids=[1, 2]", "word=hello", "empty=", "--url", shared_vhost.url,
                         "--exchange", EXCHANGE, *style)
    assert code == 0, err
    assert json.loads(out) == {"n": 3, "flag": True, "text": "3", "ids": [1, 2],
                               "word": "hello", "empty": ""}
    code, out, err = run(capsys, "call", TOPIC, "add", "a=40", "b=2", "--server", "s2",
                         "--url", shared_vhost.url, "--exchange", EXCHANGE, *style)
    assert (code, out) == (0, "42\n"), err


@pytest.mark.parametrize("style", [[], ["--legacy"]], ids=["new-style", "legacy"])
def test_call_with_namespace_and_version(
        style: list[str], shared_vhost: SharedVhost, fleet: Callable[[bool], Fleet],
        capsys: pytest.CaptureFixture[str]) -> None:
    fleet(True).start()
    base = ["call", TOPIC, "where", "--url", shared_vhost.url, "--exchange", EXCHANGE,
            "--namespace", "ns", *style]
    code, out, err = run(capsys, *base, "--version", "1.1")
    assert (code, out) == (0, '"ns-1.2"\n'), err
    code, out, err = run(capsys, *base, "--version", "1.3")
    assert code == 1 and out == ""
    assert "UnsupportedVersion" in err and len(cli_lines(err)) == 1


@pytest.mark.parametrize("style", [[], ["--legacy"]], ids=["new-style", "legacy"])
def test_a_remote_error_is_one_line_and_status_1(
        style: list[str], shared_vhost: SharedVhost, fleet: Callable[[bool], Fleet],
        capsys: pytest.CaptureFixture[str]) -> None:
    fleet(True).start()
    code, out, err = run(capsys, "call", TOPIC, "boom", "--url", shared_vhost.url,
                         "--exchange", EXCHANGE, *style)
    assert (code, out) == (1, "")
    [line] = cli_lines(err)
    assert line.startswith("legacy-rpc call: error: ") and "boom" in line


@pytest.mark.parametrize("style", [[], ["--legacy"]], ids=["new-style", "legacy"])
def test_casts_reach_one_server_a_named_server_or_all(
        style: list[str], shared_vhost: SharedVhost, fleet: Callable[[bool], Fleet],
        capsys: pytest.CaptureFixture[str]) -> None:
    servers = fleet(True).start()
    base = ["--url", shared_vhost.url, "--exchange", EXCHANGE, *style]
    assert run(capsys, "cast", TOPIC, "add", "a=1", "b=1", *base)[0] == 0
    wait_for(lambda: len(servers.seen) == 1, message=lambda: repr(servers.seen))
    assert run(capsys, "cast", TOPIC, "add", "a=2", "b=2", "--server", "s2", *base)[0] == 0
    wait_for(lambda: ("s2", "add", {"a": 2, "b": 2}) in servers.seen,
             message=lambda: repr(servers.seen))
    code, out, err = run(capsys, "cast", TOPIC, "add", "a=3", "b=3", "--fanout", *base)
    assert (code, out) == (0, "")
    assert "sent add to every server of ops-topic" in err
    wait_for(lambda: {s for s, _, a in servers.seen if a == {"a": 3, "b": 3}} == set(SERVERS),
             message=lambda: repr(servers.seen))


def test_call_reaches_an_old_style_service(
        shared_vhost: SharedVhost, capsys: pytest.CaptureFixture[str]) -> None:
    """A 2013 service (create_consumer with an RpcDispatcher) answers both API styles."""
    from legacy_rpc import rpc
    from legacy_rpc.rpc import dispatcher

    conf = cfg.CONF
    opts.register_transport_opts(conf)
    conf.set_override("transport_url", shared_vhost.url)
    conf.set_override("control_exchange", EXCHANGE)
    rpc.cleanup()
    seen: list[tuple[str, str, dict[str, Any]]] = []
    conn = rpc.create_connection(new=True)
    try:
        conn.create_consumer("old-topic", dispatcher.RpcDispatcher([Endpoint("old", seen)]),
                             fanout=False)
        conn.consume_in_thread()
        argv = ["call", "old-topic", "add", "a=1", "b=2", "--url", shared_vhost.url,
                "--exchange", EXCHANGE]
        code, out, err = run(capsys, *argv)
        assert (code, out) == (0, "3\n"), err
        # --legacy replaces this process's legacy transports (a CLI process has only its
        # own): from another process, as an operator runs it.
        proc = subprocess.run([sys.executable, "-m", "legacy_rpc.cli", *argv, "--legacy"],
                              capture_output=True, text=True, timeout=60, check=False)
        assert (proc.returncode, proc.stdout) == (0, "3\n"), proc.stderr
    finally:
        conn.close()
        rpc.cleanup()
        conf.clear_override("transport_url")
        conf.clear_override("control_exchange")


# ---------------------------------------------------------------------------- status


def test_status_lists_topics_servers_and_queue_depths(
        shared_vhost: SharedVhost, fleet: Callable[[bool], Fleet],
        capsys: pytest.CaptureFixture[str]) -> None:
    live = fleet(True).start()
    idle = fleet(True).start("idle-topic", ("gone",))
    idle.stop()  # its queues stay, without consumers
    for n in range(2):
        code, _, err = run(capsys, "cast", "idle-topic", "add", f"a={n}", "b=0", "--url",
                           shared_vhost.url, "--exchange", EXCHANGE)
        assert code == 0, err
    assert run(capsys, "call", TOPIC, "add", "a=1", "b=1", "--url", shared_vhost.url,
               "--exchange", EXCHANGE)[0] == 0
    assert live.transport is not None

    def overview() -> dict[str, Any] | None:
        code, out, err = run(capsys, "status", "--url", shared_vhost.url, "--json")
        assert code == 0, err
        data: dict[str, Any] = json.loads(out)
        topics = data["topics"]
        ready = (TOPIC in topics and topics[TOPIC]["queue"]["consumers"] == 2
                 and "idle-topic" in topics and topics["idle-topic"]["queue"]["messages"] == 2)
        return data if ready else None

    # The management API's figures lag by its statistics interval.
    data = wait_for(overview, timeout=30, interval=0.5, message="status never caught up")
    assert data is not None
    topic = data["topics"][TOPIC]
    assert sorted(topic["servers"]) == ["s1", "s2"]
    assert [s["consumers"] for s in topic["servers"].values()] == [1, 1]
    assert len(topic["fanout"]) == 2
    assert data["topics"]["idle-topic"]["queue"]["consumers"] == 0
    assert list(data["topics"]["idle-topic"]["servers"]) == ["gone"]
    assert data["virtual_host"] == shared_vhost.name
    assert "guest@" not in json.dumps(data)  # the password in the URL is masked
    code, out, err = run(capsys, "status", "--url", shared_vhost.url)
    assert code == 0, err
    assert f"  {TOPIC}: messages=0 consumers=2; 2 server(s), 2 fanout queue(s)" in out
    assert "    server s1: messages=0 consumers=1" in out
    assert "  idle-topic: messages=2 consumers=0; 1 server(s), 0 fanout queue(s)" in out
    code, out, err = run(capsys, "status", "idle-topic", "no-such-topic", "--url",
                         shared_vhost.url)
    assert code == 1
    assert TOPIC + ":" not in out and "idle-topic:" in out
    assert "no queue for topic(s) no-such-topic" in err


def test_status_without_the_management_api_checks_named_topics_over_amqp(
        shared_vhost: SharedVhost, fleet: Callable[[bool], Fleet],
        capsys: pytest.CaptureFixture[str]) -> None:
    fleet(True).start()
    closed = f"http://127.0.0.1:{free_port()}/api/"
    code, out, err = run(capsys, "status", "--url", shared_vhost.url, "--api-url", closed)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert f"the management API at {closed} cannot be read (" in err
    assert "name the topics to check" in err
    code, out, err = run(capsys, "status", TOPIC, "--url", shared_vhost.url,
                         "--api-url", closed)
    assert code == 0, err
    assert out == f"{TOPIC}: messages=0 consumers=2\n"  # passive declares are current
    assert "servers, fanout and reply queues cannot be seen" in err
    code, out, err = run(capsys, "status", TOPIC, "nothing-here", "--url", shared_vhost.url,
                         "--api-url", closed)
    assert code == 1
    assert "nothing-here: no such queue" in out


@pytest.fixture
def plain_user(shared_vhost: SharedVhost) -> Iterator[str]:
    """A user of the test's vhost without a management tag (as services' users often are);
    yields its URL. The user is deleted afterwards."""
    name = f"lrpc-ops-{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    _rabbitmqctl("add_user", name, password)
    try:
        _rabbitmqctl("set_permissions", "-p", shared_vhost.name, name, ".*", ".*", ".*")
        scheme, rest = shared_vhost.url.split("://", 1)
        yield f"{scheme}://{name}:{password}@{rest.split('@', 1)[1]}"
    finally:
        _rabbitmqctl("delete_user", name)


def test_status_for_a_user_the_management_api_refuses(
        plain_user: str, fleet: Callable[[bool], Fleet],
        capsys: pytest.CaptureFixture[str]) -> None:
    fleet(True).start()
    code, out, err = run(capsys, "status", "--url", plain_user)
    assert (code, out) == (1, "")
    assert "has no management tag" in err and "name the topics to check" in err
    assert plain_user.split(":")[2].split("@")[0] not in err  # the password
    code, out, err = run(capsys, "status", TOPIC, "--url", plain_user)
    assert (code, out) == (0, f"{TOPIC}: messages=0 consumers=2\n"), err


# ------------------------------------------------------------------- errors, per command

COMMANDS = {
    "ping": ["ping", TOPIC],
    "call": ["call", TOPIC, "add", "a=1", "b=2"],
    "call --legacy": ["call", TOPIC, "add", "a=1", "b=2", "--legacy"],
    "cast": ["cast", TOPIC, "add", "a=1", "b=2"],
    "cast --legacy": ["cast", TOPIC, "add", "a=1", "b=2", "--legacy"],
    "status": ["status"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_errors_are_one_line_with_their_exit_status(
        command: str, shared_vhost: SharedVhost,
        capsys: pytest.CaptureFixture[str]) -> None:
    argv = COMMANDS[command]
    name = argv[0]
    secret = "pa55-w0rd-not-shown"
    cases = [
        (with_password(shared_vhost.url, secret), 3, "wrong user name or password"),
        (with_port(shared_vhost.url, free_port()), 3, "the broker is unreachable"),
        (shared_vhost.url.rsplit("/", 1)[0] + "/no-such-vhost", 3,
         "refused virtual host 'no-such-vhost'"),
        (f"rabbit://guest:{secret}@127.0.0.1:notaport/", 2, "bad --url"),
        ("nosuchdriver://x/", 2, "nosuchdriver"),
    ]
    for url, expected, text in cases:
        start = time.monotonic()
        code, out, err = run(capsys, *argv, "--url", url, "--timeout", "3")
        assert time.monotonic() - start < 20, (url, "took too long")
        assert code == expected, (url, err)
        assert out == ""
        assert err.startswith(f"legacy-rpc {name}: error: ") and err.count("\n") == 1, err
        assert text in err, err
        assert secret not in err


def test_a_real_process_masks_the_password_and_documents_exit_codes(
        shared_vhost: SharedVhost) -> None:
    secret = "s3cret-in-a-process"
    proc = subprocess.run(
        [sys.executable, "-m", "legacy_rpc.cli", "-v", "call", TOPIC, "add", "--url",
         with_password(shared_vhost.url, secret), "--timeout", "5"],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 3
    assert secret not in proc.stdout + proc.stderr
    assert "legacy-rpc call: error: the broker at " in proc.stderr
    for command in ("ping", "call", "cast", "status"):
        helped = subprocess.run([sys.executable, "-m", "legacy_rpc.cli", command, "--help"],
                                capture_output=True, text=True, timeout=60, check=True)
        text = " ".join(helped.stdout.split())
        assert "exit status: 0 success; 1 the request failed" in text
        assert "3 broker unreachable or refused" in text


def test_an_interrupted_ping_stops_between_pings(
        shared_vhost: SharedVhost, fleet: Callable[[bool], Fleet]) -> None:
    """``run_ping`` with a ``stop`` event ends its series early and reports what it got."""
    import argparse
    import io

    from legacy_rpc.cli.ping import run_ping

    fleet(True).start()
    stop = threading.Event()
    out = io.StringIO()

    class Stopper(io.StringIO):
        def write(self, text: str) -> int:
            if text.startswith("pong"):
                stop.set()
            return out.write(text)

    args = argparse.Namespace(topic=TOPIC, server=None, exchange=EXCHANGE, count=100,
                              interval=30.0, timeout=10.0, url=shared_vhost.url)
    assert run_ping(args, Stopper(), stop) == 0
    assert out.getvalue().count("pong from") == 1
    assert f"--- {TOPIC}: 1 answered" in out.getvalue()

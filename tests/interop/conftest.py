"""Fixtures of the interop suite: oslo.messaging peer processes and broker housekeeping.

A peer is ``oslo_peer.py`` run with ``sys.executable`` in its own process (see its
docstring). Its stdout is read by a thread into a list of JSON lines; tests wait for the
lines they need with a deadline (never a sleep). Every failure names the peer and shows
the tail of its stderr, and a failing test gets a report section with the stderr of every
peer still running.

Names are unique per run (``run_id``), and the queues and exchanges a module used are
deleted at the end of the session, so runs neither disturb each other nor fill the broker.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, NoReturn, Protocol

import amqp
import pytest
from oslo_config import cfg

from tests.helpers import amqp_params, delete_broker_objects

PEER_SCRIPT = Path(__file__).with_name("oslo_peer.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
OSLO_MESSAGING_VERSION = "18.3.1"

# Deadlines. Starting a peer (interpreter + oslo.messaging + connecting) takes about 1 s.
READY_TIMEOUT = 30.0
RESULT_TIMEOUT = 30.0
EVENT_TIMEOUT = 15.0
PEER_MAX_SECONDS = 240.0

Line = dict[str, Any]
Predicate = Callable[[Line], bool]

_live_peers: list[OsloPeer] = []


def _shorten(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def fields(**expected: Any) -> Predicate:
    """A predicate matching lines whose given fields have the given values."""
    return lambda line: all(line.get(key) == value for key, value in expected.items())


class OsloPeer:
    """One running ``oslo_peer.py`` process and the JSON lines it has printed so far."""

    def __init__(self, role: str, args: list[str], label: str,
                 max_seconds: float = PEER_MAX_SECONDS) -> None:
        self.role = role
        self.label = label
        # lives as long as the peer; closed by close()
        self._stderr = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
        env["PYTHONWARNINGS"] = "ignore"
        env["PYTHONUNBUFFERED"] = "1"
        self.argv = [sys.executable, str(PEER_SCRIPT), role, *args,
                     "--max-seconds", str(max_seconds)]
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            cwd=str(REPO_ROOT), env=env, text=True, encoding="utf-8", bufsize=1)
        self._lines: list[Line] = []
        self._cond = threading.Condition()
        self._eof = False
        self._next_id = 0
        self._write_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name=f"peer-{label}-stdout")
        self._reader.start()
        _live_peers.append(self)

    # ------------------------------------------------------------------ reading

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            for raw in self.proc.stdout:
                text = raw.strip()
                if not text:
                    continue
                try:
                    line = json.loads(text)
                except ValueError:
                    line = {"event": "raw", "text": text}
                if not isinstance(line, dict):
                    line = {"event": "raw", "text": text}
                with self._cond:
                    self._lines.append(line)
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def lines(self, predicate: Predicate | None = None) -> list[Line]:
        with self._cond:
            return [line for line in self._lines if predicate is None or predicate(line)]

    def wait_lines(self, predicate: Predicate, count: int = 1, timeout: float = EVENT_TIMEOUT,
                   what: str = "a line") -> list[Line]:
        """Wait until ``count`` lines match ``predicate``; return all matching lines."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [line for line in self._lines if predicate(line)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    reason = "the peer exited" if self._eof else f"{timeout:.1f}s passed"
                    self.fail(f"waiting for {what}: {reason}; got {len(found)} of {count} "
                              f"matching line(s): {found!r}")
                self._cond.wait(remaining)

    def wait_line(self, predicate: Predicate, timeout: float = EVENT_TIMEOUT,
                  what: str = "a line") -> Line:
        return self.wait_lines(predicate, 1, timeout, what)[0]

    def wait_ready(self, count: int = 1, timeout: float = READY_TIMEOUT) -> list[Line]:
        ready = self.wait_lines(fields(event="ready"), count, timeout,
                                what=f"{count} 'ready' line(s)")
        for line in ready:
            if line.get("legacy_rpc_loaded") or line.get("oslo_messaging") != \
                    OSLO_MESSAGING_VERSION:
                self.fail(f"the peer is not a pure oslo.messaging {OSLO_MESSAGING_VERSION} "
                          f"process: {line!r}")
        return ready

    # ------------------------------------------------------------------ commands

    def send(self, op: str, **params: Any) -> int:
        with self._write_lock:
            self._next_id += 1
            command_id = self._next_id
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(json.dumps({"id": command_id, "op": op, **params}) + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError) as exc:
                self.fail(f"could not send a command: {exc}")
        return command_id

    def result(self, command_id: int, wait: float = RESULT_TIMEOUT) -> Line:
        return self.wait_line(fields(event="result", id=command_id), wait,
                              what=f"the result of command {command_id}")

    def request(self, op: str, wait: float = RESULT_TIMEOUT, **params: Any) -> Line:
        """Run one command in the peer and return its result line (``wait``: deadline)."""
        return self.result(self.send(op, **params), wait)

    def ok(self, op: str, wait: float = RESULT_TIMEOUT, **params: Any) -> Any:
        """Run one command that must succeed; return its result value."""
        line = self.request(op, wait, **params)
        if not line.get("ok"):
            self.fail(f"{op} {params!r} failed in the peer: {line.get('error')!r}")
        return line.get("result")

    # ------------------------------------------------------------------ diagnostics

    def stderr_tail(self, max_lines: int = 40) -> str:
        try:
            self._stderr.flush()
            self._stderr.seek(0)
            text = self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return "(stderr unavailable)"
        return "\n".join(text.splitlines()[-max_lines:]) or "(empty)"

    def diagnostics(self) -> str:
        status = self.proc.poll()
        last = [_shorten(json.dumps(line, default=repr)) for line in self.lines()[-5:]]
        return (f"oslo peer {self.label!r} (role {self.role}, pid {self.proc.pid}, "
                f"{'running' if status is None else f'exit code {status}'})\n"
                f"  argv: {' '.join(self.argv)}\n"
                f"  last stdout lines:\n    " + "\n    ".join(last or ["(none)"]) + "\n"
                f"  stderr tail:\n{self.stderr_tail()}")

    def fail(self, message: str) -> NoReturn:
        pytest.fail(f"{_shorten(message, 2000)}\n{self.diagnostics()}", pytrace=False)

    # ------------------------------------------------------------------ ending

    def begin_close(self) -> None:
        """Close stdin: the peer stops its servers and listeners and exits by itself."""
        if self in _live_peers:
            _live_peers.remove(self)
        with contextlib.suppress(OSError, ValueError), self._write_lock:
            assert self.proc.stdin is not None
            self.proc.stdin.close()

    def close(self, timeout: float = 20.0) -> None:
        """Close stdin, wait for the peer to exit, and kill it if it is stuck."""
        self.begin_close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._reader.join(5)
        with contextlib.suppress(Exception):
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        self._stderr.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
        item: pytest.Item,
        call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test shows the state of every peer still running (unless already shown)."""
    report = yield
    if report.failed and _live_peers:
        text = report.longreprtext
        for peer in list(_live_peers):
            if f"oslo peer {peer.label!r}" not in text:  # not already in the failure
                report.sections.append((f"oslo peer {peer.label}", peer.diagnostics()))
    return report


# --------------------------------------------------------------------------- names

@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


class Janitor:
    """Deletes the queues and exchanges of this run from the broker at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.queues: set[str] = set()
        self.exchanges: set[str] = set()

    def cleanup(self) -> None:
        delete_broker_objects(self.url, self.queues, self.exchanges)


@pytest.fixture(scope="session")
def janitor(rabbit_url: str) -> Iterator[Janitor]:
    jan = Janitor(rabbit_url)
    yield jan
    jan.cleanup()


@pytest.fixture(scope="session")
def peer_reaper() -> Iterator[list[OsloPeer]]:
    """Peers whose exit is awaited at the end of the session.

    A module's peers are told to exit when the module ends, but an oslo server takes a few
    seconds to stop, so they are reaped here, while the next modules already run.
    """
    closing: list[OsloPeer] = []
    yield closing
    for peer in closing:
        peer.close()


class StartPeer(Protocol):
    """The type of the ``start_peer`` fixture."""

    def __call__(self, role: str, *, exchange: str, topic: str, label: str | None = None,
                 servers: list[str] | None = None,
                 listeners: list[dict[str, Any]] | None = None,
                 query: str = "") -> OsloPeer: ...


@pytest.fixture(scope="module")
def start_peer(rabbit_url: str, peer_reaper: list[OsloPeer]) -> Iterator[StartPeer]:
    """Start oslo.messaging peers for a module; all are told to exit when it ends."""
    if importlib.util.find_spec("oslo_messaging") is None:
        pytest.skip("oslo.messaging is not installed: pip install -e '.[interop]'")
    peers: list[OsloPeer] = []

    def start(role: str, *, exchange: str, topic: str, label: str | None = None,
              servers: list[str] | None = None,
              listeners: list[dict[str, Any]] | None = None,
              query: str = "") -> OsloPeer:
        url = with_query(rabbit_url, query)
        args = ["--url", url, "--exchange", exchange, "--topic", topic]
        for server in servers or []:
            args += ["--server", server]
        for listener in listeners or []:
            args += ["--listener", json.dumps(listener)]
        peer = OsloPeer(role, args, label or role)
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        peer.begin_close()
        peer_reaper.append(peer)


def notification_names(base: str, janitor: Janitor) -> dict[str, str]:
    """The exchange, topics and pool names of a notification interop module (prefixed by
    ``base``), registered with the janitor so their queues are deleted afterwards."""
    found = {"exchange": f"{base}-x", "plain": f"{base}-plain", "pooled": f"{base}-pooled",
             "requeue": f"{base}-requeue", "pool_a": f"{base}-pool-a",
             "pool_b": f"{base}-pool-b"}
    janitor.exchanges.add(found["exchange"])
    for topic in ("plain", "pooled", "requeue"):
        janitor.queues.update(f"{found[topic]}.{p}" for p in ("info", "error"))
    janitor.queues.update([found["pool_a"], found["pool_b"]])
    return found


def with_query(url: str, query: str) -> str:
    """``url`` with ``query`` (``"key=value&..."``) added: per-transport driver options."""
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{query}"


class RawCapture:
    """A plain py-amqp consumer that keeps copies of what is published to some bindings.

    Queues are exclusive to its connection, so they vanish with it. ``wait`` reads from the
    socket until enough messages arrived, within a deadline.
    """

    def __init__(self, url: str) -> None:
        self.conn = amqp.Connection(**amqp_params(url))
        self.conn.connect()
        self.channel = self.conn.channel()
        self.messages: dict[str, list[Any]] = {}

    def bind(self, exchange: str, routing_key: str, exchange_type: str = "topic") -> str:
        name = f"interop-capture-{uuid.uuid4().hex[:12]}"
        self.channel.exchange_declare(exchange, exchange_type, durable=False,
                                      auto_delete=exchange_type == "fanout")
        self.channel.queue_declare(name, exclusive=True)
        self.channel.queue_bind(name, exchange, routing_key)
        self.messages[name] = []
        self.channel.basic_consume(name, no_ack=True, callback=self.messages[name].append)
        return name

    def wait(self, queue: str, count: int = 1, timeout: float = EVENT_TIMEOUT) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.messages[queue]) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"capture queue {queue}: {len(self.messages[queue])} of {count} "
                            f"message(s) after {timeout}s", pytrace=False)
            with contextlib.suppress(TimeoutError):
                self.conn.drain_events(timeout=min(0.5, remaining))
        return self.messages[queue]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


def legacy_conf(exchange: str) -> cfg.ConfigOpts:
    """A private config for our side, with ``exchange`` as the control exchange."""
    from legacy_rpc.messaging import opts

    conf = cfg.ConfigOpts()
    conf([], project="legacy-rpc-interop")
    opts.register_transport_opts(conf)
    conf.set_override("control_exchange", exchange)
    return conf

"""``legacy-rpc demo``: the legacy API and the new-style API, step by step in one process.

Everything runs on ``--url`` (default ``fake://``, the embedded in-memory broker, so nothing
else is needed). Part 1, the legacy API: an old-style service written as in 2013 answers
rpc.call, cast, fanout_cast and multicall, an RpcProxy with versions and a new-style
RPCClient; a legacy notification reaches a new-style listener; on a real broker with
oslo.messaging installed, an oslo.messaging client calls the old service too. Part 2, the
new-style API: two RPC servers get a call, a cast, a fanout cast, versioned calls, a call
that raises remotely, a streamed call and a call that times out. Each step prints what was
sent, what came back and how long it took. Every wait is bounded (``--timeout``), so it
always ends: exit 0 when each step did what it should, 1 with the reason otherwise (an
unknown driver, an unreachable broker, a wrong result).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.cli import DEFAULT_URL, masked
from legacy_rpc.cli._demo_inbox import Inbox
from legacy_rpc.cli.demo_legacy import LegacyPart

__all__ = ["register", "run"]

T = TypeVar("T")

EXCHANGE = "legacy_rpc_demo"
SERVERS = ("server-1", "server-2")
DEFAULT_TIMEOUT = 10.0
CALL_TIMEOUT_STEP = 0.5  # the timeout of the call that is meant to time out
PARTS = ("all", "legacy", "new")
_TEXT_WIDTH = 64  # where the timing column starts
_WRAP = 100


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo", help="run RPC servers and a client in this process and show each kind of call",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help="longest wait for any step, connection or shutdown "
                             f"(default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--part", choices=PARTS, default="all",
                        help="legacy: the legacy API only; new: the new-style API only; "
                             "all (default): both, the legacy API first")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The ``demo`` handler."""
    if args.timeout <= 0:
        print("legacy-rpc demo: error: --timeout must be positive", file=sys.stderr)
        return 2
    return Demo(args.url, args.timeout, _Out(sys.stdout), verbose=args.verbose > 0,
                part=args.part).run()


# ------------------------------------------------------------------------------ output


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _first_line(exc: BaseException) -> str:
    """The exception's message without a remote traceback, passwords masked."""
    if isinstance(exc, messaging.RemoteError) and exc.value:
        return masked(exc.value.strip().splitlines()[0])
    text = str(exc).strip().splitlines()
    return masked(text[0]) if text else ""


class _Out:
    """Prints the demo's rows; bold and colour only on a terminal (and without NO_COLOR)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        isatty = getattr(stream, "isatty", None)
        self._colour = bool(isatty and isatty()) and "NO_COLOR" not in os.environ

    def _paint(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self._colour else text

    def bold(self, text: str) -> str:
        return self._paint("1", text)

    def good(self, text: str) -> str:
        return self._paint("32", text)

    def bad(self, text: str) -> str:
        return self._paint("31", text)

    def line(self, text: str = "") -> None:
        print(text, file=self._stream, flush=True)

    def row(self, label: str, text: str, elapsed: float | None = None) -> None:
        """``   label     text          0.3 ms``: one thing that was sent or came back."""
        body = f"   {label:<9} {text}"
        if elapsed is not None:
            body = f"{body:<{_TEXT_WIDTH}} {_duration(elapsed):>9}"
        self.line(body)

    def note(self, text: str) -> None:
        """An explanation under a row, wrapped and indented to the row's text."""
        indent = " " * 13
        self.line(textwrap.fill(text, _WRAP, initial_indent=indent, subsequent_indent=indent,
                                break_long_words=False, break_on_hyphens=False))


# ----------------------------------------------------------------------------- servers


class DemoEndpoint:
    """The methods the demo calls; each server has its own instance."""

    target = messaging.Target(version="1.2")

    def __init__(self, name: str, inbox: Inbox, release: threading.Event) -> None:
        self.name = name
        self._inbox = inbox
        self._release = release

    def add(self, ctxt: Any, a: int, b: int) -> int:
        return a + b

    def remember(self, ctxt: Any, note: str) -> None:
        self._inbox.add(self.name, note)

    @messaging.expected_exceptions(ValueError)  # part of the API: the server logs it at debug
    def check_positive(self, ctxt: Any, n: int) -> int:
        if n <= 0:
            raise ValueError(f"n must be positive, got {n}")
        return n

    def countdown(self, ctxt: Any, start: int) -> Iterator[int]:
        yield from range(start, 0, -1)

    def wait_for_release(self, ctxt: Any, seconds: float) -> str:
        self._release.wait(seconds)
        return "released"


class _HideProvokedErrors(logging.Filter):
    """Drops the server's error log of the version mismatch the demo provokes on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        from legacy_rpc.rpc.common import UnsupportedRpcVersion

        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, (messaging.UnsupportedVersion, UnsupportedRpcVersion))


# -------------------------------------------------------------------------------- demo


class StepFailed(Exception):
    """A step did not do what it should."""


class _Overdue(Exception):
    """A bounded operation did not finish in time."""


def _bounded(seconds: float, what: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a helper thread and give up waiting for it after ``seconds``.

    Used for everything that may block on a broker, so the demo always ends; a thread left
    behind is a daemon and does not keep the process alive.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name=f"legacy-rpc-demo {what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise _Overdue(f"{what} did not finish within {seconds:g} s")
    if error:
        raise error[0]
    return result[0]


@dataclass
class _Step:
    title: str
    what: str
    run: Callable[[], None]


class Demo:
    """One run of the demo against ``url``."""

    def __init__(self, url: str, timeout: float, out: _Out, verbose: bool = False,
                 part: str = "all") -> None:
        self.url = url
        self.part = part
        self.legacy = LegacyPart(url, timeout, out, _bounded, StepFailed)
        self.timeout = timeout
        self.out = out
        self.verbose = verbose
        self.topic = f"legacy-rpc-demo-{uuid.uuid4().hex[:8]}"
        self.inbox = Inbox()
        self.release = threading.Event()
        self.transport: messaging.Transport | None = None
        self.servers: list[messaging.MessageHandlingServer] = []
        self._client: messaging.RPCClient | None = None

    @property
    def client(self) -> messaging.RPCClient:
        assert self._client is not None, "the client is made in setup"
        return self._client

    @property
    def where(self) -> str:
        shown = masked(self.url)
        return f"{shown} (the embedded in-memory broker)" if self.url == DEFAULT_URL else shown

    def steps(self) -> list[_Step]:
        return [
            _Step("Call", "the client waits for the return value.", self.step_call),
            _Step("Cast", "nothing comes back, but a server runs the method.", self.step_cast),
            _Step("Fanout cast", "one message reaches every server on the topic.",
                  self.step_fanout),
            _Step("Versioned call", "the endpoint implements version 1.2 of its API.",
                  self.step_versions),
            _Step("Remote exception", "what the method raises is raised in the client.",
                  self.step_remote_exception),
            _Step("Streamed call", "stream() gives each value a generator method yields, "
                  "as it comes.", self.step_stream),
            _Step("Timeout", "a call gives up when no reply comes in time.",
                  self.step_timeout),
        ]

    # --------------------------------------------------------------------- running

    def parts(self) -> list[tuple[str, Callable[[], None], list[_Step], Callable[[], bool]]]:
        """(title, set-up, steps, clean-up) of each part to run, in order."""
        legacy = ("the legacy API, as 2013 services use it, unchanged",
                  self.legacy.setup, [_Step(*step) for step in self.legacy.steps()],
                  self.cleanup_legacy)
        new = ("the new-style API (oslo.messaging's)", self.setup, self.steps(), self.cleanup)
        chosen = {"all": [legacy, new], "legacy": [legacy], "new": [new]}[self.part]
        if len(chosen) == 1:
            return chosen
        return [(f"Part {n}: {title}", setup, steps, cleanup)
                for n, (title, setup, steps, cleanup) in enumerate(chosen, 1)]

    def run(self) -> int:
        """Set up, run every step, clean up, part by part; return the exit code."""
        log_filter = _HideProvokedErrors()
        server_log = logging.getLogger("legacy_rpc.messaging.rpc.server")
        if not self.verbose:
            server_log.addFilter(log_filter)
        started = time.perf_counter()
        parts = self.parts()
        total = sum(len(steps) for _, _, steps, _ in parts)
        passed, cleaned = 0, True
        try:
            self.out.line(self.out.bold(f"legacy-rpc demo on {self.where}"))
            for title, setup, steps, cleanup in parts:
                self.out.line()
                self.out.line(self.out.bold(title[0].upper() + title[1:]))
                try:
                    try:
                        setup()
                    except Exception as exc:
                        self._error(f"setting up on {masked(self.url)} failed", exc)
                        return 1
                    done = self.run_steps(steps, first=passed + 1)
                    passed += done
                finally:
                    cleaned = cleanup() and cleaned
                if done < len(steps):
                    break
        finally:
            server_log.removeFilter(log_filter)
        elapsed = time.perf_counter() - started
        if passed == total and cleaned:
            self.out.line(self.out.good(
                f"All {total} steps passed in {_duration(elapsed)} on {masked(self.url)}."))
            return 0
        if passed == total:
            self.out.line(self.out.bad(f"All {total} steps passed, but the cleanup failed."))
        else:
            self.out.line(self.out.bad(
                f"{passed} of {total} steps passed; stopped at step {passed + 1}."))
        return 1

    def cleanup_legacy(self) -> bool:
        """Release the legacy part; False if something failed."""
        errors = self.legacy.cleanup()
        for what, exc in errors:
            self._error(f"{what} failed", exc)
        return not errors

    def setup(self) -> None:
        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[], default_config_dirs=[])
        self.transport = _bounded(self.timeout, f"connecting to {masked(self.url)}",
                                  lambda: messaging.get_rpc_transport(conf, self.url))
        for name in SERVERS:
            server = messaging.get_rpc_server(
                self.transport, messaging.Target(exchange=EXCHANGE, topic=self.topic,
                                                 server=name),
                [DemoEndpoint(name, self.inbox, self.release)])
            _bounded(self.timeout, f"starting {name}", server.start)
            self.servers.append(server)
        self._client = messaging.get_rpc_client(
            self.transport, messaging.Target(exchange=EXCHANGE, topic=self.topic),
            timeout=self.timeout, retry=2)
        self.out.line(f"Servers {' and '.join(SERVERS)} listen on topic {self.topic!r}.")

    def run_steps(self, steps: list[_Step], first: int = 1) -> int:
        """Run ``steps`` in order, numbered from ``first``, until one fails; return how
        many passed."""
        for number, step in enumerate(steps, first):
            self.out.line()
            self.out.line(f"{self.out.bold(f'{number}. {step.title}')}: {step.what}")
            try:
                # A step makes at most a few calls, each bounded by the timeout.
                _bounded(4 * self.timeout + 1, f"step {number}", step.run)
            except Exception as exc:
                self.out.line()
                self._error(f"step {number} ({step.title.lower()}) failed", exc)
                return number - first
        self.out.line()
        return len(steps)

    def cleanup(self) -> bool:
        """Stop and wait for the servers, release the transport; False if that failed."""
        self.release.set()  # a server still in wait_for_release() returns at once
        ok = True
        for server, name in zip(self.servers, SERVERS, strict=False):  # fewer if setup failed
            for action, fn in (("stopping", server.stop), ("waiting for", server.wait)):
                try:
                    _bounded(self.timeout, f"{action} {name}", fn)
                except Exception as exc:
                    self._error(f"{action} {name} failed", exc)
                    ok = False
        if self.transport is not None:
            try:
                _bounded(self.timeout, "releasing the transport", self.transport.cleanup)
            except Exception as exc:
                self._error("releasing the transport failed", exc)
                ok = False
        return ok

    def _error(self, what: str, exc: BaseException) -> None:
        """Explain a failure on stderr: what failed, why, and what may help."""
        if self.verbose:
            logging.getLogger(__name__).error("%s", what, exc_info=exc)
        reason = f"{type(exc).__name__}: {_first_line(exc)}"
        print(f"legacy-rpc demo: error: {what}: {reason}", file=sys.stderr)
        hint = self._hint(exc)
        if hint:
            print(f"  hint: {hint}", file=sys.stderr)

    def _hint(self, exc: BaseException) -> str:
        if isinstance(exc, messaging.DriverLoadFailure):
            return ("check the scheme of --url; fake:// needs nothing else, rabbit:// needs "
                    "legacy-rpc[rabbit] and a RabbitMQ.")
        if isinstance(exc, messaging.InvalidTransportURL):
            return "the URL form is driver://[user:password@]host:port/virtual_host"
        if isinstance(exc, (_Overdue, messaging.MessagingTimeout, messaging.ServerListenError,
                            messaging.ClientSendError, messaging.MessageDeliveryFailure)):
            return (f"is the broker at {masked(self.url)} running and reachable? "
                    "(-v shows the driver's log)")
        return ""

    # ----------------------------------------------------------------------- steps

    def _timed(self, fn: Callable[[], T]) -> tuple[T, float]:
        start = time.perf_counter()
        result = fn()
        return result, time.perf_counter() - start

    def step_call(self) -> None:
        self.out.row("sent", "add(a=2, b=3)")
        result, elapsed = self._timed(lambda: self.client.call({}, "add", a=2, b=3))
        self.out.row("returned", repr(result), elapsed)
        if result != 5:
            raise StepFailed(f"expected 5, got {result!r}")

    def _cast_and_wait(self, note: str, fanout: bool, receivers: int) -> None:
        client = self.client.prepare(fanout=True) if fanout else self.client
        start = time.perf_counter()
        client.cast({}, "remember", note=note)
        sent = time.perf_counter() - start
        self.out.row("sent", f"remember(note={note!r})" + (" with fanout=True" if fanout else ""),
                     sent)
        got = self.inbox.wait(note, receivers, self.timeout)
        for server, at in sorted(got, key=lambda item: item[1]):
            self.out.row(server, f"ran remember(note={note!r})", at - start)
        if len(got) < receivers:
            raise StepFailed(f"{len(got)} of {receivers} server(s) received the cast within "
                             f"{self.timeout:g} s")

    def step_cast(self) -> None:
        self._cast_and_wait("hello", fanout=False, receivers=1)

    def step_fanout(self) -> None:
        self._cast_and_wait("hello, everyone", fanout=True, receivers=len(SERVERS))

    def step_versions(self) -> None:
        self.out.row("sent", "add(a=1, b=1) at version 1.1")
        result, elapsed = self._timed(
            lambda: self.client.prepare(version="1.1").call({}, "add", a=1, b=1))
        self.out.row("returned", repr(result), elapsed)
        self.out.note("1.1 is compatible with 1.2: same major version, lower minor version.")
        if result != 2:
            raise StepFailed(f"expected 2, got {result!r}")
        self.out.row("sent", "add(a=1, b=1) at version 2.0")
        start = time.perf_counter()
        try:
            result = self.client.prepare(version="2.0").call({}, "add", a=1, b=1)
        except (messaging.RemoteError, messaging.UnsupportedVersion) as exc:
            kind = getattr(exc, "exc_type", None) or type(exc).__name__
            self.out.row("raised", f"{type(exc).__name__} ({kind})",
                         time.perf_counter() - start)
            self.out.note(_first_line(exc))
            return
        raise StepFailed(f"a call to version 2.0 should fail, but it returned {result!r}")

    def step_remote_exception(self) -> None:
        self.out.row("sent", "check_positive(n=-1)")
        start = time.perf_counter()
        try:
            result = self.client.call({}, "check_positive", n=-1)
        except ValueError as exc:
            self.out.row("raised", f"ValueError: {_first_line(exc)}",
                         time.perf_counter() - start)
            self.out.note(f"The client caught it with 'except ValueError' (its class is "
                          f"{type(exc).__name__}, a ValueError subclass).")
            return
        raise StepFailed(f"expected a ValueError, but the call returned {result!r}")

    def step_stream(self) -> None:
        self.out.row("sent", "countdown(start=3), a generator method, with stream()")
        start = time.perf_counter()
        values: list[Any] = []
        for value in self.client.stream({}, "countdown", start=3):
            values.append(value)
            self.out.row("yielded", repr(value), time.perf_counter() - start)
        self.out.row("ended", f"after {len(values)} values", time.perf_counter() - start)
        if values != [3, 2, 1]:
            raise StepFailed(f"expected [3, 2, 1], got {values!r}")

    def step_timeout(self) -> None:
        seconds = self.timeout
        self.out.row("sent", f"wait_for_release(seconds={seconds:g}) with "
                             f"timeout={CALL_TIMEOUT_STEP:g} s")
        start = time.perf_counter()
        try:
            result = self.client.prepare(timeout=CALL_TIMEOUT_STEP).call(
                {}, "wait_for_release", seconds=seconds)
        except messaging.MessagingTimeout as exc:
            self.out.row("raised", "MessagingTimeout", time.perf_counter() - start)
            self.out.note(_first_line(exc))
            return
        finally:
            self.release.set()  # let the server finish the method now
        raise StepFailed(f"expected MessagingTimeout, but the call returned {result!r}")

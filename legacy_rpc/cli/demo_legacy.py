"""The legacy part of ``legacy-rpc demo``: a service written as in 2013, unchanged.

Two hosts of an old-style service (``rpc.create_connection()``, ``create_consumer`` with an
``RpcDispatcher``, ``consume_in_thread()``) answer the legacy module functions
(``rpc.call``, ``cast``, ``fanout_cast``, ``multicall``), an ``RpcProxy`` with versions, and
a new-style ``RPCClient`` on the same broker; a legacy notification reaches a new-style
listener. On a real broker, with oslo.messaging installed, an unmodified oslo.messaging
client calls the legacy service too. Configuration goes through ``cfg.CONF`` as in the old
services (``transport_url`` and ``control_exchange``); every override is removed and the
legacy transports released when the part ends.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.cli import DEFAULT_URL
from legacy_rpc.cli._demo_inbox import Inbox
from legacy_rpc.messaging import opts as core_opts

__all__ = ["LegacyPart", "LegacyManager"]

EXCHANGE = "legacy_rpc_demo"
HOSTS = ("host-1", "host-2")


class LegacyManager:
    """A manager as 2013 services wrote them: ``(self, context, **args)`` methods and an
    ``RPC_API_VERSION`` that the ``RpcDispatcher`` checks."""

    RPC_API_VERSION = "1.1"

    def __init__(self, host: str, seen: Inbox) -> None:
        self.host = host
        self._seen = seen

    def add(self, context: Any, a: int, b: int) -> int:
        return a + b

    def remember(self, context: Any, note: str) -> None:
        self._seen.add(self.host, note)

    def countdown(self, context: Any, start: int) -> Iterator[int]:
        yield from range(start, 0, -1)

    def whoami(self, context: Any) -> str:
        return self.host


class _NotificationEndpoint:
    """A new-style listener's endpoint for the legacy notification."""

    def __init__(self, seen: Inbox) -> None:
        self._seen = seen

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
             metadata: Any) -> None:
        self._seen.add(publisher_id, event_type)


Bounded = Callable[[float, str, Callable[[], Any]], Any]


class LegacyPart:
    """Set-up, steps and clean-up of the legacy part; ``demo.Demo`` runs and prints it."""

    def __init__(self, url: str, timeout: float, out: Any, bounded: Bounded,
                 failed: type[Exception]) -> None:
        self.url = url
        self.timeout = timeout
        self.out = out
        self._bounded = bounded
        self._failed = failed
        self.topic = f"legacy-rpc-demo-legacy-{uuid.uuid4().hex[:8]}"
        self.notify_topic = f"{self.topic}-notifications"
        self.seen = Inbox()
        self._conf = cfg.CONF
        self._overrides: list[tuple[str, str | None]] = []
        self._connections: list[Any] = []
        self._transport: messaging.Transport | None = None
        self._notification_transport: messaging.Transport | None = None
        self._listener: messaging.MessageHandlingServer | None = None
        self._rpc: Any = None

    # ----------------------------------------------------------------- set-up

    def _override(self, name: str, value: Any, group: str | None = None) -> None:
        self._conf.set_override(name, value, group=group)
        self._overrides.append((name, group))

    def setup(self) -> None:
        from legacy_rpc import rpc
        from legacy_rpc.notifier import api as notifier_api  # noqa: F401 - its options
        from legacy_rpc.notifier import rpc_notifier2  # noqa: F401 - its options
        from legacy_rpc.rpc import dispatcher

        self._rpc = rpc
        rpc.cleanup()  # a service configures before its first use of the legacy API
        core_opts.register_transport_opts(self._conf)  # [DEFAULT] transport_url
        self._override("transport_url", self.url)
        self._override("control_exchange", EXCHANGE)
        self._override("notification_driver", ["nova.openstack.common.notifier.rpc_notifier2"])
        self._override("topics", [self.notify_topic], group="rpc_notifier2")
        for host in HOSTS:
            # As a 2013 service's start(): one connection, three consumers, one thread.
            conn = self._bounded(self.timeout, f"connecting {host}",
                                 lambda: rpc.create_connection(new=True))
            self._connections.append(conn)
            proxy = dispatcher.RpcDispatcher([LegacyManager(host, self.seen)])

            def start(conn: Any = conn, proxy: Any = proxy, host: str = host) -> None:
                conn.create_consumer(self.topic, proxy, fanout=False)
                conn.create_consumer(f"{self.topic}.{host}", proxy, fanout=False)
                conn.create_consumer(self.topic, proxy, fanout=True)
                conn.consume_in_thread()

            self._bounded(self.timeout, f"starting {host}", start)
        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[], default_config_dirs=[])
        core_opts.register_transport_opts(conf)
        conf.set_override("control_exchange", EXCHANGE)
        self._transport = self._bounded(self.timeout, "the new-style transport",
                                        lambda: messaging.get_rpc_transport(conf, self.url))
        self._notification_transport = self._bounded(
            self.timeout, "the new-style notification transport",
            lambda: messaging.get_notification_transport(conf, self.url))
        assert self._notification_transport is not None
        self._listener = messaging.get_notification_listener(
            self._notification_transport, [messaging.Target(topic=self.notify_topic)],
            [_NotificationEndpoint(self.seen)])
        self._bounded(self.timeout, "starting the listener", self._listener.start)
        self.out.line(f"Old-style service hosts {' and '.join(HOSTS)} consume topic "
                      f"{self.topic!r} (create_connection, create_consumer, "
                      "consume_in_thread).")

    def cleanup(self) -> list[tuple[str, BaseException]]:
        """Release everything; return what failed."""
        errors: list[tuple[str, BaseException]] = []

        def attempt(what: str, fn: Callable[[], Any]) -> None:
            try:
                self._bounded(self.timeout, what, fn)
            except Exception as exc:
                errors.append((what, exc))

        for conn, host in zip(self._connections, HOSTS, strict=False):
            attempt(f"closing {host}", conn.close)
        if self._listener is not None:
            listener = self._listener
            attempt("stopping the listener", listener.stop)
            attempt("waiting for the listener", listener.wait)
        for transport in (self._transport, self._notification_transport):
            if transport is not None:
                attempt("releasing a new-style transport", transport.cleanup)
        if self._rpc is not None:
            attempt("releasing the legacy transports", self._rpc.cleanup)
        for name, group in self._overrides:
            self._conf.clear_override(name, group=group)
        return errors

    # ------------------------------------------------------------------ steps

    def steps(self) -> list[tuple[str, str, Callable[[], None]]]:
        steps = [
            ("rpc.call", "the legacy module function, a message dict, the return value.",
             self.step_call),
            ("rpc.cast and rpc.fanout_cast", "one host runs a cast; every host runs a "
             "fanout cast.", self.step_casts),
            ("rpc.multicall", "each value a generator method yields comes back as it is "
             "sent.", self.step_multicall),
            ("RpcProxy with versions", "a 2013 client API class; the dispatcher checks "
             "the version.", self.step_proxy),
            ("RPCClient to the old service", "a migrated caller uses the new-style API; "
             "the service is unchanged.", self.step_new_client),
            ("Legacy notification", "notifier_api.notify reaches a new-style notification "
             "listener.", self.step_notify),
        ]
        if self.url != DEFAULT_URL and not self.url.startswith("fake:"):
            steps.append(("oslo.messaging client", "an unmodified oslo.messaging service "
                          "calls the old-style service.", self.step_oslo))
        return steps

    def _timed(self, fn: Callable[[], Any]) -> tuple[Any, float]:
        start = time.perf_counter()
        result = fn()
        return result, time.perf_counter() - start

    def step_call(self) -> None:
        msg = {"method": "add", "args": {"a": 2, "b": 3}}
        self.out.row("sent", f"rpc.call(ctxt, topic, {msg})")
        result, elapsed = self._timed(lambda: self._rpc.call({}, self.topic, msg,
                                                             timeout=self.timeout))
        self.out.row("returned", repr(result), elapsed)
        if result != 5:
            raise self._failed(f"expected 5, got {result!r}")

    def _wait_ran(self, note: str, count: int, start: float) -> None:
        got = self.seen.wait(note, count, self.timeout)
        for host, at in sorted(got, key=lambda item: item[1]):
            self.out.row(host, f"ran remember(note={note!r})", at - start)
        if len(got) < count:
            raise self._failed(f"{len(got)} of {count} host(s) ran it within "
                               f"{self.timeout:g} s")

    def step_casts(self) -> None:
        for fanout, note, count in ((False, "hello", 1), (True, "hello, everyone", 2)):
            msg = {"method": "remember", "args": {"note": note}}
            name = "rpc.fanout_cast" if fanout else "rpc.cast"
            send = self._rpc.fanout_cast if fanout else self._rpc.cast
            start = time.perf_counter()
            send({}, self.topic, msg)
            self.out.row("sent", f"{name}(ctxt, topic, remember(note={note!r}))",
                         time.perf_counter() - start)
            self._wait_ran(note, count, start)

    def step_multicall(self) -> None:
        msg = {"method": "countdown", "args": {"start": 3}}
        self.out.row("sent", "rpc.multicall(ctxt, topic, countdown(start=3))")
        start = time.perf_counter()
        values = []
        for value in self._rpc.multicall({}, self.topic, msg, timeout=self.timeout):
            values.append(value)
            self.out.row("yielded", repr(value), time.perf_counter() - start)
        if values != [3, 2, 1]:
            raise self._failed(f"expected [3, 2, 1], got {values!r}")

    def step_proxy(self) -> None:
        from legacy_rpc.rpc import common, proxy

        class DemoAPI(proxy.RpcProxy):
            """Client side of the demo service, as a 2013 ``rpcapi.py`` module had it."""

            BASE_RPC_API_VERSION = "1.0"

            def __init__(self, topic: str) -> None:
                super().__init__(topic=topic, default_version=self.BASE_RPC_API_VERSION)

            def add(self, ctxt: Any, a: int, b: int, version: str | None = None) -> Any:
                return self.call(ctxt, self.make_msg("add", a=a, b=b), version=version)

        api = DemoAPI(self.topic)
        self.out.row("sent", "DemoAPI(topic).add(ctxt, 1, 1), version 1.0 (service: 1.1)")
        result, elapsed = self._timed(lambda: api.add({}, 1, 1))
        self.out.row("returned", repr(result), elapsed)
        if result != 2:
            raise self._failed(f"expected 2, got {result!r}")
        self.out.row("sent", "the same at version 2.0")
        start = time.perf_counter()
        try:
            result = api.add({}, 1, 1, version="2.0")
        except (common.RemoteError, common.UnsupportedRpcVersion) as exc:
            kind = getattr(exc, "exc_type", None) or type(exc).__name__
            self.out.row("raised", f"{type(exc).__name__} ({kind})",
                         time.perf_counter() - start)
            return
        raise self._failed(f"a call at version 2.0 should fail, but it returned {result!r}")

    def step_new_client(self) -> None:
        assert self._transport is not None
        client = messaging.get_rpc_client(self._transport,
                                          messaging.Target(topic=self.topic, version="1.0"),
                                          timeout=self.timeout)
        self.out.row("sent", "RPCClient.call({}, 'add', a=20, b=22)")
        result, elapsed = self._timed(lambda: client.call({}, "add", a=20, b=22))
        self.out.row("returned", repr(result), elapsed)
        host = f"{self.topic}.{HOSTS[1]}"
        self.out.row("sent", f"RPCClient.prepare(server={HOSTS[1]!r}).call({{}}, 'whoami')")
        result, elapsed = self._timed(
            lambda: client.prepare(server=HOSTS[1]).call({}, "whoami"))
        self.out.row("returned", repr(result), elapsed)
        self.out.note(f"The legacy host consumes {host!r}, the queue a new-style "
                      "server-targeted call goes to.")
        if result != HOSTS[1]:
            raise self._failed(f"expected {HOSTS[1]!r}, got {result!r}")

    def step_notify(self) -> None:
        from legacy_rpc.notifier import api as notifier_api

        start = time.perf_counter()
        notifier_api.notify({}, "demo.host-1", "demo.started", "INFO", {"hosts": 2})
        self.out.row("sent", "notifier_api.notify(ctxt, 'demo.host-1', 'demo.started', "
                             "'INFO', payload)", time.perf_counter() - start)
        got = self.seen.wait("demo.started", 1, self.timeout)
        if not got:
            raise self._failed(f"the listener got nothing within {self.timeout:g} s")
        self.out.row("listener", "info(publisher_id='demo.host-1', "
                                 "event_type='demo.started')", got[0][1] - start)

    def step_oslo(self) -> None:
        if importlib.util.find_spec("oslo_messaging") is None:
            self.out.note("oslo.messaging is not installed: skipped (pip install "
                          "oslo.messaging to see it call the legacy service).")
            return
        # Its own process, as a real oslo.messaging service is: nothing of legacy_rpc in it.
        self.out.row("sent", f"oslo.messaging {_version()} (another process): "
                             "client.call({}, 'add', a=40, b=2)")
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _OSLO_CLIENT, self.url, EXCHANGE, self.topic,
                 str(self.timeout)], capture_output=True, text=True,
                timeout=self.timeout + 30, check=False)
        except subprocess.TimeoutExpired as exc:
            raise self._failed("the oslo.messaging process did not end in time") from exc
        lines = proc.stdout.strip().splitlines()
        answer = json.loads(lines[-1]) if lines else {}
        if "unsupported" in answer:  # e.g. zmq://: oslo.messaging dropped its zmq driver
            self.out.note(f"oslo.messaging {_version()} cannot use this transport: skipped "
                          f"({answer['unsupported']}).")
            return
        if "result" not in answer:
            raise self._failed(f"oslo.messaging: {answer.get('error') or proc.stderr[-300:]}")
        self.out.row("returned", repr(answer["result"]), time.perf_counter() - start)
        self.out.note(f"Its call took {answer['elapsed'] * 1e3:.1f} ms; the rest is the "
                      "process starting.")
        if answer["result"] != 42:
            raise self._failed(f"expected 42, got {answer['result']!r}")


_OSLO_CLIENT = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
url, exchange, topic, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
try:
    import oslo_messaging
    from oslo_config import cfg
    cfg.CONF(args=[], default_config_files=[], default_config_dirs=[])
    try:
        transport = oslo_messaging.get_rpc_transport(cfg.CONF, url)
    except oslo_messaging.DriverLoadFailure as exc:
        print(json.dumps({"unsupported": str(exc)[:300]}))
        sys.exit(0)
    target = oslo_messaging.Target(exchange=exchange, topic=topic, version="1.0")
    client = oslo_messaging.get_rpc_client(transport, target, timeout=timeout)
    start = time.monotonic()
    result = client.call({}, "add", a=40, b=2)
    print(json.dumps({"result": result, "elapsed": time.monotonic() - start}))
    transport.cleanup()
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {str(exc)[:300]}"}))
"""


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("oslo.messaging")
    except Exception:
        return "?"

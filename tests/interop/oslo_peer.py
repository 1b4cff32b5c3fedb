"""An unmodified oslo.messaging peer, run as a separate process by the interop tests.

It imports oslo.messaging (never legacy_rpc), plays one role, and talks to the test through
JSON lines: every line it prints on stdout is one JSON object with an ``event`` key; logs go
to stderr. It exits by itself when stdin is closed, on a ``{"op": "quit"}`` command, or after
``--max-seconds``.

Roles (the target is ``--exchange`` / ``--topic``):

``server``
    One RPC server per ``--server NAME`` (all in this process, each with its own queues),
    with the endpoints below. Prints ``{"event": "ready", "server": NAME}`` once that server's
    queues are declared, and ``{"event": "rpc", "server", "method", "args", "ctxt"}`` for
    every ``record`` call or cast.
``client``
    Reads commands from stdin, one JSON object a line, and runs each in its own thread::

        {"id": 1, "op": "call" | "cast", "method": "echo", "args": {...}, "ctxt": {...},
         "server": ..., "fanout": ..., "namespace": ..., "version": ..., "timeout": ...,
         "call_monitor_timeout": ...}

    and answers ``{"event": "result", "id": 1, "ok": true, "result": ..., "elapsed": s}`` or
    ``{"event": "result", "id": 1, "ok": false, "error": {...}, "elapsed": s}``.
``notifier``
    Commands ``{"id", "op": "notify", "driver": "messagingv2" | "messaging", "topics": [...],
    "priority": "info", "publisher_id", "event_type", "payload", "ctxt": {...} | null}``; a
    ``ctxt`` is sent as an ``oslo_context.RequestContext`` (a plain dict would be dropped by the
    notifier). Answers like the client once the notification is published.
``listener``
    Notification listeners from ``--listener '{"name", "topic", "pool", "requeue"}'``
    (repeatable), each on priorities ``info`` and ``error``. Prints ``ready`` per listener and
    ``{"event": "notification", "listener", "priority", "ctxt", "publisher_id", "event_type",
    "payload", "metadata", "attempt", "verdict"}`` per delivery. A listener with
    ``requeue: true`` answers REQUEUE the first time it sees a message id.

Usage: ``python oslo_peer.py ROLE --url rabbit://... --exchange X --topic T [options]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

warnings.simplefilter("ignore")  # oslo.messaging warns about eventlet and deprecations

import oslo_messaging  # noqa: E402
from oslo_config import cfg  # noqa: E402

LOG = logging.getLogger("oslo_peer")
ERRORS_MODULE = "tests.interop.interop_errors"


class Output:
    """Writes JSON lines to stdout, one writer at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields}, default=repr)
        with self._lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


OUT = Output()


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """What the test needs to know about an exception raised by oslo.messaging."""
    cls = type(exc)
    kwargs = getattr(exc, "kwargs", None)
    return {
        "class": cls.__name__,
        "module": cls.__module__,
        "mro": [f"{c.__module__}.{c.__name__}" for c in cls.__mro__],
        "exc_type": getattr(exc, "exc_type", None),
        "value": getattr(exc, "value", None),
        "kwargs": kwargs if isinstance(kwargs, dict) else None,
        "message": str(exc)[:4000],
    }


# --------------------------------------------------------------------------- server role

class PeerEndpoint:
    """The default-namespace endpoint of an oslo RPC server."""

    def __init__(self, name: str) -> None:
        self.name = name

    def echo(self, ctxt: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {"args": kwargs, "ctxt": ctxt, "server": self.name}

    def whoami(self, ctxt: dict[str, Any]) -> str:
        return self.name

    def record(self, ctxt: dict[str, Any], **kwargs: Any) -> None:
        OUT.emit("rpc", server=self.name, method="record", args=kwargs, ctxt=ctxt)

    def fail_value(self, ctxt: dict[str, Any], text: str) -> None:
        raise ValueError(text, 42)

    def fail_custom(self, ctxt: dict[str, Any], message: str, code: int) -> None:
        from tests.interop.interop_errors import InteropError

        raise InteropError(message, code=code)

    def slow(self, ctxt: dict[str, Any], seconds: float) -> dict[str, Any]:
        time.sleep(seconds)  # the slowness is what the caller tests
        return {"slept": seconds, "ctxt": ctxt, "server": self.name}

    def _secret(self, ctxt: dict[str, Any]) -> str:
        return "private methods must not be callable remotely"


class VersionedEndpoint:
    """An endpoint in namespace ``ns`` at version 1.3."""

    target = oslo_messaging.Target(namespace="ns", version="1.3")

    def __init__(self, name: str) -> None:
        self.name = name

    def versioned(self, ctxt: dict[str, Any], x: Any) -> dict[str, Any]:
        return {"x": x, "namespace": "ns", "server": self.name}


def run_server(args: argparse.Namespace, conf: cfg.ConfigOpts, stop: threading.Event) -> None:
    transport = oslo_messaging.get_rpc_transport(conf, args.url,
                                                 allowed_remote_exmods=[ERRORS_MODULE])
    servers = []
    try:
        for name in args.server or ["server1"]:
            target = oslo_messaging.Target(exchange=args.exchange, topic=args.topic, server=name)
            server = oslo_messaging.get_rpc_server(
                transport, target, [PeerEndpoint(name), VersionedEndpoint(name)],
                executor="threading")
            server.start()  # declares the topic, server and fanout queues before returning
            servers.append(server)
            OUT.emit("ready", role="server", server=name, **identity())
        stop.wait()
    finally:
        stop_all(servers)
        timed("transport cleanup", transport.cleanup)


def timed(what: str, func: Callable[[], Any]) -> None:
    started = time.monotonic()
    func()
    LOG.info("%s took %.2fs", what, time.monotonic() - started)


def stop_all(servers: list[Any]) -> None:
    """Stop, then wait for, every server or listener, all in parallel.

    An oslo listener only notices stop() when its current drain ends, which can take
    seconds when it has been idle; in parallel the peer exits after the longest one.
    """

    def stop_and_wait(server: Any) -> None:
        timed("stop", server.stop)
        timed("wait", server.wait)

    threads = [threading.Thread(target=stop_and_wait, args=(server,), daemon=True)
               for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# --------------------------------------------------------------------------- client role

def run_command(command: dict[str, Any], handler: Callable[[dict[str, Any]], Any]) -> None:
    started = time.monotonic()
    try:
        result = handler(command)
    except Exception as exc:
        LOG.info("command %s failed: %s", command.get("id"), exc)
        OUT.emit("result", id=command.get("id"), ok=False, error=describe_exception(exc),
                 elapsed=time.monotonic() - started)
    else:
        OUT.emit("result", id=command.get("id"), ok=True, result=result,
                 elapsed=time.monotonic() - started)


def rpc_handler(args: argparse.Namespace,
                conf: cfg.ConfigOpts) -> tuple[Callable[[dict[str, Any]], Any], Any]:
    transport = oslo_messaging.get_rpc_transport(conf, args.url,
                                                 allowed_remote_exmods=[ERRORS_MODULE])
    client = oslo_messaging.get_rpc_client(
        transport, oslo_messaging.Target(exchange=args.exchange, topic=args.topic))

    def handle(command: dict[str, Any]) -> Any:
        prepare = {key: command[key] for key in ("server", "fanout", "namespace", "version",
                                                  "timeout", "call_monitor_timeout")
                   if command.get(key) is not None}
        cctxt = client.prepare(**prepare) if prepare else client
        ctxt = command.get("ctxt") or {}
        kwargs = command.get("args") or {}
        if command["op"] == "call":
            return cctxt.call(ctxt, command["method"], **kwargs)
        if command["op"] == "cast":
            cctxt.cast(ctxt, command["method"], **kwargs)
            return None
        raise ValueError(f"unknown op {command['op']!r}")

    return handle, transport


# --------------------------------------------------------------------------- notifier role

def notify_handler(args: argparse.Namespace,
                   conf: cfg.ConfigOpts) -> tuple[Callable[[dict[str, Any]], Any], Any]:
    from oslo_context import context as oslo_context

    transport = oslo_messaging.get_notification_transport(conf, args.url)
    notifiers: dict[tuple[str, tuple[str, ...]], Any] = {}
    lock = threading.Lock()

    def handle(command: dict[str, Any]) -> Any:
        if command["op"] != "notify":
            raise ValueError(f"unknown op {command['op']!r}")
        topics = tuple(command.get("topics") or [args.topic])
        key = (command["driver"], topics)
        with lock:
            notifier = notifiers.get(key)
            if notifier is None:
                notifier = notifiers[key] = oslo_messaging.Notifier(
                    transport, driver=command["driver"], topics=list(topics))
        raw_ctxt = command.get("ctxt")
        ctxt: Any = oslo_context.RequestContext(**raw_ctxt) if raw_ctxt is not None else {}
        prepared = notifier.prepare(publisher_id=command["publisher_id"])
        method = getattr(prepared, command.get("priority", "info"))
        method(ctxt, command["event_type"], command["payload"])
        return None

    return handle, transport


def run_commands(args: argparse.Namespace, conf: cfg.ConfigOpts, stop: threading.Event,
                 factory: Callable[[argparse.Namespace, cfg.ConfigOpts],
                                   tuple[Callable[[dict[str, Any]], Any], Any]]) -> None:
    handler, transport = factory(args, conf)
    workers: list[threading.Thread] = []
    OUT.emit("ready", role=args.role, **identity())

    def read_stdin() -> None:
        try:
            for line in sys.stdin:
                if not line.strip():
                    continue
                try:
                    command = json.loads(line)
                except ValueError:
                    OUT.emit("error", message=f"not JSON: {line!r}")
                    continue
                if command.get("op") == "quit":
                    break
                worker = threading.Thread(target=run_command, args=(command, handler),
                                          daemon=True)
                workers.append(worker)
                worker.start()
        finally:
            stop.set()

    threading.Thread(target=read_stdin, daemon=True, name="stdin").start()
    try:
        stop.wait()
        deadline = time.monotonic() + 10
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
    finally:
        transport.cleanup()


# --------------------------------------------------------------------------- listener role

class NotificationEndpoint:
    """Reports every notification; with ``requeue`` answers REQUEUE to a first delivery."""

    def __init__(self, name: str, requeue: bool) -> None:
        self.name = name
        self.requeue = requeue
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()

    def _handle(self, priority: str, ctxt: Any, publisher_id: Any, event_type: Any,
                payload: Any, metadata: Any) -> Any:
        message_id = str((metadata or {}).get("message_id"))
        with self._lock:
            attempt = self._attempts[message_id] = self._attempts.get(message_id, 0) + 1
        requeue = self.requeue and attempt == 1
        OUT.emit("notification", listener=self.name, priority=priority, ctxt=ctxt,
                 publisher_id=publisher_id, event_type=event_type, payload=payload,
                 metadata=metadata, attempt=attempt,
                 verdict="requeue" if requeue else "handled")
        return oslo_messaging.NotificationResult.REQUEUE if requeue else \
            oslo_messaging.NotificationResult.HANDLED

    def info(self, ctxt: Any, publisher_id: Any, event_type: Any, payload: Any,
             metadata: Any) -> Any:
        return self._handle("info", ctxt, publisher_id, event_type, payload, metadata)

    def error(self, ctxt: Any, publisher_id: Any, event_type: Any, payload: Any,
              metadata: Any) -> Any:
        return self._handle("error", ctxt, publisher_id, event_type, payload, metadata)


def run_listener(args: argparse.Namespace, conf: cfg.ConfigOpts,
                 stop: threading.Event) -> None:
    transport = oslo_messaging.get_notification_transport(conf, args.url)
    listeners = []
    try:
        for spec_text in args.listener or []:
            spec = json.loads(spec_text)
            target = oslo_messaging.Target(exchange=args.exchange,
                                           topic=spec.get("topic") or args.topic)
            requeue = bool(spec.get("requeue"))
            listener = oslo_messaging.get_notification_listener(
                transport, [target], [NotificationEndpoint(spec["name"], requeue)],
                executor="threading", allow_requeue=requeue, pool=spec.get("pool"))
            listener.start()  # declares and binds its queues before returning
            listeners.append(listener)
            OUT.emit("ready", role="listener", listener=spec["name"], **identity())
        stop.wait()
    finally:
        stop_all(listeners)
        timed("transport cleanup", transport.cleanup)


# --------------------------------------------------------------------------- main

def identity() -> dict[str, Any]:
    """Proof of who answers: oslo.messaging's version, and that legacy_rpc is not loaded."""
    from importlib.metadata import version

    return {"pid": os.getpid(), "oslo_messaging": version("oslo.messaging"),
            "legacy_rpc_loaded": any(m == "legacy_rpc" or m.startswith("legacy_rpc.")
                                     for m in sys.modules)}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("role", choices=("server", "client", "notifier", "listener"))
    parser.add_argument("--url", required=True, help="transport URL of the RabbitMQ broker")
    parser.add_argument("--exchange", required=True, help="control exchange / target exchange")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--server", action="append", help="server name (role server)")
    parser.add_argument("--listener", action="append", help="listener spec as JSON")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="exit by itself after this long")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    oslo_messaging.set_transport_defaults(control_exchange=args.exchange)
    # The global CONF, as services use it: 18.3.1 registers its [oslo_messaging_tracing]
    # options there only, and a private ConfigOpts makes call() raise NoSuchOptError.
    conf = cfg.CONF
    conf([], project="oslo-peer")
    stop = threading.Event()

    def stop_on_eof() -> None:
        try:
            while sys.stdin.readline():
                pass
        finally:
            stop.set()

    if args.role in ("server", "listener"):
        threading.Thread(target=stop_on_eof, daemon=True, name="stdin").start()
    expired = threading.Event()

    def expire() -> None:
        LOG.warning("--max-seconds (%s) reached; exiting", args.max_seconds)
        expired.set()
        stop.set()

    timer = threading.Timer(args.max_seconds, expire)
    timer.daemon = True
    timer.start()
    # Shutting down must be bounded too: a stuck stop() must not outlive --max-seconds.
    watchdog = threading.Timer(args.max_seconds + 15, lambda: os._exit(3))
    watchdog.daemon = True
    watchdog.start()
    status = 0
    try:
        if args.role == "server":
            run_server(args, conf, stop)
        elif args.role == "listener":
            run_listener(args, conf, stop)
        elif args.role == "client":
            run_commands(args, conf, stop, rpc_handler)
        else:
            run_commands(args, conf, stop, notify_handler)
    except Exception as exc:
        traceback.print_exc()
        OUT.emit("fatal", error=describe_exception(exc))
        status = 2
    OUT.emit("exit", status=status, timed_out=expired.is_set())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # oslo's executor threads must not keep the process alive


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``legacy-rpc notify`` and ``legacy-rpc listen``: send and watch notifications.

``notify`` sends one notification with the notifier API (driver ``messagingv2`` by
default) and exits 1 if a driver reported an error. ``listen`` prints notifications as
they arrive, until Ctrl-C or SIGTERM, ``--count`` notifications or ``--timeout`` seconds.

``fake://`` (the default URL) is an in-memory broker inside one process: a ``notify`` run
cannot reach a ``listen`` run. Use a real broker (``--url rabbit://...``) between
processes; in one process (tests), :func:`run_listen` takes a shared transport and a
``ready`` callback that runs once the listener is subscribed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, TextIO

from oslo_config import cfg

from legacy_rpc.messaging import _jsonutils, _mask, opts
from legacy_rpc.messaging.exceptions import MessagingException
from legacy_rpc.messaging.notify import (
    NotificationResult,
    Notifier,
    get_notification_listener,
    get_notification_transport,
)
from legacy_rpc.messaging.notify.dispatcher import PRIORITIES
from legacy_rpc.messaging.target import Target
from legacy_rpc.messaging.transport import Transport

__all__ = ["register", "notify_command", "listen_command", "run_notify", "run_listen"]

DEFAULT_URL = "fake://"
DEFAULT_TOPIC = "notifications"
_FAKE_NOTE = ("fake:// is an in-memory broker that lives inside one process: nothing "
              "outside this command can see it. Use --url rabbit://... between processes.")
_SEND_METHODS = (*PRIORITIES, "warning")
_BUS_DRIVERS = ("messaging", "messagingv2", "routing")


def register(subparsers: Any) -> None:
    """Add the ``notify`` and ``listen`` subcommands."""
    send = subparsers.add_parser(
        "notify", help="send one notification",
        description="Send one notification through the notifier API. " + _FAKE_NOTE)
    send.add_argument("payload", nargs="?", default="{}",
                      help="the payload as JSON (default {}); text that is not JSON is sent "
                           "as a string")
    send.add_argument("--event-type", default="test", help="event type (default: test)")
    send.add_argument("--publisher-id", default=None,
                      help="publisher id (default: legacy-rpc.<hostname>)")
    send.add_argument("--priority", default="info", choices=_SEND_METHODS,
                      help="priority (default: info)")
    send.add_argument("--topic", action="append", dest="topics", metavar="TOPIC",
                      help=f"topic, repeatable (default: {DEFAULT_TOPIC})")
    send.add_argument("--exchange", default=None,
                      help="exchange, i.e. the control_exchange of the sending service "
                           "(default: openstack)")
    send.add_argument("--driver", default="messagingv2",
                      help="notifier driver: messagingv2 (default), messaging (no "
                           "envelope), log, test, noop, routing")
    send.set_defaults(func=notify_command)

    listen = subparsers.add_parser(
        "listen", help="print notifications as they arrive",
        description="Print notifications as they arrive on <topic>.<priority>, until "
                    "Ctrl-C or SIGTERM (exit 0), --count notifications (exit 0) or "
                    "--timeout seconds (exit 0, or 1 if --count was not reached). Without "
                    "--pool this listener shares the default queue with the consumers "
                    "already there and takes notifications away from them; with --pool "
                    "NAME it gets its own copy (the pool queue stays on the broker after "
                    "exit). " + _FAKE_NOTE)
    listen.add_argument("--topic", action="append", dest="topics", metavar="TOPIC",
                        help=f"topic, repeatable (default: {DEFAULT_TOPIC})")
    listen.add_argument("--exchange", action="append", dest="exchanges", metavar="EXCHANGE",
                        help="exchange, repeatable (default: the control exchange, "
                             "openstack)")
    listen.add_argument("--pool", default=None, help="join this listener pool")
    listen.add_argument("--priority", action="append", dest="priorities",
                        choices=PRIORITIES, metavar="PRIORITY",
                        help=f"only these priorities, repeatable ({', '.join(PRIORITIES)}; "
                             "default: all)")
    listen.add_argument("--count", type=int, default=None, metavar="N",
                        help="exit after N notifications")
    listen.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="exit after this many seconds")
    listen.add_argument("--json", action="store_true",
                        help="print one JSON object per notification instead of text")
    listen.set_defaults(func=listen_command)


# --------------------------------------------------------------------------- shared

def _conf(exchange: str | None) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[], default_config_dirs=[])
    opts.register_transport_opts(conf)
    if exchange:
        conf.set_override("control_exchange", exchange)
    return conf


def _url(args: argparse.Namespace) -> str:
    url: str = getattr(args, "url", None) or DEFAULT_URL
    return url


def _error(command: str, text: str) -> None:
    print(f"legacy-rpc {command}: error: {_mask.mask_url(text)}", file=sys.stderr)


class _ErrorCounter(logging.Handler):
    """Counts the errors the notifier logs (it never raises) while a send runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


# --------------------------------------------------------------------------- notify

def notify_command(args: argparse.Namespace) -> int:
    """The ``notify`` handler."""
    return run_notify(args)


def run_notify(args: argparse.Namespace, transport: Transport | None = None) -> int:
    """Send the notification ``args`` describe, on ``transport`` or a new one."""
    try:
        payload: Any = json.loads(args.payload)
    except ValueError:
        payload = args.payload
    url = _url(args)
    own = transport is None
    try:
        if transport is None:
            transport = get_notification_transport(_conf(args.exchange), url)
        notifier = Notifier(transport, args.publisher_id or f"legacy-rpc.{socket.gethostname()}",
                            driver=args.driver, topics=args.topics or [DEFAULT_TOPIC])
    except (MessagingException, ValueError, OSError) as exc:
        _error("notify", str(exc))
        return 1
    errors = _ErrorCounter()
    notify_log = logging.getLogger("legacy_rpc.messaging.notify")
    notify_log.addHandler(errors)
    try:
        getattr(notifier, args.priority)({}, args.event_type, payload)
    finally:
        notify_log.removeHandler(errors)
        if own:
            transport.cleanup()
    if errors.count:
        _error("notify", "the notification could not be sent (see the log above)")
        return 1
    print(f"sent {args.priority.upper()} {args.event_type} to "
          f"{', '.join(args.topics or [DEFAULT_TOPIC])} with driver {args.driver}",
          file=sys.stderr)
    if own and url.startswith("fake:") and args.driver in _BUS_DRIVERS:
        print(f"note: {_FAKE_NOTE}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- listen

def _format_text(priority: str, ctxt: dict[str, Any], publisher_id: Any, event_type: Any,
                 payload: Any, metadata: dict[str, Any]) -> str:
    lines = [f"{metadata.get('timestamp')}  {priority.upper():<8} {event_type}  "
             f"publisher={publisher_id}  id={metadata.get('message_id')}"]
    shown_ctxt = {k: v for k, v in ctxt.items() if k != "client_timeout"}
    if shown_ctxt:
        lines.append("    context: " + _jsonutils.dumps(_mask.sanitize(shown_ctxt)))
    body = json.dumps(_mask.sanitize(payload), indent=2, sort_keys=True, default=str)
    lines.extend("    " + line for line in body.splitlines())
    return "\n".join(lines)


class _Printer:
    """The endpoint of ``listen``: one method per chosen priority, printing in order."""

    def __init__(self, out: TextIO, as_json: bool, count: int | None,
                 priorities: list[str]) -> None:
        self._out = out
        self._as_json = as_json
        self._count = count
        self._lock = threading.Lock()
        self.seen = 0
        self.done = threading.Event()
        for priority in priorities:
            setattr(self, priority, self._method(priority))

    def _method(self, priority: str) -> Callable[..., str | None]:
        def handle(ctxt: Any, publisher_id: Any, event_type: Any, payload: Any,
                   metadata: dict[str, Any]) -> str | None:
            return self._print(priority, ctxt, publisher_id, event_type, payload, metadata)

        return handle

    def _print(self, priority: str, ctxt: Any, publisher_id: Any, event_type: Any,
               payload: Any, metadata: dict[str, Any]) -> str | None:
        with self._lock:
            if self._count is not None and self.seen >= self._count:
                return NotificationResult.REQUEUE  # not ours to take: give it back
            ctxt = dict(ctxt) if isinstance(ctxt, dict) else {}
            if self._as_json:
                text = _jsonutils.dumps(_mask.sanitize({
                    "priority": priority, "event_type": event_type,
                    "publisher_id": publisher_id, "payload": payload,
                    "metadata": metadata, "ctxt": ctxt}))
            else:
                text = _format_text(priority, ctxt, publisher_id, event_type, payload,
                                    metadata)
            print(text, file=self._out, flush=True)
            self.seen += 1
            if self._count is not None and self.seen >= self._count:
                self.done.set()
        return None


class _Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while listening."""


@contextlib.contextmanager
def _stop_signals() -> Iterator[list[bool]]:
    """Turn SIGINT and SIGTERM into :class:`_Interrupted` while listening.

    Yields a one-element list; set it to True when shutting down, after which further
    signals are ignored so the shutdown completes. Only in the main thread (elsewhere
    signals cannot be handled and nothing is installed).
    """
    shutting_down = [False]
    if threading.current_thread() is not threading.main_thread():
        yield shutting_down
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if not shutting_down[0]:
            raise _Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield shutting_down
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _announce(args: argparse.Namespace, targets: list[Target], transport: Transport,
              priorities: list[str], fake: bool) -> None:
    where = ", ".join(f"{t.exchange or transport.conf.control_exchange}/{t.topic}"
                      for t in targets)
    pool = f" in pool {args.pool}" if args.pool else ""
    print(f"listening on {where} ({', '.join(priorities)}){pool}; Ctrl-C to stop",
          file=sys.stderr, flush=True)
    if fake:
        print(f"note: {_FAKE_NOTE}", file=sys.stderr, flush=True)


def _wait(done: threading.Event, timeout: float | None) -> str:
    """Wait for ``done`` or ``timeout``; return why the wait ended."""
    deadline = time.monotonic() + timeout if timeout is not None else None
    while not done.is_set():
        remaining = deadline - time.monotonic() if deadline is not None else None
        if remaining is not None and remaining <= 0:
            return "timeout"
        done.wait(remaining)
    return "count reached"


def listen_command(args: argparse.Namespace) -> int:
    """The ``listen`` handler."""
    return run_listen(args)


def run_listen(args: argparse.Namespace, transport: Transport | None = None,
               ready: Callable[[], None] | None = None, out: TextIO | None = None) -> int:
    """Listen as ``args`` say, on ``transport`` or a new one; ``ready`` runs once subscribed.

    Returns the exit status: 0, or 1 when ``--timeout`` passed before ``--count`` was
    reached or the listener could not start.
    """
    if args.count is not None and args.count < 1:
        _error("listen", "--count must be at least 1")
        return 2
    if args.timeout is not None and args.timeout < 0:
        _error("listen", "--timeout must not be negative")
        return 2
    out = out or sys.stdout
    url = _url(args)
    own = transport is None
    priorities = args.priorities or list(PRIORITIES)
    printer = _Printer(out, args.json, args.count, list(dict.fromkeys(priorities)))
    try:
        if transport is None:
            transport = get_notification_transport(_conf(None), url)
        targets = [Target(topic=topic, exchange=exchange)
                   for exchange in (args.exchanges or [None])
                   for topic in (args.topics or [DEFAULT_TOPIC])]
        try:
            server = get_notification_listener(transport, targets, [printer],
                                               executor="blocking", allow_requeue=True,
                                               pool=args.pool)
        except NotImplementedError:  # a driver that cannot requeue: extras are acked
            server = get_notification_listener(transport, targets, [printer],
                                               executor="blocking", pool=args.pool)
    except (MessagingException, NotImplementedError, ValueError) as exc:
        _error("listen", str(exc))
        if own and transport is not None:
            transport.cleanup()
        return 1
    started = False
    with _stop_signals() as shutting_down:
        try:
            server.start()
            started = True
            _announce(args, targets, transport, priorities, own and url.startswith("fake:"))
            if ready is not None:
                ready()
            reason = _wait(printer.done, args.timeout)
        except _Interrupted as exc:
            reason = f"interrupted by {exc}"
        except (MessagingException, ValueError) as exc:
            if started:
                raise
            _error("listen", f"could not listen: {exc}")
            return 1
        finally:
            shutting_down[0] = True
            if started:
                server.stop()
                server.wait()
            if own:
                transport.cleanup()
    print(f"received {printer.seen} notification(s); {reason}", file=sys.stderr)
    if reason == "timeout" and args.count is not None:
        return 1
    return 0

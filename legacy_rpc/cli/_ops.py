"""What the operator commands (``ping``, ``call``, ``cast``, ``status``) share.

One exit-code scheme (:data:`EXIT_CODES`), one way to report an error (a single line on
stderr, passwords masked), a check that the broker of a URL can be reached and accepts the
credentials before any request is sent (so "the broker is down" and "no server answered"
are told apart by what happened, not by parsing messages), ``key=value`` argument parsing
and bounded waits.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from oslo_config import cfg

from legacy_rpc.messaging import _mask, opts
from legacy_rpc.messaging._transport_url import (
    InvalidTransportURL,
    TransportHost,
    TransportURL,
)
from legacy_rpc.messaging.drivers.registry import DriverLoadFailure
from legacy_rpc.messaging.exceptions import MessageDeliveryFailure, MessagingTimeout

__all__ = [
    "OK", "FAILED", "USAGE", "BROKER", "EXIT_CODES", "DEFAULT_TIMEOUT", "FAKE_NOTE", "OpsError",
    "add_timeout", "bounded", "check_broker", "check_timeout", "description", "exit_for",
    "fail", "make_conf", "parse_pairs", "parse_url", "parse_value",
]

T = TypeVar("T")

OK, FAILED, USAGE, BROKER = 0, 1, 2, 3
EXIT_CODES = ("exit status: 0 success; 1 the request failed (no answer in time, a remote "
              "error, ping not enabled); 2 usage or configuration error (bad option, bad "
              "URL, unknown driver); 3 broker unreachable or refused the connection (wrong "
              "user or password, unknown virtual host); 130 interrupted.")
"""The epilog of every operator command's ``--help``."""

DEFAULT_TIMEOUT = 10.0
FAKE_NOTE = ("fake:// is an in-memory broker inside one process: it reaches no server in "
             "another process. Use --url rabbit://... between processes.")
_AMQP091_SCHEMES = ("rabbit", "kombu")
_AMQP10_SCHEMES = ("amqp", "amqp1")


class OpsError(Exception):
    """A failure with its exit status and a one-line explanation (never a password)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(_mask.mask_url(message))
        self.code = code


def description(doc: str | None) -> str | None:
    """A module docstring after its first paragraph, as ``--help`` text (no RST quotes)."""
    if not doc or "\n\n" not in doc:
        return None
    return doc.split("\n\n", 1)[1].replace("``", "")


def fail(command: str, error: OpsError) -> int:
    """Print ``error`` as one line on stderr; return its exit status."""
    text = " ".join(str(error).split())
    print(f"legacy-rpc {command}: error: {text}", file=sys.stderr)
    return error.code


def add_timeout(parser: argparse.ArgumentParser) -> None:
    """``--timeout SECONDS``: the longest wait for the broker and for each answer."""
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"longest wait for the broker and for an answer "
                             f"(default {DEFAULT_TIMEOUT:g})")


def check_timeout(timeout: float) -> None:
    """:raises OpsError: (usage) ``timeout`` is not a positive number of seconds."""
    if not timeout > 0 or timeout == float("inf"):
        raise OpsError(USAGE, "--timeout must be a positive number of seconds")


def make_conf(exchange: str | None = None) -> cfg.ConfigOpts:
    """A private configuration with the transport options (no config file read)."""
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[], default_config_dirs=[])
    opts.register_transport_opts(conf)
    if exchange:
        conf.set_override("control_exchange", exchange)
    return conf


# ------------------------------------------------------------------ arguments


def parse_value(text: str) -> Any:
    """``text`` as JSON when it parses (``3``, ``true``, ``"3"``, ``[1]``), else itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``; values as :func:`parse_value`.

    :raises OpsError: (usage) an item without ``=``, an empty key, or a key given twice.
    """
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise OpsError(USAGE, f"argument {pair!r} is not key=value")
        if not key or key != key.strip():
            raise OpsError(USAGE, f"argument {pair!r} has an empty or padded key")
        if key in result:
            raise OpsError(USAGE, f"argument {key!r} is given twice")
        result[key] = parse_value(value)
    return result


# ------------------------------------------------------------------ the broker


def parse_url(url: str) -> TransportURL:
    """:raises OpsError: (usage) ``url`` is not a transport URL."""
    try:
        return TransportURL.parse(make_conf(), url)
    except (InvalidTransportURL, ValueError) as exc:
        raise OpsError(USAGE, f"bad --url: {exc}") from None


def check_broker(url: str, timeout: float) -> TransportURL:
    """Parse ``url`` and, for RabbitMQ (AMQP 0-9-1), log in to one of its hosts.

    For AMQP 1.0 (``amqp://``) only that a host accepts TCP connections is checked; other
    drivers not at all: their own errors are reported when the request is sent.
    ``fake://`` gets a note on stderr: it cannot reach another process.

    :raises OpsError: (usage) a bad URL; (broker) no host could be reached within
        ``timeout`` seconds, or the broker refused the login or the virtual host.
    """
    parsed = parse_url(url)
    if parsed.transport == "fake":
        print(f"note: {FAKE_NOTE}", file=sys.stderr)
    if parsed.transport in _AMQP10_SCHEMES:
        _check_tcp(parsed, timeout)
    if parsed.transport not in _AMQP091_SCHEMES:
        return parsed
    import amqp  # the rabbit driver's own client; absent without the rabbit extra

    vhost = parsed.virtual_host or "/"
    reasons: list[str] = []
    for host in parsed.hosts or [TransportHost("localhost", 5672, "guest", "guest")]:
        where = f"{host.hostname or '127.0.0.1'}:{host.port or 5672}"
        conn = amqp.Connection(
            host=where, userid=host.username if host.username is not None else "guest",
            password=host.password if host.password is not None else "guest",
            virtual_host=vhost, connect_timeout=timeout, read_timeout=timeout,
            write_timeout=timeout)
        try:
            conn.connect()
            return parsed
        except amqp.exceptions.AccessRefused:
            raise OpsError(BROKER, f"the broker at {where} refused the login of user "
                                   f"{host.username or 'guest'!r}: wrong user name or "
                                   "password") from None
        except amqp.exceptions.NotAllowed:
            raise OpsError(BROKER, f"the broker at {where} refused virtual host {vhost!r}: "
                                   "it does not exist or the user may not use it") from None
        except (OSError, amqp.exceptions.AMQPError) as exc:
            reasons.append(f"{where}: {_describe(exc)}")
        finally:
            with contextlib.suppress(Exception):  # best effort on a connection we drop
                conn.collect()
    raise OpsError(BROKER, f"the broker is unreachable ({'; '.join(reasons)})")


def _check_tcp(parsed: TransportURL, timeout: float) -> None:
    """:raises OpsError: (broker) no host of ``parsed`` accepts a TCP connection."""
    reasons: list[str] = []
    for host in parsed.hosts or [TransportHost("localhost", 5672)]:
        where = (host.hostname or "localhost", host.port or 5672)
        try:
            socket.create_connection(where, timeout=timeout).close()
            return
        except OSError as exc:
            reasons.append(f"{where[0]}:{where[1]}: {_describe(exc)}")
    raise OpsError(BROKER, f"the broker is unreachable ({'; '.join(reasons)})")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return "unknown host name"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "no answer in time"
    return f"{type(exc).__name__}: {exc}"


def exit_for(exc: BaseException) -> OpsError:
    """The exit status and message for an error the messaging core raised."""
    first = str(exc).split("\nTraceback", 1)[0].strip() or type(exc).__name__
    if isinstance(exc, OpsError):
        return exc
    if isinstance(exc, (DriverLoadFailure, InvalidTransportURL)):
        return OpsError(USAGE, f"bad --url: {first}")
    if isinstance(exc, MessagingTimeout):
        return OpsError(FAILED, f"no answer in time: {first}")
    if isinstance(exc, MessageDeliveryFailure):
        return OpsError(BROKER, f"the broker refused the request: {first}")
    return OpsError(FAILED, f"{type(exc).__name__.removesuffix('_Remote')}: {first}")


def bounded(seconds: float, what: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a daemon thread; give up waiting for it after ``seconds``.

    :raises OpsError: (failed) ``fn`` did not finish in time; what ``fn`` raised otherwise.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name=f"legacy-rpc {what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise OpsError(FAILED, f"{what} did not finish within {seconds:g} s")
    if error:
        raise error[0]
    return result[0]

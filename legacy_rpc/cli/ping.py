"""``legacy-rpc ping TOPIC``: is an RPC service alive, and how long does a round trip take?

Calls ``oslo_rpc_server_ping``, the endpoint that oslo.messaging's RPC servers (and this
library's) add when their configuration says ``rpc_ping_enabled = true`` (``[DEFAULT]``).
It answers ``"pong"`` without touching the service's own endpoints, so a ping is safe on a
production fleet. Each ping goes to one server of the topic (or to ``--server``); a server
without the ping endpoint answers with an error, reported as "ping is not enabled".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from typing import Any, TextIO

from legacy_rpc.cli import _ops
from legacy_rpc.messaging import get_rpc_client, get_rpc_transport
from legacy_rpc.messaging.exceptions import MessagingTimeout, RemoteError
from legacy_rpc.messaging.rpc.dispatcher import NoSuchMethod, UnsupportedVersion
from legacy_rpc.messaging.target import Target
from legacy_rpc.messaging.transport import Transport

__all__ = ["register", "run", "run_ping", "PING_METHOD"]

PING_METHOD = "oslo_rpc_server_ping"
_NOT_ENABLED = ("NoSuchMethod", "UnsupportedVersion")


def register(subparsers: Any) -> None:
    """Add the ``ping`` subcommand."""
    parser = subparsers.add_parser(
        "ping", help="ping the RPC servers of a topic and show round-trip times",
        description=_ops.description(__doc__),
        epilog=_ops.EXIT_CODES)
    parser.add_argument("topic", metavar="TOPIC", help="the topic the servers listen on")
    parser.add_argument("--server", default=None, help="ping this server of the topic only")
    parser.add_argument("--exchange", default=None,
                        help="the servers' control_exchange (default: openstack)")
    parser.add_argument("--count", type=int, default=1, metavar="N",
                        help="send N pings, one after the other (default 1)")
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                        help="pause between pings (default 1)")
    _ops.add_timeout(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The ``ping`` handler."""
    return run_ping(args)


def _check(args: argparse.Namespace) -> None:
    _ops.check_timeout(args.timeout)
    if args.count < 1:
        raise _ops.OpsError(_ops.USAGE, "--count must be at least 1")
    if not args.interval >= 0:
        raise _ops.OpsError(_ops.USAGE, "--interval must not be negative")


def _not_enabled(exc: BaseException) -> bool:
    if isinstance(exc, (NoSuchMethod, UnsupportedVersion)):
        return True
    return isinstance(exc, RemoteError) and exc.exc_type in _NOT_ENABLED


def run_ping(args: argparse.Namespace, out: TextIO | None = None,
             stop: threading.Event | None = None) -> int:
    """Ping as ``args`` say; print one line per answer and a summary; return the status."""
    out = out or sys.stdout
    stop = stop or threading.Event()
    transport: Transport | None = None
    try:
        _check(args)
        _ops.check_broker(args.url, args.timeout)
        conf = _ops.make_conf(args.exchange)
        transport = get_rpc_transport(conf, args.url)
        target = Target(topic=args.topic, server=args.server)
        client = get_rpc_client(transport, target, timeout=args.timeout, retry=1)
        where = f"{args.topic}.{args.server}" if args.server else args.topic
        times = _ping_loop(client, where, args, out, stop)
    except Exception as exc:
        return _ops.fail("ping", _ops.exit_for(exc))
    finally:
        if transport is not None:
            transport.cleanup()
    lost = args.count - len(times) if not stop.is_set() else 0
    summary = f"--- {where}: {len(times)} answered"
    if times:
        summary += (f", round trip min/avg/max {min(times) * 1e3:.1f}/"
                    f"{statistics.fmean(times) * 1e3:.1f}/{max(times) * 1e3:.1f} ms")
    print(summary, file=out)
    return _ops.FAILED if lost else _ops.OK


def _ping_loop(client: Any, where: str, args: argparse.Namespace, out: TextIO,
               stop: threading.Event) -> list[float]:
    """Send the pings; return the round trips of the answered ones.

    :raises OpsError: the servers answered without the ping endpoint.
    """
    times: list[float] = []
    for number in range(1, args.count + 1):
        if number > 1 and stop.wait(args.interval):
            break
        start = time.perf_counter()
        try:
            reply = _ops.bounded(args.timeout + 5, "the ping",
                                 lambda: client.call({}, PING_METHOD))
        except MessagingTimeout:
            print(f"no answer from {where} within {args.timeout:g} s (ping {number})",
                  file=out, flush=True)
            continue
        except Exception as exc:
            if _not_enabled(exc):
                raise _ops.OpsError(
                    _ops.FAILED, f"a server of {where} answered, but ping is not enabled "
                                 "on it (set rpc_ping_enabled = true in [DEFAULT] of the "
                                 "service's configuration)") from None
            raise
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        print(f"{reply} from {where}: ping {number} time={elapsed * 1e3:.1f} ms",
              file=out, flush=True)
    return times

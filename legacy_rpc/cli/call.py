"""``legacy-rpc call`` and ``legacy-rpc cast``: ad-hoc RPC requests from the command line.

``call TOPIC METHOD key=value...`` invokes ``METHOD`` on one server of ``TOPIC`` (or on
``--server``) and prints its result as JSON on stdout; ``cast`` sends the request without
waiting (``--fanout``: to every server of the topic). Each value is read as JSON when it
parses (``n=3``, ``flag=true``, ``ids=[1,2]``, ``name='"3"'``) and as a string otherwise.
By default the request goes through the new-style ``RPCClient``; ``--legacy`` sends it as
a 2013 service did, with ``rpc.call``/``rpc.cast`` and a message dict (``method``,
``args``, ``version``, ``namespace``). Both reach legacy, migrated and oslo.messaging
servers alike.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from oslo_config import cfg

from legacy_rpc.cli import _ops
from legacy_rpc.messaging import get_rpc_client, get_rpc_transport
from legacy_rpc.messaging.target import Target

__all__ = ["register", "run", "run_request", "legacy_message"]


def register(subparsers: Any) -> None:
    """Add the ``call`` and ``cast`` subcommands."""
    description = _ops.description(__doc__)
    for name, help_text in (("call", "call an RPC method and print its result as JSON"),
                            ("cast", "cast an RPC method (no answer is awaited)")):
        parser = subparsers.add_parser(name, help=help_text, description=description,
                                       epilog=_ops.EXIT_CODES)
        parser.add_argument("topic", metavar="TOPIC", help="the topic the servers listen on")
        parser.add_argument("method", metavar="METHOD", help="the method to invoke")
        parser.add_argument("pairs", nargs="*", metavar="KEY=VALUE",
                            help="the method's arguments; values as JSON or strings")
        parser.add_argument("--server", default=None, help="send to this server only")
        parser.add_argument("--version", default=None,
                            help="the API version the request needs (e.g. 1.1)")
        parser.add_argument("--namespace", default=None, help="the endpoint's namespace")
        parser.add_argument("--exchange", default=None,
                            help="the servers' control_exchange (default: openstack)")
        parser.add_argument("--legacy", action="store_true",
                            help="send with the legacy rpc.call/rpc.cast API and a "
                                 "message dict instead of the new-style RPCClient")
        if name == "cast":
            parser.add_argument("--fanout", action="store_true",
                                help="send to every server of the topic")
        _ops.add_timeout(parser)
        parser.set_defaults(func=run, kind=name)


def run(args: argparse.Namespace) -> int:
    """The ``call`` and ``cast`` handler."""
    return run_request(args)


def legacy_message(method: str, kwargs: dict[str, Any], version: str | None,
                   namespace: str | None) -> dict[str, Any]:
    """The legacy message dict of a request (as ``RpcProxy.make_msg`` built it)."""
    msg: dict[str, Any] = {"method": method, "args": kwargs}
    if version is not None:
        msg["version"] = version
    if namespace is not None:
        msg["namespace"] = namespace
    return msg


def run_request(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Send the request ``args`` describe; print a call's result; return the status."""
    out = out or sys.stdout
    fanout = bool(getattr(args, "fanout", False))
    try:
        _ops.check_timeout(args.timeout)
        if fanout and args.server:
            raise _ops.OpsError(_ops.USAGE, "--fanout and --server exclude each other")
        kwargs = _ops.parse_pairs(args.pairs)
        _ops.check_broker(args.url, args.timeout)
        send = _legacy if args.legacy else _new_style
        result = _ops.bounded(args.timeout + 5, f"the {args.kind}",
                              lambda: send(args, kwargs, fanout))
        if args.kind == "call":
            text = json.dumps(result, sort_keys=True)
    except Exception as exc:
        return _ops.fail(args.kind, _ops.exit_for(_legacy_error(exc)))
    if args.kind == "call":
        print(text, file=out, flush=True)
    else:
        where = "every server of" if fanout else "one server of"
        print(f"sent {args.method} to {where} {_where(args)} (a cast is not answered)",
              file=sys.stderr)
    return _ops.OK


def _where(args: argparse.Namespace) -> str:
    return f"{args.topic}.{args.server}" if args.server else args.topic


def _new_style(args: argparse.Namespace, kwargs: dict[str, Any], fanout: bool) -> Any:
    transport = get_rpc_transport(_ops.make_conf(args.exchange), args.url)
    try:
        target = Target(topic=args.topic, server=args.server, version=args.version,
                        namespace=args.namespace, fanout=fanout or None)
        client = get_rpc_client(transport, target, timeout=args.timeout, retry=1)
        if args.kind == "call":
            return client.call({}, args.method, **kwargs)
        client.cast({}, args.method, **kwargs)
        return None
    finally:
        transport.cleanup()


def _legacy(args: argparse.Namespace, kwargs: dict[str, Any], fanout: bool) -> Any:
    """The request through the legacy module API, configured as an old service is
    (``cfg.CONF``); the overrides are removed afterwards. The process's legacy transports
    are released before and after (``rpc.cleanup()``): fine for the CLI's own process,
    not for one that also runs a legacy service."""
    from legacy_rpc import rpc
    from legacy_rpc.messaging import opts

    conf = cfg.CONF
    opts.register_transport_opts(conf)
    overrides = [("transport_url", args.url)]
    if args.exchange:
        overrides.append(("control_exchange", args.exchange))
    rpc.cleanup()
    for name, value in overrides:
        conf.set_override(name, value)
    msg = legacy_message(args.method, kwargs, args.version, args.namespace)
    topic = rpc.queue_get_for({}, args.topic, args.server) if args.server else args.topic
    try:
        if args.kind == "call":
            return rpc.call({}, topic, msg, timeout=args.timeout)
        (rpc.fanout_cast if fanout else rpc.cast)({}, topic, msg)
        return None
    finally:
        rpc.cleanup()
        for name, _value in overrides:
            conf.clear_override(name)


def _legacy_error(exc: BaseException) -> BaseException:
    """The legacy API's timeout and remote error as failures of the request."""
    from legacy_rpc.rpc import common

    if isinstance(exc, common.Timeout):
        return _ops.OpsError(_ops.FAILED, f"no answer in time: {exc}")
    if isinstance(exc, common.RemoteError):
        return _ops.OpsError(_ops.FAILED, str(exc).split("\n", 1)[0])
    return exc

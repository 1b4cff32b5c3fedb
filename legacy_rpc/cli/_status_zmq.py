"""``legacy-rpc status`` on ``zmq://``: who the matchmaker says is listening.

Brokerless, there are no queues to count: a zmq service is what it registered with the
matchmaker of the URL's namespace (Redis, the ring file, or in process). Each key is listed
with its live members, ``<address> <queue>``: ``<exchange>:<topic>`` the servers sharing a
topic, ``<exchange>:<topic>.<server>`` one server, ``fanout:<topic>`` every server of a
topic, ``<exchange>:<topic>.<priority>`` notification listeners. A member whose heartbeat
stopped disappears after ``matchmaker_heartbeat_ttl``. The ring file is static: it says
where servers should run, not whether they do.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from legacy_rpc.cli import _ops
from legacy_rpc.messaging import _mask
from legacy_rpc.messaging.drivers.zmq._matchmaker import matchmaker_kind

__all__ = ["zmq_status", "format_registrations"]


def _routing_key(key: str) -> str:
    return key.partition(":")[2]


def _matches(key: str, topics: list[str]) -> bool:
    routing_key = _routing_key(key)
    return not topics or any(routing_key == t or routing_key.startswith(f"{t}.")
                             for t in topics)


def format_registrations(registrations: dict[str, list[str]]) -> str:
    """The registrations for people: one line per key, one per member."""
    if not registrations:
        return "registrations: none"
    lines = []
    for key, members in registrations.items():
        lines.append(f"{key}: {len(members)} member(s)")
        for value in members:
            address, _, queue = value.partition(" ")
            lines.append(f"  {address}" + (f" (queue {queue})" if queue else ""))
    return "\n".join(lines)


def zmq_status(args: argparse.Namespace, out: TextIO) -> int:
    """Print the matchmaker's registrations of ``args.url``; FAILED if a named topic has
    none."""
    from oslo_config import cfg

    import legacy_rpc.messaging as messaging

    conf = cfg.ConfigOpts()
    conf([], default_config_files=[], default_config_dirs=[])
    transport = messaging.get_transport(conf, args.url)
    try:
        driver: Any = transport._driver
        options = driver.options
        try:
            found = driver.matchmaker.registrations()
        except Exception as exc:
            raise _ops.OpsError(_ops.BROKER, "the matchmaker cannot be read: "
                                f"{_mask.mask_text(str(exc))[:300]}") from exc
    finally:
        transport.cleanup()
    topics = list(args.topics)
    shown = {k: v for k, v in found.items() if _matches(k, topics)}
    kind = matchmaker_kind(options.matchmaker)
    source = f"matchmaker {kind}"
    if kind == "redis":
        source += f" ({options.redis_host}:{options.redis_port})"
    if args.json:
        print(json.dumps({"url": _mask.mask_url(args.url), "namespace": options.namespace,
                          "source": source, "registrations": shown},
                         indent=2, sort_keys=True), file=out)
    else:
        print(f"zmq {_mask.mask_url(args.url)} (namespace {options.namespace!r}), from the "
              f"{source}", file=out)
        print(format_registrations(shown), file=out)
    missing = [t for t in topics if not any(_matches(k, [t]) for k in shown)]
    if missing:
        raise _ops.OpsError(_ops.FAILED, f"no registration for topic(s) {', '.join(missing)}")
    return _ops.OK

#!/usr/bin/env python3
"""The legacy facade against the core, on ``fake://`` and on RabbitMQ, in one run.

One process, one server: a legacy consumer (``create_consumer`` + ``RpcDispatcher``) on
the transport the legacy API uses (``rpc.get_transport()``). Against it, alternating in
rounds so that a busy moment of the shared machine hits both alike:

    call   legacy ``rpc.call``  vs  ``RPCClient(rpc.get_transport(), target).call``
    cast   legacy ``rpc.cast``  vs  ``RPCClient.cast``  (until the server handled each)

For each: operations/s, median latency, and CPU per operation (``time.process_time`` of
the whole process, client and server threads, per operation). The ratio is legacy/core
latency (the goal: a legacy call within 5 % of a core call). ``--profile`` also prints the
cProfile of the legacy call path (client side, one thread), the place to look for what to
remove. Figures only, no verdicts: a shared machine makes them noisy.

    .venv/bin/python tools/bench_legacy.py [--short] [--rabbit URL | --no-rabbit]
        [--rounds 4] [--count 2000] [--payload 3000] [--profile] [--json FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import pstats
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from oslo_config import cfg

from legacy_rpc import messaging, rpc
from legacy_rpc.messaging.transport import TransportURL
from legacy_rpc.rpc import dispatcher

DEFAULT_RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
CTXT = {"user_id": "bench", "project_id": "bench", "request_id": "req-bench"}


class Manager:
    """The server side: echoes calls, counts casts."""

    RPC_API_VERSION = "1.0"

    def __init__(self) -> None:
        self.casts = 0
        self._cond = threading.Condition()

    def echo(self, ctxt: Any, payload: str) -> str:
        return payload

    def note(self, ctxt: Any, payload: str) -> None:
        with self._cond:
            self.casts += 1
            self._cond.notify_all()

    def wait_casts(self, count: int, timeout: float = 60.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.casts >= count, timeout):
                raise RuntimeError(f"only {self.casts} of {count} casts arrived in {timeout}s")


def _configure(conf: cfg.ConfigOpts, url: str, exchange: str) -> None:
    """Legacy options for ``url`` (``fake://`` or a rabbit URL), as a service sets them."""
    from legacy_rpc.rpc import impl_kombu  # noqa: F401 - registers the rabbit options

    conf.set_override("control_exchange", exchange)
    if url.startswith("fake"):
        conf.set_override("rpc_backend", "nova.openstack.common.rpc.impl_fake")
        return
    parsed = TransportURL.parse(conf, url)
    host = parsed.hosts[0]
    conf.set_override("rpc_backend", "nova.openstack.common.rpc.impl_kombu")
    conf.set_override("rabbit_host", host.hostname or "127.0.0.1")
    conf.set_override("rabbit_port", host.port or 5672)
    conf.set_override("rabbit_userid", host.username or "guest")
    conf.set_override("rabbit_password", host.password or "guest")
    conf.set_override("rabbit_virtual_host", parsed.virtual_host or "/")


@contextmanager
def legacy_server(url: str) -> Iterator[tuple[str, Manager]]:
    """A legacy consumer on a fresh topic of ``url``; yields (topic, manager)."""
    conf = cfg.CONF
    tag = uuid.uuid4().hex[:8]
    exchange, topic = f"bench-legacy-{tag}-x", f"bench-legacy-{tag}"
    _configure(conf, url, exchange)
    manager = Manager()
    conn = rpc.create_connection()
    conn.create_consumer(topic, dispatcher.RpcDispatcher([manager]))
    conn.consume_in_thread()
    try:
        yield topic, manager
    finally:
        conn.close()
        rpc.cleanup()
        _delete_broker_objects(url, [topic], [exchange])
        for name in ("control_exchange", "rpc_backend", "rabbit_host", "rabbit_port",
                     "rabbit_userid", "rabbit_password", "rabbit_virtual_host"):
            conf.clear_override(name)


def _delete_broker_objects(url: str, queues: list[str], exchanges: list[str]) -> None:
    """Delete what the run declared on RabbitMQ (topic queues are not auto-deleted)."""
    if url.startswith("fake"):
        return
    import amqp

    parsed = TransportURL.parse(cfg.CONF, url)
    host = parsed.hosts[0]
    conn = amqp.Connection(f"{host.hostname or '127.0.0.1'}:{host.port or 5672}",
                           userid=host.username or "guest", password=host.password or "guest",
                           virtual_host=parsed.virtual_host or "/")
    conn.connect()
    try:
        channel = conn.channel()
        for queue in queues:
            channel.queue_delete(queue)
        for exchange in exchanges:
            channel.exchange_delete(exchange)
    finally:
        conn.close()


def _timed(count: int, op: Callable[[], Any]) -> tuple[list[float], float, float]:
    """Run ``op`` ``count`` times: (latencies, wall seconds, CPU seconds)."""
    times: list[float] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        op()
        times.append(time.perf_counter() - t0)
    return times, time.perf_counter() - wall0, time.process_time() - cpu0


def _figures(times: list[float], wall: float, cpu: float, count: int) -> dict[str, float]:
    return {"per_s": count / wall, "p50_us": statistics.median(times) * 1e6,
            "cpu_us": cpu / count * 1e6}


def _merge(rounds: list[dict[str, float]]) -> dict[str, float]:
    """The median of each figure over the rounds."""
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def run_backend(url: str, rounds: int, count: int, payload: str,
                profile: bool) -> dict[str, Any]:
    """The four scenarios against one legacy server on ``url``."""
    with legacy_server(url) as (topic, manager):
        client = messaging.RPCClient(rpc.get_transport(), messaging.Target(topic=topic),
                                     timeout=30)
        msg = {"method": "echo", "args": {"payload": payload}}
        cast_msg = {"method": "note", "args": {"payload": payload}}
        ops: dict[str, Callable[[], Any]] = {
            "legacy call": lambda: rpc.call(CTXT, topic, msg),
            "core call": lambda: client.call(CTXT, "echo", payload=payload),
            "legacy cast": lambda: rpc.cast(CTXT, topic, cast_msg),
            "core cast": lambda: client.cast(CTXT, "note", payload=payload),
        }
        for op in ops.values():  # warm up: connections, reply queue, first-use imports
            op()
        manager.wait_casts(2)
        results: dict[str, list[dict[str, float]]] = {name: [] for name in ops}
        for _ in range(rounds):
            for name, op in ops.items():
                before = manager.casts
                cpu0, wall0 = time.process_time(), time.perf_counter()
                times, _, _ = _timed(count, op)
                if "cast" in name:  # end to end: until the server handled every one
                    manager.wait_casts(before + count)
                results[name].append(_figures(times, time.perf_counter() - wall0,
                                              time.process_time() - cpu0, count))
        figures: dict[str, Any] = {name: _merge(r) for name, r in results.items()}
        for kind in ("call", "cast"):
            legacy, core = figures[f"legacy {kind}"], figures[f"core {kind}"]
            figures[f"{kind} ratio"] = {"p50": legacy["p50_us"] / core["p50_us"],
                                        "cpu": legacy["cpu_us"] / core["cpu_us"]}
        if profile:
            figures["profile"] = _profile(ops["legacy call"], count)
    return figures


def _profile(op: Callable[[], Any], count: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        op()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
    return out.getvalue()


def render(results: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'backend':<10} {'scenario':<12} {'ops/s':>9} {'p50 us':>9} {'CPU us/op':>10}"]
    for backend, figures in results.items():
        for name in ("legacy call", "core call", "legacy cast", "core cast"):
            fig = figures[name]
            lines.append(f"{backend:<10} {name:<12} {fig['per_s']:>9.0f} "
                         f"{fig['p50_us']:>9.1f} {fig['cpu_us']:>10.1f}")
        for kind in ("call", "cast"):
            ratio = figures[f"{kind} ratio"]
            lines.append(f"{backend:<10} {kind + ' ratio':<12} legacy/core: p50 "
                         f"{ratio['p50']:.3f}x, CPU {ratio['cpu']:.3f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true",
                        help="a quick look (4 rounds of 150 operations)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--count", type=int, default=2000, help="operations per round")
    parser.add_argument("--payload", type=int, default=3000, help="payload size in bytes")
    parser.add_argument("--rabbit", default=DEFAULT_RABBIT, help="RabbitMQ URL")
    parser.add_argument("--no-rabbit", action="store_true", help="fake:// only")
    parser.add_argument("--profile", action="store_true",
                        help="print the cProfile of the legacy call path")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.short:
        args.rounds, args.count = 4, 150
    logging.basicConfig(level=logging.WARNING)
    cfg.CONF([], project="bench-legacy")
    payload = "x" * args.payload
    urls = {"fake": "fake://"}
    if not args.no_rabbit:
        urls["rabbit"] = args.rabbit
    results = {name: run_backend(url, args.rounds, args.count, payload, args.profile)
               for name, url in urls.items()}
    print(render(results))
    if args.profile:
        for name, figures in results.items():
            print(f"\n--- cProfile of legacy rpc.call on {name} ({args.count} calls) ---")
            print(figures["profile"])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({name: {k: v for k, v in figs.items() if k != "profile"}
                       for name, figs in results.items()}, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

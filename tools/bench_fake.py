#!/usr/bin/env python3
"""Per-operation overhead of the in-memory ``fake://`` transport: the cost of the core itself.

With no network in the way, these figures are the floor of what every driver adds: message
building, JSON encoding, routing, the server's executor, the reply path. Scenarios:

    call       sequential calls from one thread (calls/s, p50/p99 latency)
    cast       casts until the server has handled every one (casts/s, end to end)
    call x N   N threads making calls at the same time (total calls/s, latency per call)
    stream     streamed calls of --stream-values values each (latency per whole stream)

CPU is time.process_time() of the whole process (client and server threads) per 1000
operations. Each scenario stops after --count operations or --duration seconds.

    .venv/bin/python tools/bench_fake.py [--count 5000] [--duration 10] [--threads 4]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from oslo_config import cfg

import legacy_rpc.messaging as messaging

TOPIC = "bench"


class Endpoint:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.casts = 0

    def echo(self, ctxt: Any, value: Any) -> Any:
        return value

    def count(self, ctxt: Any) -> None:
        with self._cond:
            self.casts += 1
            self._cond.notify_all()

    def wait_casts(self, n: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.casts >= n, timeout)

    def values(self, ctxt: Any, n: int) -> Iterator[int]:
        yield from range(n)


@dataclass
class Result:
    name: str
    ops: int
    unit: str
    wall: float
    cpu: float
    latencies_ns: list[int]

    def row(self) -> list[str]:
        rate = self.ops / self.wall if self.wall else 0.0
        lat = sorted(self.latencies_ns)
        p50 = p99 = "-"
        if lat:
            p50 = f"{statistics.median(lat) / 1e3:,.0f}"
            p99 = f"{lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1e3:,.0f}"
        return [self.name, f"{self.ops:,}", self.unit, f"{rate:,.0f}", p50, p99,
                f"{self.cpu / self.ops * 1000:.3f}" if self.ops else "-"]


def timed_loop(count: int, duration: float, op: Callable[[], None]) -> tuple[int, list[int]]:
    """Run ``op`` up to ``count`` times or until ``duration`` seconds; return latencies."""
    latencies: list[int] = []
    deadline = time.monotonic() + duration
    for _ in range(count):
        start = time.perf_counter_ns()
        op()
        latencies.append(time.perf_counter_ns() - start)
        if time.monotonic() >= deadline:
            break
    return len(latencies), latencies


def measure(name: str, unit: str, body: Callable[[], tuple[int, list[int]]]) -> Result:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ops, latencies = body()
    return Result(name, ops, unit, time.perf_counter() - wall0, time.process_time() - cpu0,
                  latencies)


def bench_calls(client: messaging.RPCClient, count: int, duration: float) -> Result:
    return measure("call", "calls",
                   lambda: timed_loop(count, duration, lambda: client.call({}, "echo", value=1)))


def bench_casts(client: messaging.RPCClient, endpoint: Endpoint, count: int,
                duration: float) -> Result:
    def body() -> tuple[int, list[int]]:
        before = endpoint.casts
        sent, _ = timed_loop(count, duration, lambda: client.cast({}, "count"))
        if not endpoint.wait_casts(before + sent, timeout=max(duration, 10.0)):
            print(f"warning: only {endpoint.casts - before} of {sent} casts were handled",
                  file=sys.stderr)
        return sent, []  # no per-message latency: a cast has no reply to time

    return measure("cast (end to end)", "casts", body)


def bench_threads(client: messaging.RPCClient, threads: int, count: int,
                  duration: float) -> Result:
    per_thread = max(1, count // threads)
    results: list[tuple[int, list[int]]] = []
    lock = threading.Lock()
    go = threading.Event()

    def worker() -> None:
        go.wait()
        res = timed_loop(per_thread, duration, lambda: client.call({}, "echo", value=1))
        with lock:
            results.append(res)

    def body() -> tuple[int, list[int]]:
        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for t in pool:
            t.start()
        go.set()
        for t in pool:
            t.join(duration + 30)
        return sum(n for n, _ in results), [x for _, lat in results for x in lat]

    return measure(f"call x {threads} threads", "calls", body)


def bench_stream(client: messaging.RPCClient, values: int, count: int,
                 duration: float) -> tuple[Result, Result]:
    streams = max(1, count // values)

    def one() -> None:
        got = sum(1 for _ in client.stream({}, "values", n=values))
        if got != values:
            raise RuntimeError(f"stream gave {got} values, expected {values}")

    res = measure(f"stream of {values}", "streams", lambda: timed_loop(streams, duration, one))
    per_value = Result("  per streamed value", res.ops * values, "values", res.wall, res.cpu,
                       [])
    return res, per_value


def print_table(results: list[Result]) -> None:
    header = ["scenario", "ops", "unit", "ops/s", "p50 us", "p99 us", "CPU s/1000 ops"]
    rows = [header] + [r.row() for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2])]
        cells += [cell.rjust(widths[i]) for i, cell in enumerate(row[3:], 3)]
        print("  ".join(cells))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=5000,
                        help="operations per scenario at most (default 5000)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds per scenario at most (default 10)")
    parser.add_argument("--threads", type=int, default=4, help="calling threads (default 4)")
    parser.add_argument("--stream-values", type=int, default=100,
                        help="values per streamed call (default 100)")
    parser.add_argument("--executor", choices=["threading", "blocking"], default="threading",
                        help="the server's executor (default threading)")
    args = parser.parse_args(argv)
    if min(args.count, args.threads, args.stream_values) < 1 or args.duration <= 0:
        parser.error("--count, --threads, --stream-values and --duration must be positive")
    logging.basicConfig(level=logging.ERROR)

    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[], default_config_dirs=[])
    transport = messaging.get_rpc_transport(conf, "fake://")
    endpoint = Endpoint()
    server = messaging.get_rpc_server(transport, messaging.Target(topic=TOPIC, server="s1"),
                                      [endpoint], executor=args.executor)
    server.start()
    client = messaging.get_rpc_client(transport, messaging.Target(topic=TOPIC), timeout=30)
    try:
        for _ in range(200):  # warm up: imports, thread pool, reply queue
            client.call({}, "echo", value=0)
        results = [
            bench_calls(client, args.count, args.duration),
            bench_casts(client, endpoint, args.count, args.duration),
            bench_threads(client, args.threads, args.count, args.duration),
            *bench_stream(client, args.stream_values, args.count, args.duration),
        ]
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
    print(f"fake:// transport, Python {sys.version.split()[0]}, executor {args.executor}, "
          f"--count {args.count}, --duration {args.duration:g} s")
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

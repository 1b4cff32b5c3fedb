"""One process of one scenario: the server side or the client side of one implementation.

    python tools/bench/worker.py --role server|client --impl legacy-rpc|oslo|raw
        --scenario call|call4|cast|notify --url URL --topic TOPIC [--duration 5]
        [--warmup 0.5] [--payload 1024] [--threads 4] [--cprofile FILE] [--src DIR]

Started and driven by ``tools/bench_rabbit.py`` (see :mod:`bench.ipc` for the protocol):

- server: starts an RPC server (or a notification listener for ``notify``), says ``ready``;
  on ``report`` waits until the expected number of messages has arrived (bounded) and
  reports its tally; on ``stop`` stops and cleans up.
- client: builds its client (or notifier), says ``ready``; on ``go`` runs the scenario's
  loop (in ``--threads`` threads for ``call4``, else one): ``--warmup`` seconds unmeasured,
  then ``--duration`` seconds measured; reports latencies, rate and its CPU; on ``stop``
  cleans up.

``--cprofile FILE`` profiles every thread of the process with cProfile (CPU time per
thread) and writes the merged statistics to FILE at exit. ``--src DIR`` imports ``legacy_rpc`` from DIR (a snapshot or a
patched copy) instead of this checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import logging
import pstats
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TOOLS), str(TOOLS.parent)]
if "--src" in sys.argv[:-1]:  # another legacy-rpc tree first (before the imports below)
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--src") + 1]).resolve()))

from bench.impls import Impl, Op, make_impl  # noqa: E402
from bench.ipc import Channel, Tally, Usage  # noqa: E402

SCENARIO_KIND = {"call": "call", "call4": "call", "cast": "cast", "notify": "notify"}
MAX_ERRORS = 20  # per thread: a library that keeps failing is reported, not retried forever


@dataclass
class ThreadResult:
    count: int = 0          # measured operations that succeeded
    warm: int = 0           # warm-up operations that succeeded
    errors: int = 0
    last_error: str = ""
    first_send: float | None = None
    finish: float = 0.0
    latencies: list[float] = field(default_factory=list)


def _loop(op: Op, payload: str, barrier: threading.Barrier, times: list[float],
          res: ThreadResult) -> None:
    barrier.wait()
    measure_from, end = times
    clock = time.monotonic
    latencies = res.latencies
    while True:
        start = clock()
        if start >= end:
            break
        measured = start >= measure_from
        try:
            op(payload, measured)
        except Exception as exc:
            res.errors += 1
            res.last_error = f"{type(exc).__name__}: {exc}"[:300]
            if res.errors >= MAX_ERRORS:
                break
            continue
        done = clock()
        if measured:
            if res.first_send is None:
                res.first_send = start
            res.count += 1
            latencies.append(done - start)
            res.finish = done
        else:
            res.warm += 1


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def drive(ops: list[Op], payload: str, warmup: float, duration: float) -> dict[str, Any]:
    """Run each op in its own thread; measure from ``warmup`` for ``duration`` seconds."""
    barrier = threading.Barrier(len(ops) + 1)
    times: list[float] = []
    results = [ThreadResult() for _ in ops]
    threads = [threading.Thread(target=_loop, args=(op, payload, barrier, times, res),
                                name=f"bench-{i}", daemon=True)
               for i, (op, res) in enumerate(zip(ops, results, strict=True))]
    for t in threads:
        t.start()
    start = time.monotonic()
    measure_from = start + warmup
    times[:] = [measure_from, measure_from + duration]
    barrier.wait()
    time.sleep(max(0.0, measure_from - time.monotonic()))
    before = Usage.now()
    for t in threads:
        t.join(warmup + duration + 60)
    after = Usage.now()
    hung = sum(t.is_alive() for t in threads)
    count = sum(r.count for r in results)
    latencies = sorted(x for r in results for x in r.latencies)
    finish = max((r.finish for r in results), default=0.0)
    window = finish - measure_from if count else 0.0
    sends = [r.first_send for r in results if r.first_send is not None]
    errors = [r.last_error for r in results if r.last_error]
    return {
        "count": count,
        "total_ok": count + sum(r.warm for r in results),
        "errors": sum(r.errors for r in results),
        "last_error": errors[0] if errors else "",
        "hung_threads": hung,
        "window": window,
        "rate": count / window if window > 0 else 0.0,
        "p50_ms": _ms(_percentile(latencies, 0.50)),
        "p99_ms": _ms(_percentile(latencies, 0.99)),
        "mean_ms": _ms(sum(latencies) / len(latencies)) if latencies else None,
        "first_send": min(sends) if sends else None,
        "usage": after.minus(before).__dict__,
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def run_server(chan: Channel, impl: Impl, args: argparse.Namespace) -> None:
    tally = Tally()
    if args.scenario == "notify":
        impl.start_listener(args.topic, tally)
    else:
        impl.start_rpc_server(args.topic, tally)
    chan.emit("ready")
    while True:
        cmd = chan.command()
        if cmd["cmd"] == "report":
            complete = tally.wait_for(int(cmd.get("expect", 0)), float(cmd.get("timeout", 0)))
            chan.emit("report", complete=complete, **tally.summary())
        elif cmd["cmd"] == "stop":
            impl.stop_server()
            chan.emit("stopped")
            return


def run_client(chan: Channel, impl: Impl, args: argparse.Namespace) -> None:
    threads = args.threads if args.scenario == "call4" else 1
    kind = SCENARIO_KIND[args.scenario]
    ops = [impl.make_op(kind, args.topic) for _ in range(threads)]
    payload = "x" * args.payload
    chan.emit("ready")
    while (cmd := chan.command())["cmd"] != "go":
        if cmd["cmd"] == "stop":
            impl.close_client()
            return
    result = drive(ops, payload, args.warmup, args.duration)
    chan.emit("result", reply_queues=impl.reply_queues(), **result)
    while chan.command()["cmd"] != "stop":
        pass
    impl.close_client()
    chan.emit("stopped")


class AllThreadsProfiler:
    """cProfile in every thread: the main one now, every new one when it starts.

    Each thread's profiler counts that thread's CPU time (``time.thread_time``), so waits
    cost nothing and the merged figures add up to the process's CPU (plus the profiler's
    own overhead, which inflates functions that make many small calls).
    """

    def __init__(self) -> None:
        self._profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def _start_here(self, *_: Any) -> None:
        sys.setprofile(None)
        prof = cProfile.Profile(time.thread_time)  # this thread's CPU, not wall time
        with self._lock:
            self._profiles.append(prof)
        prof.enable()

    def start(self) -> None:
        threading.setprofile(self._start_here)
        self._start_here()

    def dump(self, path: str) -> None:
        threading.setprofile(None)
        with self._lock:
            profiles = list(self._profiles)
        stats = pstats.Stats(profiles[0])
        for prof in profiles[1:]:
            with contextlib.suppress(TypeError):  # a thread that never ran Python code
                stats.add(prof)
        stats.dump_stats(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--role", choices=["server", "client"], required=True)
    parser.add_argument("--impl", required=True)
    parser.add_argument("--scenario", choices=sorted(SCENARIO_KIND), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--payload", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--cprofile", default="")
    parser.add_argument("--src", default="", help="import legacy_rpc from this tree")
    args = parser.parse_args(argv)
    chan = Channel()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    profiler = AllThreadsProfiler() if args.cprofile else None
    if profiler is not None:
        profiler.start()
    impl = make_impl(args.impl, args.url)
    try:
        if args.role == "server":
            run_server(chan, impl, args)
        else:
            run_client(chan, impl, args)
    except Exception as exc:
        logging.exception("worker failed")
        chan.emit("error", message=f"{type(exc).__name__}: {exc}"[:500])
        return 1
    finally:
        if profiler is not None:
            profiler.dump(args.cprofile)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""AMQP 1.0 benchmark: the amqp1 driver against raw python-qpid-proton on the same broker.

    .venv/bin/python tools/bench_amqp1.py [--url amqp1://guest:guest@127.0.0.1:5672/]
        [--duration 5] [--warmup 0.5] [--payload 1024] [--only legacy-rpc,raw]
        [--scenarios call,cast] [--repeat 1] [--json FILE]

Scenarios, for each implementation in turn (never two at once):

    call    sequential calls from one thread: calls/s, p50/p99 latency
    cast    sequential casts from one thread, each returning once the broker settled it
            (accepted: the AMQP 1.0 publisher confirm): casts/s, p50/p99

The server runs in its own process (started per scenario, ``--role server``); the client
runs in this process, ``--warmup`` seconds unmeasured, then ``--duration`` seconds
measured. CPU is the client process's over the measured window. With ``--repeat N`` each
scenario runs N rounds, the implementations in alternating order (the machine's load drifts:
whoever ran first would be favoured); each figure is the median over the rounds and the ratio
is the median of the rounds' ratios (both implementations of a round ran back to back).

Two tables are printed: every figure, and the summary for the README (scenario, legacy-rpc
amqp1, raw proton, ratio, goal).

"raw" is the floor, written directly on proton's event API (one ``Container`` per process,
no threads): a request/reply with ``reply_to`` and ``correlation_id`` to a server that
answers on ``/amq/queue/<reply>``, and sends to a queue that wait for the broker's
``accepted`` before the next. Goals (issue 10): calls >= 0.8x and casts >= 0.8x raw.

Queues are created in a vhost of their own (``rabbitmqctl add_vhost``), deleted at the end,
because AMQP 1.0 clients of RabbitMQ 3.x cannot delete the queues they declare.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_URL = "amqp1://guest:guest@127.0.0.1:5672/"
IMPLS = ("legacy-rpc", "raw")
SCENARIOS = ("call", "cast")
GOAL = 0.8


# --------------------------------------------------------------------------- raw proton

def _proton_connect(container: Any, url: str) -> Any:
    parts = urlsplit(url)
    vhost = unquote(parts.path[1:])
    kwargs: dict[str, Any] = {"reconnect": False, "user": unquote(parts.username or "guest"),
                              "password": unquote(parts.password or "guest"),
                              "allow_insecure_mechs": True}
    if vhost:
        kwargs["virtual_host"] = f"vhost:{vhost}"
    return container.connect(f"amqp://{parts.hostname}:{parts.port or 5672}", **kwargs)


def raw_server(url: str, topic: str) -> None:
    """Answer every request on ``/queue/<topic>`` that has a ``reply_to``; accept all."""
    from proton import Message
    from proton.handlers import MessagingHandler
    from proton.reactor import Container

    class Server(MessagingHandler):
        def __init__(self) -> None:
            super().__init__(prefetch=100)
            self.senders: dict[str, Any] = {}
            self.conn: Any = None

        def on_start(self, event: Any) -> None:
            self.conn = _proton_connect(event.container, url)
            event.container.create_receiver(self.conn, f"/queue/{topic}")

        def on_link_opened(self, event: Any) -> None:
            if event.receiver is not None:
                print("ready", flush=True)

        def on_message(self, event: Any) -> None:
            message = event.message
            if message.reply_to:
                sender = self.senders.get(message.reply_to)
                if sender is None:
                    sender = event.container.create_sender(self.conn, message.reply_to)
                    self.senders[message.reply_to] = sender
                sender.send(Message(body=message.body, correlation_id=message.correlation_id,
                                    inferred=True))
            self.accept(event.delivery)

    Container(Server()).run()


class _RawClient:
    """Sequential raw round trips or settled sends, on proton's event loop."""

    def __init__(self, url: str, topic: str, scenario: str, payload: bytes,
                 warmup: float, duration: float) -> None:
        from proton.handlers import MessagingHandler

        self.url, self.topic, self.scenario, self.payload = url, topic, scenario, payload
        self.warmup, self.duration = warmup, duration
        self.latencies: list[float] = []
        self.cpu = 0.0
        outer = self

        class Client(MessagingHandler):
            def __init__(self) -> None:
                super().__init__(prefetch=10)
                self.reply = f"bench-reply-{uuid.uuid4().hex[:8]}"
                self.opened = 0
                self.sent_at = 0.0
                self.n = 0
                self.start = self.measure_from = self.end = 0.0
                self.cpu_start = 0.0

            def on_start(self, event: Any) -> None:
                self.conn = _proton_connect(event.container, outer.url)
                self.sender = event.container.create_sender(self.conn, f"/queue/{outer.topic}")
                if outer.scenario == "call":
                    event.container.create_receiver(self.conn, f"/queue/{self.reply}")
                else:
                    self.opened += 1

            def on_link_opened(self, event: Any) -> None:
                self.opened += 1
                if self.opened == 2:
                    self.start = time.monotonic()
                    self.measure_from = self.start + outer.warmup
                    self.end = self.measure_from + outer.duration
                    self.cpu_start = -1.0
                    self._send()

            def _send(self) -> None:
                from proton import Message

                now = time.monotonic()
                if now >= self.end:
                    outer.cpu = time.process_time() - self.cpu_start
                    self.conn.close()
                    return
                if now >= self.measure_from and self.cpu_start < 0:
                    self.cpu_start = time.process_time()
                self.n += 1
                self.sent_at = now
                message = Message(body=outer.payload, inferred=True, correlation_id=self.n)
                if outer.scenario == "call":
                    message.reply_to = f"/amq/queue/{self.reply}"
                self.sender.send(message)

            def _done(self) -> None:
                now = time.monotonic()
                if self.sent_at >= self.measure_from:
                    outer.latencies.append(now - self.sent_at)
                self._send()

            def on_message(self, event: Any) -> None:
                self.accept(event.delivery)
                if event.message.correlation_id == self.n:
                    self._done()

            def on_accepted(self, event: Any) -> None:
                if outer.scenario == "cast":
                    self._done()

        self.handler = Client()

    def run(self) -> None:
        from proton.reactor import Container

        Container(self.handler).run()


# --------------------------------------------------------------------------- legacy-rpc

class Endpoint:
    def echo(self, ctxt: dict[str, Any], data: str) -> str:
        return data

    def noop(self, ctxt: dict[str, Any], data: str) -> None:
        return None


def _conf() -> Any:
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    conf([])
    return conf


def lrpc_server(url: str, topic: str) -> None:
    import legacy_rpc.messaging as messaging

    transport = messaging.get_rpc_transport(_conf(), url)
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Endpoint()])
    server.start()
    print("ready", flush=True)
    threading.Event().wait()


def lrpc_client(url: str, topic: str, scenario: str, payload: bytes, warmup: float,
                duration: float) -> tuple[list[float], float]:
    import legacy_rpc.messaging as messaging

    transport = messaging.get_rpc_transport(_conf(), url)
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=30)
    data = payload.decode()
    send = ((lambda: client.call({}, "echo", data=data)) if scenario == "call"
            else (lambda: client.cast({}, "noop", data=data)))
    latencies: list[float] = []
    try:
        measure_from = time.monotonic() + warmup
        while time.monotonic() < measure_from:
            send()
        cpu = time.process_time()
        end = time.monotonic() + duration
        while True:
            started = time.monotonic()
            if started >= end:
                break
            send()
            latencies.append(time.monotonic() - started)
        return latencies, time.process_time() - cpu
    finally:
        transport.cleanup()


# --------------------------------------------------------------------------- driver

def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], capture_output=True, timeout=60, check=True)


def run_scenario(args: argparse.Namespace, impl: str, scenario: str) -> dict[str, Any]:
    topic = f"bench-{impl}-{scenario}-{uuid.uuid4().hex[:8]}"
    server = subprocess.Popen([sys.executable, __file__, "--role", "server", "--impl", impl,
                               "--url", args.url, "--topic", topic],
                              stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the {impl} server did not start")
        payload = b"x" * args.payload
        if impl == "raw":
            client = _RawClient(args.url, topic, scenario, payload, args.warmup, args.duration)
            client.run()
            latencies, cpu = client.latencies, client.cpu
        else:
            latencies, cpu = lrpc_client(args.url, topic, scenario, payload, args.warmup,
                                         args.duration)
    finally:
        server.terminate()
        server.wait(10)
    ordered = sorted(latencies) or [0.0]
    return {"impl": impl, "scenario": scenario, "count": len(latencies),
            "rate": len(latencies) / args.duration,
            "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "cpu_ms_per_1000": 1e6 * cpu / max(1, len(latencies))}


def summarize(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (scenario, implementation): medians over the rounds, and the median of
    the rounds' ratios to raw."""
    rows = []
    keys = list(dict.fromkeys((r["scenario"], r["impl"]) for r in results))
    for scenario, impl in keys:
        runs = [r for r in results if (r["scenario"], r["impl"]) == (scenario, impl)]
        ratios = []
        for run in runs:
            raw = [r for r in results if r["scenario"] == scenario and r["impl"] == "raw"
                   and r["round"] == run["round"]]
            if raw and raw[0]["rate"]:
                ratios.append(run["rate"] / raw[0]["rate"])
        row = {"impl": impl, "scenario": scenario, "rounds": len(runs),
               "ratio": statistics.median(ratios) if ratios else None,
               "ratios": ratios}
        for key in ("rate", "p50_ms", "p99_ms", "cpu_ms_per_1000", "count"):
            row[key] = statistics.median(r[key] for r in runs)
        rows.append(row)
    return rows


def readme_table(rows: list[dict[str, Any]]) -> str:
    """The README's table: scenario, legacy-rpc amqp1, raw proton, ratio, goal."""
    lines = ["| scenario | legacy-rpc amqp1 | raw proton | ratio | goal |",
             "|---|---|---|---|---|"]
    names = {"call": "sequential calls (1 KiB, round trip)",
             "cast": "sequential casts (1 KiB, each settled by the broker)"}
    for scenario in dict.fromkeys(r["scenario"] for r in rows):
        mine = next((r for r in rows if r["scenario"] == scenario and r["impl"] != "raw"),
                    None)
        raw = next((r for r in rows if r["scenario"] == scenario and r["impl"] == "raw"), None)
        if mine is None or raw is None or mine["ratio"] is None:
            continue
        unit = "calls/s" if scenario == "call" else "casts/s"
        met = "met" if mine["ratio"] >= GOAL else "missed"
        lines.append(
            f"| {names.get(scenario, scenario)} | {mine['rate']:.0f} {unit}, p50 "
            f"{mine['p50_ms']:.2f} ms | {raw['rate']:.0f} {unit}, p50 {raw['p50_ms']:.2f} ms "
            f"| {mine['ratio']:.2f}x | >= {GOAL}x ({met}) |")
    return "\n".join(lines)


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| scenario | implementation | per second | p50 ms | p99 ms | client CPU ms / 1000 "
             "| ratio to raw (median of rounds) |", "|---|---|---|---|---|---|---|"]
    for r in results:
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
        if r["ratio"] is not None and r["impl"] != "raw":
            ratio += " (goal >= 0.8x: " + ("met" if r["ratio"] >= GOAL else "MISSED") + ")"
        lines.append(f"| {r['scenario']} | {r['impl']} | {r['rate']:.0f} | {r['p50_ms']:.2f} | "
                     f"{r['p99_ms']:.2f} | {r['cpu_ms_per_1000']:.0f} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--payload", type=int, default=1024, help="bytes per message")
    parser.add_argument("--only", default=",".join(IMPLS))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds per scenario, implementations in alternating order")
    parser.add_argument("--json", default="")
    parser.add_argument("--role", choices=["client", "server"], default="client",
                        help=argparse.SUPPRESS)
    parser.add_argument("--impl", default="", help=argparse.SUPPRESS)
    parser.add_argument("--topic", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "server":
        (raw_server if args.impl == "raw" else lrpc_server)(args.url, args.topic)
        return 0
    vhost = f"lrpc-bench-amqp1-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    user = unquote(urlsplit(args.url).username or "guest")
    _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    base = args.url.split("?")[0].rstrip("/")
    base = base[:base.index("/", len("amqp1://"))] if base.count("/") > 2 else base
    args.url = f"{base}/{vhost}"
    results = []
    impls = args.only.split(",")
    try:
        for scenario in args.scenarios.split(","):
            for round_ in range(max(1, args.repeat)):
                for impl in (impls if round_ % 2 == 0 else impls[::-1]):
                    result = run_scenario(args, impl, scenario)
                    result["round"] = round_
                    print(f"{scenario:5} {impl:10} round {round_}: {result['rate']:8.0f}/s  "
                          f"p50 {result['p50_ms']:.2f} ms", file=sys.stderr)
                    results.append(result)
    finally:
        _rabbitmqctl("delete_vhost", vhost)
    rows = summarize(results)
    print(table(rows))
    print()
    print(readme_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": results, "summary": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

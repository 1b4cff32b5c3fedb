#!/usr/bin/env python3
"""zmq benchmark: this library's zmq driver against raw pyzmq and this library's rabbit driver.

    .venv/bin/python tools/bench_zmq.py [--duration 5] [--short] [--only zmq,raw,rabbit]
        [--rabbit-url rabbit://guest:guest@127.0.0.1:5672/] [--matchmaker redis|inprocess]

Scenarios, for each implementation in turn (the server in a process of its own):

    call    sequential calls from one thread: calls/s, p50/p99 latency
    call4   4 threads of calls in one client process: total calls/s
    cast    casts from one thread: the rate at which the server received them

"raw" (raw pyzmq) is the floor: a DEALER sending a request frame to a ROUTER that answers
it at once (call), or that counts (cast). "raw-json" is the same sockets doing the least any
RPC over them must: the request and the reply as the oslo.messaging JSON envelope (a message
dict with method, args and ids, serialized into ``oslo.message``), encoded and decoded on
both sides, the reply matched to its ``_msg_id``; no threads, no dispatcher. ``--short``
runs each scenario for 0.5 s (a smoke run, not a measurement). Goals (issue 11): sequential
calls >= 0.6x raw pyzmq and >= 2.5x the rabbit driver; call4 and cast are reported the same
way. ``--json FILE`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import threading
import time
import uuid
from typing import Any

RAW_PORT_FILE_TIMEOUT = 30


def _zmq_url(args: argparse.Namespace, namespace: str) -> str:
    return (f"zmq://127.0.0.1/{namespace}?bind_address=127.0.0.1&matchmaker="
            f"{args.matchmaker}")


def serve(impl: str, url: str, topic: str, ready: Any, stop: Any, counter: Any) -> None:
    """A server process: answers ``echo`` calls and counts ``hear`` casts."""
    if impl in ("raw", "raw-json"):
        import zmq

        context = zmq.Context()
        socket = context.socket(zmq.ROUTER)
        port = socket.bind_to_random_port("tcp://127.0.0.1")
        ready.put(port)
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        while not stop.is_set():
            if not poller.poll(100):
                continue
            identity, kind, body = socket.recv_multipart()
            if kind == b"c":
                if impl == "raw-json":
                    body = _json_reply(body)
                socket.send_multipart([identity, body])
            else:
                if impl == "raw-json":
                    json.loads(json.loads(body)["oslo.message"])
                with counter.get_lock():
                    counter.value += 1
        return
    from oslo_config import cfg

    import legacy_rpc.messaging as messaging

    class Endpoint:
        def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
            return value

        def hear(self, ctxt: dict[str, Any], value: Any) -> None:
            with counter.get_lock():
                counter.value += 1

    conf = cfg.ConfigOpts()
    conf([])
    transport = messaging.get_rpc_transport(conf, url)
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s"),
                                      [Endpoint()])
    server.start()
    ready.put(0)
    stop.wait()
    server.stop()
    server.wait()
    transport.cleanup()


def _envelope(message: dict[str, Any]) -> bytes:
    return json.dumps({"oslo.version": "2.0",
                       "oslo.message": json.dumps(message)}).encode()


def _json_request(method: str, value: str, msg_id: str | None) -> bytes:
    message: dict[str, Any] = {"method": method, "args": {"value": value},
                               "namespace": None, "version": "1.0",
                               "_unique_id": uuid.uuid4().hex, "_context_request_id": "req"}
    if msg_id is not None:
        message.update(_msg_id=msg_id, _reply_q="reply_raw")
    return _envelope(message)


def _json_reply(body: bytes) -> bytes:
    request = json.loads(json.loads(body)["oslo.message"])
    return _envelope({"result": request["args"]["value"], "failure": None, "ending": True,
                      "_msg_id": request["_msg_id"]})


class RawClient:
    def __init__(self, port: int) -> None:
        import zmq

        self._zmq = zmq
        self._context: Any = zmq.Context.instance()
        self._local = threading.local()
        self._port = port

    def _socket(self) -> Any:
        socket = getattr(self._local, "socket", None)
        if socket is None:
            socket = self._context.socket(self._zmq.DEALER)
            socket.connect(f"tcp://127.0.0.1:{self._port}")
            self._local.socket = socket
        return socket

    def call(self, value: bytes) -> bytes:
        socket = self._socket()
        socket.send_multipart([b"c", value])
        reply: bytes = socket.recv()
        return reply

    def cast(self, value: bytes) -> None:
        self._socket().send_multipart([b"n", value])


def run(args: argparse.Namespace, impl: str, scenario: str) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    ready, stop, counter = context.Queue(), context.Event(), context.Value("l", 0)
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    url = args.rabbit_url if impl == "rabbit" else _zmq_url(args, f"bench-{topic}")
    server = context.Process(target=serve, args=(impl, url, topic, ready, stop, counter),
                             daemon=True)
    server.start()
    port = ready.get(timeout=RAW_PORT_FILE_TIMEOUT)
    payload = "x" * 1024
    transport = None
    if impl == "raw":
        raw = RawClient(port)

        def call() -> None:
            raw.call(payload.encode())

        def cast() -> None:
            raw.cast(payload.encode())
    elif impl == "raw-json":
        raw = RawClient(port)

        def call() -> None:
            msg_id = uuid.uuid4().hex
            reply = json.loads(json.loads(raw.call(_json_request("echo", payload, msg_id)))[
                "oslo.message"])
            assert reply["_msg_id"] == msg_id and reply["result"] == payload

        def cast() -> None:
            raw.cast(_json_request("hear", payload, None))
    else:
        from oslo_config import cfg

        import legacy_rpc.messaging as messaging

        conf = cfg.ConfigOpts()
        conf([])
        transport = messaging.get_rpc_transport(conf, url)
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic),
                                          timeout=30)

        def call() -> None:
            client.call({}, "echo", value=payload)

        def cast() -> None:
            client.cast({}, "hear", value=payload)
    try:
        call()  # warm up: connections and lookups
        duration = 0.5 if args.short else args.duration
        if scenario == "cast":
            start = time.monotonic()
            sent = 0
            while time.monotonic() - start < duration:
                cast()
                sent += 1
            deadline = time.monotonic() + 60
            while counter.value < sent and time.monotonic() < deadline:
                time.sleep(0.01)  # waiting for the server's count, with a deadline
            return {"rate": counter.value / (time.monotonic() - start)}
        threads = 4 if scenario == "call4" else 1
        latencies: list[list[float]] = [[] for _ in range(threads)]

        def worker(index: int) -> None:
            end = time.monotonic() + duration
            while True:
                t0 = time.monotonic()
                if t0 >= end:
                    return
                call()
                latencies[index].append(time.monotonic() - t0)

        started = time.monotonic()
        workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        elapsed = time.monotonic() - started
        every = sorted(x for per in latencies for x in per)
        return {"rate": len(every) / elapsed,
                "p50_ms": statistics.median(every) * 1000,
                "p99_ms": every[int(len(every) * 0.99) - 1] * 1000}
    finally:
        if transport is not None:
            transport.cleanup()
        stop.set()
        server.join(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--short", action="store_true", help="0.5 s per scenario (smoke)")
    parser.add_argument("--only", default="zmq,raw,raw-json,rabbit")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--scenarios", default="call,call4,cast")
    parser.add_argument("--matchmaker", default="redis", choices=["redis", "inprocess"])
    parser.add_argument("--rabbit-url", default="rabbit://guest:guest@127.0.0.1:5672/")
    args = parser.parse_args(argv)
    if args.matchmaker == "inprocess":
        parser.error("the server runs in another process: use the redis matchmaker")
    impls = args.only.split(",")
    results: dict[tuple[str, str], dict[str, float]] = {}
    for scenario in args.scenarios.split(","):
        for impl in impls:
            results[(impl, scenario)] = run(args, impl, scenario)
    print("| scenario | implementation | per second | p50 ms | p99 ms | zmq ratio |")
    print("|---|---|---|---|---|---|")
    for (impl, scenario), figures in results.items():
        zmq_rate = results.get(("zmq", scenario), {}).get("rate")
        ratio = f"{zmq_rate / figures['rate']:.2f}x" if zmq_rate and impl != "zmq" else ""
        print(f"| {scenario} | {impl} | {figures['rate']:.0f} | "
              f"{figures.get('p50_ms', float('nan')):.2f} | "
              f"{figures.get('p99_ms', float('nan')):.2f} | {ratio} |")
    print("\nGoals: call: zmq >= 0.6x raw and >= 2.5x rabbit (zmq ratio = zmq / row).")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump([{"implementation": impl, "scenario": scenario, **figures}
                       for (impl, scenario), figures in results.items()], out, indent=1)
    if args.short:
        print("(--short: a smoke run, not a measurement)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

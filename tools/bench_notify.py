#!/usr/bin/env python3
"""Notification throughput: notifications/s sent, and received end to end, with CPU cost.

    .venv/bin/python tools/bench_notify.py [--url fake://] [--count 5000] [--max-seconds 60]

A listener is started on a fresh topic, then ``--count`` notifications are sent with a
``Notifier`` (driver ``messagingv2`` unless ``--driver``) while the listener consumes them.
Printed: the send rate, the end-to-end rate (first send to last receipt), and the CPU
seconds this process used per 1000 notifications (sender and listener together, since both
run here; ``--phased`` sends everything before the listener starts, to measure each side
alone). ``fake://`` is in-process, so sender and listener share one transport; other
URLs get a transport each, as two services would. Bounded: sending stops and waiting
ends after ``--max-seconds``, and the figures cover what got through by then.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oslo_config import cfg

from legacy_rpc.messaging import _mask
from legacy_rpc.messaging.notify import (
    Notifier,
    get_batch_notification_listener,
    get_notification_listener,
    get_notification_transport,
)
from legacy_rpc.messaging.target import Target
from legacy_rpc.messaging.transport import Transport


class Counter:
    """The listener's endpoint: counts notifications and remembers the last arrival."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.last = 0.0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def _add(self, n: int) -> None:
        with self._lock:
            self.count += n
            self.last = time.perf_counter()
            if self.count >= self.expected:
                self.done.set()

    def info(self, *args: Any) -> None:
        self._add(len(args[0]) if len(args) == 1 else 1)


def _transport(url: str) -> Transport:
    conf = cfg.ConfigOpts()
    conf([], default_config_files=[], default_config_dirs=[])
    return get_notification_transport(conf, url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="fake://", help="transport URL (default fake://)")
    parser.add_argument("--count", type=int, default=5000, help="notifications to send")
    parser.add_argument("--max-seconds", type=float, default=60.0,
                        help="give up sending and waiting after this long (default 60)")
    parser.add_argument("--payload-bytes", type=int, default=100,
                        help="size of the payload's text (default 100)")
    parser.add_argument("--driver", default="messagingv2", choices=["messagingv2", "messaging"])
    parser.add_argument("--executor", default="threading", choices=["threading", "blocking"])
    parser.add_argument("--batch-size", type=int, default=0,
                        help="use a batch listener with this batch size (default: no batches)")
    parser.add_argument("--phased", action="store_true",
                        help="send everything first, then start the listener: the CPU "
                             "figures of sending and receiving are then separate")
    args = parser.parse_args()

    topic = f"bench-notify-{uuid.uuid4().hex[:8]}"
    send_transport = _transport(args.url)
    recv_transport = send_transport if args.url.startswith("fake:") else _transport(args.url)
    counter = Counter(args.count)
    targets = [Target(topic=topic)]
    if args.batch_size > 0:
        listener = get_batch_notification_listener(
            recv_transport, targets, [counter], executor=args.executor,
            batch_size=args.batch_size, batch_timeout=0.1)
    else:
        listener = get_notification_listener(recv_transport, targets, [counter],
                                             executor=args.executor)
    notifier = Notifier(send_transport, "bench.host", driver=args.driver, topics=[topic])
    payload = {"text": "x" * args.payload_bytes, "n": 0}

    if not args.phased:
        listener.start()
    deadline = time.perf_counter() + args.max_seconds
    cpu0, t0 = time.process_time(), time.perf_counter()
    sent = 0
    for sent in range(1, args.count + 1):
        payload["n"] = sent
        notifier.info(None, "bench.event", payload)
        if time.perf_counter() > deadline:
            break
    t_sent, cpu_sent = time.perf_counter(), time.process_time()
    t_recv0, cpu_recv0 = t0, cpu0
    if args.phased:
        t_recv0, cpu_recv0 = time.perf_counter(), time.process_time()
        listener.start()
    counter.expected = sent
    if counter.count >= sent:
        counter.done.set()
    counter.done.wait(max(0.0, deadline - time.perf_counter()))
    cpu_all = time.process_time()
    received, last = counter.count, counter.last
    listener.stop()
    listener.wait()
    send_transport.cleanup()
    if recv_transport is not send_transport:
        recv_transport.cleanup()

    send_s = t_sent - t0
    e2e_s = (last - t_recv0) if received else float("nan")
    both = "receive only" if args.phased else "send + receive, concurrently"
    sending = "send only" if args.phased else "whole process while sending"
    span = "after the listener started" if args.phased else "end to end"
    print(f"url {_mask.mask_url(args.url)}  driver {args.driver}  executor {args.executor}"
          f"{f'  batch {args.batch_size}' if args.batch_size else ''}  payload "
          f"{args.payload_bytes} B  python {sys.version.split()[0]}")
    print(f"sent      {sent:>7} in {send_s:7.3f} s = {sent / send_s:9.0f} notifications/s   "
          f"CPU {1000 * (cpu_sent - cpu0) / max(sent, 1):.3f} s per 1000 ({sending})")
    print(f"received  {received:>7} in {e2e_s:7.3f} s = {received / e2e_s:9.0f} "
          f"notifications/s {span}   CPU "
          f"{1000 * (cpu_all - cpu_recv0) / max(received, 1):.3f} s per 1000 ({both})")
    if received < sent:
        print(f"incomplete: {sent - received} notification(s) not received within "
              f"--max-seconds {args.max_seconds:g}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the orchestrator and a worker process say to each other, and how a server counts.

A worker reads one JSON command per line on stdin (``{"cmd": "go"}``, ``{"cmd": "report",
...}``, ``{"cmd": "stop"}``) and writes one JSON event per line on the stdout it was started
with (``{"event": "ready"}``, ``{"event": "result", ...}``...). Libraries that print are
redirected to stderr, so they can never corrupt the event stream.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Channel", "Tally", "Usage"]


class Channel:
    """The worker's end of the conversation with the orchestrator."""

    def __init__(self) -> None:
        out_fd = os.dup(1)
        os.dup2(2, 1)  # C-level writes to fd 1 now land in the log, not in the event stream
        sys.stdout = sys.stderr
        self._out = os.fdopen(out_fd, "w", buffering=1, encoding="utf-8")
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields})
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()

    def command(self) -> dict[str, Any]:
        """The next command; ``stop`` if the orchestrator has gone away."""
        line = sys.stdin.readline()
        if not line:
            return {"cmd": "stop"}
        cmd: dict[str, Any] = json.loads(line)
        return cmd


@dataclass(frozen=True)
class Usage:
    """A snapshot of this process: monotonic wall clock, CPU seconds (all, and in the
    kernel), context switches (voluntary, involuntary).

    ``time.monotonic`` is CLOCK_MONOTONIC, shared by every process of the machine, so a
    client's send time and a server's receive time can be subtracted.
    """

    wall: float
    cpu: float
    sys: float
    vcsw: int
    ivcsw: int

    @classmethod
    def now(cls) -> Usage:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return cls(time.monotonic(), time.process_time(), ru.ru_stime, ru.ru_nvcsw,
                   ru.ru_nivcsw)

    def minus(self, earlier: Usage) -> Usage:
        return Usage(self.wall - earlier.wall, self.cpu - earlier.cpu, self.sys - earlier.sys,
                     self.vcsw - earlier.vcsw, self.ivcsw - earlier.ivcsw)


class Tally:
    """Counts the messages a server handles; snapshots usage at each measured one.

    Messages sent during the warm-up carry ``m=False`` and are only counted. The cost per
    message is the usage between the first and the last measured message divided by the
    number of messages in between, so idle time before and after does not count.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self.measured = 0
        self.first: Usage | None = None
        self.last: Usage | None = None
        self._target = -1
        self._reached = threading.Event()

    def hit(self, measured: Any) -> None:
        with self._lock:
            self.total += 1
            if measured:
                usage = Usage.now()
                self.measured += 1
                if self.first is None:
                    self.first = usage
                self.last = usage
            if 0 <= self._target <= self.total:
                self._reached.set()

    def wait_for(self, total: int, timeout: float) -> bool:
        """Wait until ``total`` messages have been handled (warm-up ones included)."""
        with self._lock:
            self._target = total
            if self.total >= total:
                return True
            self._reached.clear()
        return self._reached.wait(timeout)

    def summary(self) -> dict[str, Any]:
        with self._lock:
            span = self.last.minus(self.first) if self.first and self.last else None
            return {
                "total": self.total,
                "measured": self.measured,
                "first_t": self.first.wall if self.first else None,
                "last_t": self.last.wall if self.last else None,
                "span": asdict(span) if span else None,
            }

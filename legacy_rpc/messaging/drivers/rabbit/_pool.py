"""The send-connection pool of a transport, and the thread that keeps connections alive.

Requests, replies, heartbeats to callers and notifications are published on pooled
connections, one sender at a time, most recently used first. A single ``Rabbit-heartbeat``
OS thread checks every connection the transport holds that nobody is using at the moment
(idle pooled ones, the reply consumer's, listeners' between polls): it sends heartbeats
when due and gives up a connection the broker has been silent on for longer than the
heartbeat timeout (half-open). Busy connections check themselves between bounded waits. It
also closes connections idle for longer than ``conn_pool_ttl`` beyond
``conn_pool_min_size``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from legacy_rpc.messaging.drivers.rabbit._connection import BrokerConnection, DeadlineExceeded

LOG = logging.getLogger(__name__)

__all__ = ["ConnectionPool", "HeartbeatThread"]


class ConnectionPool:
    """At most ``max_size`` connections; callers block while all are in use."""

    def __init__(self, factory: Callable[[], BrokerConnection], max_size: int,
                 min_size: int, ttl: float) -> None:
        self._factory = factory
        self._max_size = max_size
        self._min_size = min_size
        self._ttl = ttl
        self._idle: list[BrokerConnection] = []
        self._all: list[BrokerConnection] = []
        self._cond = threading.Condition()
        self._closed = False

    def get(self, deadline: float | None = None) -> BrokerConnection:
        """Take a connection; give it back with :meth:`put` (in a ``finally``)."""
        with self._cond:
            warned = False
            while True:
                if self._closed:
                    raise RuntimeError("the transport was cleaned up")
                if self._idle:
                    return self._idle.pop()
                if len(self._all) < self._max_size:
                    conn = self._factory()
                    self._all.append(conn)
                    return conn
                if not warned:
                    LOG.warning("Connection pool limit of %d reached; waiting",
                                self._max_size)
                    warned = True
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise DeadlineExceeded("no pooled connection became free in time")
                self._cond.wait(remaining)

    def put(self, conn: BrokerConnection) -> None:
        with self._cond:
            if self._closed:
                conn.close()
                return
            self._idle.append(conn)
            self._cond.notify()

    def take(self, conn: BrokerConnection) -> bool:
        """Take ``conn`` itself if it is idle (give it back with :meth:`put`)."""
        with self._cond:
            if self._closed or conn not in self._idle:
                return False
            self._idle.remove(conn)
            return True

    def idle_connections(self) -> list[BrokerConnection]:
        with self._cond:
            return list(self._idle)

    def expire_idle(self) -> None:
        """Close connections idle for longer than the TTL, keeping ``min_size``."""
        now = time.monotonic()
        with self._cond:
            expired = [c for c in self._idle[: max(0, len(self._idle) - self._min_size)]
                       if now - c.last_used > self._ttl]
            for conn in expired:
                self._idle.remove(conn)
                self._all.remove(conn)
        for conn in expired:
            conn.close()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for conn in idle:
            conn.close()


class HeartbeatThread:
    """Ticks heartbeats on a set of connections from one native OS thread."""

    def __init__(self, interval: float,
                 sources: list[tuple[Callable[[], list[BrokerConnection]], bool]],
                 housekeeping: Callable[[], None] | None = None) -> None:
        """``sources``: (function listing connections, whether this thread may read them);
        listener connections are only peeked at, never read (see ``heartbeat_check``)."""
        self._interval = interval
        self._sources = sources
        self._housekeeping = housekeeping
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="Rabbit-heartbeat",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                for source, read in self._sources:
                    for conn in source():
                        conn.heartbeat_check(read)
                if self._housekeeping is not None:
                    self._housekeeping()
            except Exception:
                LOG.exception("Heartbeat thread error; continuing")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)

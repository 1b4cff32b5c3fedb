"""A fault-injecting TCP proxy on 127.0.0.1 in front of one broker port.

Point a client at :attr:`FaultProxy.port` (or :meth:`FaultProxy.url`) instead of the
broker, then break the path between them the way networks and brokers break:

- ``pass_through()``: forward bytes both ways (the default);
- ``blackhole()``: keep every socket open, read and drop what either side sends, forward
  nothing: a half-open connection, a broker that silently vanished. Connections that were
  open during a black hole stay silent afterwards (their bytes are lost, so the AMQP
  stream cannot resume); new connections get the current mode;
- ``reset()``: RST every current connection on both sides (``SO_LINGER`` 0, then close);
  with ``sticky=True`` new connections are reset right after they are accepted, too;
- ``latency(seconds)``: deliver every chunk that many seconds late, in order;
- ``refuse_new = True``: close the listening socket, so new connections are refused
  (``ECONNREFUSED``) while the current ones live on; ``False`` listens on the same port
  again.

One thread runs a selector loop over every socket; commands from the test thread reach it
through a socketpair. ``close()`` (or leaving the ``with`` block) stops and joins the
thread and closes every socket it opened. Standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

__all__ = ["FaultProxy", "ProxyStats"]

_CHUNK = 65536
#: Stop reading from a side while this much data waits to be written to the other.
_MAX_PENDING = 4 * 1024 * 1024
_MODES = ("pass", "blackhole", "reset", "latency")


@dataclass(frozen=True)
class ProxyStats:
    """Counters since the proxy started."""

    accepted: int
    active: int
    refused: int
    resets: int
    bytes_to_server: int
    bytes_to_client: int


@dataclass(eq=False)
class _Side:
    sock: socket.socket
    pending: deque[tuple[float, bytes]] = field(default_factory=deque)  # to write to sock
    pending_bytes: int = 0
    eof: bool = False  # the peer behind sock will send no more
    shut_wr: bool = False  # we sent FIN to sock


class _Conn:
    def __init__(self, client: socket.socket, server: socket.socket | None) -> None:
        self.client = _Side(client)
        self.server = _Side(server) if server is not None else None
        self.connecting = server is not None
        self.blackholed = False

    def other(self, side: _Side) -> _Side | None:
        return self.server if side is self.client else self.client

    def sides(self) -> list[_Side]:
        return [self.client] + ([self.server] if self.server is not None else [])


def _rst_close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    """A TCP proxy from ``127.0.0.1:port`` to ``target_host:target_port``; see the module."""

    def __init__(self, target_port: int = 5672, target_host: str = "127.0.0.1", *,
                 listen_port: int = 0, refuse_new: bool = False) -> None:
        self.target = (target_host, target_port)
        self._mode = "pass"
        self._latency = 0.0
        self._lock = threading.Lock()
        self._commands: list[Callable[[], None]] = []
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._conns: set[_Conn] = set()
        self._listener: socket.socket | None = None
        self.port = listen_port
        self._refuse_new = refuse_new
        self._counts = {"accepted": 0, "refused": 0, "resets": 0, "up": 0, "down": 0}
        self._stopping = False
        self._thread: threading.Thread | None = None
        if not refuse_new:
            self._listen()
        else:
            # Reserve a port number now so that url() works before listening starts.
            probe = socket.socket()
            probe.bind(("127.0.0.1", listen_port))
            self.port = int(probe.getsockname()[1])
            probe.close()

    # ---------------------------------------------------------------- public API

    def start(self) -> FaultProxy:
        """Start the proxy's thread (``with`` does it); returns ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"fault-proxy-{self.port}",
                                            daemon=True)
            self._thread.start()
        return self

    @property
    def mode(self) -> str:
        """``pass``, ``blackhole``, ``reset`` (sticky) or ``latency``."""
        return self._mode

    def pass_through(self) -> None:
        """Forward both ways again without delay (black-holed connections stay silent)."""
        self._set_mode("pass", 0.0)

    def blackhole(self) -> None:
        """Drop everything both sides send, keeping every connection open."""
        self._set_mode("blackhole", 0.0)

    def latency(self, seconds: float) -> None:
        """Deliver every chunk ``seconds`` late (order kept); 0 is ``pass_through()``."""
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        self._set_mode("latency" if seconds else "pass", seconds)

    def reset(self, *, sticky: bool = False) -> None:
        """RST every current connection (both sides); returns once they are closed.

        Afterwards new connections pass (a latency setting is kept); with ``sticky`` they
        are reset as soon as they are accepted, until another mode is set.
        """
        def command() -> None:
            for conn in list(self._conns):
                self._close_conn(conn, rst=True)
                with self._lock:
                    self._counts["resets"] += 1
        with self._lock:
            if sticky:
                self._mode, self._latency = "reset", 0.0
            elif self._mode in ("reset", "blackhole"):
                self._mode, self._latency = "pass", 0.0
        self._call(command)

    @property
    def refuse_new(self) -> bool:
        """True while new connections are refused (nothing listens on :attr:`port`)."""
        return self._refuse_new

    @refuse_new.setter
    def refuse_new(self, refuse: bool) -> None:
        def command() -> None:
            if refuse and self._listener is not None:
                self._selector.unregister(self._listener)
                self._listener.close()
                self._listener = None
            elif not refuse and self._listener is None:
                self._listen()
        self._refuse_new = refuse
        self._call(command)

    def stats(self) -> ProxyStats:
        """Connection and byte counters (``active``: connections open right now)."""
        with self._lock:
            return ProxyStats(self._counts["accepted"], len(self._conns),
                              self._counts["refused"], self._counts["resets"],
                              self._counts["up"], self._counts["down"])

    @property
    def active(self) -> int:
        """Client connections open through the proxy right now."""
        with self._lock:
            return len(self._conns)

    @property
    def accepted(self) -> int:
        """Client connections accepted since the start."""
        with self._lock:
            return self._counts["accepted"]

    def wait_active(self, count: int, timeout: float = 10.0) -> None:
        """Wait until exactly ``count`` client connections are open through the proxy."""
        deadline = time.monotonic() + timeout
        while self.active != count:
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout:.1f}s: {count} proxied "
                                     f"connections wanted, {self.active} open")
            time.sleep(0.01)

    def url(self, base_url: str | None = None) -> str:
        """``base_url`` (default ``rabbit://guest:guest@<target>/``) aimed at the proxy.

        Credentials, virtual host and query are kept; every host is replaced by the
        proxy's address (which forwards to the one target).
        """
        if base_url is None:
            base_url = f"rabbit://guest:guest@{self.target[0]}:{self.target[1]}/"
        parts = urlsplit(base_url)
        first = parts.netloc.split(",")[0]
        userinfo = first.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query,
                           parts.fragment))

    def close(self) -> None:
        """Stop the thread, join it, and close every socket (current connections RST)."""
        thread = self._thread
        if thread is not None:
            with self._lock:
                self._stopping = True
            self._wake()
            thread.join(timeout=10)
            if thread.is_alive():
                raise RuntimeError("fault proxy thread did not stop")
            self._thread = None
        for conn in list(self._conns):
            self._close_conn(conn, rst=True)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<FaultProxy 127.0.0.1:{self.port} -> {self.target[0]}:{self.target[1]} "
                f"mode={self._mode}>")

    # ---------------------------------------------------------------- commands

    def _set_mode(self, mode: str, latency: float) -> None:
        assert mode in _MODES
        with self._lock:
            self._mode, self._latency = mode, latency
        if mode == "blackhole":
            def command() -> None:
                for conn in self._conns:
                    self._blackhole_conn(conn)
            self._call(command)

    def _call(self, command: Callable[[], None]) -> None:
        """Run ``command`` in the proxy thread (or here, if it is not running) and wait."""
        if self._thread is None or not self._thread.is_alive():
            command()
            return
        done = threading.Event()
        errors: list[BaseException] = []

        def wrapped() -> None:
            try:
                command()
            except Exception as exc:
                errors.append(exc)
            finally:
                done.set()

        with self._lock:
            self._commands.append(wrapped)
        self._wake()
        if not done.wait(timeout=10):
            raise RuntimeError("fault proxy thread did not run a command")
        if errors:
            raise errors[0]

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"x")

    # ---------------------------------------------------------------- the loop

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", self.port))
        except OSError:
            listener.close()
            raise
        listener.listen(64)
        listener.setblocking(False)
        self.port = int(listener.getsockname()[1])
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ, None)

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopping:
                    return
                commands, self._commands = self._commands, []
            for command in commands:
                command()
            self._update_interest()
            timeout = self._next_due()
            for key, events in self._selector.select(timeout):
                sock = key.fileobj
                if sock is self._wake_r:
                    with contextlib.suppress(BlockingIOError):
                        self._wake_r.recv(4096)
                elif sock is self._listener:
                    self._accept()
                elif key.data is not None:
                    conn, side = key.data
                    if events & selectors.EVENT_WRITE and self._has(conn, side):
                        self._on_writable(conn, side)
                    if events & selectors.EVENT_READ and self._has(conn, side):
                        self._on_readable(conn, side)
            self._flush_due()

    def _next_due(self) -> float:
        now = time.monotonic()
        soonest = 0.5
        for conn in self._conns:
            for side in conn.sides():
                if side.pending:
                    soonest = min(soonest, max(side.pending[0][0] - now, 0.0))
        return soonest

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                mode = self._mode
                self._counts["accepted"] += 1
            if mode == "reset":
                with self._lock:
                    self._counts["resets"] += 1
                _rst_close(client)
                continue
            server: socket.socket | None = None
            if mode != "blackhole":
                server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                server.setblocking(False)
                server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                err = server.connect_ex(self.target)
                if err not in (0, errno.EINPROGRESS):
                    server.close()
                    with self._lock:
                        self._counts["refused"] += 1
                    _rst_close(client)
                    continue
            conn = _Conn(client, server)
            conn.blackholed = mode == "blackhole"
            with self._lock:
                self._conns.add(conn)
            for side in conn.sides():
                self._selector.register(side.sock, selectors.EVENT_READ, (conn, side))

    def _blackhole_conn(self, conn: _Conn) -> None:
        conn.blackholed = True
        for side in conn.sides():
            side.pending.clear()
            side.pending_bytes = 0

    def _on_readable(self, conn: _Conn, side: _Side) -> None:
        if side is conn.server and conn.connecting:
            return
        try:
            data = side.sock.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            if conn.blackholed and side is conn.server:
                self._drop_server(conn)
            else:
                # An RST from this side: pass it on as an RST to the other side.
                self._close_conn(conn, rst=True)
            return
        if not data:
            side.eof = True
            other = conn.other(side)
            if conn.blackholed and side is conn.server:
                self._drop_server(conn)
            elif conn.blackholed or other is None:
                # The client hung up on a black hole: nothing is left to keep open.
                self._close_conn(conn, rst=False)
            elif other.eof and not other.pending and not side.pending:
                self._close_conn(conn, rst=False)
            elif not (other is conn.server and conn.connecting):
                self._write_due(conn, other)  # passes the FIN on once the data is out
            return
        if conn.blackholed:
            return
        other = conn.other(side)
        if other is None:
            return
        with self._lock:
            delay = self._latency
            self._counts["up" if side is conn.client else "down"] += len(data)
        other.pending.append((time.monotonic() + delay, data))
        other.pending_bytes += len(data)

    def _on_writable(self, conn: _Conn, side: _Side) -> None:
        if side is conn.server and conn.connecting:
            err = side.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                # The broker refused or is unreachable: the client sees a reset.
                with self._lock:
                    self._counts["refused"] += 1
                self._close_conn(conn, rst=True)
                return
            conn.connecting = False
        self._write_due(conn, side)

    def _flush_due(self) -> None:
        for conn in list(self._conns):
            for side in conn.sides():
                if conn in self._conns and side.pending and not (
                        side is conn.server and conn.connecting):
                    self._write_due(conn, side)

    def _write_due(self, conn: _Conn, side: _Side) -> None:
        now = time.monotonic()
        while side.pending and side.pending[0][0] <= now:
            due, data = side.pending[0]
            try:
                sent = side.sock.send(data)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._close_conn(conn, rst=True)
                return
            side.pending_bytes -= sent
            if sent < len(data):
                side.pending[0] = (due, data[sent:])
                return
            side.pending.popleft()
        other = conn.other(side)
        if not side.pending and other is not None and other.eof and not side.shut_wr:
            # The other peer closed its sending half and all it sent is delivered.
            with contextlib.suppress(OSError):
                side.sock.shutdown(socket.SHUT_WR)
            side.shut_wr = True
            if side.eof:
                self._close_conn(conn, rst=False)

    def _update_interest(self) -> None:
        now = time.monotonic()
        for conn in self._conns:
            for side in conn.sides():
                other = conn.other(side)
                events = 0
                want_read = not side.eof and (
                    other is None or other.pending_bytes < _MAX_PENDING)
                if want_read:
                    events |= selectors.EVENT_READ
                connecting = side is conn.server and conn.connecting
                if connecting or (side.pending and side.pending[0][0] <= now):
                    events |= selectors.EVENT_WRITE
                key = self._selector.get_map().get(side.sock)
                if events == 0:
                    if key is not None:
                        self._selector.unregister(side.sock)
                elif key is None:
                    self._selector.register(side.sock, events, (conn, side))
                elif key.events != events:
                    self._selector.modify(side.sock, events, (conn, side))

    def _close_conn(self, conn: _Conn, *, rst: bool) -> None:
        with self._lock:
            if conn not in self._conns:
                return
            self._conns.discard(conn)
        for side in conn.sides():
            self._close_side(side, rst=rst)

    def _close_side(self, side: _Side, *, rst: bool) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(side.sock)
        if rst:
            _rst_close(side.sock)
        else:
            with contextlib.suppress(OSError):
                side.sock.close()

    def _drop_server(self, conn: _Conn) -> None:
        """The broker side of a black-holed connection went away: the client never learns."""
        if conn.server is not None:
            self._close_side(conn.server, rst=False)
            conn.server = None

    def _has(self, conn: _Conn, side: _Side) -> bool:
        return conn in self._conns and (side is conn.client or side is conn.server)

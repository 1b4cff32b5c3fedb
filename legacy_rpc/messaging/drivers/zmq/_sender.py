"""``Sender``: delivers messages to listeners found by the matchmaker; receives replies.

One DEALER socket per peer address, driven by the sender's :class:`~._loop.IOLoop` (a
message that can go at once is sent by the calling thread; a waiting call reads its reply
itself, see :meth:`Sender.read_replies`). A message for a key goes to one member per
distinct queue (round robin within a queue). The
DEALERs use ``ZMQ_IMMEDIATE``: a message is only handed to a connection that is up; until a
peer's connection is up, its messages wait in a bounded backlog of our own. A message that
waits there longer than :data:`REROUTE_AFTER` (peer dead, or restarted elsewhere) is routed
again from a fresh lookup, and a message with no live receiver at all waits in the pending
list, looked up again every :data:`RETRY_INTERVAL`, until it expires (the caller's deadline,
or ``pending_ttl``). Replies arriving on the DEALERs go to :class:`~..common.ReplyWaiters`.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zmq

from legacy_rpc.messaging import _mask, wire
from legacy_rpc.messaging.drivers import common
from legacy_rpc.messaging.drivers.zmq import _frames
from legacy_rpc.messaging.drivers.zmq._loop import IOLoop
from legacy_rpc.messaging.drivers.zmq._matchmaker import MatchMaker, split_member

LOG = logging.getLogger(__name__)

__all__ = ["Sender", "Outgoing"]

RETRY_INTERVAL = 0.05
"""How often messages without a live receiver are looked up again."""
REROUTE_AFTER = 1.0
"""How long a message waits for a peer's connection before it is routed again."""
MAX_PENDING = 10000
"""The most messages that wait for a receiver to register; the oldest are dropped first."""
_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)
CACHE_FOR = 1.0
"""How long a non-empty lookup is reused (a Redis round trip per send otherwise)."""


@dataclass
class Outgoing:
    """One message for a key: to one member of each queue (``queue`` None), or of one."""

    key: str
    body: bytes
    expires: float
    queue: str | None = None
    queued_at: float = 0.0
    keep_for: str | None = None


class Sender:
    """Sends messages to the members of matchmaker keys; routes replies to waiters."""

    def __init__(self, context: zmq.Context[Any], matchmaker: MatchMaker,
                 waiters: common.ReplyWaiters, *, send_queue_limit: int,
                 secure: Callable[[Any, bool], None], pending_ttl: float,
                 reply_hook: Callable[[Any, bytes], bool] | None = None) -> None:
        self._pending_ttl = pending_ttl
        self._reply_hook = reply_hook
        self._matchmaker = matchmaker
        self._waiters = waiters
        self._limit = send_queue_limit
        self._secure = secure
        self._loop = IOLoop(context, "legacy-rpc-zmq-sender")
        self._peers: dict[str, Any] = {}                       # address -> DEALER
        self._backlog: dict[str, collections.deque[Outgoing]] = {}
        self._backlogged = 0                  # messages in every backlog (driving thread)
        self._room = threading.Condition()    # notified when backlogs shrink
        self._closed = False
        self._pending: list[Outgoing] = []
        self._retrying = False
        self._rr: dict[tuple[str, str], itertools.count[int]] = {}
        self._cache: dict[str, tuple[float, list[str]]] = {}
        self._cache_lock = threading.Lock()

    # ------------------------------------------------------------------ any thread

    def lookup(self, key: str, fresh: bool = False) -> list[str]:
        now = time.monotonic()
        if not fresh:
            with self._cache_lock:
                cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
        members = self._matchmaker.lookup(key)
        with self._cache_lock:
            if members:
                self._cache[key] = (now + CACHE_FOR, members)
            else:
                self._cache.pop(key, None)
        return members

    def send(self, key: str, body: bytes, expires: float, keep_for: str | None = None) -> None:
        """Deliver ``body`` to the members of ``key`` (looked up in the calling thread);
        when no member consumes queue ``keep_for``, a copy waits for one. While the
        matchmaker cannot be reached the message waits as if nobody had registered."""
        try:
            members = self.lookup(key)
        except Exception as exc:
            LOG.warning("Matchmaker lookup of %s failed: %s", key, _mask.mask_text(str(exc)))
            members = []
        self._wait_for_room(key, expires)
        outgoing = Outgoing(key, body, expires, keep_for=keep_for)
        self._loop.call(lambda: self._route(outgoing, members),
                        wait=expires - time.monotonic())

    def _wait_for_room(self, key: str, expires: float) -> None:
        """Flow control: while ``send_queue_limit`` messages wait for slow peers (their
        inboxes full, ZeroMQ's queues too), the sending thread waits for room (until the
        message's expiry) instead of queueing more only to drop them, as a broker blocks
        publishers that outrun their consumers."""
        if self._backlogged < self._limit or self._loop.in_loop():
            return
        LOG.debug("Sending to %s waits: %d messages wait for slow peers", key,
                  self._backlogged)
        with self._room:
            while self._backlogged >= self._limit and not self._closed:
                remaining = expires - time.monotonic()
                if remaining <= 0:
                    return  # sent on, and dropped with an error if there is still no room
                self._room.wait(min(remaining, 1.0))  # re-checked: no lost notification

    def _backlog_changed(self, delta: int) -> None:
        """(Driving thread) count what backlogs hold; wake senders waiting for room."""
        self._backlogged += delta
        if delta < 0 and self._backlogged < self._limit:
            with self._room:
                self._room.notify_all()

    def read_replies(self, timeout: float) -> None:
        """Read replies in the calling thread for up to ``timeout`` seconds (the waiting
        call drives the sockets itself: no hand-over from another thread)."""
        self._loop.drive(timeout)

    def close(self) -> None:
        with self._room:
            self._closed = True
            self._room.notify_all()
        self._loop.close()

    # ------------------------------------------------------------------ loop thread

    def _choose(self, outgoing: Outgoing, members: list[str]) -> list[tuple[str, str]]:
        """``(address, queue)`` per queue of ``members`` (or of ``outgoing.queue``)."""
        by_queue: dict[str, list[str]] = {}
        for value in members:
            try:
                address, queue = split_member(value)
            except ValueError as exc:
                LOG.warning("Ignoring a registration of %s: %s", outgoing.key, exc)
                continue
            if outgoing.queue is None or queue == outgoing.queue:
                by_queue.setdefault(queue, []).append(address)
        chosen = []
        for queue, addresses in by_queue.items():
            counter = self._rr.setdefault((outgoing.key, queue), itertools.count())
            chosen.append((addresses[next(counter) % len(addresses)], queue))
        return chosen

    def _route(self, outgoing: Outgoing, members: list[str]) -> None:
        if time.monotonic() >= outgoing.expires:
            LOG.error("Dropping a message to %s: no receiver took it in time (the call's "
                      "timeout or pending_ttl)", outgoing.key)
            return
        chosen = self._choose(outgoing, members)
        if outgoing.keep_for is not None and outgoing.queue is None and chosen and all(
                queue != outgoing.keep_for for _address, queue in chosen):
            self._wait(Outgoing(outgoing.key, outgoing.body, outgoing.expires,
                                outgoing.keep_for))
        if not chosen:
            self._wait(outgoing)
            return
        for address, queue in chosen:
            copy = Outgoing(outgoing.key, outgoing.body, outgoing.expires, queue)
            self._deliver(address, copy)

    def _wait(self, outgoing: Outgoing) -> None:
        if len(self._pending) >= MAX_PENDING:
            dropped = self._pending.pop(0)
            LOG.error("Dropping a message to %s: %d messages already wait for a receiver",
                      dropped.key, MAX_PENDING)
        self._pending.append(outgoing)
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        if not self._retrying:
            self._retrying = True
            self._loop.later(RETRY_INTERVAL, self._retry)

    def _retry(self) -> None:
        self._retrying = False
        pending, self._pending = self._pending, []
        looked_up: dict[str, list[str]] = {}
        for outgoing in pending:
            if outgoing.key not in looked_up:
                try:
                    looked_up[outgoing.key] = self.lookup(outgoing.key, fresh=True)
                except Exception as exc:
                    LOG.warning("Matchmaker lookup of %s failed: %s", outgoing.key,
                                _mask.mask_text(str(exc)))
                    looked_up[outgoing.key] = []
            self._route(outgoing, looked_up[outgoing.key])
        if self._pending:
            self._schedule_retry()

    def _peer(self, address: str) -> Any:
        socket = self._peers.get(address)
        if socket is None:
            socket = self._loop.context.socket(zmq.DEALER)
            socket.setsockopt(zmq.IPV6, 1)
            socket.setsockopt(zmq.LINGER, 0)
            socket.setsockopt(zmq.IMMEDIATE, 1)
            socket.setsockopt(zmq.SNDHWM, self._limit)
            socket.setsockopt(zmq.RCVHWM, self._limit)
            socket.setsockopt(zmq.MAXMSGSIZE, common.MAX_MESSAGE_SIZE)
            self._secure(socket, False)
            socket.connect(address)
            self._peers[address] = socket

            def on_event(sock: Any, mask: int, peer: str = address) -> None:
                self._on_peer(peer, sock, mask)

            self._loop.add(socket, on_event)
        return socket

    def _deliver(self, address: str, outgoing: Outgoing) -> None:
        backlog = self._backlog.get(address)
        if backlog:  # keep the order behind what already waits
            self._queue(address, outgoing)
            return
        socket = self._peer(address)
        try:
            _frames.send(socket, _frames.build(_frames.MESSAGE, outgoing.key,
                                               outgoing.queue or "", outgoing.body))
        except zmq.Again:
            self._queue(address, outgoing)

    def _queue(self, address: str, outgoing: Outgoing) -> None:
        backlog = self._backlog.setdefault(address, collections.deque())
        if len(backlog) >= self._limit:
            LOG.error("Dropping a message to %s: %d messages already wait for %s",
                      outgoing.key, len(backlog), address)
            return
        outgoing.queued_at = time.monotonic()
        backlog.append(outgoing)
        self._backlog_changed(1)
        if len(backlog) == 1:
            self._loop.modify(self._peers[address], zmq.POLLIN | zmq.POLLOUT)
            self._loop.later(REROUTE_AFTER, lambda: self._check_backlog(address))

    def _flush(self, address: str, socket: Any) -> None:
        backlog = self._backlog.get(address)
        sent = 0
        try:
            while backlog:
                outgoing = backlog[0]
                try:
                    _frames.send(socket, _frames.build(_frames.MESSAGE, outgoing.key,
                                                       outgoing.queue or "", outgoing.body))
                except zmq.Again:
                    return
                backlog.popleft()
                sent += 1
            self._backlog.pop(address, None)
            self._loop.modify(socket, zmq.POLLIN)
        finally:
            if sent:
                self._backlog_changed(-sent)

    def _check_backlog(self, address: str) -> None:
        """Route again what waited too long for ``address``; forget the peer if it is dead."""
        backlog = self._backlog.get(address)
        if not backlog:
            return
        now = time.monotonic()
        stale = [o for o in backlog if now - o.queued_at >= REROUTE_AFTER]
        if not stale:
            self._loop.later(REROUTE_AFTER, lambda: self._check_backlog(address))
            return
        LOG.warning("Peer %s has not taken messages for %.1fs; routing %d of them again",
                    address, REROUTE_AFTER, len(backlog))
        self._backlog.pop(address, None)
        self._backlog_changed(-len(backlog))
        socket = self._peers.pop(address, None)
        if socket is not None:
            # A peer that is alive but slow (its inbox full) still gets what ZeroMQ queued
            # on this socket; a dead one had nothing queued (ZMQ_IMMEDIATE).
            self._loop.remove(socket, linger_ms=int(self._pending_ttl * 1000))
        keys = {o.key for o in backlog}
        with self._cache_lock:
            for key in keys:
                self._cache.pop(key, None)
        for outgoing in backlog:
            try:
                members = [m for m in self.lookup(outgoing.key, fresh=True)
                           if split_member(m)[0] != address]
            except Exception:
                members = []
            self._route(outgoing, members)

    def _on_peer(self, address: str, socket: Any, mask: int) -> None:
        if mask & _POLLOUT:
            self._flush(address, socket)
        if not mask & _POLLIN:
            return
        for _ in range(1000):  # bounded per turn, so other sockets get theirs
            frames = _frames.receive(socket)
            if frames is None:
                return
            self._on_reply(address, frames)

    def _on_reply(self, address: str, frames: list[bytes]) -> None:
        try:
            parsed = _frames.parse(frames)
            if parsed.kind == _frames.MESSAGE:
                raise _frames.MalformedFrames("a listener sent a request to a caller")
            if parsed.kind == _frames.BOUNCE:
                self._bounced(address, parsed)
                return
            decoded = wire.decode_body(parsed.body)
        except Exception as exc:
            common.log_rejected(f"replies from {address}", exc, b"".join(frames[-1:]))
            return
        if self._reply_hook is not None and self._reply_hook(decoded, parsed.body):
            return
        self._waiters.deliver(decoded)

    def _bounced(self, address: str, parsed: _frames.Frames) -> None:
        """A stopped listener gave a message back: route it to another of its queue."""
        if parsed.queue.startswith("fanout-"):
            LOG.info("Dropping a fanout message given back by stopped listener %s", address)
            return
        LOG.debug("Routing a message given back by stopped listener %s again", address)
        with self._cache_lock:
            self._cache.pop(parsed.key, None)
        outgoing = Outgoing(parsed.key, parsed.body,
                            time.monotonic() + self._pending_ttl, parsed.queue or None)
        try:
            members = [m for m in self.lookup(parsed.key, fresh=True)
                       if split_member(m)[0] != address]
        except Exception:
            members = []
        self._route(outgoing, members)

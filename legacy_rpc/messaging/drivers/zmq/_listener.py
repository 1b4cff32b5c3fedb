"""``ZmqListener``: a bound ROUTER socket whose messages a server or listener polls.

Each listener binds its own socket (no receiver process beside the service) on
``rpc_zmq_bind_address`` and registers ``<address> <queue>`` under the matchmaker key of
each subscription when it is created (what is sent from then on waits in its inbox until it
starts, as in a broker's queue); it unregisters when it stops, and gives what still reaches
it back to the sender. The thread that polls it reads the socket itself (an
:class:`~._loop.IOLoop` driven by whichever thread needs it) into a bounded inbox
(``rpc_zmq_topic_backlog``): while the inbox is full it stops reading, so that further
messages wait in the socket and then in their senders (ZeroMQ's high-water marks) instead of
being dropped. Replies are sent by the dispatching thread when nobody else drives the socket,
else by the thread that does. Malformed frames and bodies are dropped and logged masked;
duplicates of a request are dropped.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import zmq

from legacy_rpc.messaging import wire
from legacy_rpc.messaging.drivers import base, common
from legacy_rpc.messaging.drivers.zmq import _frames
from legacy_rpc.messaging.drivers.zmq._loop import IOLoop
from legacy_rpc.messaging.drivers.zmq._matchmaker import member, tcp_address

if TYPE_CHECKING:
    from legacy_rpc.messaging.drivers.zmq._driver import ZmqDriver

LOG = logging.getLogger(__name__)

__all__ = ["ZmqListener", "subscription_key"]

REPLY_LINGER_MS = 2000
"""How long a closed listener socket still tries to deliver the replies it was given."""
DRAIN_GRACE = 2.0
"""How long a cleaned-up listener's socket still gives messages back to their senders
(longer than a sender's lookup cache)."""
DEFAULT_BACKLOG = 10000
"""The inbox bound when ``rpc_zmq_topic_backlog`` is not set."""
MAX_INBOX_BYTES = 256 * 1024 * 1024
"""The most bytes of bodies an inbox holds, whatever the number of messages."""
DRIVE_SLICE = 1.0
"""Longest single read of the socket by a polling thread (then it looks at its state)."""


def subscription_key(sub: base.Subscription, default_exchange: str) -> tuple[str, str]:
    """``(matchmaker key, queue)`` of a subscription (see ``_matchmaker``)."""
    if sub.fanout:
        return f"fanout:{sub.routing_key}", ""
    return (f"{sub.exchange or default_exchange}:{sub.routing_key}",
            sub.queue or sub.routing_key)


class _RpcIncoming(base.RpcIncomingMessage):
    def __init__(self, listener: ZmqListener, identity: bytes, request: wire.Request) -> None:
        super().__init__(**base.RpcIncomingMessage.fields_of(request))
        self._listener = listener
        self._identity = identity

    def transmit_reply(self, body: dict[str, Any]) -> None:
        try:
            self._listener.send_reply(self._identity, wire.encode_body(body))
        except Exception:
            LOG.exception("Could not send the reply to message ID %s", self.msg_id)


class _NotificationIncoming(base.IncomingMessage):
    def __init__(self, note: wire.Notification, raw: bool) -> None:
        message_id = note.metadata.get("message_id")
        super().__init__(note.ctxt, note.payload if raw else wire.notification_message(note),
                         message_id if isinstance(message_id, str) else None)


class ZmqListener(base.PollStyleListener):
    """Receives on its own bound socket; see the module docstring."""

    def __init__(self, driver: ZmqDriver, subscriptions: list[base.Subscription], kind: str,
                 collect: Callable[[bytes], None] | None = None) -> None:
        super().__init__()
        self._driver = driver
        self.kind = kind
        self._collect = collect
        options = driver.options
        self._limit = options.topic_backlog or DEFAULT_BACKLOG
        self._inbox: collections.deque[tuple[bytes, _frames.Frames]] = collections.deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._closed = False
        self._dropped = 0
        self._paused = False
        self._inbox_bytes = 0
        self._dedup = common.DuplicateFilter()
        self._loop = IOLoop(driver.context, f"legacy-rpc-zmq-{kind}")
        socket = driver.context.socket(zmq.ROUTER)
        socket.setsockopt(zmq.IPV6, 1)  # IPv6 as well as IPv4 addresses
        socket.setsockopt(zmq.LINGER, REPLY_LINGER_MS)
        socket.setsockopt(zmq.ROUTER_MANDATORY, 1)
        socket.setsockopt(zmq.RCVHWM, self._limit)
        socket.setsockopt(zmq.SNDHWM, options.send_queue_limit)
        socket.setsockopt(zmq.MAXMSGSIZE, common.MAX_MESSAGE_SIZE)
        driver.secure(socket, True)
        port = driver.bind_port(subscriptions)
        try:
            if port:
                socket.bind(tcp_address(driver.bind_host, port))
            else:
                port = socket.bind_to_random_port(tcp_address(driver.bind_host))
        except zmq.ZMQError as exc:
            socket.close(linger=0)
            self._loop.close()
            raise OSError(f"cannot bind {tcp_address(driver.bind_host, port or '*')}: "
                          f"{exc}") from exc
        self.port = port
        self.address = tcp_address(driver.advertised_host, port)
        keys: list[tuple[str, str]] = []
        for sub in subscriptions:
            key, queue = subscription_key(sub, driver.default_exchange)
            if sub.fanout:
                queue = f"fanout-{self.address}"
            if (key, queue) not in keys:
                keys.append((key, queue))
        self.registrations = [(key, member(self.address, queue)) for key, queue in keys]
        self._registered = False
        self.reply_routes: dict[str, bytes] = {}
        self._socket = socket
        self._loop.call(lambda: self._loop.add(socket, self._on_readable))
        if collect is None:
            # Registered at once, as a broker queue is declared at once: what is sent from
            # now on waits in the inbox until the listener starts.
            self._register()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._stopped = False
        self._register()

    def _register(self) -> None:
        with self._cond:
            if self._registered or self._closed:
                return
            self._registered = True
        for key, value in self.registrations:
            self._driver.matchmaker.register(key, value)

    def _unregister(self) -> None:
        with self._cond:
            if not self._registered:
                return
            self._registered = False
        for key, value in self.registrations:
            self._driver.matchmaker.unregister(key, value)

    def stop(self) -> None:
        self._unregister()
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._loop.call(lambda: None)  # wakes a poll() driving the loop

    def cleanup(self) -> None:
        """Unregister and close the socket; messages not yet polled go back to their
        senders (which route them again, or drop a fanout copy)."""
        self._unregister()
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._stopped = True
            self._registered = False
            unhandled = list(self._inbox)
            self._inbox.clear()
            self._inbox_bytes = 0
            self._cond.notify_all()
        if unhandled:
            LOG.info("Giving %d unhandled message(s) back from %s", len(unhandled),
                     self.address)
        # Senders that looked this listener up shortly before it left (a cached lookup)
        # may still send to it: the socket stays open for DRAIN_GRACE, giving all back.
        self._loop.call(lambda: self._bounce(unhandled))
        self._loop.call(lambda: self._loop.later(DRAIN_GRACE, self._loop.stop))

    def close_now(self) -> None:
        """Close the socket without the grace period (the transport is cleaned up)."""
        self.cleanup()
        self._loop.close()

    # ------------------------------------------------------------------ I/O thread

    def _on_readable(self, socket: Any, _mask: int) -> None:
        room = 1000  # bounded per turn
        if self._collect is None:
            with self._cond:
                room = min(room, self._limit - len(self._inbox))
                if room <= 0 and self._registered:
                    self._pause_locked()
                    return
        received: list[list[bytes]] = []
        while len(received) < max(room, 1):
            frames = _frames.receive(socket)
            if frames is None:
                break
            received.append(frames)
        accepted: list[tuple[bytes, _frames.Frames]] = []
        for frames in received:
            identity, rest = frames[0], frames[1:]
            try:
                parsed = _frames.parse(rest)
                if parsed.kind != _frames.MESSAGE:
                    raise _frames.MalformedFrames("a reply was sent to a listener")
            except _frames.MalformedFrames as exc:
                common.log_rejected(self.address, exc, b"".join(rest)[:common.LOG_EXCERPT])
                continue
            accepted.append((identity, parsed))
        if not accepted:
            return
        if self._collect is not None:
            for identity, parsed in accepted:
                self._remember_reply_route(identity, parsed.body)
                self._collect(parsed.body)
            return
        with self._cond:
            if not self._registered:  # stopped: the sender routes them elsewhere
                self._bounce(accepted)
                return
            for item in accepted:
                size = len(item[1].body)
                if self._inbox_bytes + size > MAX_INBOX_BYTES:
                    self._dropped += 1
                    if self._dropped == 1 or self._dropped % 1000 == 0:
                        LOG.error("The inbox of %s is full (%d messages, %d bytes); dropped "
                                  "%d so far", self.address, len(self._inbox),
                                  self._inbox_bytes, self._dropped)
                    continue
                self._inbox.append(item)
                self._inbox_bytes += size
            if len(self._inbox) >= self._limit:
                self._pause_locked()
            self._cond.notify()

    def _pause_locked(self) -> None:
        """(Driving thread, under _cond) stop reading while the inbox is full: what comes
        meanwhile waits in the socket, then in the senders (ZeroMQ's high-water marks),
        instead of being dropped here."""
        if not self._paused:
            self._paused = True
            self._loop.modify(self._socket, 0)

    def _resume(self) -> None:
        """(Driving thread) read again."""
        with self._cond:
            if not self._paused or self._closed:
                return
            self._paused = False
        self._loop.modify(self._socket, zmq.POLLIN)

    def _bounce(self, items: list[tuple[bytes, _frames.Frames]]) -> None:
        """Give messages back to their senders (loop thread)."""
        for identity, parsed in items:
            try:
                _frames.send(self._socket, [identity, *_frames.build(
                    _frames.BOUNCE, parsed.key, parsed.queue, parsed.body)])
            except zmq.ZMQError as exc:
                LOG.warning("Could not give a message back from %s: %s", self.address, exc)

    def _remember_reply_route(self, identity: bytes, body: bytes) -> None:
        """(Raw collectors) remember which connection a request's ``_reply_q`` is on."""
        try:
            request = common.parse_delivery("rpc", body)
        except wire.MalformedMessage:
            return
        if isinstance(request, wire.Request) and request.reply_q:
            self.reply_routes[request.reply_q] = identity

    def send_reply(self, identity: bytes, body: bytes) -> None:
        """Send a reply to the peer ``identity`` (any thread)."""
        def send() -> None:
            try:
                _frames.send(self._socket,
                             [identity, *_frames.build(_frames.REPLY, "", "", body)])
            except zmq.ZMQError as exc:  # the caller is gone, or is not reading
                LOG.warning("Could not send a reply from %s: %s", self.address, exc)
        self._loop.call(send)

    # ------------------------------------------------------------------ polling

    def _to_incoming(self, identity: bytes,
                     frames: _frames.Frames) -> base.IncomingMessage | None:
        queue, body = frames.queue, frames.body
        try:
            parsed = common.parse_delivery(self.kind, body)
        except wire.MalformedMessage as exc:
            common.log_rejected(queue or self.address, exc, body)
            return None
        if self._dedup.seen(parsed.unique_id):
            LOG.info("Ignoring duplicate message %s on %s", parsed.unique_id, self.address)
            return None
        if isinstance(parsed, wire.Request):
            return _RpcIncoming(self, identity, parsed)
        return _NotificationIncoming(parsed, raw=self.kind == "raw")

    def poll(self, timeout: float | None = None, batch_size: int = 1,
             batch_timeout: float | None = None) -> list[base.IncomingMessage]:
        """Take messages from the inbox; while it is empty, read the socket in this thread
        (no hand-over from an I/O thread on the way)."""
        deadline = time.monotonic() + timeout if timeout is not None else None
        batch: list[base.IncomingMessage] = []
        batch_deadline: float | None = None
        while len(batch) < batch_size:
            resume = False
            with self._cond:
                item = self._inbox.popleft() if self._inbox else None
                if item is not None:
                    self._inbox_bytes -= len(item[1].body)
                    resume = self._paused and len(self._inbox) <= self._limit // 2
                stopped, closed = self._stopped, self._closed
            if item is not None:
                if resume:
                    self._loop.call(self._resume)
                incoming = self._to_incoming(*item)
                if incoming is not None:
                    batch.append(incoming)
                    if batch_deadline is None and batch_timeout is not None:
                        batch_deadline = time.monotonic() + batch_timeout
                continue
            if stopped or closed or (batch and batch_timeout is None):
                break
            due = [d for d in (deadline, batch_deadline) if d is not None]
            remaining = min(due) - time.monotonic() if due else None
            if remaining is not None and remaining <= 0:
                break
            self._loop.drive(DRIVE_SLICE if remaining is None else min(remaining, DRIVE_SLICE))
        return batch

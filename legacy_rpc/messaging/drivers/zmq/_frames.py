"""The zmq driver's frames: what travels between a sender's DEALER and a listener's ROUTER.

Every message is five frames ``[MAGIC, kind, key, queue, body]``:

- ``m`` (sender -> listener): ``body`` for the listener that consumes ``queue``, found under
  the matchmaker ``key``;
- ``r`` (listener -> caller): a reply, heartbeat or streamed value (``key``/``queue`` empty);
- ``b`` (listener -> sender): a message given back unhandled by a listener that stopped, with
  its ``key`` and ``queue``, so the sender routes it again.

``body`` is the JSON envelope built by :mod:`legacy_rpc.messaging.wire`, as on the brokers.
Anything else is malformed and dropped.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import zmq

__all__ = ["MAGIC", "MESSAGE", "REPLY", "BOUNCE", "Frames", "MalformedFrames", "build",
           "parse", "send", "receive"]

# Plain ints: combining pyzmq's flag enums costs an Enum construction per operation, a
# noticeable share of a call's CPU time.
_NOBLOCK = int(zmq.NOBLOCK)
_MORE_NOBLOCK = int(zmq.SNDMORE) | _NOBLOCK
_EVENTS = int(zmq.EVENTS)
_RCVMORE = int(zmq.RCVMORE)
_POLLIN = int(zmq.POLLIN)

MAGIC = b"LRPC-ZMQ/1"
MESSAGE = b"m"
REPLY = b"r"
BOUNCE = b"b"
MAX_NAME = 1024


class MalformedFrames(ValueError):
    """The frames are not one of ours."""


class Frames(NamedTuple):
    kind: bytes
    key: str
    queue: str
    body: bytes


def build(kind: bytes, key: str, queue: str, body: bytes) -> list[bytes]:
    return [MAGIC, kind, key.encode("utf-8"), queue.encode("utf-8"), body]


def _name(raw: bytes, what: str) -> str:
    if len(raw) > MAX_NAME:
        raise MalformedFrames(f"{what} too long")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedFrames(f"{what} is not UTF-8") from None


def parse(frames: list[bytes]) -> Frames:
    """The parts of received frames (without a ROUTER's identity frame)."""
    if len(frames) != 5:
        raise MalformedFrames(f"expected 5 frames, got {len(frames)}")
    magic, kind, key, queue, body = frames
    if magic != MAGIC:
        raise MalformedFrames(f"unknown protocol marker {magic[:32]!r}")
    if kind not in (MESSAGE, REPLY, BOUNCE):
        raise MalformedFrames(f"unknown message kind {kind[:16]!r}")
    return Frames(kind, _name(key, "key"), _name(queue, "queue name"), body)


def send(socket: Any, frames: list[bytes]) -> None:
    """Send ``frames`` without blocking; ``zmq.Again`` when the socket cannot take them (a
    multipart message is atomic: either every frame is queued or none)."""
    last = len(frames) - 1
    for index, frame in enumerate(frames):
        socket.send(frame, _NOBLOCK if index == last else _MORE_NOBLOCK)


def receive(socket: Any) -> list[bytes] | None:
    """The next multipart message of ``socket``, or None when none is ready (asked with
    ``ZMQ_EVENTS``: cheaper than a receive raising ``zmq.Again``)."""
    if not socket.getsockopt(_EVENTS) & _POLLIN:
        return None
    try:
        frames = [socket.recv(_NOBLOCK)]
    except zmq.Again:
        return None
    while socket.getsockopt(_RCVMORE):
        frames.append(socket.recv(_NOBLOCK))
    return frames

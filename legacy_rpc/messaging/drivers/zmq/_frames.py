"""The zmq driver's frames: what travels between a sender's DEALER and a listener's ROUTER.

A message to a listener is ``[MAGIC, b"m", queue, body]``; a reply (or heartbeat, or
streamed value) back to the caller is ``[MAGIC, b"r", b"", body]``. ``body`` is the JSON of
the envelope built by :mod:`legacy_rpc.messaging.wire`, as on the brokers; ``queue`` is the
matchmaker queue the sender chose (for logs). Anything else is malformed and dropped.
"""

from __future__ import annotations

__all__ = ["MAGIC", "MESSAGE", "REPLY", "MalformedFrames", "message", "reply", "parse"]

MAGIC = b"LRPC-ZMQ/1"
MESSAGE = b"m"
REPLY = b"r"
MAX_QUEUE_NAME = 1024


class MalformedFrames(ValueError):
    """The frames are not one of ours."""


def message(queue: str, body: bytes) -> list[bytes]:
    return [MAGIC, MESSAGE, queue.encode("utf-8"), body]


def reply(body: bytes) -> list[bytes]:
    return [MAGIC, REPLY, b"", body]


def parse(frames: list[bytes]) -> tuple[bytes, str, bytes]:
    """``(kind, queue, body)`` of received frames (without a ROUTER's identity frame)."""
    if len(frames) != 4:
        raise MalformedFrames(f"expected 4 frames, got {len(frames)}")
    magic, kind, queue, body = frames
    if magic != MAGIC:
        raise MalformedFrames(f"unknown protocol marker {magic[:32]!r}")
    if kind not in (MESSAGE, REPLY):
        raise MalformedFrames(f"unknown message kind {kind[:16]!r}")
    if len(queue) > MAX_QUEUE_NAME:
        raise MalformedFrames("queue name too long")
    try:
        name = queue.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedFrames("queue name is not UTF-8") from None
    return kind, name, body

"""Body compression as kombu does it, with decompression bounded in size.

kombu (so oslo.messaging with ``kombu_compression``) compresses a body with zlib or bz2 and
names the method by content type in the ``compression`` header. Decompression is where a few
bytes from a peer become many (a 177-byte bz2 body inflates to 200 MB), so :func:`decompress`
produces at most ``max_size`` bytes and stops as soon as the output would exceed them: a bomb
costs about ``max_size`` bytes of memory, never its inflated size.
"""

from __future__ import annotations

import bz2
import zlib

from legacy_rpc.messaging.wire import MalformedMessage, MessageTooLarge

__all__ = ["DEFAULT_MAX_DECOMPRESSED_SIZE", "CONTENT_TYPES", "MessageTooLarge", "compress",
           "decompress"]

DEFAULT_MAX_DECOMPRESSED_SIZE = 128 * 1024 * 1024
"""128 MiB, RabbitMQ's default ``max_message_size`` (3.8 to 3.13).

A peer can already send an uncompressed body that large through a default broker, so this
bound adds no exposure of its own and never refuses, compressed, a body the broker would have
carried uncompressed. A smaller cap (64 MiB) would save memory only against peers that can
send 128 MiB in clear anyway.
"""

CONTENT_TYPES = {"gzip": "application/x-gzip", "bz2": "application/x-bz2"}
"""The ``compression`` header value of each method, as kombu writes them."""

_GZIP, _BZ2 = CONTENT_TYPES["gzip"], CONTENT_TYPES["bz2"]
# zlib-wrapped data (what kombu's "gzip" really is) or a gzip header, detected automatically.
_ZLIB_OR_GZIP = zlib.MAX_WBITS | 32
# Output is produced in pieces of at most this many bytes, so that the size check comes
# before the memory is spent.
_CHUNK = 1 << 20


def compress(body: bytes, method: str) -> tuple[bytes, str]:
    """Compress ``body`` with ``method`` (``gzip`` or ``bz2``); return it and its content type.

    The bytes are those of kombu (``zlib.compress``/``bz2.compress``), so kombu-based peers
    read them.

    :raises ValueError: an unknown method.
    """
    if method == "gzip":
        return zlib.compress(body), _GZIP
    if method == "bz2":
        return bz2.compress(body), _BZ2
    raise ValueError(f"unknown compression method {method!r}; known: gzip, bz2")


def decompress(data: bytes, content_type: str,
               max_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE) -> bytes:
    """Decompress a body whose ``compression`` header is ``content_type``.

    Accepts what ``zlib.decompress`` and ``bz2.decompress`` accept (data after the end of the
    stream is ignored; bz2 may hold several streams) and never holds more than about
    ``max_size`` bytes of output.

    :raises MessageTooLarge: the output would be larger than ``max_size`` bytes.
    :raises MalformedMessage: corrupt or truncated data, or an unknown content type.
    """
    if max_size < 0:
        raise ValueError(f"max_size must not be negative, got {max_size}")
    if content_type == _GZIP:
        return _inflate(data, max_size)
    if content_type == _BZ2:
        return _bunzip(data, max_size)
    raise MalformedMessage(f"unsupported compression {content_type!r}")


class _Output:
    """Decompressed pieces, refused as soon as they add up to more than ``max_size``."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.size = 0
        self.chunks: list[bytes] = []

    def want(self) -> int:
        """How many bytes to ask for next: one more than the room left tells "too large"."""
        return min(_CHUNK, self.max_size + 1 - self.size)

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_size:
            raise MessageTooLarge(self.max_size)
        self.chunks.append(chunk)

    def result(self) -> bytes:
        return b"".join(self.chunks)  # one piece: returned as it is, not copied


def _inflate(data: bytes, max_size: int) -> bytes:
    out = _Output(max_size)
    decompressor = zlib.decompressobj(_ZLIB_OR_GZIP)
    pending = bytes(data)
    try:
        while not decompressor.eof:
            want = out.want()
            chunk = decompressor.decompress(pending, want)
            out.add(chunk)
            tail = decompressor.unconsumed_tail
            # Less output than asked and no input left: the stream ended early.
            stalled = len(chunk) < want and not tail
            if not decompressor.eof and (stalled or (not chunk and len(tail) == len(pending))):
                raise MalformedMessage("compressed body (zlib) is truncated")
            pending = tail
    except zlib.error as exc:
        raise MalformedMessage(f"corrupt compressed body (zlib): {exc}") from None
    return out.result()


def _bunzip(data: bytes, max_size: int) -> bytes:
    out = _Output(max_size)
    pending = bytes(data)
    while pending:
        decompressor = bz2.BZ2Decompressor()
        try:
            chunk = decompressor.decompress(pending, out.want())
        except OSError as exc:
            if out.chunks:  # what follows a complete stream is ignored, as by bz2.decompress
                break
            raise MalformedMessage(f"corrupt compressed body (bz2): {exc}") from None
        out.add(chunk)
        while not decompressor.eof:
            if decompressor.needs_input:  # all input read, no end-of-stream marker
                raise MalformedMessage("compressed body (bz2) is truncated")
            try:
                chunk = decompressor.decompress(b"", out.want())
            except OSError as exc:
                raise MalformedMessage(f"corrupt compressed body (bz2): {exc}") from None
            if not chunk and not decompressor.eof and not decompressor.needs_input:
                raise MalformedMessage("compressed body (bz2) makes no progress")
            out.add(chunk)
        pending = decompressor.unused_data
    return out.result()

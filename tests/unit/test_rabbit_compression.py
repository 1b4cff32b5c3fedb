"""Bounded (de)compression of rabbit bodies: kombu's format, and bombs cost at most max_size."""

from __future__ import annotations

import base64
import bz2
import gzip
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legacy_rpc.messaging import wire
from legacy_rpc.messaging.drivers.rabbit import _compression
from legacy_rpc.messaging.drivers.rabbit._compression import (
    DEFAULT_MAX_DECOMPRESSED_SIZE,
    MessageTooLarge,
    compress,
    decompress,
)

GZIP, BZ2 = "application/x-gzip", "application/x-bz2"
CONTENT = {"gzip": GZIP, "bz2": BZ2}
MiB = 1 << 20
# Slack over max_size that decompression may hold: one output piece plus bookkeeping.
SLACK = 2 * MiB

# 177 bytes of bz2 that inflate to 200 MiB of zeros (the bomb of the review).
BZ2_BOMB = base64.b64decode(
    "QlpoOTFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakK"
    "gJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCX"
    "MUFZJlNZ8TGEcADIDEBAwAAAQAAIIAAwzAUpphQCLYigEXi7kinChIIup43Q")


def peak_allocated(func: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``func``; return its result (or the exception it raised) and its allocation peak."""
    tracemalloc.start()
    try:
        try:
            result: Any = func()
        except Exception as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def zlib_zeros(size: int) -> bytes:
    """zlib data of ``size`` zero bytes, built piecewise (cheap for large sizes)."""
    comp = zlib.compressobj(1)
    piece = bytes(MiB)
    parts = [comp.compress(piece) for _ in range(size // MiB)]
    parts.append(comp.compress(bytes(size % MiB)))
    return b"".join(parts) + comp.flush()


def bz2_zeros(size: int) -> bytes:
    """bz2 data of ``size`` zero bytes as concatenated streams (what bz2.decompress reads)."""
    stream = bz2.compress(bytes(MiB))
    return stream * (size // MiB) + bz2.compress(bytes(size % MiB))


# --------------------------------------------------------------------------- compress

def test_compress_matches_kombu_bytes_and_types() -> None:
    assert compress(b"abc", "gzip") == (zlib.compress(b"abc"), GZIP)
    assert compress(b"abc", "bz2") == (bz2.compress(b"abc"), BZ2)
    assert _compression.CONTENT_TYPES == {"gzip": GZIP, "bz2": BZ2}


def test_compress_unknown_method() -> None:
    with pytest.raises(ValueError, match="lzma"):
        compress(b"abc", "lzma")


def test_kombu_reads_ours_and_we_read_kombus() -> None:
    kombu_compression = pytest.importorskip("kombu.compression")
    body = b'{"oslo.version": "2.0", "oslo.message": "{}"}' * 100
    for method, kombu_name in (("gzip", "zlib"), ("bz2", "bzip2")):
        data, content_type = compress(body, method)
        assert kombu_compression.decompress(data, content_type) == body
        kombu_data, kombu_type = kombu_compression.compress(body, kombu_name)
        assert kombu_type == content_type
        assert decompress(kombu_data, kombu_type, len(body)) == body


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=5000) | st.binary(max_size=30).map(lambda b: b * 500),
       method=st.sampled_from(["gzip", "bz2"]))
def test_round_trip(body: bytes, method: str) -> None:
    data, content_type = compress(body, method)
    assert decompress(data, content_type, len(body)) == body
    assert decompress(data, content_type) == body
    if body:
        with pytest.raises(MessageTooLarge):
            decompress(data, content_type, len(body) - 1)


def test_what_the_stdlib_accepts() -> None:
    assert decompress(gzip.compress(b"abc"), GZIP, 3) == b"abc"  # a real gzip header too
    assert decompress(zlib.compress(b"ab") + b"junk", GZIP, 2) == b"ab"
    assert decompress(bz2.compress(b"ab") + bz2.compress(b"cd") + b"junk", BZ2, 4) == b"abcd"
    assert decompress(b"", BZ2, 0) == b""


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize(("data", "content_type"), [
    (b"", GZIP), (b"junk", GZIP), (zlib.compress(b"abc" * 1000)[:-5], GZIP),
    (b"junk", BZ2), (bz2.compress(b"abc" * 1000)[:-5], BZ2),
    (zlib.compress(b"abc"), "application/x-lzma"), (zlib.compress(b"abc"), ""),
])
def test_corrupt_truncated_or_unknown_is_malformed(data: bytes, content_type: str) -> None:
    with pytest.raises(wire.MalformedMessage) as info:
        decompress(data, content_type, MiB)
    assert not isinstance(info.value, MessageTooLarge)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), content_type=st.sampled_from([GZIP, BZ2]),
       max_size=st.integers(min_value=0, max_value=10_000))
def test_random_bytes_never_raise_anything_but_malformed(data: bytes, content_type: str,
                                                         max_size: int) -> None:
    try:
        out = decompress(data, content_type, max_size)
    except wire.MalformedMessage:
        return
    assert len(out) <= max_size


@settings(max_examples=60, deadline=None)
@given(body=st.binary(min_size=1, max_size=3000), method=st.sampled_from(["gzip", "bz2"]),
       cut=st.integers(min_value=1, max_value=40))
def test_truncated_streams_are_malformed(body: bytes, method: str, cut: int) -> None:
    data, content_type = compress(body, method)
    with pytest.raises(wire.MalformedMessage):
        decompress(data[:max(1, len(data) - cut)], content_type, len(body))


def test_negative_max_size_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="max_size"):
        decompress(zlib.compress(b""), GZIP, -1)


def test_message_too_large_is_malformed_and_from_wire() -> None:
    assert MessageTooLarge is wire.MessageTooLarge
    assert issubclass(MessageTooLarge, wire.MalformedMessage)


# --------------------------------------------------------------------------- bombs

@settings(max_examples=25, deadline=None)
@given(method=st.sampled_from(["gzip", "bz2"]),
       max_size=st.integers(min_value=1, max_value=4 * MiB),
       excess=st.integers(min_value=1, max_value=12 * MiB))
def test_bombs_are_refused_within_max_size_of_memory(method: str, max_size: int,
                                                     excess: int) -> None:
    size = max_size + excess
    data = zlib_zeros(size) if method == "gzip" else bz2_zeros(size)
    result, peak = peak_allocated(lambda: decompress(data, CONTENT[method], max_size))
    assert isinstance(result, MessageTooLarge), result
    assert result.max_size == max_size
    assert peak < max_size + SLACK, (peak, max_size)


@settings(max_examples=10, deadline=None)
@given(method=st.sampled_from(["gzip", "bz2"]), size=st.integers(min_value=0, max_value=6 * MiB))
def test_large_bodies_within_the_limit_are_accepted(method: str, size: int) -> None:
    data = zlib_zeros(size) if method == "gzip" else bz2_zeros(size)
    assert decompress(data, CONTENT[method], size) == bytes(size)


def test_the_177_byte_bz2_bomb_costs_at_most_the_default_limit() -> None:
    assert len(BZ2_BOMB) == 177
    result, peak = peak_allocated(lambda: decompress(BZ2_BOMB, BZ2))
    assert isinstance(result, MessageTooLarge)
    assert peak < DEFAULT_MAX_DECOMPRESSED_SIZE + SLACK
    result, peak = peak_allocated(lambda: decompress(BZ2_BOMB, BZ2, MiB))
    assert isinstance(result, MessageTooLarge)
    assert peak < MiB + SLACK


def test_default_limit_is_rabbitmqs_default_max_message_size() -> None:
    assert DEFAULT_MAX_DECOMPRESSED_SIZE // MiB == 128

"""Hypothesis strategies for hostile AMQP deliveries, each carrying the verdict it deserves.

A :class:`FuzzMessage` is what a peer puts on the wire (body, ``compression`` header,
``content_encoding`` property, where it is routed) plus ``fields``: the message dict the
consumer's parser sees once the body is inflated, decoded and unwrapped from its envelope, or
None when no dict can be had (not JSON, nested too deeply, huge numbers, corrupt compression,
a refused envelope...). Whether a consumer must reject the message follows from ``fields``
and the wire format alone (:func:`rejected_by`):

- an RPC consumer (core server or legacy consumer) accepts a dict whose ``method`` is a
  non-empty string, ``args`` an object or null, ``namespace``/``version``/``_msg_id``/
  ``_reply_q`` strings or null; ``_timeout``, ``_unique_id`` and the context may be anything;
- a notification listener accepts a dict whose ``priority`` is a non-empty string.

Everything else is rejected, once. Accepted messages may still fail later (unknown method,
wrong arguments, reply queue gone): that is the dispatcher's business, not a rejection.

Verdicts are known by construction; where a construction could by chance produce an
acceptable message (random bytes that happen to be a JSON object, a corrupted compressed body
that still inflates), the strategy checks with the standard library and discards the draw.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import json
import math
import random
import re
import warnings
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from hypothesis import assume
from hypothesis import strategies as st

__all__ = [
    "GZIP",
    "BZ2",
    "TARGETS",
    "FuzzMessage",
    "GoodStep",
    "Step",
    "CannotJudge",
    "decodes_to_dict",
    "envelope",
    "fuzz_messages",
    "heavy_messages",
    "message_fields",
    "mutants",
    "received_body",
    "rejected_by",
    "steps",
]

Kind = Literal["rpc", "notification"]

GZIP, BZ2 = "application/x-gzip", "application/x-bz2"

#: Where a message can be sent: the core server's three queues (topic, topic.server, its
#: fanout queue), the legacy consumer's topic queue and a notification listener's queue.
TARGETS: tuple[str, ...] = ("rpc-topic", "rpc-server", "rpc-fanout", "legacy", "notify")
_KIND: dict[str, Kind] = {"rpc-topic": "rpc", "rpc-server": "rpc", "rpc-fanout": "rpc",
                          "legacy": "rpc", "notify": "notification"}

# --------------------------------------------------------------------------- verdicts

def request_is_valid(fields: dict[str, Any]) -> bool:
    """Whether an RPC consumer accepts this message dict (the wire format's type rules)."""
    method = fields.get("method")
    if not isinstance(method, str) or not method:
        return False
    if fields.get("args") is not None and not isinstance(fields["args"], dict):
        return False
    if not all(fields.get(key) is None or isinstance(fields[key], str)
               for key in ("namespace", "version", "_msg_id", "_reply_q")):
        return False
    # _msg_id and _reply_q become AMQP short strings (queue or exchange names).
    return all(fields.get(key) is None
               or len(fields[key].encode("utf-8", "surrogatepass")) <= 255
               for key in ("_msg_id", "_reply_q"))


def notification_is_valid(fields: dict[str, Any]) -> bool:
    priority = fields.get("priority")
    return isinstance(priority, str) and bool(priority)


def rejected_by(kind: Kind, fields: dict[str, Any] | None) -> bool:
    if fields is None:
        return True
    return not (request_is_valid(fields) if kind == "rpc" else notification_is_valid(fields))


def decodes_to_dict(data: bytes) -> bool:
    """Whether ``data`` is JSON text of an object (as far as the standard library can tell)."""
    try:
        return isinstance(json.loads(data), dict)
    except Exception:  # ValueError, RecursionError...: not an object either way
        return False


def received_body(body: bytes, content_encoding: str | None) -> bytes:
    """The bytes a consumer gets: py-amqp decodes a body with its ``content_encoding`` when
    it can (keeping the bytes on any error), and the driver encodes such text as UTF-8."""
    if content_encoding is None:
        return body
    try:
        with warnings.catch_warnings():  # unicode_escape warns about unknown escapes
            warnings.simplefilter("ignore", DeprecationWarning)
            text = body.decode(content_encoding)
    except Exception:
        return body
    return text.encode("utf-8", "surrogatepass")  # as the driver does


# --------------------------------------------------------------------------- messages

@dataclass(frozen=True, repr=False)
class FuzzMessage:
    """One delivery to publish, and what its consumer's parser will see (``fields``)."""

    label: str
    target: str
    body: bytes
    fields: dict[str, Any] | None
    headers: dict[str, Any] = field(default_factory=dict)
    content_encoding: str | None = None

    @property
    def kind(self) -> Kind:
        return _KIND[self.target]

    @property
    def rejected(self) -> bool:
        """Whether the consumer at ``target`` must reject it (exactly once)."""
        return rejected_by(self.kind, self.fields)

    @property
    def received(self) -> bytes:
        return received_body(self.body, self.content_encoding)

    def __repr__(self) -> str:
        extra = "".join(f", {name}={value!r}" for name, value in (
            ("headers", self.headers), ("content_encoding", self.content_encoding)) if value)
        return (f"FuzzMessage({self.label!r} -> {self.target}, "
                f"{'rejected' if self.rejected else 'accepted'}, {len(self.body)} bytes, "
                f"body={self.body[:120]!r}{'...' if len(self.body) > 120 else ''}{extra})")


@dataclass(frozen=True)
class GoodStep:
    """A well-formed call, cast or notification to ``target`` that must be handled."""

    target: str


Step = FuzzMessage | GoodStep


def envelope(inner: Any, version: Any = "2.0") -> dict[str, Any]:
    return {"oslo.version": version, "oslo.message": inner}


def _v1(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _v2(doc: Any) -> bytes:
    return json.dumps(envelope(json.dumps(doc))).encode()


# --------------------------------------------------------------------------- values

_ODD_TEXT = ["", "\x00", "\ud800", "a\udfffb", "\u202eevil", "\U0001f4a5", "é" * 3, "\\",
             '"', "amq.fuzz", "openstack"]
texts = st.text(max_size=24) | st.sampled_from(_ODD_TEXT)
names = st.text(min_size=1, max_size=24) | st.sampled_from([t for t in _ODD_TEXT if t])
json_leaves = (st.none() | st.booleans() | st.integers() | st.floats() | texts)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=6)
# Anything but a string and but null.
not_strings = (st.booleans() | st.integers() | st.floats() | st.lists(json_leaves, max_size=3)
               | st.dictionaries(texts, json_leaves, max_size=3))
# Python's json writes non-finite floats as NaN/Infinity, and peers send them.
timeouts: st.SearchStrategy[Any] = st.sampled_from([
    math.nan, math.inf, -math.inf, -1, -0.5, 0, 0.5, 3, 1e308, 10 ** 30, "5", "", None, True,
    False, [], {}]) | json_leaves
methods = st.sampled_from(["echo", "record", "no_such_method", "_private", "__init__",
                           "__class__", "__getattribute__", "RPC_API_VERSION", "dispatch",
                           "echo_ignore_errors", "oslo_rpc_server_ping"]) | names
# Reply queues that do not exist (or are not queues); names stay within AMQP's 255-byte
# short strings (longer ones: see tests/resilience/test_fuzz_delivery.py).
reply_queues = (st.uuids().map(lambda u: f"reply_{u.hex}")
                | st.sampled_from(["", "amq.rabbitmq.reply-to", "amq.fuzz", "nope\x00x"])
                | st.text(max_size=60))
msg_ids = (st.uuids().map(lambda u: u.hex) | st.sampled_from(["", "amq.fuzz", "x" * 300])
           | texts)


def _context(draw: st.DrawFn) -> dict[str, Any]:
    return {f"_context_{key}": value
            for key, value in draw(st.dictionaries(texts, json_values, max_size=4)).items()}


@st.composite
def request_docs(draw: st.DrawFn) -> dict[str, Any]:
    """RPC requests a consumer must accept, however odd (unknown or private methods, wrong
    arguments, any namespace and version, calls whose reply queue does not exist)."""
    doc: dict[str, Any] = {"method": draw(methods)}
    args = draw(st.sampled_from(["absent", "null", "value", "any"]))
    if args == "null":
        doc["args"] = None
    elif args == "value":
        doc["args"] = {"value": draw(json_values)}
    elif args == "any":
        doc["args"] = draw(st.dictionaries(texts, json_values, max_size=4))
    for key in ("namespace", "version"):
        if draw(st.booleans()):
            doc[key] = draw(st.none() | texts)
    if draw(st.booleans()):  # a call: the reply goes nowhere useful
        doc["_msg_id"] = draw(msg_ids)
        if draw(st.integers(0, 3)):
            doc["_reply_q"] = draw(st.none() | reply_queues)
    if draw(st.booleans()):
        doc["_timeout"] = draw(timeouts)
    if draw(st.booleans()):
        doc["_unique_id"] = draw(json_leaves)
    if draw(st.integers(0, 4)) == 0:
        doc["_stream"] = draw(json_leaves)
    doc.update(_context(draw))
    return doc


_BAD_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "method": st.sampled_from(["", None]) | not_strings,
    "args": st.lists(json_leaves, max_size=3) | texts | st.integers() | st.booleans()
    | st.floats(),
    "namespace": not_strings,
    "version": not_strings,
    "_msg_id": not_strings,
    "_reply_q": not_strings,
}


@st.composite
def bad_request_docs(draw: st.DrawFn) -> dict[str, Any]:
    """A request with one field of a wrong type (or no method): rejected."""
    doc = draw(request_docs())
    name = draw(st.sampled_from(sorted(_BAD_FIELDS)))
    if name == "method" and draw(st.booleans()):
        del doc["method"]
    else:
        doc[name] = draw(_BAD_FIELDS[name])
    if name == "_reply_q":
        doc.setdefault("_msg_id", draw(msg_ids))
    return doc


@st.composite
def notification_docs(draw: st.DrawFn) -> dict[str, Any]:
    """Notifications a listener must accept: any non-empty priority, any payload."""
    doc: dict[str, Any] = {
        "priority": draw(st.sampled_from(["info", "INFO", "error", "warn", "sample", "bogus"])
                         | names)}
    for key in ("message_id", "publisher_id", "event_type", "timestamp", "payload"):
        if draw(st.integers(0, 4)):
            doc[key] = draw(json_values)
    if draw(st.booleans()):
        doc["_unique_id"] = draw(json_leaves)
    doc.update(_context(draw))
    return doc


@st.composite
def bad_notification_docs(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(notification_docs())
    if draw(st.booleans()):
        del doc["priority"]
    else:
        doc["priority"] = draw(st.sampled_from(["", None]) | not_strings)
    return doc


# --------------------------------------------------------------------------- wrappings

# content_encoding values after which py-amqp hands over the very same bytes (it decodes
# only valid text and the driver encodes it back), so a body's verdict does not change.
IDENTITY_ENCODINGS = [None, "utf-8", "UTF-8", "ascii", "x-no-such-codec", "zlib_codec"]
# Encodings that change the bytes; used only where no change can make a body acceptable.
# "unicode_escape", "raw_unicode_escape" and "utf-7" can yield lone surrogates, which once
# left a delivery unacknowledged (regression test in tests/resilience/test_fuzz_delivery.py).
CHANGING_ENCODINGS = ["latin-1", "utf-16", "cp1252", "unicode_escape", "raw_unicode_escape",
                      "utf-7"]

_FALSY_HEADERS: list[Any] = ["", 0, False, None]


@st.composite
def wrapped(draw: st.DrawFn, doc: dict[str, Any], label: str,
            target: str) -> FuzzMessage:
    """``doc`` as a well-formed delivery: 1.0 or 2.0, maybe compressed (correctly)."""
    body = draw(st.sampled_from([_v1, _v2]))(doc)
    headers: dict[str, Any] = {}
    compression = draw(st.sampled_from(["none", "none", "zlib", "gzip", "bz2", "falsy"]))
    if compression == "zlib":
        body, headers = zlib.compress(body), {"compression": GZIP}
    elif compression == "gzip":  # gzip-framed data under the same header is read too
        body, headers = gzip.compress(body, mtime=0), {"compression": GZIP}
    elif compression == "bz2":
        body, headers = bz2.compress(body), {"compression": BZ2}
    elif compression == "falsy":  # a falsy header means "not compressed"
        headers = {"compression": draw(st.sampled_from(_FALSY_HEADERS))}
    return FuzzMessage(label, target, body, doc, headers,
                       draw(st.sampled_from(IDENTITY_ENCODINGS)))


def _plain(label: str, target: str, body: bytes,
           encoding: str | None = None) -> FuzzMessage:
    return FuzzMessage(label, target, body, None, {}, encoding)


@st.composite
def random_bytes(draw: st.DrawFn, target: str) -> FuzzMessage:
    body = draw(st.binary(max_size=512))
    encoding = draw(st.sampled_from(IDENTITY_ENCODINGS + CHANGING_ENCODINGS))
    received = received_body(body, encoding)
    assume(not decodes_to_dict(received))
    return _plain("random-bytes", target, body, encoding)


_RUNS = ["a", "_", "Z9", '"', "'", "\\", "\\u", "password=", "a" * 7 + " ", "[]", "{}",
         "é", "\x00"]


@st.composite
def non_json_text(draw: st.DrawFn, target: str) -> FuzzMessage:
    """Text that is not a JSON object: long runs of word characters and quotes (hard on
    masking regexes), unterminated strings, JSON followed by garbage, random text."""
    run = draw(st.sampled_from(_RUNS)) * draw(st.integers(1, 60_000))
    text = draw(st.sampled_from([
        run, '"' + run, '{"method": "' + run, '{"' + run + '": 1', "[" + run,
        '{"method": "echo"} ' + run, run + '{"method": "echo"}',
        draw(st.text(max_size=300)),
    ]))
    body = text.encode("utf-8", "surrogatepass")
    assume(not decodes_to_dict(body))
    return _plain("non-json-text", target, body, draw(st.sampled_from(IDENTITY_ENCODINGS)))


@st.composite
def wrong_type_json(draw: st.DrawFn, target: str) -> FuzzMessage:
    value = draw(json_leaves | st.lists(json_values, max_size=4))
    body = draw(st.sampled_from([_v1, _v2]))(value)
    return _plain("wrong-type-json", target, body, draw(st.sampled_from(IDENTITY_ENCODINGS)))


def _is_compatible_looking(version: str) -> bool:
    # Only digits and dots can make a version the 2.0 envelope accepts ("2.0", "2.0.0",
    # also with non-ASCII digits); anything else certainly is refused.
    return re.fullmatch(r"[\d.]+", version) is not None


# Versions the 2.0 envelope refuses ("\u00b2" is a digit to str.isdigit, not to int()).
_REFUSED_VERSIONS = ["1.0", "3.0", "2.1", "2.0.1", "", "2", "two", "2.0\x00", " 2.0", "2.0 ",
                     "\u00b2.0", "2\u20240", "2." + "1" * 5000]


@st.composite
def bad_envelopes(draw: st.DrawFn, target: str) -> FuzzMessage:
    """Envelopes of a refused version, with a non-string or non-JSON inner message, or
    with an inner message that is not an object."""
    inner_doc = draw(request_docs() | notification_docs())
    choice = draw(st.sampled_from(["version", "inner-type", "inner-text", "inner-value",
                                   "double"]))
    fields: dict[str, Any] | None = None
    if choice == "version":
        version = draw(st.sampled_from(_REFUSED_VERSIONS)
                       | st.text(max_size=8).filter(lambda v: not _is_compatible_looking(v))
                       | st.none() | not_strings)
        doc: Any = envelope(json.dumps(inner_doc), version)
    elif choice == "inner-type":
        doc = envelope(draw(not_strings | st.none() | st.just(inner_doc)))
    elif choice == "inner-text":
        text = draw(st.text(max_size=200) | st.sampled_from(["", "{", '{"method": "echo"',
                                                             "NaN", "[]" * 3]))
        assume(not decodes_to_dict(text.encode("utf-8", "surrogatepass")))
        doc = envelope(text)
    elif choice == "inner-value":
        doc = envelope(json.dumps(draw(json_leaves | st.lists(json_values, max_size=3))))
    else:  # an envelope in an envelope: the inner dict has neither method nor priority
        fields = envelope(json.dumps(inner_doc))
        doc = envelope(json.dumps(fields))
    return FuzzMessage(f"bad-envelope-{choice}", target, json.dumps(doc).encode(), fields,
                       {}, draw(st.sampled_from(IDENTITY_ENCODINGS)))


_DEEP_TEMPLATES: list[Callable[[int], str]] = [
    lambda n: "[" * n,
    lambda n: '{"a":' * n,
    lambda n: "[" * n + "]" * n,
    lambda n: '{"method": "echo", "args": {"value": ' + "[" * n + "]" * n + "}}",
    lambda n: json.dumps(envelope("[" * n + "]" * n)),
    lambda n: json.dumps(envelope('{"priority": "info", "payload": ' + "[" * n + "]" * n
                                  + "}")),
    lambda n: '[{"a":' * (n // 2),
]


@st.composite
def deeply_nested(draw: st.DrawFn, target: str) -> FuzzMessage:
    """10,000 to 120,000 levels of arrays and objects, bare or inside a message."""
    depth = draw(st.integers(10_000, 120_000))
    template = draw(st.sampled_from(_DEEP_TEMPLATES))
    return _plain("deep", target, template(depth).encode(),
                  draw(st.sampled_from(IDENTITY_ENCODINGS)))


_HUGE_INT_TEMPLATES = [
    "{n}", '{{"method": "echo", "args": {{"value": {n}}}}}',
    '{{"method": "echo", "_timeout": {n}, "_msg_id": "m"}}',
    '{{"priority": "info", "payload": {n}}}', '{{"method": "echo", "version": {n}}}',
]


@st.composite
def huge_ints(draw: st.DrawFn, target: str) -> FuzzMessage:
    digits = "9" * draw(st.integers(5_000, 25_000))
    template = draw(st.sampled_from(_HUGE_INT_TEMPLATES))
    text = template.format(n=digits)
    if draw(st.booleans()):
        text = json.dumps(envelope(text))
    return FuzzMessage("huge-int", target, text.encode(), _huge_int_fields(text))


def _huge_int_fields(text: str) -> dict[str, Any] | None:
    # Python refuses integers longer than sys.get_int_max_str_digits() (4300 by default
    # since 3.10.7); without that limit a huge number is just a number.
    try:
        decoded = json.loads(text)
        if isinstance(decoded, dict) and "oslo.message" in decoded:
            decoded = json.loads(decoded["oslo.message"])
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


@st.composite
def not_utf8(draw: st.DrawFn, target: str) -> FuzzMessage:
    """A well-formed message with bytes that are not UTF-8 inside a string."""
    doc = draw(request_docs() | notification_docs())
    doc["x-bad"] = "@@BAD@@"
    body = _v1(doc).replace(b"@@BAD@@", draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80",
                                                              b"\xfe\xff", b"\xc0\xaf"])))
    return _plain("not-utf8", target, body, draw(st.sampled_from(IDENTITY_ENCODINGS)))


def _stdlib_inflate(data: bytes, content_type: str) -> bytes | None:
    """What the standard library makes of a small compressed body (None: it refuses)."""
    try:
        if content_type == GZIP:
            return zlib.decompress(data, zlib.MAX_WBITS | 32)
        return bz2.decompress(data)
    except Exception:
        return None


@st.composite
def bad_compression(draw: st.DrawFn, target: str) -> FuzzMessage:
    """Compressed bodies that cannot be inflated: corrupt, truncated, labelled with the
    other method, or with a ``compression`` header naming no method we know."""
    doc = draw(request_docs() | notification_docs())
    plain = _v1(doc)
    method = draw(st.sampled_from([GZIP, BZ2]))
    packed = zlib.compress(plain) if method == GZIP else bz2.compress(plain)
    how = draw(st.sampled_from(["random", "truncated", "flipped", "mislabelled", "unknown"]))
    header: Any = method
    if how == "random":
        data = draw(st.binary(max_size=300))
    elif how == "truncated":
        data = packed[:draw(st.integers(0, len(packed) - 1))]
    elif how == "flipped":
        at = draw(st.integers(4, len(packed) - 2))
        data = packed[:at] + bytes([packed[at] ^ draw(st.integers(1, 255))]) + packed[at + 1:]
    elif how == "mislabelled":
        data, header = packed, (BZ2 if method == GZIP else GZIP)
    else:
        data = draw(st.sampled_from([packed, plain]))
        header = draw(st.sampled_from(["application/x-lzma", "gzip", "bz2", "zlib",
                                       "APPLICATION/X-GZIP", " application/x-gzip",
                                       "application/x-gzip; q=1", "identity"])
                      | st.sampled_from([1, True, 2.5, [GZIP], {"type": GZIP}]))
    if isinstance(header, str) and header in (GZIP, BZ2):
        assume(_stdlib_inflate(data, header) is None)
    return FuzzMessage(f"bad-compression-{how}", target, data, None, {"compression": header},
                       draw(st.sampled_from(IDENTITY_ENCODINGS)))


@functools.cache
def bombs() -> dict[str, tuple[bytes, str]]:
    """Tiny bodies that inflate to tens of MB (beyond, and just within, the 32 MiB cap)."""
    zeros40, zeros30 = b"\0" * (40 << 20), b"\0" * (30 << 20)
    return {"bomb-bz2-40MiB": (bz2.compress(zeros40), BZ2),
            "bomb-zlib-40MiB": (zlib.compress(zeros40, 9), GZIP),
            "bomb-gzip-40MiB": (gzip.compress(zeros40, 9, mtime=0), GZIP),
            "bomb-bz2-30MiB-of-NUL": (bz2.compress(zeros30), BZ2)}


@st.composite
def compression_bombs(draw: st.DrawFn, target: str) -> FuzzMessage:
    label = draw(st.sampled_from(sorted(bombs())))
    data, header = bombs()[label]
    return FuzzMessage(label, target, data, None, {"compression": header})


@st.composite
def from_docs(draw: st.DrawFn, docs: st.SearchStrategy[dict[str, Any]], label: str,
              target: str) -> FuzzMessage:
    return draw(wrapped(draw(docs), label, target))


def _weighted(pairs: Iterable[tuple[int, Callable[[str], st.SearchStrategy[FuzzMessage]]]],
              ) -> st.SearchStrategy[FuzzMessage]:
    makers = [make for weight, make in pairs for _ in range(weight)]
    return st.tuples(st.sampled_from(makers), st.sampled_from(TARGETS)).flatmap(
        lambda pair: pair[0](pair[1]))


def fuzz_messages(bombs_weight: int = 1) -> st.SearchStrategy[FuzzMessage]:
    """Hostile and odd deliveries, weighted so cheap ones dominate."""
    return _weighted([
        (24, random_bytes),
        (20, non_json_text),
        (16, wrong_type_json),
        (20, bad_envelopes),
        (6, deeply_nested),
        (5, huge_ints),
        (8, not_utf8),
        (14, bad_compression),
        (bombs_weight, compression_bombs),
        (28, lambda t: from_docs(bad_request_docs(), "bad-request", t)),
        (16, lambda t: from_docs(bad_notification_docs(), "bad-notification", t)),
        (28, lambda t: from_docs(request_docs(), "odd-request", t)),
        (16, lambda t: from_docs(notification_docs(), "odd-notification", t)),
    ])


def steps(good_weight: int = 1, bad_weight: int = 24) -> st.SearchStrategy[Step]:
    """Fuzzed messages with good traffic interleaved (about one step in ``bad_weight``)."""
    good = st.sampled_from(TARGETS).map(GoodStep)
    return st.sampled_from([True] * good_weight + [False] * bad_weight).flatmap(
        lambda is_good: good if is_good else fuzz_messages())


# --------------------------------------------------------------------------- heavy ones

MEGABYTE = 1 << 20


def heavy_messages(target: str) -> list[FuzzMessage]:
    """One of each expensive kind: megabyte values, 100,000 levels, 20,000-digit numbers,
    compression bombs. Some are acceptable (a megabyte string is a valid argument)."""
    big = "x" * MEGABYTE
    request = {"method": "echo", "args": {"value": big}}
    wide = {"method": "echo", "args": {f"k{i}": i for i in range(50_000)}}
    huge_method = {"method": "m" * 100_000, "args": {}}
    brackets_in_string = {"method": "echo", "args": {"value": "[" * 100_000},
                          "priority": "info", "payload": "{" * 100_000}
    note = {"priority": "info", "payload": big, "event_type": "fuzz.big"}
    huge_int = '{"method": "echo", "args": {"value": ' + "9" * 20_000 + "}}"
    messages = [
        FuzzMessage("huge-string-arg", target, _v2(request), request),
        FuzzMessage("huge-string-payload", target, _v2(note), note),
        FuzzMessage("wide-args", target, _v1(wide), wide),
        FuzzMessage("huge-method-name", target, _v2(huge_method), huge_method),
        FuzzMessage("deep-in-strings", target, _v2(brackets_in_string), brackets_in_string),
        _plain("huge-word-run", target, b"a" * MEGABYTE),
        _plain("huge-quote-run", target, b'"' * MEGABYTE),
        _plain("deep-brackets", target, b"[" * 100_000),
        _plain("deep-objects", target, b'{"a":' * 50_000),
        _plain("deep-envelope", target,
               json.dumps(envelope("[" * 50_000 + "]" * 50_000)).encode()),
        FuzzMessage("huge-int", target, huge_int.encode(), _huge_int_fields(huge_int)),
    ]
    messages += [FuzzMessage(label, target, data, None, {"compression": header})
                 for label, (data, header) in sorted(bombs().items())]
    return messages


# --------------------------------------------------------------------------- bulk mutants

class CannotJudge(Exception):
    """The standard library cannot tell what the library's parser will make of a body."""


# The library refuses nesting deeper than 200 levels, the standard library does not: a text
# with this many brackets is not judged (mutants of small messages never get near it).
_BRACKETS_JUDGED = 150
_UNDECODABLE = object()


def _loads(text: str) -> Any:
    if text.count("[") + text.count("{") > _BRACKETS_JUDGED:
        raise CannotJudge("deeply nested")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _UNDECODABLE


def message_fields(body: bytes) -> dict[str, Any] | None:
    """The message dict a consumer's parser gets from this (uncompressed) received body, or
    None when it gets none: the wire format's rules applied with the standard library
    (UTF-8 JSON text; a 2.0 envelope, version "2.0" and the inner message a string of JSON
    text, or a bare dict).

    :raises CannotJudge: nesting near the library's limit, or an envelope version that
        only looks like "2.0" ("2.0.0", other digits).
    """
    try:
        value = _loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return None
    if isinstance(value, dict) and "oslo.version" in value and "oslo.message" in value:
        version, inner = value["oslo.version"], value["oslo.message"]
        if version != "2.0":
            if isinstance(version, str) and _is_compatible_looking(version):
                raise CannotJudge(f"envelope version {version!r}")
            return None
        value = _loads(inner) if isinstance(inner, str) else None
    return value if isinstance(value, dict) else None


_TOKENS = [b'"', b"\\", b"{", b"}", b"[", b"]", b",", b":", b"NaN", b"-", b"1e999", b"\x00",
           b"\xff", b'"\\ud800"', b"null", b"true", b'"method"', b'"args"', b'"priority"',
           b'"oslo.version"', b'"2.0"', b" ", b"\\u", b"9" * 40]


def _mutate(rng: random.Random, data: bytes, corpus: Sequence[bytes]) -> bytes:
    """One random edit: flip, insert (a byte or a JSON token), delete, duplicate, truncate
    or splice with another corpus body."""
    op = rng.randrange(7)
    at = rng.randint(0, len(data))
    if op == 0 and data:
        at = min(at, len(data) - 1)
        return data[:at] + bytes([data[at] ^ rng.randint(1, 255)]) + data[at + 1:]
    if op == 1:
        return data[:at] + bytes([rng.randrange(256)]) + data[at:]
    if op == 2:
        return data[:at] + rng.choice(_TOKENS) + data[at:]
    if op == 3:
        return data[:at] + data[at + rng.randint(1, 16):]
    if op == 4:
        end = min(len(data), at + rng.randint(1, 32))
        return data[:end] + data[at:end] + data[end:]
    if op == 5:
        return data[:at]
    other = rng.choice(corpus)
    return data[:at] + other[rng.randint(0, len(other)):]


def _seed_corpus() -> list[bytes]:
    request = {"method": "echo", "args": {"value": [1, "two", None]}, "_msg_id": "m",
               "_reply_q": "reply_gone", "_timeout": 3, "_unique_id": "u",
               "_context_user": "fuzz", "namespace": None, "version": "1.0"}
    note = {"message_id": "n", "publisher_id": "fuzz", "event_type": "fuzz.event",
            "priority": "INFO", "payload": {"a": [1.5, True]}, "timestamp": "2024-01-01",
            "_unique_id": "u", "_context_user": "fuzz"}
    return [_v1(request), _v2(request), _v1(note), _v2(note), _v2({"method": "x"})]


SEED_CORPUS = _seed_corpus()


def mutants(seed: int, count: int, corpus: Sequence[bytes] = (),
            targets: Sequence[str] = TARGETS) -> list[FuzzMessage]:
    """``count`` cheap messages made by 1 to 4 random edits of corpus bodies (and of
    :data:`SEED_CORPUS`), with their fields from :func:`message_fields`; some are
    zlib-compressed (correctly, which changes no verdict). Deterministic for a seed."""
    rng = random.Random(seed)
    pool = [body for body in [*SEED_CORPUS, *corpus] if len(body) <= 4096]
    result: list[FuzzMessage] = []
    while len(result) < count:
        data = rng.choice(pool)
        for _ in range(rng.randint(1, 4)):
            data = _mutate(rng, data, pool)
        try:
            fields = message_fields(data)
        except CannotJudge:
            continue
        headers: dict[str, Any] = {}
        if rng.randrange(8) == 0:
            data, headers = zlib.compress(data), {"compression": GZIP}
        result.append(FuzzMessage("mutant", rng.choice(targets), data, fields, headers,
                                  rng.choice(IDENTITY_ENCODINGS)))
    return result

"""Hostile received bodies: the wire parsers raise nothing but ``MalformedMessage``.

Drivers catch ``MalformedMessage`` to reject a message and keep consuming; any other exception
would stop a consumer. Deep nesting, huge numbers, wrong types and non-finite timeouts come
from broken or hostile peers and must all end there.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from legacy_rpc.messaging import _jsonutils, wire

PARSERS: list[Callable[[Any], Any]] = [wire.parse_request, wire.parse_reply,
                                       wire.parse_notification, wire.deserialize_msg]
DEEP = 100_000


def envelope(inner: str) -> dict[str, str]:
    return {"oslo.version": "2.0", "oslo.message": inner}


def request(**extra: Any) -> dict[str, Any]:
    return {"method": "echo", "args": {}, "_msg_id": "m", "_reply_q": "q", **extra}


# --------------------------------------------------------------------------- decode_body

@pytest.mark.parametrize("data", [
    "[" * DEEP, "{" * DEEP, '{"a":' * DEEP, "[" * DEEP + "]" * DEEP,
    ("[" * DEEP).encode(), "1" * 5000, b"\xff\xfe\x00", b"[\xc3]", "",
])
def test_decode_body_turns_every_failure_into_malformed_message(data: str | bytes) -> None:
    with pytest.raises(wire.MalformedMessage):
        wire.decode_body(data)


def test_decode_body_wrong_type_is_malformed() -> None:
    with pytest.raises(wire.MalformedMessage):
        wire.decode_body(12)  # type: ignore[arg-type]


def test_decode_body_depth_limit() -> None:
    limit = _jsonutils.MAX_DEPTH
    assert wire.decode_body("[" * limit + "]" * limit) is not None
    with pytest.raises(wire.MalformedMessage, match="deeper"):
        wire.decode_body("[" * (limit + 1) + "]" * (limit + 1))


def test_decode_body_keeps_json_nan_and_infinity() -> None:
    # Python's json (and so oslo.messaging) writes these for non-finite floats: peers send them.
    body = wire.decode_body('{"a": NaN, "b": Infinity, "c": -Infinity}')
    assert math.isnan(body["a"]) and body["b"] == math.inf and body["c"] == -math.inf


# --------------------------------------------------------------------------- envelope

@pytest.mark.parametrize("inner", [
    "[" * DEEP, "[" * DEEP + "]" * DEEP, "1" * 5000, "not json", "",
    "[" * (_jsonutils.MAX_DEPTH + 1) + "]" * (_jsonutils.MAX_DEPTH + 1),
])
@pytest.mark.parametrize("parse", PARSERS)
def test_envelope_inner_text_failures_are_malformed(inner: str,
                                                    parse: Callable[[Any], Any]) -> None:
    with pytest.raises(wire.MalformedMessage):
        parse(envelope(inner))


@pytest.mark.parametrize("version", ["2." + "1" * 5000, "².0", None, 2.0, ["2.0"], "", "3.0"])
@pytest.mark.parametrize("parse", PARSERS)
def test_bad_envelope_versions_are_malformed(version: Any, parse: Callable[[Any], Any]) -> None:
    with pytest.raises(wire.MalformedMessage):
        parse({"oslo.version": version, "oslo.message": json.dumps(request())})


def test_inner_message_at_the_depth_limit_is_accepted() -> None:
    args: Any = {}
    for _ in range(_jsonutils.MAX_DEPTH - 2):  # the request object and "args" are two levels
        args = {"x": args}
    req = wire.parse_request(wire.decode_body(wire.encode_body(envelope(json.dumps(
        request(args=args))))))
    assert req.method == "echo"


# --------------------------------------------------------------------------- call timeout

@pytest.mark.parametrize("timeout", [
    math.nan, math.inf, -math.inf, -1, -0.5, 10**400, 1e300, threading.TIMEOUT_MAX * 2,
    "30", True, [30], {"s": 30},
])
def test_unusable_client_timeouts_read_as_none(timeout: Any) -> None:
    req = wire.parse_request(request(_timeout=timeout))
    assert req.client_timeout is None and "client_timeout" not in req.ctxt
    assert req.is_call


@pytest.mark.parametrize("timeout", [0, 0.5, 30, 60.0, 3600])
def test_usable_client_timeouts_are_kept(timeout: float) -> None:
    assert wire.parse_request(request(_timeout=timeout)).client_timeout == timeout


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "-1", "1e999"])
def test_client_timeout_from_json_literals(literal: str) -> None:
    text = '{"method": "echo", "args": {}, "_msg_id": "m", "_reply_q": "q", "_timeout": %s}'
    req = wire.parse_request(wire.decode_body(wire.encode_body(envelope(text % literal))))
    assert req.client_timeout is None and req.is_call


# --------------------------------------------------------------------------- generated input

KEYS = ["method", "args", "namespace", "version", "_msg_id", "_reply_q", "_timeout",
        "_unique_id", "_stream", "_context_user", "result", "failure", "ending", "priority",
        "payload", "event_type", "publisher_id", "message_id", "timestamp", "oslo.version",
        "oslo.message"]

scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
           | st.integers(min_value=10**300, max_value=10**400))
json_values = st.recursive(
    scalars,
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=20)
messages = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), json_values,
                           max_size=8)


def _envelopes(draw_inner: Any) -> Any:
    return st.builds(lambda v, m: {"oslo.version": v, "oslo.message": m},
                     st.sampled_from(["2.0", "2.1", "1.0", "x", "2." + "9" * 4400]) | scalars,
                     draw_inner)


bodies = (json_values | messages
          | _envelopes(messages.map(json.dumps))
          | _envelopes(json_values.map(json.dumps))
          | _envelopes(st.text(max_size=50)))


def only_malformed(parse: Callable[[Any], Any], body: Any) -> None:
    with contextlib.suppress(wire.MalformedMessage):
        parse(body)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies)
def test_parsers_raise_only_malformed_message_on_decoded_json(body: Any) -> None:
    for parse in PARSERS:
        only_malformed(parse, body)


@settings(max_examples=300)
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode)
       | bodies.map(lambda b: json.dumps(b).encode()))
def test_decode_then_parse_raises_only_malformed_message(data: bytes) -> None:
    try:
        body = wire.decode_body(data)
    except wire.MalformedMessage:
        return
    for parse in PARSERS:
        only_malformed(parse, body)


@settings(max_examples=100)
@given(depth=st.integers(min_value=_jsonutils.MAX_DEPTH + 1, max_value=50_000),
       opener=st.sampled_from(["[", '{"k": ', "[1, "]), enveloped=st.booleans())
def test_generated_deep_bodies_are_malformed(depth: int, opener: str, enveloped: bool) -> None:
    closer = {"[": "]", '{"k": ': "}", "[1, ": "]"}[opener]
    text = opener * depth + "0" + closer * depth
    with pytest.raises(wire.MalformedMessage):
        if enveloped:
            wire.parse_request(wire.decode_body(json.dumps(envelope(text))))
        else:
            wire.parse_request(wire.decode_body(text))


def test_unexpected_parser_errors_keep_their_cause() -> None:
    class Hostile(dict[str, Any]):
        def get(self, *args: Any) -> Any:
            raise KeyError("boom")

    with pytest.raises(wire.MalformedMessage) as info:
        wire.parse_reply(Hostile())
    assert isinstance(info.value.__cause__, KeyError)


def test_message_too_large_is_a_malformed_message() -> None:
    exc = wire.MessageTooLarge(1024)
    assert isinstance(exc, wire.MalformedMessage) and exc.max_size == 1024
    assert "1024" in str(exc)


@pytest.mark.parametrize("body", [
    request(method=["x" * 1_000_000]), request(_msg_id={"k": "x" * 10**6}),
    request(namespace=list(range(100_000))), {"priority": {"p": "x" * 10**6}},
])
def test_error_texts_stay_short_whatever_the_values(body: dict[str, Any]) -> None:
    parse = wire.parse_notification if "priority" in body else wire.parse_request
    with pytest.raises(wire.MalformedMessage) as info:
        parse(body)
    assert len(str(info.value)) < 300

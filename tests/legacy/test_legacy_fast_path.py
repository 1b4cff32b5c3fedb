"""The legacy fast path (issue 14) and the behaviours of issue 12 item 5 that live in it.

- the legacy options are resolved once per configuration, again after a change or
  ``rpc.cleanup()``;
- a legacy ``call`` gets one reply from a server of this library (as a core call does),
  ``multicall`` and original legacy callers get the streamed sequence (counted on the
  broker, by replaying the exact requests the callers sent);
- the value a one-reply caller gets is the one a legacy ``call`` always returned;
- ``allowed_rpc_exception_modules`` changed after the first call takes effect;
- the whole message dict is sent; a non-JSON value raises ``TypeError``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legacy_rpc import messaging, rpc
from legacy_rpc.messaging import wire
from legacy_rpc.rpc import _client, _transport_url, common
from tests.helpers import wait_for
from tests.legacy import legacy_errors
from tests.legacy.conftest import TIMEOUT, LegacyEnv


class Manager:
    """Server methods covering each way a legacy method produces values."""

    def echo(self, ctxt: Any, value: Any) -> Any:
        return value

    def replies_then_returns(self, ctxt: Any) -> str:
        ctxt.reply("early")
        return "returned"

    def ends_early(self, ctxt: Any) -> str:
        ctxt.reply("early")
        ctxt.reply(ending=True)
        return "dropped"

    def fails_by_reply(self, ctxt: Any) -> str:
        try:
            raise ValueError("sent as a failure")
        except ValueError:
            import sys

            ctxt.reply(failure=sys.exc_info())
        return "dropped"

    def counts(self, ctxt: Any, n: int) -> Iterator[int]:
        yield from range(1, n + 1)

    def api_error(self, ctxt: Any) -> None:
        raise legacy_errors.ApiError(message="refused", code="409")


def _body(raw: bytes) -> dict[str, Any]:
    """The inner request or reply dict of an enveloped (or 1.0) body."""
    outer = json.loads(raw)
    inner: dict[str, Any] = (json.loads(outer["oslo.message"]) if "oslo.message" in outer
                             else outer)
    return inner


# --------------------------------------------------------------------------- resolution

def test_options_are_resolved_once_per_configuration(legacy: LegacyEnv, context: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The transport URL is built from the legacy options on the first call, not on every
    call; a configuration change or ``rpc.cleanup()`` makes the next call build it again."""
    topic = legacy.topic()
    legacy.consumer(topic, [Manager()])
    built: list[str] = []
    real = _transport_url.transport_url

    def counting(*args: Any, **kwargs: Any) -> Any:
        url = real(*args, **kwargs)
        built.append(str(url))
        return url

    monkeypatch.setattr(_transport_url, "transport_url", counting)
    for n in range(20):
        assert rpc.call(context, topic, {"method": "echo", "args": {"value": n}}) == n
        rpc.cast(context, topic, {"method": "echo", "args": {"value": n}})
    assert len(built) <= 1  # built at most once (the consumer's connection may have)
    settled = len(built)
    legacy.set("rpc_response_timeout", TIMEOUT + 1)  # any change of the configuration
    assert rpc.call(context, topic, {"method": "echo", "args": {"value": "a"}}) == "a"
    assert rpc.call(context, topic, {"method": "echo", "args": {"value": "b"}}) == "b"
    assert len(built) == settled + 1


def test_cleanup_resolves_again(legacy: LegacyEnv, context: Any) -> None:
    """After ``rpc.cleanup()`` the next use gets a new transport (the old one is closed)."""
    first = rpc.get_transport()
    assert rpc.get_transport() is first
    rpc.cleanup()
    assert rpc.get_transport() is not first
    topic = legacy.topic()
    legacy.consumer(topic, [Manager()])
    assert rpc.call(context, topic, {"method": "echo", "args": {"value": 7}}) == 7


# --------------------------------------------------------------------------- replies

def _capture(legacy: LegacyEnv, topic: str) -> list[bytes]:
    """Every request sent to ``topic`` (a copy, in a queue of its own)."""
    raw = legacy.raw()
    return raw.collect_routed(legacy.queue(f"{topic}-capture"), topic)


def _replay(legacy: LegacyEnv, topic: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    """Send ``request`` again to the consumers of ``topic`` with a reply queue of our own;
    return the replies it gets, once the one marked ``ending`` (or a failure) arrived."""
    raw = legacy.raw()
    reply_q = legacy.queue(f"{topic}-replies-{uuid.uuid4().hex[:6]}")
    bodies = raw.collect(reply_q)
    msg_id = uuid.uuid4().hex
    request = {**request, "_msg_id": msg_id, "_reply_q": reply_q,
               "_unique_id": uuid.uuid4().hex}
    raw.publish(topic, json.dumps({"oslo.version": "2.0",
                                   "oslo.message": json.dumps(request)}).encode())

    def replies() -> list[dict[str, Any]]:
        return [r for r in map(_body, list(bodies)) if r.get("_msg_id") == msg_id]

    wait_for(lambda: any(r.get("ending") or r.get("failure") for r in replies()),
             timeout=TIMEOUT, message=lambda: f"no final reply to {request}: {replies()}")
    return replies()


def _sent(legacy: LegacyEnv, requests: list[bytes], method: str,
          **args: Any) -> dict[str, Any]:
    """The captured request of ``method`` with (at least) ``args``."""
    def matching() -> list[dict[str, Any]]:
        return [b for b in map(_body, list(requests)) if b.get("method") == method
                and all(b.get("args", {}).get(k) == v for k, v in args.items())]

    return wait_for(matching, timeout=TIMEOUT,
                    message=f"no request of {method} {args} captured")[0]


def test_a_legacy_call_gets_one_reply(legacy: LegacyEnv, context: Any) -> None:
    """The request a legacy ``call`` sends carries ``_timeout``: a legacy consumer answers
    it with one final reply holding the value, as a core call gets; the request of
    ``multicall`` and of an original legacy caller (no ``_timeout``) get the value and an
    empty ending reply."""
    topic = legacy.topic()
    legacy.consumer(topic, [Manager()])
    requests = _capture(legacy, topic)
    assert rpc.call(context, topic, {"method": "echo", "args": {"value": "one"}}) == "one"
    assert list(rpc.multicall(context, topic,
                              {"method": "counts", "args": {"n": 1}})) == [1]
    client = messaging.RPCClient(rpc.get_transport(), messaging.Target(topic=topic))
    assert client.call(context.to_dict(), "echo", value="core") == "core"

    legacy_call = _sent(legacy, requests, "echo", value="one")
    assert "_timeout" in legacy_call and "_stream" not in legacy_call
    replies = _replay(legacy, topic, legacy_call)
    assert [(r["result"], r.get("ending")) for r in replies] == [("one", True)]

    core_call = _sent(legacy, requests, "echo", value="core")
    replies = _replay(legacy, topic, core_call)
    assert [(r["result"], r.get("ending")) for r in replies] == [("core", True)]

    multicall = _sent(legacy, requests, "counts")
    assert multicall.get("_stream") is True
    replies = _replay(legacy, topic, multicall)
    assert [(r["result"], bool(r.get("ending"))) for r in replies] == [(1, False),
                                                                        (None, True)]

    original = {k: v for k, v in legacy_call.items() if k not in ("_timeout", "_stream")}
    replies = _replay(legacy, topic, {**original, "args": {"value": "old"}})
    assert [(r["result"], bool(r.get("ending"))) for r in replies] == [("old", False),
                                                                        (None, True)]


@pytest.mark.parametrize(("method", "args", "call_result", "multicall_values"), [
    ("replies_then_returns", {}, "returned", ["early", "returned"]),
    ("ends_early", {}, "early", ["early"]),
    ("counts", {"n": 3}, 3, [1, 2, 3]),
    ("echo", {"value": None}, None, [None]),
])
def test_call_returns_what_the_streamed_sequence_ends_with(
        legacy: LegacyEnv, context: Any, method: str, args: dict[str, Any],
        call_result: Any, multicall_values: list[Any]) -> None:
    """``call`` (one reply) returns the last value ``multicall`` (streamed) yields, as the
    original ``call`` (the last of ``list(multicall(...))``) did."""
    topic = legacy.topic()
    legacy.consumer(topic, [Manager()])
    msg = {"method": method, "args": args}
    assert list(rpc.multicall(context, topic, dict(msg))) == multicall_values
    assert rpc.call(context, topic, dict(msg)) == call_result


def test_a_failure_sent_by_reply_is_raised_by_call(legacy: LegacyEnv, context: Any) -> None:
    legacy.set("allowed_rpc_exception_modules", ["exceptions"])
    topic = legacy.topic()
    legacy.consumer(topic, [Manager()])
    with pytest.raises(ValueError, match="sent as a failure"):
        rpc.call(context, topic, {"method": "fails_by_reply", "args": {}})


# --------------------------------------------------------------------------- issue 12.5

def test_allowed_exception_modules_changed_after_the_first_call(legacy: LegacyEnv,
                                                                context: Any) -> None:
    topic = legacy.topic()
    legacy.consumer(topic, [Manager()])
    legacy.set("allowed_rpc_exception_modules", ["exceptions"])
    with pytest.raises(common.RemoteError) as remote:
        rpc.call(context, topic, {"method": "api_error", "args": {}})
    assert remote.value.exc_type == "ApiError"
    legacy.set("allowed_rpc_exception_modules", [legacy_errors.__name__])
    with pytest.raises(legacy_errors.ApiError, match="409: refused"):
        rpc.call(context, topic, {"method": "api_error", "args": {}})
    legacy.set("allowed_rpc_exception_modules", ["exceptions"])
    with pytest.raises(common.RemoteError):
        rpc.call(context, topic, {"method": "api_error", "args": {}})


def test_the_whole_message_dict_is_sent(legacy: LegacyEnv, context: Any) -> None:
    """Top-level keys other than method/args/version/namespace travel too (the original
    sent the whole dict), and the caller's dict is left as it was."""
    topic = legacy.topic()
    legacy.consumer(topic, [Manager()])
    requests = _capture(legacy, topic)
    msg = {"method": "echo", "args": {"value": 1}, "version": "1.0", "namespace": None,
           "priority": "high", "_extra": [1, {"a": None}]}
    original = json.loads(json.dumps(msg))
    assert rpc.call(context, topic, msg) == 1
    rpc.cast(context, topic, {**msg, "method": "counts", "args": {"n": 1}})
    assert msg == original
    for method in ("echo", "counts"):
        sent = _sent(legacy, requests, method)
        assert sent["priority"] == "high" and sent["_extra"] == [1, {"a": None}]
        assert sent["version"] == "1.0" and sent["namespace"] is None


@pytest.mark.parametrize("where", ["top", "args"])
def test_a_non_primitive_value_raises_type_error(legacy: LegacyEnv, context: Any,
                                                 where: str) -> None:
    """Raised before anything is sent, even with nobody consuming the topic."""
    topic = legacy.topic("nobody")
    msg: dict[str, Any] = {"method": "echo", "args": {"value": 1}}
    if where == "top":
        msg["extra"] = object()
    else:
        msg["args"]["value"] = object()
    with pytest.raises(TypeError):
        rpc.cast(context, topic, msg)
    with pytest.raises(TypeError):
        rpc.call(context, topic, msg, timeout=TIMEOUT)
    with pytest.raises(TypeError):
        rpc.fanout_cast(context, topic, msg)


def test_a_non_dict_message_is_refused(legacy: LegacyEnv, context: Any) -> None:
    with pytest.raises(TypeError, match="msg must be a dict"):
        rpc.cast(context, legacy.topic(), ["echo"])  # type: ignore[arg-type]



@pytest.mark.parametrize("values", [["only"], [1, None, 3]])
def test_a_legacy_call_to_an_original_legacy_server(legacy: LegacyEnv, context: Any,
                                                    values: list[Any]) -> None:
    """An original (oslo-incubator) server streams every value, then an empty ending
    reply, whatever the request says: ``call`` returns the last value, ``multicall``
    yields them all."""
    if legacy.backend != "rabbit":
        pytest.skip("an original legacy server runs on RabbitMQ (impl_kombu)")
    topic = legacy.topic()
    raw = legacy.raw()
    requests = raw.collect_routed(legacy.queue(topic), topic)
    answered: set[str] = set()

    def serve_once() -> bool:
        """Answer the requests not answered yet, as the original ProxyCallback did."""
        for request in map(_body, list(requests)):
            if request["_msg_id"] in answered:
                continue
            answered.add(request["_msg_id"])
            for reply in [*({"result": v, "failure": None} for v in values),
                          {"result": None, "failure": None, "ending": True}]:
                reply.update(_msg_id=request["_msg_id"], _unique_id=uuid.uuid4().hex)
                raw.publish(request["_reply_q"], json.dumps(
                    {"oslo.version": "2.0", "oslo.message": json.dumps(reply)}).encode(),
                    exchange="")
        return False

    results: list[Any] = []
    caller = threading.Thread(target=lambda: results.extend([
        rpc.call(context, topic, {"method": "anything", "args": {}}),
        list(rpc.multicall(context, topic, {"method": "anything", "args": {}}))]))
    caller.start()
    wait_for(lambda: serve_once() or not caller.is_alive(), timeout=TIMEOUT,
             message="the legacy caller did not finish")
    caller.join()
    assert results == [values[-1], values]


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=8)
_RESERVED = {"method", "args", "version", "namespace"}


@given(extra=st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda k: k not in _RESERVED
                                            and not k.startswith("_")),
    _JSON, max_size=5))
def test_extra_keys_survive_the_wire(extra: dict[str, Any]) -> None:
    """Whatever extra top-level keys a caller puts in ``msg``, a server parsing the
    request sees each of them unchanged, and the caller's dict is not touched."""
    msg = {"method": "m", "args": {"a": 1}, **extra}
    before = json.loads(json.dumps(msg))
    body = wire.build_request({"user": "u"}, _client._message(msg), msg_id="id",
                              reply_q="reply_q")
    request = wire.parse_request(wire.decode_body(wire.encode_body(body)))
    assert {k: request.message[k] for k in extra} == extra
    assert request.method == "m" and request.args == {"a": 1}
    assert msg == before

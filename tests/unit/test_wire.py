"""The wire protocol (oslo_messaging_api.md 3.4-3.8, Appendix A 4-7; legacy_api.md 3.5, 3.7,
4.3, 4.4, 10.5, 10.6, 10.10, 10.12).

The ``*_CAPTURE`` constants are the verified captures of the specification, byte for byte.
"""

from __future__ import annotations

import datetime
import json
import re
import sys
import traceback
import uuid
from typing import Any

import pytest

from legacy_rpc.messaging import wire
from legacy_rpc.messaging.exceptions import (
    InvalidTarget,
    MessageDeliveryFailure,
    MessageUndeliverable,
    MessagingException,
    MessagingTimeout,
    RemoteError,
)
from legacy_rpc.messaging.rpc.client import ClientSendError, RPCVersionCapError
from legacy_rpc.messaging.rpc.dispatcher import (
    ExpectedException,
    NoSuchMethod,
    RPCDispatcherError,
    UnsupportedVersion,
)
from legacy_rpc.messaging.server import (
    ExecutorLoadFailure,
    MessagingServerError,
    ServerListenError,
)
from legacy_rpc.messaging.transport import DriverLoadFailure, InvalidTransportURL

THIS_MODULE = __name__

# oslo_messaging_api.md 3.5 [verified] call
CALL_CAPTURE = r'''{"oslo.version": "2.0", "oslo.message": "{\"method\": \"add\", \"args\": {\"a\": 1, \"b\": 2}, \"namespace\": \"ns\", \"version\": \"1.2\", \"_msg_id\": \"71829de45ea64379917d70c35d8ef559\", \"_reply_q\": \"reply_052eb4550c3e40339fa92dbfe8a5ed15\", \"_timeout\": null, \"_unique_id\": \"a1fbf1b81bee4346be22129b30da82ed\", \"_context_user\": \"u1\", \"_context_project_id\": \"p\"}"}'''
CALL_MSG_ID = "71829de45ea64379917d70c35d8ef559"
CALL_REPLY_Q = "reply_052eb4550c3e40339fa92dbfe8a5ed15"
CALL_UNIQUE_ID = "a1fbf1b81bee4346be22129b30da82ed"
CALL_KEY_ORDER = ["method", "args", "namespace", "version", "_msg_id", "_reply_q", "_timeout",
                  "_unique_id", "_context_user", "_context_project_id"]

# oslo_messaging_api.md 3.8 [verified] messagingv2 and messaging (1.0)
V2_NOTIFICATION_CAPTURE = r'''{"oslo.version": "2.0", "oslo.message": "{\"message_id\": \"df555205-2275-4d78-8ce2-76f4f194cb60\", \"publisher_id\": \"compute.host1\", \"event_type\": \"compute.instance.create.end\", \"priority\": \"INFO\", \"payload\": {\"id\": 1}, \"timestamp\": \"2026-11-22 17:07:07.108140\", \"_unique_id\": \"278667af50cd42e79b136a0901cc078f\"}"}'''
V1_NOTIFICATION_CAPTURE = '''{"message_id": "a02a76dc-...", "publisher_id": "compute.host1", "event_type": "compute.instance.create.end", "priority": "INFO", "payload": {"id": 1}, "timestamp": "2026-11-22 17:07:07.103500", "_unique_id": "dce68218ca9b4ad8befa6be3eb5b2402"}'''

HEX32 = re.compile(r"^[0-9a-f]{32}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?$")


def inner(body: dict[str, Any]) -> dict[str, Any]:
    """The inner message of an enveloped body, checking the double JSON encoding."""
    assert list(body) == ["oslo.version", "oslo.message"]
    assert body["oslo.version"] == "2.0"
    assert isinstance(body["oslo.message"], str)
    decoded = json.loads(body["oslo.message"])
    assert isinstance(decoded, dict)
    return decoded


def fixed_ids(monkeypatch: pytest.MonkeyPatch, *ids: str) -> None:
    it = iter(ids)
    monkeypatch.setattr(wire, "new_id", lambda: next(it))


def exc_info_of(exc: BaseException) -> wire.ExcInfo:
    try:
        raise exc
    except BaseException:
        info = sys.exc_info()
    assert info[0] is not None and info[1] is not None
    return info  # type: ignore[return-value]


def failure_of(exc: BaseException) -> dict[str, Any]:
    data = json.loads(wire.serialize_remote_exception(exc_info_of(exc)))
    assert isinstance(data, dict)
    return data


def failure_text(cls: str, module: str, message: str = "msg", args: Any = None,
                 kwargs: Any = None, tb: Any = None) -> str:
    return json.dumps({"class": cls, "module": module, "message": message,
                       "tb": ["Traceback (most recent call last):\n", "  remote line\n"]
                       if tb is None else tb,
                       "args": [message] if args is None else args,
                       "kwargs": {} if kwargs is None else kwargs})


# Exceptions defined here: this module is not allow-listed unless a test says so.

class AppError(Exception):
    def __init__(self, message: str, code: int = 0, **kwargs: Any) -> None:
        super().__init__(message, code)
        self.code = code
        self.kwargs = kwargs


class AppMessagingError(MessagingException):
    """A user subclass of the shared base: it must keep this module's name on the wire."""


class NeedsTwoArgs(Exception):
    def __init__(self, a: Any, b: Any) -> None:
        super().__init__(a, b)


class NotAnException:
    pass


# =============================================================== envelope (3.4, legacy 3.7)

def test_serialize_msg_builds_the_2_0_envelope() -> None:
    body = wire.serialize_msg({"method": "m", "args": {}})
    assert body == {"oslo.version": "2.0", "oslo.message": '{"method": "m", "args": {}}'}
    assert list(body) == ["oslo.version", "oslo.message"]


def test_serialize_msg_uses_jsonutils_semantics() -> None:
    body = wire.serialize_msg({"when": datetime.datetime(1920, 2, 3, 4, 5, 6, 7), "s": {1}})
    assert json.loads(body["oslo.message"]) == {"when": "1920-02-03T04:05:06.000007", "s": [1]}


def test_deserialize_msg_unwraps_2_0() -> None:
    assert wire.deserialize_msg({"oslo.version": "2.0", "oslo.message": '{"a": 1}'}) == {"a": 1}


@pytest.mark.parametrize("version", ["2.1", "2.0.1", "1.0", "1.9", "3.0", "20.0", "", "two"])
def test_deserialize_msg_rejects_incompatible_versions(version: str) -> None:
    # version_is_compatible('2.0', v): same major, requested minor <= 0. A newer minor is
    # therefore rejected too (legacy 10.10: "reject envelope major != 2 or newer minor").
    with pytest.raises(wire.UnsupportedEnvelopeVersion) as info:
        wire.deserialize_msg({"oslo.version": version, "oslo.message": "{}"})
    assert info.value.version == version
    assert "Specified RPC envelope version" in str(info.value)
    assert isinstance(info.value, wire.MalformedMessage)


@pytest.mark.parametrize("version", [2.0, 2, None, ["2.0"], {"v": "2.0"}])
def test_deserialize_msg_rejects_non_string_versions(version: Any) -> None:
    with pytest.raises(wire.UnsupportedEnvelopeVersion):
        wire.deserialize_msg({"oslo.version": version, "oslo.message": "{}"})


def test_deserialize_msg_passes_1_0_dicts_through() -> None:
    msg = {"method": "m", "args": {}}
    assert wire.deserialize_msg(msg) is msg
    only_version = {"oslo.version": "2.0", "x": 1}
    assert wire.deserialize_msg(only_version) is only_version
    only_message = {"oslo.message": "{}"}
    assert wire.deserialize_msg(only_message) is only_message


@pytest.mark.parametrize("value", [None, "text", 1, [1, 2], True])
def test_deserialize_msg_passes_non_dicts_through(value: Any) -> None:
    assert wire.deserialize_msg(value) is value


@pytest.mark.parametrize("payload", [{"a": 1}, ["x"], 5, None, b"{}"])
def test_deserialize_msg_rejects_a_non_string_oslo_message(payload: Any) -> None:
    with pytest.raises(wire.MalformedMessage):
        wire.deserialize_msg({"oslo.version": "2.0", "oslo.message": payload})


@pytest.mark.parametrize("payload", ["not json", "", "{", "{'a': 1}"])
def test_deserialize_msg_rejects_an_oslo_message_that_is_not_json(payload: str) -> None:
    with pytest.raises(wire.MalformedMessage):
        wire.deserialize_msg({"oslo.version": "2.0", "oslo.message": payload})


def test_encode_decode_body_round_trip() -> None:
    body = wire.serialize_msg({"method": "m", "args": {"x": "é"}})
    data = wire.encode_body(body)
    assert isinstance(data, bytes)
    assert wire.decode_body(data) == body
    assert wire.decode_body(data.decode()) == body


@pytest.mark.parametrize("data", [b"not json", b"", b"\xff\xfe\x00", "{", "nope"])
def test_decode_body_rejects_garbage(data: bytes | str) -> None:
    with pytest.raises(wire.MalformedMessage):
        wire.decode_body(data)


def test_new_id_is_32_hex_and_fresh() -> None:
    a, b = wire.new_id(), wire.new_id()
    assert HEX32.match(a) and HEX32.match(b)
    assert a != b
    assert uuid.UUID(hex=a).version == 4


def test_malformed_message_is_a_messaging_exception_and_value_error() -> None:
    assert issubclass(wire.MalformedMessage, MessagingException)
    assert issubclass(wire.MalformedMessage, ValueError)


# =============================================================== requests (3.5, legacy 4.3)

def test_parse_the_verified_call_capture() -> None:
    req = wire.parse_request(wire.decode_body(CALL_CAPTURE))
    assert req.ctxt == {"user": "u1", "project_id": "p"}
    assert req.message == {"method": "add", "args": {"a": 1, "b": 2}, "namespace": "ns",
                           "version": "1.2"}
    assert req.msg_id == CALL_MSG_ID
    assert req.reply_q == CALL_REPLY_Q
    assert req.unique_id == CALL_UNIQUE_ID
    assert req.client_timeout is None
    assert req.is_call
    assert req.method == "add"
    assert req.args == {"a": 1, "b": 2}


def test_build_the_verified_call_capture_byte_for_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed_ids(monkeypatch, CALL_UNIQUE_ID)
    body = wire.build_request(
        {"user": "u1", "project_id": "p"},
        {"method": "add", "args": {"a": 1, "b": 2}, "namespace": "ns", "version": "1.2"},
        msg_id=CALL_MSG_ID, reply_q=CALL_REPLY_Q, call_monitor_timeout=None)
    assert list(inner(body)) == CALL_KEY_ORDER
    assert wire.encode_body(body) == CALL_CAPTURE.encode()


def test_build_call_request_shape() -> None:
    body = wire.build_request(
        {"user": "u1", "project_id": "p"},
        {"method": "add", "args": {"a": 1, "b": 2}, "namespace": "ns", "version": "1.2"},
        msg_id=CALL_MSG_ID, reply_q=CALL_REPLY_Q)
    msg = inner(body)
    assert list(msg) == CALL_KEY_ORDER
    assert msg["_timeout"] is None  # present even when null
    assert msg["_msg_id"] == CALL_MSG_ID
    assert msg["_reply_q"] == CALL_REPLY_Q
    assert HEX32.match(msg["_unique_id"])
    # the inner text is JSON inside JSON: the encoded body holds it as a string
    outer = json.loads(wire.encode_body(body))
    assert isinstance(outer["oslo.message"], str)
    assert json.loads(outer["oslo.message"]) == msg


def test_build_call_request_with_call_monitor_timeout() -> None:
    body = wire.build_request({}, {"method": "m", "args": {}}, msg_id="id", reply_q="reply_q",
                              call_monitor_timeout=2)
    assert inner(body)["_timeout"] == 2
    req = wire.parse_request(body)
    assert req.client_timeout == 2
    assert req.ctxt == {}  # a transport detail, not the caller's context


def test_build_cast_request_shape() -> None:
    body = wire.build_request({"user": "u1", "project_id": "p"},
                              {"method": "add", "args": {"a": 1, "b": 2}})
    msg = inner(body)
    assert list(msg) == ["method", "args", "_unique_id", "_context_user", "_context_project_id"]
    for key in ("_msg_id", "_reply_q", "_timeout", "namespace", "version"):
        assert key not in msg


def test_fanout_cast_body_is_a_cast_body() -> None:
    # Fanout only changes the exchange and routing key (the driver's business); the body
    # is the cast body, with namespace and version when the target has them.
    body = wire.build_request({"user": "u1"}, {"method": "m", "args": {}, "namespace": "ns",
                                               "version": "1.2"})
    assert list(inner(body)) == ["method", "args", "namespace", "version", "_unique_id",
                                 "_context_user"]


def test_parse_cast_request() -> None:
    body = wire.build_request({"user": "u1"}, {"method": "m", "args": {"x": 1}})
    req = wire.parse_request(wire.decode_body(wire.encode_body(body)))
    assert not req.is_call
    assert req.msg_id is None
    assert req.reply_q is None
    assert req.ctxt == {"user": "u1"}
    assert req.message == {"method": "m", "args": {"x": 1}}
    assert req.unique_id == inner(body)["_unique_id"]


def test_each_request_gets_a_fresh_unique_id() -> None:
    a = inner(wire.build_request({}, {"method": "m", "args": {}}))
    b = inner(wire.build_request({}, {"method": "m", "args": {}}))
    assert a["_unique_id"] != b["_unique_id"]


@pytest.mark.parametrize("ctxt", [None, {}])
def test_no_context_no_context_keys(ctxt: dict[str, Any] | None) -> None:
    msg = inner(wire.build_request(ctxt, {"method": "m", "args": {}}))
    assert not [k for k in msg if k.startswith("_context_")]


def test_build_request_does_not_mutate_its_inputs() -> None:
    message = {"method": "m", "args": {"a": 1}}
    ctxt = {"user": "u"}
    wire.build_request(ctxt, message, msg_id="id", reply_q="q")
    assert message == {"method": "m", "args": {"a": 1}}
    assert ctxt == {"user": "u"}


def test_build_request_without_envelope() -> None:
    msg = wire.build_request({"u": 1}, {"method": "m", "args": {}}, msg_id="id", reply_q="q",
                             envelope=False)
    assert list(msg) == ["method", "args", "_msg_id", "_reply_q", "_timeout", "_unique_id",
                         "_context_u"]


def test_request_args_use_jsonutils_on_the_wire() -> None:
    body = wire.build_request({}, {"method": "m",
                                   "args": {"when": datetime.datetime(1920, 2, 3, 4, 5, 6, 7)}})
    assert inner(body)["args"] == {"when": "1920-02-03T04:05:06.000007"}


def test_parse_un_enveloped_1_0_request() -> None:
    body = {"method": "echo", "args": {"value": 1}, "_msg_id": "abc", "_unique_id": "u" * 32,
            "_context_user": "u1", "_context_roles": ["admin"]}
    req = wire.parse_request(body)
    assert req.message == {"method": "echo", "args": {"value": 1}}
    assert req.ctxt == {"user": "u1", "roles": ["admin"]}
    assert req.msg_id == "abc"
    assert req.reply_q is None  # pre-Grizzly caller: reply on a queue named after msg_id
    assert req.is_call


def test_parse_request_keeps_unknown_keys() -> None:
    req = wire.parse_request({"method": "m", "args": {}, "future": 1})
    assert req.message == {"method": "m", "args": {}, "future": 1}


def test_parse_request_defaults_args() -> None:
    assert wire.parse_request({"method": "m"}).message == {"method": "m", "args": {}}
    assert wire.parse_request({"method": "m", "args": None}).message == {"method": "m",
                                                                         "args": {}}
    assert wire.parse_request({"method": "m"}).args == {}


def test_parse_request_does_not_mutate_the_body() -> None:
    body = {"method": "m", "_msg_id": "x", "_context_u": 1}
    wire.parse_request(body)
    assert body == {"method": "m", "_msg_id": "x", "_context_u": 1}


def test_parse_request_ignores_a_garbage_timeout() -> None:
    req = wire.parse_request({"method": "m", "args": {}, "_msg_id": "x", "_reply_q": "q",
                              "_timeout": "soon"})
    assert req.client_timeout is None
    assert "client_timeout" not in req.ctxt


@pytest.mark.parametrize(
    "body",
    [
        {"args": {}},                                         # missing method
        {"method": "", "args": {}},                           # empty method
        {"method": None, "args": {}},
        {"method": 5, "args": {}},                            # non-string method
        {"method": ["m"], "args": {}},
        {"method": "m", "args": []},                          # args not a dict
        {"method": "m", "args": "a=1"},
        {"method": "m", "args": 1},
        {"method": "m", "args": {}, "namespace": 5},          # non-string namespace
        {"method": "m", "args": {}, "namespace": ["ns"]},
        {"method": "m", "args": {}, "version": 1.2},          # non-string version
        {"method": "m", "args": {}, "version": {"v": 1}},
        {"method": "m", "args": {}, "_msg_id": 1, "_reply_q": "q"},
        {"method": "m", "args": {}, "_msg_id": "x", "_reply_q": 1},
        [1, 2],                                               # not an object
        "method",
        None,
        7,
        {"oslo.version": "2.0", "oslo.message": "[1, 2]"},    # inner not an object
        {"oslo.version": "2.0", "oslo.message": '"text"'},
        {"oslo.version": "2.0", "oslo.message": "not json"},  # inner not JSON
        {"oslo.version": "2.0", "oslo.message": {"method": "m"}},  # inner not a string
        {"oslo.version": "3.0", "oslo.message": '{"method": "m"}'},
        {"oslo.version": "2.0", "oslo.message": '{"method": "m", "args": []}'},
    ],
)
def test_parse_request_rejects_malformed_input(body: Any) -> None:
    with pytest.raises(wire.MalformedMessage):
        wire.parse_request(body)


def test_parse_request_accepts_null_namespace_and_version() -> None:
    req = wire.parse_request({"method": "m", "namespace": None, "version": None})
    assert req.message["namespace"] is None
    assert req.message["version"] is None


# =============================================================== replies (3.6, legacy 4.4)

def test_build_single_oslo_reply() -> None:
    body = wire.build_reply("mid", {"z": 5})
    msg = inner(body)
    assert list(msg) == ["result", "failure", "ending", "_msg_id", "_unique_id"]
    assert msg["result"] == {"z": 5}
    assert msg["failure"] is None
    assert msg["ending"] is True
    assert msg["_msg_id"] == "mid"
    assert HEX32.match(msg["_unique_id"])
    reply = wire.parse_reply(body)
    assert reply.kind is wire.ReplyKind.END
    assert reply.value == {"z": 5}
    assert reply.msg_id == "mid"
    assert reply.unique_id == msg["_unique_id"]
    assert reply.failure is None


def test_parse_verified_oslo_reply() -> None:
    text = json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(
        {"result": {"z": 5}, "failure": None, "ending": True, "_msg_id": CALL_MSG_ID,
         "_unique_id": CALL_UNIQUE_ID})})
    reply = wire.parse_reply(wire.decode_body(text))
    assert (reply.kind, reply.value, reply.msg_id, reply.unique_id) == (
        wire.ReplyKind.END, {"z": 5}, CALL_MSG_ID, CALL_UNIQUE_ID)


def test_single_reply_with_a_null_result() -> None:
    reply = wire.parse_reply(wire.build_reply("mid", None))
    assert reply.kind is wire.ReplyKind.END
    assert reply.value is None


def test_heartbeat() -> None:
    body = wire.build_heartbeat("mid")
    msg = inner(body)
    assert list(msg) == ["result", "failure", "ending", "_msg_id", "_unique_id"]
    assert (msg["result"], msg["failure"], msg["ending"], msg["_msg_id"]) == (
        None, None, False, "mid")
    reply = wire.parse_reply(body)
    assert reply.kind is wire.ReplyKind.HEARTBEAT
    assert reply.msg_id == "mid"


def test_legacy_double_reply() -> None:
    # Pre-Mitaka servers: {result, failure} then {result: null, failure: null, ending: true}.
    first = wire.build_reply("mid", 42, None, ending=None)
    assert list(inner(first)) == ["result", "failure", "_msg_id", "_unique_id"]
    second = wire.build_reply("mid", None, None, ending=True)
    r1, r2 = wire.parse_reply(first), wire.parse_reply(second)
    assert (r1.kind, r1.value) == (wire.ReplyKind.VALUE, 42)
    assert (r2.kind, r2.value) == (wire.ReplyKind.END, None)


def test_legacy_double_reply_un_enveloped() -> None:
    r1 = wire.parse_reply({"result": [1, 2], "failure": None, "_unique_id": "u"})
    r2 = wire.parse_reply({"result": None, "failure": None, "ending": True, "_unique_id": "v"})
    assert (r1.kind, r1.value, r1.unique_id) == (wire.ReplyKind.VALUE, [1, 2], "u")
    assert r2.kind is wire.ReplyKind.END


def test_legacy_stream_of_values_includes_none() -> None:
    # Legacy 10.6: None is a valid streamed value; only {'ending': True} ends the stream.
    # Decision: a reply without 'ending' is a VALUE even when its result is null (oslo would
    # treat it as a heartbeat, which for a call gives the same None result).
    reply = wire.parse_reply(wire.build_reply("mid", None, None, ending=None))
    assert reply.kind is wire.ReplyKind.VALUE
    assert reply.value is None


def test_missing_ending_with_a_result_is_a_value() -> None:
    reply = wire.parse_reply({"result": "x", "failure": None})
    assert (reply.kind, reply.value) == (wire.ReplyKind.VALUE, "x")


def test_ending_false_with_a_result_is_a_value() -> None:
    reply = wire.parse_reply({"result": "x", "failure": None, "ending": False})
    assert (reply.kind, reply.value) == (wire.ReplyKind.VALUE, "x")


def test_failure_reply_is_terminal_and_wins() -> None:
    failure = wire.serialize_remote_exception(exc_info_of(ValueError("boom")))
    for ending in (None, True, False):
        body = wire.build_reply("mid", None, failure, ending=ending)
        reply = wire.parse_reply(body)
        assert reply.kind is wire.ReplyKind.FAILURE
        assert reply.failure == failure
        assert reply.value is None


def test_legacy_exception_reply_has_no_ending() -> None:
    failure = wire.serialize_remote_exception(exc_info_of(KeyError("k")))
    reply = wire.parse_reply({"result": None, "failure": failure, "_msg_id": "m",
                              "_unique_id": "u"})
    assert reply.kind is wire.ReplyKind.FAILURE
    assert reply.failure == failure


def test_reply_for_a_pre_grizzly_caller_has_no_msg_id() -> None:
    body = wire.build_reply(None, 1)
    assert "_msg_id" not in inner(body)
    assert wire.parse_reply(body).msg_id is None


def test_build_reply_without_envelope() -> None:
    msg = wire.build_reply("m", 1, envelope=False)
    assert list(msg) == ["result", "failure", "ending", "_msg_id", "_unique_id"]


def test_each_reply_gets_a_fresh_unique_id() -> None:
    assert inner(wire.build_reply("m", 1))["_unique_id"] != inner(
        wire.build_reply("m", 1))["_unique_id"]


@pytest.mark.parametrize("body", [None, [1], "text", 3,
                                  {"oslo.version": "2.0", "oslo.message": "[]"},
                                  {"oslo.version": "2.0", "oslo.message": "no"},
                                  {"oslo.version": "9.0", "oslo.message": "{}"}])
def test_parse_reply_rejects_malformed_input(body: Any) -> None:
    with pytest.raises(wire.MalformedMessage):
        wire.parse_reply(body)


def test_parse_reply_ignores_non_string_ids() -> None:
    reply = wire.parse_reply({"result": 1, "ending": True, "_msg_id": 5, "_unique_id": [1]})
    assert reply.msg_id is None
    assert reply.unique_id is None


# =============================================================== failures (3.7, legacy 3.5)

def test_verified_value_error_failure() -> None:
    info = exc_info_of(ValueError("bad value", 42))
    data = json.loads(wire.serialize_remote_exception(info))
    assert list(data) == ["class", "module", "message", "tb", "args", "kwargs"]
    assert data["class"] == "ValueError"
    assert data["module"] == "builtins"
    assert data["message"] == "('bad value', 42)"
    assert data["args"] == ["bad value", 42]
    assert data["kwargs"] == {}
    assert data["tb"] == traceback.format_exception(*info)
    assert all(isinstance(line, str) for line in data["tb"])
    assert data["tb"][-1] == "ValueError: ('bad value', 42)\n"


def test_serialize_accepts_an_exception_instance() -> None:
    exc = exc_info_of(KeyError("k"))[1]
    data = json.loads(wire.serialize_remote_exception(exc))
    assert (data["class"], data["module"], data["args"]) == ("KeyError", "builtins", ["k"])
    assert data["tb"][0].startswith("Traceback")


def test_serialize_carries_kwargs() -> None:
    data = failure_of(AppError("oops", 3, host="h1"))
    assert data["class"] == "AppError"
    assert data["module"] == THIS_MODULE
    assert data["args"] == ["oops", 3]
    assert data["kwargs"] == {"host": "h1"}


def test_serialize_ignores_non_dict_kwargs_attribute() -> None:
    exc = ValueError("x")
    exc.kwargs = ["not", "a", "dict"]  # type: ignore[attr-defined]
    assert failure_of(exc)["kwargs"] == {}


def test_serialize_converts_non_json_args() -> None:
    data = failure_of(ValueError(datetime.datetime(1920, 2, 3, 4, 5, 6, 7), {1}))
    assert data["args"] == ["1920-02-03T04:05:06.000007", [1]]


def test_builtin_exception_is_rebuilt_without_an_allow_list() -> None:
    info = exc_info_of(ValueError("bad value", 42))
    text = wire.serialize_remote_exception(info)
    exc = wire.deserialize_remote_exception(text, [])
    assert isinstance(exc, ValueError)
    assert exc.args == ("bad value", 42)
    assert type(exc).__name__ == "ValueError_Remote"
    assert type(exc).__module__ == "builtins_Remote"


def test_rebuilt_exception_str_is_message_and_traceback() -> None:
    # oslo_messaging_api.md 3.7 step 4 and legacy 3.5: message + "\n" + "\n".join(tb).
    tb = ["Traceback (most recent call last):\n", '  File "x.py", line 1, in f\n',
          "ValueError: bad\n"]
    text = failure_text("ValueError", "builtins", message="bad", args=["bad"], tb=tb)
    exc = wire.deserialize_remote_exception(text, [])
    assert str(exc) == "bad\n" + "\n".join(tb)


def test_rebuilt_exception_str_contains_the_remote_traceback() -> None:
    info = exc_info_of(ValueError("bad value", 42))
    exc = wire.deserialize_remote_exception(wire.serialize_remote_exception(info), [])
    text = str(exc)
    assert text.startswith("('bad value', 42)\n")
    assert "Traceback (most recent call last)" in text
    assert "ValueError: ('bad value', 42)" in text


def test_python2_exceptions_module_is_builtins() -> None:
    text = failure_text("KeyError", "exceptions", message="'k'", args=["k"])
    exc = wire.deserialize_remote_exception(text, [])
    assert isinstance(exc, KeyError)
    assert exc.args == ("k",)
    # and naming it in the allow-list (the legacy default does) changes nothing
    assert isinstance(wire.deserialize_remote_exception(text, ["exceptions"]), KeyError)


def test_module_not_allowed_gives_remote_error() -> None:
    tb = ["Traceback (most recent call last):\n", "  remote line\n"]
    text = failure_text("AppError", THIS_MODULE, message="oops", args=["oops", 3], tb=tb)
    exc = wire.deserialize_remote_exception(text, ["some.other.module"])
    assert type(exc) is RemoteError
    assert exc.exc_type == "AppError"
    assert exc.value == "oops"
    assert exc.traceback == tb
    assert isinstance(exc, MessagingException)


def test_remote_error_text_is_oslo_s() -> None:
    # oslo_messaging_api.md 1.8 / legacy 3.2: "Remote error: %(exc_type)s %(value)s\n
    # %(traceback)s." with the traceback list rendered by %s (its repr).
    tb = ["line 1\n", "line 2\n"]
    exc = wire.deserialize_remote_exception(failure_text("AppError", THIS_MODULE, "oops", tb=tb),
                                            [])
    assert str(exc) == f"Remote error: AppError oops\n{tb}."


def test_allowed_module_rebuilds_with_args_and_kwargs() -> None:
    text = wire.serialize_remote_exception(exc_info_of(AppError("oops", 3, host="h1")))
    exc = wire.deserialize_remote_exception(text, [THIS_MODULE])
    assert isinstance(exc, AppError)
    assert exc.args == ("oops", 3)
    assert exc.code == 3
    assert exc.kwargs == {"host": "h1"}
    assert type(exc).__name__ == "AppError_Remote"
    assert type(exc).__module__ == f"{THIS_MODULE}_Remote"
    assert str(exc).startswith("('oops', 3)\n")
    assert "Traceback" in str(exc)


def test_rebuilt_class_is_reused() -> None:
    text = wire.serialize_remote_exception(exc_info_of(AppError("oops")))
    a = wire.deserialize_remote_exception(text, [THIS_MODULE])
    b = wire.deserialize_remote_exception(text, [THIS_MODULE])
    assert type(a) is type(b)


def test_rebuilt_exception_can_be_raised_and_caught_as_the_original() -> None:
    text = wire.serialize_remote_exception(exc_info_of(KeyError("k")))
    with pytest.raises(KeyError):
        raise wire.deserialize_remote_exception(text, [])


def test_cell_hop_strips_the_remote_suffix() -> None:
    first = wire.serialize_remote_exception(exc_info_of(ValueError("bad value", 42)))
    rebuilt = wire.deserialize_remote_exception(first, [])
    data = json.loads(wire.serialize_remote_exception(exc_info_of(rebuilt)))
    assert data["class"] == "ValueError"
    assert data["module"] == "builtins"
    assert data["args"] == ["bad value", 42]


def test_cell_hop_of_a_user_exception() -> None:
    first = wire.serialize_remote_exception(exc_info_of(AppError("oops", 3, host="h")))
    rebuilt = wire.deserialize_remote_exception(first, [THIS_MODULE])
    data = json.loads(wire.serialize_remote_exception(exc_info_of(rebuilt)))
    assert (data["class"], data["module"]) == ("AppError", THIS_MODULE)
    assert data["kwargs"] == {"host": "h"}


def test_suffix_is_stripped_only_when_both_names_have_it() -> None:
    cls = type("Odd_Remote", (Exception,), {"__module__": "plain.module"})
    data = failure_of(cls("x"))
    assert (data["class"], data["module"]) == ("Odd_Remote", "plain.module")


# ---------------------------------------------------------------- shared exceptions

SHARED = [
    (NoSuchMethod("m"), "NoSuchMethod", "oslo_messaging.rpc.dispatcher"),
    (UnsupportedVersion("2.0", method="m"), "UnsupportedVersion",
     "oslo_messaging.rpc.dispatcher"),
    (RPCDispatcherError("x"), "RPCDispatcherError", "oslo_messaging.rpc.dispatcher"),
    (ExpectedException(), "ExpectedException", "oslo_messaging.rpc.dispatcher"),
    (MessagingTimeout("late"), "MessagingTimeout", "oslo_messaging.exceptions"),
    (MessagingException("x"), "MessagingException", "oslo_messaging.exceptions"),
    (MessageDeliveryFailure("x"), "MessageDeliveryFailure", "oslo_messaging.exceptions"),
    (InvalidTarget("bad", "t"), "InvalidTarget", "oslo_messaging.exceptions"),
    (MessageUndeliverable(None, "x", "rk", {}), "MessageUndeliverable",
     "oslo_messaging.exceptions"),
    (RemoteError("T", "v", ["tb\n"]), "RemoteError", "oslo_messaging.rpc.client"),
    (RPCVersionCapError("1.5", "1.0"), "RPCVersionCapError", "oslo_messaging.rpc.client"),
    (ClientSendError(None, ValueError("x")), "ClientSendError",  # type: ignore[arg-type]
     "oslo_messaging.rpc.client"),
    (MessagingServerError("x"), "MessagingServerError", "oslo_messaging.server"),
    (ExecutorLoadFailure("e", ValueError("x")), "ExecutorLoadFailure", "oslo_messaging.server"),
    (ServerListenError("t", ValueError("x")), "ServerListenError", "oslo_messaging.server"),
    (DriverLoadFailure("d", ValueError("x")), "DriverLoadFailure", "oslo_messaging.transport"),
    (InvalidTransportURL("u://", "bad"), "InvalidTransportURL", "oslo_messaging.transport"),
]


@pytest.mark.parametrize(("exc", "cls", "module"), SHARED,
                         ids=[name for _e, name, _m in SHARED])
def test_shared_exceptions_travel_under_oslo_module_names(exc: BaseException, cls: str,
                                                          module: str) -> None:
    data = failure_of(exc)
    assert (data["class"], data["module"]) == (cls, module)
    assert wire.wire_module_name(type(exc)) == module


def test_user_subclass_of_a_shared_base_keeps_its_module() -> None:
    data = failure_of(AppMessagingError("mine"))
    assert (data["class"], data["module"]) == ("AppMessagingError", THIS_MODULE)
    assert wire.wire_module_name(AppMessagingError) == THIS_MODULE


def test_oslo_dispatcher_errors_are_remote_errors_by_default() -> None:
    # [verified] an oslo server's UnsupportedVersion arrives as RemoteError.
    text = failure_text("UnsupportedVersion", "oslo_messaging.rpc.dispatcher",
                        message="Endpoint does not support RPC version 9.0")
    exc = wire.deserialize_remote_exception(text, [])
    assert type(exc) is RemoteError
    assert exc.exc_type == "UnsupportedVersion"


@pytest.mark.parametrize("allowed", ["oslo_messaging.rpc.dispatcher",
                                     "legacy_rpc.messaging.rpc.dispatcher"])
def test_allow_list_with_either_module_name_rebuilds_no_such_method(allowed: str) -> None:
    text = wire.serialize_remote_exception(exc_info_of(NoSuchMethod("frob")))
    exc = wire.deserialize_remote_exception(text, [allowed])
    assert isinstance(exc, NoSuchMethod)
    assert isinstance(exc, AttributeError)
    assert "Endpoint does not support RPC method frob" in str(exc)


@pytest.mark.parametrize("allowed", ["oslo_messaging.rpc.dispatcher",
                                     "legacy_rpc.messaging.rpc.dispatcher"])
def test_allow_list_with_either_module_name_rebuilds_unsupported_version(allowed: str) -> None:
    text = wire.serialize_remote_exception(exc_info_of(UnsupportedVersion("9.0", method="m")))
    exc = wire.deserialize_remote_exception(text, [allowed])
    assert isinstance(exc, UnsupportedVersion)
    assert "Endpoint does not support RPC version 9.0. Attempted method: m" in str(exc)


def test_oslo_failure_json_rebuilds_our_class() -> None:
    # What an oslo.messaging server sends for NoSuchMethod('frob').
    text = failure_text("NoSuchMethod", "oslo_messaging.rpc.dispatcher",
                        message="Endpoint does not support RPC method frob", args=["frob"])
    exc = wire.deserialize_remote_exception(text, ["oslo_messaging.rpc.dispatcher"])
    assert isinstance(exc, NoSuchMethod)
    assert exc.method == "frob"


@pytest.mark.parametrize("allowed", ["oslo_messaging.exceptions",
                                     "legacy_rpc.messaging.exceptions"])
def test_allow_list_with_either_module_name_rebuilds_messaging_timeout(allowed: str) -> None:
    text = wire.serialize_remote_exception(exc_info_of(MessagingTimeout("late")))
    exc = wire.deserialize_remote_exception(text, [allowed])
    assert isinstance(exc, MessagingTimeout)
    assert exc.args == ("late",)


@pytest.mark.parametrize("allowed", ["oslo_messaging.rpc.client",
                                     "legacy_rpc.messaging.rpc.client"])
def test_allow_list_with_either_module_name_rebuilds_remote_error(allowed: str) -> None:
    text = wire.serialize_remote_exception(exc_info_of(RemoteError("T", "v", ["tb\n"])))
    exc = wire.deserialize_remote_exception(text, [allowed])
    assert isinstance(exc, RemoteError)
    assert (exc.exc_type, exc.value, exc.traceback) == ("T", "v", ["tb\n"])


def test_shared_exception_not_allowed_is_a_remote_error() -> None:
    text = wire.serialize_remote_exception(exc_info_of(MessagingTimeout("late")))
    exc = wire.deserialize_remote_exception(text, [])
    assert type(exc) is RemoteError
    assert exc.exc_type == "MessagingTimeout"


def test_cell_hop_of_a_shared_exception_keeps_oslo_module_name() -> None:
    first = wire.serialize_remote_exception(exc_info_of(NoSuchMethod("frob")))
    rebuilt = wire.deserialize_remote_exception(first, ["oslo_messaging.rpc.dispatcher"])
    data = json.loads(wire.serialize_remote_exception(exc_info_of(rebuilt)))
    assert (data["class"], data["module"]) == ("NoSuchMethod", "oslo_messaging.rpc.dispatcher")


def test_cell_hop_of_a_remote_error_keeps_oslo_module_name() -> None:
    first = wire.serialize_remote_exception(exc_info_of(RemoteError("T", "v", [])))
    rebuilt = wire.deserialize_remote_exception(first, ["oslo_messaging.rpc.client"])
    assert isinstance(rebuilt, RemoteError)
    data = json.loads(wire.serialize_remote_exception(exc_info_of(rebuilt)))
    assert (data["class"], data["module"]) == ("RemoteError", "oslo_messaging.rpc.client")


# ---------------------------------------------------------------- what is never rebuilt

@pytest.mark.parametrize("text", ["not json", "", "[1, 2]", '"text"', "null", "42",
                                  b"\xff\xfe", b"{broken"])
def test_garbage_failure_gives_remote_error(text: str | bytes) -> None:
    exc = wire.deserialize_remote_exception(text, ["builtins"])
    assert type(exc) is RemoteError


def test_empty_failure_object_gives_remote_error() -> None:
    assert type(wire.deserialize_remote_exception("{}", [])) is RemoteError


@pytest.mark.parametrize("name", ["SystemExit", "KeyboardInterrupt", "GeneratorExit",
                                  "BaseException", "object", "len", "int", "NoSuchError"])
def test_builtins_that_are_not_exception_subclasses_are_not_rebuilt(name: str) -> None:
    exc = wire.deserialize_remote_exception(failure_text(name, "builtins", "x", args=[]), [])
    assert type(exc) is RemoteError
    assert exc.exc_type == name


def test_allowed_module_attribute_that_is_not_a_class() -> None:
    exc = wire.deserialize_remote_exception(failure_text("join", "os.path", "x", args=["a"]),
                                            ["os.path"])
    assert type(exc) is RemoteError
    assert exc.exc_type == "join"


def test_allowed_class_that_is_not_an_exception() -> None:
    exc = wire.deserialize_remote_exception(
        failure_text("NotAnException", THIS_MODULE, "x", args=[]), [THIS_MODULE])
    assert type(exc) is RemoteError


def test_allowed_module_that_cannot_be_imported() -> None:
    exc = wire.deserialize_remote_exception(failure_text("E", "no_such_pkg.mod", "x"),
                                            ["no_such_pkg.mod"])
    assert type(exc) is RemoteError
    assert exc.exc_type == "E"


def test_constructor_rejecting_the_args_gives_remote_error() -> None:
    exc = wire.deserialize_remote_exception(
        failure_text("NeedsTwoArgs", THIS_MODULE, "x", args=["only one"]), [THIS_MODULE])
    assert type(exc) is RemoteError
    assert exc.exc_type == "NeedsTwoArgs"
    exc = wire.deserialize_remote_exception(
        failure_text("NeedsTwoArgs", THIS_MODULE, "x", args=[1, 2], kwargs={"c": 3}),
        [THIS_MODULE])
    assert type(exc) is RemoteError


@pytest.mark.parametrize(("args", "kwargs"), [("x", {}), ({"a": 1}, {}), ([], ["k"]),
                                              ([], "k=v")])
def test_wrongly_typed_args_or_kwargs_give_remote_error(args: Any, kwargs: Any) -> None:
    text = json.dumps({"class": "ValueError", "module": "builtins", "message": "m", "tb": [],
                       "args": args, "kwargs": kwargs})
    assert type(wire.deserialize_remote_exception(text, [])) is RemoteError


def test_missing_fields_default() -> None:
    exc = wire.deserialize_remote_exception('{"class": "ValueError", "module": "builtins"}', [])
    assert isinstance(exc, ValueError)
    assert exc.args == ()


def test_deserialize_accepts_bytes() -> None:
    text = wire.serialize_remote_exception(exc_info_of(KeyError("k"))).encode()
    assert isinstance(wire.deserialize_remote_exception(text, []), KeyError)


# =============================================================== notifications (3.8)

def test_build_notification_fields() -> None:
    n = wire.build_notification("compute.host1", "compute.instance.create.end", "info",
                                {"id": 1})
    assert list(n) == ["message_id", "publisher_id", "event_type", "priority", "payload",
                       "timestamp"]
    assert n["publisher_id"] == "compute.host1"
    assert n["event_type"] == "compute.instance.create.end"
    assert n["priority"] == "INFO"
    assert n["payload"] == {"id": 1}
    parsed = uuid.UUID(n["message_id"])
    assert str(parsed) == n["message_id"]  # hyphenated, lower-case
    assert parsed.version == 4
    assert TIMESTAMP.match(n["timestamp"])


@pytest.mark.parametrize(("given", "sent"), [("info", "INFO"), ("warn", "WARN"),
                                             ("ERROR", "ERROR"), ("Sample", "SAMPLE")])
def test_priority_is_upper_case_in_the_body(given: str, sent: str) -> None:
    assert wire.build_notification("p", "e", given, {})["priority"] == sent


def test_build_notification_message_ids_are_fresh() -> None:
    a = wire.build_notification("p", "e", "info", {})
    b = wire.build_notification("p", "e", "info", {})
    assert a["message_id"] != b["message_id"]


def test_build_notification_keeps_given_id_and_timestamp() -> None:
    n = wire.build_notification("p", "e", "info", {}, message_id="mid",
                                timestamp="2026-11-22 17:07:07.108140")
    assert (n["message_id"], n["timestamp"]) == ("mid", "2026-11-22 17:07:07.108140")


def test_build_notification_default_timestamp_is_utc_now() -> None:
    before = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    n = wire.build_notification("p", "e", "info", {})
    after = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    stamp = datetime.datetime.fromisoformat(n["timestamp"])
    assert before.replace(microsecond=0) <= stamp <= after


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (datetime.datetime(2026, 11, 22, 17, 7, 7, 108140), "2026-11-22 17:07:07.108140"),
        (datetime.datetime(2026, 11, 22, 17, 7, 7, 7), "2026-11-22 17:07:07.000007"),
        (datetime.datetime(2026, 11, 22, 17, 7, 7), "2026-11-22 17:07:07"),
        (datetime.datetime(2026, 1, 2, 0, 0, 0), "2026-01-02 00:00:00"),
        (datetime.datetime(2026, 11, 22, 17, 7, 7, 108140, tzinfo=datetime.timezone.utc),
         "2026-11-22 17:07:07.108140"),
    ],
)
def test_timestamp_format(when: datetime.datetime, text: str) -> None:
    assert wire._timestamp(when) == text


def test_timestamp_of_an_aware_datetime_is_utc() -> None:
    # "str(naive UTC datetime)": an aware time in another zone must be converted, not just
    # stripped of its zone.
    plus2 = datetime.timezone(datetime.timedelta(hours=2))
    assert wire._timestamp(datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=plus2)) == (
        "2026-01-01 10:00:00")


def test_default_timestamp_has_a_space_and_no_zone() -> None:
    text = wire._timestamp()
    assert TIMESTAMP.match(text)
    assert "T" not in text and "+" not in text


def test_pack_v2_notification_matches_the_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed_ids(monkeypatch, "278667af50cd42e79b136a0901cc078f")
    n = wire.build_notification("compute.host1", "compute.instance.create.end", "info",
                                {"id": 1}, message_id="df555205-2275-4d78-8ce2-76f4f194cb60",
                                timestamp="2026-11-22 17:07:07.108140")
    body = wire.pack_notification(None, n, 2.0)
    assert wire.encode_body(body) == V2_NOTIFICATION_CAPTURE.encode()


def test_pack_v1_notification_matches_the_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed_ids(monkeypatch, "dce68218ca9b4ad8befa6be3eb5b2402")
    n = wire.build_notification("compute.host1", "compute.instance.create.end", "INFO",
                                {"id": 1}, message_id="a02a76dc-...",
                                timestamp="2026-11-22 17:07:07.103500")
    body = wire.pack_notification(None, n, 1.0)
    assert "oslo.version" not in body
    assert json.dumps(body) == V1_NOTIFICATION_CAPTURE


def test_parse_v2_notification_capture() -> None:
    n = wire.parse_notification(wire.decode_body(V2_NOTIFICATION_CAPTURE))
    assert n.priority == "info"
    assert n.publisher_id == "compute.host1"
    assert n.event_type == "compute.instance.create.end"
    assert n.payload == {"id": 1}
    assert n.metadata == {"message_id": "df555205-2275-4d78-8ce2-76f4f194cb60",
                          "timestamp": "2026-11-22 17:07:07.108140"}
    # no context was sent (oslo's rabbit driver would add client_timeout: None; we do not)
    assert n.ctxt == {}
    assert n.unique_id == "278667af50cd42e79b136a0901cc078f"


def test_parse_v1_notification_capture() -> None:
    n = wire.parse_notification(wire.decode_body(V1_NOTIFICATION_CAPTURE))
    assert n.priority == "info"
    assert n.payload == {"id": 1}
    assert n.metadata == {"message_id": "a02a76dc-...", "timestamp": "2026-11-22 17:07:07.103500"}
    assert n.unique_id == "dce68218ca9b4ad8befa6be3eb5b2402"


@pytest.mark.parametrize("ctxt", [None, {}])
def test_notification_context_keys_only_when_given(ctxt: dict[str, Any] | None) -> None:
    n = wire.build_notification("p", "e", "info", {})
    for version in (1.0, 2.0):
        body = wire.pack_notification(ctxt, n, version)
        msg = inner(body) if version == 2.0 else body
        assert not [k for k in msg if k.startswith("_context_")]
        assert HEX32.match(msg["_unique_id"])


def test_notification_context_round_trip() -> None:
    n = wire.build_notification("p", "e", "error", {"x": 1})
    body = wire.pack_notification({"user": "u1", "project_id": "p"}, n, 2.0)
    msg = inner(body)
    assert msg["_context_user"] == "u1"
    assert msg["_context_project_id"] == "p"
    parsed = wire.parse_notification(body)
    assert parsed.ctxt == {"user": "u1", "project_id": "p"}
    assert parsed.priority == "error"
    assert parsed.payload == {"x": 1}


def test_v1_notification_payload_is_json_native() -> None:
    n = wire.build_notification("p", "e", "info",
                                {"when": datetime.datetime(1920, 2, 3, 4, 5, 6, 7)})
    body = wire.pack_notification(None, n, 1.0)
    assert body["payload"] == {"when": "1920-02-03T04:05:06.000007"}


def test_each_notification_send_gets_a_fresh_unique_id() -> None:
    n = wire.build_notification("p", "e", "info", {})
    assert inner(wire.pack_notification(None, n))["_unique_id"] != inner(
        wire.pack_notification(None, n))["_unique_id"]


@pytest.mark.parametrize("body", [None, [1], "x",
                                  {"event_type": "e", "payload": {}},
                                  {"priority": "", "payload": {}},
                                  {"priority": 3, "payload": {}},
                                  {"oslo.version": "2.0", "oslo.message": "[]"}])
def test_parse_notification_rejects_malformed_input(body: Any) -> None:
    with pytest.raises(wire.MalformedMessage):
        wire.parse_notification(body)


# ----------------------------------------------------------------------------- streaming

def test_stream_marker_only_on_streamed_calls() -> None:
    streamed = wire.deserialize_msg(wire.build_request({}, {"method": "m", "args": {}},
                                                       msg_id="a", reply_q="r", stream=True))
    assert streamed["_stream"] is True
    plain = wire.deserialize_msg(wire.build_request({}, {"method": "m", "args": {}},
                                                    msg_id="a", reply_q="r"))
    assert "_stream" not in plain
    cast = wire.deserialize_msg(wire.build_request({}, {"method": "m", "args": {}},
                                                   stream=True))
    assert "_stream" not in cast


@pytest.mark.parametrize(("inner", "streams"), [
    ({"method": "m", "_msg_id": "a", "_reply_q": "r", "_timeout": None}, False),  # oslo call
    ({"method": "m", "_msg_id": "a", "_reply_q": "r", "_timeout": None, "_stream": True},
     True),                                                                      # our stream()
    ({"method": "m", "_msg_id": "a", "_reply_q": "r"}, True),                   # legacy caller
])
def test_who_gets_streamed_values(inner: dict[str, object], streams: bool) -> None:
    request = wire.parse_request(dict(inner))
    assert request.stream_replies is streams
    assert "_stream" not in request.message


@pytest.mark.parametrize("module", ["nova.openstack.common.rpc.common",
                                    "cinder.openstack.common.rpc.common", "nova.rpc.common"])
def test_legacy_rpc_common_exceptions_are_rebuilt_from_any_project(module: str) -> None:
    from legacy_rpc.rpc import common

    failure = json.dumps({"class": "Timeout", "module": module, "message": "slow",
                          "tb": [], "args": [], "kwargs": {"topic": "t"}})
    exc = wire.deserialize_remote_exception(failure, [module])
    assert isinstance(exc, common.Timeout)
    assert isinstance(wire.deserialize_remote_exception(failure, []), RemoteError)

"""``RPCClient``: the parts that need no driver (oslo_messaging_api.md 1.5, 3.5).

A recording stand-in transport captures what the client hands to ``_send``/``_send_stream``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc.messaging import (
    ClientSendError,
    InvalidTarget,
    MessageDeliveryFailure,
    MessagingException,
    MessagingTimeout,
    NoOpSerializer,
    RPCClient,
    RPCVersionCapError,
    Target,
    TransportOptions,
    get_rpc_client,
)
from legacy_rpc.messaging.drivers.base import TransportDriverError
from legacy_rpc.messaging.exceptions import MessageUndeliverable


class RecordingTransport:
    """Stands in for ``Transport``: records every ``_send``/``_send_stream``."""

    def __init__(self, result: Any = None, stream: list[Any] | None = None,
                 error: BaseException | None = None) -> None:
        self.conf = cfg.ConfigOpts()
        self.conf([])
        self.result = result
        self.stream_values = stream or []
        self.error = error
        self.sent: list[dict[str, Any]] = []
        self.streamed: list[dict[str, Any]] = []

    def _send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
              **kwargs: Any) -> Any:
        self.sent.append({"target": target, "ctxt": ctxt, "message": message, **kwargs})
        if self.error is not None:
            raise self.error
        return self.result

    def _send_stream(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
                     **kwargs: Any) -> Iterator[Any]:
        self.streamed.append({"target": target, "ctxt": ctxt, "message": message, **kwargs})
        if self.error is not None:
            raise self.error
        return iter(self.stream_values)


class Ctx:
    def __init__(self, **values: Any) -> None:
        self.values = values

    def to_dict(self) -> dict[str, Any]:
        return dict(self.values)


class TaggingSerializer(NoOpSerializer):
    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        self.log.append(("serialize_entity", ctxt, entity))
        return f"s:{entity}"

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        self.log.append(("deserialize_entity", ctxt, entity))
        return f"d:{entity}"

    def serialize_context(self, ctxt: Any) -> Any:
        self.log.append(("serialize_context", ctxt))
        return {"wire": ctxt["user"]}


def client(transport: RecordingTransport | None = None, target: Target | None = None,
           **kwargs: Any) -> RPCClient:
    return get_rpc_client(transport or RecordingTransport(),  # type: ignore[arg-type]
                          target or Target(topic="t"), **kwargs)


def transport_of(c: Any) -> RecordingTransport:
    t = c.transport
    assert isinstance(t, RecordingTransport)
    return t


# ---------------------------------------------------------------- construction

def test_get_rpc_client_builds_an_rpc_client() -> None:
    c = client()
    assert type(c) is RPCClient
    assert isinstance(c.serializer, NoOpSerializer)
    assert c.target == Target(topic="t")
    assert c.timeout is None and c.version_cap is None and c.retry is None


def test_get_rpc_client_honours_client_cls() -> None:
    class MyClient(RPCClient):
        pass

    c = get_rpc_client(RecordingTransport(), Target(topic="t"),  # type: ignore[arg-type]
                       client_cls=MyClient, timeout=3)
    assert type(c) is MyClient
    assert c.timeout == 3


def test_client_registers_rpc_response_timeout() -> None:
    t = RecordingTransport()
    client(t)
    assert t.conf.rpc_response_timeout == 60


# ---------------------------------------------------------------- message shape

def test_cast_message_shape_without_namespace_and_version() -> None:
    c = client()
    assert c.cast({"user": "u"}, "do", a=1, b="x") is None
    sent = transport_of(c).sent
    assert len(sent) == 1
    assert sent[0]["message"] == {"method": "do", "args": {"a": 1, "b": "x"}}
    assert list(sent[0]["message"]) == ["method", "args"]
    assert sent[0]["ctxt"] == {"user": "u"}
    assert sent[0]["target"] == Target(topic="t")


def test_cast_without_kwargs_sends_empty_args() -> None:
    c = client()
    c.cast({}, "do")
    assert transport_of(c).sent[0]["message"] == {"method": "do", "args": {}}


def test_message_carries_namespace_and_version_when_set() -> None:
    c = client(target=Target(topic="t", namespace="ns", version="1.2"))
    c.cast({}, "do", a=1)
    msg = transport_of(c).sent[0]["message"]
    assert msg == {"method": "do", "args": {"a": 1}, "namespace": "ns", "version": "1.2"}
    assert list(msg) == ["method", "args", "namespace", "version"]


def test_message_carries_only_the_fields_that_are_set() -> None:
    c = client(target=Target(topic="t", version="1.2"))
    c.cast({}, "do")
    assert transport_of(c).sent[0]["message"] == {"method": "do", "args": {}, "version": "1.2"}
    c2 = client(target=Target(topic="t", namespace="ns"))
    c2.cast({}, "do")
    assert transport_of(c2).sent[0]["message"] == {"method": "do", "args": {},
                                                   "namespace": "ns"}


def test_empty_string_namespace_is_sent() -> None:
    # "only if target.namespace is not None"
    c = client(target=Target(topic="t", namespace=""))
    c.cast({}, "do")
    assert transport_of(c).sent[0]["message"]["namespace"] == ""


def test_cast_passes_retry_and_transport_options_but_no_reply() -> None:
    opts = TransportOptions(at_least_once=True)
    c = client(retry=3, transport_options=opts)
    c.cast({}, "do")
    sent = transport_of(c).sent[0]
    assert sent["retry"] == 3
    assert sent["transport_options"] is opts
    assert not sent.get("wait_for_reply")
    assert "timeout" not in sent


def test_args_go_through_serialize_entity() -> None:
    ser = TaggingSerializer()
    c = client(serializer=ser)
    c.cast({"user": "u"}, "do", a=1)
    assert transport_of(c).sent[0]["message"]["args"] == {"a": "s:1"}
    assert ("serialize_entity", {"user": "u"}, 1) in ser.log


# ---------------------------------------------------------------- context

def test_dict_context_is_sent_as_is() -> None:
    c = client()
    c.cast({"user": "u", "roles": ["r"]}, "do")
    assert transport_of(c).sent[0]["ctxt"] == {"user": "u", "roles": ["r"]}


def test_context_object_with_to_dict() -> None:
    c = client()
    c.cast(Ctx(user="u", project_id="p"), "do")
    assert transport_of(c).sent[0]["ctxt"] == {"user": "u", "project_id": "p"}


def test_none_context_becomes_empty_dict() -> None:
    c = client()
    c.cast(None, "do")
    assert transport_of(c).sent[0]["ctxt"] == {}


@pytest.mark.parametrize("ctxt", ["user=u", 42, ["u"], object()])
def test_other_contexts_are_a_type_error(ctxt: Any) -> None:
    c = client()
    with pytest.raises(TypeError):
        c.cast(ctxt, "do")
    with pytest.raises(TypeError):
        c.call(ctxt, "do")
    assert transport_of(c).sent == []


def test_to_dict_returning_a_non_dict_is_a_type_error() -> None:
    class BadCtx:
        def to_dict(self) -> list[str]:
            return ["u"]

    with pytest.raises(TypeError):
        client().cast(BadCtx(), "do")


def test_context_goes_through_serialize_context() -> None:
    ser = TaggingSerializer()
    c = client(serializer=ser)
    c.cast({"user": "u"}, "do")
    assert transport_of(c).sent[0]["ctxt"] == {"wire": "u"}
    assert ("serialize_context", {"user": "u"}) in ser.log


# ---------------------------------------------------------------- call

def test_call_sends_and_deserializes_the_result() -> None:
    ser = TaggingSerializer()
    c = client(RecordingTransport(result="r"), serializer=ser)
    assert c.call({"user": "u"}, "get", key="k") == "d:r"
    sent = transport_of(c).sent[0]
    assert sent["message"] == {"method": "get", "args": {"key": "s:k"}}
    assert sent["wait_for_reply"] is True
    assert ("deserialize_entity", {"user": "u"}, "r") in ser.log


def test_call_timeout_defaults_to_rpc_response_timeout() -> None:
    c = client()
    c.call({}, "get")
    sent = transport_of(c).sent[0]
    assert sent["timeout"] == 60
    assert sent["call_monitor_timeout"] is None
    assert sent["retry"] is None
    assert sent["transport_options"] is None


def test_call_timeout_follows_the_option() -> None:
    t = RecordingTransport()
    c = client(t)
    t.conf.set_override("rpc_response_timeout", 7)
    c.call({}, "get")
    assert t.sent[0]["timeout"] == 7


def test_call_uses_the_client_timeout_and_options() -> None:
    opts = TransportOptions()
    c = client(timeout=5, call_monitor_timeout=2, retry=0, transport_options=opts)
    c.call({}, "get")
    sent = transport_of(c).sent[0]
    assert (sent["timeout"], sent["call_monitor_timeout"], sent["retry"]) == (5, 2, 0)
    assert sent["transport_options"] is opts


def test_call_on_a_fanout_target_is_invalid() -> None:
    target = Target(topic="t", fanout=True)
    c = client(target=target)
    with pytest.raises(InvalidTarget) as info:
        c.call({}, "get")
    assert info.value.target == target
    assert isinstance(info.value, ValueError)
    assert transport_of(c).sent == []


def test_call_on_a_prepared_fanout_target_is_invalid() -> None:
    c = client()
    with pytest.raises(InvalidTarget):
        c.prepare(fanout=True).call({}, "get")
    assert transport_of(c).sent == []


def test_cast_on_a_fanout_target_is_fine() -> None:
    c = client(target=Target(topic="t", fanout=True))
    c.cast({}, "do")
    assert transport_of(c).sent[0]["target"].fanout is True


# ---------------------------------------------------------------- driver errors

def test_transport_driver_error_on_cast_is_client_send_error() -> None:
    err = TransportDriverError("broker gone")
    c = client(RecordingTransport(error=err))
    with pytest.raises(ClientSendError) as info:
        c.cast({}, "do")
    assert info.value.ex is err
    assert info.value.target == Target(topic="t")
    assert isinstance(info.value, MessagingException)


def test_transport_driver_error_on_call_is_client_send_error() -> None:
    err = TransportDriverError("broker gone")
    c = client(RecordingTransport(error=err))
    with pytest.raises(ClientSendError) as info:
        c.call({}, "get")
    assert info.value.ex is err


@pytest.mark.parametrize("err", [MessageDeliveryFailure("retries exhausted"),
                                 MessageUndeliverable(None, "x", "rk", {}),
                                 MessagingTimeout("late")])
def test_other_send_errors_propagate_unchanged(err: Exception) -> None:
    c = client(RecordingTransport(error=err))
    with pytest.raises(type(err)) as info:
        c.call({}, "get")
    assert info.value is err
    with pytest.raises(type(err)):
        c.cast({}, "do")


# ---------------------------------------------------------------- version cap

def test_version_over_the_cap_is_refused() -> None:
    c = client(target=Target(topic="t", version="1.6"), version_cap="1.5")
    with pytest.raises(RPCVersionCapError) as info:
        c.cast({}, "do")
    assert info.value.version == "1.6"
    assert info.value.version_cap == "1.5"
    with pytest.raises(RPCVersionCapError):
        c.call({}, "do")
    assert transport_of(c).sent == []


@pytest.mark.parametrize(("version", "ok"), [("1.5", True), ("1.0", True), ("1.4.9", True),
                                             ("1.5.1", False), ("2.0", False), ("0.9", False)])
def test_version_cap_check(version: str, ok: bool) -> None:
    c = client(target=Target(topic="t", version=version), version_cap="1.5")
    if ok:
        c.cast({}, "do")
        assert len(transport_of(c).sent) == 1
    else:
        with pytest.raises(RPCVersionCapError):
            c.cast({}, "do")


def test_version_cap_without_target_version_is_refused() -> None:
    # The oslo.messaging quirk (Appendix B): a cap and no message version fails the check.
    c = client(version_cap="1.5")
    with pytest.raises(RPCVersionCapError) as info:
        c.cast({}, "do")
    assert info.value.version is None
    assert info.value.version_cap == "1.5"
    assert transport_of(c).sent == []


def test_no_cap_no_check() -> None:
    c = client(target=Target(topic="t", version="99.0"))
    c.cast({}, "do")
    assert len(transport_of(c).sent) == 1


def test_can_send_version() -> None:
    assert client().can_send_version("99.9") is True
    assert client().can_send_version() is True
    c = client(target=Target(topic="t", version="1.2"), version_cap="1.5")
    assert c.can_send_version() is True
    assert c.can_send_version("1.5") is True
    assert c.can_send_version("1.6") is False
    assert c.can_send_version("2.0") is False
    assert c.can_send_version(None) is False
    assert client(target=Target(topic="t", version="1.6"),
                  version_cap="1.5").can_send_version() is False
    # cap set, target without version: the default argument is the target's None
    assert client(version_cap="1.5").can_send_version() is False


def test_can_send_version_on_a_prepared_context() -> None:
    c = client(version_cap="1.5")
    assert c.prepare(version="1.4").can_send_version() is True
    assert c.prepare(version="1.6").can_send_version() is False
    assert c.prepare(version="1.6", version_cap=None).can_send_version() is True


# ---------------------------------------------------------------- prepare

def test_prepare_keeps_unset_arguments() -> None:
    opts = TransportOptions()
    ser = TaggingSerializer()
    c = client(target=Target(exchange="x", topic="t", namespace="ns", version="1.2",
                             server="s"),
               timeout=5, version_cap="1.5", retry=2, call_monitor_timeout=3,
               transport_options=opts, serializer=ser)
    p = c.prepare()
    assert p.target == c.target
    assert p.target is not c.target
    assert (p.timeout, p.version_cap, p.retry, p.call_monitor_timeout) == (5, "1.5", 2, 3)
    assert p.transport_options is opts
    assert p.serializer is ser
    assert p.transport is c.transport


def test_prepare_replaces_given_fields() -> None:
    c = client(target=Target(topic="t", version="1.0"))
    p = c.prepare(server="s1", version="1.3", namespace="ns", timeout=9, retry=1)
    assert p.target == Target(topic="t", server="s1", version="1.3", namespace="ns")
    assert (p.timeout, p.retry) == (9, 1)
    # the parent is unchanged
    assert c.target == Target(topic="t", version="1.0")
    assert c.timeout is None and c.retry is None


def test_prepare_explicit_none_really_sets_none() -> None:
    c = client(target=Target(topic="t", namespace="ns", version="1.2", server="s"),
               timeout=5, version_cap="1.5", retry=2, call_monitor_timeout=3)
    p = c.prepare(namespace=None, version=None, server=None, timeout=None, version_cap=None,
                  retry=None, call_monitor_timeout=None)
    assert p.target == Target(topic="t")
    assert (p.timeout, p.version_cap, p.retry, p.call_monitor_timeout) == (
        None, None, None, None)
    p.cast({}, "do")
    assert transport_of(c).sent[-1]["message"] == {"method": "do", "args": {}}
    p.call({}, "get")
    assert transport_of(c).sent[-1]["timeout"] == 60


def test_prepared_message_uses_the_prepared_target() -> None:
    c = client(target=Target(topic="t"))
    c.prepare(namespace="ns", version="1.1", server="s").cast({}, "do")
    sent = transport_of(c).sent[0]
    assert sent["message"] == {"method": "do", "args": {}, "namespace": "ns", "version": "1.1"}
    assert sent["target"] == Target(topic="t", namespace="ns", version="1.1", server="s")


@pytest.mark.parametrize("version", ["1", "a.b", "1.x", "", "v1.0", "1.y.2"])
def test_prepare_rejects_a_bad_version(version: str) -> None:
    with pytest.raises(MessagingException, match="Version must contain a major and minor integer"):
        client().prepare(version=version)


def test_prepare_accepts_three_part_versions() -> None:
    assert client().prepare(version="1.2.3").target.version == "1.2.3"


def test_prepare_on_a_prepared_context() -> None:
    c = client(target=Target(topic="t"), timeout=5)
    p = c.prepare(server="s1").prepare(version="1.3")
    assert p.target == Target(topic="t", server="s1", version="1.3")
    assert p.timeout == 5


def test_prepare_on_a_prepared_context_has_no_transport_options() -> None:
    p = client().prepare()
    with pytest.raises(TypeError):
        p.prepare(transport_options=TransportOptions())  # type: ignore[call-arg]


def test_prepare_transport_options_on_the_client() -> None:
    opts = TransportOptions(at_least_once=True)
    c = client()
    c.prepare(transport_options=opts).call({}, "get")
    assert transport_of(c).sent[0]["transport_options"] is opts
    # and a prepared context keeps them when prepared again
    c.prepare(transport_options=opts).prepare(server="s").cast({}, "do")
    assert transport_of(c).sent[1]["transport_options"] is opts


def test_prepare_version_cap() -> None:
    c = client(target=Target(topic="t", version="1.6"))
    with pytest.raises(RPCVersionCapError):
        c.prepare(version_cap="1.5").cast({}, "do")
    c.prepare(version_cap="1.7").cast({}, "do")
    assert len(transport_of(c).sent) == 1


def test_prepare_with_unknown_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        client().prepare(topics="x")  # type: ignore[call-arg]


# ---------------------------------------------------------------- stream (addition)

def test_stream_deserializes_each_value() -> None:
    ser = TaggingSerializer()
    c = client(RecordingTransport(stream=[1, 2, 3]), serializer=ser, timeout=4)
    assert list(c.stream({"user": "u"}, "gen", n=3)) == ["d:1", "d:2", "d:3"]
    sent = transport_of(c).streamed[0]
    assert sent["message"] == {"method": "gen", "args": {"n": "s:3"}}
    assert sent["timeout"] == 4
    assert transport_of(c).sent == []


def test_stream_on_fanout_is_invalid() -> None:
    c = client(target=Target(topic="t", fanout=True))
    with pytest.raises(InvalidTarget):
        c.stream({}, "gen")
    assert transport_of(c).streamed == []


def test_stream_driver_error_is_client_send_error() -> None:
    c = client(RecordingTransport(error=TransportDriverError("x")))
    with pytest.raises(ClientSendError):
        c.stream({}, "gen")

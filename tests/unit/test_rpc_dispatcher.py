"""``RPCDispatcher`` (oslo_messaging_api.md 1.7, 1.8; legacy_api.md 10.13)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from legacy_rpc.messaging import Target
from legacy_rpc.messaging.drivers.base import IncomingMessage
from legacy_rpc.messaging.rpc.dispatcher import (
    DefaultRPCAccessPolicy,
    ExpectedException,
    ExplicitRPCAccessPolicy,
    LegacyRPCAccessPolicy,
    NoSuchMethod,
    RPCAccessPolicyBase,
    RPCDispatcher,
    RPCDispatcherError,
    StreamedResult,
    UnsupportedVersion,
    expected_exceptions,
    expose,
)
from legacy_rpc.messaging.serializer import NoOpSerializer
from legacy_rpc.messaging.server import MessagingServerError

CTXT = {"user": "u1", "client_timeout": None}


def incoming(method: Any = "ping", args: Any = None, namespace: Any = None,
             version: Any = None, ctxt: dict[str, Any] | None = None,
             **extra: Any) -> IncomingMessage:
    message: dict[str, Any] = {"method": method}
    if args is not None:
        message["args"] = args
    if namespace is not None:
        message["namespace"] = namespace
    if version is not None:
        message["version"] = version
    message.update(extra)
    return IncomingMessage(dict(CTXT) if ctxt is None else ctxt, message)


class Recorder:
    """An endpoint that records its calls and returns a tag."""

    def __init__(self, tag: str, target: Target | None = None) -> None:
        self.tag = tag
        self.calls: list[tuple[Any, dict[str, Any]]] = []
        if target is not None:
            self.target = target

    def ping(self, ctxt: Any, **kwargs: Any) -> str:
        self.calls.append((ctxt, kwargs))
        return self.tag


class OnlyOther:
    def other(self, ctxt: Any) -> str:
        return "other"


class RecordingSerializer(NoOpSerializer):
    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []

    def deserialize_context(self, ctxt: Any) -> Any:
        self.log.append(("deserialize_context", ctxt))
        return {"deserialized": ctxt}

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        self.log.append(("deserialize_entity", ctxt, entity))
        return ("in", entity)

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        self.log.append(("serialize_entity", ctxt, entity))
        return ("out", entity)


# ---------------------------------------------------------------- selection

def test_dispatches_to_the_method_with_context_and_keyword_args() -> None:
    ep = Recorder("a")
    result = RPCDispatcher([ep]).dispatch(incoming(args={"x": 1, "y": [2]}))
    assert result == "a"
    assert ep.calls == [(CTXT, {"x": 1, "y": [2]})]


def test_context_is_passed_positionally() -> None:
    seen: list[Any] = []

    class Endpoint:
        def m(self, *args: Any, **kwargs: Any) -> None:
            seen.append((args, kwargs))

    RPCDispatcher([Endpoint()]).dispatch(incoming("m", {"a": 1}))
    assert seen == [((CTXT,), {"a": 1})]


def test_first_endpoint_in_list_order_wins() -> None:
    a, b = Recorder("a"), Recorder("b")
    assert RPCDispatcher([a, b]).dispatch(incoming()) == "a"
    assert RPCDispatcher([b, a]).dispatch(incoming()) == "b"
    assert len(a.calls) == 1 and len(b.calls) == 1


def test_later_endpoint_used_when_earlier_lacks_the_method() -> None:
    b = Recorder("b")
    assert RPCDispatcher([OnlyOther(), b]).dispatch(incoming()) == "b"


def test_args_default_to_empty() -> None:
    ep = Recorder("a")
    RPCDispatcher([ep]).dispatch(incoming())
    RPCDispatcher([ep]).dispatch(incoming(args=None, extra_none_args=None))
    msg = IncomingMessage({}, {"method": "ping", "args": None})
    RPCDispatcher([ep]).dispatch(msg)
    assert [kwargs for _ctxt, kwargs in ep.calls] == [{}, {}, {}]


# ---------------------------------------------------------------- namespaces

def test_null_namespace_only_reaches_null_namespace_endpoints() -> None:
    ns_ep = Recorder("ns", Target(namespace="ns"))
    plain = Recorder("plain")
    assert RPCDispatcher([ns_ep, plain]).dispatch(incoming()) == "plain"
    assert ns_ep.calls == []


def test_named_namespace_reaches_its_endpoint() -> None:
    ns_ep = Recorder("ns", Target(namespace="ns"))
    plain = Recorder("plain")
    assert RPCDispatcher([plain, ns_ep]).dispatch(incoming(namespace="ns")) == "ns"


def test_namespace_mismatch_is_unsupported_version() -> None:
    ns_ep = Recorder("ns", Target(namespace="ns"))
    with pytest.raises(UnsupportedVersion) as info:
        RPCDispatcher([ns_ep]).dispatch(incoming())
    assert info.value.version == "1.0"
    with pytest.raises(UnsupportedVersion):
        RPCDispatcher([Recorder("plain")]).dispatch(incoming(namespace="other"))


def test_legacy_namespaces_are_accepted() -> None:
    ep = Recorder("ep", Target(namespace="new", legacy_namespaces=["old"]))
    d = RPCDispatcher([ep])
    assert d.dispatch(incoming(namespace="new")) == "ep"
    assert d.dispatch(incoming(namespace="old")) == "ep"
    with pytest.raises(UnsupportedVersion):
        d.dispatch(incoming())
    with pytest.raises(UnsupportedVersion):
        d.dispatch(incoming(namespace="other"))


def test_legacy_namespace_can_include_the_null_namespace() -> None:
    ep = Recorder("ep", Target(namespace="new", legacy_namespaces=[None]))  # type: ignore[list-item]
    assert RPCDispatcher([ep]).dispatch(incoming()) == "ep"


# ---------------------------------------------------------------- versions

def test_version_defaults_to_1_0() -> None:
    assert RPCDispatcher([Recorder("a", Target(version="1.3"))]).dispatch(incoming()) == "a"
    with pytest.raises(UnsupportedVersion) as info:
        RPCDispatcher([Recorder("a", Target(version="2.0"))]).dispatch(incoming())
    assert info.value.version == "1.0"


def test_endpoint_without_version_is_1_0() -> None:
    d = RPCDispatcher([Recorder("a")])
    assert d.dispatch(incoming(version="1.0")) == "a"
    with pytest.raises(UnsupportedVersion):
        d.dispatch(incoming(version="1.1"))
    d2 = RPCDispatcher([Recorder("b", Target(namespace=None, version=None))])
    assert d2.dispatch(incoming(version="1.0")) == "b"
    with pytest.raises(UnsupportedVersion):
        d2.dispatch(incoming(version="1.1"))


@pytest.mark.parametrize(("requested", "ok"), [("1.0", True), ("1.2", True), ("1.3", True),
                                               ("1.3.1", False), ("1.4", False),
                                               ("1.10", False), ("2.0", False),
                                               ("0.9", False)])
def test_version_compatibility(requested: str, ok: bool) -> None:
    d = RPCDispatcher([Recorder("a", Target(version="1.3"))])
    if ok:
        assert d.dispatch(incoming(version=requested)) == "a"
    else:
        with pytest.raises(UnsupportedVersion):
            d.dispatch(incoming(version=requested))


def test_newest_compatible_endpoint_is_chosen_by_list_order() -> None:
    v1 = Recorder("v1", Target(version="1.5"))
    v2 = Recorder("v2", Target(version="2.1"))
    d = RPCDispatcher([v1, v2])
    assert d.dispatch(incoming(version="1.2")) == "v1"
    assert d.dispatch(incoming(version="2.0")) == "v2"


def test_no_such_method_when_a_compatible_endpoint_lacks_it() -> None:
    d = RPCDispatcher([OnlyOther(), Recorder("v2", Target(version="2.0"))])
    with pytest.raises(NoSuchMethod) as info:
        d.dispatch(incoming("ping", version="1.0"))
    exc = info.value
    assert str(exc) == "Endpoint does not support RPC method ping"
    assert exc.method == "ping"
    assert isinstance(exc, AttributeError)
    assert isinstance(exc, RPCDispatcherError)
    assert isinstance(exc, MessagingServerError)


def test_unsupported_version_when_no_endpoint_is_compatible() -> None:
    d = RPCDispatcher([Recorder("a", Target(version="1.3"))])
    with pytest.raises(UnsupportedVersion) as info:
        d.dispatch(incoming("ping", version="2.0"))
    exc = info.value
    assert str(exc) == "Endpoint does not support RPC version 2.0. Attempted method: ping"
    assert exc.version == "2.0"
    assert exc.method == "ping"
    assert isinstance(exc, RPCDispatcherError)
    assert not isinstance(exc, AttributeError)


def test_unsupported_version_without_method() -> None:
    exc = UnsupportedVersion("3.1")
    assert str(exc) == "Endpoint does not support RPC version 3.1"
    assert exc.method is None


def test_no_endpoints_is_unsupported_version() -> None:
    with pytest.raises(UnsupportedVersion):
        RPCDispatcher([]).dispatch(incoming())


# ---------------------------------------------------------------- access policies

class Mixed:
    def public(self, ctxt: Any) -> str:
        return "public"

    def _private(self, ctxt: Any) -> str:
        return "private"

    @expose
    def exposed(self, ctxt: Any) -> str:
        return "exposed"

    @expose
    def _exposed_private(self, ctxt: Any) -> str:
        return "exposed private"

    not_callable = 42


def test_default_policy_is_default() -> None:
    assert isinstance(RPCDispatcher([]).access_policy, DefaultRPCAccessPolicy)


def test_default_policy_refuses_private_methods() -> None:
    d = RPCDispatcher([Mixed()])
    assert d.dispatch(incoming("public")) == "public"
    assert d.dispatch(incoming("exposed")) == "exposed"
    for name in ("_private", "__init__", "__class__", "_exposed_private"):
        with pytest.raises(NoSuchMethod):
            d.dispatch(incoming(name))


def test_explicit_policy_needs_expose() -> None:
    d = RPCDispatcher([Mixed()], access_policy=ExplicitRPCAccessPolicy)
    assert d.dispatch(incoming("exposed")) == "exposed"
    with pytest.raises(NoSuchMethod):
        d.dispatch(incoming("public"))
    with pytest.raises(NoSuchMethod):
        d.dispatch(incoming("_private"))


def test_legacy_policy_allows_private_methods() -> None:
    d = RPCDispatcher([Mixed()], access_policy=LegacyRPCAccessPolicy)
    assert d.dispatch(incoming("public")) == "public"
    assert d.dispatch(incoming("_private")) == "private"
    assert d.dispatch(incoming("exposed")) == "exposed"


def test_refused_method_falls_through_to_a_later_endpoint() -> None:
    class Later:
        @expose
        def public(self, ctxt: Any) -> str:
            return "later"

    d = RPCDispatcher([Mixed(), Later()], access_policy=ExplicitRPCAccessPolicy)
    assert d.dispatch(incoming("public")) == "later"


def test_expose_sets_the_exposed_attribute() -> None:
    def f() -> None:
        pass

    assert expose(f) is f
    assert f.exposed is True  # type: ignore[attr-defined]


def test_custom_access_policy_class() -> None:
    class OnlyPing(RPCAccessPolicyBase):
        def is_allowed(self, endpoint: Any, method: str) -> bool:
            return method == "ping"

    d = RPCDispatcher([Recorder("a")], access_policy=OnlyPing)
    assert d.dispatch(incoming("ping")) == "a"


@pytest.mark.parametrize("policy", [DefaultRPCAccessPolicy(), LegacyRPCAccessPolicy(),
                                    ExplicitRPCAccessPolicy()])
def test_access_policy_instance_is_a_type_error(policy: RPCAccessPolicyBase) -> None:
    with pytest.raises(TypeError):
        RPCDispatcher([], access_policy=policy)  # type: ignore[arg-type]


@pytest.mark.parametrize("policy", [object, dict, "DefaultRPCAccessPolicy"])
def test_access_policy_not_a_policy_class_is_a_type_error(policy: Any) -> None:
    with pytest.raises(TypeError):
        RPCDispatcher([], access_policy=policy)


def test_base_policy_is_abstract_in_practice() -> None:
    with pytest.raises(NotImplementedError):
        RPCAccessPolicyBase().is_allowed(object(), "m")


# ---------------------------------------------------------------- reserved attributes

def test_endpoint_method_named_target_is_a_type_error() -> None:
    class Bad:
        def target(self, ctxt: Any) -> None:
            pass

    with pytest.raises(TypeError, match="reserved Endpoint attribute"):
        RPCDispatcher([Bad()])


@pytest.mark.parametrize("value", ["topic", {"namespace": "ns"}, 1])
def test_endpoint_target_attribute_must_be_a_target(value: Any) -> None:
    class Bad:
        target = value

    with pytest.raises(TypeError):
        RPCDispatcher([Recorder("ok"), Bad()])


def test_non_callable_attribute_is_no_such_method() -> None:
    with pytest.raises(NoSuchMethod):
        RPCDispatcher([Mixed()]).dispatch(incoming("not_callable"))


def test_calling_target_is_no_such_method() -> None:
    ep = Recorder("a", Target(version="1.0"))
    with pytest.raises(NoSuchMethod):
        RPCDispatcher([ep]).dispatch(incoming("target"))


@pytest.mark.parametrize("method", [None, 5, ["ping"]])
def test_non_string_method_is_no_such_method(method: Any) -> None:
    with pytest.raises(NoSuchMethod):
        RPCDispatcher([Recorder("a")]).dispatch(incoming(method))


# ---------------------------------------------------------------- exceptions

def test_endpoint_exceptions_pass_through() -> None:
    class Boom:
        def m(self, ctxt: Any) -> None:
            raise KeyError("k")

    with pytest.raises(KeyError):
        RPCDispatcher([Boom()]).dispatch(incoming("m"))


class Expecting:
    @expected_exceptions(ValueError, KeyError)
    def m(self, ctxt: Any, kind: str = "value") -> str:
        if kind == "value":
            raise ValueError("expected")
        if kind == "sub":
            raise UnicodeError("subclass of ValueError")
        if kind == "other":
            raise TypeError("not expected")
        return "ok"


def test_expected_exceptions_wraps_the_original() -> None:
    with pytest.raises(ExpectedException) as info:
        RPCDispatcher([Expecting()]).dispatch(incoming("m", {"kind": "value"}))
    exc_type, exc_value, tb = info.value.exc_info
    assert exc_type is ValueError
    assert isinstance(exc_value, ValueError)
    assert exc_value.args == ("expected",)
    assert tb is not None


def test_expected_exceptions_match_subclasses() -> None:
    with pytest.raises(ExpectedException) as info:
        RPCDispatcher([Expecting()]).dispatch(incoming("m", {"kind": "sub"}))
    assert info.value.exc_info[0] is UnicodeError


def test_unexpected_exceptions_pass_through() -> None:
    with pytest.raises(TypeError, match="not expected"):
        RPCDispatcher([Expecting()]).dispatch(incoming("m", {"kind": "other"}))


def test_expected_exceptions_return_value_unchanged() -> None:
    assert RPCDispatcher([Expecting()]).dispatch(incoming("m", {"kind": "none"})) == "ok"


def test_expected_exception_records_exc_info_at_construction() -> None:
    try:
        raise LookupError("x")
    except LookupError:
        exc = ExpectedException()
    assert exc.exc_info[0] is LookupError
    assert exc.args == ()
    assert sys.exc_info() == (None, None, None)


def test_expose_outside_expected_exceptions() -> None:
    class Endpoint:
        @expose
        @expected_exceptions(ValueError)
        def m(self, ctxt: Any) -> str:
            raise ValueError("v")

    with pytest.raises(ExpectedException):
        RPCDispatcher([Endpoint()], access_policy=ExplicitRPCAccessPolicy).dispatch(
            incoming("m"))


# ---------------------------------------------------------------- serializer

def test_serializer_hooks_are_called() -> None:
    ser = RecordingSerializer()
    ep = Recorder("result")
    out = RPCDispatcher([ep], ser).dispatch(incoming(args={"a": 1, "b": 2}))
    ctx = {"deserialized": CTXT}
    assert out == ("out", "result")
    assert ep.calls == [(ctx, {"a": ("in", 1), "b": ("in", 2)})]
    assert ser.log[0] == ("deserialize_context", CTXT)
    assert sorted(ser.log[1:3]) == [("deserialize_entity", ctx, 1),
                                    ("deserialize_entity", ctx, 2)]
    assert ser.log[3] == ("serialize_entity", ctx, "result")
    assert len(ser.log) == 4


def test_serializer_sees_none_results() -> None:
    class Nothing:
        def m(self, ctxt: Any) -> None:
            return None

    ser = RecordingSerializer()
    assert RPCDispatcher([Nothing()], ser).dispatch(incoming("m")) == ("out", None)


def test_serializer_not_called_for_unknown_method() -> None:
    ser = RecordingSerializer()
    with pytest.raises(NoSuchMethod):
        RPCDispatcher([Recorder("a")], ser).dispatch(incoming("nope"))
    assert ser.log == []


def test_default_serializer_is_noop() -> None:
    assert isinstance(RPCDispatcher([]).serializer, NoOpSerializer)


# ---------------------------------------------------------------- generators

class Streaming:
    def __init__(self) -> None:
        self.produced: list[int] = []

    def count(self, ctxt: Any, n: int) -> Iterator[int]:
        for i in range(n):
            self.produced.append(i)
            yield i


def test_generator_method_returns_a_streamed_result() -> None:
    ep = Streaming()
    result = RPCDispatcher([ep]).dispatch(incoming("count", {"n": 3}))
    assert isinstance(result, StreamedResult)
    assert list(result) == [0, 1, 2]


class PassArgsSerializer(RecordingSerializer):
    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity


def test_streamed_values_are_serialized_lazily() -> None:
    ser = PassArgsSerializer()
    ep = Streaming()
    result = RPCDispatcher([ep], ser).dispatch(incoming("count", {"n": 2}))
    assert isinstance(result, StreamedResult)
    assert ep.produced == []
    assert not [entry for entry in ser.log if entry[0] == "serialize_entity"]
    it = iter(result)
    assert next(it) == ("out", 0)
    assert ep.produced == [0]
    assert len([entry for entry in ser.log if entry[0] == "serialize_entity"]) == 1
    assert list(it) == [("out", 1)]
    assert ep.produced == [0, 1]


def test_generator_exceptions_surface_during_iteration() -> None:
    class Failing:
        def m(self, ctxt: Any) -> Iterator[int]:
            yield 1
            raise ValueError("mid-stream")

    result = RPCDispatcher([Failing()]).dispatch(incoming("m"))
    it = iter(result)
    assert next(it) == 1
    with pytest.raises(ValueError, match="mid-stream"):
        next(it)


def test_list_result_is_not_streamed() -> None:
    class Lister:
        def m(self, ctxt: Any) -> list[int]:
            return [1, 2]

    assert RPCDispatcher([Lister()]).dispatch(incoming("m")) == [1, 2]


def test_explicit_null_version_and_namespace_mean_the_defaults() -> None:
    # Decision: a JSON null 'version' is taken as '1.0', as the legacy dispatcher did
    # (oslo.messaging would answer UnsupportedVersion(None)).
    msg = IncomingMessage({}, {"method": "ping", "args": {}, "version": None, "namespace": None})
    assert RPCDispatcher([Recorder("a")]).dispatch(msg) == "a"

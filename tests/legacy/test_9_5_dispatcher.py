"""Spec 9.5: ``RpcDispatcher`` (pure dispatch logic, no broker), plus its end-to-end use
through a consumer on fake and on RabbitMQ."""

from __future__ import annotations

from typing import Any

import pytest

from legacy_rpc import rpc
from legacy_rpc.rpc import common, dispatcher
from tests.legacy.conftest import LegacyEnv


class _API:
    RPC_API_VERSION: str | None = None

    def __init__(self) -> None:
        self.test_method_ctxt: Any = None
        self.test_method_arg1: Any = None

    def test_method(self, ctxt: Any, arg1: Any) -> Any:
        self.test_method_ctxt = ctxt
        self.test_method_arg1 = arg1
        return "fake-result"


class API1(_API):
    RPC_API_VERSION = "1.0"


class API2(_API):
    RPC_API_VERSION = "2.1"


class API3(_API):
    RPC_API_VERSION = "3.5"


class API4(_API):
    RPC_API_VERSION = "1.0"
    RPC_API_NAMESPACE = "testapi"


CTXT = {"test": "context"}


def _dispatch(callbacks: list[Any], version: str | None, namespace: str | None = None,
              method: str = "test_method") -> Any:
    return dispatcher.RpcDispatcher(callbacks).dispatch(CTXT, version, method, namespace,
                                                        arg1=1)


def _check(version: str, reached: int) -> None:
    v2, v3 = API2(), API3()
    _dispatch([v2, v3], version)
    assert (v2.test_method_arg1, v3.test_method_arg1) == ((1, None) if reached == 2
                                                           else (None, 1))
    target = v2 if reached == 2 else v3
    assert target.test_method_ctxt is CTXT


def test_9_5_dispatch() -> None:
    _check("2.1", 2)
    _check("3.5", 3)


def test_9_5_dispatch_lower_minor_version() -> None:
    _check("2.0", 2)
    _check("3.1", 3)


@pytest.mark.parametrize("version", ["2.6", "3.6"])
def test_9_5_dispatch_higher_minor_version(version: str) -> None:
    with pytest.raises(common.UnsupportedRpcVersion):
        _dispatch([API2(), API3()], version)


def test_9_5_dispatch_lower_major_version() -> None:
    with pytest.raises(common.UnsupportedRpcVersion):
        _dispatch([API2(), API3()], "1.0")


def test_9_5_dispatch_higher_major_version() -> None:
    with pytest.raises(common.UnsupportedRpcVersion):
        _dispatch([API2(), API3()], "4.0")


def test_9_5_dispatch_no_version_uses_v1() -> None:
    v1 = API1()
    assert _dispatch([v1, API2(), API3()], None) == "fake-result"
    assert v1.test_method_arg1 == 1


def test_9_5_missing_method_version_match() -> None:
    with pytest.raises(AttributeError, match="No such RPC function 'does_not_exist'"):
        _dispatch([API1()], "1.0", method="does_not_exist")


def test_9_5_missing_method_version_no_match() -> None:
    with pytest.raises(common.UnsupportedRpcVersion):
        _dispatch([API1()], "1.1", method="does_not_exist")


def test_9_5_method_without_namespace() -> None:
    v1, v4 = API1(), API4()
    _dispatch([v1, v4], "1.0")
    assert (v1.test_method_arg1, v4.test_method_arg1) == (1, None)


def test_9_5_method_with_namespace() -> None:
    v1, v4 = API1(), API4()
    _dispatch([v1, v4], "1.0", namespace="testapi")
    assert (v1.test_method_arg1, v4.test_method_arg1) == (None, 1)


class _Serializer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        self.calls.append(("serialize", ctxt, entity))
        return "worked!"

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        self.calls.append(("deserialize", ctxt, entity))
        return "arg-deserialized"


def test_9_5_serializer() -> None:
    v1 = API1()
    serializer = _Serializer()
    result = dispatcher.RpcDispatcher([v1], serializer).dispatch(CTXT, "1.0", "test_method",
                                                                 None, arg1=1)
    assert result == "worked!"
    assert v1.test_method_arg1 == "arg-deserialized"
    assert serializer.calls == [("deserialize", CTXT, 1), ("serialize", CTXT, "fake-result")]


def test_9_5_private_methods_refused() -> None:
    """Spec 10.13 allowed any name; a name starting with '_' is now reported as missing."""

    class Secretive(API1):
        def _internal(self, ctxt: Any, arg1: Any) -> str:
            return "private"

    with pytest.raises(AttributeError, match="No such RPC function '_internal'"):
        _dispatch([Secretive()], "1.0", method="_internal")
    with pytest.raises(AttributeError):
        _dispatch([Secretive()], "1.0", method="__init__")


def test_9_5_dispatch_end_to_end(legacy: LegacyEnv, context: Any) -> None:
    """Version and namespace travel in the message and select the manager."""
    topic = legacy.topic("api")
    managers = [API1(), API2(), API4()]
    legacy.consumer(topic, managers)
    msg = {"method": "test_method", "args": {"arg1": "x"}, "version": "2.0",
           "namespace": None}
    assert rpc.call(context, topic, msg) == "fake-result"
    assert managers[1].test_method_arg1 == "x" and managers[0].test_method_arg1 is None
    msg = {"method": "test_method", "args": {"arg1": "y"}, "namespace": "testapi"}
    assert rpc.call(context, topic, msg) == "fake-result"
    assert managers[2].test_method_arg1 == "y"
    with pytest.raises(common.RemoteError) as info:  # legacy_rpc.rpc.common not allowed
        rpc.call(context, topic, dict(msg, version="9.0"))
    assert info.value.exc_type == "UnsupportedRpcVersion"
    with pytest.raises(AttributeError, match="No such RPC function '_secret'"):
        rpc.call(context, topic, {"method": "_secret", "args": {}})

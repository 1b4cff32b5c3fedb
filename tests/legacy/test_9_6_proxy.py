"""Spec 9.6: ``RpcProxy`` — what it hands to the module functions (replaced through the
``legacy_rpc.rpc`` module attributes, as the original tests did), and end to end through a
consumer on fake and on RabbitMQ."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from legacy_rpc import rpc
from legacy_rpc.rpc import common, proxy
from tests.legacy.conftest import LegacyEnv

CTXT = {"a": "b"}


class _Recorded:
    """Replaces one rpc function; records its positional arguments."""

    def __init__(self, result: Any = None, raises: BaseException | None = None) -> None:
        self.args: tuple[Any, ...] | None = None
        self.kwargs: dict[str, Any] | None = None
        self.result = result
        self.raises = raises

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.args = copy.deepcopy(args)
        self.kwargs = kwargs
        if self.raises is not None:
            raise self.raises
        return self.result


def _msg() -> dict[str, Any]:
    return {"method": "fake_method", "args": {"x": "y"}}


def _expected(version: str = "1.0") -> dict[str, Any]:
    return {"method": "fake_method", "args": {"x": "y"}, "version": version}


@pytest.mark.parametrize("name", ["call", "multicall"])
def test_9_6_call_and_multicall(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    rpc_proxy = proxy.RpcProxy("fake_topic", "1.0")
    fake = _Recorded(result="42")
    monkeypatch.setattr(rpc, name, fake)
    send = getattr(rpc_proxy, name)

    assert send(CTXT, _msg()) == "42"
    assert fake.args == (CTXT, "fake_topic", _expected(), None) and fake.kwargs == {}

    send(CTXT, _msg(), version="1.1")
    assert fake.args == (CTXT, "fake_topic", _expected("1.1"), None)

    capped = proxy.RpcProxy("fake_topic", "1.0", version_cap="1.0")
    monkeypatch.setattr(rpc, name, fake)
    with pytest.raises(common.RpcVersionCapError):
        getattr(capped, name)(CTXT, _msg(), version="1.1")

    send(CTXT, _msg(), timeout=42)
    assert fake.args == (CTXT, "fake_topic", _expected(), 42)

    send(CTXT, _msg(), topic="foo.bar")
    assert fake.args == (CTXT, "foo.bar", _expected(), None)

    monkeypatch.setattr(rpc, name, _Recorded(raises=common.Timeout("The spider got you")))
    with pytest.raises(common.Timeout) as info:
        send(CTXT, _msg())
    assert info.value.info == "The spider got you"
    assert info.value.topic == "fake_topic" and info.value.method == "fake_method"
    assert str(info.value) == ('Timeout while waiting on RPC response - topic: '
                               '"fake_topic", RPC method: "fake_method" info: '
                               '"The spider got you"')


@pytest.mark.parametrize("name", ["cast", "fanout_cast"])
def test_9_6_cast_and_fanout_cast(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    rpc_proxy = proxy.RpcProxy("fake_topic", "1.0")
    fake = _Recorded()
    monkeypatch.setattr(rpc, name, fake)
    send = getattr(rpc_proxy, name)
    assert send(CTXT, _msg()) is None
    assert fake.args == (CTXT, "fake_topic", _expected())
    send(CTXT, _msg(), version="1.1")
    assert fake.args == (CTXT, "fake_topic", _expected("1.1"))
    send(CTXT, _msg(), topic="foo.bar")
    assert fake.args == (CTXT, "foo.bar", _expected())
    with pytest.raises(common.RpcVersionCapError):
        getattr(proxy.RpcProxy("fake_topic", "1.0", version_cap="1.0"), name)(
            CTXT, _msg(), version="1.1")


@pytest.mark.parametrize("name", ["cast_to_server", "fanout_cast_to_server"])
def test_9_6_cast_to_server_and_fanout(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    rpc_proxy = proxy.RpcProxy("fake_topic", "1.0")
    fake = _Recorded()
    monkeypatch.setattr(rpc, name, fake)
    params = {"hostname": "h"}
    assert getattr(rpc_proxy, name)(CTXT, params, _msg()) is None
    assert fake.args == (CTXT, params, "fake_topic", _expected())
    getattr(rpc_proxy, name)(CTXT, params, _msg(), topic="foo.bar")
    assert fake.args == (CTXT, params, "foo.bar", _expected())


def test_9_6_make_namespaced_msg() -> None:
    msg = proxy.RpcProxy.make_namespaced_msg("test_method", "x", a=1, b=2)
    assert msg == {"method": "test_method", "namespace": "x", "args": {"a": 1, "b": 2}}


def test_9_6_make_msg_with_no_namespace() -> None:
    msg = proxy.RpcProxy("fake", "1.0").make_msg("test_method", a=1, b=2)
    assert msg == {"method": "test_method", "namespace": None, "args": {"a": 1, "b": 2}}


def test_9_6_make_msg_with_namespace() -> None:
    class TestProxy(proxy.RpcProxy):
        RPC_API_NAMESPACE = "meow"

    msg = TestProxy("fake", "1.0").make_msg("test_method", a=1, b=2)
    assert msg == {"method": "test_method", "namespace": "meow", "args": {"a": 1, "b": 2}}


class _Serializer:
    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return f"s{entity}"

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return "worked!" if entity == "foo" else entity


def test_9_6_serializer(monkeypatch: pytest.MonkeyPatch) -> None:
    rpc_proxy = proxy.RpcProxy("fake", "1.0", serializer=_Serializer())
    fake = _Recorded(result="foo")
    monkeypatch.setattr(rpc, "call", fake)
    msg = rpc_proxy.make_msg("foo", a=1, b=2)
    assert rpc_proxy.call(CTXT, msg) == "worked!"
    assert fake.args == (CTXT, "fake", {"args": {"a": "s1", "b": "s2"}, "namespace": None,
                                        "method": "foo", "version": "1.0"}, None)


def test_9_6_can_send_version() -> None:
    rpc_proxy = proxy.RpcProxy("fake", "1.0", version_cap="1.5")
    assert rpc_proxy.can_send_version("1.5")
    assert not rpc_proxy.can_send_version("1.6")


def test_9_6_can_send_version_with_no_cap() -> None:
    rpc_proxy = proxy.RpcProxy("fake", "1.0")
    assert rpc_proxy.can_send_version("1.5")
    assert rpc_proxy.can_send_version("1.99")


def test_9_6_proxy_end_to_end(legacy: LegacyEnv, context: Any) -> None:
    class Manager:
        RPC_API_VERSION = "1.2"

        def add(self, ctxt: Any, a: int, b: int) -> int:
            return a + b

        def count(self, ctxt: Any, n: int) -> Any:
            yield from range(n)

    class ClientAPI(proxy.RpcProxy):
        def add(self, ctxt: Any, a: int, b: int) -> Any:
            return self.call(ctxt, self.make_msg("add", a=a, b=b), version="1.1")

    topic = legacy.topic("api")
    legacy.consumer(topic, [Manager()])
    api = ClientAPI(topic, "1.0", version_cap="1.2")
    assert api.add(context, 1, 2) == 3
    assert list(api.multicall(context, api.make_msg("count", n=3))) == [0, 1, 2]
    with pytest.raises(common.RpcVersionCapError):
        api.call(context, api.make_msg("add", a=1, b=2), version="1.3")
    with pytest.raises(common.RemoteError) as info:  # the manager is at 1.2
        ClientAPI(topic, "1.3").call(context, api.make_msg("add", a=1, b=2))
    assert info.value.exc_type == "UnsupportedRpcVersion"

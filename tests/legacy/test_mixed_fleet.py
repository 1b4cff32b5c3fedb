"""Mixed fleet on RabbitMQ: legacy-API services and clients with new-style ones (our core)
and with unmodified oslo.messaging 18.3.1 peers (``tests/interop/oslo_peer.py``, run in
their own processes).

- a legacy-API service answers a new-style client and an oslo.messaging client;
- a legacy-API client calls a new-style server and an oslo.messaging server;
- legacy notifications reach an oslo.messaging listener (a new-style listener:
  ``test_9_9_bus_drivers_reach_new_style_listener``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from legacy_rpc import messaging, rpc
from legacy_rpc.notifier import api as notifier_api
from legacy_rpc.rpc import common, proxy, service
from tests.interop.conftest import OsloPeer, fields
from tests.interop.interop_errors import InteropError
from tests.legacy.conftest import Janitor, LegacyEnv, Recorder

pytestmark = pytest.mark.interop

CTXT = {"user": "u1", "project_id": "p1", "roles": ["admin"]}


@pytest.fixture
def legacy_rabbit(rabbit_url: str, janitor: Janitor) -> Iterator[LegacyEnv]:
    env = LegacyEnv("rabbit", rabbit_url, janitor)
    yield env
    env.close()


@pytest.fixture
def start_peer(legacy_rabbit: LegacyEnv) -> Iterator[Callable[..., OsloPeer]]:
    peers: list[OsloPeer] = []

    def start(role: str, topic: str, servers: tuple[str, ...] = (),
              listeners: tuple[dict[str, Any], ...] = ()) -> OsloPeer:
        assert legacy_rabbit.rabbit_url is not None
        args = ["--url", legacy_rabbit.rabbit_url, "--exchange", legacy_rabbit.exchange,
                "--topic", topic]
        for server in servers:
            args += ["--server", server]
            legacy_rabbit.queue(f"{topic}.{server}")
        for listener in listeners:
            args += ["--listener", json.dumps(listener)]
        peer = OsloPeer(role, args, f"{role}-{topic}")
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        peer.close()


class LegacyManager:
    """A legacy manager, as old services wrote them."""

    RPC_API_VERSION = "1.1"

    def __init__(self, host: str, recorder: Recorder) -> None:
        self.host = host
        self.recorder = recorder

    def echo(self, ctxt: Any, **kwargs: Any) -> dict[str, Any]:
        return {"args": kwargs, "ctxt": ctxt.to_dict(), "server": self.host}

    def whoami(self, ctxt: Any) -> str:
        return self.host

    def record(self, ctxt: Any, tag: str) -> None:
        self.recorder.add((tag, self.host, ctxt.to_dict()))

    def count(self, ctxt: Any, n: int) -> Any:
        yield from range(n)

    def fail_custom(self, ctxt: Any, message: str, code: int) -> None:
        raise InteropError(message, code=code)


@pytest.fixture
def legacy_services(legacy_rabbit: LegacyEnv) -> Iterator[tuple[str, Recorder]]:
    """Two legacy ``Service`` instances (host1, host2) on one topic."""
    topic = legacy_rabbit.topic("legacy-svc")
    recorder = Recorder()
    services = [service.Service(host, topic, LegacyManager(host, recorder))
                for host in ("host1", "host2")]
    for svc in services:
        legacy_rabbit.queue(f"{topic}.{svc.host}")
        svc.start()
    yield topic, recorder
    for svc in services:
        svc.stop()


def test_mixed_legacy_service_answers_new_style_client(
        legacy_rabbit: LegacyEnv, legacy_services: tuple[str, Recorder]) -> None:
    topic, recorder = legacy_services
    transport = messaging.get_rpc_transport(legacy_rabbit.transport.conf,
                                            allowed_remote_exmods=[InteropError.__module__])
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        result = client.call(CTXT, "echo", a=1)
        assert result["args"] == {"a": 1} and result["ctxt"] == CTXT
        assert client.prepare(server="host2").call(CTXT, "whoami") == "host2"
        assert client.prepare(version="1.1").call(CTXT, "count", n=3) == 2
        assert list(client.stream(CTXT, "count", n=3)) == [0, 1, 2]
        client.prepare(fanout=True).cast(CTXT, "record", tag="fanout")
        assert sorted(r[1] for r in recorder.wait(2)) == ["host1", "host2"]
        with pytest.raises(InteropError) as info:
            client.call(CTXT, "fail_custom", message="bad", code=7)
        assert info.value.code == 7
        with pytest.raises(messaging.RemoteError):  # 1.1 cannot serve 1.2
            client.prepare(version="1.2").call(CTXT, "whoami")
    finally:
        transport.cleanup()


def test_mixed_legacy_service_answers_oslo_client(
        legacy_services: tuple[str, Recorder], start_peer: Callable[..., OsloPeer]) -> None:
    topic, recorder = legacy_services
    peer = start_peer("client", topic)
    peer.wait_ready()
    result = peer.ok("call", method="echo", args={"a": [1, "two"]}, ctxt=CTXT)
    assert result["args"] == {"a": [1, "two"]}
    assert result["ctxt"] == CTXT  # exactly the caller's context (no client_timeout)
    assert peer.ok("call", method="whoami", server="host1") == "host1"
    assert peer.ok("call", method="count", args={"n": 4}) == 3  # the last value
    peer.ok("cast", method="record", args={"tag": "oslo-fanout"}, ctxt=CTXT, fanout=True)
    got = recorder.wait(2)
    assert sorted(r[1] for r in got) == ["host1", "host2"] and got[0][2] == CTXT
    line = peer.request("call", method="fail_custom", args={"message": "bad", "code": 3})
    assert not line["ok"]
    assert "tests.interop.interop_errors.InteropError" in line["error"]["mro"]
    assert line["error"]["kwargs"] == {"code": 3}


def test_mixed_legacy_client_calls_new_style_server(legacy_rabbit: LegacyEnv) -> None:
    topic = legacy_rabbit.topic("core-svc")
    recorder = Recorder()

    class Endpoint:
        target = messaging.Target(namespace="ns", version="2.3")

        def add(self, ctxt: dict[str, Any], a: int, b: int) -> dict[str, Any]:
            return {"sum": a + b, "ctxt": ctxt}

        def count(self, ctxt: dict[str, Any], n: int) -> Any:
            yield from range(n)

        def record(self, ctxt: dict[str, Any], tag: str) -> None:
            recorder.add(tag)

    class ClientAPI(proxy.RpcProxy):
        RPC_API_NAMESPACE = "ns"

    transport = legacy_rabbit.transport  # the legacy API's own transport: one process
    servers = []
    for host in ("n1", "n2"):
        legacy_rabbit.queue(f"{topic}.{host}")
        server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server=host),
                                          [Endpoint()])
        server.start()
        servers.append(server)
    try:
        api = ClientAPI(topic, "2.0")
        result = api.call(CTXT, api.make_msg("add", a=1, b=2), version="2.3")
        assert result["sum"] == 3
        assert {k: result["ctxt"][k] for k in CTXT} == CTXT
        assert list(api.multicall(CTXT, api.make_msg("count", n=3))) == [0, 1, 2]
        assert api.call(CTXT, api.make_msg("count", n=3)) == 2
        api.fanout_cast(CTXT, api.make_msg("record", tag="f"))
        api.cast(CTXT, api.make_msg("record", tag="c"),
                 topic=rpc.queue_get_for(CTXT, topic, "n2"))
        assert sorted(recorder.wait(3)) == ["c", "f", "f"]
        with pytest.raises(common.RemoteError) as info:
            api.call(CTXT, api.make_msg("add", a=1, b=2), version="3.0")
        assert info.value.exc_type == "UnsupportedVersion"
    finally:
        for server in servers:
            server.stop()
            server.wait()


def test_mixed_legacy_client_calls_oslo_server(legacy_rabbit: LegacyEnv,
                                               start_peer: Callable[..., OsloPeer]) -> None:
    topic = legacy_rabbit.topic("oslo-svc")
    peer = start_peer("server", topic, servers=("s1", "s2"))
    peer.wait_ready(2)
    legacy_rabbit.set("allowed_rpc_exception_modules", ["exceptions", InteropError.__module__])

    result = rpc.call(CTXT, topic, {"method": "echo", "args": {"a": 1}})
    assert result["args"] == {"a": 1} and result["server"] in ("s1", "s2")
    assert {k: result["ctxt"][k] for k in CTXT} == CTXT
    assert rpc.call(CTXT, rpc.queue_get_for(CTXT, topic, "s2"), {"method": "whoami"}) == "s2"
    assert list(rpc.multicall(CTXT, topic, {"method": "whoami"})) in (["s1"], ["s2"])

    class VersionedAPI(proxy.RpcProxy):
        RPC_API_NAMESPACE = "ns"

    api = VersionedAPI(topic, "1.3")
    assert api.call(CTXT, api.make_msg("versioned", x=5))["x"] == 5

    rpc.fanout_cast(CTXT, topic, {"method": "record", "args": {"tag": "legacy-fanout"}})
    lines = peer.wait_lines(fields(event="rpc", method="record"), count=2)
    assert sorted(line["server"] for line in lines) == ["s1", "s2"]
    assert lines[0]["args"] == {"tag": "legacy-fanout"}

    with pytest.raises(ValueError) as value_error:
        rpc.call(CTXT, topic, {"method": "fail_value", "args": {"text": "bad"}})
    assert value_error.value.args == ("bad", 42)
    with pytest.raises(InteropError) as custom:
        rpc.call(CTXT, topic, {"method": "fail_custom", "args": {"message": "m", "code": 9}})
    assert custom.value.code == 9
    with pytest.raises(common.Timeout):
        rpc.call(CTXT, topic, {"method": "slow", "args": {"seconds": 3}}, timeout=1)


@pytest.mark.parametrize("driver", ["nova.openstack.common.notifier.rpc_notifier",
                                    "nova.openstack.common.notifier.rpc_notifier2"])
def test_mixed_legacy_notifications_reach_oslo_listener(
        legacy_rabbit: LegacyEnv, start_peer: Callable[..., OsloPeer], driver: str) -> None:
    topic = legacy_rabbit.topic("notifications")
    for priority in ("info", "error"):
        legacy_rabbit.queue(f"{topic}.{priority}")
    peer = start_peer("listener", topic, listeners=({"name": "l1", "topic": topic},))
    peer.wait_ready()
    legacy_rabbit.set("notification_driver", [driver])
    legacy_rabbit.set("notification_topics", [topic])
    legacy_rabbit.set("topics", [topic], group="rpc_notifier2")
    notifier_api._reset_drivers()

    ctxt = common.CommonRpcContext(user="u1", tenant="t1", auth_token="secret")
    notifier_api.notify(ctxt, "compute.host1", "compute.instance.create.end",
                        notifier_api.INFO, {"instance_id": 7})
    notifier_api.notify(None, "compute.host1", "compute.instance.error",
                        notifier_api.ERROR, {"reason": "x"})
    lines = peer.wait_lines(fields(event="notification"), count=2)
    by_priority = {line["priority"]: line for line in lines}
    info = by_priority["info"]
    assert info["publisher_id"] == "compute.host1"
    assert info["event_type"] == "compute.instance.create.end"
    assert info["payload"] == {"instance_id": 7}
    assert info["ctxt"]["user"] == "u1" and "auth_token" not in info["ctxt"]
    assert info["metadata"]["message_id"] and info["metadata"]["timestamp"]
    assert by_priority["error"]["payload"] == {"reason": "x"}
    assert by_priority["error"]["ctxt"]["is_admin"] is True  # no context: an admin one

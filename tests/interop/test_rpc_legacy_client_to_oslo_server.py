"""legacy_rpc RPC client -> oslo.messaging 18.3.1 RPC servers (another process).

One oslo peer process runs three RPC servers (``o1``, ``o2``, ``o3``) on one topic, each
with its own queues; our client, in this process, calls and casts to them over RabbitMQ.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

import legacy_rpc.messaging as messaging
from tests.interop.conftest import Janitor, OsloPeer, StartPeer, fields, legacy_conf
from tests.interop.interop_errors import MODULE as ERRORS_MODULE
from tests.interop.interop_errors import InteropError

pytestmark = pytest.mark.interop

SERVERS = ("o1", "o2", "o3")
CTXT = {"user": "u1", "project_id": "p1", "roles": ["admin", "member"], "request_id": "req-1"}


@pytest.fixture(scope="module")
def names(run_id: str, janitor: Janitor) -> dict[str, str]:
    topic, exchange = f"interop-{run_id}-oslo", f"interop-{run_id}-x-oslo"
    janitor.queues.update([topic, *(f"{topic}.{s}" for s in SERVERS)])
    janitor.exchanges.update([exchange, f"{topic}_fanout"])
    return {"topic": topic, "exchange": exchange}


@pytest.fixture(scope="module")
def oslo_servers(start_peer: StartPeer, names: dict[str, str]) -> OsloPeer:
    peer = start_peer("server", exchange=names["exchange"], topic=names["topic"],
                      servers=list(SERVERS), label="oslo-servers")
    # A fanout cast only reaches servers whose fanout queue exists: wait for every one.
    ready = peer.wait_ready(count=len(SERVERS))
    assert sorted(line["server"] for line in ready) == sorted(SERVERS)
    return peer


@pytest.fixture(scope="module")
def transport(rabbit_url: str, names: dict[str, str]) -> Iterator[messaging.Transport]:
    conf = legacy_conf(names["exchange"])
    t = messaging.get_rpc_transport(conf, rabbit_url, allowed_remote_exmods=[ERRORS_MODULE])
    yield t
    t.cleanup()


@pytest.fixture
def client(transport: messaging.Transport, names: dict[str, str],
           oslo_servers: OsloPeer) -> messaging.RPCClient:
    target = messaging.Target(topic=names["topic"], exchange=names["exchange"])
    return messaging.get_rpc_client(transport, target, timeout=20)


def _records(peer: OsloPeer, tag: str, count: int = 1) -> list[dict[str, Any]]:
    return peer.wait_lines(lambda line: line.get("event") == "rpc"
                           and line.get("args", {}).get("tag") == tag,
                           count, what=f"{count} 'rpc' line(s) with tag {tag!r}")


# --------------------------------------------------------------------------- calls

def test_call_round_trips_args_and_context(client: messaging.RPCClient) -> None:
    args = {"i": 7, "f": 2.5, "s": "héllo ✓", "b": True, "n": None, "l": [1, "two", [3]],
            "d": {"nested": {"k": "v"}}}
    result = client.call(CTXT, "echo", **args)
    assert result["args"] == args
    # the oslo server saw our context, plus client_timeout from our (null) _timeout
    assert result["ctxt"] == {**CTXT, "client_timeout": None}
    assert result["server"] in SERVERS


def test_call_monitor_timeout_reaches_oslo_endpoint_as_client_timeout(
        client: messaging.RPCClient) -> None:
    result = client.prepare(call_monitor_timeout=10).call(CTXT, "echo")
    assert result["ctxt"]["client_timeout"] == 10


def test_server_targeted_call_reaches_that_server(client: messaging.RPCClient) -> None:
    for name in SERVERS:
        for _ in range(3):
            assert client.prepare(server=name).call({}, "whoami") == name


# --------------------------------------------------------------------------- casts

def test_cast_is_delivered_with_args_and_context(client: messaging.RPCClient,
                                                 oslo_servers: OsloPeer) -> None:
    client.cast(CTXT, "record", tag="cast-1", value=[1, 2])
    got = _records(oslo_servers, "cast-1")
    assert got[0]["args"] == {"tag": "cast-1", "value": [1, 2]}
    assert got[0]["ctxt"] == {**CTXT, "client_timeout": None}


def test_server_targeted_cast_reaches_that_server(client: messaging.RPCClient,
                                                  oslo_servers: OsloPeer) -> None:
    client.prepare(server="o2").cast({}, "record", tag="cast-to-o2")
    got = _records(oslo_servers, "cast-to-o2")
    assert [line["server"] for line in got] == ["o2"]


def test_fanout_cast_reaches_every_server(client: messaging.RPCClient,
                                          oslo_servers: OsloPeer) -> None:
    client.prepare(fanout=True).cast(CTXT, "record", tag="fanout-1")
    got = _records(oslo_servers, "fanout-1", count=len(SERVERS))
    assert sorted(line["server"] for line in got) == sorted(SERVERS)
    assert all(line["ctxt"] == {**CTXT, "client_timeout": None} for line in got)


# --------------------------------------------------------------------------- versions

@pytest.mark.parametrize("version", ["1.0", "1.2", "1.3"])
def test_namespace_and_compatible_version(client: messaging.RPCClient, version: str) -> None:
    result = client.prepare(namespace="ns", version=version).call({}, "versioned", x=version)
    assert result["x"] == version and result["namespace"] == "ns"


@pytest.mark.parametrize("namespace,version", [("ns", "1.4"), ("ns", "2.0"), ("other", "1.0")])
def test_unsupported_version_is_remote_error(client: messaging.RPCClient, namespace: str,
                                             version: str) -> None:
    with pytest.raises(messaging.RemoteError) as info:
        client.prepare(namespace=namespace, version=version).call({}, "versioned", x=1)
    assert info.value.exc_type == "UnsupportedVersion"
    assert f"Endpoint does not support RPC version {version}" in str(info.value.value)


# --------------------------------------------------------------------------- exceptions

def test_builtin_exception_is_rebuilt_as_its_class(client: messaging.RPCClient) -> None:
    with pytest.raises(ValueError) as info:
        client.call({}, "fail_value", text="bad value")
    assert "bad value" in str(info.value)
    assert "Traceback" in str(info.value)  # the remote traceback comes along


@pytest.mark.parametrize("method,namespace", [("no_such_method", None), ("_secret", None),
                                              ("versioned", None)],
                         ids=["unknown", "private", "in-another-namespace"])
def test_no_such_method_is_remote_error(client: messaging.RPCClient, method: str,
                                        namespace: str | None) -> None:
    with pytest.raises(messaging.RemoteError) as info:
        client.prepare(namespace=namespace).call({}, method)
    assert info.value.exc_type == "NoSuchMethod"
    assert f"Endpoint does not support RPC method {method}" in str(info.value.value)


def test_exception_from_allowed_module_is_rebuilt_as_its_class(
        client: messaging.RPCClient) -> None:
    with pytest.raises(InteropError) as info:
        client.call({}, "fail_custom", message="custom failure", code=42)
    assert info.value.code == 42
    assert "custom failure" in str(info.value)


def test_exception_from_a_module_not_allowed_is_remote_error(
        rabbit_url: str, names: dict[str, str], oslo_servers: OsloPeer) -> None:
    conf = legacy_conf(names["exchange"])
    transport = messaging.get_rpc_transport(conf, rabbit_url)  # no allowed modules
    try:
        client = messaging.get_rpc_client(
            transport, messaging.Target(topic=names["topic"], exchange=names["exchange"]),
            timeout=20)
        with pytest.raises(messaging.RemoteError) as info:
            client.call({}, "fail_custom", message="custom failure", code=42)
        assert info.value.exc_type == "InteropError"
    finally:
        transport.cleanup()


# --------------------------------------------------------------------------- time

def test_call_to_slow_method_times_out(client: messaging.RPCClient) -> None:
    started = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout):
        client.prepare(timeout=1).call({}, "slow", seconds=2)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.0, elapsed


def test_call_monitor_heartbeats_keep_the_call_alive(client: messaging.RPCClient) -> None:
    # Without the oslo server's heartbeats our caller would give up after 2 s.
    started = time.monotonic()
    result = client.prepare(timeout=20, call_monitor_timeout=2).call(CTXT, "slow", seconds=4)
    assert time.monotonic() - started >= 4
    assert result["slept"] == 4
    assert result["ctxt"]["client_timeout"] == 2


def test_servers_answered_from_an_oslo_process(oslo_servers: OsloPeer) -> None:
    ready = oslo_servers.lines(fields(event="ready"))
    assert {line["oslo_messaging"] for line in ready} == {"18.3.1"}
    assert not any(line["legacy_rpc_loaded"] for line in ready)

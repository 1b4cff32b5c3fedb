"""oslo.messaging 18.3.1 RPC client (another process) -> legacy_rpc RPC servers.

Three of our servers (``s1``, ``s2``, ``s3``) listen on one topic in this process; one oslo
client process, driven by commands, calls and casts to them over RabbitMQ.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import legacy_rpc.messaging as messaging
from tests.helpers import wait_for
from tests.interop.conftest import Janitor, OsloPeer, StartPeer, legacy_conf
from tests.interop.interop_errors import InteropError

pytestmark = pytest.mark.interop

SERVERS = ("s1", "s2", "s3")
CTXT = {"user": "u1", "project_id": "p1", "roles": ["admin", "member"], "request_id": "req-1"}


class Recorder:
    """What our endpoints received, shared by the servers of the module."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: list[dict[str, Any]] = []

    def add(self, **event: Any) -> None:
        with self.lock:
            self.records.append(event)

    def matching(self, **expected: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.records
                    if all(r.get(k) == v for k, v in expected.items())]


class LegacyEndpoint:
    def __init__(self, name: str, recorder: Recorder) -> None:
        self.name = name
        self.recorder = recorder

    def echo(self, ctxt: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {"args": kwargs, "ctxt": ctxt, "server": self.name}

    def whoami(self, ctxt: dict[str, Any]) -> str:
        return self.name

    def record(self, ctxt: dict[str, Any], tag: str, **kwargs: Any) -> None:
        self.recorder.add(server=self.name, tag=tag, args=kwargs, ctxt=dict(ctxt))

    def fail_value(self, ctxt: dict[str, Any], text: str) -> None:
        raise ValueError(text, 42)

    def fail_custom(self, ctxt: dict[str, Any], message: str, code: int) -> None:
        raise InteropError(message, code=code)

    def slow(self, ctxt: dict[str, Any], seconds: float) -> dict[str, Any]:
        time.sleep(seconds)  # the slowness is what the caller tests
        return {"slept": seconds, "ctxt": ctxt, "server": self.name}

    def count(self, ctxt: dict[str, Any], n: int) -> Iterator[int]:
        yield from range(n)

    def sequence(self, ctxt: dict[str, Any], values: list[Any]) -> Iterator[Any]:
        yield from values

    def _secret(self, ctxt: dict[str, Any]) -> str:
        return "private methods must not be callable remotely"


class VersionedEndpoint:
    target = messaging.Target(namespace="ns", version="1.3")

    def __init__(self, name: str) -> None:
        self.name = name

    def versioned(self, ctxt: dict[str, Any], x: Any) -> dict[str, Any]:
        return {"x": x, "namespace": "ns", "server": self.name}


@pytest.fixture(scope="module")
def names(run_id: str, janitor: Janitor) -> dict[str, str]:
    topic, exchange = f"interop-{run_id}-ours", f"interop-{run_id}-x-ours"
    janitor.queues.update([topic, *(f"{topic}.{s}" for s in SERVERS)])
    janitor.exchanges.update([exchange, f"{topic}_fanout"])
    return {"topic": topic, "exchange": exchange}


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def oslo_client(start_peer: StartPeer, names: dict[str, str]) -> OsloPeer:
    # Started first: the interpreter starts while our servers declare their queues.
    return start_peer("client", exchange=names["exchange"], topic=names["topic"],
                      label="oslo-client")


@pytest.fixture(scope="module")
def legacy_servers(rabbit_url: str, names: dict[str, str], recorder: Recorder,
                   oslo_client: OsloPeer) -> Iterator[dict[str, messaging.MessageHandlingServer]]:
    conf = legacy_conf(names["exchange"])
    transport = messaging.get_rpc_transport(conf, rabbit_url)
    servers: dict[str, messaging.MessageHandlingServer] = {}
    try:
        for name in SERVERS:
            target = messaging.Target(topic=names["topic"], server=name,
                                      exchange=names["exchange"])
            server: messaging.MessageHandlingServer = messaging.get_rpc_server(
                transport, target, [LegacyEndpoint(name, recorder), VersionedEndpoint(name)],
                executor="threading")
            server.start()  # our queues exist when start() returns
            servers[name] = server
        yield servers
    finally:
        for server in servers.values():
            server.stop()
        for server in servers.values():
            server.wait()
        transport.cleanup()


@pytest.fixture
def client(oslo_client: OsloPeer,
           legacy_servers: dict[str, messaging.MessageHandlingServer]) -> OsloPeer:
    oslo_client.wait_ready()
    return oslo_client


def _error(line: dict[str, Any]) -> dict[str, Any]:
    assert not line["ok"], f"expected an exception, got the result {line.get('result')!r}"
    error: dict[str, Any] = line["error"]
    return error


# --------------------------------------------------------------------------- calls

def test_call_round_trips_args_and_context(client: OsloPeer) -> None:
    args = {"i": 7, "f": 2.5, "s": "héllo ✓", "b": True, "n": None, "l": [1, "two", [3]],
            "d": {"nested": {"k": "v"}}}
    result = client.ok("call", method="echo", args=args, ctxt=CTXT)
    assert result["args"] == args
    # our server gives endpoints the caller's context only (oslo's rabbit driver adds
    # client_timeout; its fake driver does not: see differences_from_oslo_messaging.md)
    assert result["ctxt"] == CTXT
    assert result["server"] in SERVERS


def test_call_monitor_timeout_stays_out_of_the_endpoint_context(client: OsloPeer) -> None:
    result = client.ok("call", method="echo", args={}, ctxt=CTXT, call_monitor_timeout=10)
    assert result["ctxt"] == CTXT  # used for heartbeats (see below), not handed on


def test_server_targeted_call_reaches_that_server(client: OsloPeer) -> None:
    for name in SERVERS:
        for _ in range(3):
            assert client.ok("call", method="whoami", server=name) == name


def test_generator_endpoint_returns_its_last_value(client: OsloPeer) -> None:
    assert client.ok("call", method="count", args={"n": 4}) == 3


@pytest.mark.parametrize("values", [[None, 5], [1, None], [None], []],
                         ids=["none-then-5", "1-then-none", "only-none", "empty"])
@pytest.mark.parametrize("call_monitor_timeout", [None, 10], ids=["plain", "monitored"])
def test_generator_yielding_none_returns_its_last_value(
        client: OsloPeer, values: list[Any], call_monitor_timeout: int | None) -> None:
    # An oslo caller takes a reply with a null result and no 'ending' for a call-monitor
    # heartbeat: a None value streamed on its own must not reach it.
    expected = values[-1] if values else None
    line = client.request("call", method="sequence", args={"values": values},
                          call_monitor_timeout=call_monitor_timeout)
    assert line["ok"], f"the oslo caller failed: {line.get('error')!r}"
    assert line["result"] == expected


# --------------------------------------------------------------------------- casts

def test_cast_is_delivered_with_args_and_context(client: OsloPeer, recorder: Recorder) -> None:
    client.ok("cast", method="record", args={"tag": "cast-1", "value": [1, 2]}, ctxt=CTXT)
    got = wait_for(lambda: recorder.matching(tag="cast-1"),
                   message=lambda: f"cast not received; records: {recorder.records!r}")
    assert got[0]["args"] == {"value": [1, 2]}
    assert got[0]["ctxt"] == CTXT


def test_server_targeted_cast_reaches_that_server(client: OsloPeer, recorder: Recorder) -> None:
    client.ok("cast", method="record", args={"tag": "cast-to-s2"}, server="s2")
    got = wait_for(lambda: recorder.matching(tag="cast-to-s2"),
                   message=lambda: f"cast not received; records: {recorder.records!r}")
    assert [r["server"] for r in got] == ["s2"]


def test_fanout_cast_reaches_every_server(client: OsloPeer, recorder: Recorder) -> None:
    client.ok("cast", method="record", args={"tag": "fanout-1"}, ctxt=CTXT, fanout=True)
    wait_for(lambda: len(recorder.matching(tag="fanout-1")) >= len(SERVERS),
             message=lambda: f"fanout reached {recorder.matching(tag='fanout-1')!r}")
    got = recorder.matching(tag="fanout-1")
    assert sorted(r["server"] for r in got) == sorted(SERVERS)
    assert all(r["ctxt"] == CTXT for r in got)


# --------------------------------------------------------------------------- versions

@pytest.mark.parametrize("version", ["1.0", "1.2", "1.3"])
def test_namespace_and_compatible_version(client: OsloPeer, version: str) -> None:
    result = client.ok("call", method="versioned", args={"x": version}, namespace="ns",
                       version=version)
    assert result["x"] == version and result["namespace"] == "ns"


@pytest.mark.parametrize("namespace,version", [("ns", "1.4"), ("ns", "2.0"), ("other", "1.0")])
def test_unsupported_version_is_remote_error(client: OsloPeer, namespace: str | None,
                                             version: str) -> None:
    error = _error(client.request("call", method="versioned", args={"x": 1},
                                  namespace=namespace, version=version))
    assert error["class"] == "RemoteError"
    assert error["exc_type"] == "UnsupportedVersion"
    assert f"Endpoint does not support RPC version {version}" in error["value"]


# --------------------------------------------------------------------------- exceptions

def test_builtin_exception_is_rebuilt_as_its_class(client: OsloPeer) -> None:
    error = _error(client.request("call", method="fail_value", args={"text": "bad value"}))
    # oslo rebuilds builtins as the class itself, with the remote traceback in args[0]
    assert "builtins.ValueError" in error["mro"], error
    assert "bad value" in error["message"]
    assert "Traceback" in error["message"]  # the remote traceback comes along


@pytest.mark.parametrize("method,namespace", [("no_such_method", None), ("_secret", None),
                                              ("versioned", None)],
                         ids=["unknown", "private", "in-another-namespace"])
def test_no_such_method_is_remote_error(client: OsloPeer, method: str,
                                        namespace: str | None) -> None:
    # 'versioned' lives in namespace 'ns' only: the default namespace has a compatible
    # endpoint without it, so this is NoSuchMethod, not UnsupportedVersion (as in oslo)
    error = _error(client.request("call", method=method, namespace=namespace))
    assert error["class"] == "RemoteError"
    assert error["exc_type"] == "NoSuchMethod"
    assert f"Endpoint does not support RPC method {method}" in error["value"]


def test_exception_from_allowed_module_is_rebuilt_as_its_class(client: OsloPeer) -> None:
    error = _error(client.request("call", method="fail_custom",
                                  args={"message": "custom failure", "code": 42}))
    assert "tests.interop.interop_errors.InteropError" in error["mro"], error
    assert error["kwargs"] == {"code": 42}
    assert "custom failure" in error["message"]


# --------------------------------------------------------------------------- time

def test_call_to_slow_method_times_out(client: OsloPeer) -> None:
    line = client.request("call", method="slow", args={"seconds": 3}, timeout=1)
    error = _error(line)
    assert error["class"] == "MessagingTimeout", error
    assert 0.9 <= line["elapsed"] < 2.5, line["elapsed"]


def test_call_monitor_heartbeats_keep_the_call_alive(client: OsloPeer) -> None:
    # Without our server's heartbeats the oslo caller would give up after 2 s.
    line = client.request("call", method="slow", args={"seconds": 4}, timeout=20,
                          call_monitor_timeout=2)
    assert line["ok"], line.get("error")
    assert line["result"]["slept"] == 4
    assert line["result"]["ctxt"] == {}
    assert line["elapsed"] >= 4

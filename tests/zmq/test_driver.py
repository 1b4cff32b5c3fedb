"""The zmq driver beyond the contract suite: fanout across processes' transports, timeouts
that hold, CurveZMQ, the bind-address warning, hostile frames, bounded inboxes, options,
the ring file end to end, eventlet."""

from __future__ import annotations

import json
import logging
import pathlib
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging.drivers.registry import DriverLoadFailure
from legacy_rpc.messaging.drivers.zmq import _frames, _opts
from legacy_rpc.messaging.drivers.zmq import _matchmaker as mm
from tests.helpers import wait_for
from tests.zmq.conftest import free_port

MakeTransport = Callable[..., messaging.Transport]


class Endpoint:
    def __init__(self, name: str = "ep") -> None:
        self.name = name
        self.calls: list[Any] = []
        self.release = threading.Event()

    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        self.calls.append(value)
        return value

    def whoami(self, ctxt: dict[str, Any]) -> str:
        return self.name

    def hear(self, ctxt: dict[str, Any], value: Any) -> None:
        self.calls.append(value)

    def block(self, ctxt: dict[str, Any], value: Any) -> None:
        self.release.wait(30)
        self.calls.append(value)


def _conf(**overrides: Any) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([], project="legacy-rpc-tests")
    _opts.register(conf)
    for name, value in overrides.items():
        # Z85 keys may hold "$", oslo.config's substitution marker: "$$" escapes it.
        escaped = ([v.replace("$", "$$") for v in value] if isinstance(value, list)
                   else value.replace("$", "$$"))
        conf.set_override(name, escaped, group=_opts.SECURITY_GROUP)
    return conf


@pytest.fixture
def make_transport(zmq_url: Callable[..., str]) -> Iterator[MakeTransport]:
    """A transport per call: stands for another process (its own sockets and threads)."""
    made: list[messaging.Transport] = []
    servers: list[messaging.MessageHandlingServer] = []

    def make(conf: cfg.ConfigOpts | None = None, matchmaker: str = "inprocess",
             **query: Any) -> messaging.Transport:
        transport = messaging.get_rpc_transport(conf or _conf(), zmq_url(matchmaker, **query))
        made.append(transport)
        return transport

    make.servers = servers  # type: ignore[attr-defined]
    yield make
    for server in servers:
        server.stop()
        server.wait()
    for transport in made:
        transport.cleanup()


def serve(make: MakeTransport, transport: messaging.Transport, endpoint: Any,
          server: str = "s1", topic: str = "t", **kwargs: Any) -> messaging.MessageHandlingServer:
    srv = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server=server),
                                   [endpoint], **kwargs)
    srv.start()
    make.servers.append(srv)  # type: ignore[attr-defined]
    return srv


def client(transport: messaging.Transport, timeout: float = 10,
           **kwargs: Any) -> messaging.RPCClient:
    return messaging.get_rpc_client(transport, messaging.Target(topic="t", **kwargs),
                                    timeout=timeout)


# ----------------------------------------------------------------------------- semantics

def test_fanout_reaches_every_server_of_every_process(make_transport: MakeTransport) -> None:
    endpoints = [Endpoint(f"s{i}") for i in range(3)]
    for i, endpoint in enumerate(endpoints):
        serve(make_transport, make_transport(matchmaker="redis"), endpoint, server=f"s{i}")
    caller = make_transport(matchmaker="redis")
    client(caller, fanout=True).cast({}, "hear", value="all")
    wait_for(lambda: all(e.calls == ["all"] for e in endpoints), 10,
             message=lambda: f"got {[e.calls for e in endpoints]}")
    # Calls are spread over the servers; a server-targeted call reaches its server.
    names = {client(caller).call({}, "whoami") for _ in range(9)}
    assert names == {"s0", "s1", "s2"}
    assert client(caller, server="s2").call({}, "whoami") == "s2"


def test_a_call_to_an_unknown_topic_times_out_in_time(make_transport: MakeTransport) -> None:
    caller = make_transport()
    started = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout):
        client(caller, timeout=0.5).call({}, "echo", value=1)
    assert time.monotonic() - started < 1.5


def test_a_call_to_a_dead_server_times_out_in_time(make_transport: MakeTransport,
                                                  namespace: str) -> None:
    caller = make_transport()
    dead = mm.InProcessMatchMaker(namespace, 60, 120)  # a server that died registered
    dead.register("openstack:t", mm.member(f"tcp://127.0.0.1:{free_port()}", "t"))
    try:
        started = time.monotonic()
        with pytest.raises(messaging.MessagingTimeout):
            client(caller, timeout=1).call({}, "echo", value=1)
        assert time.monotonic() - started < 2
    finally:
        dead.close()


def test_a_server_that_stops_answering_fails_calls_in_time(make_transport: MakeTransport
                                                           ) -> None:
    endpoint = Endpoint()
    serve(make_transport, make_transport(), endpoint)
    caller = make_transport()
    started = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout):
        client(caller, timeout=0.5).call({}, "block", value=1)
    assert time.monotonic() - started < 1.5
    endpoint.release.set()


def test_capabilities_say_no_requeue(make_transport: MakeTransport) -> None:
    from legacy_rpc.messaging.notify import get_notification_listener

    transport = make_transport()
    assert transport._driver.capabilities.requeue is False
    with pytest.raises(NotImplementedError):
        get_notification_listener(transport, [messaging.Target(topic="n")], [Endpoint()],
                                  allow_requeue=True)


# ----------------------------------------------------------------------------- security

@pytest.fixture
def curve_keys() -> tuple[str, str]:
    public, secret = zmq.curve_keypair()
    return public.decode(), secret.decode()


def test_curve_peers_holding_the_keys_talk(make_transport: MakeTransport,
                                           curve_keys: tuple[str, str]) -> None:
    public, secret = curve_keys
    conf = _conf(curve_public_key=public, curve_secret_key=secret)
    serve(make_transport, make_transport(conf), Endpoint())
    assert client(make_transport(_conf(curve_public_key=public, curve_secret_key=secret))
                  ).call({}, "echo", value="secret") == "secret"


@pytest.mark.parametrize("client_keys", ["none", "other pair"])
def test_curve_peers_without_the_keys_are_refused(make_transport: MakeTransport,
                                                  curve_keys: tuple[str, str],
                                                  client_keys: str) -> None:
    public, secret = curve_keys
    endpoint = Endpoint()
    serve(make_transport, make_transport(_conf(curve_public_key=public,
                                               curve_secret_key=secret)), endpoint)
    if client_keys == "none":
        intruder = make_transport()
    else:
        other_public, other_secret = (k.decode() for k in zmq.curve_keypair())
        intruder = make_transport(_conf(curve_public_key=other_public,
                                        curve_secret_key=other_secret,
                                        curve_server_key=public))
    with pytest.raises(messaging.MessagingTimeout):
        client(intruder, timeout=1).call({}, "echo", value="intrusion")
    assert endpoint.calls == []


def test_a_listed_client_key_is_accepted(make_transport: MakeTransport,
                                         curve_keys: tuple[str, str]) -> None:
    public, secret = curve_keys
    client_public, client_secret = (k.decode() for k in zmq.curve_keypair())
    serve(make_transport, make_transport(_conf(
        curve_public_key=public, curve_secret_key=secret,
        curve_allowed_clients=[client_public])), Endpoint())
    caller = make_transport(_conf(curve_public_key=client_public,
                                  curve_secret_key=client_secret, curve_server_key=public))
    assert client(caller).call({}, "echo", value=1) == 1


@pytest.mark.parametrize("bind, curve, warned", [
    ("0.0.0.0", False, True), ("127.0.0.1", False, False), ("0.0.0.0", True, False)])
def test_binding_a_public_address_without_authentication_warns(
        make_transport: MakeTransport, curve_keys: tuple[str, str], bind: str, curve: bool,
        warned: bool, caplog: pytest.LogCaptureFixture) -> None:
    public, secret = curve_keys
    conf = _conf(curve_public_key=public, curve_secret_key=secret) if curve else None
    with caplog.at_level(logging.WARNING):
        serve(make_transport, make_transport(conf, bind_address=bind), Endpoint())
    assert ("without authentication" in caplog.text) is warned


# ----------------------------------------------------------------------------- bad input

def _server_address(transport: messaging.Transport) -> str:
    driver: Any = transport._driver
    values = driver.matchmaker.lookup("openstack:t")
    address, _queue = mm.split_member(values[0])
    return address


GARBAGE = [
    [b"hello"],
    [b"not ours", b"m", b"k", b"q", b"{}"],
    [_frames.MAGIC, b"x", b"k", b"q", b"{}"],
    [_frames.MAGIC, b"m", b"k", b"\xff\xfe", b"{}"],
    [_frames.MAGIC, b"r", b"", b"", b'{"result": 1}'],
    [_frames.MAGIC, b"m", b"openstack:t", b"t", b'{"password": "hunter2", "method": 5}'],
    [_frames.MAGIC, b"m", b"openstack:t", b"t", b"\x00\xffpassword=hunter2"],
    [_frames.MAGIC, b"m", b"k" * 5000, b"t", b"{}"],
]


def test_garbage_frames_are_dropped_logged_masked_and_the_server_serves_on(
        make_transport: MakeTransport, caplog: pytest.LogCaptureFixture) -> None:
    transport = make_transport()
    endpoint = Endpoint()
    serve(make_transport, transport, endpoint)
    context: zmq.Context[Any] = zmq.Context.instance()
    peer = context.socket(zmq.DEALER)
    peer.setsockopt(zmq.LINGER, 0)
    peer.connect(_server_address(transport))
    try:
        with caplog.at_level(logging.DEBUG):
            for frames in GARBAGE:
                peer.send_multipart(frames)
            assert client(make_transport()).call({}, "echo", value="still") == "still"
            wait_for(lambda: caplog.text.count("malformed") >= len(GARBAGE), 10,
                     message=lambda: caplog.text[-3000:])
    finally:
        peer.close()
    assert endpoint.calls == ["still"]
    assert "hunter2" not in caplog.text


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=64), max_size=7))
def test_any_frames_parse_or_are_refused_as_malformed(frames: list[bytes]) -> None:
    try:
        parsed = _frames.parse(frames)
    except _frames.MalformedFrames:
        return
    assert _frames.build(parsed.kind, parsed.key, parsed.queue, parsed.body) == frames


@settings(max_examples=200)
@given(st.sampled_from([_frames.MESSAGE, _frames.REPLY, _frames.BOUNCE]),
       st.text(max_size=50), st.text(max_size=50), st.binary(max_size=200))
def test_frames_round_trip(kind: bytes, key: str, queue: str, body: bytes) -> None:
    assert _frames.parse(_frames.build(kind, key, queue, body)) == (kind, key, queue, body)


def _blocked_server(make_transport: MakeTransport, **caller_query: Any
                    ) -> tuple[Endpoint, Any, messaging.Transport]:
    """A server with a topic backlog of 5 and a blocking executor, held by a ``block``
    cast until its endpoint's ``release`` is set; returns (endpoint, server, caller
    transport made with ``caller_query``)."""
    transport = make_transport(topic_backlog=5)
    endpoint = Endpoint()
    server = serve(make_transport, transport, endpoint, executor="blocking")
    caller = make_transport(**caller_query)
    client(caller).cast({}, "block", value="first")
    return endpoint, server, caller


def test_a_flood_is_held_back_by_the_topic_backlog_not_dropped(
        make_transport: MakeTransport, caplog: pytest.LogCaptureFixture) -> None:
    most = 0
    with caplog.at_level(logging.ERROR):
        endpoint, server, caller = _blocked_server(make_transport)
        listener = server.listener.poll_style_listener
        for n in range(200):
            client(caller).cast({}, "hear", value=n)
            most = max(most, len(listener._inbox))
        wait_for(lambda: listener._paused, 10, message="the listener never stopped reading")
        most = max(most, len(listener._inbox))
        endpoint.release.set()
        wait_for(lambda: len(endpoint.calls) == 201, 30,
                 message=lambda: f"{len(endpoint.calls)} of 201 casts arrived")
    assert most <= 5  # the listener held no more than its backlog
    assert endpoint.calls[1:] == list(range(200))  # none lost, in order
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_sender_that_outruns_a_blocked_server_waits_for_room_and_loses_nothing(
        make_transport: MakeTransport, caplog: pytest.LogCaptureFixture) -> None:
    endpoint, _, caller = _blocked_server(make_transport, send_queue_limit=5)
    big = "x" * 65536  # beyond the kernel's socket buffers within a few hundred
    sender: Any = caller._driver.sender()  # type: ignore[attr-defined]

    def flood() -> None:
        for n in range(400):
            client(caller).cast({}, "hear", value=f"{n}:{big}")

    with caplog.at_level(logging.ERROR):
        flooding = threading.Thread(target=flood)
        flooding.start()
        wait_for(lambda: sender._backlogged >= 5, 20, message="the sender never filled up")
        assert flooding.is_alive()  # held back by flow control, not dropping
        endpoint.release.set()
        flooding.join(60)
        assert not flooding.is_alive()
        wait_for(lambda: len(endpoint.calls) == 401, 60,
                 message=lambda: f"{len(endpoint.calls)} of 401 casts arrived")
    assert [int(v.partition(":")[0]) for v in endpoint.calls[1:]] == list(range(400))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_beyond_every_bound_and_the_wait_a_cast_is_dropped_and_logged(
        make_transport: MakeTransport, caplog: pytest.LogCaptureFixture) -> None:
    big = "x" * 65536
    with caplog.at_level(logging.ERROR):
        endpoint, _, caller = _blocked_server(make_transport, send_queue_limit=5,
                                              pending_ttl=0.5)
        longest = 0.0
        for _ in range(600):
            started = time.monotonic()
            client(caller).cast({}, "hear", value=big)
            longest = max(longest, time.monotonic() - started)
            if "Dropping a message" in caplog.text:
                break
        wait_for(lambda: "Dropping a message" in caplog.text, 10,
                 message="no drop was logged")
    assert longest >= 0.4  # a cast waited for room before its message was given up
    endpoint.release.set()

    def serves() -> bool:
        try:
            return bool(client(caller, timeout=1).call({}, "echo", value="after") == "after")
        except messaging.MessagingTimeout:
            return False

    wait_for(serves, 30, message="the server stopped serving after the flood")


def test_an_inbox_is_bounded_in_bytes_too(make_transport: MakeTransport,
                                          monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture) -> None:
    from legacy_rpc.messaging.drivers.zmq import _listener

    monkeypatch.setattr(_listener, "MAX_INBOX_BYTES", 20_000)
    transport = make_transport()
    endpoint = Endpoint()
    serve(make_transport, transport, endpoint, executor="blocking")
    caller = make_transport()
    with caplog.at_level(logging.ERROR):
        client(caller).cast({}, "block", value="first")
        for n in range(30):
            client(caller).cast({}, "hear", value=str(n) * 2000)
        wait_for(lambda: "is full" in caplog.text, 10, message="no overflow was logged")
    endpoint.release.set()


# ----------------------------------------------------------------------------- options

@pytest.mark.parametrize("name", [
    "zmq", "impl_zmq", "nova.rpc.impl_zmq", "nova.openstack.common.rpc.impl_zmq",
    "cinder.openstack.common.rpc.impl_zmq", "legacy_rpc.rpc.impl_zmq", "zmq+redis"])
def test_every_impl_zmq_alias_loads_the_zmq_driver(name: str) -> None:
    from legacy_rpc.messaging.drivers import registry
    from legacy_rpc.messaging.drivers.zmq import ZmqDriver

    assert registry.load_driver_class(name) is ZmqDriver


def test_an_unknown_url_option_lists_the_valid_ones(zmq_url: Callable[..., str]) -> None:
    with pytest.raises(DriverLoadFailure, match=r"bogus.*bind_address"):
        messaging.get_rpc_transport(_conf(), zmq_url(bogus=1))


def test_a_bad_url_value_names_its_option(zmq_url: Callable[..., str]) -> None:
    with pytest.raises(DriverLoadFailure, match="redis_port"):
        messaging.get_rpc_transport(_conf(), zmq_url(redis_port="many"))


def test_secrets_are_masked_in_reprs(zmq_url: Callable[..., str]) -> None:
    conf = _conf(curve_public_key="p" * 40, curve_secret_key="hunter2")
    transport = messaging.get_rpc_transport(conf, zmq_url(redis_password="hunter3"))
    try:
        shown = repr(transport._driver.options)  # type: ignore[attr-defined]
        assert "hunter2" not in shown and "hunter3" not in shown
    finally:
        transport.cleanup()


def test_ttl_must_exceed_the_heartbeat(zmq_url: Callable[..., str]) -> None:
    with pytest.raises(DriverLoadFailure, match="matchmaker_heartbeat_ttl"):
        messaging.get_rpc_transport(_conf(), zmq_url(heartbeat_freq=10, heartbeat_ttl=5))


def test_ring_file_end_to_end(make_transport: MakeTransport, tmp_path: pathlib.Path) -> None:
    port = free_port()
    ring = tmp_path / "ring.json"
    ring.write_text(json.dumps({"t": [f"127.0.0.1:{port}"]}))
    server_transport = make_transport(matchmaker="ring", ringfile=str(ring))
    endpoint = Endpoint()
    serve(make_transport, server_transport, endpoint, server="127.0.0.1")
    caller = make_transport(matchmaker="ring", ringfile=str(ring))
    assert client(caller).call({}, "echo", value="ring") == "ring"
    assert client(caller, server="127.0.0.1").call({}, "echo", value="direct") == "direct"
    client(caller, fanout=True).cast({}, "hear", value="fan")
    wait_for(lambda: "fan" in endpoint.calls, 10, message="the fanout did not arrive")


def test_works_in_a_process_eventlet_has_monkey_patched(zmq_url: Callable[..., str]) -> None:
    pytest.importorskip("eventlet")
    script = textwrap.dedent(f"""
        import eventlet
        eventlet.monkey_patch()
        import threading
        from oslo_config import cfg
        import legacy_rpc.messaging as messaging
        from legacy_rpc.messaging.notify import Notifier, get_notification_listener

        conf = cfg.ConfigOpts(); conf([])
        transport = messaging.get_rpc_transport(conf, {zmq_url("redis")!r})
        got = threading.Event()
        noted = threading.Event()
        class Endpoint:
            def add(self, ctxt, a, b):
                return a + b
            def poke(self, ctxt):
                got.set()
            def info(self, ctxt, publisher_id, event_type, payload, metadata):
                noted.set()
        server = messaging.get_rpc_server(transport, messaging.Target(topic="g", server="s"),
                                          [Endpoint()])
        listener = get_notification_listener(
            transport, [messaging.Target(topic="g")], [Endpoint()])
        server.start(); listener.start()
        client = messaging.get_rpc_client(transport, messaging.Target(topic="g"), timeout=10)
        assert client.call({{}}, "add", a=2, b=3) == 5
        assert [client.call({{}}, "add", a=i, b=i) for i in range(20)] == [
            2 * i for i in range(20)]
        client.cast({{}}, "poke")
        Notifier(transport, "p", driver="messagingv2", topics=["g"]).info({{}}, "e", {{}})
        assert got.wait(10) and noted.wait(10)
        server.stop(); listener.stop(); server.wait(); listener.wait()
        transport.cleanup()
        print("OK")
    """)
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", script],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and result.stdout.strip().endswith("OK"), (
        result.stdout[-2000:] + result.stderr[-3000:])


def _ipv6_loopback() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_servers_bind_and_are_reached_over_ipv6(namespace: str) -> None:
    url = f"zmq://[::1]/{namespace}?bind_address=::1&matchmaker=inprocess"
    transport = messaging.get_rpc_transport(_conf(), url)
    try:
        server = messaging.get_rpc_server(transport, messaging.Target(topic="t", server="a"),
                                          [Endpoint()])
        server.start()
        listener: Any = server.listener
        assert listener.poll_style_listener.address.startswith("tcp://[::1]:")
        assert client(transport).call({}, "echo", value=6) == 6
        assert client(transport, server="a").call({}, "whoami") == "ep"
        server.stop()
        server.wait()
    finally:
        transport.cleanup()


@pytest.mark.parametrize("host,port,expected", [
    ("10.0.0.5", 9501, "tcp://10.0.0.5:9501"), ("::1", 9501, "tcp://[::1]:9501"),
    ("[fe80::1]", None, "tcp://[fe80::1]"), ("host-a", "*", "tcp://host-a:*")])
def test_tcp_addresses_bracket_ipv6(host: str, port: Any, expected: str) -> None:
    assert mm.tcp_address(host, port) == expected


@pytest.mark.parametrize("entry,address", [
    ("host-a", "tcp://host-a:9501"), ("host-b:9600", "tcp://host-b:9600"),
    ("::1", "tcp://[::1]:9501"), ("[::1]", "tcp://[::1]:9501"),
    ("[fe80::2]:9700", "tcp://[fe80::2]:9700")])
def test_ring_entries_with_ipv6_addresses(entry: str, address: str) -> None:
    ring = mm.RingMatchMaker("ns", 1, 2, "", 9501, ring={"compute": [entry]})
    assert ring.lookup("openstack:compute") == [mm.member(address, "compute")]
    host = address[len("tcp://"):].rpartition(":")[0]
    assert ring.port_for("compute", host) == int(address.rpartition(":")[2])

"""Resilience of the zmq driver: a server process killed and restarted on another port, a
server process that stops answering, the Redis matchmaker restarted. Servers run in child
processes; registrations have a short TTL so a dead server disappears within the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from tests.helpers import wait_for
from tests.zmq.conftest import PrivateRedis

pytestmark = pytest.mark.usefixtures("shared_redis")

SERVER = textwrap.dedent("""
    import os, sys
    from oslo_config import cfg
    import legacy_rpc.messaging as messaging

    class Endpoint:
        def whoami(self, ctxt):
            return os.getpid()

    conf = cfg.ConfigOpts(); conf([])
    transport = messaging.get_rpc_transport(conf, sys.argv[1])
    server = messaging.get_rpc_server(transport, messaging.Target(topic="t", server="s"),
                                      [Endpoint()])
    server.start()
    print("READY", flush=True)
    sys.stdin.read()  # until the test closes it
    server.stop(); server.wait(); transport.cleanup()
""")


class ServerProcess:
    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-W", "ignore", "-c", SERVER, url],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # bounded: the child prints or dies
        assert line.strip() == b"READY", line
        self.pid = self.process.pid

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def close(self) -> None:
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGCONT)
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def servers() -> Iterator[Callable[[str], ServerProcess]]:
    started: list[ServerProcess] = []

    def start(url: str) -> ServerProcess:
        server = ServerProcess(url)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def caller() -> Iterator[Callable[[str], messaging.RPCClient]]:
    transports: list[messaging.Transport] = []

    def make(url: str) -> messaging.RPCClient:
        conf = cfg.ConfigOpts()
        conf([])
        transport = messaging.get_rpc_transport(conf, url)
        transports.append(transport)
        return messaging.get_rpc_client(transport, messaging.Target(topic="t"), timeout=10)

    yield make
    for transport in transports:
        transport.cleanup()


def _answers(client: messaging.RPCClient, timeout: float = 2) -> Any:
    try:
        return client.prepare(timeout=timeout).call({}, "whoami")
    except messaging.MessagingTimeout:
        return None


def test_a_killed_server_restarted_on_another_port_is_found_again(
        zmq_url: Callable[..., str], servers: Callable[[str], ServerProcess],
        caller: Callable[[str], messaging.RPCClient]) -> None:
    url = zmq_url("redis", heartbeat_freq=1, heartbeat_ttl=2)
    first = servers(url)
    client = caller(url)
    assert client.call({}, "whoami") == first.pid
    first.kill()  # no unregistering: its registration lives until its TTL
    second = servers(url)  # a new process, on another (random) port
    started = time.monotonic()
    assert client.call({}, "whoami") == second.pid  # within the call's 10 s timeout
    assert time.monotonic() - started < 10
    assert [client.call({}, "whoami") for _ in range(5)] == [second.pid] * 5


def test_a_server_that_stops_answering_fails_calls_in_time_then_recovers(
        zmq_url: Callable[..., str], servers: Callable[[str], ServerProcess],
        caller: Callable[[str], messaging.RPCClient]) -> None:
    url = zmq_url("redis")
    server = servers(url)
    client = caller(url)
    assert client.call({}, "whoami") == server.pid
    os.kill(server.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(messaging.MessagingTimeout):
            client.prepare(timeout=1).call({}, "whoami")
        assert time.monotonic() - started < 2
    finally:
        os.kill(server.pid, signal.SIGCONT)
    wait_for(lambda: _answers(client) == server.pid, 15,
             message="the server did not answer again after SIGCONT")


def test_a_restarted_redis_matchmaker_is_filled_again(
        zmq_url: Callable[..., str], private_redis: PrivateRedis,
        servers: Callable[[str], ServerProcess],
        caller: Callable[[str], messaging.RPCClient]) -> None:
    url = zmq_url("redis", redis_port=private_redis.port, heartbeat_freq=1, heartbeat_ttl=3)
    server = servers(url)
    client = caller(url)
    assert client.call({}, "whoami") == server.pid
    private_redis.stop()
    fresh = caller(url)  # no cached lookup
    with pytest.raises(messaging.MessagingTimeout):  # not a Redis error: a timeout
        fresh.prepare(timeout=0.5).call({}, "whoami")
    private_redis.start()  # empty: the registration is gone until the next heartbeat
    wait_for(lambda: _answers(fresh) == server.pid, 15,
             message="the server did not register again after the Redis restart")

"""Fixtures of the zmq driver tests: Redis (shared or private), namespaces, URLs.

Registrations go under a namespace of each test's own (the URL's virtual host), so tests
never see each other's servers and nothing is ever flushed from the shared Redis.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator

import pytest
from oslo_config import cfg

from tests.conftest import _reachable, brokers_required
from tests.helpers import wait_for

pytest.importorskip("zmq", reason="pyzmq (legacy-rpc[zmq]) is missing")

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


@pytest.fixture(scope="session")
def shared_redis() -> tuple[str, int]:
    """The shared Redis (never flushed), or skip (fail under CI)."""
    pytest.importorskip("redis", reason="redis-py (legacy-rpc[zmq]) is missing")
    if not _reachable(REDIS_HOST, REDIS_PORT):
        if brokers_required():
            pytest.fail(f"Redis not reachable at {REDIS_HOST}:{REDIS_PORT}", pytrace=False)
        pytest.skip(f"Redis not reachable at {REDIS_HOST}:{REDIS_PORT}")
    return REDIS_HOST, REDIS_PORT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrivateRedis:
    """A redis-server of the test's own on a free port, stopped and started at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: _reachable("127.0.0.1", self.port, 0.2), 10,
                 message="the private redis-server did not start")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    pytest.importorskip("redis", reason="redis-py (legacy-rpc[zmq]) is missing")
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def namespace() -> str:
    return f"zmqtest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([], project="legacy-rpc-tests")
    return conf


@pytest.fixture
def zmq_url(namespace: str) -> Callable[..., str]:
    """``zmq_url(matchmaker="inprocess", **query)``: a loopback URL in the test's namespace."""

    def build(matchmaker: str = "inprocess", **query: object) -> str:
        params = {"bind_address": "127.0.0.1", "matchmaker": matchmaker, **query}
        text = "&".join(f"{k}={v}" for k, v in params.items())
        return f"zmq://127.0.0.1/{namespace}?{text}"

    return build

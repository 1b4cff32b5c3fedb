"""Shared fixtures for the legacy-rpc test suite.

Broker tests talk to a real RabbitMQ (``LEGACY_RPC_RABBIT_URL``, default
``rabbit://guest:guest@127.0.0.1:5672/``). They skip when it is not reachable, except
when ``LEGACY_RPC_REQUIRE_BROKERS=1`` (CI sets it), where they fail instead.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

pytest_plugins = ["tests.infra.fixtures"]

DEFAULT_RABBIT_URL = "rabbit://guest:guest@127.0.0.1:5672/"
DEFAULT_RABBIT_PORT = 5672


def brokers_required() -> bool:
    return os.environ.get("LEGACY_RPC_REQUIRE_BROKERS", "") == "1"


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    # A transport URL may list several hosts ("rabbit://u:p@h1:5672,u:p@h2:5672/");
    # the first one is the one checked.
    parts = urlsplit(url)
    first = parts.netloc.split(",")[0]
    first_parts = urlsplit(f"//{first}")
    host = first_parts.hostname or "127.0.0.1"
    port = first_parts.port or default_port
    return host, port


def _reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def rabbit_url() -> str:
    """The transport URL of a reachable RabbitMQ, or skip (fail under CI)."""
    url = os.environ.get("LEGACY_RPC_RABBIT_URL", DEFAULT_RABBIT_URL)
    host, port = _host_port(url, DEFAULT_RABBIT_PORT)
    if not _reachable(host, port):
        if brokers_required():
            pytest.fail(
                f"RabbitMQ not reachable at {host}:{port} and LEGACY_RPC_REQUIRE_BROKERS=1",
                pytrace=False,
            )
        pytest.skip(
            f"RabbitMQ not reachable at {host}:{port}; "
            "set LEGACY_RPC_REQUIRE_BROKERS=1 to fail instead"
        )
    return url

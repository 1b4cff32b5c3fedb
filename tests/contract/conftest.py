"""Fixtures of the driver contract suite: every test here runs once per driver.

A driver is done when the whole suite passes on it. Add a driver by adding its name to
``DRIVERS`` and a branch to ``driver_url``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging

DRIVERS = ["fake"]


@pytest.fixture(params=DRIVERS)
def driver_url(request: pytest.FixtureRequest) -> str:
    name = request.param
    if name == "fake":
        return "fake://"
    url: str = request.getfixturevalue("rabbit_url")
    return url


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([], project="legacy-rpc-tests")
    return conf


@pytest.fixture
def topic() -> str:
    """A topic no other test uses (so tests cannot disturb each other on a real broker)."""
    return f"contract-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def exchange() -> str:
    return f"contract-x-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def transport(conf: cfg.ConfigOpts, driver_url: str) -> Iterator[messaging.Transport]:
    t = messaging.get_rpc_transport(conf, driver_url, allowed_remote_exmods=[__name__])
    yield t
    t.cleanup()


@pytest.fixture
def start_server(transport: messaging.Transport,
                 topic: str) -> Iterator[Callable[..., messaging.MessageHandlingServer]]:
    """Start an RPC server on ``topic``; every server is stopped at the end of the test."""
    servers: list[messaging.MessageHandlingServer] = []

    def start(endpoints: list[Any], server: str = "server1", topic_: str | None = None,
              exchange: str | None = None, **kwargs: Any) -> messaging.MessageHandlingServer:
        target = messaging.Target(topic=topic_ or topic, server=server, exchange=exchange)
        srv = messaging.get_rpc_server(transport, target, endpoints, **kwargs)
        srv.start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()
        srv.wait()


class RawAccess:
    """Puts raw bytes on the driver's wire and reads raw bytes off it.

    Used to inject what another implementation (an old legacy service, a buggy client)
    might send, bypassing our own wire module.
    """

    def __init__(self, transport: messaging.Transport) -> None:
        from legacy_rpc.messaging.drivers.impl_fake import FakeDriver

        driver = transport._driver
        if not isinstance(driver, FakeDriver):
            raise NotImplementedError(f"no raw access for {type(driver).__name__} yet")
        self._broker = driver.broker
        self.default_exchange = transport.conf.control_exchange

    def publish(self, routing_key: str, body: bytes, exchange: str | None = None) -> None:
        self._broker.publish(self.default_exchange if exchange is None else exchange,
                             routing_key, body)

    def collect(self, queue_name: str, bind: bool = False) -> list[bytes]:
        """Declare ``queue_name`` (reachable through the default exchange, and bound to the
        control exchange with its own name as key when ``bind``) and return the list its
        messages are appended to as they arrive."""
        bodies: list[bytes] = []

        class _Collector:
            def push(self, _queue: str, delivery: Any) -> None:
                bodies.append(delivery.body)

        self._broker.declare_queue(queue_name)
        if bind:
            self._broker.bind(self.default_exchange, queue_name, queue_name)
        self._broker.consume(queue_name, _Collector())
        return bodies


@pytest.fixture
def raw(transport: messaging.Transport) -> RawAccess:
    return RawAccess(transport)

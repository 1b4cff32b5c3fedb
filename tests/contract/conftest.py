"""Fixtures of the driver contract suite: every test here runs once per driver.

A driver is done when the whole suite passes on it. Add a driver by adding its name to
``DRIVERS`` and a branch to ``driver_url``.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging.drivers import registry
from tests.helpers import amqp_params, delete_broker_objects


# The drivers under test: fake, rabbit, amqp1 and zmq by default. A driver author runs the suite
# on theirs with LEGACY_RPC_CONTRACT_DRIVERS=name[=package.module:Class][,...]; a name other
# than fake, rabbit, amqp1 and zmq is the URL scheme, and "=target" registers the class under it.
def _drivers_under_test() -> list[str]:
    names = []
    for entry in os.environ.get("LEGACY_RPC_CONTRACT_DRIVERS",
                                 "fake,rabbit,amqp1,zmq").split(","):
        name, _, target = entry.strip().partition("=")
        if target:
            registry.register_driver(name, target)
        if name:
            names.append(name)
    return names


DRIVERS = _drivers_under_test()


@pytest.fixture(params=DRIVERS)
def driver_url(request: pytest.FixtureRequest) -> str:
    name = request.param
    if name == "fake":
        return "fake://"
    if name == "amqp1":
        amqp1_url: str = request.getfixturevalue("amqp1_url")
        return amqp1_url
    if name == "zmq":
        pytest.importorskip("zmq", reason="pyzmq (legacy-rpc[zmq]) is missing")
        # Loopback only; registrations in Redis under a namespace of this session's own
        # (LEGACY_RPC_ZMQ_MATCHMAKER=inprocess runs it without Redis).
        matchmaker = os.environ.get("LEGACY_RPC_ZMQ_MATCHMAKER", "redis")
        if matchmaker == "redis":
            request.getfixturevalue("shared_redis")
        return (f"zmq://127.0.0.1/contract-{SESSION}?bind_address=127.0.0.1"
                f"&matchmaker={matchmaker}")
    if name != "rabbit":
        return f"{name}://"
    url: str = request.getfixturevalue("rabbit_url")
    _used_brokers.add(url)
    return url


@pytest.fixture(scope="session")
def shared_redis() -> tuple[str, int]:
    """Redis on 127.0.0.1:6379 for the zmq matchmaker, or skip (fail under CI)."""
    from tests.conftest import _reachable, brokers_required

    pytest.importorskip("redis", reason="redis-py (legacy-rpc[zmq]) is missing")
    if not _reachable("127.0.0.1", 6379):
        if brokers_required():
            pytest.fail("Redis not reachable at 127.0.0.1:6379", pytrace=False)
        pytest.skip("Redis not reachable at 127.0.0.1:6379")
    return "127.0.0.1", 6379


@pytest.fixture(scope="session")
def amqp1_url(rabbit_url: str) -> Iterator[str]:
    """amqp1 (AMQP 1.0 on the shared RabbitMQ) in a vhost of its own, deleted at the end:
    its clients cannot delete the queues they declare."""
    from tests.amqp1.broker import amqp1_vhost_url, vhost_or_skip

    pytest.importorskip("proton", reason="python-qpid-proton (legacy-rpc[amqp1]) is missing")
    with vhost_or_skip(amqp1_vhost_url(rabbit_url, "contract")) as url:
        yield url


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([], project="legacy-rpc-tests")
    return conf


# Every broker object a contract test creates has this session's token in its name, so
# the session can delete them all at the end (topic queues are not auto-deleted, as on
# oslo.messaging, and would otherwise pile up on the broker run after run).
SESSION = uuid.uuid4().hex[:8]
_used_brokers: set[str] = set()


@pytest.fixture
def topic() -> str:
    """A topic no other test uses (so tests cannot disturb each other on a real broker)."""
    return f"contract-{SESSION}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def exchange() -> str:
    return f"contract-x-{SESSION}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session", autouse=True)
def _delete_session_objects() -> Iterator[None]:
    yield
    for url in _used_brokers:
        delete_session_objects(url, SESSION)


def delete_session_objects(url: str, token: str) -> None:
    """Delete the queues and exchanges whose names contain ``token`` (best effort)."""
    import shutil
    import subprocess

    if shutil.which("rabbitmqctl") is None:
        return
    names = {}
    for kind in ("queues", "exchanges"):
        out = subprocess.run(["rabbitmqctl", f"list_{kind}", "name", "-q",
                              "--no-table-headers"], capture_output=True, text=True,
                             timeout=60, check=False).stdout
        names[kind] = [n.strip() for n in out.splitlines() if token in n]
    delete_broker_objects(url, names["queues"], names["exchanges"])


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
        self.default_exchange = transport.conf.control_exchange
        self._cleanups: list[Callable[[], None]] = []

    def publish(self, routing_key: str, body: bytes, exchange: str | None = None) -> None:
        raise NotImplementedError

    def collect(self, queue_name: str, bind: bool = False,
                direct_exchange: bool = False) -> list[bytes]:
        """Declare ``queue_name`` and return the list its messages are appended to.

        The queue is reachable through the default exchange; with ``bind`` also through the
        control exchange, and with ``direct_exchange`` through a direct exchange of its own
        name (how a pre-Grizzly caller waited for its reply), in both cases with its own
        name as the routing key.
        """
        bindings = []
        if bind:
            bindings.append((self.default_exchange, queue_name, "topic"))
        if direct_exchange:
            bindings.append((queue_name, queue_name, "direct"))
        return self._collect(queue_name, bindings)

    def collect_routed(self, queue: str, routing_key: str,
                       exchange: str | None = None) -> list[bytes]:
        """Collect what is routed with ``routing_key`` in ``exchange`` (default: the control
        exchange) into a new queue ``queue``."""
        return self._collect(queue, [(exchange or self.default_exchange, routing_key, "topic")])

    def _collect(self, queue: str, bindings: list[tuple[str, str, str]]) -> list[bytes]:
        """Declare ``queue`` with ``(exchange, routing_key, exchange_type)`` bindings and
        return the list its messages are appended to as they arrive."""
        raise NotImplementedError

    def close(self) -> None:
        for cleanup in reversed(self._cleanups):
            cleanup()


class FakeRawAccess(RawAccess):
    def __init__(self, transport: messaging.Transport) -> None:
        from legacy_rpc.messaging.drivers.impl_fake import FakeDriver

        super().__init__(transport)
        driver = transport._driver
        assert isinstance(driver, FakeDriver)
        self._broker = driver.broker

    def publish(self, routing_key: str, body: bytes, exchange: str | None = None) -> None:
        self._broker.publish(self.default_exchange if exchange is None else exchange,
                             routing_key, body)

    def _collect(self, queue: str, bindings: list[tuple[str, str, str]]) -> list[bytes]:
        bodies: list[bytes] = []

        class _Collector:
            def push(self, _queue: str, delivery: Any) -> None:
                bodies.append(delivery.body)

        self._broker.declare_queue(queue)
        for exchange, routing_key, _type in bindings:
            self._broker.bind(exchange, queue, routing_key)
        self._broker.consume(queue, _Collector())
        return bodies


class RabbitRawAccess(RawAccess):
    """Raw access with plain py-amqp, as a foreign client would have."""

    def __init__(self, transport: messaging.Transport, url: str) -> None:
        import amqp

        super().__init__(transport)
        self._params = amqp_params(url)
        self._amqp = amqp
        self._conn = amqp.Connection(**self._params)
        self._conn.connect()
        self._channel = self._conn.channel()
        self._cleanups.append(self._conn.close)

    def publish(self, routing_key: str, body: bytes, exchange: str | None = None) -> None:
        message = self._amqp.Message(body, content_type="application/json",
                                     content_encoding="utf-8", delivery_mode=2)
        self._channel.basic_publish(message, exchange=self.default_exchange
                                    if exchange is None else exchange,
                                    routing_key=routing_key)

    def _collect(self, queue: str, bindings: list[tuple[str, str, str]]) -> list[bytes]:
        bodies: list[bytes] = []
        conn = self._amqp.Connection(**self._params)
        conn.connect()
        channel = conn.channel()
        channel.queue_declare(queue, auto_delete=True)
        for exchange, routing_key, exchange_type in bindings:
            channel.exchange_declare(exchange, exchange_type, durable=False,
                                     auto_delete=exchange_type == "direct")
            channel.queue_bind(queue, exchange, routing_key)
        channel.basic_consume(queue, no_ack=True,
                              callback=lambda message: bodies.append(
                                  message.body.encode() if isinstance(message.body, str)
                                  else bytes(message.body)))
        stop = threading.Event()

        def drain() -> None:
            while not stop.is_set():
                try:
                    conn.drain_events(timeout=0.1)
                except TimeoutError:
                    continue

        thread = threading.Thread(target=drain, daemon=True)
        thread.start()

        def cleanup() -> None:
            stop.set()
            thread.join(5)
            conn.close()

        self._cleanups.append(cleanup)
        return bodies


class HookRawAccess(RawAccess):
    """Raw access through a driver's own test hooks ``raw_publish`` and ``raw_collect``."""

    def __init__(self, transport: messaging.Transport) -> None:
        super().__init__(transport)
        self._driver: Any = transport._driver
        if not hasattr(self._driver, "raw_publish"):
            pytest.skip(f"{type(self._driver).__name__} has no raw_publish/raw_collect hooks")

    def publish(self, routing_key: str, body: bytes, exchange: str | None = None) -> None:
        self._driver.raw_publish(self.default_exchange if exchange is None else exchange,
                                 routing_key, body)

    def _collect(self, queue: str, bindings: list[tuple[str, str, str]]) -> list[bytes]:
        routes = [("", queue)] + [(exchange, key) for exchange, key, _type in bindings]
        try:
            bodies: list[bytes] = self._driver.raw_collect(queue, routes)
        except NotImplementedError as exc:  # the driver or its broker cannot route so
            pytest.skip(f"{type(self._driver).__name__}: {exc}")
        return bodies


@pytest.fixture
def raw(transport: messaging.Transport, driver_url: str) -> Iterator[RawAccess]:
    access: RawAccess
    if driver_url.startswith("fake"):
        access = FakeRawAccess(transport)
    elif driver_url.startswith("rabbit"):
        access = RabbitRawAccess(transport, driver_url)
    else:
        access = HookRawAccess(transport)
    yield access
    access.close()

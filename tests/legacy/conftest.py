"""Fixtures of the legacy-API suite: every test using ``legacy`` runs on fake, on RabbitMQ
(impl_kombu) and on RabbitMQ's AMQP 1.0 (impl_qpid, the amqp1 driver).

The legacy API reads the global ``cfg.CONF`` (as the original did), so :class:`LegacyEnv`
sets its options with ``set_override`` and clears them, resets the chosen backend
(``rpc._RPCIMPL``), closes the connections the test opened and releases the transports.

Isolation on a shared broker: each test gets its own control exchange and unique topic
names; the queues and exchanges it declared are deleted at the end of the session.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc import rpc
from legacy_rpc.messaging.transport import Transport, TransportURL
from legacy_rpc.notifier import api as notifier_api
from legacy_rpc.notifier import rpc_notifier, rpc_notifier2  # noqa: F401 - register options
from legacy_rpc.rpc import _transport_url, _transports, common, dispatcher
from tests.contract.conftest import FakeRawAccess, HookRawAccess, RabbitRawAccess, RawAccess
from tests.helpers import delete_broker_objects

CONF = cfg.CONF

BACKENDS = ["fake", "rabbit", "qpid", "zmq"]
LEGACY_BACKEND = {
    "fake": "nova.openstack.common.rpc.impl_fake",
    "rabbit": "nova.openstack.common.rpc.impl_kombu",
    "qpid": "nova.openstack.common.rpc.impl_qpid",
    "zmq": "nova.openstack.common.rpc.impl_zmq",
}
TIMEOUT = 10


class Janitor:
    """Deletes the queues and exchanges the tests declared on RabbitMQ, at the end."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.queues: set[str] = set()
        self.exchanges: set[str] = set()

    def cleanup(self) -> None:
        if self.url is not None:
            delete_broker_objects(self.url, self.queues, self.exchanges)


@pytest.fixture(scope="session")
def janitor() -> Iterator[Janitor]:
    jan = Janitor()
    yield jan
    jan.cleanup()


class Recorder:
    """Collects what server methods saw, and lets a test wait for it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.items: list[Any] = []

    def add(self, item: Any) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait(self, count: int = 1, timeout: float = TIMEOUT) -> list[Any]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.items) >= count, timeout):
                raise AssertionError(f"expected {count} item(s) within {timeout}s, got "
                                     f"{self.items!r}")
            return list(self.items)


class LegacyEnv:
    """The legacy API configured for one backend, with helpers to start consumers."""

    def __init__(self, backend: str, rabbit_url: str | None, janitor: Janitor) -> None:
        self.backend = backend
        self.janitor = janitor
        self.prefix = f"lg-{uuid.uuid4().hex[:10]}"
        self.exchange = f"{self.prefix}-x"
        self.rabbit_url = rabbit_url
        self._overrides: list[tuple[str, str | None]] = []
        self._connections: list[common.Connection] = []
        self._raw: list[RawAccess] = []
        self.set("rpc_backend", LEGACY_BACKEND[backend])
        self.set("control_exchange", self.exchange)
        self.set("rpc_response_timeout", TIMEOUT)
        self.set("notification_topics", [f"{self.prefix}-notifications"])
        if backend == "zmq":  # brokerless: the Redis matchmaker, servers on loopback
            from legacy_rpc.rpc import impl_zmq  # noqa: F401 - registers the zmq options

            self.set("rpc_zmq_matchmaker",
                     "nova.openstack.common.rpc.matchmaker_redis.MatchMakerRedis")
            self.set("rpc_zmq_host", "127.0.0.1")
            self.set("rpc_zmq_bind_address", "127.0.0.1")
        if rabbit_url is not None:
            if backend == "qpid":
                self._set_qpid_options(rabbit_url)
            else:
                self._set_rabbit_options(rabbit_url)
            janitor.url = rabbit_url
            janitor.exchanges.add(self.exchange)

    def _set_qpid_options(self, url: str) -> None:
        """The qpid_* options for the broker of ``url`` (its AMQP 1.0 side: same port).

        qpid-python had no virtual host option: the broker's default vhost is used. AMQP 1.0
        clients cannot delete queues, so :meth:`close` hands the reply queue to the janitor.
        """
        from legacy_rpc.rpc import impl_qpid  # noqa: F401 - registers the qpid options

        host = TransportURL.parse(CONF, url).hosts[0]
        self.set("qpid_hostname", host.hostname or "127.0.0.1")
        self.set("qpid_port", host.port or 5672)
        self.set("qpid_username", host.username or "guest")
        self.set("qpid_password", host.password or "guest")

    def _set_rabbit_options(self, url: str) -> None:
        from legacy_rpc.rpc import impl_kombu  # noqa: F401 - registers the rabbit options

        parsed = TransportURL.parse(CONF, url)
        host = parsed.hosts[0]
        self.set("rabbit_host", host.hostname or "127.0.0.1")
        self.set("rabbit_port", host.port or 5672)
        self.set("rabbit_userid", host.username or "guest")
        self.set("rabbit_password", host.password or "guest")
        self.set("rabbit_virtual_host", parsed.virtual_host or "/")

    # ------------------------------------------------------------------ config

    def set(self, name: str, value: Any, group: str | None = None) -> None:
        CONF.set_override(name, value, group)
        self._overrides.append((name, group))

    def topic(self, name: str = "topic") -> str:
        """A topic unique to this test (its queues are deleted at the end)."""
        topic = f"{self.prefix}-{name}"
        self.janitor.queues.add(topic)
        self.janitor.exchanges.add(f"{topic}_fanout")
        return topic

    def queue(self, name: str) -> str:
        """Remember a queue name to delete at the end."""
        self.janitor.queues.add(name)
        return name

    @property
    def transport(self) -> Transport:
        """The process's transport for the configured backend."""
        return _transports.get(CONF, _transport_url.transport_url(CONF))

    def raw(self) -> RawAccess:
        """Raw access to the broker (publish bytes, collect bytes)."""
        access: RawAccess
        if self.backend == "zmq":
            access = HookRawAccess(self.transport)
        elif self.rabbit_url is None:
            access = FakeRawAccess(self.transport)
        elif self.backend == "qpid":
            access = HookRawAccess(self.transport)
        else:
            access = RabbitRawAccess(self.transport, self.rabbit_url)
        self._raw.append(access)
        return access

    def require_requeue(self) -> None:
        """Skip when the backend cannot give a message back (``ack_on_error=False``):
        impl_zmq, brokerless."""
        driver = self.transport._driver
        if not driver.capabilities.requeue:
            pytest.skip(f"{type(driver).__name__} cannot requeue")

    def require_pools(self) -> None:
        """Skip when the backend cannot give several named queues of one topic a copy each
        (``create_worker``, ``join_consumer_pool``): impl_qpid on RabbitMQ 3.x's AMQP 1.0."""
        driver = self.transport._driver
        if not driver.capabilities.pools:
            pytest.skip(f"{type(driver).__name__} has no pools (named queues on a topic)")

    # ------------------------------------------------------------------ consumers

    def connection(self) -> common.Connection:
        conn = rpc.create_connection(new=True)
        self._connections.append(conn)
        return conn

    def consumer(self, topic: str, managers: list[Any], fanout: bool = False,
                 start: bool = True) -> common.Connection:
        """A connection with one consumer dispatching to ``managers``."""
        conn = self.connection()
        conn.create_consumer(topic, dispatcher.RpcDispatcher(managers), fanout=fanout)
        if start:
            conn.consume_in_thread()
        return conn

    # ------------------------------------------------------------------ teardown

    def close(self) -> None:
        if self.backend == "qpid" and self.rabbit_url is not None:
            with contextlib.suppress(Exception):
                reply = getattr(self.transport._driver, "_reply", None)
                if reply is not None:
                    self.janitor.queues.add(reply.queue_name)
        for conn in reversed(self._connections):
            with contextlib.suppress(Exception):
                conn.close()
        for access in self._raw:
            with contextlib.suppress(Exception):
                access.close()
        rpc.cleanup()
        rpc._RPCIMPL = None
        notifier_api._reset_drivers()
        for name, group in reversed(self._overrides):
            CONF.clear_override(name, group)


@pytest.fixture(params=BACKENDS)
def legacy(request: pytest.FixtureRequest, janitor: Janitor) -> Iterator[LegacyEnv]:
    """The legacy API on ``fake`` (impl_fake), on RabbitMQ (impl_kombu), on RabbitMQ's
    AMQP 1.0 (impl_qpid) or brokerless with Redis (impl_zmq)."""
    if request.param == "zmq":
        request.getfixturevalue("shared_redis")
    rabbit_url = (request.getfixturevalue("rabbit_url") if request.param == "rabbit" else
                  request.getfixturevalue("amqp1_rabbit_url") if request.param == "qpid" else
                  None)
    env = LegacyEnv(request.param, rabbit_url, janitor)
    yield env
    env.close()


@pytest.fixture(scope="session")
def shared_redis() -> tuple[str, int]:
    """Redis on 127.0.0.1:6379 for impl_zmq's matchmaker, or skip (fail under CI)."""
    from tests.conftest import _reachable, brokers_required

    pytest.importorskip("zmq", reason="pyzmq (legacy-rpc[zmq]) is missing")
    pytest.importorskip("redis", reason="redis-py (legacy-rpc[zmq]) is missing")
    if not _reachable("127.0.0.1", 6379):
        if brokers_required():
            pytest.fail("Redis not reachable at 127.0.0.1:6379", pytrace=False)
        pytest.skip("Redis not reachable at 127.0.0.1:6379")
    return "127.0.0.1", 6379


@pytest.fixture(scope="session")
def amqp1_rabbit_url(rabbit_url: str) -> str:
    """The shared broker for impl_qpid, when python-qpid-proton is installed."""
    pytest.importorskip("proton", reason="python-qpid-proton (legacy-rpc[amqp1]) is missing")
    return rabbit_url


@pytest.fixture
def context() -> common.CommonRpcContext:
    return common.CommonRpcContext(user="fake_user", pw="fake_pw")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def restore_conf() -> Iterator[Callable[[str, Any], None]]:
    """``set(name, value)`` on the global CONF without a backend; cleared afterwards."""
    names: list[str] = []

    def set_(name: str, value: Any) -> None:
        CONF.set_override(name, value)
        names.append(name)

    yield set_
    for name in reversed(names):
        CONF.clear_override(name)
    rpc._RPCIMPL = None
    notifier_api._reset_drivers()

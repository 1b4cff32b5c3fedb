"""pytest fixtures for code that uses ``legacy_rpc.messaging`` (entry point ``pytest11``).

Installed with legacy-rpc, so it is loaded in every pytest run of a project that depends
on it: nothing here imports the messaging core until a fixture is used, and nothing fails
a run that does not use the fixtures.

Example::

    class Calculator:
        def add(self, ctxt, a, b):
            return a + b

    def test_add(rpc_server, rpc_client):
        rpc_server([Calculator()])             # a started server on a unique topic
        assert rpc_client().call({}, "add", a=1, b=2) == 3

Tests run on ``fake:///test-<random>``: the embedded in-memory broker, in a virtual host
of the test's own, so transports a test builds from ``messaging_url`` or ``messaging_conf``
meet each other and no other test. To run the same tests on a real broker, pass
``--legacy-rpc-url rabbit://user:password@host:5672/`` or set ``LEGACY_RPC_TEST_URL``; the
option wins over the variable. Every topic is unique per test,
so tests never see each other's messages on a shared broker either.

Fixtures: ``messaging_url``, ``messaging_conf``, ``messaging_transport``, ``rpc_topic``,
``rpc_server`` and ``rpc_client``. Override any of them in a ``conftest.py``, e.g.
``messaging_transport`` to pass ``allowed_remote_exmods``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from oslo_config import cfg

    from legacy_rpc.messaging import RPCClient, Transport
    from legacy_rpc.messaging.rpc.server import RPCServer

__all__ = [
    "DEFAULT_URL",
    "ENV_URL",
    "CLIENT_TIMEOUT",
    "messaging_url",
    "messaging_conf",
    "messaging_transport",
    "rpc_topic",
    "rpc_server",
    "rpc_client",
]

DEFAULT_URL = "fake://"
"""The embedded in-memory broker."""

ENV_URL = "LEGACY_RPC_TEST_URL"
"""Environment variable naming the transport URL of the tests (below ``--legacy-rpc-url``)."""

CLIENT_TIMEOUT = 10.0
"""Default call timeout of ``rpc_client`` clients: a test whose server is missing fails in
seconds, not after the 60 s of ``rpc_response_timeout``."""

_OPTION = "--legacy-rpc-url"
_TARGET_FIELDS = frozenset({"exchange", "namespace", "version", "server", "fanout"})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("legacy-rpc", "legacy-rpc messaging fixtures")
    # If another plugin took the name, the environment variable still works.
    with contextlib.suppress(ValueError):
        group.addoption(
            _OPTION, dest="legacy_rpc_url", default=None, metavar="URL",
            help=f"transport URL for the legacy-rpc fixtures (default: ${ENV_URL}, else "
                 f"{DEFAULT_URL}, the embedded in-memory broker)")


def _url(config: pytest.Config) -> str:
    given = config.getoption("legacy_rpc_url", default=None)
    url = given or os.environ.get(ENV_URL) or DEFAULT_URL
    return str(url)


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say which broker the fixtures use, when it is not the in-memory default."""
    url = _url(config)
    if url == DEFAULT_URL:
        return None
    try:
        from legacy_rpc.messaging._mask import mask_url

        shown = mask_url(url)
    except Exception:  # a header must never break the run: show the scheme only
        shown = url.partition("://")[0] + "://..."
    return f"legacy-rpc fixtures: transport URL {shown}"


@pytest.fixture
def messaging_url(pytestconfig: pytest.Config) -> str:
    """The transport URL of the fixtures: ``--legacy-rpc-url``, ``$LEGACY_RPC_TEST_URL``
    or, by default, ``fake:///test-<random>`` (an in-memory virtual host of this test's
    own). Override it in a ``conftest.py`` to pin some tests to one broker."""
    url = _url(pytestconfig)
    if url == DEFAULT_URL:
        return f"fake:///test-{uuid.uuid4().hex[:12]}"
    return url


@pytest.fixture
def messaging_conf(messaging_url: str) -> Iterator[cfg.ConfigOpts]:
    """A fresh ``cfg.ConfigOpts`` with the messaging options and ``transport_url`` set.

    No config file is read. It is set up by ``ConfFixture``, so the legacy option names
    (``notification_driver``, ...) work with ``set_override`` too::

        def test_timeout(messaging_conf):
            messaging_conf.set_override("rpc_response_timeout", 5)
    """
    from oslo_config import cfg

    from legacy_rpc.messaging.conffixture import ConfFixture

    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[], default_config_dirs=[])
    with ConfFixture(conf, transport_url=messaging_url):
        yield conf


@pytest.fixture
def messaging_transport(messaging_conf: cfg.ConfigOpts) -> Iterator[Transport]:
    """An RPC transport on ``messaging_url``, cleaned up after the test::

        def test_send(messaging_transport):
            client = messaging.get_rpc_client(messaging_transport, messaging.Target(topic="t"))
    """
    from legacy_rpc import messaging

    transport = messaging.get_rpc_transport(messaging_conf)
    try:
        yield transport
    finally:
        transport.cleanup()


@pytest.fixture
def rpc_topic() -> str:
    """A topic name no other test uses (``test-<random>``)."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def rpc_server(messaging_transport: Transport,
               rpc_topic: str) -> Iterator[Callable[..., RPCServer]]:
    """A factory of started RPC servers, all stopped and waited for after the test.

    ``rpc_server(endpoints, topic=None, server="test-server", *, exchange=None, **kwargs)``
    listens on ``topic`` (default: ``rpc_topic``); ``kwargs`` go to ``get_rpc_server``
    (``executor``, ``serializer``, ``access_policy``). Two servers on one topic need
    different ``server`` names::

        def test_fanout(rpc_server, rpc_client):
            first, second = Recorder(), Recorder()
            rpc_server([first], server="a")
            rpc_server([second], server="b")
            rpc_client(fanout=True).cast({}, "record", value=1)
    """
    from legacy_rpc import messaging

    servers: list[RPCServer] = []

    def start(endpoints: Sequence[Any], topic: str | None = None, server: str = "test-server",
              *, exchange: str | None = None, **kwargs: Any) -> RPCServer:
        target = messaging.Target(exchange=exchange, topic=topic or rpc_topic, server=server)
        srv = messaging.get_rpc_server(messaging_transport, target, endpoints, **kwargs)
        srv.start()
        servers.append(srv)
        return srv

    yield start
    errors: list[BaseException] = []
    for srv in reversed(servers):
        try:
            srv.stop()
            srv.wait()
        except Exception as exc:  # stop the others anyway, then report the first
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def rpc_client(messaging_transport: Transport,
               rpc_topic: str) -> Callable[..., RPCClient]:
    """A factory of RPC clients: ``rpc_client(topic=None, **kwargs)``.

    ``topic`` defaults to ``rpc_topic`` (where ``rpc_server`` listens by default). The
    target fields among ``kwargs`` (``exchange``, ``namespace``, ``version``, ``server``,
    ``fanout``) go to the ``Target``, the rest to ``get_rpc_client`` (``timeout``, default
    :data:`CLIENT_TIMEOUT`; ``version_cap``, ``serializer``, ``retry``, ...)::

        def test_version(rpc_server, rpc_client):
            rpc_server([Calculator()])
            assert rpc_client(version="1.0", timeout=2).call({}, "add", a=1, b=2) == 3
    """
    from legacy_rpc import messaging

    def make(topic: str | None = None, **kwargs: Any) -> RPCClient:
        fields = {k: kwargs.pop(k) for k in list(kwargs) if k in _TARGET_FIELDS}
        kwargs.setdefault("timeout", CLIENT_TIMEOUT)
        target = messaging.Target(topic=topic or rpc_topic, **fields)
        return messaging.get_rpc_client(messaging_transport, target, **kwargs)

    return make

"""Transport factories, driver selection and the fake driver's own guarantees."""

from __future__ import annotations

import sys
import threading
import uuid
from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging.drivers.impl_fake import FakeDriver


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([])
    return conf


class Echo:
    def __init__(self) -> None:
        self.event = threading.Event()

    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        self.event.set()
        return value


@pytest.mark.parametrize("backend", [
    "fake",
    "impl_fake",
    "nova.openstack.common.rpc.impl_fake",
    "cinder.openstack.common.rpc.impl_fake",
    "nova.rpc.impl_fake",
])
def test_legacy_backend_names_select_the_fake_driver(conf: cfg.ConfigOpts,
                                                     backend: str) -> None:
    transport = messaging.get_transport(conf, f"{backend}://")
    assert isinstance(transport._driver, FakeDriver)


def test_application_aliases(conf: cfg.ConfigOpts) -> None:
    transport = messaging.get_transport(conf, "inmemory://",
                                        aliases={"inmemory": "fake"})
    assert isinstance(transport._driver, FakeDriver)


def test_default_url_comes_from_conf(conf: cfg.ConfigOpts) -> None:
    messaging.get_transport(conf, "fake://")  # registers the options
    conf.set_override("transport_url", "fake:///")
    assert isinstance(messaging.get_rpc_transport(conf)._driver, FakeDriver)


def test_unknown_driver_is_a_clear_error(conf: cfg.ConfigOpts) -> None:
    with pytest.raises(messaging.DriverLoadFailure) as err:
        messaging.get_transport(conf, "rabit://u:hunter2@host/")
    text = str(err.value)
    assert "rabit" in text and "fake" in text and "hunter2" not in text


def test_driver_from_an_extra_names_the_extra(conf: cfg.ConfigOpts,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # pyzmq is installed here: make it look missing, as without the 'zmq' extra.
    monkeypatch.setitem(sys.modules, "zmq", None)
    for module in [m for m in sys.modules if m.startswith(
            ("legacy_rpc.messaging.drivers.impl_zmq", "legacy_rpc.messaging.drivers.zmq"))]:
        monkeypatch.delitem(sys.modules, module)
    with pytest.raises(messaging.DriverLoadFailure) as err:
        messaging.get_transport(conf, "zmq://")
    assert "legacy-rpc[zmq]" in str(err.value)


def test_bad_url_is_a_clear_error(conf: cfg.ConfigOpts) -> None:
    with pytest.raises(messaging.InvalidTransportURL):
        messaging.get_transport(conf, "no-scheme-here")


def test_repr_masks_the_password(conf: cfg.ConfigOpts) -> None:
    transport = messaging.get_transport(conf, "fake://user:hunter2@host/")
    assert "hunter2" not in repr(transport)
    assert "****" in repr(transport)


def test_fake_transports_meet_per_virtual_host(conf: cfg.ConfigOpts) -> None:
    """Transports on one fake:// vhost share one broker; another vhost is another broker."""
    first = messaging.get_transport(conf, "fake:///meet-a")
    second = messaging.get_transport(conf, "fake:///meet-a")
    elsewhere = messaging.get_transport(conf, "fake:///meet-b")
    ep = Echo()
    srv = messaging.get_rpc_server(first, messaging.Target(topic="t", server="s"), [ep])
    srv.start()
    try:
        assert messaging.get_rpc_client(second, messaging.Target(topic="t")).call(
            {}, "echo", value=2) == 2
        client = messaging.get_rpc_client(elsewhere, messaging.Target(topic="t"), timeout=0.3)
        with pytest.raises(messaging.MessagingTimeout):
            client.call({}, "echo", value=3)
    finally:
        srv.stop()
        srv.wait()
        for transport in (first, second, elsewhere):
            transport.cleanup()


def test_fake_round_robin_is_exact(conf: cfg.ConfigOpts) -> None:
    transport = messaging.get_transport(conf, f"fake:///test-{uuid.uuid4().hex}")

    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

        def who(self, ctxt: dict[str, Any]) -> str:
            return self.name

    servers = [messaging.get_rpc_server(transport, messaging.Target(topic="rr", server=n),
                                        [Named(n)]) for n in ("a", "b", "c")]
    for srv in servers:
        srv.start()
    client = messaging.get_rpc_client(transport, messaging.Target(topic="rr"))
    answers = [client.call({}, "who") for _ in range(9)]
    for srv in servers:
        srv.stop()
        srv.wait()
    assert sorted(answers) == ["a"] * 3 + ["b"] * 3 + ["c"] * 3


def test_fake_stored_call_expires_after_its_timeout(conf: cfg.ConfigOpts) -> None:
    """A call request nobody consumed is discarded once its caller gave up (expiration)."""
    transport = messaging.get_transport(conf, f"fake:///test-{uuid.uuid4().hex}")
    driver = transport._driver
    assert isinstance(driver, FakeDriver)
    ep = Echo()
    srv = messaging.get_rpc_server(transport, messaging.Target(topic="exp", server="s"), [ep])
    srv.start()
    srv.stop()
    srv.wait()
    client = messaging.get_rpc_client(transport, messaging.Target(topic="exp"), timeout=0.2)
    with pytest.raises(messaging.MessagingTimeout):
        client.call({}, "echo", value="stale")
    assert driver.broker.queue_depth("exp") == 1
    srv.start()
    fresh = messaging.get_rpc_client(transport, messaging.Target(topic="exp"), timeout=5)
    assert fresh.call({}, "echo", value="fresh") == "fresh"
    srv.stop()
    srv.wait()
    assert driver.broker.queue_depth("exp") == 0

"""ConfFixture: options registered, transport URL and timeout overrides, legacy names."""

from __future__ import annotations

import fixtures
import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging.conffixture import ConfFixture

NOTIFY = "oslo_messaging_notifications"


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[], default_config_dirs=[])
    return conf


def test_registers_core_and_notifier_options(conf: cfg.ConfigOpts) -> None:
    with ConfFixture(conf):
        assert conf.transport_url == "fake://"
        assert conf.rpc_response_timeout == 60
        assert conf.control_exchange == "openstack"
        assert conf.executor_thread_pool_size == 64
        assert conf.oslo_messaging_notifications.topics == ["notifications"]
        assert conf.oslo_messaging_notifications.driver == []


def test_transport_url_argument(conf: cfg.ConfigOpts) -> None:
    fixture = ConfFixture(conf, transport_url="fake://elsewhere/")
    with fixture:
        assert conf.transport_url == "fake://elsewhere/"
        assert fixture.transport_url == "fake://elsewhere/"


def test_property_setters_override_the_options(conf: cfg.ConfigOpts) -> None:
    with ConfFixture(conf) as fixture:
        fixture.transport_url = "fake://other/"
        fixture.response_timeout = 5
        assert conf.transport_url == "fake://other/"
        assert conf.rpc_response_timeout == 5
        assert fixture.response_timeout == 5


@pytest.mark.parametrize(("legacy", "new", "value"), [
    ("notification_driver", "driver", ["messagingv2"]),
    ("notification_transport_url", "transport_url", "fake://notifications/"),
    ("notification_topics", "topics", ["legacy", "other"]),
])
def test_legacy_names_map_to_the_notifications_group(conf: cfg.ConfigOpts, legacy: str,
                                                     new: str, value: object) -> None:
    with ConfFixture(conf):
        default = getattr(conf.oslo_messaging_notifications, new)
        conf.set_override(legacy, value)
        assert getattr(conf.oslo_messaging_notifications, new) == value
        conf.clear_override(legacy)
        assert getattr(conf.oslo_messaging_notifications, new) == default
        conf.set_override(legacy, value, group="DEFAULT")
        assert getattr(conf.oslo_messaging_notifications, new) == value


def test_other_overrides_pass_through(conf: cfg.ConfigOpts) -> None:
    with ConfFixture(conf):
        conf.set_override("topics", ["direct"], group=NOTIFY)
        conf.set_override("control_exchange", "nova")
        assert conf.oslo_messaging_notifications.topics == ["direct"]
        assert conf.control_exchange == "nova"
        conf.clear_override("control_exchange")
        assert conf.control_exchange == "openstack"


def test_cleanup_resets_overrides_and_restores_methods(conf: cfg.ConfigOpts) -> None:
    with ConfFixture(conf) as fixture:
        fixture.response_timeout = 7
        conf.set_override("notification_topics", ["legacy"])
    assert conf.transport_url == "rabbit://"  # the option default again
    assert conf.rpc_response_timeout == 60
    assert conf.oslo_messaging_notifications.topics == ["notifications"]
    assert "set_override" not in vars(conf)
    assert "clear_override" not in vars(conf)
    assert conf.set_override.__func__ is cfg.ConfigOpts.set_override


def test_nested_fixtures_restore_in_order(conf: cfg.ConfigOpts) -> None:
    with ConfFixture(conf):
        outer_set = conf.set_override
        with ConfFixture(conf, transport_url="fake://inner/"):
            conf.set_override("notification_driver", ["log"])
            assert conf.oslo_messaging_notifications.driver == ["log"]
        assert conf.set_override is outer_set
        conf.set_override("notification_driver", ["noop"])
        assert conf.oslo_messaging_notifications.driver == ["noop"]
    assert "set_override" not in vars(conf)


def test_use_fixture_and_rpc_round_trip(conf: cfg.ConfigOpts) -> None:
    """A transport built from the conf alone talks through the in-memory driver."""

    class Echo:
        def echo(self, ctxt: object, value: str) -> str:
            return value

    class Case(fixtures.TestWithFixtures):
        def runTest(self) -> None:
            self.useFixture(ConfFixture(conf))

    case = Case()
    case.setUp()
    try:
        case.runTest()
        assert conf.transport_url == "fake://"
        transport = messaging.get_rpc_transport(conf)
        server = messaging.get_rpc_server(
            transport, messaging.Target(topic="t", server="s"), [Echo()])
        server.start()
        try:
            client = messaging.get_rpc_client(transport, messaging.Target(topic="t"),
                                              timeout=5)
            assert client.call({}, "echo", value="hi") == "hi"
        finally:
            server.stop()
            server.wait()
            transport.cleanup()
    finally:
        case.doCleanups()
    assert conf.transport_url == "rabbit://"

"""The legacy options (spec section 2): names, groups, defaults, a legacy config file, and
``transport_url`` winning; backend selection errors."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc import rpc
from legacy_rpc.messaging.drivers.registry import DriverLoadFailure
from legacy_rpc.messaging.transport import TransportHost
from legacy_rpc.rpc import _transport_url

CONF = cfg.CONF

# (module that registers it, option, group, default) — spec 2.1 to 2.7.
OPTIONS = [
    ("legacy_rpc.rpc", "rpc_backend", None, "legacy_rpc.rpc.impl_kombu"),
    ("legacy_rpc.rpc", "rpc_thread_pool_size", None, 64),
    ("legacy_rpc.rpc", "rpc_conn_pool_size", None, 30),
    ("legacy_rpc.rpc", "rpc_response_timeout", None, 60),
    ("legacy_rpc.rpc", "rpc_cast_timeout", None, 30),
    ("legacy_rpc.rpc", "allowed_rpc_exception_modules", None,
     ["nova.exception", "cinder.exception", "exceptions"]),
    ("legacy_rpc.rpc", "fake_rabbit", None, False),
    ("legacy_rpc.rpc", "control_exchange", None, "openstack"),
    ("legacy_rpc.rpc.amqp", "amqp_durable_queues", None, False),
    ("legacy_rpc.rpc.amqp", "amqp_auto_delete", None, False),
    ("legacy_rpc.rpc.impl_kombu", "kombu_ssl_version", None, ""),
    ("legacy_rpc.rpc.impl_kombu", "kombu_ssl_keyfile", None, ""),
    ("legacy_rpc.rpc.impl_kombu", "kombu_ssl_certfile", None, ""),
    ("legacy_rpc.rpc.impl_kombu", "kombu_ssl_ca_certs", None, ""),
    ("legacy_rpc.rpc.impl_kombu", "kombu_reconnect_delay", None, 1.0),
    ("legacy_rpc.rpc.impl_kombu", "rabbit_host", None, "localhost"),
    ("legacy_rpc.rpc.impl_kombu", "rabbit_port", None, 5672),
    ("legacy_rpc.rpc.impl_kombu", "rabbit_hosts", None, ["localhost:5672"]),
    ("legacy_rpc.rpc.impl_kombu", "rabbit_use_ssl", None, False),
    ("legacy_rpc.rpc.impl_kombu", "rabbit_userid", None, "guest"),
    ("legacy_rpc.rpc.impl_kombu", "rabbit_password", None, "guest"),
    ("legacy_rpc.rpc.impl_kombu", "rabbit_virtual_host", None, "/"),
    ("legacy_rpc.rpc.impl_kombu", "rabbit_retry_interval", None, 1),
    ("legacy_rpc.rpc.impl_kombu", "rabbit_retry_backoff", None, 2),
    ("legacy_rpc.rpc.impl_kombu", "rabbit_max_retries", None, 0),
    ("legacy_rpc.rpc.impl_kombu", "rabbit_ha_queues", None, False),
    ("legacy_rpc.rpc.impl_qpid", "qpid_hostname", None, "localhost"),
    ("legacy_rpc.rpc.impl_qpid", "qpid_port", None, 5672),
    ("legacy_rpc.rpc.impl_qpid", "qpid_hosts", None, ["localhost:5672"]),
    ("legacy_rpc.rpc.impl_qpid", "qpid_username", None, ""),
    ("legacy_rpc.rpc.impl_qpid", "qpid_password", None, ""),
    ("legacy_rpc.rpc.impl_qpid", "qpid_sasl_mechanisms", None, ""),
    ("legacy_rpc.rpc.impl_qpid", "qpid_heartbeat", None, 60),
    ("legacy_rpc.rpc.impl_qpid", "qpid_protocol", None, "tcp"),
    ("legacy_rpc.rpc.impl_qpid", "qpid_tcp_nodelay", None, True),
    ("legacy_rpc.rpc.impl_qpid", "qpid_topology_version", None, 1),
    ("legacy_rpc.rpc.impl_zmq", "rpc_zmq_bind_address", None, "*"),
    ("legacy_rpc.rpc.impl_zmq", "rpc_zmq_port", None, 9501),
    ("legacy_rpc.rpc.impl_zmq", "rpc_zmq_contexts", None, 1),
    ("legacy_rpc.rpc.impl_zmq", "rpc_zmq_topic_backlog", None, None),
    ("legacy_rpc.rpc.impl_zmq", "rpc_zmq_ipc_dir", None, "/var/run/openstack"),
    ("legacy_rpc.notifier.api", "notification_driver", None, []),
    ("legacy_rpc.notifier.api", "default_notification_level", None, "INFO"),
    ("legacy_rpc.notifier.api", "default_publisher_id", None, None),
    ("legacy_rpc.notifier.rpc_notifier", "notification_topics", None, ["notifications"]),
    ("legacy_rpc.notifier.rpc_notifier2", "topics", "rpc_notifier2", ["notifications"]),
    ("legacy_rpc.notifier.log_handler", "publish_errors", None, False),
]


@pytest.mark.parametrize(("module", "name", "group", "default"), OPTIONS)
def test_options_registered_with_original_names(module: str, name: str, group: str | None,
                                                default: Any) -> None:
    importlib.import_module(module)
    value = CONF[group][name] if group else CONF[name]
    assert value == default


LEGACY_CONF = """\
[DEFAULT]
rpc_backend = nova.rpc.impl_kombu
control_exchange = nova
rabbit_hosts = rabbit1:5673,[::1]:5674,rabbit3
rabbit_port = 5600
rabbit_userid = nova
rabbit_password = s3cr3t
rabbit_virtual_host = /nova
rabbit_ha_queues = true
rabbit_durable_queues = true
rabbit_use_ssl = true
kombu_ssl_ca_certs = /etc/ssl/ca.pem
allowed_rpc_exception_modules = nova.exception,exceptions
"""


def _conf(tmp_path: Path, text: str) -> cfg.ConfigOpts:
    path = tmp_path / "nova.conf"
    path.write_text(text)
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(path)])
    return conf


def test_legacy_config_file(tmp_path: Path) -> None:
    conf = _conf(tmp_path, LEGACY_CONF)
    url = _transport_url.transport_url(conf)
    assert url.transport == "rabbit"
    assert url.hosts == [TransportHost("rabbit1", 5673, "nova", "s3cr3t"),
                         TransportHost("::1", 5674, "nova", "s3cr3t"),
                         TransportHost("rabbit3", 5600, "nova", "s3cr3t")]
    assert url.virtual_host == "/nova"
    assert url.query == {"rabbit_ha_queues": "true", "amqp_durable_queues": "true",
                         "ssl": "true", "ssl_ca_file": "/etc/ssl/ca.pem"}
    assert "s3cr3t" not in repr(url) and "s3cr3t" not in str(url)
    assert conf.control_exchange == "nova"
    assert conf.allowed_rpc_exception_modules == ["nova.exception", "exceptions"]


def test_transport_url_wins(tmp_path: Path) -> None:
    conf = _conf(tmp_path, LEGACY_CONF + "transport_url = rabbit://u:p@elsewhere:5999/v\n")
    url = _transport_url.transport_url(conf)
    assert url.hosts == [TransportHost("elsewhere", 5999, "u", "p")]
    assert url.virtual_host == "v"
    conf.set_override("transport_url", "fake://")
    assert _transport_url.transport_url(conf).transport == "fake"


def test_fake_rabbit(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "[DEFAULT]\nfake_rabbit = true\n")
    assert _transport_url.transport_url(conf).transport == "fake"


def test_qpid_options_give_amqp1_url(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "[DEFAULT]\nrpc_backend = nova.openstack.common.rpc.impl_qpid\n"
                           "qpid_hostname = qpidhost\nqpid_username = u\nqpid_password = p\n")
    url = _transport_url.transport_url(conf)
    assert url.transport == "amqp1"
    assert url.hosts == [TransportHost("qpidhost", 5672, "u", "p")]


def test_impl_zmq_resolves_to_the_zmq_driver(restore_conf: Any) -> None:
    """Importing impl_zmq registers its options; its backend is the zmq driver (issue 11;
    impl_qpid is installed with the amqp1 extra: tests/amqp1/test_qpid_backend.py)."""
    pytest.importorskip("zmq", reason="pyzmq (legacy-rpc[zmq]) is missing")
    from legacy_rpc.messaging.drivers import registry

    restore_conf("rpc_backend", "nova.rpc.impl_zmq")
    assert _transport_url.transport_url(cfg.CONF).transport == "zmq"
    assert registry.load_driver_class("nova.rpc.impl_zmq").__name__ == "ZmqDriver"


def test_unknown_backend(restore_conf: Any) -> None:
    restore_conf("rpc_backend", "nova.openstack.common.rpc.impl_kombo")
    with pytest.raises(DriverLoadFailure) as info:
        rpc.cast({}, "topic", {"method": "m", "args": {}})
    assert "Known drivers" in str(info.value) and "impl_kombo" in str(info.value)


def test_set_defaults() -> None:
    try:
        rpc.set_defaults(control_exchange="nova")
        assert CONF.control_exchange == "nova"
    finally:
        rpc.set_defaults(control_exchange="openstack")
    assert CONF.control_exchange == "openstack"


SSL_CONF = "[DEFAULT]\nrabbit_use_ssl = true\nkombu_ssl_ca_certs = /etc/ssl/ca.pem\n"


@pytest.fixture
def ssl_warnings(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
                 ) -> pytest.LogCaptureFixture:
    """The warnings about rabbit_use_ssl, each logged once per process: reset here."""
    monkeypatch.setattr(_transport_url, "_warned", set())
    caplog.set_level("WARNING", logger=_transport_url.__name__)
    return caplog


def test_transport_url_keeps_legacy_tls(tmp_path: Path,
                                        ssl_warnings: pytest.LogCaptureFixture) -> None:
    """transport_url wins, but rabbit_use_ssl = True is not dropped silently (no TLS)."""
    conf = _conf(tmp_path, SSL_CONF + "transport_url = rabbit://u:p@broker:5671/v?"
                                      "ssl_ca_file=/url/ca.pem\n")
    url = _transport_url.transport_url(conf)
    assert url.hosts == [TransportHost("broker", 5671, "u", "p")]
    assert url.query == {"ssl_ca_file": "/url/ca.pem", "ssl": "true"}  # the URL's CA wins
    _transport_url.transport_url(conf)
    warnings = [r.getMessage() for r in ssl_warnings.records]
    assert len(warnings) == 1  # once, not at every call
    assert "rabbit_use_ssl = True is kept (TLS), as ssl=true in the URL's query" in warnings[0]

    from legacy_rpc.messaging.drivers.rabbit._opts import load_options
    assert load_options(conf, url.query).ssl is True


def test_transport_url_keeps_legacy_tls_options(tmp_path: Path,
                                                ssl_warnings: pytest.LogCaptureFixture) -> None:
    conf = _conf(tmp_path, SSL_CONF + "kombu_ssl_version = TLSv1_2\n"
                                      "transport_url = rabbit://broker/\n")
    assert _transport_url.transport_url(conf).query == {
        "ssl_ca_file": "/etc/ssl/ca.pem", "ssl_version": "TLSv1_2", "ssl": "true"}
    assert "ssl_ca_file=/etc/ssl/ca.pem" in ssl_warnings.text


@pytest.mark.parametrize(("text", "query", "warning"), [
    (SSL_CONF + "transport_url = rabbit://broker/?ssl=0\n", {"ssl": "0"},
     "rabbit_use_ssl = True is ignored: transport_url says ssl=0"),
    (SSL_CONF + "transport_url = fake://\n", {}, ""),
    ("[DEFAULT]\nrabbit_use_ssl = false\ntransport_url = rabbit://broker/\n", {}, ""),
    ("[DEFAULT]\ntransport_url = rabbit://broker/\n", {}, ""),
])
def test_transport_url_says_otherwise_or_no_legacy_tls(
        tmp_path: Path, ssl_warnings: pytest.LogCaptureFixture, text: str,
        query: dict[str, str], warning: str) -> None:
    conf = _conf(tmp_path, text)
    assert _transport_url.transport_url(conf).query == query
    assert ssl_warnings.text.strip().endswith(warning)
    if not warning:
        assert ssl_warnings.records == []

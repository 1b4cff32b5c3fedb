"""The legacy ``impl_qpid`` backend: its options become an ``amqp1`` URL, every alias of it
loads the amqp1 driver, and an unchanged impl_qpid service talks over RabbitMQ's AMQP 1.0."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc.messaging.drivers import registry
from legacy_rpc.messaging.transport import TransportHost
from legacy_rpc.rpc import _transport_url

pytest.importorskip("proton", reason="python-qpid-proton (legacy-rpc[amqp1]) is missing")


def _conf(tmp_path: Path, text: str) -> cfg.ConfigOpts:
    path = tmp_path / "nova.conf"
    path.write_text("[DEFAULT]\nrpc_backend = nova.openstack.common.rpc.impl_qpid\n" + text)
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(path)])
    return conf


def test_every_qpid_option_reaches_the_url(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "qpid_hosts = q1:5671,[::1],q3\nqpid_port = 5671\n"
                           "qpid_username = nova\nqpid_password = s3cr3t\n"
                           "qpid_protocol = ssl\nqpid_heartbeat = 30\n"
                           "qpid_sasl_mechanisms = PLAIN  ANONYMOUS\n"
                           "qpid_tcp_nodelay = false\nqpid_topology_version = 2\n")
    url = _transport_url.transport_url(conf)
    assert url.transport == "amqp1"
    assert url.hosts == [TransportHost("q1", 5671, "nova", "s3cr3t"),
                         TransportHost("::1", 5671, "nova", "s3cr3t"),
                         TransportHost("q3", 5671, "nova", "s3cr3t")]
    assert url.query == {"ssl": "true", "idle_timeout": "30",
                         "sasl_mechanisms": "PLAIN ANONYMOUS"}
    assert "s3cr3t" not in repr(url)


def test_default_qpid_options_give_a_plain_url(tmp_path: Path) -> None:
    url = _transport_url.transport_url(_conf(tmp_path, ""))
    assert url.hosts == [TransportHost("localhost", 5672, None, None)] and url.query == {}


@pytest.mark.parametrize("line", ["qpid_protocol = udp", "qpid_topology_version = 3",
                                  "qpid_heartbeat = -1"])
def test_unusable_qpid_option_is_a_clear_error(tmp_path: Path, line: str) -> None:
    with pytest.raises(_transport_url.InvalidLegacyOption, match=line.split()[0]):
        _transport_url.transport_url(_conf(tmp_path, line + "\n"))


@pytest.mark.parametrize("name", [
    "nova.openstack.common.rpc.impl_qpid", "cinder.openstack.common.rpc.impl_qpid",
    "openstack.common.rpc.impl_qpid", "nova.rpc.impl_qpid", "legacy_rpc.rpc.impl_qpid",
    "impl_qpid", "qpid", "amqp", "amqp1"])
def test_every_impl_qpid_alias_loads_the_amqp1_driver(name: str) -> None:
    from legacy_rpc.messaging.drivers.amqp1 import Amqp1Driver

    registry.clear_cache()
    assert registry.load_driver_class(name) is Amqp1Driver


@pytest.fixture
def qpid_topic(rabbit_url: str) -> Iterator[str]:
    """A legacy service configured only with rpc_backend = impl_qpid and qpid_* options
    (qpid-python had no virtual host option: the shared broker's default vhost is used, and
    the queues the test declared there are deleted at the end)."""
    import uuid

    from legacy_rpc import rpc
    from legacy_rpc.messaging.transport import TransportURL
    from legacy_rpc.rpc import (
        _transports,
        impl_qpid,  # noqa: F401 - registers the qpid options
    )
    from tests.amqp1.broker import rabbitmqctl
    from tests.helpers import delete_broker_objects

    host = TransportURL.parse(cfg.CONF, rabbit_url).hosts[0]
    topic = f"lrpc-amqp1-qpid-{uuid.uuid4().hex[:8]}"
    overrides = {"rpc_backend": "nova.openstack.common.rpc.impl_qpid",
                 "qpid_hostname": host.hostname, "qpid_port": host.port,
                 "qpid_username": host.username, "qpid_password": host.password,
                 "rpc_response_timeout": 10}
    queues = [topic]
    try:
        for name, value in overrides.items():
            cfg.CONF.set_override(name, value)
        yield topic
        queues += [name for name in rabbitmqctl("list_queues", "name", "-q").split()
                   if topic in name]
        driver: Any = _transports.get(cfg.CONF, _transport_url.transport_url(cfg.CONF))._driver
        if driver._reply is not None:
            queues.append(driver._reply.queue_name)
    finally:
        rpc.cleanup()
        rpc._RPCIMPL = None
        for name in overrides:
            cfg.CONF.clear_override(name)
        delete_broker_objects(rabbit_url, queues)


def test_unchanged_impl_qpid_service_calls_and_casts(qpid_topic: str) -> None:
    import threading

    from legacy_rpc import rpc
    from legacy_rpc.rpc import dispatcher

    received = threading.Event()

    class Manager:
        RPC_API_VERSION = "1.0"

        def add(self, context: Any, a: int, b: int) -> int:
            return a + b

        def poke(self, context: Any) -> None:
            received.set()

    conn = rpc.create_connection(new=True)
    try:
        conn.create_consumer(qpid_topic, dispatcher.RpcDispatcher([Manager()]))
        conn.consume_in_thread()
        ctxt: dict[str, Any] = {}
        assert rpc.call(ctxt, qpid_topic, {"method": "add", "args": {"a": 2, "b": 3}}) == 5
        rpc.cast(ctxt, qpid_topic, {"method": "poke", "args": {}})
        assert received.wait(10)
        assert type(_transport_url.transport_url(cfg.CONF)).__name__ == "TransportURL"
    finally:
        conn.close()


def test_legacy_rpc_config_shows_the_amqp1_url_and_options(tmp_path: Path) -> None:
    """``legacy-rpc config`` on a qpid config: the URL, the [oslo_messaging_amqp1] options
    the driver reads, and why the rest has no effect; the password is masked."""
    import subprocess
    import sys

    path = tmp_path / "nova.conf"
    path.write_text("[DEFAULT]\nrpc_backend = nova.openstack.common.rpc.impl_qpid\n"
                    "qpid_hostname = q1\nqpid_port = 5671\nqpid_username = nova\n"
                    "qpid_password = s3cr3t\nqpid_protocol = ssl\nqpid_heartbeat = 30\n"
                    "qpid_sasl_mechanisms = PLAIN\nqpid_tcp_nodelay = false\n"
                    "qpid_topology_version = 2\n")
    result = subprocess.run([sys.executable, "-m", "legacy_rpc.cli", "config", str(path)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "transport_url = amqp1://nova:****@q1:5671/" in out
    assert "[oslo_messaging_amqp1]\nssl = true\nidle_timeout = 30\nsasl_mechanisms = PLAIN" in out
    assert "qpid_tcp_nodelay (line 10): no effect" in out
    assert "qpid_topology_version (line 11): no effect" in out
    assert "s3cr3t" not in out + result.stderr
    # What it prints is what the driver accepts.
    from legacy_rpc.messaging.drivers.amqp1._opts import load_options

    conf = cfg.ConfigOpts()
    conf([])
    options = load_options(conf, {"ssl": "true", "idle_timeout": "30",
                                  "sasl_mechanisms": "PLAIN"})
    assert options.ssl and options.idle_timeout == 30 and options.sasl_mechanisms == "PLAIN"

"""A legacy ``impl_zmq`` config file: what ``legacy-rpc config`` says about it, and a
service configured by it running on the zmq driver unchanged."""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.migration.confmap import map_config
from legacy_rpc.rpc import _opts as legacy_opts
from legacy_rpc.rpc import _transport_url

LEGACY_FILE = """\
[DEFAULT]
rpc_backend = nova.openstack.common.rpc.impl_zmq
rpc_zmq_matchmaker = nova.openstack.common.rpc.matchmaker_redis.MatchMakerRedis
rpc_zmq_host = 127.0.0.1
rpc_zmq_bind_address = 127.0.0.1
rpc_zmq_topic_backlog = 100
matchmaker_heartbeat_freq = 10
matchmaker_heartbeat_ttl = 30

[matchmaker_redis]
host = 127.0.0.1
port = 6379
password = {password}
"""


@pytest.fixture
def legacy_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "nova.conf"
    path.write_text(LEGACY_FILE.format(password=""))
    return path


def test_config_keeps_the_zmq_options_and_masks_the_redis_password(
        tmp_path: pathlib.Path) -> None:
    path = tmp_path / "nova.conf"
    path.write_text(LEGACY_FILE.format(password="hunter2"))
    mapping = map_config(path)
    assert mapping.options["DEFAULT"]["transport_url"] == "zmq://127.0.0.1:9501/"
    assert str(mapping.options["DEFAULT"]["rpc_zmq_matchmaker"]).endswith("MatchMakerRedis")
    assert mapping.options["DEFAULT"]["matchmaker_heartbeat_ttl"] == "30"
    assert mapping.options["matchmaker_redis"]["password"] == "****"
    assert mapping.notes == []  # nothing reported as without effect
    assert map_config(path, show_secrets=True).options["matchmaker_redis"][
        "password"] == "hunter2"


def test_a_service_configured_by_the_legacy_file_runs_on_zmq(
        legacy_file: pathlib.Path, shared_redis: Any) -> None:
    conf = cfg.ConfigOpts()
    legacy_opts.register(conf, legacy_opts.rpc_opts, legacy_opts.zmq_opts)
    conf(["--config-file", str(legacy_file)], project="nova")
    url = _transport_url.transport_url(conf)
    transport = messaging.get_rpc_transport(conf, url)
    topic = f"legacy-file-{uuid.uuid4().hex[:8]}"

    class Endpoint:
        def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
            return value

    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic,
                                                                  server="127.0.0.1"),
                                      [Endpoint()])
    server.start()
    try:
        options = transport._driver.options  # type: ignore[attr-defined]
        assert (options.matchmaker.endswith("MatchMakerRedis"), options.bind_address,
                options.host, options.topic_backlog, options.heartbeat_freq,
                options.heartbeat_ttl) == (True, "127.0.0.1", "127.0.0.1", 100, 10, 30)
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic),
                                          timeout=10)
        assert client.call({}, "echo", value="from nova.conf") == "from nova.conf"
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def test_the_demo_runs_on_zmq_and_skips_the_oslo_messaging_step(
        zmq_url: Callable[..., str], capsys: pytest.CaptureFixture[str]) -> None:
    """oslo.messaging 18.3.1 has no zmq driver: the demo says so instead of failing."""
    from legacy_rpc.cli import main

    assert main(["--url", zmq_url("inprocess"), "demo"]) == 0
    out = capsys.readouterr().out
    assert "7. oslo.messaging client" in out
    assert "cannot use this transport: skipped" in out
    assert "All 14 steps passed" in out

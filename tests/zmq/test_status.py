"""``legacy-rpc status`` on zmq://: the matchmaker's registrations, as an operator reads them."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.cli import main
from tests.zmq.conftest import free_port


class Endpoint:
    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        return value

    def info(self, ctxt: dict[str, Any], *args: Any) -> None:
        return None


def _status(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
    code = main(["--url", url, "status", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_status_lists_every_live_registration_and_only_those(
        zmq_url: Callable[..., str], conf: cfg.ConfigOpts,
        capsys: pytest.CaptureFixture[str]) -> None:
    url = zmq_url("redis")
    transport = messaging.get_rpc_transport(conf, url)
    servers = [messaging.get_rpc_server(transport, messaging.Target(topic="compute",
                                                                    server=f"host-{i}"),
                                        [Endpoint()]) for i in (1, 2)]
    listener = messaging.get_notification_listener(
        messaging.get_notification_transport(conf, url),
        [messaging.Target(topic="notifications")], [Endpoint()])
    try:
        for server in [*servers, listener]:
            server.start()
        addresses = sorted(s.listener.poll_style_listener.address  # type: ignore[union-attr]
                           for s in servers)
        code, out, _ = _status(capsys, url, "--json")
        assert code == 0
        found = json.loads(out)["registrations"]
        assert sorted(m.split()[0] for m in found["openstack:compute"]) == addresses
        assert sorted(m.split()[0] for m in found["fanout:compute"]) == addresses
        assert [m.split()[1] for m in found["openstack:compute.host-1"]] == ["compute.host-1"]
        assert len(found["openstack:notifications.info"]) == 1
        code, out, _ = _status(capsys, url, "compute")
        assert code == 0 and "openstack:compute: 2 member(s)" in out
        assert "notifications" not in out
        servers[0].stop()
        servers[0].wait()
        code, out, _ = _status(capsys, url, "--json", "compute")
        found = json.loads(out)["registrations"]
        assert [m.split()[0] for m in found["openstack:compute"]] == [
            servers[1].listener.poll_style_listener.address]  # type: ignore[union-attr]
        assert "openstack:compute.host-1" not in found
        code, _, err = _status(capsys, url, "nosuch")
        assert code == 1 and "no registration for topic(s) nosuch" in err
    finally:
        for server in [*servers, listener]:
            server.stop()
            server.wait()
        transport.cleanup()


def test_status_of_an_unreachable_matchmaker_exits_3_masked(
        capsys: pytest.CaptureFixture[str]) -> None:
    url = f"zmq://127.0.0.1/x?matchmaker=redis&redis_port={free_port()}&redis_password=hunter2"
    code, out, err = _status(capsys, url)
    assert code == 3
    assert "the matchmaker cannot be read" in err and "hunter2" not in err + out


def test_status_shows_what_the_ring_file_says(tmp_path: pathlib.Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    ring = tmp_path / "ring.json"
    ring.write_text(json.dumps({"compute": ["host-a", "host-b:9600"]}))
    code, out, _ = _status(capsys, f"zmq://127.0.0.1/?matchmaker=ring&ringfile={ring}")
    assert code == 0
    assert "*:compute: 2 member(s)" in out
    assert "tcp://host-b:9600 (queue compute)" in out

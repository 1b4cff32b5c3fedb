"""An amqp1 (AMQP 1.0) service of ours next to unmodified oslo.messaging 18.3.1 services
(AMQP 0-9-1, rabbit driver) on one RabbitMQ vhost: the cells of the cross-protocol matrix in
``compat/README.md`` that need the other library, not only our own rabbit driver.

oslo.messaging declares the topic queue, its server queues and the ``<topic>_fanout``
exchange; the amqp1 side sends to those queues and meets the exchange while it exists.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

import legacy_rpc.messaging as messaging
from tests.amqp1.broker import rabbitmqctl
from tests.contract.conftest import amqp1_url  # noqa: F401 - a fixture
from tests.helpers import wait_for
from tests.interop.conftest import OsloPeer, legacy_conf

pytest.importorskip("proton", reason="python-qpid-proton (legacy-rpc[amqp1]) is missing")

pytestmark = [pytest.mark.interop, pytest.mark.broker]


class Recorder:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.tags: list[str] = []

    def whoami(self, ctxt: dict[str, Any]) -> str:
        return "amqp1-a1"

    def record(self, ctxt: dict[str, Any], tag: str) -> None:
        with self.cond:
            self.tags.append(tag)


class Mixed:
    """One oslo.messaging server process (servers o1, o2) and our amqp1 side, one topic."""

    def __init__(self, url: str) -> None:
        run = uuid.uuid4().hex[:8]
        self.topic, self.exchange = f"amqp1-oslo-{run}", f"amqp1-oslo-x-{run}"
        self.vhost = unquote(urlsplit(url).path.lstrip("/"))
        rabbit_url = "rabbit" + url[len("amqp1"):]
        self.oslo = OsloPeer("server", ["--url", rabbit_url, "--exchange", self.exchange,
                                        "--topic", self.topic, "--server", "o1",
                                        "--server", "o2"], "oslo-servers")
        self.oslo_client = OsloPeer("client", ["--url", rabbit_url, "--exchange",
                                               self.exchange, "--topic", self.topic],
                                    "oslo-client")
        self.oslo.wait_ready(count=2)
        self.transport = messaging.get_rpc_transport(legacy_conf(self.exchange), url)
        self.client = messaging.get_rpc_client(self.transport,
                                               messaging.Target(topic=self.topic), timeout=10)
        self.servers: list[Any] = []

    def amqp1_server(self) -> Recorder:
        recorder = Recorder()
        server = messaging.get_rpc_server(
            self.transport, messaging.Target(topic=self.topic, server="a1"), [recorder])
        server.start()
        self.servers.append(server)
        return recorder

    def fanout_bindings(self) -> list[str]:
        out = rabbitmqctl("list_bindings", "-p", self.vhost, "-q", "--no-table-headers",
                          "source_name", "destination_name")
        return [line.split("\t")[1] for line in out.splitlines()
                if line.split("\t")[0] == f"{self.topic}_fanout"]

    def oslo_tags(self) -> list[tuple[str, str]]:
        return sorted((line["server"], line["args"]["tag"]) for line in self.oslo.lines(
            lambda line: line.get("event") == "rpc"))

    def close(self) -> None:
        for server in self.servers:
            server.stop()
            server.wait()
        self.transport.cleanup()
        for peer in (self.oslo, self.oslo_client):
            peer.close()


@pytest.fixture
def mixed(request: pytest.FixtureRequest) -> Iterator[Mixed]:
    fleet = Mixed(request.getfixturevalue("amqp1_url"))  # the vhost of the amqp1 tests
    yield fleet
    fleet.close()


def test_an_amqp1_client_calls_and_casts_oslo_servers(mixed: Mixed) -> None:
    assert mixed.client.call({}, "whoami") in {"o1", "o2"}
    assert mixed.client.prepare(server="o2").call({}, "whoami") == "o2"
    mixed.client.prepare(server="o1").cast({}, "record", tag="direct")
    mixed.oslo.wait_lines(lambda line: line.get("event") == "rpc", 1, what="the cast")
    assert mixed.oslo_tags() == [("o1", "direct")]


def test_fanout_crosses_between_oslo_and_amqp1_servers(mixed: Mixed) -> None:
    """oslo's servers declared ``<topic>_fanout``; the amqp1 server binds it too. A fanout
    from either library reaches all three servers exactly once."""
    recorder = mixed.amqp1_server()
    wait_for(lambda: len(mixed.fanout_bindings()) == 3,  # o1, o2 and the amqp1 server
             message=lambda: f"bindings: {mixed.fanout_bindings()}")
    mixed.client.prepare(fanout=True).cast({}, "record", tag="from-amqp1")
    mixed.oslo_client.ok("cast", method="record", args={"tag": "from-oslo"}, fanout=True)
    wait_for(lambda: sorted(recorder.tags) == ["from-amqp1", "from-oslo"]
             and len(mixed.oslo_tags()) == 4,
             message=lambda: f"amqp1 server: {recorder.tags}; oslo: {mixed.oslo_tags()}")
    # A last fanout each way, after which a duplicate of the first ones would have come.
    mixed.client.prepare(fanout=True).cast({}, "record", tag="end-amqp1")
    mixed.oslo_client.ok("cast", method="record", args={"tag": "end-oslo"}, fanout=True)
    wait_for(lambda: len(recorder.tags) >= 4 and len(mixed.oslo_tags()) >= 8,
             message=lambda: f"amqp1 server: {recorder.tags}; oslo: {mixed.oslo_tags()}")
    assert sorted(recorder.tags) == ["end-amqp1", "end-oslo", "from-amqp1", "from-oslo"]
    assert mixed.oslo_tags() == sorted(
        (server, tag) for server in ("o1", "o2")
        for tag in ("end-amqp1", "end-oslo", "from-amqp1", "from-oslo"))

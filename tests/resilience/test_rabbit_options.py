"""``[oslo_messaging_rabbit]`` queue options against the real broker (in a private vhost)."""

from __future__ import annotations

from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from tests.resilience.conftest import Vhost, rabbitmqctl

pytestmark = pytest.mark.broker


class Echo:
    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        return value


def _serve_and_call(url: str, topic: str) -> Any:
    conf = cfg.ConfigOpts()
    conf([])
    transport = messaging.get_rpc_transport(conf, url)
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s"),
                                      [Echo()])
    server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        result = [client.call({}, "echo", value=n) for n in range(5)]
        client.prepare(fanout=True).cast({}, "echo", value="all")
        return result
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def _queue_types(vhost: Vhost) -> dict[str, tuple[str, str]]:
    out = rabbitmqctl("list_queues", "-p", vhost.name, "name", "type", "durable", "-q",
                      "--no-table-headers")
    rows = [line.split("\t") for line in out.splitlines() if line.strip()]
    return {name: (kind, durable) for name, kind, durable in rows}


def test_quorum_queues(vhost: Vhost) -> None:
    url = f"{vhost.url}?rabbit_quorum_queue=true&rabbit_transient_quorum_queue=true"
    assert _serve_and_call(url, "quorum") == [0, 1, 2, 3, 4]
    types = _queue_types(vhost)
    assert types["quorum"] == ("quorum", "true")
    assert types["quorum.s"] == ("quorum", "true")
    replies = [kind for name, kind in types.items() if name.startswith("reply_")]
    assert replies == [("quorum", "true")]


def test_durable_queues_and_prefetch(vhost: Vhost) -> None:
    url = f"{vhost.url}?amqp_durable_queues=true&rabbit_qos_prefetch_count=2"
    assert _serve_and_call(url, "durable") == [0, 1, 2, 3, 4]
    types = _queue_types(vhost)
    assert types["durable"] == ("classic", "true")
    assert types["durable.s"] == ("classic", "true")

"""``rpc_response_timeout = None`` means no limit (as in oslo.messaging), not a TypeError."""

from __future__ import annotations

import uuid
from typing import Any

from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging import opts


class Echo:
    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        return value


def test_a_call_without_timeout_waits_without_limit() -> None:
    conf = cfg.ConfigOpts()
    conf([])
    opts.register_transport_opts(conf)
    conf.set_override("rpc_response_timeout", None)
    transport = messaging.get_rpc_transport(conf, f"fake:///none-{uuid.uuid4().hex[:8]}")
    server = messaging.get_rpc_server(transport, messaging.Target(topic="t", server="s"),
                                      [Echo()])
    server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic="t"))
        assert client.call({}, "echo", value=7) == 7
        assert list(client.stream({}, "echo", value=8)) == [8]
    finally:
        server.stop()
        server.wait()
        transport.cleanup()

"""``get_rpc_transport``: the recommended factory for RPC transports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from oslo_config import cfg

from legacy_rpc.messaging import transport as _transport
from legacy_rpc.messaging.transport import RPCTransport, Transport, TransportURL

__all__ = ["get_rpc_transport"]


def get_rpc_transport(conf: cfg.ConfigOpts, url: str | TransportURL | None = None,
                      allowed_remote_exmods: Sequence[str] | None = None,
                      transport_cls: type[Transport] = RPCTransport,
                      aliases: Mapping[str, str] | None = None) -> Transport:
    """A transport for RPC clients and servers (see ``get_transport`` for the arguments)."""
    # looked up at call time: test suites patch transport._get_transport
    return _transport._get_transport(conf, url, allowed_remote_exmods, aliases, transport_cls)

"""RPC: clients, servers, the dispatcher and their exceptions (``oslo_messaging.rpc``)."""

from legacy_rpc.messaging.rpc.client import (
    ClientSendError,
    RemoteError,
    RPCClient,
    RPCVersionCapError,
    get_rpc_client,
)
from legacy_rpc.messaging.rpc.dispatcher import (
    DefaultRPCAccessPolicy,
    ExpectedException,
    ExplicitRPCAccessPolicy,
    LegacyRPCAccessPolicy,
    NoSuchMethod,
    RPCAccessPolicyBase,
    RPCDispatcher,
    RPCDispatcherError,
    UnsupportedVersion,
    expected_exceptions,
    expose,
)
from legacy_rpc.messaging.rpc.server import RPCServer, get_rpc_server
from legacy_rpc.messaging.rpc.transport import get_rpc_transport

__all__ = [
    "ClientSendError",
    "ExpectedException",
    "NoSuchMethod",
    "RPCClient",
    "RPCAccessPolicyBase",
    "LegacyRPCAccessPolicy",
    "DefaultRPCAccessPolicy",
    "ExplicitRPCAccessPolicy",
    "RPCDispatcher",
    "RPCDispatcherError",
    "RPCServer",
    "RPCVersionCapError",
    "RemoteError",
    "UnsupportedVersion",
    "expected_exceptions",
    "get_rpc_transport",
    "get_rpc_server",
    "get_rpc_client",
    "expose",
]

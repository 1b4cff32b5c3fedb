"""The new-style core: the public API of ``oslo_messaging``, on legacy-rpc's drivers.

Code written against it can switch to oslo.messaging by changing one import, and
oslo.messaging's documentation applies. Additions (streaming calls, the driver alias table)
never change the meaning of an existing name.
"""

from legacy_rpc.messaging import exceptions, rpc, serializer, server, target, transport
from legacy_rpc.messaging.exceptions import (
    InvalidTarget,
    MessageDeliveryFailure,
    MessageUndeliverable,
    MessagingException,
    MessagingTimeout,
)
from legacy_rpc.messaging.rpc import (
    ClientSendError,
    DefaultRPCAccessPolicy,
    ExpectedException,
    ExplicitRPCAccessPolicy,
    LegacyRPCAccessPolicy,
    NoSuchMethod,
    RemoteError,
    RPCAccessPolicyBase,
    RPCClient,
    RPCDispatcher,
    RPCDispatcherError,
    RPCVersionCapError,
    UnsupportedVersion,
    expected_exceptions,
    expose,
    get_rpc_client,
    get_rpc_server,
    get_rpc_transport,
)
from legacy_rpc.messaging.serializer import JsonPayloadSerializer, NoOpSerializer, Serializer
from legacy_rpc.messaging.server import (
    ExecutorLoadFailure,
    MessageHandlingServer,
    MessagingServerError,
    ServerListenError,
)
from legacy_rpc.messaging.target import Target
from legacy_rpc.messaging.transport import (
    DriverLoadFailure,
    InvalidTransportURL,
    Transport,
    TransportHost,
    TransportOptions,
    TransportURL,
    get_transport,
    set_transport_defaults,
)

__all__ = [
    "ClientSendError",
    "DefaultRPCAccessPolicy",
    "DriverLoadFailure",
    "ExecutorLoadFailure",
    "ExpectedException",
    "ExplicitRPCAccessPolicy",
    "InvalidTarget",
    "InvalidTransportURL",
    "LegacyRPCAccessPolicy",
    "MessageDeliveryFailure",
    "MessageHandlingServer",
    "MessageUndeliverable",
    "MessagingException",
    "MessagingServerError",
    "MessagingTimeout",
    "NoSuchMethod",
    "NoOpSerializer",
    "JsonPayloadSerializer",
    "RPCAccessPolicyBase",
    "RPCClient",
    "RPCDispatcher",
    "RPCDispatcherError",
    "RPCVersionCapError",
    "RemoteError",
    "Serializer",
    "ServerListenError",
    "Target",
    "Transport",
    "TransportHost",
    "TransportOptions",
    "TransportURL",
    "UnsupportedVersion",
    "expected_exceptions",
    "expose",
    "get_rpc_client",
    "get_rpc_server",
    "get_rpc_transport",
    "get_transport",
    "set_transport_defaults",
    "exceptions",
    "rpc",
    "serializer",
    "server",
    "target",
    "transport",
]

"""``RPCDispatcher``: picks the endpoint method for a request (namespace, version, policy)."""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from legacy_rpc.messaging._utils import version_is_compatible
from legacy_rpc.messaging.drivers.base import IncomingMessage
from legacy_rpc.messaging.serializer import NoOpSerializer, Serializer
from legacy_rpc.messaging.server import MessagingServerError
from legacy_rpc.messaging.target import Target

LOG = logging.getLogger(__name__)

__all__ = [
    "RPCDispatcher",
    "RPCAccessPolicyBase",
    "LegacyRPCAccessPolicy",
    "DefaultRPCAccessPolicy",
    "ExplicitRPCAccessPolicy",
    "RPCDispatcherError",
    "NoSuchMethod",
    "UnsupportedVersion",
    "ExpectedException",
    "expected_exceptions",
    "expose",
    "StreamedResult",
]

F = TypeVar("F", bound=Callable[..., Any])


def _short(name: str, limit: int = 200) -> str:
    """A name from a request, cut for exception texts and logs (a peer chooses its size)."""
    return name if len(name) <= limit else f"{name[:limit]}... ({len(name)} characters)"


class RPCDispatcherError(MessagingServerError):
    """A request could not be dispatched."""


class NoSuchMethod(RPCDispatcherError, AttributeError):
    """No endpoint of a matching namespace and version has this method."""

    def __init__(self, method: str) -> None:
        super().__init__(f"Endpoint does not support RPC method {_short(method)}")
        self.method = method


class UnsupportedVersion(RPCDispatcherError):
    """No endpoint serves the namespace and version the request asked for."""

    def __init__(self, version: str, method: str | None = None) -> None:
        msg = f"Endpoint does not support RPC version {_short(version)}"
        if method:
            msg += f". Attempted method: {_short(method)}"
        super().__init__(msg)
        self.version = version
        self.method = method


class ExpectedException(Exception):
    """Wraps an exception the endpoint declared as expected; logged at debug only."""

    def __init__(self) -> None:
        super().__init__()
        self.exc_info = sys.exc_info()


def expected_exceptions(*exceptions: type[BaseException]) -> Callable[[F], F]:
    """Declare exceptions that are part of a method's contract.

    The client still receives the original exception; the server just does not log it as
    an error. Put ``@expose`` outside this decorator.
    """

    def outer(func: F) -> F:
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except exceptions as exc:
                raise ExpectedException() from exc

        return inner  # type: ignore[return-value]

    return outer


def expose(func: F) -> F:
    """Mark a method as callable under :class:`ExplicitRPCAccessPolicy`."""
    func.exposed = True  # type: ignore[attr-defined]
    return func


class RPCAccessPolicyBase:
    """Decides whether a method of an endpoint may be called remotely."""

    def is_allowed(self, endpoint: Any, method: str) -> bool:
        raise NotImplementedError


class LegacyRPCAccessPolicy(RPCAccessPolicyBase):
    """Everything may be called, private methods included (the pre-Queens behaviour)."""

    def is_allowed(self, endpoint: Any, method: str) -> bool:
        return True


class DefaultRPCAccessPolicy(RPCAccessPolicyBase):
    """Methods whose names start with ``_`` cannot be called."""

    def is_allowed(self, endpoint: Any, method: str) -> bool:
        return not method.startswith("_")


class ExplicitRPCAccessPolicy(RPCAccessPolicyBase):
    """Only methods decorated with :func:`expose` can be called."""

    def is_allowed(self, endpoint: Any, method: str) -> bool:
        return bool(getattr(getattr(endpoint, method, None), "exposed", False))


class StreamedResult:
    """A method's generator result, serialized value by value as it is produced."""

    def __init__(self, values: Iterator[Any]) -> None:
        self._values = values

    def __iter__(self) -> Iterator[Any]:
        return self._values


class PingEndpoint:
    """Answers ``oslo_rpc_server_ping`` (enabled by ``rpc_ping_enabled``)."""

    def oslo_rpc_server_ping(self, ctxt: Any, **kwargs: Any) -> str:
        return "pong"


class RPCDispatcher:
    """Dispatches a request to the first endpoint (in list order) that serves it."""

    def __init__(self, endpoints: Sequence[Any], serializer: Serializer | None = None,
                 access_policy: type[RPCAccessPolicyBase] | None = None) -> None:
        for endpoint in endpoints:
            target = getattr(endpoint, "target", None)
            if target is not None and not isinstance(target, Target):
                raise TypeError("'target' is a reserved Endpoint attribute used for namespace "
                                "and version filtering. It must be of type Target. Do not "
                                "define an Endpoint method named 'target'")
        # the caller's list itself, as oslo.messaging keeps it (tests assert identity)
        self.endpoints = endpoints if isinstance(endpoints, list) else list(endpoints)
        self.serializer = serializer or NoOpSerializer()
        if access_policy is None:
            access_policy = DefaultRPCAccessPolicy
        if not (isinstance(access_policy, type)
                and issubclass(access_policy, RPCAccessPolicyBase)):
            raise TypeError("access_policy must be a subclass of RPCAccessPolicyBase, got "
                            f"{access_policy!r}")
        self.access_policy = access_policy()
        self._default_target = Target()

    def _target(self, endpoint: Any) -> Target:
        target = getattr(endpoint, "target", None)
        return target if isinstance(target, Target) else self._default_target

    def _callable(self, endpoint: Any, method: str) -> Callable[..., Any] | None:
        if not self.access_policy.is_allowed(endpoint, method):
            return None
        func = getattr(endpoint, method, None)
        if func is None or isinstance(func, Target) or not callable(func):
            return None
        return func  # type: ignore[no-any-return]

    def dispatch(self, incoming: IncomingMessage) -> Any:
        """Call the endpoint method; a generator result comes back as a StreamedResult."""
        message = incoming.message
        method = message.get("method")
        args = message.get("args") or {}
        namespace = message.get("namespace")
        version = message.get("version") or "1.0"
        if not isinstance(method, str):
            raise NoSuchMethod(repr(method))
        compatible_seen = False
        for endpoint in self.endpoints:
            target = self._target(endpoint)
            if namespace not in target.accepted_namespaces:
                continue
            if not version_is_compatible(target.version or "1.0", version):
                continue
            func = self._callable(endpoint, method)
            if func is not None:
                return self._do_dispatch(func, incoming.ctxt, args)
            compatible_seen = True
        if compatible_seen:
            raise NoSuchMethod(method)
        raise UnsupportedVersion(version, method=method)

    def _do_dispatch(self, func: Callable[..., Any], ctxt: dict[str, Any],
                     args: dict[str, Any]) -> Any:
        serializer = self.serializer
        context = serializer.deserialize_context(ctxt)
        kwargs = {str(k): serializer.deserialize_entity(context, v) for k, v in args.items()}
        result = func(context, **kwargs)
        if inspect.isgenerator(result):
            return StreamedResult(serializer.serialize_entity(context, v) for v in result)
        return serializer.serialize_entity(context, result)

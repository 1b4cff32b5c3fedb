"""RPC clients: ``get_rpc_client``, ``RPCClient`` and its prepared call contexts.

Delivery: ``cast`` returns once the backend has accepted the message and is at most once;
``call`` waits for the result or raises ``MessagingTimeout`` naming the target and message
id. ``stream`` (an addition to the oslo.messaging API) iterates over every value a generator
method yields, as they arrive; the legacy ``multicall`` stands on it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from oslo_config import cfg

from legacy_rpc.messaging import opts
from legacy_rpc.messaging._utils import parse_version, version_is_compatible
from legacy_rpc.messaging.drivers.base import TransportDriverError
from legacy_rpc.messaging.exceptions import InvalidTarget, MessagingException, RemoteError
from legacy_rpc.messaging.serializer import NoOpSerializer, Serializer
from legacy_rpc.messaging.target import Target

if TYPE_CHECKING:
    from legacy_rpc.messaging.transport import Transport, TransportOptions

LOG = logging.getLogger(__name__)

__all__ = ["RPCClient", "get_rpc_client", "RemoteError", "RPCVersionCapError",
           "ClientSendError"]


class RPCVersionCapError(MessagingException):
    """The message's version is above the client's ``version_cap``."""

    def __init__(self, version: str | None, version_cap: str) -> None:
        super().__init__(f"Requested message version, {version} is incompatible. It needs to "
                         "be equal in major version and less than or equal in minor version as "
                         f"the specified version cap {version_cap}.")
        self.version = version
        self.version_cap = version_cap


class ClientSendError(MessagingException):
    """The driver failed to send the message."""

    def __init__(self, target: Target, ex: BaseException) -> None:
        super().__init__(f"Failed to send to target {target!r}: {ex}")
        self.target = target
        self.ex = ex


_UNSET: Any = object()


def _context_dict(ctxt: Any) -> dict[str, Any]:
    if ctxt is None:
        return {}
    if isinstance(ctxt, dict):
        return ctxt
    to_dict = getattr(ctxt, "to_dict", None)
    if callable(to_dict):
        result = to_dict()
        if isinstance(result, dict):
            return result
    raise TypeError(f"A serialized context must be a dict or have to_dict(), got "
                    f"{type(ctxt).__name__}")


class _BaseCallContext:
    """The sending half shared by ``RPCClient`` and its prepared contexts."""

    def __init__(self, transport: Transport, target: Target, serializer: Serializer,
                 timeout: float | None = None, version_cap: str | None = None,
                 retry: int | None = None, call_monitor_timeout: float | None = None,
                 transport_options: TransportOptions | None = None) -> None:
        self.conf = transport.conf
        self.transport = transport
        self.target = target
        self.serializer = serializer
        self.timeout = timeout
        self.call_monitor_timeout = call_monitor_timeout
        self.retry = retry
        self.version_cap = version_cap
        self.transport_options = transport_options

    def _make_message(self, ctxt: Any, method: str, args: dict[str, Any]) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "method": method,
            "args": {k: self.serializer.serialize_entity(ctxt, v) for k, v in args.items()},
        }
        if self.target.namespace is not None:
            msg["namespace"] = self.target.namespace
        if self.target.version is not None:
            msg["version"] = self.target.version
        return msg

    def _check_version_cap(self, version: str | None) -> None:
        if self.version_cap and not version_is_compatible(self.version_cap, version):
            raise RPCVersionCapError(version=version, version_cap=self.version_cap)

    def can_send_version(self, version: str | None = _UNSET) -> bool:
        """Whether ``version`` (default: the target's) is within the version cap."""
        if version is _UNSET:
            version = self.target.version
        return version_is_compatible(self.version_cap, version)

    def _prepare_send(self, ctxt: Any, method: str,
                      kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        msg = self._make_message(ctxt, method, kwargs)
        wire_ctxt = _context_dict(self.serializer.serialize_context(ctxt))
        if self.version_cap:
            self._check_version_cap(msg.get("version"))
        return msg, wire_ctxt

    def _call_timeout(self) -> float | None:
        """The client's timeout, else ``rpc_response_timeout`` (None: no limit, as oslo).

        Options are registered only when missing: registering empties oslo.config's cache
        of values, which would make every later option read slow again."""
        if self.timeout is not None:
            return self.timeout
        try:
            value = self.conf.rpc_response_timeout
        except cfg.NoSuchOptError:
            opts.register_transport_opts(self.conf)
            value = self.conf.rpc_response_timeout
        return None if value is None else float(value)

    def cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        """Send a request and return once the backend has it; no result comes back."""
        msg, wire_ctxt = self._prepare_send(ctxt, method, kwargs)
        try:
            self.transport._send(self.target, wire_ctxt, msg, retry=self.retry,
                                 transport_options=self.transport_options)
        except TransportDriverError as exc:
            raise ClientSendError(self.target, exc) from exc

    def call(self, ctxt: Any, method: str, **kwargs: Any) -> Any:
        """Send a request and wait for its result (a remote exception is raised here)."""
        if self.target.fanout:
            raise InvalidTarget("A call cannot be used with fanout", self.target)
        msg, wire_ctxt = self._prepare_send(ctxt, method, kwargs)
        try:
            result = self.transport._send(
                self.target, wire_ctxt, msg, wait_for_reply=True, timeout=self._call_timeout(),
                call_monitor_timeout=self.call_monitor_timeout, retry=self.retry,
                transport_options=self.transport_options)
        except TransportDriverError as exc:
            raise ClientSendError(self.target, exc) from exc
        return self.serializer.deserialize_entity(ctxt, result)

    def stream(self, ctxt: Any, method: str, **kwargs: Any) -> Iterator[Any]:
        """Call a method and iterate over its values as they arrive.

        A generator method produces one value per ``yield``; any other method exactly one.
        The timeout bounds the wait for each value. Remote exceptions and timeouts are
        raised during iteration. Addition to the oslo.messaging API.
        """
        if self.target.fanout:
            raise InvalidTarget("A call cannot be used with fanout", self.target)
        msg, wire_ctxt = self._prepare_send(ctxt, method, kwargs)
        try:
            values = self.transport._send_stream(
                self.target, wire_ctxt, msg, timeout=self._call_timeout(),
                call_monitor_timeout=self.call_monitor_timeout, retry=self.retry,
                transport_options=self.transport_options)
        except TransportDriverError as exc:
            raise ClientSendError(self.target, exc) from exc
        return self._deserialized(ctxt, values)

    def _deserialized(self, ctxt: Any, values: Iterator[Any]) -> Iterator[Any]:
        try:
            for value in values:
                yield self.serializer.deserialize_entity(ctxt, value)
        except TransportDriverError as exc:
            raise ClientSendError(self.target, exc) from exc

    def _prepared(self, exchange: Any, topic: Any, namespace: Any, version: Any, server: Any,
                  fanout: Any, timeout: Any, version_cap: Any, retry: Any,
                  call_monitor_timeout: Any, transport_options: Any) -> _CallContext:
        fields = {name: value for name, value in (
            ("exchange", exchange), ("topic", topic), ("namespace", namespace),
            ("version", version), ("server", server), ("fanout", fanout)) if value is not _UNSET}
        if fields.get("version") is not None:
            try:
                parse_version(fields["version"])
            except ValueError:
                raise MessagingException("Version must contain a major and minor integer. "
                                         f"Got {fields['version']}") from None
        target = self.target(**fields)
        return _CallContext(
            self.transport, target, self.serializer,
            timeout=self.timeout if timeout is _UNSET else timeout,
            version_cap=self.version_cap if version_cap is _UNSET else version_cap,
            retry=self.retry if retry is _UNSET else retry,
            call_monitor_timeout=(self.call_monitor_timeout if call_monitor_timeout is _UNSET
                                  else call_monitor_timeout),
            transport_options=(self.transport_options if transport_options is _UNSET
                               else transport_options))


class _CallContext(_BaseCallContext):
    """A client with some target fields or options replaced (from ``prepare``)."""

    def prepare(self, exchange: Any = _UNSET, topic: Any = _UNSET, namespace: Any = _UNSET,
                version: Any = _UNSET, server: Any = _UNSET, fanout: Any = _UNSET,
                timeout: Any = _UNSET, version_cap: Any = _UNSET, retry: Any = _UNSET,
                call_monitor_timeout: Any = _UNSET) -> _CallContext:
        return self._prepared(exchange, topic, namespace, version, server, fanout, timeout,
                              version_cap, retry, call_monitor_timeout, _UNSET)


class RPCClient(_BaseCallContext):
    """Invokes methods on RPC servers.

    ``timeout`` defaults to ``rpc_response_timeout``; ``retry`` None/-1 retries sends
    forever, 0 never, N at most N times; ``version_cap`` refuses messages above it;
    ``call_monitor_timeout`` makes a call fail early when the server stops sending
    heartbeats.
    """

    def __init__(self, transport: Transport, target: Target, timeout: float | None = None,
                 version_cap: str | None = None, serializer: Serializer | None = None,
                 retry: int | None = None, call_monitor_timeout: float | None = None,
                 transport_options: TransportOptions | None = None,
                 _manual_load: bool = True) -> None:
        from legacy_rpc.messaging.transport import NotificationTransport

        if isinstance(transport, NotificationTransport):
            LOG.warning("Using a notification transport for RPC. Use get_rpc_transport() to "
                        "get an RPC transport.")
        opts.register_transport_opts(transport.conf)
        super().__init__(transport, target, serializer or NoOpSerializer(), timeout,
                         version_cap, retry, call_monitor_timeout, transport_options)

    def prepare(self, exchange: Any = _UNSET, topic: Any = _UNSET, namespace: Any = _UNSET,
                version: Any = _UNSET, server: Any = _UNSET, fanout: Any = _UNSET,
                timeout: Any = _UNSET, version_cap: Any = _UNSET, retry: Any = _UNSET,
                call_monitor_timeout: Any = _UNSET,
                transport_options: Any = _UNSET) -> _CallContext:
        """A copy of this client with the given target fields or options replaced."""
        return self._prepared(exchange, topic, namespace, version, server, fanout, timeout,
                              version_cap, retry, call_monitor_timeout, transport_options)


def get_rpc_client(transport: Transport, target: Target, client_cls: type[RPCClient] = RPCClient,
                   **kwargs: Any) -> RPCClient:
    """Build an RPC client (the recommended way, as in oslo.messaging)."""
    return client_cls(transport, target, _manual_load=False, **kwargs)

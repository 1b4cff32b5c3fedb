"""The legacy sending functions, as calls of the core's RPC client and transport.

``msg`` is ``{"method": ..., "args": {...}}`` with optional ``version`` and ``namespace``.
It is not modified (the original added ``_msg_id``, ``_unique_id`` and ``_context_*`` keys
to the caller's dict). The context is a dict or an object with ``to_dict()``.

Errors: the core's timeout becomes :class:`~legacy_rpc.rpc.common.Timeout` and its
``RemoteError`` the legacy one (both also are the core's classes); the core exception
stays available as ``__cause__``. Re-created remote exceptions are raised as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from legacy_rpc.messaging import exceptions as core_exceptions
from legacy_rpc.messaging.rpc.client import RPCClient
from legacy_rpc.messaging.target import Target
from legacy_rpc.messaging.transport import Transport
from legacy_rpc.rpc import common

__all__ = ["multicall", "call", "cast", "fanout_cast", "notify"]

LOG = logging.getLogger(__name__)

# Context keys that carry credentials: never sent with a notification (they used to be,
# which let any consumer of the notification bus impersonate the caller).
_SECRET_CONTEXT_KEYS = ("auth_token", "password", "secret", "token")


def _context_dict(context: Any) -> dict[str, Any]:
    if context is None:
        return {}
    if isinstance(context, dict):
        return context
    values = context.to_dict()
    if not isinstance(values, dict):
        raise TypeError(f"{type(context).__name__}.to_dict() did not return a dict")
    return values


def _client(transport: Transport, topic: str, msg: dict[str, Any], timeout: float | None,
            fanout: bool = False) -> RPCClient:
    target = Target(topic=topic, namespace=msg.get("namespace"), version=msg.get("version"),
                    fanout=fanout or None)
    return RPCClient(transport, target, timeout=timeout)


def _translate(exc: BaseException, topic: str, method: Any) -> BaseException:
    """The legacy exception for a core one (with the topic and method of the call)."""
    if isinstance(exc, core_exceptions.MessagingTimeout) and not isinstance(
            exc, common.Timeout):
        new: BaseException = common.Timeout(str(exc), topic, method)
        new.__cause__ = exc
        return new
    return common.as_legacy_exception(exc)


def _values(values: Iterator[Any], topic: str, method: Any) -> Iterator[Any]:
    try:
        yield from values
    except (core_exceptions.MessagingTimeout, core_exceptions.RemoteError) as exc:
        raise _translate(exc, topic, method) from exc


def multicall(transport: Transport, context: Any, topic: str, msg: dict[str, Any],
              timeout: float | None) -> Iterator[Any]:
    """Send a call; iterate over the values the remote method produces as they arrive.

    ``timeout`` (default ``rpc_response_timeout``) bounds the wait for each value.
    Timeouts and remote exceptions are raised during the iteration.
    """
    method = msg.get("method")
    timeout = timeout or transport.conf.rpc_response_timeout
    client = _client(transport, topic, msg, timeout)
    try:
        values = client.stream(_context_dict(context), method,  # type: ignore[arg-type]
                               **(msg.get("args") or {}))
    except (core_exceptions.MessagingTimeout, core_exceptions.RemoteError) as exc:
        raise _translate(exc, topic, method) from exc
    return _values(values, topic, method)


def call(transport: Transport, context: Any, topic: str, msg: dict[str, Any],
         timeout: float | None) -> Any:
    """The last value the remote method produced (None if none): ``multicall``'s last."""
    result = None
    for result in multicall(transport, context, topic, msg, timeout):  # noqa: B007
        pass
    return result


def cast(transport: Transport, context: Any, topic: str, msg: dict[str, Any],
         fanout: bool = False) -> None:
    """Send a request to one consumer of ``topic`` (every fanout consumer with ``fanout``)."""
    client = _client(transport, topic, msg, None, fanout=fanout)
    client.cast(_context_dict(context), msg.get("method"),  # type: ignore[arg-type]
                **(msg.get("args") or {}))


def fanout_cast(transport: Transport, context: Any, topic: str, msg: dict[str, Any]) -> None:
    cast(transport, context, topic, msg, fanout=True)


def _is_secret(key: str) -> bool:
    name = key.lower()
    return any(word in name for word in _SECRET_CONTEXT_KEYS)


def notify(transport: Transport, context: Any, topic: str, msg: dict[str, Any],
           envelope: bool = False) -> None:
    """Publish a notification dict on ``topic`` (e.g. ``notifications.info``).

    The 2.0 envelope only with ``envelope=True`` (version 1.0 otherwise), as the original.
    The context travels as ``_context_*`` keys, without its credentials.
    """
    ctxt = {k: v for k, v in _context_dict(context).items() if not _is_secret(str(k))}
    transport._send_notification(Target(topic=topic), ctxt, msg,
                                 version=2.0 if envelope else 1.0)

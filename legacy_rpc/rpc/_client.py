"""The legacy sending functions, on the core transport.

``msg`` is ``{"method": ..., "args": {...}}`` with optional ``version`` and ``namespace``;
it is sent whole, as the original did: any other top-level key travels too, and a value
that is not JSON-serialisable raises ``TypeError`` before anything is sent. ``msg`` is not
modified (the original added ``_msg_id``, ``_unique_id`` and ``_context_*`` keys to the
caller's dict). The context is a dict or an object with ``to_dict()``.

The requests are the core's (:func:`legacy_rpc.messaging.wire.build_request`), sent through
the same transport methods ``RPCClient`` uses, from a :class:`Route` that is resolved once
per configuration and keeps one target per topic. ``call`` is a core call: it carries
``_timeout``, so a server of this library or of oslo.messaging sends one final reply;
``multicall`` asks for the values one by one (``_stream``). Original legacy servers stream
to both, which both read.

Errors: the core's timeout becomes :class:`~legacy_rpc.rpc.common.Timeout` and its
``RemoteError`` the legacy one (both also are the core's classes); a send that failed
after the ``rabbit_max_retries`` tries an ``RPCException``. The core exception stays
available as ``__cause__``. Re-created remote exceptions are raised as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from legacy_rpc.messaging import exceptions as core_exceptions
from legacy_rpc.messaging.target import Target
from legacy_rpc.messaging.transport import Transport
from legacy_rpc.rpc import common

__all__ = ["Route", "multicall", "call", "cast", "fanout_cast", "notify"]

LOG = logging.getLogger(__name__)

# Context keys that carry credentials: never sent with a notification (they used to be,
# which let any consumer of the notification bus impersonate the caller).
_SECRET_CONTEXT_KEYS = ("auth_token", "password", "secret", "token")


class Route:
    """Where the legacy functions of one backend send, for one configuration.

    ``timeout`` is ``rpc_response_timeout``; ``retry`` the core's retry count for sends
    (None: retry until the call's own deadline, as ``rabbit_max_retries = 0`` means).
    """

    def __init__(self, transport: Transport, timeout: float, retry: int | None = None) -> None:
        self.transport = transport
        self.timeout = timeout
        self.retry = retry
        self._targets: dict[tuple[str, bool], Target] = {}

    def target(self, topic: str, fanout: bool = False) -> Target:
        """The target of ``topic`` (one object per topic, reused by every send)."""
        key = (topic, fanout)
        target = self._targets.get(key)
        if target is None:
            target = Target(topic=topic, fanout=fanout or None)
            if len(self._targets) < 10_000:  # topics are few; never grow without bound
                self._targets[key] = target
        return target


def _context_dict(context: Any) -> dict[str, Any]:
    if context is None:
        return {}
    if isinstance(context, dict):
        return context
    values = context.to_dict()
    if not isinstance(values, dict):
        raise TypeError(f"{type(context).__name__}.to_dict() did not return a dict")
    return values


def _message(msg: dict[str, Any]) -> dict[str, Any]:
    """The request fields of ``msg``: all of its keys (a copy), ``args`` at least ``{}``."""
    if not isinstance(msg, dict):
        raise TypeError(f"msg must be a dict, got {type(msg).__name__}")
    message = dict(msg)
    if message.get("args") is None:
        message["args"] = {}
    return message


def _translate(exc: BaseException, topic: str, method: Any) -> BaseException:
    """The legacy exception for a core one (with the topic and method of the call)."""
    if isinstance(exc, core_exceptions.MessagingTimeout) and not isinstance(
            exc, common.Timeout):
        new: BaseException = common.Timeout(str(exc), topic, method)
        new.__cause__ = exc
        return new
    if isinstance(exc, core_exceptions.MessageDeliveryFailure):
        return send_failure(exc)
    return common.as_legacy_exception(exc)


_SEND_FAILURES: dict[type[BaseException], type[BaseException]] = {}


def send_failure(exc: core_exceptions.MessageDeliveryFailure) -> BaseException:
    """``exc`` as an instance of a subclass of both its class and ``RPCException``: what
    the original raised once ``rabbit_max_retries`` tries failed, and what code written
    for the core (``PublishOutcomeUnknown`` ...) catches."""
    cls = _SEND_FAILURES.get(type(exc))
    if cls is None:
        cls = _SEND_FAILURES[type(exc)] = type(type(exc).__name__,
                                               (type(exc), common.RPCException),
                                               {"__module__": type(exc).__module__})
    new = cls.__new__(cls, *exc.args)
    new.args = exc.args
    new.__dict__.update(vars(exc))
    new.__dict__.setdefault("kwargs", {})
    new.__cause__ = exc
    return new


_TRANSLATED = (core_exceptions.MessagingTimeout, core_exceptions.RemoteError,
               core_exceptions.MessageDeliveryFailure)


def _values(values: Iterator[Any], topic: str, method: Any) -> Iterator[Any]:
    try:
        yield from values
    except _TRANSLATED as exc:
        raise _translate(exc, topic, method) from exc


def multicall(route: Route, context: Any, topic: str, msg: dict[str, Any],
              timeout: float | None) -> Iterator[Any]:
    """Send a call; iterate over the values the remote method produces as they arrive.

    ``timeout`` (default ``rpc_response_timeout``) bounds the wait for each value.
    Timeouts and remote exceptions are raised during the iteration.
    """
    method = msg.get("method")
    try:
        values = route.transport._send_stream(
            route.target(topic), _context_dict(context), _message(msg),
            timeout=timeout or route.timeout, retry=route.retry)
    except _TRANSLATED as exc:
        raise _translate(exc, topic, method) from exc
    return _values(values, topic, method)


def call(route: Route, context: Any, topic: str, msg: dict[str, Any],
         timeout: float | None) -> Any:
    """The last value the remote method produced (None if none), in one reply from a
    server that knows ``_timeout`` (streamed by an original legacy server). ``timeout``
    bounds the whole call (``multicall``'s bounds each value)."""
    try:
        return route.transport._send(route.target(topic), _context_dict(context),
                                     _message(msg), wait_for_reply=True,
                                     timeout=timeout or route.timeout, retry=route.retry)
    except _TRANSLATED as exc:
        raise _translate(exc, topic, msg.get("method")) from exc


def cast(route: Route, context: Any, topic: str, msg: dict[str, Any],
         fanout: bool = False) -> None:
    """Send a request to one consumer of ``topic`` (every fanout consumer with ``fanout``)."""
    try:
        route.transport._send(route.target(topic, fanout), _context_dict(context),
                              _message(msg), retry=route.retry)
    except core_exceptions.MessageDeliveryFailure as exc:
        raise _translate(exc, topic, msg.get("method")) from exc


def fanout_cast(route: Route, context: Any, topic: str, msg: dict[str, Any]) -> None:
    cast(route, context, topic, msg, fanout=True)


def _is_secret(key: str) -> bool:
    name = key.lower()
    return any(word in name for word in _SECRET_CONTEXT_KEYS)


def notify(route: Route, context: Any, topic: str, msg: dict[str, Any],
           envelope: bool = False) -> None:
    """Publish a notification dict on ``topic`` (e.g. ``notifications.info``).

    The 2.0 envelope only with ``envelope=True`` (version 1.0 otherwise), as the original.
    The context travels as ``_context_*`` keys, without its credentials.
    """
    ctxt = {k: v for k, v in _context_dict(context).items() if not _is_secret(str(k))}
    try:
        route.transport._send_notification(route.target(topic), ctxt, msg,
                                           version=2.0 if envelope else 1.0,
                                           retry=route.retry)
    except core_exceptions.MessageDeliveryFailure as exc:
        raise _translate(exc, topic, None) from exc

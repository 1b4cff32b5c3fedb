"""Adapts a legacy proxy object (``dispatch(ctxt, version, method, namespace, **kwargs)``,
normally an ``RpcDispatcher``) to the core RPC server, which calls ``dispatch(incoming)``.

The method receives an :class:`~legacy_rpc.rpc.amqp.RpcContext` whose ``to_dict()`` is
exactly the caller's context. A caller that streams (every legacy release, and this
library's ``multicall``) gets each value of a generator, or the one return value, as its
own reply, followed by an empty ending reply: the legacy reply sequence (spec 4.4). A
caller that reads one reply (it sends ``_timeout``: oslo.messaging, and this library's
legacy ``call``) gets one final reply holding the value a legacy ``call`` returned: the
last of the values the method sent (``ctxt.reply``), yielded or returned, or the failure.
A ``ClientException`` reaches the caller as the exception it wraps, without an error in
the server's log (the core's expected-exception path).

Older proxies, as the original releases accepted them:

- a proxy without ``dispatch()`` (Essex ``create_consumer(topic, service_obj)``): the
  requested method of the object itself is called, ``getattr(proxy, method)(ctxt,
  **args)``, ignoring the version (a missing method, or one whose name starts with ``_``,
  is an ``AttributeError`` for the caller);
- a ``dispatch(ctxt, version, method, **kwargs)`` without ``namespace`` (quantum 2013.1's
  ``PluginRpcDispatcher``) is called without it; its signature is inspected once.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

from legacy_rpc.messaging.drivers.base import IncomingMessage
from legacy_rpc.messaging.rpc.dispatcher import ExpectedException, StreamedResult
from legacy_rpc.rpc import amqp, common

__all__ = ["LegacyDispatcher", "dispatching"]

_state = threading.local()

# Keys the core adds to a received context that the caller did not send.
_CORE_CONTEXT_KEYS = ("client_timeout",)


def dispatching() -> bool:
    """Whether the current thread is running a legacy server method."""
    return bool(getattr(_state, "active", False))


def _takes_namespace(dispatch: Callable[..., Any]) -> bool:
    """Whether ``dispatch`` (bound) accepts a fourth positional argument, the namespace."""
    try:
        params = list(inspect.signature(dispatch).parameters.values())
    except (TypeError, ValueError):  # no signature to read: the current shape
        return True
    positional = 0
    for param in params:
        if param.name == "namespace" or param.kind is param.VAR_POSITIONAL:
            return True
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 4


def _expected(exc: common.ClientException) -> ExpectedException:
    expected = ExpectedException()
    expected.exc_info = exc._exc_info
    return expected


class _FinalReply:
    """Takes the place of the request in ``RpcContext.reply`` while a method runs for a
    caller that reads one final reply: keeps the last value and the failure instead of
    sending them."""

    def __init__(self) -> None:
        self.value: Any = None
        self.failure: Any = None

    def reply_value(self, value: Any) -> None:
        self.value = value

    def reply(self, reply: Any = None, failure: Any = None) -> None:
        if failure is not None and self.failure is None:
            self.failure = failure

    def outcome(self, ctxt: amqp.RpcContext, result: Any) -> Any:
        """The final value (the last one sent while the call was open), or raise the
        failure the method sent."""
        if inspect.isgenerator(result):
            for value in LegacyDispatcher._stream(result):
                if ctxt.msg_id is not None:  # values after an ending reply are dropped
                    self.value = value
        elif ctxt.msg_id is not None:
            self.value = result
        if self.failure is not None:
            failure = self.failure
            if isinstance(failure, BaseException):
                failure = (type(failure), failure, failure.__traceback__)
            expected = ExpectedException()
            expected.exc_info = failure
            raise expected
        return self.value


class LegacyDispatcher:
    """The dispatcher object a core RPC server needs, in front of a legacy proxy."""

    def __init__(self, conf: Any, proxy: Any) -> None:
        self.conf = conf
        self.proxy = proxy
        dispatch = getattr(proxy, "dispatch", None)
        self._essex = not callable(dispatch)
        self._with_namespace = callable(dispatch) and _takes_namespace(dispatch)

    def _call_proxy(self, ctxt: amqp.RpcContext, message: dict[str, Any]) -> Any:
        method = message.get("method")
        args = message.get("args") or {}
        if self._essex:  # Essex: the object's own methods
            name = str(method)
            if name.startswith("_"):
                raise AttributeError(f"{type(self.proxy).__name__!r} object has no "
                                     f"public attribute {name!r}")
            return getattr(self.proxy, name)(ctxt, **args)
        if self._with_namespace:
            return self.proxy.dispatch(ctxt, message.get("version"), method,
                                       message.get("namespace"), **args)
        return self.proxy.dispatch(ctxt, message.get("version"), method, **args)

    def _context(self, incoming: IncomingMessage, replier: Any) -> amqp.RpcContext:
        values = {k: v for k, v in incoming.ctxt.items() if k not in _CORE_CONTEXT_KEYS}
        values.update(msg_id=incoming.msg_id if getattr(incoming, "wants_reply", False)
                      else None,
                      reply_q=getattr(incoming, "reply_q", None), conf=self.conf,
                      _replier=replier)
        ctxt: amqp.RpcContext = amqp.RpcContext.from_dict(values)
        return ctxt

    def dispatch(self, incoming: IncomingMessage) -> Any:
        message = incoming.message
        streaming = getattr(incoming, "stream_replies", True)
        final = None if streaming else _FinalReply()
        common.clear_store()
        ctxt = self._context(incoming, incoming if final is None else final)
        ctxt.update_store()
        _state.active = True
        try:
            result = self._call_proxy(ctxt, message)
        except common.ClientException as exc:
            raise _expected(exc) from None
        finally:
            _state.active = False
        if final is not None:
            return final.outcome(ctxt, result)
        # After the method sent an ending reply itself (ctxt.msg_id is None then), the
        # values that follow are dropped, as the original's replies were.
        if inspect.isgenerator(result):
            return StreamedResult(v for v in self._stream(result) if ctxt.msg_id is not None)
        return StreamedResult(iter([result] if ctxt.msg_id is not None else []))

    @staticmethod
    def _stream(values: Iterator[Any]) -> Iterator[Any]:
        _state.active = True
        try:
            yield from values
        except common.ClientException as exc:
            raise _expected(exc) from None
        finally:
            _state.active = False

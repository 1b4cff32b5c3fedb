"""Exceptions, the ``Connection`` interface and helpers of ``openstack.common.rpc.common``.

Two legacy exceptions are also the core's, so old and new ``except`` clauses both work:
:class:`Timeout` is a ``legacy_rpc.messaging.MessagingTimeout`` and :class:`RemoteError` a
``legacy_rpc.messaging.RemoteError``. The legacy functions raise these (keeping the core's
exception as ``__cause__``).
"""

from __future__ import annotations

import copy
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from oslo_config import cfg

from legacy_rpc.messaging import _mask, _utils, wire
from legacy_rpc.messaging import exceptions as core_exceptions

__all__ = [
    "RPCException",
    "RemoteError",
    "Timeout",
    "DuplicateMessageError",
    "InvalidRPCConnectionReuse",
    "UnsupportedRpcVersion",
    "UnsupportedRpcEnvelopeVersion",
    "RpcVersionCapError",
    "Connection",
    "ClientException",
    "catch_client_exception",
    "client_exceptions",
    "serialize_remote_exception",
    "deserialize_remote_exception",
    "serialize_msg",
    "deserialize_msg",
    "version_is_compatible",
    "CommonRpcContext",
]

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

_RPC_ENVELOPE_VERSION = "2.0"
_VERSION_KEY = "oslo.version"
_MESSAGE_KEY = "oslo.message"
_REMOTE_POSTFIX = "_Remote"

_store = threading.local()
"""Where :meth:`CommonRpcContext.update_store` puts the context of the current thread
(``openstack.common.local.store`` in the original)."""

F = TypeVar("F", bound=Callable[..., Any])


# --------------------------------------------------------------------------- exceptions

class RPCException(Exception):
    """Base class of the legacy RPC exceptions; ``msg_fmt`` is filled from the kwargs."""

    msg_fmt = "An unknown RPC related exception occurred."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        if not message:
            try:
                message = self.msg_fmt % kwargs
            except Exception:
                LOG.exception("Exception in string format operation")
                for name, value in kwargs.items():
                    LOG.error("%s: %s", name, value)
                message = self.msg_fmt
        super().__init__(message)


class RemoteError(RPCException, core_exceptions.RemoteError):
    """A remote exception that could not be re-created as its own class.

    Both ``except common.RemoteError`` and ``except messaging.RemoteError`` catch it.
    """

    msg_fmt = "Remote error: %(exc_type)s %(value)s\n%(traceback)s."

    def __init__(self, exc_type: str | None = None, value: str | None = None,
                 traceback: Any = None) -> None:
        self.exc_type = exc_type
        self.value = value
        self.traceback = traceback
        self.kwargs = {"exc_type": exc_type, "value": value, "traceback": traceback}
        self.msg = self.msg_fmt % self.kwargs
        Exception.__init__(self, self.msg)

    def __str__(self) -> str:
        return self.msg


class Timeout(RPCException, core_exceptions.MessagingTimeout):
    """No reply came in time. Also a ``legacy_rpc.messaging.MessagingTimeout``."""

    msg_fmt = ('Timeout while waiting on RPC response - topic: "%(topic)s", RPC method: '
               '"%(method)s" info: "%(info)s"')

    def __init__(self, info: str | None = None, topic: str | None = None,
                 method: str | None = None) -> None:
        self.info = info
        self.topic = topic
        self.method = method
        unknown = "<unknown>"
        super().__init__(None, info=info or unknown, topic=topic or unknown,
                         method=method or unknown)


class DuplicateMessageError(RPCException):
    msg_fmt = "Found duplicate message(%(msg_id)s). Skipping it."


class InvalidRPCConnectionReuse(RPCException):
    msg_fmt = "Invalid reuse of an RPC connection."


class UnsupportedRpcVersion(RPCException):
    msg_fmt = "Specified RPC version, %(version)s, not supported by this endpoint."


class UnsupportedRpcEnvelopeVersion(RPCException):
    msg_fmt = "Specified RPC envelope version, %(version)s, not supported by this endpoint."


class RpcVersionCapError(RPCException):
    msg_fmt = "Specified RPC version cap, %(version_cap)s, is too low"


# --------------------------------------------------------------------------- connection

class Connection:
    """What ``rpc.create_connection()`` returns; a context manager that closes itself."""

    def close(self) -> None:
        """Release the connection and stop its consumers."""
        raise NotImplementedError()

    def create_consumer(self, topic: str, proxy: Any, fanout: bool = False) -> Any:
        """Dispatch the requests sent to ``topic`` to ``proxy.dispatch``.

        ``fanout=False``: one queue shared by every consumer of the topic, each message to
        one of them. ``fanout=True``: every such consumer gets every ``fanout_cast``.
        """
        raise NotImplementedError()

    def create_worker(self, topic: str, proxy: Any, pool_name: str) -> Any:
        """Like a shared consumer of ``topic``, on a queue named ``pool_name``: every pool
        gets each message, and one worker of a pool handles it."""
        raise NotImplementedError()

    def join_consumer_pool(self, callback: Callable[[dict[str, Any]], Any], pool_name: str,
                           topic: str, exchange_name: str | None = None,
                           ack_on_error: bool = True) -> Any:
        """Call ``callback(message_dict)`` for the messages of ``topic`` in ``exchange_name``,
        as a member of pool ``pool_name``."""
        raise NotImplementedError()

    def consume_in_thread(self) -> Any:
        """Start consuming on this connection's consumers; return the consumer thread."""
        raise NotImplementedError()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- logging

def _safe_log(log_func: Callable[..., object], msg: str, msg_data: Any) -> None:
    """Log ``msg`` with a sanitized deep copy of ``msg_data`` (passwords, tokens hidden)."""
    _mask.safe_log(log_func, msg, msg_data)


# --------------------------------------------------------------------------- remote exceptions

_BUILTINS = ("builtins", "exceptions")


def serialize_remote_exception(failure_info: Any, log_failure: bool = True) -> str:
    """The failure JSON of an exception (``sys.exc_info()``), as the caller receives it.

    Built-in exceptions are named with the Python 2 module ``exceptions``, which Python 2
    peers and the default ``allowed_rpc_exception_modules`` expect; every receiver of this
    library accepts both names.
    """
    if log_failure:
        LOG.error("Returning exception %s to caller", failure_info[1],
                  exc_info=tuple(failure_info))
    data = json.loads(wire.serialize_remote_exception(tuple(failure_info)))
    if data.get("module") == "builtins":
        data["module"] = "exceptions"
    return json.dumps(data)


def deserialize_remote_exception(conf: Any, data: Any) -> BaseException:
    """The exception a failure JSON describes, re-created when its module is allowed.

    Allowed means listed in ``conf.allowed_rpc_exception_modules`` (``exceptions`` stands
    for the built-ins); anything else, or a class that cannot be re-created, gives a
    :class:`RemoteError`. A re-created exception is an instance of a ``<Class>_Remote``
    subclass whose ``str()`` is the remote message followed by the remote traceback.
    """
    text = str(data)
    try:
        failure = json.loads(text)
    except ValueError:
        return RemoteError("Unknown", text, [])
    if not isinstance(failure, dict):
        return RemoteError("Unknown", text, [])
    allowed = list(getattr(conf, "allowed_rpc_exception_modules", []))
    module = str(failure.get("module", ""))
    trace = failure.get("tb") or []
    name = str(failure.get("class", "Unknown"))
    value = failure.get("message", "")
    is_allowed = module in allowed or (module in _BUILTINS and any(
        m in _BUILTINS for m in allowed))
    if not is_allowed:
        return RemoteError(name, value, trace)
    exc = wire.deserialize_remote_exception(text, allowed)
    return as_legacy_exception(exc)


def as_legacy_exception(exc: BaseException) -> BaseException:
    """The exception legacy callers expect for one raised by the core."""
    if isinstance(exc, (RemoteError, Timeout)):
        return exc
    if isinstance(exc, core_exceptions.RemoteError):
        new: BaseException = RemoteError(exc.exc_type, exc.value, exc.traceback)
    elif isinstance(exc, core_exceptions.MessagingTimeout):
        new = Timeout(str(exc))
    else:
        return exc
    new.__cause__ = exc
    return new


# --------------------------------------------------------------------------- client exceptions

class ClientException(Exception):
    """Wraps the exception being handled: the caller gets it, the server does not log it.

    Raise it inside an ``except`` block (see :func:`client_exceptions`).
    """

    def __init__(self) -> None:
        super().__init__()
        self._exc_info = sys.exc_info()


def catch_client_exception(exceptions: Iterable[type[BaseException]],
                           func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``func``; an exception of exactly one of the listed types becomes
    :class:`ClientException` (subclasses are not matched, as in the original)."""
    expected = tuple(exceptions)
    try:
        return func(*args, **kwargs)
    except Exception as e:
        if type(e) in expected:
            raise ClientException() from e
        raise


def client_exceptions(*exceptions: type[BaseException]) -> Callable[[F], F]:
    """Decorator for manager methods: the listed exceptions are expected ones."""

    def outer(func: F) -> F:
        def inner(*args: Any, **kwargs: Any) -> Any:
            return catch_client_exception(exceptions, func, *args, **kwargs)

        return inner  # type: ignore[return-value]

    return outer


# --------------------------------------------------------------------------- envelope

def version_is_compatible(imp_version: str, version: str) -> bool:
    """Whether an implementation at ``imp_version`` can serve a request for ``version``:
    same major, and (minor, revision) not above it; compared as numbers."""
    return _utils.version_is_compatible(imp_version, version)


def serialize_msg(raw_msg: Any) -> dict[str, str]:
    """Wrap a message in the 2.0 envelope."""
    return wire.serialize_msg(raw_msg)


def deserialize_msg(msg: Any) -> Any:
    """Unwrap a 2.0 envelope; anything else is returned unchanged.

    :raises UnsupportedRpcEnvelopeVersion: an envelope of another major version, or a newer
        minor one.
    """
    try:
        return wire.deserialize_msg(msg)
    except wire.UnsupportedEnvelopeVersion as exc:
        raise UnsupportedRpcEnvelopeVersion(version=exc.version) from exc


# --------------------------------------------------------------------------- context

class CommonRpcContext:
    """A request context: every keyword is readable as an attribute."""

    def __init__(self, **kwargs: Any) -> None:
        self.values = kwargs

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["values"][key]
        except KeyError:
            raise AttributeError(key) from None

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.values)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Any:
        return cls(**values)

    def deepcopy(self) -> Any:
        return self.from_dict(self.to_dict())

    def update_store(self) -> None:
        """Make this the context of the current thread (for logging)."""
        _store.context = self

    def elevated(self, read_deleted: str | None = None, overwrite: bool = False) -> Any:
        """A copy with admin rights (``is_admin`` and the ``admin`` role)."""
        context = self.deepcopy()
        context.values["is_admin"] = True
        roles = context.values.setdefault("roles", [])
        if "admin" not in roles:
            roles.append("admin")
        if read_deleted is not None:
            context.values["read_deleted"] = read_deleted
        return context


def current_context() -> Any:
    """The context stored by :meth:`CommonRpcContext.update_store` in this thread, or None."""
    return getattr(_store, "context", None)


def clear_store() -> None:
    """Forget this thread's stored context (done before each message is dispatched)."""
    _store.__dict__.pop("context", None)

"""The wire protocol: the only code that knows what a message looks like.

Everything that builds or parses a message body lives here, as pure functions, so that every
driver and both APIs speak exactly the format of oslo.messaging 18.x and of the legacy
``openstack.common.rpc`` (un-enveloped 1.0 messages, double replies):

- the 2.0 envelope ``{"oslo.version": "2.0", "oslo.message": "<inner JSON text>"}``;
- RPC requests (``method``, ``args``, ``namespace``, ``version``, ``_msg_id``, ``_reply_q``,
  ``_timeout``, ``_unique_id``, ``_context_*``);
- RPC replies (``result``, ``failure``, ``ending``, ``_msg_id``, ``_unique_id``), heartbeats
  and streamed values;
- notifications (``message_id``, ``publisher_id``, ``event_type``, ``priority``, ``payload``,
  ``timestamp``);
- remote exceptions (the failure JSON and its module allow-list).

Drivers move the bytes returned by :func:`encode_body` and hand received bytes to
:func:`decode_body`; they never look inside.

Received bodies are hostile input. :func:`decode_body`, :func:`deserialize_msg` and the
``parse_*`` functions raise nothing but :class:`MalformedMessage` for whatever a peer sends,
so a driver rejects the message and keeps consuming. Nesting deeper than
``_jsonutils.MAX_DEPTH`` (200) levels is refused, in the envelope and in the JSON text inside
it. JSON's ``NaN`` and ``Infinity`` are accepted, as oslo.messaging peers send them for
non-finite floats; a ``_timeout`` that is not a finite number from 0 to
``threading.TIMEOUT_MAX`` is read as no timeout.
"""

from __future__ import annotations

import datetime
import enum
import functools
import importlib
import json
import os
import reprlib
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from legacy_rpc.messaging import _jsonutils
from legacy_rpc.messaging._utils import version_is_compatible
from legacy_rpc.messaging.exceptions import MessagingException, RemoteError

__all__ = [
    "ENVELOPE_VERSION",
    "MalformedMessage",
    "MessageTooLarge",
    "UnsupportedEnvelopeVersion",
    "serialize_msg",
    "deserialize_msg",
    "encode_body",
    "decode_body",
    "new_id",
    "build_request",
    "parse_request",
    "Request",
    "build_reply",
    "build_heartbeat",
    "parse_reply",
    "Reply",
    "ReplyKind",
    "build_notification",
    "pack_notification",
    "parse_notification",
    "notification_message",
    "Notification",
    "NOTIFICATION_PRIORITIES",
    "serialize_remote_exception",
    "deserialize_remote_exception",
    "wire_module_name",
]

ENVELOPE_VERSION = "2.0"
VERSION_KEY = "oslo.version"
MESSAGE_KEY = "oslo.message"
UNIQUE_ID = "_unique_id"
STREAM_KEY = "_stream"
CONTEXT_PREFIX = "_context_"
REMOTE_POSTFIX = "_Remote"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class MalformedMessage(MessagingException, ValueError):
    """A received message cannot be understood; it is logged and dropped."""


class MessageTooLarge(MalformedMessage):
    """A received body is, or would decompress to, more bytes than the receiver accepts."""

    def __init__(self, max_size: int) -> None:
        super().__init__(f"message body larger than {max_size} bytes")
        self.max_size = max_size


class UnsupportedEnvelopeVersion(MalformedMessage):
    """The envelope announces a version this implementation cannot read."""

    def __init__(self, version: object) -> None:
        super().__init__(f"Specified RPC envelope version, {version}, not supported by this "
                         "endpoint.")
        self.version = version


def new_id() -> str:
    """A fresh uuid4 as 32 hex characters, the form of oslo.messaging's msg and unique ids
    (built from random bytes directly: cheaper than a ``uuid.UUID`` object)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.hex()


_P = ParamSpec("_P")
_R = TypeVar("_R")

# Error texts show received values with reprlib.repr: short, whatever their size.
# What hostile but JSON-decoded data can make parsing code raise (wrong types, huge numbers,
# deep structures); any of them means the message is malformed.
_PARSE_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError,
                 RecursionError)


def _hostile_input(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Make ``func``, a parser of received data, raise only :class:`MalformedMessage`."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return func(*args, **kwargs)
        except MalformedMessage:
            raise
        except _PARSE_ERRORS as exc:
            raise MalformedMessage(f"{func.__name__}: {type(exc).__name__}: "
                                   f"{str(exc)[:200]}") from exc

    return wrapper


# --------------------------------------------------------------------------- envelope and body

def serialize_msg(raw: Mapping[str, Any]) -> dict[str, str]:
    """Wrap ``raw`` in the 2.0 envelope (the inner message is JSON text inside JSON)."""
    return {VERSION_KEY: ENVELOPE_VERSION, MESSAGE_KEY: _jsonutils.dumps(raw)}


@_hostile_input
def deserialize_msg(msg: Any) -> Any:
    """Unwrap a 2.0 envelope; anything else (1.0 dicts, non-dicts) is returned unchanged."""
    if not isinstance(msg, dict) or VERSION_KEY not in msg or MESSAGE_KEY not in msg:
        return msg
    version = msg[VERSION_KEY]
    if not isinstance(version, str) or not version_is_compatible(ENVELOPE_VERSION, version):
        raise UnsupportedEnvelopeVersion(version)
    inner = msg[MESSAGE_KEY]
    if not isinstance(inner, str):
        raise MalformedMessage(f"{MESSAGE_KEY} must be a JSON string, got {type(inner).__name__}")
    try:
        return _jsonutils.loads(inner)
    except ValueError as exc:
        raise MalformedMessage(f"{MESSAGE_KEY} is not valid JSON: {exc}") from None


def encode_body(body: Any) -> bytes:
    """The AMQP body: UTF-8 JSON with Python's default separators, as kombu writes it."""
    return _jsonutils.dumps(body).encode("utf-8")


def decode_body(data: bytes | str) -> Any:
    """Parse a received body; raise :class:`MalformedMessage` if it is not JSON text (or is
    nested deeper than ``_jsonutils.MAX_DEPTH``)."""
    try:
        return _jsonutils.loads(data)
    except (ValueError, TypeError) as exc:
        raise MalformedMessage(f"message body is not JSON: {str(exc)[:200]}") from None


# --------------------------------------------------------------------------- requests

def _pack_context(msg: dict[str, Any], ctxt: Mapping[str, Any] | None) -> None:
    for key, value in (ctxt or {}).items():
        msg[f"{CONTEXT_PREFIX}{key}"] = value


def build_request(ctxt: Mapping[str, Any] | None, message: Mapping[str, Any], *,
                  msg_id: str | None = None, reply_q: str | None = None,
                  call_monitor_timeout: float | None = None, stream: bool = False,
                  envelope: bool = True) -> dict[str, Any]:
    """Build an RPC request body from a serialized context and ``{method, args, ...}``.

    A call (``msg_id`` given) carries ``_msg_id``, ``_reply_q`` and ``_timeout`` (the
    call-monitor seconds, present even when null); a cast carries none of them. ``stream``
    adds ``_stream: true``: the caller wants each value of a generator method as it comes
    (servers that do not know the key ignore it).
    """
    msg: dict[str, Any] = dict(message)
    if msg_id is not None:
        msg["_msg_id"] = msg_id
        msg["_reply_q"] = reply_q
        msg["_timeout"] = call_monitor_timeout
        if stream:
            msg[STREAM_KEY] = True
    msg[UNIQUE_ID] = new_id()
    _pack_context(msg, ctxt)
    return serialize_msg(msg) if envelope else msg


@dataclass
class Request:
    """A parsed RPC request.

    ``ctxt`` holds the caller's context only, as endpoints and serializers get it from
    oslo.messaging's ``fake://`` driver (its rabbit driver also adds ``client_timeout``, a
    transport detail kept here in :attr:`client_timeout`); ``message`` holds ``method``,
    ``args`` and the optional ``namespace`` and ``version`` (plus any unknown keys, kept for
    forward compatibility).
    """

    ctxt: dict[str, Any]
    message: dict[str, Any]
    msg_id: str | None = None
    reply_q: str | None = None
    client_timeout: float | None = None
    unique_id: str | None = None
    stream_replies: bool = True

    @property
    def method(self) -> str:
        return str(self.message["method"])

    @property
    def args(self) -> dict[str, Any]:
        args: dict[str, Any] = self.message.get("args", {})
        return args

    @property
    def is_call(self) -> bool:
        return self.msg_id is not None


def _client_timeout(value: Any) -> float | None:
    """``_timeout`` as seconds, or None when it is not a number from 0 to the largest wait.

    NaN, infinities, negative and absurdly large values come only from broken or hostile
    peers; a deadline or heartbeat interval computed from them would fail.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    # Chained comparisons are False for NaN and exact for huge ints (no float overflow).
    return value if 0 <= value <= threading.TIMEOUT_MAX else None


@_hostile_input
def parse_request(body: Any) -> Request:
    """Parse a request body (enveloped or 1.0); raise :class:`MalformedMessage` if invalid."""
    inner = deserialize_msg(body)
    if not isinstance(inner, dict):
        raise MalformedMessage(f"request must be a JSON object, got {type(inner).__name__}")
    msg = dict(inner)
    ctxt: dict[str, Any] = {}
    for key in [k for k in msg if isinstance(k, str) and k.startswith(CONTEXT_PREFIX)]:
        ctxt[key[len(CONTEXT_PREFIX):]] = msg.pop(key)
    msg_id = msg.pop("_msg_id", None)
    reply_q = msg.pop("_reply_q", None)
    # Legacy callers never send _timeout and always expect streamed values; oslo.messaging
    # callers always send it and read a null value without "ending" as a heartbeat, so they
    # get streams only when they ask (_stream), which only our stream() does.
    stream_replies = bool(msg.pop(STREAM_KEY, False)) or "_timeout" not in msg
    client_timeout = msg.pop("_timeout", None)
    unique_id = msg.pop(UNIQUE_ID, None)
    method = msg.get("method")
    if not isinstance(method, str) or not method:
        raise MalformedMessage(f"request has no valid 'method': {reprlib.repr(method)}")
    args = msg.setdefault("args", {})
    if args is None:
        args = msg["args"] = {}
    if not isinstance(args, dict):
        raise MalformedMessage(f"'args' must be an object, got {type(args).__name__}")
    for name in ("namespace", "version"):
        if msg.get(name) is not None and not isinstance(msg[name], str):
            raise MalformedMessage(f"{name!r} must be a string, got {reprlib.repr(msg[name])}")
    if msg_id is not None and not isinstance(msg_id, str):
        raise MalformedMessage(f"'_msg_id' must be a string, got {reprlib.repr(msg_id)}")
    if reply_q is not None and not isinstance(reply_q, str):
        raise MalformedMessage(f"'_reply_q' must be a string, got {reprlib.repr(reply_q)}")
    for name, address in (("_msg_id", msg_id), ("_reply_q", reply_q)):
        # Both become AMQP short strings (a queue or exchange name): at most 255 bytes.
        if address is not None and len(address.encode("utf-8", "surrogatepass")) > 255:
            raise MalformedMessage(f"{name!r} is longer than 255 bytes")
    client_timeout = _client_timeout(client_timeout)
    return Request(ctxt=ctxt, message=msg, msg_id=msg_id, reply_q=reply_q,
                   client_timeout=client_timeout, stream_replies=stream_replies,
                   unique_id=unique_id if isinstance(unique_id, str) else None)


# --------------------------------------------------------------------------- replies

def build_reply(msg_id: str | None, result: Any = None, failure: str | None = None,
                ending: bool | None = True, envelope: bool = True) -> dict[str, Any]:
    """Build a reply body.

    ``ending=True`` is the final reply (oslo.messaging sends exactly one); ``ending=None``
    omits the key, which is how the legacy API sends each value of a streamed (generator)
    result before a separate ending message. ``msg_id=None`` leaves ``_msg_id`` out, for
    pre-Grizzly callers that are answered on a queue named after the msg id.
    """
    msg: dict[str, Any] = {"result": result, "failure": failure}
    if ending is not None:
        msg["ending"] = ending
    if msg_id is not None:
        msg["_msg_id"] = msg_id
    msg[UNIQUE_ID] = new_id()
    return serialize_msg(msg) if envelope else msg


def build_heartbeat(msg_id: str | None) -> dict[str, Any]:
    """A call-monitor keepalive: no result, no failure, ``ending: false``."""
    return build_reply(msg_id, None, None, ending=False)


class ReplyKind(enum.Enum):
    VALUE = "value"          # one value of a (possibly streamed) result
    HEARTBEAT = "heartbeat"  # call-monitor keepalive
    END = "end"              # the final reply; may carry the result
    FAILURE = "failure"      # the remote method raised; terminal


@dataclass
class Reply:
    kind: ReplyKind
    msg_id: str | None
    unique_id: str | None
    value: Any = None
    failure: str | None = None


@_hostile_input
def parse_reply(body: Any) -> Reply:
    """Classify a reply body.

    A failure is terminal. A reply without ``ending`` is a value (legacy streams and the
    pre-Mitaka double reply); ``ending: false`` with no result is a heartbeat; ``ending: true``
    ends the call and may carry the result (oslo.messaging's single reply).
    """
    inner = deserialize_msg(body)
    if not isinstance(inner, dict):
        raise MalformedMessage(f"reply must be a JSON object, got {type(inner).__name__}")
    msg_id = inner.get("_msg_id")
    unique_id = inner.get(UNIQUE_ID)
    msg_id = msg_id if isinstance(msg_id, str) else None
    unique_id = unique_id if isinstance(unique_id, str) else None
    failure = inner.get("failure")
    result = inner.get("result")
    if failure:
        return Reply(ReplyKind.FAILURE, msg_id, unique_id, failure=failure
                     if isinstance(failure, str) else _jsonutils.dumps(failure))
    if "ending" not in inner:
        return Reply(ReplyKind.VALUE, msg_id, unique_id, value=result)
    if inner["ending"]:
        return Reply(ReplyKind.END, msg_id, unique_id, value=result)
    if result is None:
        return Reply(ReplyKind.HEARTBEAT, msg_id, unique_id)
    return Reply(ReplyKind.VALUE, msg_id, unique_id, value=result)


# --------------------------------------------------------------------------- notifications

NOTIFICATION_PRIORITIES = ("audit", "debug", "info", "warn", "error", "critical", "sample")


def _timestamp(now: datetime.datetime | None = None) -> str:
    """``str()`` of a naive UTC datetime: ``YYYY-MM-DD HH:MM:SS[.ffffff]``."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if now.tzinfo is not None:
        now = now.astimezone(datetime.timezone.utc)
    return str(now.replace(tzinfo=None))


def build_notification(publisher_id: str | None, event_type: str, priority: str,
                       payload: Any, *, message_id: str | None = None,
                       timestamp: str | None = None) -> dict[str, Any]:
    """The notification fields a notifier sends (priority upper-case, hyphenated uuid)."""
    return {
        "message_id": message_id or str(uuid.uuid4()),
        "publisher_id": publisher_id,
        "event_type": event_type,
        "priority": priority.upper(),
        "payload": payload,
        "timestamp": timestamp or _timestamp(),
    }


def pack_notification(ctxt: Mapping[str, Any] | None, message: Mapping[str, Any],
                      version: float = 2.0) -> Any:
    """The notification body: enveloped for ``version`` 2.0, a bare dict for 1.0."""
    msg: dict[str, Any] = dict(message)
    msg[UNIQUE_ID] = new_id()
    _pack_context(msg, ctxt)
    if version >= 2.0:
        return serialize_msg(msg)
    # 1.0 has no envelope: make the payload JSON-native the way the envelope path would.
    return json.loads(_jsonutils.dumps(msg))


@dataclass
class Notification:
    """A parsed notification; ``priority`` is lower-case, as listeners dispatch on it.

    ``ctxt`` holds the ``_context_*`` keys with the prefix removed (oslo.messaging's rabbit
    driver also adds ``client_timeout: None``, a transport detail, not the sender's context).
    ``metadata`` is ``{"message_id": ..., "timestamp": ...}``.
    """

    ctxt: dict[str, Any]
    publisher_id: Any
    event_type: Any
    priority: str
    payload: Any
    metadata: dict[str, Any] = field(default_factory=dict)
    unique_id: str | None = None


@_hostile_input
def parse_notification(body: Any) -> Notification:
    """Parse a v1 (bare) or v2 (enveloped) notification body.

    :raises MalformedMessage: not a JSON object, or no non-empty string ``priority``.
    """
    inner = deserialize_msg(body)
    if not isinstance(inner, dict):
        raise MalformedMessage(f"notification must be a JSON object, got {type(inner).__name__}")
    msg = dict(inner)
    ctxt: dict[str, Any] = {}
    for key in [k for k in msg if isinstance(k, str) and k.startswith(CONTEXT_PREFIX)]:
        ctxt[key[len(CONTEXT_PREFIX):]] = msg.pop(key)
    priority = msg.get("priority")
    if not isinstance(priority, str) or not priority:
        raise MalformedMessage(f"notification has no valid 'priority': {reprlib.repr(priority)}")
    unique_id = msg.get(UNIQUE_ID)
    return Notification(
        ctxt=ctxt, publisher_id=msg.get("publisher_id"), event_type=msg.get("event_type"),
        priority=priority.lower(), payload=msg.get("payload"),
        metadata={"message_id": msg.get("message_id"), "timestamp": msg.get("timestamp")},
        unique_id=unique_id if isinstance(unique_id, str) else None)


def notification_message(note: Notification) -> dict[str, Any]:
    """The ``IncomingMessage.message`` of a received notification (see ``drivers.base``).

    The notification's own fields: ``message_id``, ``publisher_id``, ``event_type``,
    ``priority`` (lower-case), ``payload`` and ``timestamp``; never ``_unique_id`` or the
    context, which travel separately.
    """
    return {
        "message_id": note.metadata.get("message_id"),
        "publisher_id": note.publisher_id,
        "event_type": note.event_type,
        "priority": note.priority,
        "payload": note.payload,
        "timestamp": note.metadata.get("timestamp"),
    }


# --------------------------------------------------------------------------- remote exceptions

# Our modules whose exceptions are shared with oslo.messaging, and the names they travel under.
_OSLO_MODULES = {
    "legacy_rpc.messaging.exceptions": "oslo_messaging.exceptions",
    "legacy_rpc.messaging.rpc.client": "oslo_messaging.rpc.client",
    "legacy_rpc.messaging.rpc.dispatcher": "oslo_messaging.rpc.dispatcher",
    "legacy_rpc.messaging.server": "oslo_messaging.server",
    "legacy_rpc.messaging.transport": "oslo_messaging.transport",
    "legacy_rpc.messaging.drivers.registry": "oslo_messaging.transport",
    "legacy_rpc.messaging._transport_url": "oslo_messaging.transport",
}
_LOCAL_MODULES = {oslo: ours for ours, oslo in _OSLO_MODULES.items()}
_LOCAL_MODULES["oslo_messaging.transport"] = "legacy_rpc.messaging.transport"
_BUILTIN_MODULES = ("builtins", "exceptions")


def wire_module_name(cls: type) -> str:
    """The module name an exception class travels under (oslo.messaging's for shared ones)."""
    override = cls.__dict__.get("_wire_module")
    if isinstance(override, str):
        return override
    return _OSLO_MODULES.get(cls.__module__, cls.__module__)


def _local_module_name(module: str) -> str:
    if module in _BUILTIN_MODULES:
        return "builtins"
    if module == "nova.rpc.common" or module.endswith("openstack.common.rpc.common"):
        # The legacy RPCException family, sent by services that vendored openstack.common
        # under their own name, lives in our drop-in module.
        return "legacy_rpc.rpc.common"
    return _LOCAL_MODULES.get(module, module)


def serialize_remote_exception(failure_info: ExcInfo | BaseException) -> str:
    """Turn an exception (or ``sys.exc_info()``) into the failure JSON text of spec 3.7."""
    if isinstance(failure_info, BaseException):
        exc: BaseException = failure_info
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    else:
        exc = failure_info[1]
        tb = traceback.format_exception(*failure_info)
    cls = type(exc)
    name = cls.__name__
    module = wire_module_name(cls)
    if name.endswith(REMOTE_POSTFIX) and module.endswith(REMOTE_POSTFIX):
        name = name[: -len(REMOTE_POSTFIX)]
        module = module[: -len(REMOTE_POSTFIX)]
    kwargs = getattr(exc, "kwargs", None)
    data = {
        "class": name,
        "module": module,
        "message": str(exc),
        "tb": tb,
        "args": exc.args,
        "kwargs": kwargs if isinstance(kwargs, dict) else {},
    }
    return _jsonutils.dumps(data)


_remote_types: dict[type, type] = {}
_remote_types_lock = threading.Lock()


def _remote_subclass(klass: type) -> type:
    """``<Class>_Remote`` in module ``<module>_Remote``, created once per class."""
    with _remote_types_lock:
        remote = _remote_types.get(klass)
        if remote is None:

            def __str__(self: BaseException) -> str:
                return str(getattr(self, "_remote_message", ""))

            remote = type(f"{klass.__name__}{REMOTE_POSTFIX}", (klass,),
                          {"__str__": __str__,
                           "__module__": f"{klass.__module__}{REMOTE_POSTFIX}",
                           # so a cell hop strips the suffix back to oslo's module name
                           "_wire_module": f"{wire_module_name(klass)}{REMOTE_POSTFIX}"})
            _remote_types[klass] = remote
        return remote


def deserialize_remote_exception(data: str | bytes,
                                 allowed_remote_exmods: Iterable[str]) -> BaseException:
    """Rebuild a remote exception from its failure JSON.

    Only classes from ``builtins`` and the allowed modules are imported and rebuilt; anything
    else becomes :class:`RemoteError`. Module names may be given in oslo.messaging's form or
    ours. The rebuilt exception is an instance of a ``<Class>_Remote`` subclass whose ``str()``
    is the remote message followed by the remote traceback.
    """
    try:
        failure = _jsonutils.loads(data)
    except (ValueError, UnicodeDecodeError):
        return RemoteError("Unknown", str(data), [])
    if not isinstance(failure, dict):
        return RemoteError("Unknown", str(failure), [])
    trace = failure.get("tb") or []
    if not isinstance(trace, list):
        trace = [str(trace)]
    name = str(failure.get("class", "Unknown"))
    module = str(failure.get("module", ""))
    raw_message = failure.get("message", "")
    message = f"{raw_message}\n" + "\n".join(str(line) for line in trace)

    allowed = {_local_module_name(m) for m in allowed_remote_exmods} | {"builtins"}
    local_module = _local_module_name(module)
    if local_module not in allowed:
        return RemoteError(name, raw_message, trace)
    args = failure.get("args") or []
    kwargs = failure.get("kwargs") or {}
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return RemoteError(name, raw_message, trace)
    try:
        klass = getattr(importlib.import_module(local_module), name)
        if not isinstance(klass, type) or not issubclass(klass, Exception):
            raise TypeError(f"{module}.{name} is not an Exception class")
        # Instantiating the subclass directly also works for built-in types, whose instances
        # do not allow the __class__ assignment the legacy code used.
        exc: BaseException = _remote_subclass(klass)(*args, **{str(k): v
                                                              for k, v in kwargs.items()})
    except Exception:  # whatever the remote data makes a constructor raise
        return RemoteError(name, raw_message, trace)
    try:
        exc._remote_message = message  # type: ignore[attr-defined]
    except AttributeError:
        exc.args = (message, *exc.args[1:])
    return exc

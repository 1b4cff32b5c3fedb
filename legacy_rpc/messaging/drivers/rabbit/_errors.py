"""The rabbit driver's error boundary: py-amqp's own taxonomy decides what is retried.

Every error raised while talking to the broker is classified here, once, by its class (never
by its text), following py-amqp's split into recoverable and irrecoverable errors as kombu
does:

- ``CONNECTION``: the connection is lost or unusable (socket errors, ``ConnectionForced``,
  missed heartbeats): reconnect, then retry.
- ``CHANNEL``: the broker closed the channel for a transient reason: reopen it and retry.
  ``NOT_FOUND`` counts here, because every operation re-declares what it uses on a new
  channel.
- ``NACKED``: the broker refused to take a published message (``basic.nack``): publish it
  again.
- ``FATAL``: retrying cannot help (access refused, precondition failed, a TLS certificate
  that does not verify, a protocol error): the operation fails at once with
  :class:`BrokerRefused`, a ``MessageDeliveryFailure`` carrying the broker's reply code.

Errors that are none of these (bugs) are not classified and propagate unchanged.
"""

from __future__ import annotations

import enum
import socket
import ssl

import amqp
import amqp.exceptions

from legacy_rpc.messaging.exceptions import MessageDeliveryFailure

__all__ = ["BrokerRefused", "ErrorKind", "RECOVERABLE_ERRORS", "classify", "describe",
           "reply_code"]


class ErrorKind(enum.Enum):
    CONNECTION = "connection"
    CHANNEL = "channel"
    NACKED = "nacked"
    FATAL = "fatal"


class BrokerRefused(MessageDeliveryFailure):
    """The broker refused an operation for a reason retrying cannot fix."""

    def __init__(self, message: str, reply_code: int | None = None) -> None:
        super().__init__(message)
        self.reply_code = reply_code


_CONNECTION: tuple[type[BaseException], ...] = (
    *(cls for cls in amqp.Connection.recoverable_connection_errors
      if cls is not amqp.exceptions.MessageNacked),
    EOFError, socket.timeout, amqp.exceptions.InternalError)
_CHANNEL: tuple[type[BaseException], ...] = (
    *amqp.Connection.recoverable_channel_errors, amqp.exceptions.NotFound)
_FATAL: tuple[type[BaseException], ...] = (
    ssl.SSLCertVerificationError, amqp.exceptions.IrrecoverableConnectionError,
    amqp.exceptions.IrrecoverableChannelError)

RECOVERABLE_ERRORS: tuple[type[BaseException], ...] = (
    _CONNECTION + _CHANNEL + (amqp.exceptions.MessageNacked,))
"""What the driver declares as worth a retry (``BaseDriver.recoverable_errors``)."""


def classify(exc: BaseException) -> ErrorKind | None:
    """The kind of a transport error, or None for anything that is not one."""
    if isinstance(exc, amqp.exceptions.MessageNacked):
        return ErrorKind.NACKED
    if isinstance(exc, _CHANNEL):
        return ErrorKind.CHANNEL
    if isinstance(exc, amqp.exceptions.InternalError):
        return ErrorKind.CONNECTION  # 541: the node had a transient fault; a new one helps
    if isinstance(exc, _FATAL):
        return ErrorKind.FATAL
    if isinstance(exc, _CONNECTION):
        return ErrorKind.CONNECTION
    if isinstance(exc, amqp.exceptions.ChannelError):
        return ErrorKind.FATAL  # an unknown channel-level refusal
    if isinstance(exc, amqp.exceptions.AMQPError):
        return ErrorKind.CONNECTION  # an unknown connection-level error: reconnect
    return None


def reply_code(exc: BaseException) -> int | None:
    code = getattr(exc, "reply_code", None)
    return code if isinstance(code, int) else None


def describe(exc: BaseException) -> str:
    """A short text for logs: the AMQP reply code and text, or the error's class and text."""
    code = reply_code(exc)
    text = getattr(exc, "reply_text", None) or str(exc) or type(exc).__name__
    return f"{code} {text}" if code is not None else f"{type(exc).__name__}: {text}"

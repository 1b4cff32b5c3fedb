"""The amqp1 driver's error boundary: what an AMQP 1.0 error condition means for a retry.

Every failure the broker or the transport reports reaches the driver as a proton
``Condition`` (a symbolic name such as ``amqp:unauthorized-access`` and a description).
It is classified here, once, by its name (never by its description):

- ``CONNECTION``: the connection is lost or unusable (socket errors, ``connection-forced``,
  framing errors, missed heartbeats): reconnect with backoff, re-attach every link.
- ``LINK``: one link was refused or detached for a transient reason: attach it again.
- ``FATAL``: retrying cannot help (bad credentials, an address the broker does not know,
  a refused message): the operation fails at once with :class:`BrokerRefused`.
"""

from __future__ import annotations

import enum

from legacy_rpc.messaging import _mask
from legacy_rpc.messaging.exceptions import MessageDeliveryFailure

__all__ = ["BrokerRefused", "ConnectionLost", "DeadlineExceeded", "ErrorKind",
           "PublishOutcomeUnknown", "RECOVERABLE_ERRORS", "classify", "describe"]


class ErrorKind(enum.Enum):
    CONNECTION = "connection"
    LINK = "link"
    FATAL = "fatal"


class BrokerRefused(MessageDeliveryFailure):
    """The broker refused an operation for a reason retrying cannot fix."""

    def __init__(self, message: str, condition: str | None = None) -> None:
        super().__init__(message)
        self.condition = condition


class ConnectionLost(MessageDeliveryFailure):
    """The connection failed before an operation finished; it may be tried again."""


class PublishOutcomeUnknown(MessageDeliveryFailure):
    """The connection was lost after a message was sent and before the broker settled it:
    the broker may or may not have it, so it is not sent again (no duplicates)."""


class DeadlineExceeded(Exception):
    """An operation's deadline passed (turned into ``MessagingTimeout`` by the driver)."""


_FATAL = frozenset({
    "amqp:unauthorized-access", "amqp:not-found", "amqp:not-allowed", "amqp:not-implemented",
    "amqp:invalid-field", "amqp:precondition-failed", "amqp:decode-error",
    "amqp:frame-size-too-small", "amqp:link:message-size-exceeded",
})
_LINK = frozenset({
    "amqp:link:detach-forced", "amqp:link:stolen", "amqp:link:transfer-limit-exceeded",
    "amqp:resource-locked", "amqp:resource-deleted", "amqp:resource-limit-exceeded",
    "amqp:session:window-violation", "amqp:session:handle-in-use",
    "amqp:session:unattached-handle", "amqp:session:errant-link",
})

RECOVERABLE_ERRORS: tuple[type[BaseException], ...] = (ConnectionLost, OSError)
"""What the driver declares as worth a retry (``BaseDriver.recoverable_errors``)."""


def classify(condition_name: str | None) -> ErrorKind:
    """The kind of a condition; an unknown or missing name counts as a lost connection."""
    if condition_name in _FATAL:
        return ErrorKind.FATAL
    if condition_name in _LINK:
        return ErrorKind.LINK
    return ErrorKind.CONNECTION


def describe(condition: object) -> str:
    """A short masked text for logs and exceptions: ``name: description``."""
    if condition is None:
        return "no error condition given"
    name = getattr(condition, "name", None) or type(condition).__name__
    text = getattr(condition, "description", None) or ""
    return _mask.mask_text(f"{name}: {text}"[:300] if text else str(name))

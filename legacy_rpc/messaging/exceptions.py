"""Exceptions shared by the whole core, named and shaped as in ``oslo_messaging.exceptions``."""

from __future__ import annotations

from typing import Any

__all__ = [
    "MessagingException",
    "MessagingTimeout",
    "MessageDeliveryFailure",
    "InvalidTarget",
    "MessageUndeliverable",
    "RemoteError",
]


class MessagingException(Exception):
    """Base class for every exception raised by the messaging core."""


class MessagingTimeout(MessagingException):
    """No reply (or no call-monitor heartbeat) arrived in time."""


class MessageDeliveryFailure(MessagingException):
    """A send still failed after the allowed retries."""


class InvalidTarget(MessagingException, ValueError):
    """A target lacks a field the operation needs (topic, server) or has one it forbids."""

    def __init__(self, msg: str, target: Any) -> None:
        super().__init__(f"{msg}:{target}")
        self.msg = msg
        self.target = target


class MessageUndeliverable(Exception):
    """The broker could not route a mandatory message to any queue.

    Deliberately not a :class:`MessagingException`, as in oslo.messaging.
    """

    def __init__(self, exception: BaseException | None, exchange: str, routing_key: str,
                 message: Any) -> None:
        super().__init__(f"Message to exchange {exchange!r} with routing key {routing_key!r} "
                         "could not be delivered")
        self.exception = exception
        self.exchange = exchange
        self.routing_key = routing_key
        self.message = message


class ConfigurationError(Exception):
    """Invalid combination of configuration options."""


class RemoteError(MessagingException):
    """An exception raised by the remote side that cannot be rebuilt as its own class.

    Its class is not from an allowed module (``allowed_remote_exmods``), or it could not be
    imported or instantiated. ``exc_type`` is the remote class name, ``value`` its message and
    ``traceback`` the remote traceback lines.
    """

    _wire_module = "oslo_messaging.rpc.client"

    def __init__(self, exc_type: str | None = None, value: str | None = None,
                 traceback: Any = None) -> None:
        self.exc_type = exc_type
        self.value = value
        self.traceback = traceback
        self.msg = f"Remote error: {exc_type} {value}\n{traceback}."
        super().__init__()
        # The constructor's arguments, so that a re-serialised RemoteError round-trips.
        self.kwargs = {"exc_type": exc_type, "value": value, "traceback": traceback}

    def __str__(self) -> str:
        return self.msg

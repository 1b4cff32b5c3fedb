"""The conf-first functions every legacy backend module exposes (spec 1.2), on the core.

A backend module (``impl_kombu``, ``impl_qpid``, ``impl_zmq``, ``impl_fake``) is one
:class:`Backend` for its core driver whose bound methods are the module's functions:
``impl_kombu.call(conf, context, topic, msg, timeout)`` and so on. There is no driver code
here: the transport is the core's, for the URL the legacy options give
(:mod:`~legacy_rpc.rpc._transport_url`), created on first use and shared by the process
(:mod:`~legacy_rpc.rpc._transports`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from legacy_rpc.messaging.transport import Transport
from legacy_rpc.rpc import _client, _connection, _transport_url, _transports

__all__ = ["Backend"]


class Backend:
    """The legacy module functions for one core driver (``rabbit``, ``fake``, ...)."""

    def __init__(self, driver: str) -> None:
        self.driver = driver

    def __repr__(self) -> str:
        return f"<legacy backend for the {self.driver!r} driver>"

    def transport(self, conf: Any) -> Transport:
        """The shared transport of this backend for ``conf``."""
        return _transports.get(conf, _transport_url.transport_url(conf, self.driver))

    def create_connection(self, conf: Any, new: bool = True) -> _connection.Connection:
        """A connection to create consumers on (``new`` makes no difference any more)."""
        return _connection.Connection(conf, self.transport(conf))

    def multicall(self, conf: Any, context: Any, topic: str, msg: dict[str, Any],
                  timeout: float | None = None) -> Iterator[Any]:
        return _client.multicall(self.transport(conf), context, topic, msg, timeout)

    def call(self, conf: Any, context: Any, topic: str, msg: dict[str, Any],
             timeout: float | None = None) -> Any:
        return _client.call(self.transport(conf), context, topic, msg, timeout)

    def cast(self, conf: Any, context: Any, topic: str, msg: dict[str, Any]) -> None:
        _client.cast(self.transport(conf), context, topic, msg)

    def fanout_cast(self, conf: Any, context: Any, topic: str, msg: dict[str, Any]) -> None:
        _client.fanout_cast(self.transport(conf), context, topic, msg)

    def _to_server(self, conf: Any, server_params: Mapping[str, Any], context: Any,
                   topic: str, msg: dict[str, Any], fanout: bool) -> None:
        url = _transport_url.transport_url(conf, self.driver, server_params)
        transport = _transports.create(conf, url)
        try:
            _client.cast(transport, context, topic, msg, fanout=fanout)
        finally:
            transport.cleanup()

    def cast_to_server(self, conf: Any, context: Any, server_params: Mapping[str, Any],
                       topic: str, msg: dict[str, Any]) -> None:
        """``cast`` over a connection of its own to the broker ``server_params`` names."""
        self._to_server(conf, server_params, context, topic, msg, fanout=False)

    def fanout_cast_to_server(self, conf: Any, context: Any, server_params: Mapping[str, Any],
                              topic: str, msg: dict[str, Any]) -> None:
        """``fanout_cast`` over a connection of its own to the broker ``server_params``
        names."""
        self._to_server(conf, server_params, context, topic, msg, fanout=True)

    def notify(self, conf: Any, context: Any, topic: str, msg: dict[str, Any],
               envelope: bool = False) -> None:
        _client.notify(self.transport(conf), context, topic, msg, envelope)

    def cleanup(self) -> None:
        """Release the transports of the legacy API (the next use creates new ones)."""
        _transports.cleanup()

"""The conf-first functions every legacy backend module exposes (spec 1.2), on the core.

A backend module (``impl_kombu``, ``impl_qpid``, ``impl_zmq``, ``impl_fake``) is one
:class:`Backend` for its core driver whose bound methods are the module's functions:
``impl_kombu.call(conf, context, topic, msg, timeout)`` and so on. There is no driver code
here: the transport is the core's, for the URL the legacy options give
(:mod:`~legacy_rpc.rpc._transport_url`), shared by the process
(:mod:`~legacy_rpc.rpc._transports`). What the options resolve to is worked out once per
configuration (a :class:`~legacy_rpc.rpc._client.Route`), not at every call.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from legacy_rpc.messaging.transport import Transport, TransportURL
from legacy_rpc.rpc import _client, _connection, _opts, _transport_url, _transports

__all__ = ["Backend", "send_retry"]

_RABBIT_SCHEMES = ("rabbit", "kombu")


def send_retry(conf: Any, url: TransportURL) -> int | None:
    """The core's ``retry`` for sends: ``rabbit_max_retries`` tries in all on a RabbitMQ
    URL (the original raised after that many), None (until the call's deadline) for 0 or
    another driver."""
    if (url.transport or "").partition("+")[0] not in _RABBIT_SCHEMES:
        return None
    _opts.register(conf, _opts.kombu_opts)
    tries = int(conf.rabbit_max_retries)
    return tries - 1 if tries > 0 else None


class Backend:
    """The legacy module functions for one core driver (``rabbit``, ``fake``, ...)."""

    def __init__(self, driver: str) -> None:
        self.driver = driver
        self._routes = _transports.ConfMemo(f"route:{driver}", self._resolve)

    def __repr__(self) -> str:
        return f"<legacy backend for the {self.driver!r} driver>"

    def _resolve(self, conf: Any) -> _client.Route:
        url = _transport_url.transport_url(conf, self.driver)
        transport = _transports.get(conf, url)
        # Read again for every configuration: a change applies to the next call.
        _transports.set_allowed_modules(transport, _transports.allowed_exception_modules(conf))
        return _client.Route(transport, float(conf.rpc_response_timeout),
                             send_retry(conf, url))

    def route(self, conf: Any) -> _client.Route:
        """Where this backend sends for ``conf`` (resolved again after a config change)."""
        return self._routes.get(conf)

    def transport(self, conf: Any) -> Transport:
        """The shared transport of this backend for ``conf``."""
        return self._routes.get(conf).transport

    def create_connection(self, conf: Any, new: bool = True) -> _connection.Connection:
        """A connection to create consumers on (``new`` makes no difference any more)."""
        return _connection.Connection(conf, self.transport(conf))

    def multicall(self, conf: Any, context: Any, topic: str, msg: dict[str, Any],
                  timeout: float | None = None) -> Iterator[Any]:
        return _client.multicall(self._routes.get(conf), context, topic, msg, timeout)

    def call(self, conf: Any, context: Any, topic: str, msg: dict[str, Any],
             timeout: float | None = None) -> Any:
        return _client.call(self._routes.get(conf), context, topic, msg, timeout)

    def cast(self, conf: Any, context: Any, topic: str, msg: dict[str, Any]) -> None:
        _client.cast(self._routes.get(conf), context, topic, msg)

    def fanout_cast(self, conf: Any, context: Any, topic: str, msg: dict[str, Any]) -> None:
        _client.cast(self._routes.get(conf), context, topic, msg, fanout=True)

    def _to_server(self, conf: Any, server_params: Mapping[str, Any], context: Any,
                   topic: str, msg: dict[str, Any], fanout: bool) -> None:
        url = _transport_url.transport_url(conf, self.driver, server_params)
        transport = _transports.create(conf, url)
        try:
            route = _client.Route(transport, float(conf.rpc_response_timeout),
                                  send_retry(conf, url))
            _client.cast(route, context, topic, msg, fanout=fanout)
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
        _client.notify(self._routes.get(conf), context, topic, msg, envelope)

    def cleanup(self) -> None:
        """Release the transports of the legacy API (the next use creates new ones)."""
        _transports.cleanup()

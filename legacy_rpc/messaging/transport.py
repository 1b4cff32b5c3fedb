"""Transports: a loaded driver plus the factories that pick one from a URL."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from oslo_config import cfg

from legacy_rpc.messaging import _metrics, _tracing, _utils, opts
from legacy_rpc.messaging._transport_url import InvalidTransportURL, TransportHost, TransportURL
from legacy_rpc.messaging.drivers import registry
from legacy_rpc.messaging.drivers.base import LISTEN_KINDS, BaseDriver, Listener, Subscription
from legacy_rpc.messaging.drivers.registry import DriverLoadFailure
from legacy_rpc.messaging.exceptions import InvalidTarget
from legacy_rpc.messaging.target import Target

LOG = logging.getLogger(__name__)

__all__ = [
    "Transport",
    "TransportURL",
    "TransportHost",
    "TransportOptions",
    "get_transport",
    "set_transport_defaults",
    "DriverLoadFailure",
    "InvalidTransportURL",
]


def set_transport_defaults(control_exchange: str) -> None:
    """Change the default of ``[DEFAULT] control_exchange`` (e.g. ``'nova'``)."""
    cfg.set_defaults(opts.transport_opts, control_exchange=control_exchange)


class TransportOptions:
    """Per-client delivery options. ``at_least_once`` makes an unroutable request fail
    at once with ``MessageUndeliverable`` instead of timing out."""

    def __init__(self, at_least_once: bool = False) -> None:
        self._at_least_once = at_least_once

    @property
    def at_least_once(self) -> bool:
        return self._at_least_once


class Transport:
    """A driver instance. Only ``conf`` and :meth:`cleanup` are public; the underscore
    methods are the core's interface to the driver (as in oslo.messaging)."""

    def __init__(self, driver: BaseDriver) -> None:
        self.conf = driver.conf
        self._driver = driver
        url = getattr(driver, "_url", None)
        system = _tracing.system_of((url.transport if isinstance(url, TransportURL) else "") or "")
        self._tracing: _tracing.Tracing | None = None
        self._metrics: _metrics.Metrics | None = None
        if isinstance(self.conf, cfg.ConfigOpts):
            self._tracing = _tracing.for_conf(self.conf, system)
            self._metrics = _metrics.for_conf(self.conf, system)

    def _observe_send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
                      operation: str) -> AbstractContextManager[Any]:
        """Trace (injecting the trace context into ``ctxt``) and measure one send."""
        if self._tracing is None and self._metrics is None:
            return contextlib.nullcontext()
        method = str(message.get("method", "")) if operation != "notify" else ""
        stack = contextlib.ExitStack()
        if self._metrics is not None:
            if operation == "notify":
                name = str(message.get("event_type", ""))
                stack.enter_context(self._metrics.send(operation, str(target.topic), name))
            else:
                stack.enter_context(self._metrics.send(
                    "fanout" if operation == "cast" and target.fanout else operation,
                    str(target.topic), method))
        if self._tracing is not None:
            if operation == "notify":
                stack.enter_context(self._tracing.notify(
                    str(target.topic), str(message.get("event_type", "")), ctxt))
            else:
                stack.enter_context(self._tracing.send(target, method, operation, ctxt))
        return stack

    def _observe_dispatch(self, ctxt: dict[str, Any], message: dict[str, Any],
                          msg_id: str | None, topic: str,
                          notification: bool = False) -> AbstractContextManager[Any]:
        """Trace (as a child of the sender's span) and measure one dispatch."""
        if self._tracing is None and self._metrics is None:
            return contextlib.nullcontext()
        name = str(message.get("event_type" if notification else "method", "") or "unknown")
        stack = contextlib.ExitStack()
        if self._metrics is not None:
            stack.enter_context(self._metrics.process(topic, name))
        if self._tracing is not None:
            if notification:
                stack.enter_context(self._tracing.process_notification(ctxt, name, msg_id))
            else:
                stack.enter_context(self._tracing.receive(ctxt, name, msg_id))
        return stack

    def _require_driver_features(self, requeue: bool = False) -> None:
        self._driver.require_features(requeue=requeue)

    def _send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
              wait_for_reply: bool | None = None, timeout: float | None = None,
              call_monitor_timeout: float | None = None, retry: int | None = None,
              transport_options: TransportOptions | None = None) -> Any:
        if not target.topic:
            raise InvalidTarget("A topic is required to send", target)
        with self._observe_send(target, ctxt, message, "call" if wait_for_reply else "cast"):
            return self._driver.send(target, ctxt, message, wait_for_reply=wait_for_reply,
                                     timeout=timeout,
                                     call_monitor_timeout=call_monitor_timeout,
                                     retry=retry, transport_options=transport_options)

    def _send_stream(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
                     timeout: float | None = None, call_monitor_timeout: float | None = None,
                     retry: int | None = None,
                     transport_options: TransportOptions | None = None) -> Iterator[Any]:
        if not target.topic:
            raise InvalidTarget("A topic is required to send", target)
        if not self._driver.capabilities.streaming_replies:
            raise NotImplementedError(
                f"the {type(self._driver).__name__} driver cannot stream replies")
        with self._observe_send(target, ctxt, message, "call"):
            return self._driver.send_stream(target, ctxt, message, timeout=timeout,
                                            call_monitor_timeout=call_monitor_timeout,
                                            retry=retry, transport_options=transport_options)

    def _send_notification(self, target: Target, ctxt: dict[str, Any],
                           message: dict[str, Any], version: float,
                           retry: int | None = None) -> None:
        if not target.topic:
            raise InvalidTarget("A topic is required to send", target)
        if callable(getattr(ctxt, "to_dict", None)):
            ctxt = _utils.context_dict(ctxt)  # a serialized context object
        with self._observe_send(target, ctxt, message, "notify"):
            self._driver.send_notification(target, ctxt, message, version, retry=retry)

    def _listen(self, target: Target, batch_size: int,
                batch_timeout: float | None) -> Listener:
        if not (target.topic and target.server):
            raise InvalidTarget("A server's target must have topic and server names specified",
                                target)
        return self._driver.listen(target, batch_size, batch_timeout)

    def _listen_subscriptions(self, subscriptions: list[Subscription], kind: str,
                              batch_size: int = 1, batch_timeout: float | None = None,
                              retry: int | None = None) -> Listener:
        """Consume exactly the given queues (the legacy API's consumers are built on it).

        ``retry`` (not None) is passed to drivers whose ``listen_subscriptions`` takes it
        (rabbit: how often declaring the queues retries connecting)."""
        if kind not in LISTEN_KINDS:
            raise ValueError(f"kind must be one of {', '.join(LISTEN_KINDS)}, got {kind!r}")
        if not subscriptions or any(not s.routing_key for s in subscriptions):
            raise ValueError(f"every subscription needs a routing key: {subscriptions!r}")
        if retry is not None:
            listen: Any = self._driver.listen_subscriptions
            return listen(list(subscriptions), kind, batch_size, batch_timeout,  # type: ignore[no-any-return]
                          retry=retry)
        return self._driver.listen_subscriptions(list(subscriptions), kind, batch_size,
                                                 batch_timeout)

    def _listen_for_notifications(self, targets_and_priorities: list[tuple[Target, str]],
                                  pool: str | None, batch_size: int,
                                  batch_timeout: float | None) -> Listener:
        for target, _priority in targets_and_priorities:
            if not target.topic:
                raise InvalidTarget("A target must have topic specified", target)
        return self._driver.listen_for_notifications(targets_and_priorities, pool,
                                                     batch_size, batch_timeout)

    def cleanup(self) -> None:
        """Release every resource of the driver."""
        self._driver.cleanup()

    def __repr__(self) -> str:
        url = getattr(self._driver, "_url", None)
        shown = url.masked() if isinstance(url, TransportURL) else "?"
        return f"<{type(self).__name__} driver={type(self._driver).__name__} url={shown}>"


class RPCTransport(Transport):
    """A transport meant for RPC."""


class NotificationTransport(Transport):
    """A transport meant for notifications."""


def _get_transport(conf: cfg.ConfigOpts, url: str | TransportURL | None = None,
                   allowed_remote_exmods: Sequence[str] | None = None,
                   aliases: Mapping[str, str] | None = None,
                   transport_cls: type[Transport] = RPCTransport) -> Transport:
    opts.register_transport_opts(conf)
    if not isinstance(url, TransportURL):
        url = TransportURL.parse(conf, url)
    name = url.transport
    if not name:
        raise InvalidTransportURL(url, "No scheme specified")
    driver_cls = registry.load_driver_class(name, aliases)
    kwargs = {"default_exchange": conf.control_exchange,
              "allowed_remote_exmods": list(allowed_remote_exmods or [])}
    try:
        driver = driver_cls(conf, url, **kwargs)
    except DriverLoadFailure:
        raise
    except Exception as exc:
        raise DriverLoadFailure(name, exc) from exc
    if not isinstance(driver, BaseDriver):
        raise DriverLoadFailure(name,
                                TypeError(f"{driver_cls!r} is not a BaseDriver subclass"))
    return transport_cls(driver)


def get_transport(conf: cfg.ConfigOpts, url: str | TransportURL | None = None,
                  allowed_remote_exmods: Sequence[str] | None = None,
                  aliases: Mapping[str, str] | None = None,
                  transport_cls: type[Transport] = RPCTransport) -> Transport:
    """Load the driver named by ``url`` (or ``[DEFAULT] transport_url``).

    ``allowed_remote_exmods`` lists the modules whose exceptions a client may rebuild.
    ``aliases`` maps extra names (URL schemes or legacy ``rpc_backend`` values) to driver
    names, on top of the built-in legacy table (``nova.openstack.common.rpc.impl_kombu`` is
    ``rabbit``, and so on).
    """
    return _get_transport(conf, url, allowed_remote_exmods, aliases, transport_cls)

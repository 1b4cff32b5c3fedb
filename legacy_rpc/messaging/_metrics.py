"""Metrics through the OpenTelemetry metrics API.

``[oslo_messaging_metrics] metrics_enabled`` (oslo.messaging's option; its other options
drive oslo.metrics' socket and are registered only so that both libraries share the group)
turns them on for the transports made from that configuration. The instruments follow
OpenTelemetry's messaging and RPC semantic conventions; export them with whatever
``MeterProvider`` the application sets (Prometheus, OTLP: see the README):

- ``messaging.client.operation.duration`` (histogram, s): each call, cast and notification
  sent, by ``messaging.system``, ``messaging.operation.name`` (``call``, ``cast``,
  ``fanout``, ``notify``), ``messaging.destination.name`` (topic), ``rpc.method`` and
  ``error.type`` when it failed;
- ``messaging.client.sent.messages`` (counter): the same, counted;
- ``messaging.process.duration`` (histogram, s) and ``messaging.client.consumed.messages``
  (counter): each request or notification dispatched by a server or listener, by
  ``messaging.operation.name`` (``process``), topic or event type, ``rpc.method``, and
  ``error.type`` when the endpoint raised;
- ``legacy_rpc.connection.reconnects`` (counter): connections re-established after a
  failure, by ``messaging.system``;
- ``legacy_rpc.publish.confirm.duration`` (histogram, s): waits for publisher confirms;
- ``legacy_rpc.messages.rejected`` (counter): messages rejected as malformed, by reason.

Nothing of OpenTelemetry is imported while metrics are off (the default).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from oslo_config import cfg

from legacy_rpc.messaging import _opt_types as _ot

LOG = logging.getLogger(__name__)

__all__ = ["GROUP", "metrics_opts", "register_opts", "Metrics", "for_conf", "reconnected",
           "confirm_waited", "rejected"]

GROUP = "oslo_messaging_metrics"

metrics_opts = [
    _ot.BoolOpt("metrics_enabled", default=False,
                help="Record RPC and notification metrics through the OpenTelemetry "
                     "metrics API."),
    _ot.IntOpt("metrics_buffer_size", default=1000,
               help="oslo.messaging's buffer for oslo.metrics (not used here)."),
    _ot.StrOpt("metrics_socket_file", default="/var/tmp/metrics_collector.sock",  # nosec
               help="oslo.metrics' socket (not used here)."),
    _ot.StrOpt("metrics_process_name", default="",
               help="Process name reported with oslo.metrics (not used here)."),
    _ot.IntOpt("metrics_thread_stop_timeout", default=10,
               help="oslo.messaging's sending thread timeout (not used here)."),
]

_PROCESS: Metrics | None = None
"""The instruments of the first transport with metrics on: driver-level events (reconnects,
confirm waits, rejected messages) are counted there."""


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(metrics_opts, group=GROUP)


class Metrics:
    """The instruments (made only when metrics are enabled)."""

    def __init__(self, system: str) -> None:
        from opentelemetry import metrics

        meter = metrics.get_meter("legacy_rpc.messaging")
        self.system = system
        self._op_duration = meter.create_histogram(
            "messaging.client.operation.duration", unit="s",
            description="Duration of sending a call (until its reply), cast or notification.")
        self._sent = meter.create_counter(
            "messaging.client.sent.messages", unit="{message}",
            description="Calls, casts and notifications sent.")
        self._process_duration = meter.create_histogram(
            "messaging.process.duration", unit="s",
            description="Duration of dispatching a request or notification to endpoints.")
        self._consumed = meter.create_counter(
            "messaging.client.consumed.messages", unit="{message}",
            description="Requests and notifications dispatched.")
        self._reconnects = meter.create_counter(
            "legacy_rpc.connection.reconnects", unit="{reconnect}",
            description="Connections re-established after a failure.")
        self._confirm_wait = meter.create_histogram(
            "legacy_rpc.publish.confirm.duration", unit="s",
            description="Waits for publisher confirms.")
        self._rejected = meter.create_counter(
            "legacy_rpc.messages.rejected", unit="{message}",
            description="Messages rejected as malformed.")

    @contextmanager
    def _timed(self, histogram: Any, counter: Any,
               attributes: dict[str, Any]) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            attributes["error.type"] = type(exc).__name__
            raise
        finally:
            histogram.record(time.perf_counter() - start, attributes)
            counter.add(1, attributes)

    def send(self, operation: str, topic: str, method: str) -> Any:
        return self._timed(self._op_duration, self._sent, {
            "messaging.system": self.system, "messaging.operation.name": operation,
            "messaging.destination.name": topic, "rpc.method": method})

    def process(self, topic: str, method: str) -> Any:
        return self._timed(self._process_duration, self._consumed, {
            "messaging.system": self.system, "messaging.operation.name": "process",
            "messaging.destination.name": topic, "rpc.method": method})

    def reconnected(self, system: str) -> None:
        self._reconnects.add(1, {"messaging.system": system})

    def confirm_waited(self, seconds: float, system: str) -> None:
        self._confirm_wait.record(seconds, {"messaging.system": system})

    def rejected(self, reason: str) -> None:
        self._rejected.add(1, {"error.type": reason})


def for_conf(conf: cfg.ConfigOpts, system: str) -> Metrics | None:
    """The metrics of a transport made on ``conf``, or None when metrics are off."""
    global _PROCESS
    register_opts(conf)
    if not conf[GROUP].metrics_enabled:
        return None
    try:
        made = Metrics(system)
    except ImportError:
        LOG.warning("metrics_enabled is set but opentelemetry-api is not installed; "
                    "metrics are off (pip install 'legacy-rpc[tracing]')")
        return None
    if _PROCESS is None:
        _PROCESS = made
    return made


def _process_event(record: Callable[[Metrics], None]) -> None:
    if _PROCESS is not None:
        try:
            record(_PROCESS)
        except Exception:  # metrics never break messaging
            LOG.debug("Could not record a metric", exc_info=True)


def reconnected(system: str) -> None:
    """A driver re-established a connection after a failure."""
    _process_event(lambda m: m.reconnected(system))


def confirm_waited(seconds: float, system: str) -> None:
    """A driver waited ``seconds`` for a publisher confirm."""
    _process_event(lambda m: m.confirm_waited(seconds, system))


def rejected(reason: str) -> None:
    """A driver rejected a malformed message."""
    _process_event(lambda m: m.rejected(reason))

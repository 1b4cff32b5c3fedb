"""OpenTelemetry tracing, compatible with oslo.messaging 18.3's.

The ``[oslo_messaging_tracing]`` options are oslo.messaging's (both libraries may register
them on one configuration). With ``tracing_enabled``, sending a call, cast or fanout cast
opens a PRODUCER span ``<topic>.<method>`` and injects the W3C trace context
(``traceparent``, ``tracestate``) into the message's context, exactly where oslo.messaging
puts it; an RPC server dispatches inside a CONSUMER span ``<method> receive`` whose parent
is extracted from that context. So one trace crosses legacy services, migrated services and
unmodified oslo.messaging services, in either direction. The attributes are oslo's
(``messaging.system``, ``messaging.operation``, ``messaging.destination.name``,
``rpc.method``, ``rpc.service``, ``openstack.request_id``, ``messaging.message.id``).
Beyond oslo, notifications are traced too: ``<topic>.<event_type>`` PRODUCER spans and
``<event_type> receive`` CONSUMER spans, with the context carried in the notification's
context.

Nothing of OpenTelemetry is imported while tracing is off (the default). The options are
read when a transport is created. A tracer provider the application set up is used as it
is; otherwise, as oslo.messaging does, one is made with the OTLP exporter the options name
(needs ``opentelemetry-sdk`` and the exporter package), and without those the spans go to
OpenTelemetry's no-op provider after one warning.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from oslo_config import cfg

from legacy_rpc.messaging import _opt_types as _ot

LOG = logging.getLogger(__name__)

__all__ = ["GROUP", "tracing_opts", "register_opts", "Tracing", "for_conf", "system_of"]

GROUP = "oslo_messaging_tracing"

tracing_opts = [
    _ot.BoolOpt("tracing_enabled", default=False,
                help="Enable OpenTelemetry tracing of RPC calls, casts and notifications."),
    _ot.StrOpt("tracing_service_name", default="openstack",
               help="Service name reported in trace spans (when this library sets up the "
                    "tracer provider)."),
    _ot.StrOpt("otel_exporter_otlp_endpoint", default="http://localhost:4318",
               help="OTLP exporter endpoint URL; with http/protobuf, spans go to "
                    "<endpoint>/v1/traces."),
    _ot.StrOpt("otlp_protocol", default="http/protobuf",
               choices=[("http/protobuf", "OTLP over HTTP with Protocol Buffers"),
                        ("grpc", "OTLP over gRPC")],
               help="OTLP transport protocol."),
    _ot.BoolOpt("insecure", default=False,
                help="Disable TLS verification for the OTLP endpoint (gRPC only)."),
]

_SYSTEMS = {"rabbit": "rabbitmq", "kombu": "rabbitmq", "amqp1": "amqp", "amqp": "amqp",
            "zmq": "zeromq", "fake": "fake"}


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(tracing_opts, group=GROUP)


def system_of(scheme: str) -> str:
    """``messaging.system`` for a transport URL scheme (oslo.messaging: ``rabbitmq``)."""
    return _SYSTEMS.get(scheme, scheme or "unknown")


def _exporter(conf: cfg.ConfigOpts) -> Any:
    group = conf[GROUP]
    if group.otlp_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc import (  # type: ignore[import-not-found]
            trace_exporter as grpc_exporter,
        )

        return grpc_exporter.OTLPSpanExporter(endpoint=group.otel_exporter_otlp_endpoint,
                                              insecure=group.insecure)
    from opentelemetry.exporter.otlp.proto.http import (  # type: ignore[import-not-found]
        trace_exporter as http_exporter,
    )

    return http_exporter.OTLPSpanExporter(
        endpoint=group.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces")


def _tracer(conf: cfg.ConfigOpts) -> Any:
    from opentelemetry import trace

    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        try:
            from opentelemetry.sdk import resources
            from opentelemetry.sdk import trace as sdk_trace
            from opentelemetry.sdk.trace import export

            provider = sdk_trace.TracerProvider(resource=resources.Resource.create(
                {"service.name": conf[GROUP].tracing_service_name}))
            provider.add_span_processor(export.BatchSpanProcessor(_exporter(conf)))
            trace.set_tracer_provider(provider)
        except ImportError as exc:
            LOG.warning("Tracing is enabled but no tracer provider is set up and the OTLP "
                        "exporter cannot be made (%s): spans go nowhere until the "
                        "application sets a provider (pip install opentelemetry-sdk "
                        "opentelemetry-exporter-otlp)", exc)
    return trace.get_tracer("legacy_rpc.messaging")


class Tracing:
    """The spans of one transport (made only when tracing is enabled)."""

    def __init__(self, conf: cfg.ConfigOpts, system: str) -> None:
        from opentelemetry import propagate, trace

        self._tracer = _tracer(conf)
        self._propagate = propagate
        self._kinds = trace.SpanKind
        self._error = trace.StatusCode.ERROR
        self.system = system

    @contextlib.contextmanager
    def _span(self, name: str, kind: Any, attributes: dict[str, Any],
              parent: Any = None) -> Iterator[Any]:
        with self._tracer.start_as_current_span(name, context=parent, kind=kind,
                                                attributes=attributes,
                                                record_exception=False,
                                                set_status_on_exception=False) as span:
            try:
                yield span
            except Exception as exc:
                span.set_status(self._error, str(exc))
                span.record_exception(exc)
                raise

    def _common(self, operation: str, ctxt: dict[str, Any]) -> dict[str, Any]:
        attributes: dict[str, Any] = {"messaging.system": self.system,
                                      "messaging.operation": operation}
        request_id = ctxt.get("request_id") if isinstance(ctxt, dict) else None
        if request_id:
            attributes["openstack.request_id"] = str(request_id)
        return attributes

    @contextlib.contextmanager
    def send(self, target: Any, method: str, call_type: str,
             ctxt: dict[str, Any]) -> Iterator[None]:
        """A PRODUCER span around sending; the trace context goes into ``ctxt``."""
        attributes = self._common(call_type, ctxt)
        attributes["messaging.destination.name"] = str(target.topic)
        attributes["rpc.method"] = method
        if target.namespace:
            attributes["rpc.service"] = str(target.namespace)
        with self._span(f"{target.topic}.{method}", self._kinds.PRODUCER, attributes):
            self._propagate.inject(ctxt)
            yield

    @contextlib.contextmanager
    def receive(self, ctxt: dict[str, Any], method: str,
                msg_id: str | None) -> Iterator[None]:
        """A CONSUMER span around dispatching a request, child of the sender's span."""
        attributes = self._common("receive", ctxt)
        attributes["rpc.method"] = method
        if msg_id:
            attributes["messaging.message.id"] = str(msg_id)
        parent = self._propagate.extract(ctxt if isinstance(ctxt, dict) else {})
        with self._span(f"{method} receive", self._kinds.CONSUMER, attributes, parent):
            yield

    @contextlib.contextmanager
    def notify(self, topic: str, event_type: str, ctxt: dict[str, Any]) -> Iterator[None]:
        attributes = self._common("notify", ctxt)
        attributes["messaging.destination.name"] = topic
        attributes["messaging.notification.event_type"] = event_type
        with self._span(f"{topic}.{event_type}", self._kinds.PRODUCER, attributes):
            self._propagate.inject(ctxt)
            yield

    @contextlib.contextmanager
    def process_notification(self, ctxt: dict[str, Any], event_type: str,
                             message_id: str | None) -> Iterator[None]:
        attributes = self._common("process", ctxt)
        attributes["messaging.notification.event_type"] = event_type
        if message_id:
            attributes["messaging.message.id"] = message_id
        parent = self._propagate.extract(ctxt if isinstance(ctxt, dict) else {})
        with self._span(f"{event_type} receive", self._kinds.CONSUMER, attributes, parent):
            yield


def for_conf(conf: cfg.ConfigOpts, system: str) -> Tracing | None:
    """The tracing of a transport made on ``conf``, or None when tracing is off."""
    register_opts(conf)
    if not conf[GROUP].tracing_enabled:
        return None
    try:
        return Tracing(conf, system)
    except ImportError:
        LOG.warning("tracing_enabled is set but opentelemetry-api is not installed; "
                    "tracing is off (pip install 'legacy-rpc[tracing]')")
        return None

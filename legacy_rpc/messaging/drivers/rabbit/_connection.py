"""One AMQP 0-9-1 connection with one channel, which repairs itself.

``BrokerConnection`` owns the table of what it consumes and re-declares and re-consumes all
of it after every reconnect, so a consumer never silently stops after a broker restart or a
dropped connection. Reconnects fail over across the URL's hosts with a jittered, growing
delay. Publishing uses publisher confirms; a mandatory message the broker returns raises
``MessageUndeliverable`` instead of being mistaken for a confirmed one.

A connection is not thread-safe by itself: the pool hands it to one sender at a time, and
listeners use theirs from their own thread. ``lock`` keeps the heartbeat thread out while
someone else uses it.
"""

from __future__ import annotations

import bz2
import contextlib
import logging
import os
import random
import socket
import ssl
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import amqp
import amqp.exceptions

from legacy_rpc.messaging._transport_url import TransportHost
from legacy_rpc.messaging.drivers.rabbit._opts import RabbitOptions
from legacy_rpc.messaging.drivers.rabbit._topology import Exchange, Queue
from legacy_rpc.messaging.exceptions import MessageDeliveryFailure, MessageUndeliverable

LOG = logging.getLogger(__name__)

__all__ = ["BrokerConnection", "DeadlineExceeded", "Delivery", "RECOVERABLE_ERRORS"]

# Errors after which reconnecting (or reopening the channel) and retrying makes sense.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    amqp.exceptions.ConnectionError, OSError, EOFError, socket.timeout)
CHANNEL_ERRORS: tuple[type[BaseException], ...] = (amqp.exceptions.ChannelError,)
RECOVERABLE_ERRORS = CONNECTION_ERRORS + CHANNEL_ERRORS

JSON_PROPERTIES = {"content_type": "application/json", "content_encoding": "utf-8",
                   "delivery_mode": 2, "priority": 0}
_COMPRESSION = {"gzip": ("application/x-gzip", zlib.compress),
                "bz2": ("application/x-bz2", bz2.compress)}
_DECOMPRESSION: dict[str, Callable[[bytes], bytes]] = {
    "application/x-gzip": zlib.decompress, "application/x-bz2": bz2.decompress}


class DeadlineExceeded(Exception):
    """The caller's deadline passed while the connection was being repaired."""


@dataclass
class Delivery:
    """A received message, with what is needed to acknowledge it on the right channel."""

    body: bytes
    delivery_tag: int
    generation: int
    redelivered: bool
    queue: str


@dataclass
class _Consumer:
    queue: Queue
    callback: Callable[[Delivery], None]
    no_ack: bool
    tag: str = ""


@dataclass
class ConnectionPlan:
    """Everything needed to (re)open a connection: hosts, credentials, options."""

    hosts: list[TransportHost]
    virtual_host: str
    options: RabbitOptions
    role: str
    _next: int = field(default=0)

    def next_host(self) -> TransportHost:
        if self.options.kombu_failover_strategy == "shuffle" and len(self.hosts) > 1:
            return random.choice(self.hosts)
        host = self.hosts[self._next % len(self.hosts)]
        self._next += 1
        return host


def decode_body(message: amqp.Message) -> bytes:
    """The message body as bytes, decompressed per its ``compression`` header."""
    body = message.body
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    headers = getattr(message, "headers", None) or {}
    compression = headers.get("compression")
    if compression:
        decompress = _DECOMPRESSION.get(str(compression))
        if decompress is None:
            raise ValueError(f"unsupported compression {compression!r}")
        data = decompress(data)
    return data


class BrokerConnection:
    """A self-repairing connection and channel to one broker of a list."""

    def __init__(self, plan: ConnectionPlan) -> None:
        self.plan = plan
        self.options = plan.options
        self.lock = threading.RLock()
        self.generation = 0
        self.last_used = time.monotonic()
        self._conn: amqp.Connection | None = None
        self._channel: Any = None
        self._declared: set[tuple[str, str]] = set()
        self._consumers: list[_Consumer] = []
        self._returned: tuple[BaseException, str, str] | None = None
        self._cancelled = False
        self._host: TransportHost | None = None
        self._closed = False
        self.closing = False  # set by an owner tearing down: cancels are then expected
        # heartbeat_tick wants calling a few times per heartbeat period, not on every read.
        self._tick_interval = max(0.1, plan.options.heartbeat_timeout_threshold
                                  / max(1, plan.options.heartbeat_rate) / 4)
        self._next_tick = 0.0

    # ------------------------------------------------------------------ connecting

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._channel is not None

    def describe(self) -> str:
        host = self._host or (self.plan.hosts[0] if self.plan.hosts else None)
        return f"{host.hostname}:{host.port or 5672}" if host else "?"

    def _ssl_options(self, host: TransportHost) -> dict[str, Any] | bool:
        opts = self.options
        if not opts.ssl:
            return False
        sslopts: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED}
        if opts.ssl_ca_file:
            sslopts["ca_certs"] = opts.ssl_ca_file
        if opts.ssl_cert_file:
            sslopts["certfile"] = opts.ssl_cert_file
            sslopts["keyfile"] = opts.ssl_key_file or None
        if opts.ssl_enforce_hostname_verification:
            sslopts["server_hostname"] = host.hostname
        if opts.ssl_version:
            sslopts["tls_minimum_version"] = getattr(ssl.TLSVersion, opts.ssl_version)
        return sslopts

    def _open(self) -> None:
        """One connection attempt to the next host; restores channel, QoS and consumers."""
        host = self.plan.next_host()
        self._host = host
        opts = self.options
        hostname = host.hostname or "localhost"
        address = f"[{hostname}]" if ":" in hostname else hostname
        conn = amqp.Connection(
            host=f"{address}:{host.port or 5672}",
            userid=host.username if host.username is not None else "guest",
            password=host.password if host.password is not None else "guest",
            login_method=opts.rabbit_login_method,
            virtual_host=self.plan.virtual_host or "/",
            heartbeat=opts.heartbeat_timeout_threshold,
            connect_timeout=max(1.0, min(30.0, opts.heartbeat_timeout_threshold or 30)),
            confirm_publish=True,
            ssl=self._ssl_options(host),
            client_properties={
                "connection_name": (f"{opts.processname}:{os.getpid()}:{self.plan.role}:"
                                    f"{uuid.uuid4()}"),
            },
            on_blocked=lambda reason: LOG.warning(
                "The broker %s blocked the connection: %s", self.describe(), reason),
            on_unblocked=lambda: LOG.info("The broker %s unblocked the connection",
                                          self.describe()),
        )
        try:
            conn.connect()
            self._conn = conn
            self._open_channel()
        except BaseException:
            self._conn = None
            self._channel = None
            self._silently_close(conn)
            raise

    def _open_channel(self) -> None:
        assert self._conn is not None
        channel = self._conn.channel()
        channel.events["basic_return"].add(self._on_return)
        if self.options.rabbit_qos_prefetch_count > 0 and self._consumers:
            channel.basic_qos(0, self.options.rabbit_qos_prefetch_count, False)
        self._channel = channel
        self.generation += 1
        self._declared.clear()
        for consumer in self._consumers:
            self._declare_queue(consumer.queue)
            self._basic_consume(consumer)

    def _on_return(self, exc: BaseException, exchange: str, routing_key: str,
                   message: Any) -> None:
        self._returned = (exc, exchange, routing_key)

    def _on_cancel(self, consumer_tag: str) -> None:
        if self.closing:
            return
        LOG.warning("The broker cancelled consumer %s on %s (queue deleted or failed "
                    "over); re-subscribing", consumer_tag, self.describe())
        self._cancelled = True

    @staticmethod
    def _silently_close(conn: Any) -> None:
        with contextlib.suppress(Exception):  # the connection is being thrown away
            conn.collect()

    def reset(self) -> None:
        """Drop the connection; the next use reconnects."""
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            self._silently_close(conn)

    def close(self) -> None:
        self._closed = True
        with self.lock:
            conn, self._conn, self._channel = self._conn, None, None
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    self._silently_close(conn)

    def _delay(self, attempt: int) -> float:
        opts = self.options
        base = min(opts.rabbit_interval_max,
                   opts.rabbit_retry_interval + opts.rabbit_retry_backoff * attempt)
        return base * random.uniform(0.5, 1.0) + random.uniform(0, opts.kombu_reconnect_splay)

    def ensure(self, action: Callable[[Any], Any], *, retry: int | None = None,
               deadline: float | None = None,
               stop: Callable[[], bool] | None = None, what: str = "operation") -> Any:
        """Run ``action(channel)``, repairing the connection and retrying on failure.

        ``retry``: None or -1 forever, 0 once, N at most N retries; when they are used up
        the error is ``MessageDeliveryFailure``. ``deadline`` (monotonic) raises
        :class:`DeadlineExceeded`; ``stop()`` returning True ends the attempts quietly.
        """
        attempt = 0
        while True:
            if self._closed:
                raise MessageDeliveryFailure(f"{what} on a closed connection")
            try:
                with self.lock:
                    if self._conn is None:
                        self._open()
                        if attempt:
                            LOG.info("Reconnected to AMQP server on %s", self.describe())
                    elif self._channel is None:
                        self._open_channel()
                    self.last_used = time.monotonic()
                    return action(self._channel)
            except (MessageUndeliverable, DeadlineExceeded):
                raise
            except RECOVERABLE_ERRORS as exc:
                if self._closed:
                    raise MessageDeliveryFailure(f"{what} on a closed connection") from exc
                if isinstance(exc, CHANNEL_ERRORS) and self._conn is not None:
                    self._channel = None  # the broker closed the channel; reopen it
                    code = getattr(exc, "reply_code", "?")
                    LOG.warning("AMQP channel error %s during %s on %s: %s", code, what,
                                self.describe(), exc)
                    if code == 406 and "inequivalent" in str(exc):
                        raise  # a declaration conflicts; retrying cannot help
                else:
                    self.reset()
                retries_left = retry is None or retry < 0 or attempt < retry
                if not retries_left:
                    raise MessageDeliveryFailure(
                        f"Unable to connect to AMQP server on {self.describe()} after "
                        f"{attempt + 1} tries: {exc}") from exc
                delay = 0.0 if isinstance(exc, CHANNEL_ERRORS) and attempt == 0 \
                    else self._delay(attempt)
                if deadline is not None and time.monotonic() + delay >= deadline:
                    raise DeadlineExceeded(f"{what}: {exc}") from exc
                LOG.warning("AMQP server on %s is unreachable: %s. Trying again in %.1f "
                            "seconds.", self.describe(), exc, delay)
                attempt += 1
                if stop is None:
                    time.sleep(delay)
                else:
                    end = time.monotonic() + delay
                    while time.monotonic() < end:
                        if stop():
                            return None
                        time.sleep(min(0.1, max(0.0, end - time.monotonic())))
                    if stop():
                        return None

    # ------------------------------------------------------------------ declaring

    def _declare_exchange(self, exchange: Exchange) -> None:
        key = ("x", exchange.name)
        if exchange.name == "" or key in self._declared:
            return
        self._channel.exchange_declare(exchange.name, exchange.type, durable=exchange.durable,
                                       auto_delete=exchange.auto_delete)
        self._declared.add(key)

    def _declare_queue(self, queue: Queue) -> None:
        key = ("q", queue.name)
        if key in self._declared:
            return
        self._channel.queue_declare(queue.name, durable=queue.durable,
                                    auto_delete=queue.auto_delete,
                                    arguments=dict(queue.arguments) or None)
        for exchange, routing_key in queue.bindings:
            self._declare_exchange(exchange)
            self._channel.queue_bind(queue.name, exchange.name, routing_key)
        self._declared.add(key)

    def delete_queue(self, name: str) -> None:
        """Delete a queue now (best effort: it also expires by itself)."""
        try:
            self.ensure(lambda ch: ch.queue_delete(name), retry=0, what=f"deleting {name}")
        except Exception as exc:
            LOG.debug("Could not delete queue %s: %s", name, exc)

    # ------------------------------------------------------------------ publishing

    def publish(self, exchange: Exchange | None, routing_key: str, body: bytes, *,
                mandatory: bool = False, expiration: float | None = None,
                declare: Queue | None = None, retry: int | None = None,
                deadline: float | None = None) -> None:
        """Publish and wait for the broker's confirm.

        ``exchange`` is declared first (None: the default exchange); ``declare`` is a queue
        to declare and bind first (store-and-forward for notifications).
        """
        properties: dict[str, Any] = dict(JSON_PROPERTIES)
        headers: dict[str, Any] = {}
        compression = self.options.kombu_compression
        if compression:
            content_type, compress = _COMPRESSION[compression]
            body = compress(body)
            headers["compression"] = content_type
        properties["application_headers"] = headers
        if expiration is not None:
            properties["expiration"] = str(max(1, int(expiration * 1000)))
        message = amqp.Message(body, **properties)
        name = exchange.name if exchange is not None else ""

        def action(channel: Any) -> None:
            if declare is not None:
                self._declare_queue(declare)
            if exchange is not None:
                self._declare_exchange(exchange)
            self._returned = None
            timeout = None
            if deadline is not None:
                timeout = max(0.05, deadline - time.monotonic())
            channel.basic_publish(message, exchange=name, routing_key=routing_key,
                                  mandatory=mandatory, confirm_timeout=timeout)
            returned, self._returned = self._returned, None
            if returned is not None:
                raise MessageUndeliverable(returned[0], returned[1], returned[2], body)

        self.ensure(action, retry=retry, deadline=deadline,
                    what=f"publishing to {name or '(default)'}/{routing_key}")

    # ------------------------------------------------------------------ consuming

    def _basic_consume(self, consumer: _Consumer) -> None:
        generation = self.generation
        queue_name = consumer.queue.name

        def on_message(message: amqp.Message) -> None:
            delivery = Delivery(decode_body_or_raw(message), message.delivery_tag,
                                generation, bool(message.delivery_info.get("redelivered")),
                                queue_name)
            consumer.callback(delivery)

        arguments = {"x-cancel-on-ha-failover": True} \
            if self.options.enable_cancel_on_failover else None
        consumer.tag = self._channel.basic_consume(
            queue_name, no_ack=consumer.no_ack, callback=on_message,
            on_cancel=self._on_cancel, arguments=arguments)

    def consume(self, queue: Queue, callback: Callable[[Delivery], None],
                no_ack: bool = False, deadline: float | None = None) -> None:
        """Declare ``queue`` and consume it; restored after every reconnect."""
        consumer = _Consumer(queue, callback, no_ack)

        def action(_channel: Any) -> None:
            if self.options.rabbit_qos_prefetch_count > 0 and not self._consumers:
                self._channel.basic_qos(0, self.options.rabbit_qos_prefetch_count, False)
            self._consumers.append(consumer)
            try:
                self._declare_queue(queue)
                self._basic_consume(consumer)
            except BaseException:
                self._consumers.remove(consumer)
                raise

        self.ensure(action, deadline=deadline, what=f"consuming {queue.name}")

    def cancel_consumers(self) -> None:
        """Stop every consumer of this connection (not restored after reconnects)."""
        consumers, self._consumers = self._consumers, []
        with self.lock:
            if self._channel is None:
                return
            for consumer in consumers:
                try:
                    self._channel.basic_cancel(consumer.tag)
                except RECOVERABLE_ERRORS as exc:
                    LOG.debug("Could not cancel consumer %s: %s", consumer.tag, exc)
                    return

    def drain(self, timeout: float, stop: Callable[[], bool],
              deadline: float | None = None) -> None:
        """Wait up to ``timeout`` for deliveries and hand them to their callbacks.

        Repairs the connection (and the subscriptions) on errors, unless ``stop()``.
        """

        def action(_channel: Any) -> None:
            assert self._conn is not None
            if self._cancelled:
                self._cancelled = False
                self._channel = None
                self._open_channel()
            with contextlib.suppress(TimeoutError):
                self._conn.drain_events(timeout=timeout)
            now = time.monotonic()
            if self._conn is not None and now >= self._next_tick:
                self._next_tick = now + self._tick_interval
                self._conn.heartbeat_tick(rate=self.options.heartbeat_rate)

        self.ensure(action, stop=stop, deadline=deadline, what="consuming")

    def ack(self, delivery: Delivery) -> None:
        self._settle(delivery, lambda ch: ch.basic_ack(delivery.delivery_tag))

    def reject(self, delivery: Delivery, requeue: bool) -> None:
        self._settle(delivery, lambda ch: ch.basic_reject(delivery.delivery_tag, requeue))

    def _settle(self, delivery: Delivery, action: Callable[[Any], None]) -> None:
        """Ack or reject on the channel the message came from; after a reconnect the
        broker has already put it back, so there is nothing to do."""
        with self.lock:
            if delivery.generation != self.generation or self._channel is None:
                LOG.debug("Not settling delivery %s from an older channel",
                          delivery.delivery_tag)
                return
            try:
                action(self._channel)
            except RECOVERABLE_ERRORS as exc:
                LOG.warning("Could not settle delivery %s: %s", delivery.delivery_tag, exc)

    def heartbeat_check(self) -> None:
        """Send a heartbeat if one is due, unless someone else is using the connection."""
        if not self.lock.acquire(blocking=False):
            return
        try:
            if self._conn is not None:
                self._conn.heartbeat_tick(rate=self.options.heartbeat_rate)
                # Read what the broker sent (its heartbeats) without waiting.
                with contextlib.suppress(TimeoutError):
                    self._conn.drain_events(timeout=0)
        except RECOVERABLE_ERRORS as exc:
            LOG.info("Heartbeat on %s failed (%s); reconnecting on next use",
                     self.describe(), exc)
            self.reset()
        finally:
            self.lock.release()


def decode_body_or_raw(message: amqp.Message) -> bytes:
    try:
        return decode_body(message)
    except Exception as exc:
        LOG.warning("Could not decompress a message: %s", exc)
        raw = message.body
        return raw.encode("utf-8", "replace") if isinstance(raw, str) else bytes(raw)

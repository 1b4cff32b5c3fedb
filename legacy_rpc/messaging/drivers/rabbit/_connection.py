"""One AMQP 0-9-1 connection with one channel, which repairs itself.

``BrokerConnection`` is the one owner of its connection's and channel's life:

- it owns the table of the queues it declared and the consumers it runs, and restores all of
  them after every reconnect, so a consumer never silently stops after a broker restart;
  a consumer the broker cancels is re-subscribed on the same channel (never a second one);
- queues are declared when a consumer is added, but consumed only once it is activated, so
  messages sent before a server starts wait in the queue instead of in this process;
- every error passes through :func:`_errors.classify` inside :meth:`ensure`, the driver's one
  error boundary: recoverable errors are retried within the caller's ``retry`` and deadline,
  everything else becomes ``BrokerRefused``; a closed connection stays closed;
- no wait on the socket is unbounded: confirms and deliveries are awaited in slices between
  which heartbeats are checked, so a half-open connection is given up within about one
  heartbeat timeout on every connection, busy or idle.

A connection is not thread-safe by itself: the pool hands it to one sender at a time, and
listeners use theirs from their own thread. ``lock`` is held only by the thread using it;
the heartbeat thread merely tries it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import select
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import amqp
import amqp.exceptions

from legacy_rpc.messaging import _metrics
from legacy_rpc.messaging._transport_url import TransportHost
from legacy_rpc.messaging.drivers.rabbit import _compression
from legacy_rpc.messaging.drivers.rabbit._errors import (
    BrokerRefused,
    ErrorKind,
    classify,
    describe,
    reply_code,
)
from legacy_rpc.messaging.drivers.rabbit._opts import RabbitOptions
from legacy_rpc.messaging.drivers.rabbit._topology import Exchange, Queue
from legacy_rpc.messaging.exceptions import MessageDeliveryFailure, MessageUndeliverable
from legacy_rpc.messaging.wire import MalformedMessage

LOG = logging.getLogger(__name__)

__all__ = ["BrokerConnection", "ConnectionClosed", "DeadlineExceeded", "Delivery"]

JSON_PROPERTIES = {"content_type": "application/json", "content_encoding": "utf-8",
                   "delivery_mode": 2, "priority": 0}

CONFIRM_TIMEOUT_WITHOUT_HEARTBEAT = 30.0
"""With heartbeats off, the longest wait for a publisher confirm before the connection is
considered lost (and the message published again)."""

FAST_RECONNECT_PERIOD = 60.0
"""Consumers retry at most every ``rabbit_retry_interval`` (at most 1 s) during the first
minute of an outage, so servers are back as soon as the broker is, not after a long backoff;
after that the usual growing backoff applies."""

WAIT_SLICE = 1.0
"""The longest single wait on the socket, between heartbeat checks."""


class DeadlineExceeded(Exception):
    """The caller's deadline passed while the connection was being used or repaired."""


class ConnectionClosed(MessageDeliveryFailure):
    """The connection was closed by its owner; it is never reopened."""


class PublishOutcomeUnknown(MessageDeliveryFailure):
    """The connection was lost after a message went out and before its confirm: the broker
    may or may not have it. Publishing it again could deliver it twice."""


@dataclass
class Delivery:
    """A received message as it came off the wire, and where to acknowledge it.

    Nothing is decoded in the reading thread: decompression and parsing happen where the
    delivery is handled, under the delivery pipeline's policy.
    """

    body: bytes
    headers: dict[str, Any]
    delivery_tag: int
    generation: int
    redelivered: bool
    queue: str
    received_at: float
    ttl: float | None
    unreadable: str | None = None

    def decoded_body(self, max_size: int) -> bytes:
        """The body decompressed per its ``compression`` header, at most ``max_size``."""
        if self.unreadable is not None:
            raise MalformedMessage(f"the body could not be read: {self.unreadable}")
        compression = self.headers.get("compression")
        if not compression:
            return self.body
        return _compression.decompress(self.body, str(compression), max_size)


@dataclass
class _Consumer:
    queue: Queue
    callback: Callable[[Delivery], None]
    no_ack: bool
    active: bool
    tag: str = ""
    cancelled: bool = False


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


def _message_ttl(message: amqp.Message) -> float | None:
    expiration = message.properties.get("expiration")
    try:
        return max(0.0, float(expiration) / 1000) if expiration is not None else None
    except (TypeError, ValueError):
        return None


class BrokerConnection:
    """A self-repairing connection and channel to one broker of a list."""

    def __init__(self, plan: ConnectionPlan, consumer: bool = False) -> None:
        self.plan = plan
        self.options = plan.options
        self.consumer = consumer
        self.lock = threading.RLock()
        self.generation = 0
        self.last_used = time.monotonic()
        self._conn: amqp.Connection | None = None
        self._channel: Any = None
        self._declared: set[tuple[str, str]] = set()
        self._consumers: list[_Consumer] = []
        self._host: TransportHost | None = None
        self._closed = False
        self.closing = False  # set by an owner tearing down: cancels are then expected
        # Publisher confirms of the current channel.
        self._confirming = False
        self._prefetch_set = False
        self._publish_seq = 0
        self._confirm: bool | None = None
        self._returned: tuple[BaseException, str, str] | None = None
        # A deferred publish (see ``publish(on_failure=)``) whose confirm is still unread:
        # the function that reports its failure. At most one per connection.
        self._pending: Callable[[str], None] | None = None
        # Liveness: when bytes were last seen moving in each direction.
        self._recv_seen = -1
        self._alive_at = 0.0
        self._sent_seen = -1
        self._sent_at = 0.0
        self._outage_since: float | None = None

    # ------------------------------------------------------------------ state

    @property
    def connected(self) -> bool:
        with self.lock:
            return self._conn is not None and self._channel is not None

    def describe(self) -> str:
        host = self._host or (self.plan.hosts[0] if self.plan.hosts else None)
        return f"{host.hostname}:{host.port or 5672}" if host else "?"

    # ------------------------------------------------------------------ connecting

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

    def _open(self, deadline: float | None) -> None:
        """One connection attempt to the next host; restores channel, queues and consumers."""
        host = self.plan.next_host()
        self._host = host
        opts = self.options
        hostname = host.hostname or "localhost"
        address = f"[{hostname}]" if ":" in hostname else hostname
        connect_timeout = max(1.0, min(30.0, opts.heartbeat_timeout_threshold or 30))
        if deadline is not None:
            # The TCP connect and each of the handshake's three reads get this long.
            connect_timeout = max(0.05, min(connect_timeout,
                                            (deadline - time.monotonic()) / 4))
        write_timeout = float(opts.heartbeat_timeout_threshold or
                              CONFIRM_TIMEOUT_WITHOUT_HEARTBEAT)
        conn = amqp.Connection(
            host=f"{address}:{host.port or 5672}",
            userid=host.username if host.username is not None else "guest",
            password=host.password if host.password is not None else "guest",
            login_method=opts.rabbit_login_method,
            virtual_host=self.plan.virtual_host or "/",
            heartbeat=opts.heartbeat_timeout_threshold,
            connect_timeout=connect_timeout,
            write_timeout=write_timeout,
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
            now = time.monotonic()
            self._recv_seen, self._alive_at = conn.bytes_recv, now
            self._sent_seen, self._sent_at = conn.bytes_sent, now
            with conn.transport.having_timeout(self._io_limit(deadline)):
                self._open_channel()
        except BaseException:
            self._conn = None
            self._channel = None
            self._silently_close(conn)
            raise

    def _io_limit(self, deadline: float | None) -> float:
        """The longest a single read may block: py-amqp's synchronous methods (declare,
        bind, consume, channel open) wait for their reply without a limit of their own."""
        limit = float(self.options.heartbeat_timeout_threshold
                      or CONFIRM_TIMEOUT_WITHOUT_HEARTBEAT)
        if deadline is not None:
            limit = min(limit, deadline - time.monotonic())
        return max(0.01, limit)

    def _open_channel(self) -> None:
        assert self._conn is not None
        self._drop_channel()
        if self._conn is None:
            raise amqp.exceptions.RecoverableConnectionError("the connection was dropped")
        channel = self._conn.channel()
        channel.events["basic_return"].add(self._on_return)
        channel.events["basic_ack"].add(lambda tag, multiple: self._on_confirm(tag, multiple,
                                                                               True))
        channel.events["basic_nack"].add(lambda tag, multiple: self._on_confirm(tag, multiple,
                                                                                False))
        self._channel = channel
        self.generation += 1
        self._declared.clear()
        self._confirming = False
        self._prefetch_set = False
        self._publish_seq = 0
        for consumer in self._consumers:
            self._declare_queue(consumer.queue)
            consumer.cancelled = False
            if consumer.active:
                self._basic_consume(consumer)

    def _drop_channel(self) -> None:
        """Forget the current channel, closing it first if the broker has not."""
        self._pending = None  # its confirm went with the channel: the outcome is unknown
        channel, self._channel = self._channel, None
        if channel is None:
            return
        if getattr(channel, "is_open", False) and self._conn is not None:
            try:
                with self._conn.transport.having_timeout(WAIT_SLICE):
                    channel.close()
            except Exception as exc:  # could not close it cleanly: drop the connection
                LOG.debug("Could not close a channel on %s (%s); reconnecting",
                          self.describe(), describe(exc))
                self._reset_locked()
                return
        with contextlib.suppress(Exception):  # release py-amqp's references
            channel.collect()

    @staticmethod
    def _silently_close(conn: Any) -> None:
        with contextlib.suppress(Exception):  # the connection is being thrown away
            conn.collect()

    def _reset_locked(self) -> None:
        self._pending = None  # its confirm went with the connection: the outcome is unknown
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            self._silently_close(conn)

    def reset(self) -> None:
        """Drop the connection; the next use reconnects."""
        with self.lock:
            self._reset_locked()

    def close(self) -> None:
        """Close for good: no later use reopens the connection."""
        with self.lock:
            self._closed = True
            conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            try:
                with conn.transport.having_timeout(WAIT_SLICE):
                    conn.close()
            except Exception:
                self._silently_close(conn)

    def _delay(self, attempt: int) -> float:
        opts = self.options
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since = now
        if self.consumer and now - self._outage_since < FAST_RECONNECT_PERIOD:
            base = min(1.0, opts.rabbit_retry_interval)
        else:
            base = min(opts.rabbit_interval_max,
                       opts.rabbit_retry_interval + opts.rabbit_retry_backoff * attempt)
        return base * random.uniform(0.5, 1.0) + random.uniform(0, opts.kombu_reconnect_splay)

    def _repair(self, kind: ErrorKind, exc: BaseException, what: str) -> None:
        """Undo what the error left broken (under the lock)."""
        if kind is ErrorKind.CHANNEL or (kind is ErrorKind.FATAL and self._conn is not None
                                         and isinstance(exc, amqp.exceptions.ChannelError)):
            LOG.warning("AMQP channel error during %s on %s: %s", what, self.describe(),
                        describe(exc))
            self._drop_channel()
        elif kind is not ErrorKind.NACKED:
            self._reset_locked()

    def ensure(self, action: Callable[[Any], Any], *, retry: int | None = None,
               deadline: float | None = None,
               stop: Callable[[], bool] | None = None, what: str = "operation") -> Any:
        """Run ``action(channel)``, repairing the connection and retrying on failure.

        ``retry``: None or -1 forever, 0 once, N at most N retries; when they are used up
        the error is ``MessageDeliveryFailure``. A refusal retrying cannot fix is
        ``BrokerRefused`` at once. ``deadline`` (monotonic) raises
        :class:`DeadlineExceeded`; ``stop()`` returning True ends the attempts quietly.
        """
        attempt = 0
        while True:
            with self.lock:
                if self._closed:
                    raise ConnectionClosed(f"{what} on a closed connection")
                try:
                    if self._conn is None:
                        self._open(deadline)
                        if attempt:
                            LOG.info("Reconnected to AMQP server on %s", self.describe())
                            _metrics.reconnected("rabbitmq")
                    assert self._conn is not None
                    with self._conn.transport.having_timeout(self._io_limit(deadline)):
                        if self._channel is None:
                            self._open_channel()
                        self.last_used = time.monotonic()
                        result = action(self._channel)
                    self._outage_since = None
                    return result
                except (MessageUndeliverable, DeadlineExceeded):
                    raise
                except Exception as exc:
                    kind = classify(exc)
                    if kind is None:
                        raise
                    self._repair(kind, exc, what)
                    error = exc
            if self._closed:
                raise ConnectionClosed(f"{what} on a closed connection") from error
            if kind is ErrorKind.FATAL:
                raise BrokerRefused(f"The broker on {self.describe()} refused {what}: "
                                    f"{describe(error)}", reply_code(error)
                                    ) from error
            if not (retry is None or retry < 0 or attempt < retry):
                raise MessageDeliveryFailure(
                    f"{what} failed on {self.describe()} after {attempt + 1} tries: "
                    f"{describe(error)}") from error
            delay = 0.0 if kind is not ErrorKind.CONNECTION and attempt == 0 \
                else self._delay(attempt)
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise DeadlineExceeded(f"{what}: {describe(error)}") from error
            if kind is ErrorKind.CONNECTION:
                LOG.warning("AMQP server on %s is unreachable: %s. Trying again in %.1f "
                            "seconds.", self.describe(), describe(error), delay)
            attempt += 1
            if not self._pause(delay, stop):
                return None

    def _pause(self, delay: float, stop: Callable[[], bool] | None) -> bool:
        """Sleep ``delay`` (retry pacing), waking early if ``stop()``; False if stopped."""
        end = time.monotonic() + delay
        while True:
            if stop is not None and stop():
                return False
            remaining = end - time.monotonic()
            if remaining <= 0 or self._closed:
                return True
            time.sleep(min(0.1, remaining))

    # ------------------------------------------------------------------ liveness

    def _socket_readable(self) -> bool:
        """Whether bytes wait unread in the socket (the broker is talking), without
        reading them."""
        assert self._conn is not None
        sock = getattr(self._conn.transport, "sock", None)
        if sock is None:
            return False
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True  # let the next read find out what is wrong
        return bool(readable)

    def _check_heartbeats(self, *, peek: bool) -> None:
        """Send a heartbeat when due; raise ``ConnectionForced`` when the broker has been
        silent for longer than the heartbeat timeout (it sends one every half of it)."""
        conn = self._conn
        if conn is None or not conn.heartbeat:
            return
        now = time.monotonic()
        recv = conn.bytes_recv
        if recv != self._recv_seen or (peek and self._socket_readable()):
            self._recv_seen, self._alive_at = recv, now
        elif now - self._alive_at > conn.heartbeat:
            raise amqp.exceptions.ConnectionForced(
                f"no data from the broker for {now - self._alive_at:.1f}s "
                f"(heartbeat timeout {conn.heartbeat}s)")
        sent = conn.bytes_sent
        if sent != self._sent_seen:
            self._sent_seen, self._sent_at = sent, now
        elif now - self._sent_at >= conn.heartbeat / max(1, self.options.heartbeat_rate) / 2:
            conn.send_heartbeat()
            self._sent_seen, self._sent_at = conn.bytes_sent, now

    def heartbeat_check(self, read: bool) -> None:
        """Called by the heartbeat thread, unless the owner is using the connection.

        ``read``: whether frames may be read here (connections with no consumer of their
        own, or the reply consumer). Listener connections are never read by this thread:
        it never dispatches or acknowledges; it only peeks whether bytes arrived.
        """
        if not self.lock.acquire(blocking=False):
            return
        try:
            if self._conn is None:
                return
            if read:
                with contextlib.suppress(TimeoutError):
                    self._conn.drain_events(timeout=0)
                self._report_pending(wait=False, deadline=None)
            self._check_heartbeats(peek=not read)
        except Exception as exc:
            if classify(exc) is None:
                raise
            LOG.warning("Connection to %s lost (%s); reconnecting on next use",
                        self.describe(), describe(exc))
            self._reset_locked()
        finally:
            self.lock.release()

    def _wait_socket(self, timeout: float) -> None:
        """Read and dispatch frames for up to ``timeout`` seconds, then check heartbeats."""
        assert self._conn is not None
        with contextlib.suppress(TimeoutError):
            self._conn.drain_events(timeout=timeout)
        self._check_heartbeats(peek=False)

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
            self.ensure(lambda ch: ch.queue_delete(name), retry=0,
                        deadline=time.monotonic() + 5, what=f"deleting {name}")
        except Exception as exc:
            LOG.debug("Could not delete queue %s: %s", name, exc)

    # ------------------------------------------------------------------ publishing

    def _on_return(self, exc: BaseException, exchange: str, routing_key: str,
                   message: Any) -> None:
        self._returned = (exc, exchange, routing_key)

    def _on_confirm(self, delivery_tag: int, multiple: bool, acked: bool) -> None:
        """A basic.ack (``acked``) or basic.nack; only the last publish's matters."""
        if delivery_tag == self._publish_seq or (multiple and delivery_tag >= self._publish_seq):
            self._confirm = acked

    def _wait_confirm(self, deadline: float | None) -> None:
        """Wait for the broker's confirm of the last publish, in bounded slices."""
        assert self._conn is not None
        started = time.monotonic()
        limit = None if self._conn.heartbeat else started + CONFIRM_TIMEOUT_WITHOUT_HEARTBEAT
        while self._confirm is None:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise DeadlineExceeded("no publisher confirm before the deadline")
            if limit is not None and now >= limit:
                raise amqp.exceptions.RecoverableConnectionError(
                    f"no publisher confirm in {CONFIRM_TIMEOUT_WITHOUT_HEARTBEAT}s")
            due = [d for d in (deadline, limit) if d is not None]
            wait = min(WAIT_SLICE, *(d - now for d in due)) if due else WAIT_SLICE
            self._wait_socket(max(0.0, wait))
        _metrics.confirm_waited(time.monotonic() - started, "rabbitmq")
        if not self._confirm:
            raise amqp.exceptions.MessageNacked()

    def _report_pending(self, wait: bool, deadline: float | None) -> None:
        """Settle the deferred publish once its confirm is read (waiting for it if
        ``wait``): a return or a nack is reported to its sender, an ack needs nothing."""
        report = self._pending
        if report is None or (not wait and self._confirm is None):
            return
        try:
            self._wait_confirm(deadline)
        except amqp.exceptions.MessageNacked:
            self._pending, self._returned = None, None
            report("nacked")
            return
        self._pending = None
        returned, self._returned = self._returned, None
        if returned is not None:
            report("returned")

    def settle(self, deadline: float | None) -> None:
        """Read the confirm of this connection's deferred publish, if any (see
        :meth:`publish`); errors are repaired as by :meth:`ensure`, leaving the outcome
        unknown."""
        with self.lock:
            if self._pending is None or self._conn is None:
                return
            try:
                with self._conn.transport.having_timeout(self._io_limit(deadline)):
                    self._report_pending(wait=True, deadline=deadline)
            except DeadlineExceeded:
                return  # still pending: the next user of the connection settles it
            except Exception as exc:
                kind = classify(exc)
                if kind is None:
                    raise
                self._repair(kind, exc, "waiting for a publisher confirm")

    @property
    def unsettled(self) -> bool:
        """Whether a deferred publish still waits for its confirm to be read."""
        return self._pending is not None

    def publish(self, exchange: Exchange | None, routing_key: str, body: bytes, *,
                mandatory: bool = False, expiration: float | None = None,
                declare: Queue | None = None, retry: int | None = None,
                deadline: float | None = None, resend_unconfirmed: bool = True,
                on_failure: Callable[[str], None] | None = None) -> None:
        """Publish and wait for the broker's confirm.

        ``exchange`` is declared first (None: the default exchange); ``declare`` is a queue
        to declare and bind first (store-and-forward for notifications). A mandatory
        message the broker could not route raises ``MessageUndeliverable``.

        With ``on_failure`` the confirm is not waited for (a call's reply proves delivery,
        so its confirm need not delay it): the publish stays pending on this connection
        until its confirm is read - by the next publish on it, the heartbeat thread, or
        :meth:`settle` - and ``on_failure("returned"|"nacked")`` is then called, in that
        thread, if it was not routed or refused. A lost connection leaves the outcome
        unknown and calls nothing.
        """
        properties: dict[str, Any] = dict(JSON_PROPERTIES)
        headers: dict[str, Any] = {}
        compression = self.options.kombu_compression
        if compression:
            body, headers["compression"] = _compression.compress(body, compression)
        properties["application_headers"] = headers
        if expiration is not None:
            properties["expiration"] = str(max(1, int(expiration * 1000)))
        message = amqp.Message(body, **properties)
        name = exchange.name if exchange is not None else ""

        sent = False

        def action(channel: Any) -> None:
            nonlocal sent
            if sent and not resend_unconfirmed:
                raise PublishOutcomeUnknown(
                    f"The connection to {self.describe()} was lost before the broker "
                    f"confirmed a message to {name or '(default)'}/{routing_key}; it is not "
                    "sent again, so that it cannot be delivered twice")
            if declare is not None:
                self._declare_queue(declare)
            if exchange is not None:
                self._declare_exchange(exchange)
            if not self._confirming:
                channel.confirm_select()
                self._confirming = True
            self._report_pending(wait=True, deadline=deadline)  # one unconfirmed at a time
            self._returned = None
            self._confirm = None
            channel.basic_publish(message, exchange=name, routing_key=routing_key,
                                  mandatory=mandatory)
            self._publish_seq += 1  # only once it is sent: the broker numbers what it got
            sent = True
            if on_failure is not None:
                self._pending = on_failure
                return
            try:
                self._wait_confirm(deadline)
            except amqp.exceptions.MessageNacked:
                sent = False  # refused, so not queued: sending it again is safe
                raise
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
            # Never raises: whatever arrives is buffered, so the pipeline settles it.
            raw = message.body
            unreadable = None
            try:
                body = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) \
                    else bytes(raw)
                headers = dict(getattr(message, "headers", None) or {})
            except Exception as exc:  # py-amqp decoded it per a hostile content_encoding
                body, headers, unreadable = b"", {}, repr(exc)[:200]
            consumer.callback(Delivery(
                body, headers, message.delivery_tag, generation,
                bool(message.delivery_info.get("redelivered")), queue_name,
                time.monotonic(), _message_ttl(message), unreadable))

        prefetch = self.options.rabbit_qos_prefetch_count
        if prefetch > 0 and not self._prefetch_set:  # once per channel, before consuming
            self._channel.basic_qos(0, prefetch, False)
            self._prefetch_set = True
        arguments = {"x-cancel-on-ha-failover": True} \
            if self.options.enable_cancel_on_failover else None
        consumer.tag = self._channel.basic_consume(
            queue_name, no_ack=consumer.no_ack, callback=on_message,
            on_cancel=self._on_cancel, arguments=arguments)

    def _on_cancel(self, consumer_tag: str) -> None:
        if self.closing:
            return
        for consumer in self._consumers:
            if consumer.tag == consumer_tag:
                LOG.warning("The broker cancelled the consumer of %s on %s (queue deleted or "
                            "failed over); subscribing again", consumer.queue.name,
                            self.describe())
                consumer.cancelled = True

    def _resubscribe_cancelled(self) -> None:
        """Re-declare and consume again, on the same channel, what the broker cancelled."""
        for consumer in self._consumers:
            if consumer.cancelled:
                self._declared.discard(("q", consumer.queue.name))
                self._declare_queue(consumer.queue)
                consumer.cancelled = False
                if consumer.active:
                    self._basic_consume(consumer)

    def add_consumer(self, queue: Queue, callback: Callable[[Delivery], None],
                     no_ack: bool = False, deadline: float | None = None,
                     active: bool = True, retry: int | None = None) -> None:
        """Declare ``queue`` now; consume it now if ``active``, else at :meth:`activate`.

        The declaration and the subscription are restored after every reconnect.
        """
        consumer = _Consumer(queue, callback, no_ack, active)

        def action(_channel: Any) -> None:
            self._consumers.append(consumer)
            try:
                self._declare_queue(queue)
                if active:
                    self._basic_consume(consumer)
            except BaseException:
                self._consumers.remove(consumer)
                raise

        self.ensure(action, deadline=deadline, retry=retry, what=f"declaring {queue.name}")

    def activate(self, deadline: float | None = None) -> None:
        """Start consuming every declared but inactive consumer."""

        def action(_channel: Any) -> None:
            for consumer in [c for c in self._consumers if not c.active]:
                self._declare_queue(consumer.queue)
                self._basic_consume(consumer)
                consumer.active = True

        self.ensure(action, deadline=deadline, what="starting to consume")

    def cancel_consumers(self) -> None:
        """Stop every consumer of this connection (not restored after reconnects)."""
        with self.lock:
            consumers, self._consumers = self._consumers, []
            if self._channel is None or self._conn is None:
                return
            try:
                with self._conn.transport.having_timeout(WAIT_SLICE * 5):
                    for consumer in consumers:
                        if consumer.active and consumer.tag:
                            self._channel.basic_cancel(consumer.tag)
            except Exception as exc:
                if classify(exc) is None:
                    raise
                LOG.debug("Could not cancel consumers on %s: %s", self.describe(),
                          describe(exc))
                self._reset_locked()

    def drain(self, timeout: float, stop: Callable[[], bool],
              deadline: float | None = None) -> None:
        """Wait up to ``timeout`` for deliveries and hand them to their callbacks.

        Repairs the connection (and the subscriptions) on errors, unless ``stop()``.
        """

        def action(_channel: Any) -> None:
            self._resubscribe_cancelled()
            self._wait_socket(timeout)

        self.ensure(action, stop=stop, deadline=deadline, what="consuming")

    def ack(self, delivery: Delivery) -> bool:
        """Acknowledge ``delivery``; False if the ack certainly did not reach the broker
        (the delivery's channel is gone, or writing the ack failed): the broker then puts
        the message back, if its queue still exists. True does not prove that the broker
        applied it (an ack has no reply)."""
        return self._settle(delivery, lambda ch: ch.basic_ack(delivery.delivery_tag))

    def reject(self, delivery: Delivery, requeue: bool) -> None:
        self._settle(delivery, lambda ch: ch.basic_reject(delivery.delivery_tag, requeue))

    def _settle(self, delivery: Delivery, action: Callable[[Any], None]) -> bool:
        """Ack or reject on the channel the message came from; after a reconnect the
        broker has already put it back, so there is nothing to do (returns False)."""
        with self.lock:
            if delivery.generation != self.generation or self._channel is None:
                LOG.debug("Not settling delivery %s from an older channel",
                          delivery.delivery_tag)
                return False
            try:
                action(self._channel)
                return True
            except Exception as exc:
                kind = classify(exc)
                if kind is None:
                    raise
                LOG.warning("Could not settle delivery %s: %s", delivery.delivery_tag,
                            describe(exc))
                self._repair(kind, exc, "settling a delivery")
                return False

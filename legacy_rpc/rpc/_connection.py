"""The legacy ``Connection``: consumers built on the core's listeners and servers.

Each consumer is a core server on exactly the queues the legacy API declared:

============================  ===========================================================
``create_consumer(t, p)``     queue ``t`` bound to ``t`` in the control exchange (shared)
``create_consumer(t, p, True)``  a fresh queue on the ``t_fanout`` exchange (a copy each)
``create_worker(t, p, pool)``    queue ``pool`` bound to ``t`` (a copy per pool)
``join_consumer_pool(cb, pool, t, x)``  queue ``pool`` bound to ``t`` in exchange ``x``
============================  ===========================================================

The queues are declared by ``create_*`` itself, so messages sent before
``consume_in_thread()`` wait for it. RPC requests are acknowledged before they are
dispatched (at most once); a ``join_consumer_pool`` message is acknowledged after the
callback returned, and requeued when it raised and ``ack_on_error`` is False. Messages are
dispatched concurrently by a pool of ``rpc_thread_pool_size`` threads per consumer.

The kombu connection's driver-level methods that Grizzly-era code called directly are
here too, for every backend, on the same core subscriptions (no second messaging path):

============================================  ============================================
``declare_topic_consumer(t, cb, q, x, ack)``  ``join_consumer_pool(cb, q or t, t, x, ack)``
``declare_fanout_consumer(t, cb)``            a fresh queue on the ``t_fanout`` exchange
``declare_direct_consumer(id, cb)``           queue ``id`` bound to ``id`` in exchange
                                              ``id`` (a topic exchange: see the note)
``topic_send(t, msg)``                        a cast of the raw dict to ``t``
``fanout_send(t, msg)``                       a cast of the raw dict to ``t_fanout``
``direct_send(id, msg)``                      a cast of the raw dict to ``id`` in ``id``
``notify_send(t, msg)``                       a notification (declares queue ``t``)
``consume(limit, timeout)``, ``iterconsume``  the caller's thread takes and handles the
                                              messages, one at a time
============================================  ============================================

A raw dict is received as it was sent (un-enveloped), plus ``_unique_id``; an enveloped
dict (``common.serialize_msg``) is unwrapped before sending, so it is not wrapped twice.
Note: the direct exchange of the original is a topic exchange here (the core's
subscriptions have no direct kind); with exact routing keys it routes the same, between
peers of this library.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from legacy_rpc.messaging import exceptions as core_exceptions
from legacy_rpc.messaging import server as msg_server
from legacy_rpc.messaging import wire
from legacy_rpc.messaging.drivers.base import (
    IncomingMessage,
    Listener,
    PollStyleListener,
    PollStyleListenerAdapter,
    Subscription,
)
from legacy_rpc.messaging.rpc.server import RPCServer
from legacy_rpc.messaging.target import Target
from legacy_rpc.messaging.transport import Transport
from legacy_rpc.rpc import _dispatch, _transport_url, _transports, common

__all__ = ["Connection", "BackendConnection", "ConsumerThread"]

LOG = logging.getLogger(__name__)


class _EagerListenerMixin:
    """Declares the queues at construction; ``start()`` then consumes from them."""

    transport: Transport

    def _init_listener(self, subscriptions: list[Subscription], kind: str) -> None:
        self._subscriptions = subscriptions
        self._kind = kind
        self._pending: Listener | None = transport_listen(self.transport, subscriptions, kind)

    def _create_listener(self) -> Listener:
        listener, self._pending = self._pending, None
        return listener or transport_listen(self.transport, self._subscriptions, self._kind)

    def discard(self) -> None:
        """Release the queues of a consumer that was never started."""
        listener, self._pending = self._pending, None
        if listener is not None:
            listener.cleanup()

    def poller(self) -> PollStyleListener:
        """The listener of a consumer not started as a server, for ``consume()``.

        It stays the consumer's listener: ``consume_in_thread()`` later takes it over.
        """
        listener = self._pending
        if not isinstance(listener, PollStyleListenerAdapter):
            raise NotImplementedError(
                f"consume() needs a listener that can be polled; {type(listener).__name__} "
                f"cannot be: use consume_in_thread()")
        return listener.poll_style_listener


def transport_listen(transport: Transport, subscriptions: list[Subscription],
                     kind: str) -> Listener:
    """The core listener of a legacy consumer.

    On RabbitMQ, ``rabbit_max_retries = N`` bounds the connection attempts of declaring its
    queues, as the original did: then an ``RPCException`` (which is also the core's
    ``MessageDeliveryFailure``).

    :raises common.RPCException: the broker could not be reached in N tries.
    """
    from legacy_rpc.rpc import _backend, _client  # _backend imports this module

    url = getattr(transport._driver, "_url", None)
    retry = _backend.send_retry(transport.conf, url) if url is not None else None
    try:
        return transport._listen_subscriptions(subscriptions, kind, retry=retry)
    except core_exceptions.MessageDeliveryFailure as exc:
        if retry is None:
            raise
        raise _client.send_failure(exc) from exc


class _RpcConsumer(_EagerListenerMixin, RPCServer):
    """Dispatches requests from exactly ``subscriptions`` to a legacy proxy."""

    def __init__(self, transport: Transport, subscriptions: list[Subscription],
                 proxy: Any) -> None:
        # The core server only calls dispatcher.dispatch(incoming), which this adapter has.
        dispatcher: Any = _dispatch.LegacyDispatcher(transport.conf, proxy)
        super().__init__(transport, Target(topic=subscriptions[0].routing_key), dispatcher)
        self._init_listener(subscriptions, "rpc")


class _CallbackConsumer(_EagerListenerMixin, msg_server.MessageHandlingServer):
    """Hands each raw message dict to ``callback``; acks after it, or requeues."""

    def __init__(self, transport: Transport, subscriptions: list[Subscription],
                 callback: Callable[[dict[str, Any]], Any], ack_on_error: bool) -> None:
        if not ack_on_error:
            transport._require_driver_features(requeue=True)
        super().__init__(transport, callback)
        self._ack_on_error = ack_on_error
        self._init_listener(subscriptions, "raw")

    def _process_incoming(self, incoming: list[IncomingMessage]) -> None:
        for message in incoming:
            try:
                self.dispatcher(message.message)
            except Exception:
                if self._ack_on_error:
                    LOG.exception("Failed to process message ... skipping it.")
                    message.acknowledge()
                else:
                    LOG.exception("Failed to process message ... will requeue.")
                    message.requeue()
            else:
                message.acknowledge()


_Consumer = _RpcConsumer | _CallbackConsumer


class ConsumerThread(threading.Thread):
    """The thread that owns a connection's consumers: it runs until the connection is
    closed, then stops them and waits for the messages they are still handling.

    ``wait()`` and ``kill()`` are there for code written for eventlet's green threads.
    """

    def __init__(self, connection: Connection) -> None:
        super().__init__(name="legacy-rpc-consumer", daemon=True)
        self._connection = connection
        self._closing = threading.Event()
        self._to_stop: list[_Consumer] = []

    def run(self) -> None:
        self._closing.wait()
        for consumer in self._to_stop:
            consumer.stop()
        for consumer in self._to_stop:
            consumer.wait()

    def close(self, consumers: list[_Consumer] | None = None) -> None:
        """End the thread, stopping ``consumers`` (and waiting for their messages)."""
        self._to_stop = list(consumers or [])
        self._closing.set()

    def wait(self) -> None:
        self.join()

    def kill(self) -> None:
        self._connection.close()


POLL_SLICE = 0.05
"""How long ``consume()`` polls one consumer before the next, when it has several."""
_IDLE_SLICE = 1.0
"""Longest single poll of ``consume()`` (so a connection closed meanwhile is noticed)."""


def _raw_message(msg: Any, what: str) -> tuple[dict[str, Any], bool]:
    """The message dict to send and whether it came in the 2.0 envelope.

    :raises TypeError: ``msg`` is not a JSON object (the legacy messages are dicts).
    """
    enveloped = isinstance(msg, dict) and wire.VERSION_KEY in msg and wire.MESSAGE_KEY in msg
    inner = wire.deserialize_msg(msg) if enveloped else msg
    if not isinstance(inner, dict):
        raise TypeError(f"{what}() sends a message dict (a JSON object), got "
                        f"{type(inner).__name__}")
    return inner, enveloped


class Connection(common.Connection):
    """A legacy connection on a core transport (shared by the process; never closed here)."""

    def __init__(self, conf: Any, transport: Transport) -> None:
        self.conf = conf
        self.transport = transport
        self._lock = threading.Lock()
        self._consumers: list[_Consumer] = []
        self._started: list[_Consumer] = []
        self._polled: dict[_Consumer, PollStyleListener] = {}  # consumed by consume()
        self._consuming = threading.RLock()  # held by consume() while it takes a message
        self._rotation = itertools.count()
        self._thread: ConsumerThread | None = None
        self._closed = False

    # ------------------------------------------------------------------ consumers

    def _add(self, make: Callable[[], _Consumer]) -> _Consumer:
        with self._lock:
            if self._closed:
                raise common.InvalidRPCConnectionReuse()
            consumer = make()
            self._consumers.append(consumer)
            running = self._thread is not None
        if running:
            self._start(consumer)
        return consumer

    def create_consumer(self, topic: str, proxy: Any, fanout: bool = False) -> Any:
        subscription = Subscription(topic, fanout=True) if fanout else Subscription(topic)
        return self._add(lambda: _RpcConsumer(self.transport, [subscription], proxy))

    def create_worker(self, topic: str, proxy: Any, pool_name: str) -> Any:
        subscription = Subscription(topic, queue=pool_name)
        return self._add(lambda: _RpcConsumer(self.transport, [subscription], proxy))

    def join_consumer_pool(self, callback: Callable[[dict[str, Any]], Any], pool_name: str,
                           topic: str, exchange_name: str | None = None,
                           ack_on_error: bool = True) -> Any:
        return self.declare_topic_consumer(topic, callback, pool_name, exchange_name,
                                           ack_on_error)

    def _callback_consumer(self, subscription: Subscription,
                           callback: Callable[[Any], Any] | None,
                           ack_on_error: bool = True) -> Any:
        if not callable(callback):
            raise ValueError(f"a consumer needs a callback; got {callback!r}")
        return self._add(lambda: _CallbackConsumer(self.transport, [subscription], callback,
                                                   ack_on_error))

    def declare_topic_consumer(self, topic: str, callback: Callable[[Any], Any] | None = None,
                               queue_name: str | None = None,
                               exchange_name: str | None = None,
                               ack_on_error: bool = True) -> Any:
        """``callback(message_dict)`` for the messages of ``topic`` in ``exchange_name``
        (default: the control exchange), from queue ``queue_name`` (default: ``topic``).

        Acknowledged after the callback; when it raises, requeued if ``ack_on_error`` is
        False. Returns the consumer.
        """
        return self._callback_consumer(
            Subscription(topic, exchange=exchange_name, queue=queue_name), callback,
            ack_on_error)

    def declare_fanout_consumer(self, topic: str,
                                callback: Callable[[Any], Any] | None) -> Any:
        """``callback(message_dict)`` for every ``fanout_send``/``fanout_cast`` to
        ``topic``, on a queue of its own (deleted when the connection closes)."""
        return self._callback_consumer(Subscription(topic, fanout=True), callback)

    def declare_direct_consumer(self, topic: str,
                                callback: Callable[[Any], Any] | None) -> Any:
        """``callback(message_dict)`` for every ``direct_send`` to ``topic`` (a message
        id): queue ``topic`` bound to exchange ``topic``."""
        return self._callback_consumer(Subscription(topic, exchange=topic, queue=topic),
                                       callback)

    # ------------------------------------------------------------------ sending

    def _is_closed(self) -> bool:
        with self._lock:
            return self._closed

    def _cast(self, target: Target, msg: Any, what: str) -> None:
        if self._is_closed():
            raise common.InvalidRPCConnectionReuse()
        message, _enveloped = _raw_message(msg, what)
        self.transport._send(target, {}, message)

    def topic_send(self, topic: str, msg: Any, timeout: float | None = None) -> None:
        """Send a message dict to the consumers of ``topic`` in the control exchange.

        ``timeout`` is accepted and ignored, as RabbitMQ ignored the ``ttl`` header the
        original made of it.
        """
        self._cast(Target(topic=topic), msg, "topic_send")

    def fanout_send(self, topic: str, msg: Any) -> None:
        """Send a message dict to every fanout consumer of ``topic``."""
        self._cast(Target(topic=topic, fanout=True), msg, "fanout_send")

    def direct_send(self, msg_id: str, msg: Any) -> None:
        """Send a message dict to the direct consumer of ``msg_id``."""
        self._cast(Target(exchange=msg_id, topic=msg_id), msg, "direct_send")

    def notify_send(self, topic: str, msg: Any, **kwargs: Any) -> None:
        """Publish a notification dict on ``topic`` (e.g. ``notifications.info``), in the
        2.0 envelope only if ``msg`` came in it. The queue ``topic`` is declared, so the
        notification waits for a consumer.

        :raises TypeError: a keyword other than ``durable`` (accepted for the original's
            publisher; the configured ``amqp_durable_queues`` decides).
        """
        unknown = sorted(set(kwargs) - {"durable"})
        if unknown:
            raise TypeError(f"notify_send() got an unexpected keyword argument {unknown[0]!r}")
        if self._is_closed():
            raise common.InvalidRPCConnectionReuse()
        message, enveloped = _raw_message(msg, "notify_send")
        self.transport._send_notification(Target(topic=topic), {}, message,
                                          version=2.0 if enveloped else 1.0)

    # ------------------------------------------------------------------ retries

    @property
    def connection_errors(self) -> tuple[type[BaseException], ...]:
        """The errors :meth:`ensure` retries: the driver's recoverable ones and OS errors
        (timeouts included)."""
        driver = getattr(self.transport, "_driver", None)
        return (OSError, *getattr(driver, "recoverable_errors", ()))

    def ensure(self, error_callback: Callable[[BaseException], Any] | None,
               method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``method(*args, **kwargs)``, tried again after a connection error.

        A connection error (:attr:`connection_errors`, or any error whose text mentions a
        timeout) is given to ``error_callback`` and the method tried again after
        ``rabbit_retry_interval`` seconds (growing by ``rabbit_retry_backoff``, at most 30);
        other errors are raised. The driver reconnects by itself.

        :raises common.RPCException: still failing after ``rabbit_max_retries`` tries
            (when that is above 0).
        """
        max_retries = int(getattr(self.conf, "rabbit_max_retries", 0) or 0)
        pause = float(getattr(self.conf, "rabbit_retry_interval", 1))
        backoff = float(getattr(self.conf, "rabbit_retry_backoff", 2))
        for attempt in itertools.count(1):
            try:
                return method(*args, **kwargs)
            except Exception as exc:
                if not (isinstance(exc, self.connection_errors)
                        or "timeout" in str(exc).lower()):
                    raise
                if error_callback is not None:
                    error_callback(exc)
                if max_retries > 0 and attempt >= max_retries:
                    raise common.RPCException(
                        f"Still failing after {attempt} tries: {str(exc)[:300]}") from exc
                LOG.info("%s failed (%s); trying again in %.1fs", getattr(
                    method, "__name__", "method"), str(exc)[:300], pause)
                time.sleep(max(0.0, pause))  # retry pacing, not synchronisation
                pause = min(30.0, pause + backoff)

    # ------------------------------------------------------------------ consuming here

    def _poller(self, consumer: _Consumer) -> PollStyleListener:
        with self._lock:
            poller = self._polled.get(consumer)
            if poller is None:
                assert isinstance(consumer, _EagerListenerMixin)
                poller = self._polled[consumer] = consumer.poller()
        poller.start()  # begins consuming (idempotent)
        return poller

    def _take(self, deadline: float | None) -> tuple[_Consumer, IncomingMessage] | None:
        """The next message of any consumer; None when the deadline passed or the
        connection was closed."""
        while True:
            with self._lock:
                if self._closed:
                    return None
                if self._thread is not None:
                    raise RuntimeError("consume() cannot be used after consume_in_thread(): "
                                       "the consumer thread takes the messages")
                consumers = list(self._consumers)
            if not consumers:
                raise ValueError("consume() on a connection without consumers: declare "
                                 "one first (declare_topic_consumer, create_consumer, ...)")
            first = next(self._rotation) % len(consumers)
            slice_ = POLL_SLICE if len(consumers) > 1 else _IDLE_SLICE
            for consumer in consumers[first:] + consumers[:first]:
                wait = slice_
                if deadline is not None:
                    wait = min(wait, max(0.01, deadline - time.monotonic()))
                batch = self._poller(consumer).poll(timeout=wait, batch_size=1)
                if batch:
                    return consumer, batch[0]
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def _topics(self) -> str:
        with self._lock:
            consumers = list(self._consumers)
        return ", ".join(sorted({sub.routing_key for consumer in consumers
                                 for sub in consumer._subscriptions}))

    def iterconsume(self, limit: int | None = None,
                    timeout: float | None = None) -> Iterator[None]:
        """Take the messages of this connection's consumers in the calling thread, and
        handle each (the callback, or the RPC dispatch and reply) before yielding.

        Stops after ``limit`` messages, or when the connection is closed (from another
        thread). ``timeout`` bounds the wait for each message.

        :raises common.Timeout: no message came within ``timeout`` seconds.
        :raises RuntimeError: the connection runs ``consume_in_thread()``.
        :raises ValueError: the connection has no consumers.
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be None or >= 0, got {limit!r}")
        if self._is_closed():
            raise common.InvalidRPCConnectionReuse()
        for _ in itertools.count() if limit is None else range(limit):
            with self._consuming:
                deadline = time.monotonic() + timeout if timeout is not None else None
                taken = self._take(deadline)
                if taken is None:
                    if self._is_closed():
                        return
                    raise common.Timeout(f"No message within {timeout}s", self._topics(),
                                         "consume")
                consumer, message = taken
                consumer._safe_process([message])
            yield None

    def consume(self, limit: int | None = None, timeout: float | None = None) -> None:
        """:meth:`iterconsume` to the end: ``limit`` messages, or until closed."""
        for _ in self.iterconsume(limit=limit, timeout=timeout):
            pass

    # ------------------------------------------------------------------ running

    def _start(self, consumer: _Consumer) -> None:
        with self._lock:
            if self._closed:  # closed meanwhile: the consumer was discarded
                return
            self._started.append(consumer)
        try:
            consumer.start(override_pool_size=self.conf.rpc_thread_pool_size)
        except BaseException:
            with self._lock:  # never started: nothing to stop (stop() would wait for it)
                self._started.remove(consumer)
            consumer.discard()
            raise

    def consume_in_thread(self) -> ConsumerThread:
        """Start every consumer (now, and later ones as they are created).

        Returns the same :class:`ConsumerThread` on every call. Consumers that
        ``consume()`` used are taken over.
        """
        with self._consuming, self._lock:  # not while consume() takes a message
            if self._closed:
                raise common.InvalidRPCConnectionReuse()
            if self._thread is not None:
                return self._thread
            thread = self._thread = ConsumerThread(self)
            pending = list(self._consumers)
            self._polled.clear()
        thread.start()  # first: close() then stops whatever did start, even after an error
        for consumer in pending:
            self._start(consumer)
        return thread

    def _shutdown(self) -> None:
        """Stop and release every consumer (``_closed`` is set: no new ones meanwhile)."""
        with self._lock:
            thread = self._thread
            started = list(self._started)
            unstarted = [c for c in self._consumers if c not in self._started]
            polled = list(self._polled.values())
        for poller in polled:
            poller.stop()  # a consume() in another thread returns soon
        with self._consuming:
            for consumer in unstarted:
                consumer.discard()
        if thread is None:
            return
        thread.close(started)
        if not _dispatch.dispatching() and thread is not threading.current_thread():
            thread.join()

    def close(self) -> None:
        """Stop the consumers, wait for the messages in progress (unless called from one
        of them) and release their queues' consumers; messages taken but not handled go
        back to the broker. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._shutdown()

    def reset(self) -> None:
        """Stop and forget every consumer, as :meth:`close` does; the connection stays
        usable (new consumers, sends, ``consume_in_thread()``)."""
        with self._lock:
            if self._closed:
                raise common.InvalidRPCConnectionReuse()
            self._closed = True  # no consumer is added while the old ones stop
        try:
            self._shutdown()
        finally:
            with self._lock:
                self._consumers, self._started, self._polled = [], [], {}
                self._thread = None
                self._closed = False


class BackendConnection(Connection):
    """``impl_<backend>.Connection(conf, server_params=None)``: a connection made directly,
    as Grizzly-era code made ``impl_kombu.Connection(cfg.CONF)``.

    Without ``server_params`` it uses the backend's shared transport; with them (a dict
    of ``hostname``, ``port``, ``username``, ``password``, ``virtual_host``) a transport of
    its own to that broker, released by :meth:`close`.
    """

    backend: ClassVar[Any]
    """The :class:`~legacy_rpc.rpc._backend.Backend` of the module defining the subclass."""

    def __init__(self, conf: Any, server_params: Any = None) -> None:
        self._own_transport: Transport | None = None
        if server_params:
            url = _transport_url.transport_url(conf, self.backend.driver, server_params)
            self._own_transport = _transports.create(conf, url)
            transport = self._own_transport
        else:
            transport = self.backend.transport(conf)
        super().__init__(conf, transport)

    def close(self) -> None:
        super().close()
        own, self._own_transport = self._own_transport, None
        if own is not None:
            own.cleanup()

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
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from legacy_rpc.messaging import server as msg_server
from legacy_rpc.messaging.drivers.base import IncomingMessage, Listener, Subscription
from legacy_rpc.messaging.rpc.server import RPCServer
from legacy_rpc.messaging.target import Target
from legacy_rpc.messaging.transport import Transport
from legacy_rpc.rpc import _dispatch, common

__all__ = ["Connection", "ConsumerThread"]

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


def transport_listen(transport: Transport, subscriptions: list[Subscription],
                     kind: str) -> Listener:
    return transport._listen_subscriptions(subscriptions, kind)


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

    def run(self) -> None:
        self._closing.wait()
        self._connection._stop_consumers()

    def close(self) -> None:
        self._closing.set()

    def wait(self) -> None:
        self.join()

    def kill(self) -> None:
        self._connection.close()


class Connection(common.Connection):
    """A legacy connection on a core transport (shared by the process; never closed here)."""

    def __init__(self, conf: Any, transport: Transport) -> None:
        self.conf = conf
        self.transport = transport
        self._lock = threading.Lock()
        self._consumers: list[_Consumer] = []
        self._started: list[_Consumer] = []
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
        subscription = Subscription(topic, exchange=exchange_name, queue=pool_name)
        return self._add(lambda: _CallbackConsumer(self.transport, [subscription], callback,
                                                   ack_on_error))

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

        Returns the same :class:`ConsumerThread` on every call.
        """
        with self._lock:
            if self._closed:
                raise common.InvalidRPCConnectionReuse()
            if self._thread is not None:
                return self._thread
            thread = self._thread = ConsumerThread(self)
            pending = list(self._consumers)
        thread.start()  # first: close() then stops whatever did start, even after an error
        for consumer in pending:
            self._start(consumer)
        return thread

    def _stop_consumers(self) -> None:
        with self._lock:
            started = list(self._started)
        for consumer in started:
            consumer.stop()
        for consumer in started:
            consumer.wait()

    def close(self) -> None:
        """Stop the consumers, wait for the messages in progress (unless called from one
        of them) and release the queues of consumers never started. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            unstarted = [c for c in self._consumers if c not in self._started]
        for consumer in unstarted:
            consumer.discard()
        if thread is None:
            return
        thread.close()
        if not _dispatch.dispatching() and thread is not threading.current_thread():
            thread.join()

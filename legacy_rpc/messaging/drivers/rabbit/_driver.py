"""``RabbitDriver``: RabbitMQ over AMQP 0-9-1, wire-compatible with oslo.messaging 18.x.

URL: ``rabbit://user:pass@host1:5672,user:pass@host2:5672/vhost?<option>=<value>`` (also
``kombu://``); the query overrides ``[oslo_messaging_rabbit]`` options.

Connections per transport: a pool of send connections (requests, replies, notifications),
one per RPC server or notification listener, and one for the reply queue, created by the
first call. A ``Rabbit-heartbeat`` OS thread keeps idle pooled connections alive; listener
and reply connections are ticked by their own threads.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

from legacy_rpc.messaging import wire
from legacy_rpc.messaging._transport_url import TransportHost
from legacy_rpc.messaging.drivers import base, common
from legacy_rpc.messaging.drivers.rabbit._connection import (
    RECOVERABLE_ERRORS,
    BrokerConnection,
    ConnectionPlan,
    DeadlineExceeded,
)
from legacy_rpc.messaging.drivers.rabbit._listeners import (
    NotificationListener,
    RawListener,
    ReplyConsumer,
    RpcListener,
)
from legacy_rpc.messaging.drivers.rabbit._opts import load_options
from legacy_rpc.messaging.drivers.rabbit._pool import ConnectionPool, HeartbeatThread
from legacy_rpc.messaging.drivers.rabbit._topology import Exchange, Queue, Topology
from legacy_rpc.messaging.exceptions import (
    InvalidTarget,
    MessageDeliveryFailure,
    MessageUndeliverable,
    MessagingTimeout,
)
from legacy_rpc.messaging.target import Target

LOG = logging.getLogger(__name__)

__all__ = ["RabbitDriver"]

MISSING_QUEUE_RETRY_INTERVAL = 0.25
OBSOLETE_REPLY_QUEUES = 200


class RabbitDriver(base.BaseDriver):
    """The RabbitMQ driver (``rabbit://``, ``kombu://``)."""

    capabilities = base.Capabilities(requeue=True, fanout=True, streaming_replies=True,
                                     call_monitor=True, pools=True)
    recoverable_errors = RECOVERABLE_ERRORS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options = load_options(self.conf, dict(self._url.query))
        self.topology = Topology(self.options)
        hosts = list(self._url.hosts) or [TransportHost("localhost", 5672, "guest", "guest")]
        if len(hosts) > 1:
            random.shuffle(hosts)
        self._hosts = hosts
        self._vhost = self._url.virtual_host or "/"
        opts = self.options
        self._pool = ConnectionPool(lambda: self.new_connection("send"),
                                    opts.rpc_conn_pool_size, opts.conn_pool_min_size,
                                    opts.conn_pool_ttl)
        self._waiters = common.ReplyWaiters(reader=self._read_replies)
        self._reply: ReplyConsumer | None = None
        self._lock = threading.Lock()
        self._reply_lock = threading.Lock()
        self._listener_conns: set[BrokerConnection] = set()
        self._obsolete: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._heartbeat: HeartbeatThread | None = None
        if opts.heartbeat_timeout_threshold > 0:
            interval = max(0.1, opts.heartbeat_timeout_threshold / opts.heartbeat_rate / 2)
            self._heartbeat = HeartbeatThread(
                interval, [self._pool.idle_connections, self._reply_connections,
                           self._listener_connections],
                self._pool.expire_idle)
            self._heartbeat.start()

    # ----------------------------------------------------------------- connections

    def new_connection(self, role: str) -> BrokerConnection:
        return BrokerConnection(ConnectionPlan(self._hosts, self._vhost, self.options, role))

    def track_listener(self, conn: BrokerConnection) -> None:
        with self._lock:
            self._listener_conns.add(conn)

    def untrack_listener(self, conn: BrokerConnection) -> None:
        with self._lock:
            self._listener_conns.discard(conn)

    def _exchange_name(self, target: Target) -> str:
        return target.exchange or self._default_exchange or "openstack"

    def _read_replies(self, timeout: float, deadline: float | None) -> None:
        reply = self._reply
        if reply is not None:
            reply.read(timeout, deadline)

    def _listener_connections(self) -> list[BrokerConnection]:
        # Ticked only when no thread is polling them (every worker busy dispatching).
        with self._lock:
            return list(self._listener_conns)

    def _reply_connections(self) -> list[BrokerConnection]:
        reply = self._reply
        return [reply.connection] if reply is not None else []

    def _reply_queue(self, timeout: float | None) -> str:
        """The transport's reply queue, declared by the first call (within its timeout)."""
        with self._reply_lock:
            if self._reply is None:
                deadline = time.monotonic() + timeout if timeout is not None else None
                try:
                    self._reply = ReplyConsumer(self, self._waiters, deadline)
                except DeadlineExceeded as exc:
                    raise MessagingTimeout(f"Timed out declaring the reply queue: the broker "
                                           f"could not be reached in {timeout}s ({exc})"
                                           ) from exc
            return self._reply.queue_name

    # ----------------------------------------------------------------- sending

    def _publish_request(self, target: Target, body: dict[str, Any], transport_options: Any,
                         retry: int | None, timeout: float | None = None) -> None:
        if not target.topic:
            raise InvalidTarget("A topic is required to send", target)
        exchange: Exchange
        if target.fanout:
            exchange, routing_key, mandatory = self.topology.fanout_exchange(target.topic), \
                "", False
        else:
            exchange = self.topology.topic_exchange(self._exchange_name(target))
            routing_key = f"{target.topic}.{target.server}" if target.server else target.topic
            mandatory = bool(getattr(transport_options, "at_least_once", False))
        deadline = time.monotonic() + timeout if timeout is not None else None
        data = wire.encode_body(body)
        try:
            conn = self._pool.get(deadline)
            try:
                conn.publish(exchange, routing_key, data, mandatory=mandatory,
                             expiration=timeout, retry=retry, deadline=deadline)
            finally:
                self._pool.put(conn)
        except DeadlineExceeded as exc:
            raise MessagingTimeout(f"Timed out sending to {target!r}: the broker could not "
                                   f"be reached in {timeout}s ({exc})") from exc
        except MessageUndeliverable as exc:
            raise MessageUndeliverable(exc.exception, exc.exchange, exc.routing_key,
                                       body) from None

    def send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
             wait_for_reply: bool | None = None, timeout: float | None = None,
             call_monitor_timeout: float | None = None, retry: int | None = None,
             transport_options: Any = None) -> Any:
        if not wait_for_reply:
            self._publish_request(target, wire.build_request(ctxt, message),
                                  transport_options, retry)
            return None
        return common.last_value(self._call(target, ctxt, message, timeout,
                                            call_monitor_timeout, retry, transport_options,
                                            per_value_timeout=False))

    def send_stream(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
                    timeout: float | None = None, call_monitor_timeout: float | None = None,
                    retry: int | None = None, transport_options: Any = None) -> Iterator[Any]:
        return self._call(target, ctxt, message, timeout, call_monitor_timeout, retry,
                          transport_options, per_value_timeout=True)

    def _call(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
              timeout: float | None, call_monitor_timeout: float | None, retry: int | None,
              transport_options: Any, per_value_timeout: bool) -> Iterator[Any]:
        if target.fanout:
            raise InvalidTarget("A call cannot be sent to a fanout target", target)

        def publish(body: dict[str, Any]) -> None:
            self._publish_request(target, body, transport_options, retry, timeout)

        return common.start_call(
            self._waiters, publish, ctxt, message, reply_q=self._reply_queue(timeout),
            timeout=timeout, call_monitor_timeout=call_monitor_timeout,
            per_value_timeout=per_value_timeout,
            allowed_remote_exmods=self._allowed_remote_exmods,
            describe=common.describe_call(target, message))

    def send_reply(self, reply_q: str | None, msg_id: str | None, body: dict[str, Any],
                   wait_for_queue: bool) -> None:
        """Publish a reply (or heartbeat) to the caller; never raises.

        A reply queue that does not exist may be re-declared soon by a reconnecting caller,
        so a reply is retried for ``kombu_missing_consumer_retry_timeout`` seconds before
        the queue is remembered as gone; heartbeats are not retried.
        """
        if reply_q is None:
            # A pre-Grizzly caller waits on a direct exchange named after the msg id.
            address, exchange = str(msg_id), Exchange(str(msg_id), "direct", False, True)
        else:
            address, exchange = reply_q, None
        if self._is_obsolete(address):
            LOG.debug("Dropping a reply to %s: the caller is gone", address)
            return
        timeout = self.options.kombu_missing_consumer_retry_timeout
        deadline = time.monotonic() + timeout
        data = wire.encode_body(body)
        while True:
            try:
                conn = self._pool.get(deadline)
                try:
                    conn.publish(exchange, address, data, mandatory=exchange is None,
                                 deadline=deadline)
                finally:
                    self._pool.put(conn)
                return
            except MessageUndeliverable:
                if not wait_for_queue:
                    return
                if time.monotonic() + MISSING_QUEUE_RETRY_INTERVAL >= deadline:
                    LOG.error("The reply queue %s has not existed for %ds; dropping the "
                              "reply to message ID %s", address, timeout, msg_id)
                    self._mark_obsolete(address)
                    return
                time.sleep(MISSING_QUEUE_RETRY_INTERVAL)  # retry pacing, not synchronisation
            except (DeadlineExceeded, MessageDeliveryFailure) as exc:
                LOG.error("Could not send the reply to message ID %s: %s", msg_id, exc)
                return
            except Exception:
                LOG.exception("Could not send the reply to message ID %s", msg_id)
                return

    def _is_obsolete(self, address: str) -> bool:
        with self._lock:
            expiry = self._obsolete.get(address)
            if expiry is None:
                return False
            if expiry < time.monotonic():
                del self._obsolete[address]
                return False
            return True

    def _mark_obsolete(self, address: str) -> None:
        with self._lock:
            self._obsolete[address] = time.monotonic() + 60
            while len(self._obsolete) > OBSOLETE_REPLY_QUEUES:
                self._obsolete.popitem(last=False)

    def send_notification(self, target: Target, ctxt: dict[str, Any],
                          message: dict[str, Any], version: float,
                          retry: int | None = None) -> None:
        if not target.topic:
            raise InvalidTarget("A topic is required to send a notification", target)
        exchange = self._exchange_name(target)
        queue = self.topology.notification_queue(exchange, target.topic)
        data = wire.encode_body(wire.pack_notification(ctxt, message, version))
        conn = self._pool.get()
        try:
            conn.publish(self.topology.topic_exchange(exchange), target.topic, data,
                         declare=queue, retry=retry)
        finally:
            self._pool.put(conn)

    # ----------------------------------------------------------------- listening

    def listen_subscriptions(self, subscriptions: list[base.Subscription], kind: str,
                             batch_size: int = 1,
                             batch_timeout: float | None = None) -> base.Listener:
        default_exchange = self._default_exchange or "openstack"
        queues: dict[str, Queue] = {}
        generated: list[str] = []
        for sub in subscriptions:
            queue = self.topology.subscription_queue(sub, default_exchange, wire.new_id())
            if sub.fanout and sub.queue is None:
                generated.append(queue.name)
            known = queues.get(queue.name)
            if known is not None:  # one queue bound several ways (pools, several exchanges)
                queue = dataclasses.replace(known, bindings=known.bindings + tuple(
                    b for b in queue.bindings if b not in known.bindings))
            queues[queue.name] = queue
        listener_cls = {"rpc": RpcListener, "notification": NotificationListener,
                        "raw": RawListener}[kind]
        listener = listener_cls(self, list(queues.values()), f"{kind}-listener",
                                delete_on_cleanup=tuple(generated))
        return base.PollStyleListenerAdapter(listener, batch_size, batch_timeout)

    def cleanup(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
        with self._reply_lock:
            reply, self._reply = self._reply, None
        if reply is not None:
            reply.close()
        self._pool.close()

"""``RabbitDriver``: RabbitMQ over AMQP 0-9-1, wire-compatible with oslo.messaging 18.x.

URL: ``rabbit://user:pass@host1:5672,user:pass@host2:5672/vhost?<option>=<value>`` (also
``kombu://``); the query overrides ``[oslo_messaging_rabbit]`` options.

Connections per transport: a pool of send connections (requests, replies, notifications),
one per RPC server or notification listener, and one for the reply queue, created by the
first call. A ``Rabbit-heartbeat`` OS thread checks the connections nobody is using; busy
ones check themselves between bounded waits. Errors are classified once, in
``BrokerConnection.ensure`` (see ``_errors``).

Requests to a topic are published ``mandatory``: a request the broker cannot route yet is
published again (``rabbit_unroutable_retry_timeout``) instead of being confirmed and lost.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from legacy_rpc.messaging import wire
from legacy_rpc.messaging._transport_url import TransportHost
from legacy_rpc.messaging.drivers import base, common
from legacy_rpc.messaging.drivers.rabbit._connection import (
    WAIT_SLICE,
    BrokerConnection,
    ConnectionPlan,
    DeadlineExceeded,
    PublishOutcomeUnknown,
)
from legacy_rpc.messaging.drivers.rabbit._errors import RECOVERABLE_ERRORS
from legacy_rpc.messaging.drivers.rabbit._listeners import (
    NotificationListener,
    RawListener,
    ReplyConsumer,
    RpcListener,
)
from legacy_rpc.messaging.drivers.rabbit._opts import load_options
from legacy_rpc.messaging.drivers.rabbit._pool import ConnectionPool, HeartbeatThread
from legacy_rpc.messaging.drivers.rabbit._replies import ReplyRetrier
from legacy_rpc.messaging.drivers.rabbit._requests import CallRequest, UnroutablePacing
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
        self._reply_cond = threading.Condition()
        self._reply_creating = False
        self._listener_conns: set[BrokerConnection] = set()
        self._retrier = ReplyRetrier(self._publish_reply_once,
                                     float(opts.kombu_missing_consumer_retry_timeout))
        self._heartbeat: HeartbeatThread | None = None
        if opts.heartbeat_timeout_threshold > 0:
            interval = max(0.1, opts.heartbeat_timeout_threshold / opts.heartbeat_rate / 2)
            self._heartbeat = HeartbeatThread(
                interval, [(self._pool.idle_connections, True),
                           (self._reply_connections, True),
                           (self._listener_connections, False)],
                self._pool.expire_idle)
            self._heartbeat.start()

    # ----------------------------------------------------------------- connections

    def new_connection(self, role: str, consumer: bool = False) -> BrokerConnection:
        return BrokerConnection(ConnectionPlan(self._hosts, self._vhost, self.options, role),
                                consumer=consumer)

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

    def _reply_queue(self, deadline: float | None) -> str:
        """The transport's reply queue, declared by the first call within its deadline.

        One caller declares it, without holding a lock across the network; the others wait
        for it within their own deadlines, and one of them takes over if it fails.
        """
        with self._reply_cond:
            while True:
                if self._reply is not None:
                    return self._reply.queue_name
                if not self._reply_creating:
                    self._reply_creating = True
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise MessagingTimeout("Timed out waiting for the reply queue to be "
                                           "declared by another call")
                self._reply_cond.wait(remaining)
        reply = None
        try:
            reply = ReplyConsumer(self, self._waiters, deadline)
        except DeadlineExceeded as exc:
            raise MessagingTimeout(f"Timed out declaring the reply queue: the broker could "
                                   f"not be reached in time ({exc})") from exc
        finally:
            with self._reply_cond:
                self._reply = reply
                self._reply_creating = False
                self._reply_cond.notify_all()
        return reply.queue_name

    # ----------------------------------------------------------------- sending

    def _route(self, target: Target) -> tuple[Exchange, str]:
        """The exchange and routing key of a request to ``target``."""
        if not target.topic:
            raise InvalidTarget("A topic is required to send", target)
        if target.fanout:
            return self.topology.fanout_exchange(target.topic), ""
        exchange = self.topology.topic_exchange(self._exchange_name(target))
        return exchange, f"{target.topic}.{target.server}" if target.server else target.topic

    def _mandatory(self, target: Target, at_least_once: bool) -> bool:
        """Requests to a topic are mandatory, so that unroutable ones are sent again."""
        return not target.fanout and (
            at_least_once or self.options.rabbit_unroutable_retry_timeout > 0)

    def _publish_once(self, target: Target, exchange: Exchange, routing_key: str,
                      data: bytes, mandatory: bool, retry: int | None,
                      deadline: float | None, expiration: float | None,
                      on_failure: Callable[[str], None] | None = None) -> BrokerConnection:
        """Publish a request on a pooled connection; return that connection."""
        try:
            conn = self._pool.get(deadline)
            try:
                conn.publish(exchange, routing_key, data, mandatory=mandatory,
                             expiration=expiration, retry=retry, deadline=deadline,
                             resend_unconfirmed=False, on_failure=on_failure)
            finally:
                self._pool.put(conn)
            return conn
        except DeadlineExceeded as exc:
            raise MessagingTimeout(f"Timed out sending to {target!r}: the broker could "
                                   f"not be reached in time ({exc})") from exc

    def _publish_request(self, target: Target, body: dict[str, Any], transport_options: Any,
                         retry: int | None, deadline: float | None = None,
                         expiration: float | None = None, is_call: bool = False) -> None:
        """Publish a request and wait for its confirm (see ``_requests``).

        A request whose confirm was lost with its connection is not published again (the
        broker may have it, and a second copy could run on another server): a cast raises
        ``PublishOutcomeUnknown`` (a ``MessageDeliveryFailure``), a call waits for its reply.
        """
        exchange, routing_key = self._route(target)
        at_least_once = bool(getattr(transport_options, "at_least_once", False))
        mandatory = self._mandatory(target, at_least_once)
        data = wire.encode_body(body)
        pacing = UnroutablePacing(self.options.rabbit_unroutable_retry_timeout, deadline)
        while True:
            try:
                self._publish_once(target, exchange, routing_key, data, mandatory, retry,
                                   deadline, expiration)
                return
            except PublishOutcomeUnknown:
                if is_call:
                    return  # if the request got through, its reply still comes
                raise
            except MessageUndeliverable as exc:
                if at_least_once:
                    raise MessageUndeliverable(exc.exception, exc.exchange, exc.routing_key,
                                               body) from None
                pacing.wait(target, exchange.name, routing_key)

    def _settle(self, conn: BrokerConnection, deadline: float | None) -> None:
        """Read a call request's confirm on ``conn`` if nobody else is using it (whoever
        is will read it before publishing); wait at most ``WAIT_SLICE``."""
        if conn.unsettled and self._pool.take(conn):
            limit = time.monotonic() + WAIT_SLICE
            try:
                conn.settle(limit if deadline is None else min(limit, deadline))
            finally:
                self._pool.put(conn)

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
              transport_options: Any, per_value_timeout: bool) -> common.ReplyStream:
        """Send a call; its ``timeout`` bounds everything it does: declaring the reply
        queue, connecting, sending and waiting (for streams: until the first value)."""
        if target.fanout:
            raise InvalidTarget("A call cannot be sent to a fanout target", target)
        deadline = time.monotonic() + timeout if timeout is not None else None
        at_least_once = bool(getattr(transport_options, "at_least_once", False))
        common_args: dict[str, Any] = dict(
            timeout=timeout, call_monitor_timeout=call_monitor_timeout,
            per_value_timeout=per_value_timeout,
            allowed_remote_exmods=self._allowed_remote_exmods,
            describe=common.describe_call(target, message),
            deadline=None if per_value_timeout else deadline)
        if at_least_once:  # an unroutable call must fail at once: wait for the confirm
            def publish(body: dict[str, Any]) -> None:
                self._publish_request(target, body, transport_options, retry, deadline,
                                      expiration=_time_left(deadline), is_call=True)

            return common.start_call(self._waiters, publish, ctxt, message,
                                     reply_q=self._reply_queue(deadline), **common_args)
        exchange, routing_key = self._route(target)
        mandatory = self._mandatory(target, at_least_once)

        def send(body: dict[str, Any],
                 on_failure: Callable[[str], None]) -> Callable[[], None] | None:
            try:
                conn = self._publish_once(target, exchange, routing_key,
                                          wire.encode_body(body), mandatory, retry, deadline,
                                          _time_left(deadline), on_failure=on_failure)
            except PublishOutcomeUnknown:
                return None  # if the request got through, its reply still comes
            return lambda: self._settle(conn, deadline)

        request = CallRequest(
            self._waiters, wire.new_id(), send,
            UnroutablePacing(self.options.rabbit_unroutable_retry_timeout, deadline),
            target, exchange.name, routing_key)
        return common.start_call(self._waiters, request.publish, ctxt, message,
                                 reply_q=self._reply_queue(deadline), resend=request.resend,
                                 settle=request.settle, msg_id=request.msg_id,
                                 **common_args)

    @staticmethod
    def _reply_address(reply_q: str | None, msg_id: str | None) -> tuple[str, Exchange | None]:
        if reply_q is None:
            # A pre-Grizzly caller waits on a direct exchange named after the msg id.
            return str(msg_id), Exchange(str(msg_id), "direct", False, True)
        return reply_q, None

    def _publish_reply_once(self, address: str, exchange: Exchange | None, data: bytes,
                            deadline: float) -> None:
        """One attempt to publish a reply; ``MessageUndeliverable`` if its queue is gone."""
        conn = self._pool.get(deadline)
        try:
            conn.publish(exchange, address, data, mandatory=exchange is None,
                         deadline=deadline)
        finally:
            self._pool.put(conn)

    def send_reply(self, reply_q: str | None, msg_id: str | None, body: dict[str, Any],
                   wait_for_queue: bool) -> None:
        """Publish a reply (or heartbeat) to the caller; never raises.

        A reply queue that does not exist may be re-declared soon by a reconnecting caller:
        such a reply is handed to the retrier thread, which tries again for
        ``kombu_missing_consumer_retry_timeout`` seconds off the dispatch path (so replies
        to vanished callers cannot pin the server's workers); heartbeats are not retried.
        """
        address, exchange = self._reply_address(reply_q, msg_id)
        if self._retrier.is_obsolete(address):
            LOG.debug("Dropping a reply to %s: the caller is gone", address)
            return
        data = wire.encode_body(body)
        timeout = self.options.kombu_missing_consumer_retry_timeout
        try:
            self._publish_reply_once(address, exchange, data, time.monotonic() + timeout)
        except MessageUndeliverable:
            if wait_for_queue:
                self._retrier.add(address, exchange, data, msg_id)
        except (DeadlineExceeded, MessageDeliveryFailure) as exc:
            LOG.error("Could not send the reply to message ID %s: %s", msg_id, exc)
        except Exception:
            LOG.exception("Could not send the reply to message ID %s", msg_id)

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
                             batch_size: int = 1, batch_timeout: float | None = None,
                             retry: int | None = None) -> base.Listener:
        """As the base class; ``retry`` bounds how often declaring the queues retries
        connecting (the legacy ``rabbit_max_retries``): then ``MessageDeliveryFailure``."""
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
                                delete_on_cleanup=tuple(generated), retry=retry)
        return base.PollStyleListenerAdapter(listener, batch_size, batch_timeout)

    def cleanup(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
        self._retrier.stop()
        with self._reply_cond:
            reply, self._reply = self._reply, None
        if reply is not None:
            reply.close()
        self._pool.close()


def _time_left(deadline: float | None) -> float | None:
    """A call request's expiration: what is left of its caller's deadline (declaring the
    reply queue may have used some), so the request never outlives its caller."""
    return None if deadline is None else max(0.001, deadline - time.monotonic())

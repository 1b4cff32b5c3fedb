"""``Amqp1Driver``: AMQP 1.0 with python-qpid-proton (``amqp1://``, ``amqp://``).

URL: ``amqp1://user:pass@host1:5672,user:pass@host2:5672/vhost?<option>=<value>``; the
query overrides ``[oslo_messaging_amqp1]`` options (``ssl``, ``ssl_ca_file``,
``sasl_mechanisms``, ...). The legacy ``impl_qpid`` backend resolves to this driver.

Connections per transport: one for sending (requests, notifications, and replies of
callers' own) that also reads the reply address, created by the first send, and one per
RPC server (which also sends that server's replies) or notification listener; each has its
own I/O thread (``_connection``). Addresses come from one
:class:`~._addresses.AddressScheme` (RabbitMQ 3.x's AMQP 1.0 plugin here).

Delivery: every cast and notification waits until the broker settled it (accepted: the
AMQP 1.0 publisher confirm) before ``cast``/``notify`` return; a send whose outcome was lost
with its connection is not sent again (``PublishOutcomeUnknown``; a call then waits for its
reply). A call does not wait for its request's outcome before it waits for the reply (the
reply cannot come before it): a refusal or failure to send reaches the waiting call as its
exception as soon as the I/O thread learns it, and a call that ends (reply or timeout)
withdraws a request not sent yet.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from legacy_rpc.messaging import wire
from legacy_rpc.messaging._transport_url import TransportHost
from legacy_rpc.messaging.drivers import base, common
from legacy_rpc.messaging.drivers.amqp1._addresses import RabbitMQ3Scheme
from legacy_rpc.messaging.drivers.amqp1._connection import (
    Amqp1Connection,
    ConnectionPlan,
    Incoming,
    Outgoing,
    Subscriber,
)
from legacy_rpc.messaging.drivers.amqp1._errors import (
    RECOVERABLE_ERRORS,
    DeadlineExceeded,
    PublishOutcomeUnknown,
)
from legacy_rpc.messaging.drivers.amqp1._listeners import (
    NotificationListener,
    RawListener,
    ReplyConsumer,
    RpcListener,
    body_of,
)
from legacy_rpc.messaging.drivers.amqp1._opts import load_options
from legacy_rpc.messaging.exceptions import (
    InvalidTarget,
    MessageDeliveryFailure,
    MessagingTimeout,
)
from legacy_rpc.messaging.target import Target

LOG = logging.getLogger(__name__)

__all__ = ["Amqp1Driver"]

REPLY_SEND_TIMEOUT = 60.0  # longest a server tries to hand a reply to the broker


class Amqp1Driver(base.BaseDriver):
    """The AMQP 1.0 driver (``amqp1://``, ``amqp://``; legacy ``impl_qpid``)."""

    capabilities = base.Capabilities(requeue=True, fanout=True, streaming_replies=True,
                                     call_monitor=True, pools=False, at_least_once=False)
    recoverable_errors = RECOVERABLE_ERRORS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options = load_options(self.conf, dict(self._url.query))
        self.addresses = RabbitMQ3Scheme(self._default_exchange or "openstack")
        self._hosts = list(self._url.hosts) or [TransportHost("localhost", 5672)]
        self._vhost = self._url.virtual_host or "/"
        self._lock = threading.Lock()
        self._send_conn: Amqp1Connection | None = None
        self._reply: ReplyConsumer | None = None
        self._waiters = common.ReplyWaiters()
        self._raw: list[Subscriber] = []

    # ----------------------------------------------------------------- connections

    def new_connection(self, role: str) -> Amqp1Connection:
        return Amqp1Connection(ConnectionPlan(self._hosts, self._vhost, self.options, role),
                               role)

    def send_connection(self) -> Amqp1Connection:
        with self._lock:
            if self._send_conn is None:
                self._send_conn = self.new_connection("send")
            return self._send_conn

    def _reply_queue(self) -> str:
        with self._lock:
            reply = self._reply
        if reply is None:
            candidate = ReplyConsumer(self, self._waiters)
            with self._lock:
                if self._reply is None:
                    self._reply = candidate
                    candidate = None  # type: ignore[assignment]
                reply = self._reply
            if candidate is not None:
                candidate.close()
        return reply.queue_name

    def _exchange_name(self, target: Target) -> str | None:
        return target.exchange or self._default_exchange

    # ----------------------------------------------------------------- sending

    def _start_send(self, address: str, body: dict[str, Any], *, retry: int | None,
                    deadline: float | None, ttl: float | None = None,
                    durable: bool = True, conn: Amqp1Connection | None = None,
                    optional: bool = False) -> concurrent.futures.Future[None]:
        """Hand one body to ``conn`` (default: the send connection); the future completes
        when the broker settled it."""
        if ttl is not None:
            # The request expires in the broker when its caller stops waiting, not later.
            remaining_ttl = ttl if deadline is None else deadline - time.monotonic()
            ttl = max(0.001, min(ttl, remaining_ttl))
        outgoing = Outgoing(wire.encode_body(body), durable=durable, ttl=ttl)
        return (conn or self.send_connection()).send(address, outgoing, retry, optional=optional)

    def _send(self, address: str, body: dict[str, Any], *, retry: int | None,
              deadline: float | None, ttl: float | None = None, durable: bool = True,
              conn: Amqp1Connection | None = None, also: str | None = None) -> None:
        """Send one body and wait until the broker settled it (within ``deadline``);
        ``also`` is an optional address that gets it too where it exists."""
        conn = conn or self.send_connection()
        futures = [self._start_send(address, body, retry=retry, deadline=deadline, ttl=ttl,
                                    durable=durable, conn=conn)]
        if also is not None:
            futures.append(self._start_send(also, body, retry=retry, deadline=deadline,
                                            ttl=ttl, durable=durable, conn=conn,
                                            optional=True))
        try:
            for future in futures:
                remaining = (None if deadline is None
                             else max(0.0, deadline - time.monotonic()))
                future.result(remaining)
        except concurrent.futures.TimeoutError:
            for future in futures:
                future.cancel()
            raise DeadlineExceeded(f"the broker did not take the message to {address} in "
                                   "time") from None

    def _request_address(self, target: Target) -> tuple[Target, str]:
        if not target.topic:
            raise InvalidTarget("A topic is required to send", target)
        target = Target(exchange=self._exchange_name(target), topic=target.topic,
                        server=target.server, fanout=target.fanout)
        try:
            return target, self.addresses.request(target)
        except ValueError as exc:
            raise InvalidTarget(str(exc), target) from exc

    def _publish_request(self, target: Target, body: dict[str, Any], retry: int | None,
                         deadline: float | None = None, ttl: float | None = None,
                         is_call: bool = False) -> None:
        target, address = self._request_address(target)
        assert target.topic
        also = self.addresses.foreign_fanout(target.topic) if target.fanout else None
        try:
            self._send(address, body, retry=retry, deadline=deadline, ttl=ttl, also=also)
        except PublishOutcomeUnknown:
            if not is_call:
                raise
            # If the request got through, its reply still comes; else the call times out.
        except DeadlineExceeded as exc:
            raise MessagingTimeout(f"Timed out sending to {target!r}: {exc}") from exc
        except ValueError as exc:
            raise InvalidTarget(str(exc), target) from exc

    def send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
             wait_for_reply: bool | None = None, timeout: float | None = None,
             call_monitor_timeout: float | None = None, retry: int | None = None,
             transport_options: Any = None) -> Any:
        if getattr(transport_options, "at_least_once", False):
            raise NotImplementedError("the amqp1 driver cannot tell whether a queue takes a "
                                      "message (at_least_once): its broker accepts it anyway")
        if not wait_for_reply:
            self._publish_request(target, wire.build_request(ctxt, message), retry)
            return None
        if target.fanout:
            raise InvalidTarget("A call cannot be sent to a fanout target", target)
        _, address = self._request_address(target)
        msg_id = wire.new_id()
        sent: list[concurrent.futures.Future[None]] = []
        deadline = time.monotonic() + timeout if timeout is not None else None

        def outcome(future: concurrent.futures.Future[None]) -> None:  # on the I/O thread
            if future.cancelled():
                return
            exc = future.exception()
            if exc is not None and not isinstance(exc, PublishOutcomeUnknown):
                # Refused or not sendable: the call fails now. An unknown outcome (the
                # connection was lost with the request in flight) keeps it waiting: if the
                # request got through, its reply still comes.
                self._waiters.push(msg_id, exc)

        def publish(body: dict[str, Any]) -> None:
            future = self._start_send(address, body, retry=retry, deadline=deadline,
                                      ttl=timeout)
            sent.append(future)
            future.add_done_callback(outcome)

        stream = common.start_call(
            self._waiters, publish, ctxt, message, reply_q=self._reply_queue(),
            timeout=timeout, call_monitor_timeout=call_monitor_timeout,
            per_value_timeout=False, allowed_remote_exmods=self._allowed_remote_exmods,
            describe=common.describe_call(target, message), deadline=deadline,
            msg_id=msg_id)
        try:
            return stream.result()
        finally:
            for future in sent:
                future.cancel()  # not sent yet (no connection): withdrawn; else a no-op

    def send_stream(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
                    timeout: float | None = None, call_monitor_timeout: float | None = None,
                    retry: int | None = None, transport_options: Any = None) -> Iterator[Any]:
        return self._call(target, ctxt, message, timeout, call_monitor_timeout, retry,
                          per_value_timeout=True)

    def _call(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
              timeout: float | None, call_monitor_timeout: float | None, retry: int | None,
              per_value_timeout: bool) -> common.ReplyStream:
        if target.fanout:
            raise InvalidTarget("A call cannot be sent to a fanout target", target)
        deadline = time.monotonic() + timeout if timeout is not None else None

        def publish(body: dict[str, Any]) -> None:
            self._publish_request(target, body, retry, deadline, ttl=timeout, is_call=True)

        return common.start_call(
            self._waiters, publish, ctxt, message, reply_q=self._reply_queue(),
            timeout=timeout, call_monitor_timeout=call_monitor_timeout,
            per_value_timeout=per_value_timeout,
            allowed_remote_exmods=self._allowed_remote_exmods,
            describe=common.describe_call(target, message),
            deadline=None if per_value_timeout else deadline)

    def send_reply(self, reply_q: str | None, msg_id: str | None, body: dict[str, Any],
                   conn: Amqp1Connection | None = None) -> None:
        """Send a reply (or heartbeat) to the caller; never raises. An RPC server passes
        its listener's connection: the reply leaves from the I/O thread that read the
        request, so a server runs one connection and one I/O thread, not two."""
        try:
            self._send(self.addresses.reply_target(reply_q, msg_id), body, retry=None,
                       deadline=time.monotonic() + REPLY_SEND_TIMEOUT, durable=False,
                       conn=conn)
        except (DeadlineExceeded, MessageDeliveryFailure, ValueError) as exc:
            LOG.error("Could not send the reply to message ID %s: %s", msg_id, exc)
        except Exception:
            LOG.exception("Could not send the reply to message ID %s", msg_id)

    def send_notification(self, target: Target, ctxt: dict[str, Any],
                          message: dict[str, Any], version: float,
                          retry: int | None = None) -> None:
        if not target.topic:
            raise InvalidTarget("A topic is required to send a notification", target)
        target = Target(exchange=self._exchange_name(target), topic=target.topic)
        try:
            address = self.addresses.notification(target)
        except ValueError as exc:
            raise InvalidTarget(str(exc), target) from exc
        body = wire.pack_notification(ctxt, message, version)
        attempts = 0
        while True:
            try:
                self._send(address, body, retry=retry, deadline=None)
                return
            except PublishOutcomeUnknown:
                # At least once: the same body again (same _unique_id, so a listener that
                # got the first copy drops this one), within the retry budget.
                attempts += 1
                if retry is not None and 0 <= retry < attempts:
                    raise
                LOG.info("Sending a notification to %s again: its outcome was lost", address)

    # ----------------------------------------------------------------- listening

    def listen_subscriptions(self, subscriptions: list[base.Subscription], kind: str,
                             batch_size: int = 1,
                             batch_timeout: float | None = None) -> base.Listener:
        addresses: list[str] = []
        twins: dict[str, str] = {}
        for sub in subscriptions:
            address = self.addresses.subscription(sub)
            if address not in addresses:
                addresses.append(address)
            foreign = self.addresses.foreign_fanout(sub.routing_key) if sub.fanout else None
            if foreign is not None:
                twins[foreign] = address
        listener_cls = {"rpc": RpcListener, "notification": NotificationListener,
                        "raw": RawListener}[kind]
        credit = (self.options.rpc_server_credit if kind == "rpc"
                  else self.options.notify_server_credit)
        listener = listener_cls(self, addresses, credit, twins)
        return base.PollStyleListenerAdapter(listener, batch_size, batch_timeout)

    # ----------------------------------------------------------------- test hooks

    def raw_publish(self, exchange: str, routing_key: str, body: bytes) -> None:
        """Send raw bytes as a foreign client would: ``exchange`` "" is a queue's name."""
        address = (f"/amq/queue/{routing_key}" if exchange == "" else
                   self.addresses.request(Target(exchange=exchange, topic=routing_key)))
        outgoing = Outgoing(body, content_encoding=None)
        self.send_connection().send(address, outgoing).result(30)

    def raw_collect(self, queue: str, routes: list[tuple[str, str]]) -> list[bytes]:
        """Collect the raw bodies of queue ``queue``; only routes to that queue's own name
        (default exchange, or the control exchange with the queue's name) are possible."""
        for exchange, key in routes:
            if exchange not in ("", self.addresses.default_exchange) or key != queue:
                raise NotImplementedError(f"route {exchange}/{key} to queue {queue} needs a "
                                          "binding, which this broker's AMQP 1.0 lacks")
        bodies: list[bytes] = []

        def collect(incoming: Incoming) -> None:
            body = body_of(incoming)
            bodies.append(body.encode() if isinstance(body, str) else body)

        sub = Subscriber(f"/queue/{queue}", 100, collect, auto_accept=True)
        self.send_connection().subscribe(sub)
        self._raw.append(sub)
        return bodies

    def cleanup(self) -> None:
        with self._lock:
            reply, self._reply = self._reply, None
            conn, self._send_conn = self._send_conn, None
        if reply is not None:
            reply.close()
        if conn is not None:
            conn.close()

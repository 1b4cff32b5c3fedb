"""``ZmqDriver``: brokerless ZeroMQ (``zmq://``; the legacy ``impl_zmq`` backend).

URL: ``zmq://[<this host's advertised name>]/[<namespace>]?<option>=<value>``. The host is
the name peers reach this process's servers at (default ``rpc_zmq_host``); the namespace
(the "virtual host") scopes the matchmaker registrations, so transports naming the same
one meet, as on a broker's virtual host. Query keys: see ``_opts.URL_KEYS``.

No broker and no receiver process: every RPC server and notification listener binds a
ROUTER socket of its own and registers it with the matchmaker (Redis, the legacy ring file,
or in process; ``_matchmaker``); senders look the receivers up and connect to them directly
(``_sender``). Replies, streamed values and call-monitor heartbeats come back on the
caller's own connection, so callers bind nothing.

Delivery (see the delivery-semantics table in the README): a call goes to one live server
of its topic and always ends within its timeout; a cast goes to one server, a fanout to
every live server, a notification to one listener per pool, at most once. A message with
no live receiver waits in the sender for one to register (until the call's deadline or
``pending_ttl``) and is lost if the sender exits; a message handed to a server that dies
before handling it is lost. There is no requeue and no ``at_least_once``.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import zmq

from legacy_rpc.messaging import wire
from legacy_rpc.messaging.drivers import base, common
from legacy_rpc.messaging.drivers.zmq import _matchmaker
from legacy_rpc.messaging.drivers.zmq._listener import ZmqListener
from legacy_rpc.messaging.drivers.zmq._matchmaker import member
from legacy_rpc.messaging.drivers.zmq._opts import load_options
from legacy_rpc.messaging.drivers.zmq._sender import Sender
from legacy_rpc.messaging.exceptions import InvalidTarget
from legacy_rpc.messaging.target import Target

LOG = logging.getLogger(__name__)

__all__ = ["ZmqDriver"]


def _is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _CurveClients:
    """ZAP credentials provider: the client public keys a server accepts."""

    def __init__(self, keys: list[str]) -> None:
        self._keys = {k.strip().encode() for k in keys if k.strip()}

    def callback(self, domain: str, key: bytes) -> bool:
        return key in self._keys


class ZmqDriver(base.BaseDriver):
    """Brokerless ZeroMQ (``zmq://``; legacy ``impl_zmq``)."""

    capabilities = base.Capabilities(requeue=False, fanout=True, streaming_replies=True,
                                     call_monitor=True, pools=True, at_least_once=False)
    recoverable_errors = (zmq.ZMQError,)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        host = self._url.hosts[0].hostname if self._url.hosts else None
        self.options = load_options(self.conf, dict(self._url.query), host,
                                    self._url.virtual_host)
        options = self.options
        self.default_exchange = self._default_exchange or "openstack"
        self.bind_host = options.bind_address
        self.advertised_host = options.host
        self.matchmaker = _matchmaker.create(
            options.matchmaker, options.namespace, options.heartbeat_freq,
            options.heartbeat_ttl, redis_host=options.redis_host,
            redis_port=options.redis_port, redis_password=options.redis_password,
            ringfile=options.ringfile, port=options.port)
        self.context: zmq.Context[Any] = zmq.Context(io_threads=max(1, self.options_contexts()))
        self._auth: Any = None
        if options.curve:
            self._start_authenticator()
        self._waiters = common.ReplyWaiters(reader=self._read_replies)
        self._reply_q = f"reply_{wire.new_id()}"  # names the caller in requests only
        self._lock = threading.Lock()
        self._sender: Sender | None = None
        self._listeners: weakref.WeakSet[ZmqListener] = weakref.WeakSet()
        self._warned_bind = False
        self._raw_queues: dict[str, list[bytes]] = {}   # test hooks: collector bodies
        self._raw_replies: dict[str, list[bytes]] = {}  # msg id -> collector of replies
        self._closed = False

    def options_contexts(self) -> int:
        return int(self.conf.rpc_zmq_contexts)

    # ------------------------------------------------------------------ security

    def _start_authenticator(self) -> None:
        from zmq.auth.thread import ThreadAuthenticator

        allowed = self.options.curve_allowed_clients or [self.options.curve_public_key]
        self._auth = ThreadAuthenticator(self.context)
        self._auth.start()
        self._auth.configure_curve_callback(domain="*",
                                            credentials_provider=_CurveClients(allowed))

    def secure(self, socket: Any, server: bool) -> None:
        """Apply CurveZMQ to a new socket when it is configured."""
        options = self.options
        if not options.curve:
            return
        socket.curve_secretkey = options.curve_secret_key.encode()
        socket.curve_publickey = options.curve_public_key.encode()
        if server:
            socket.zap_domain = b"*"
            socket.curve_server = True
        else:
            socket.curve_serverkey = (options.curve_server_key or
                                      options.curve_public_key).encode()

    def _warn_bind(self) -> None:
        if self._warned_bind or self.options.curve or _is_loopback(self.bind_host):
            return
        self._warned_bind = True
        LOG.warning("zmq servers bind %s without authentication: anyone who can reach "
                    "their ports can call any method. Bind a loopback or private address "
                    "(rpc_zmq_bind_address) or turn CurveZMQ on ([oslo_messaging_zmq] "
                    "curve_public_key / curve_secret_key).", self.bind_host)

    # ------------------------------------------------------------------ sending

    def sender(self) -> Sender:
        with self._lock:
            if self._sender is None:
                if self._closed:
                    raise RuntimeError("the zmq transport is cleaned up")
                self._sender = Sender(self.context, self.matchmaker, self._waiters,
                                      send_queue_limit=self.options.send_queue_limit,
                                      secure=self.secure,
                                      pending_ttl=self.options.pending_ttl,
                                      reply_hook=self._raw_reply)
            return self._sender

    def _read_replies(self, timeout: float, deadline: float | None) -> None:
        sender = self._sender
        if sender is not None:
            sender.read_replies(timeout)

    def _key(self, target: Target) -> str:
        if not target.topic:
            raise InvalidTarget("A topic is required to send", target)
        if target.fanout:
            return f"fanout:{target.topic}"
        exchange = target.exchange or self.default_exchange
        if target.server:
            return f"{exchange}:{target.topic}.{target.server}"
        return f"{exchange}:{target.topic}"

    def _expiry(self, deadline: float | None) -> float:
        return deadline if deadline is not None else (time.monotonic() +
                                                      self.options.pending_ttl)

    def send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
             wait_for_reply: bool | None = None, timeout: float | None = None,
             call_monitor_timeout: float | None = None, retry: int | None = None,
             transport_options: Any = None) -> Any:
        if getattr(transport_options, "at_least_once", False):
            raise NotImplementedError("the zmq driver cannot tell whether a message will be "
                                      "taken (at_least_once): it has no broker to ask")
        key = self._key(target)
        if not wait_for_reply:
            body = wire.encode_body(wire.build_request(ctxt, message))
            self.sender().send(key, body, self._expiry(None))
            return None
        return common.last_value(self._call(target, key, ctxt, message, timeout,
                                            call_monitor_timeout, per_value_timeout=False))

    def send_stream(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
                    timeout: float | None = None, call_monitor_timeout: float | None = None,
                    retry: int | None = None, transport_options: Any = None) -> Iterator[Any]:
        return self._call(target, self._key(target), ctxt, message, timeout,
                          call_monitor_timeout, per_value_timeout=True)

    def _call(self, target: Target, key: str, ctxt: dict[str, Any], message: dict[str, Any],
              timeout: float | None, call_monitor_timeout: float | None,
              per_value_timeout: bool) -> common.ReplyStream:
        if target.fanout:
            raise InvalidTarget("A call cannot be sent to a fanout target", target)
        sender = self.sender()
        deadline = time.monotonic() + timeout if timeout is not None else None

        def publish(body: dict[str, Any]) -> None:
            sender.send(key, wire.encode_body(body), self._expiry(deadline))

        return common.start_call(
            self._waiters, publish, ctxt, message, reply_q=self._reply_q,
            timeout=timeout, call_monitor_timeout=call_monitor_timeout,
            per_value_timeout=per_value_timeout,
            allowed_remote_exmods=self._allowed_remote_exmods,
            describe=common.describe_call(target, message),
            deadline=None if per_value_timeout else deadline)

    def send_notification(self, target: Target, ctxt: dict[str, Any],
                          message: dict[str, Any], version: float,
                          retry: int | None = None) -> None:
        if not target.topic:
            raise InvalidTarget("A topic is required to send a notification", target)
        key = f"{target.exchange or self.default_exchange}:{target.topic}"
        body = wire.encode_body(wire.pack_notification(ctxt, message, version))
        # As a broker keeps the default queue a notifier declares, a copy waits for the
        # default queue's first listener even when only pools listen.
        self.sender().send(key, body, self._expiry(None), keep_for=target.topic)

    # ------------------------------------------------------------------ listening

    def bind_port(self, subscriptions: list[base.Subscription]) -> int | None:
        """The port a listener must bind (ring matchmaker), or None for any free port."""
        mm = self.matchmaker
        if isinstance(mm, _matchmaker.RingMatchMaker):
            topics = [s.routing_key for s in subscriptions if not s.fanout]
            return mm.port_for(topics[0], self.advertised_host) if topics else mm.port
        return None

    def listen_subscriptions(self, subscriptions: list[base.Subscription], kind: str,
                             batch_size: int = 1,
                             batch_timeout: float | None = None) -> base.Listener:
        if kind not in base.LISTEN_KINDS:
            raise ValueError(f"kind must be one of {base.LISTEN_KINDS}, got {kind!r}")
        if not subscriptions:
            raise ValueError("at least one subscription is required")
        self._warn_bind()
        listener = ZmqListener(self, subscriptions, kind)
        with self._lock:
            self._listeners.add(listener)
        return base.PollStyleListenerAdapter(listener, batch_size, batch_timeout)

    # ------------------------------------------------------------------ test hooks

    def raw_publish(self, exchange: str, routing_key: str, body: bytes) -> None:
        """Send raw bytes to the receivers of ``exchange``/``routing_key`` as a foreign
        sender would (exchange "" is a queue's own name)."""
        if exchange == "":
            with self._lock:
                listeners = list(self._listeners)
            for listener in listeners:
                identity = listener.reply_routes.get(routing_key)
                if identity is not None:  # a reply: back on the request's connection
                    listener.send_reply(identity, body)
                    return
        try:
            request = wire.deserialize_msg(wire.decode_body(body))
        except Exception:
            request = None
        if isinstance(request, dict) and request.get("_reply_q") in self._raw_queues:
            # Its replies come back on our connection: hand them to that collector.
            self._raw_replies[str(request.get("_msg_id"))] = self._raw_queues[
                request["_reply_q"]]
        self.sender().send(f"{exchange}:{routing_key}", body, self._expiry(None))

    def _raw_reply(self, decoded: Any, body: bytes) -> bool:
        """(Test hooks) take a reply meant for a raw collector; True when taken."""
        if not self._raw_replies:
            return False
        try:
            reply = wire.deserialize_msg(decoded)
        except Exception:
            return False
        bodies = (self._raw_replies.get(str(reply.get("_msg_id")))
                  if isinstance(reply, dict) else None)
        if bodies is None:
            return False
        bodies.append(body)
        return True

    def raw_collect(self, queue: str, routes: list[tuple[str, str]]) -> list[bytes]:
        """Collect the raw bodies sent to ``routes`` (``(exchange, routing_key)``)."""
        for exchange, key in routes:
            if exchange == key:
                raise NotImplementedError("a caller without _reply_q is answered on its own "
                                          "connection; there is no msg-id queue")
        bodies: list[bytes] = []
        subs = [base.Subscription(key, exchange or "", queue) for exchange, key in routes]
        listener = ZmqListener(self, subs, "raw", collect=bodies.append)
        # exchange "" stays "" (a queue's own name), not the default exchange
        listener.registrations = list(dict.fromkeys(
            (f"{exchange}:{key}", member(listener.address, queue)) for exchange, key in routes))
        with self._lock:
            self._listeners.add(listener)
        self._raw_queues[queue] = bodies
        listener.start()
        return bodies

    # ------------------------------------------------------------------ cleanup

    def cleanup(self) -> None:
        with self._lock:
            self._closed = True
            sender, self._sender = self._sender, None
            listeners = list(self._listeners)
        for listener in listeners:
            listener.close_now()
        if sender is not None:
            sender.close()
        self._waiters.fail_all(RuntimeError("the zmq transport was cleaned up"))
        self.matchmaker.close()
        if self._auth is not None:
            self._auth.stop()
        self.context.destroy(linger=0)

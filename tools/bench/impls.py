"""The three implementations measured, behind one small interface.

- ``legacy-rpc`` and ``oslo``: the same oslo.messaging API (``get_rpc_transport``,
  ``get_rpc_client``, ``get_rpc_server(executor='threading')``, ``Notifier(driver=
  'messagingv2')``, ``get_notification_listener``) from ``legacy_rpc.messaging`` or
  ``oslo_messaging``, with default options (publisher confirms are on in both).
- ``legacy-api``: legacy-rpc driven through the legacy ``openstack.common.rpc`` API, as a
  2013 service: ``rpc.create_connection()``, ``create_consumer(topic, RpcDispatcher([...]))``,
  ``consume_in_thread()`` on the server; ``rpc.call``/``rpc.cast`` with the legacy
  ``rabbit_*`` options on the client; the legacy notifier (``rpc_notifier2``) to a
  new-style listener for notifications.
- ``raw``: hand-written request/reply on plain py-amqp, the floor. The server consumes a
  queue (manual ack, as both libraries ack requests) and publishes each reply to the
  caller's ``reply_to`` queue on the default exchange. A caller publishes with a
  correlation id and ``reply_to`` and drains its own exclusive reply queue; one connection
  and one channel per calling thread, no confirms on the round trip. Casts and notifications
  are confirmed publishes (``confirm_publish=True``) to a consumer that acks each message.

Only the implementation's own library is imported in its processes.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import threading
import urllib.parse
import warnings
from collections.abc import Callable
from typing import Any, Protocol

from bench.ipc import Tally

__all__ = ["IMPLS", "Impl", "Op", "make_impl"]

IMPLS = ("legacy-rpc", "legacy-api", "oslo", "raw")
SERVER_NAME = "bench-server"
CALL_TIMEOUT = 10.0
CTXT = {"user_id": "bench", "project_id": "bench", "request_id": "req-bench"}

Op = Callable[[str, bool], Any]
"""One operation: ``op(payload, measured)``; ``measured`` travels to the server's tally."""


class Impl(Protocol):
    def start_rpc_server(self, topic: str, tally: Tally) -> None: ...
    def start_listener(self, topic: str, tally: Tally) -> None: ...
    def stop_server(self) -> None: ...
    def make_op(self, kind: str, topic: str) -> Op: ...
    def reply_queues(self) -> list[str]: ...
    def close_client(self) -> None: ...


def queues_to_delete(topic: str) -> list[str]:
    """The shared queues a scenario leaves behind (the libraries do not delete them)."""
    return [topic, f"{topic}.{SERVER_NAME}", f"{topic}.info"]


# ------------------------------------------------------------------ the oslo.messaging API

class RpcEndpoint:
    def __init__(self, tally: Tally) -> None:
        self._tally = tally

    def echo(self, ctxt: Any, data: str, m: bool) -> str:
        self._tally.hit(m)
        return data

    def count(self, ctxt: Any, data: str, m: bool) -> None:
        self._tally.hit(m)


class NotifyEndpoint:
    def __init__(self, tally: Tally) -> None:
        self._tally = tally

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
             metadata: Any) -> None:
        self._tally.hit(payload.get("m") if isinstance(payload, dict) else False)


class ApiImpl:
    """legacy-rpc or oslo.messaging, driven through the oslo.messaging API."""

    def __init__(self, module: str, url: str) -> None:
        if module == "oslo_messaging":
            # oslo.messaging imports eventlet, which warns that it is deprecated.
            warnings.filterwarnings("ignore", message=r"(?s).*[Ee]ventlet")
        self.m: Any = importlib.import_module(module)
        from oslo_config import cfg

        # cfg.CONF, as services use: oslo.messaging 18.3.1 registers its tracing options
        # only there, and a call on a private ConfigOpts fails with NoSuchOptError.
        self.conf = cfg.CONF
        self.conf(args=[], project="bench", default_config_files=[], default_config_dirs=[])
        self.url = url
        self._transport: Any = None
        self._server: Any = None
        self._client: Any = None
        self._notifier: Any = None

    def start_rpc_server(self, topic: str, tally: Tally) -> None:
        self._transport = self.m.get_rpc_transport(self.conf, self.url)
        self._server = self.m.get_rpc_server(
            self._transport, self.m.Target(topic=topic, server=SERVER_NAME),
            [RpcEndpoint(tally)], executor="threading")
        self._server.start()

    def start_listener(self, topic: str, tally: Tally) -> None:
        self._transport = self.m.get_notification_transport(self.conf, self.url)
        self._server = self.m.get_notification_listener(
            self._transport, [self.m.Target(topic=topic)], [NotifyEndpoint(tally)],
            executor="threading")
        self._server.start()

    def stop_server(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server.wait()
        if self._transport is not None:
            self._transport.cleanup()

    def make_op(self, kind: str, topic: str) -> Op:
        """``call``/``cast`` share one client (one transport), as a service's threads do."""
        if kind == "notify":
            if self._notifier is None:
                self._transport = self.m.get_notification_transport(self.conf, self.url)
                self._notifier = self.m.Notifier(self._transport, publisher_id="bench.client",
                                                 driver="messagingv2", topics=[topic])
            notifier = self._notifier
            return lambda data, m: notifier.info(CTXT, "bench.event", {"data": data, "m": m})
        if self._client is None:
            self._transport = self.m.get_rpc_transport(self.conf, self.url)
            self._client = self.m.get_rpc_client(self._transport, self.m.Target(topic=topic),
                                                 timeout=CALL_TIMEOUT)
        client = self._client
        if kind == "call":
            return lambda data, m: client.call(CTXT, "echo", data=data, m=m)
        return lambda data, m: client.cast(CTXT, "count", data=data, m=m)

    def reply_queues(self) -> list[str]:
        """The reply queue the client declared, for deletion (it would expire in 30 min)."""
        driver = getattr(self._transport, "_driver", None)
        names = [getattr(driver, "_reply_q", None),                       # oslo.messaging
                 getattr(getattr(driver, "_reply", None), "queue_name", None)]  # legacy-rpc
        return [n for n in names if isinstance(n, str)]

    def close_client(self) -> None:
        if self._transport is not None:
            self._transport.cleanup()


# ------------------------------------------------------------------ the legacy API

class LegacyManager:
    """A 2013-style manager: methods take the context and the message's args."""

    RPC_API_VERSION = "1.0"

    def __init__(self, tally: Tally) -> None:
        self._tally = tally

    def echo(self, context: Any, data: str, m: bool) -> str:
        self._tally.hit(m)
        return data

    def count(self, context: Any, data: str, m: bool) -> None:
        self._tally.hit(m)


class LegacyApiImpl:
    """legacy-rpc through the legacy API, configured by the legacy options."""

    def __init__(self, url: str) -> None:
        from oslo_config import cfg

        from legacy_rpc import rpc
        from legacy_rpc.rpc import impl_kombu  # noqa: F401 - registers the rabbit options

        self.rpc: Any = rpc
        self.conf = cfg.CONF
        self.conf(args=[], project="bench", default_config_files=[], default_config_dirs=[])
        parsed = urllib.parse.urlsplit(url)
        for name, value in (
                ("rpc_backend", "nova.openstack.common.rpc.impl_kombu"),
                ("rabbit_host", parsed.hostname or "127.0.0.1"),
                ("rabbit_port", parsed.port or 5672),
                ("rabbit_userid", urllib.parse.unquote(parsed.username or "guest")),
                ("rabbit_password", urllib.parse.unquote(parsed.password or "guest")),
                ("rabbit_virtual_host",
                 urllib.parse.unquote(parsed.path[1:]) if len(parsed.path) > 1 else "/")):
            self.conf.set_override(name, value)
        self.url = url
        self._conn: Any = None
        self._api: ApiImpl | None = None

    def start_rpc_server(self, topic: str, tally: Tally) -> None:
        from legacy_rpc.rpc import dispatcher

        self._conn = self.rpc.create_connection(new=True)
        self._conn.create_consumer(topic, dispatcher.RpcDispatcher([LegacyManager(tally)]),
                                   fanout=False)
        self._conn.consume_in_thread()

    def start_listener(self, topic: str, tally: Tally) -> None:
        self._api = ApiImpl("legacy_rpc.messaging", self.url)
        self._api.start_listener(topic, tally)

    def stop_server(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._api is not None:
            self._api.stop_server()
        self.rpc.cleanup()

    def make_op(self, kind: str, topic: str) -> Op:
        rpc = self.rpc
        if kind == "notify":
            from legacy_rpc.notifier import api as notifier_api
            from legacy_rpc.notifier import rpc_notifier2  # noqa: F401 - registers its options

            self.conf.set_override("notification_driver",
                                   ["nova.openstack.common.notifier.rpc_notifier2"])
            self.conf.set_override("topics", [topic], group="rpc_notifier2")
            return lambda data, m: notifier_api.notify(CTXT, "bench.client", "bench.event",
                                                       "INFO", {"data": data, "m": m})
        if kind == "call":
            return lambda data, m: rpc.call(CTXT, topic, {"method": "echo",
                                                         "args": {"data": data, "m": m}},
                                            timeout=CALL_TIMEOUT)
        return lambda data, m: rpc.cast(CTXT, topic, {"method": "count",
                                                     "args": {"data": data, "m": m}})

    def reply_queues(self) -> list[str]:
        return []  # the legacy transports' reply queues expire by themselves

    def close_client(self) -> None:
        self.rpc.cleanup()


# ------------------------------------------------------------------ raw py-amqp

class RawImpl:
    """Hand-written py-amqp: the cost of the broker round trips and nothing else."""

    def __init__(self, url: str) -> None:
        import amqp

        self.amqp: Any = amqp
        parsed = urllib.parse.urlsplit(url)
        self._host = f"{parsed.hostname or 'localhost'}:{parsed.port or 5672}"
        self._user = urllib.parse.unquote(parsed.username or "guest")
        self._password = urllib.parse.unquote(parsed.password or "guest")
        self._vhost = urllib.parse.unquote(parsed.path[1:]) if len(parsed.path) > 1 else "/"
        self._conns: list[Any] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server_conn: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _connect(self, confirm: bool) -> Any:
        conn = self.amqp.Connection(host=self._host, userid=self._user,
                                    password=self._password, virtual_host=self._vhost,
                                    confirm_publish=confirm)
        conn.connect()
        self._conns.append(conn)
        return conn

    # The server: one consuming thread, which also publishes the replies.

    def _serve(self, queue: str, tally: Tally, binding: tuple[str, str] | None) -> None:
        try:
            self._serve_forever(queue, tally, binding)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            raise

    def _serve_forever(self, queue: str, tally: Tally, binding: tuple[str, str] | None) -> None:
        conn = self._connect(confirm=False)
        self._server_conn = conn
        ch = conn.channel()
        if binding is not None:
            ch.exchange_declare(binding[0], "topic", durable=False, auto_delete=True)
        ch.queue_declare(queue, durable=False, auto_delete=True)
        if binding is not None:
            ch.queue_bind(queue, binding[0], binding[1])
        message_cls = self.amqp.Message

        def on_message(msg: Any) -> None:
            body = json.loads(msg.body)
            ch.basic_ack(msg.delivery_tag)
            tally.hit(body.get("m"))
            reply_to = msg.properties.get("reply_to")
            if reply_to:
                reply = json.dumps({"result": body.get("data")})
                ch.basic_publish(
                    message_cls(reply, content_type="application/json",
                                correlation_id=msg.properties.get("correlation_id")),
                    exchange="", routing_key=reply_to)

        ch.basic_consume(queue, callback=on_message, no_ack=False)
        self._ready.set()
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                conn.drain_events(timeout=0.2)

    def _start(self, queue: str, tally: Tally, binding: tuple[str, str] | None) -> None:
        self._ready = threading.Event()
        self._error = None
        self._thread = threading.Thread(target=self._serve, args=(queue, tally, binding),
                                        name="raw-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the raw server did not start")
        if self._error is not None:
            raise RuntimeError(f"the raw server failed: {self._error!r}")

    def start_rpc_server(self, topic: str, tally: Tally) -> None:
        self._start(topic, tally, None)

    def start_listener(self, topic: str, tally: Tally) -> None:
        self._start(f"{topic}.info", tally, (f"{topic}_x", f"{topic}.info"))

    def stop_server(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.close_client()

    # The client: a connection and a channel per operation object (i.e. per thread).

    def make_op(self, kind: str, topic: str) -> Op:
        if kind == "call":
            return RawCaller(self._connect(confirm=False), topic, self.amqp.Message)
        ch = self._connect(confirm=True).channel()
        message_cls = self.amqp.Message
        if kind == "cast":
            exchange, routing_key = "", topic
        else:
            exchange, routing_key = f"{topic}_x", f"{topic}.info"

        def publish(data: str, m: bool) -> None:
            body = json.dumps({"method": "count", "data": data, "m": m})
            ch.basic_publish(message_cls(body, content_type="application/json"),
                             exchange=exchange, routing_key=routing_key)

        return publish

    def reply_queues(self) -> list[str]:
        return []  # exclusive and server-named: they go with their connections

    def close_client(self) -> None:
        conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.close()
            except Exception:
                conn.collect()


class RawCaller:
    """One thread's request/reply: publish with correlation id, drain until the reply."""

    def __init__(self, conn: Any, topic: str, message_cls: Any) -> None:
        self._conn = conn
        self._ch = conn.channel()
        self._topic = topic
        self._message_cls = message_cls
        self._reply_q: str = self._ch.queue_declare("", exclusive=True, auto_delete=True)[0]
        self._ch.basic_consume(self._reply_q, callback=self._on_reply, no_ack=True)
        self._seq = 0
        self._replies: dict[str, Any] = {}

    def _on_reply(self, msg: Any) -> None:
        self._replies[msg.properties.get("correlation_id")] = msg

    def __call__(self, data: str, m: bool) -> Any:
        self._seq += 1
        corr = str(self._seq)
        body = json.dumps({"method": "echo", "data": data, "m": m})
        self._ch.basic_publish(
            self._message_cls(body, content_type="application/json", correlation_id=corr,
                              reply_to=self._reply_q),
            exchange="", routing_key=self._topic)
        while corr not in self._replies:
            self._conn.drain_events(timeout=CALL_TIMEOUT)  # TimeoutError: the call failed
        return json.loads(self._replies.pop(corr).body)["result"]


def make_impl(name: str, url: str) -> Impl:
    if name == "legacy-rpc":
        return ApiImpl("legacy_rpc.messaging", url)
    if name == "legacy-api":
        return LegacyApiImpl(url)
    if name == "oslo":
        return ApiImpl("oslo_messaging", url)
    if name == "raw":
        return RawImpl(url)
    raise ValueError(f"unknown implementation {name!r}; known: {', '.join(IMPLS)}")

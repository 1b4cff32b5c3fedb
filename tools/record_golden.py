#!/usr/bin/env python3
"""Record golden wire messages from a real oslo.messaging against RabbitMQ.

    .venv/bin/python tools/record_golden.py [--url rabbit://guest:guest@127.0.0.1:5672/]
                                            [--out compat/golden]

oslo.messaging runs in this process (an RPC server, an RPC client and notifiers, all
``executor='threading'``); plain py-amqp consumers capture what it puts on the wire: the exact
body bytes, the AMQP properties (content_type, content_encoding, delivery_mode, priority,
application_headers, expiration) and the exchange and routing key of:

- a call request (namespace and version), a cast, a server-targeted cast, a fanout cast:
  capture queues bound next to the server's queues (a topic or fanout exchange copies each
  message to every bound queue);
- a reply, failure replies (ValueError, NoSuchMethod) and a call-monitor heartbeat: requests
  are published by hand to the oslo server with ``_reply_q`` naming a capture queue, since
  replies go through the default exchange straight to the caller's queue;
- notifications from the ``messagingv2`` and ``messaging`` (v1) drivers: read from the
  ``<topic>.info`` queue the notifier itself declares.

Each message becomes one pretty JSON file with a header (what it is, the inputs, the
oslo.messaging / kombu / py-amqp / RabbitMQ versions). ``tests/unit/test_golden.py`` checks
legacy_rpc's wire module against them without a broker. This tool imports no legacy_rpc code.
Names are fixed (``golden_*``) so files differ between recordings only in random ids and
timestamps; the names are deleted before and after recording.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import sys
import threading
import time
import uuid
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

warnings.simplefilter("ignore")  # oslo.messaging warns about eventlet and deprecations

import amqp  # noqa: E402
import oslo_messaging  # noqa: E402
from oslo_config import cfg  # noqa: E402
from oslo_context import context as oslo_context  # noqa: E402

LOG = logging.getLogger("record_golden")

EXCHANGE = "golden_exchange"
TOPIC = "golden_topic"
SERVER = "golden_server"
NOTIFY_TOPIC = "golden_notifications"
CAPTURE_REQUESTS = "golden_capture_requests"
CAPTURE_FANOUT = "golden_capture_fanout"
CAPTURE_REPLIES = "golden_capture_replies"
NOTIFY_QUEUE = f"{NOTIFY_TOPIC}.info"

CTXT = {"user": "u1", "project_id": "p1"}
NOTIFY_CTXT: dict[str, Any] = {"user_id": "u1", "project_id": "p1",
                               "request_id": "req-golden"}
PROPERTY_NAMES = ("content_type", "content_encoding", "delivery_mode", "priority",
                  "application_headers", "expiration")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "compat" / "golden"


# --------------------------------------------------------------------------- oslo side

class GoldenEndpoint:
    def add(self, ctxt: Any, a: int, b: int) -> int:
        return a + b

    def fail(self, ctxt: Any, text: str) -> None:
        raise ValueError(text, 42)

    def slow(self, ctxt: Any, seconds: float) -> dict[str, Any]:
        time.sleep(seconds)  # long enough for call-monitor heartbeats
        return {"slept": seconds}


class VersionedEndpoint:
    target = oslo_messaging.Target(namespace="golden_ns", version="1.2")

    def multiply(self, ctxt: Any, a: int, b: int) -> int:
        return a * b


# --------------------------------------------------------------------------- capture side

class Capture:
    """A py-amqp connection with capture queues; each delivery is kept with its metadata."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url.split(",")[0])
        self.conn = amqp.Connection(
            host=f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}",
            userid=unquote(parts.username or "guest"),
            password=unquote(parts.password or "guest"),
            virtual_host=unquote(parts.path[1:]) or "/")
        self.conn.connect()
        self.broker_version = str(self.conn.server_properties.get("version", "?"))
        self.channel = self.conn.channel()
        self.captured: dict[str, list[dict[str, Any]]] = {}

    def delete_everything(self) -> None:
        """Remove what an earlier recording may have left behind."""
        for name in (TOPIC, f"{TOPIC}.{SERVER}", CAPTURE_REQUESTS, CAPTURE_FANOUT,
                     CAPTURE_REPLIES, NOTIFY_QUEUE):
            self.channel.queue_delete(name)
        for name in (EXCHANGE, f"{TOPIC}_fanout"):
            self.channel.exchange_delete(name)

    def capture(self, queue: str) -> None:
        self.captured[queue] = []

        def on_message(message: amqp.Message) -> None:
            body = message.body
            raw = body if isinstance(body, bytes | bytearray) else body.encode("utf-8")
            self.captured[queue].append({
                "exchange": message.delivery_info.get("exchange"),
                "routing_key": message.delivery_info.get("routing_key"),
                "properties": {name: message.properties[name] for name in PROPERTY_NAMES
                               if name in message.properties},
                "body": bytes(raw).decode("utf-8"),
            })

        self.channel.basic_consume(queue, no_ack=True, callback=on_message)

    def setup(self) -> None:
        ch = self.channel
        # The same flags as oslo.messaging's declarations, or RabbitMQ refuses them.
        ch.exchange_declare(EXCHANGE, "topic", durable=False, auto_delete=False)
        ch.exchange_declare(f"{TOPIC}_fanout", "fanout", durable=False, auto_delete=True)
        ch.queue_declare(CAPTURE_REQUESTS, durable=False, auto_delete=True)
        ch.queue_bind(CAPTURE_REQUESTS, EXCHANGE, TOPIC)
        ch.queue_bind(CAPTURE_REQUESTS, EXCHANGE, f"{TOPIC}.{SERVER}")
        ch.queue_declare(CAPTURE_FANOUT, durable=False, auto_delete=True)
        ch.queue_bind(CAPTURE_FANOUT, f"{TOPIC}_fanout", TOPIC)
        ch.queue_declare(CAPTURE_REPLIES, durable=False, auto_delete=False,
                         arguments={"x-expires": 1800000})
        ch.queue_declare(NOTIFY_QUEUE, durable=False, auto_delete=False)
        for queue in (CAPTURE_REQUESTS, CAPTURE_FANOUT, CAPTURE_REPLIES, NOTIFY_QUEUE):
            self.capture(queue)

    def wait(self, queue: str, count: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Consume until ``queue`` has ``count`` messages; return them and forget them."""
        deadline = time.monotonic() + timeout
        while len(self.captured[queue]) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"{queue}: got {len(self.captured[queue])} of {count} "
                                   "message(s) in time")
            try:
                self.conn.drain_events(timeout=min(0.5, remaining))
            except TimeoutError:
                continue
        taken, self.captured[queue] = self.captured[queue][:count], \
            self.captured[queue][count:]
        return taken

    def publish_request(self, inner: dict[str, Any], routing_key: str) -> None:
        """Send a request built by hand (2.0 envelope) as oslo.messaging would."""
        body = json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)})
        message = amqp.Message(body.encode("utf-8"), content_type="application/json",
                               content_encoding="utf-8", delivery_mode=2, priority=0,
                               application_headers={})
        self.channel.basic_publish(message, exchange=EXCHANGE, routing_key=routing_key)

    def close(self) -> None:
        try:
            self.channel.close()  # stop consuming before the queues go away
            self.channel = self.conn.channel()
            self.delete_everything()
        finally:
            self.conn.close()


# --------------------------------------------------------------------------- recording

def golden(name: str, description: str, captured: dict[str, Any], inputs: dict[str, Any],
           versions: dict[str, str]) -> dict[str, Any]:
    decoded = json.loads(captured["body"])
    enveloped = isinstance(decoded, dict) and "oslo.message" in decoded
    return {
        "about": {
            "name": name,
            "description": description,
            "recorded_by": "tools/record_golden.py",
            "recorded_at": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
            "versions": versions,
            "inputs": inputs,
        },
        "amqp": {
            "exchange": captured["exchange"],
            "routing_key": captured["routing_key"],
            "properties": captured["properties"],
        },
        "body": captured["body"],
        "decoded": decoded,
        "message": json.loads(decoded["oslo.message"]) if enveloped else decoded,
    }


def record(url: str, out: Path) -> list[Path]:
    versions = {"oslo.messaging": version("oslo.messaging"), "kombu": version("kombu"),
                "amqp": version("amqp"), "python": platform.python_version()}
    capture = Capture(url)
    versions["rabbitmq"] = capture.broker_version
    capture.delete_everything()
    capture.setup()

    oslo_messaging.set_transport_defaults(control_exchange=EXCHANGE)
    conf = cfg.CONF  # 18.3.1 registers its tracing options on the global CONF only
    conf([], project="record-golden")
    transport = oslo_messaging.get_rpc_transport(conf, url)
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(exchange=EXCHANGE, topic=TOPIC, server=SERVER),
        [GoldenEndpoint(), VersionedEndpoint()], executor="threading")
    server.start()
    client = oslo_messaging.get_rpc_client(
        transport, oslo_messaging.Target(exchange=EXCHANGE, topic=TOPIC))
    files: dict[str, dict[str, Any]] = {}
    try:
        # ---- requests, from oslo's RPCClient
        inputs: dict[str, Any] = {"ctxt": CTXT, "method": "multiply", "args": {"a": 6, "b": 7},
                                  "namespace": "golden_ns", "version": "1.2", "timeout": 60,
                                  "call_monitor_timeout": None}
        result = client.prepare(namespace="golden_ns", version="1.2", timeout=60).call(
            CTXT, "multiply", a=6, b=7)
        assert result == 42, result
        files["rpc_call_request"] = golden(
            "rpc_call_request", "RPCClient.call() request with namespace and version",
            capture.wait(CAPTURE_REQUESTS)[0], inputs, versions)

        inputs = {"ctxt": CTXT, "method": "add", "args": {"a": 1, "b": 2}}
        client.cast(CTXT, "add", a=1, b=2)
        files["rpc_cast_request"] = golden(
            "rpc_cast_request", "RPCClient.cast() request to a topic",
            capture.wait(CAPTURE_REQUESTS)[0], inputs, versions)

        inputs = {"ctxt": CTXT, "method": "add", "args": {"a": 3, "b": 4}, "server": SERVER}
        client.prepare(server=SERVER).cast(CTXT, "add", a=3, b=4)
        files["rpc_cast_server_request"] = golden(
            "rpc_cast_server_request", "RPCClient.prepare(server=...).cast() request",
            capture.wait(CAPTURE_REQUESTS)[0], inputs, versions)

        inputs = {"ctxt": CTXT, "method": "add", "args": {"a": 5, "b": 6}, "fanout": True}
        client.prepare(fanout=True).cast(CTXT, "add", a=5, b=6)
        files["rpc_fanout_cast_request"] = golden(
            "rpc_fanout_cast_request", "RPCClient.prepare(fanout=True).cast() request",
            capture.wait(CAPTURE_FANOUT)[0], inputs, versions)

        # ---- replies, from oslo's RPC server, to requests sent by hand
        template = files["rpc_cast_request"]["message"]
        context_keys = {k: v for k, v in template.items() if k.startswith("_context_")}

        def ask(method: str, args: dict[str, Any], call_monitor_timeout: float | None,
                count: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            inner = {"method": method, "args": args, "_msg_id": uuid.uuid4().hex,
                     "_reply_q": CAPTURE_REPLIES, "_timeout": call_monitor_timeout,
                     "_unique_id": uuid.uuid4().hex, **context_keys}
            capture.publish_request(inner, f"{TOPIC}.{SERVER}")
            capture.wait(CAPTURE_REQUESTS)  # our own request, copied to the capture queue
            return inner, capture.wait(CAPTURE_REPLIES, count)

        request, replies = ask("add", {"a": 20, "b": 22}, None, 1)
        files["rpc_reply"] = golden(
            "rpc_reply", "RPC server reply with a result (add(a=20, b=22) = 42)", replies[0],
            {"request": request, "result": 42}, versions)

        request, replies = ask("fail", {"text": "bad value"}, None, 1)
        files["rpc_failure_valueerror"] = golden(
            "rpc_failure_valueerror", "RPC server failure reply: the endpoint raised "
            "ValueError('bad value', 42)", replies[0],
            {"request": request, "exception": "ValueError('bad value', 42)"}, versions)

        request, replies = ask("no_such_method", {}, None, 1)
        files["rpc_failure_nosuchmethod"] = golden(
            "rpc_failure_nosuchmethod", "RPC server failure reply: NoSuchMethod for an "
            "unknown method", replies[0],
            {"request": request, "exception": "NoSuchMethod('no_such_method')"}, versions)

        request, replies = ask("slow", {"seconds": 1.5}, 2, 2)
        files["rpc_heartbeat"] = golden(
            "rpc_heartbeat", "RPC server call-monitor heartbeat (request _timeout=2, the "
            "method runs 1.5 s; one heartbeat after int(2)/2 = 1 s)", replies[0],
            {"request": request}, versions)
        files["rpc_reply_after_heartbeat"] = golden(
            "rpc_reply_after_heartbeat", "RPC server final reply after a heartbeat",
            replies[1], {"request": request, "result": {"slept": 1.5}}, versions)

        # ---- notifications
        notify_transport = oslo_messaging.get_notification_transport(conf, url)
        try:
            for name, driver, description in (
                    ("notification_v2", "messagingv2", "Notifier(driver='messagingv2').info()"),
                    ("notification_v1", "messaging", "Notifier(driver='messaging').info()")):
                notifier = oslo_messaging.Notifier(notify_transport, driver=driver,
                                                   topics=[NOTIFY_TOPIC])
                ctxt = oslo_context.RequestContext(**NOTIFY_CTXT)
                inputs = {"driver": driver, "topics": [NOTIFY_TOPIC],
                          "publisher_id": "compute.host1",
                          "event_type": "compute.instance.create.end", "priority": "INFO",
                          "payload": {"id": 1, "name": "vm1", "tags": ["a", "b"]},
                          "ctxt": ctxt.redacted_copy().to_dict(),
                          "ctxt_class": "oslo_context.context.RequestContext"}
                notifier.prepare(publisher_id="compute.host1").info(
                    ctxt, "compute.instance.create.end", inputs["payload"])
                files[name] = golden(name, description, capture.wait(NOTIFY_QUEUE)[0],
                                     inputs, versions)
        finally:
            notify_transport.cleanup()
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
        capture.close()

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        path = out / f"{name}.json"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default="rabbit://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # The failures recorded on purpose are logged by oslo's server; channel-closing chatter too.
    logging.getLogger("oslo_messaging.rpc.server").setLevel(logging.CRITICAL)
    logging.getLogger("amqp").setLevel(logging.ERROR)
    def give_up() -> None:
        print("record_golden: stuck for 120 s, giving up", file=sys.stderr, flush=True)
        os._exit(3)  # from a timer thread, only this ends the process

    watchdog = threading.Timer(120, give_up)
    watchdog.daemon = True
    watchdog.start()
    for path in record(args.url, args.out):
        print(path)
    watchdog.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

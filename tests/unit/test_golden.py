"""Our wire format against golden messages recorded from oslo.messaging 18.3.1.

The files in ``compat/golden/`` were captured off RabbitMQ by ``tools/record_golden.py``
(see ``compat/README.md``). No broker is needed here:

- every golden message is parsed with ``legacy_rpc.messaging.wire`` and gives the fields
  oslo.messaging was given;
- the same operations are run through our rabbit driver with a recording channel in place of
  the broker, and what it would publish is compared with the golden message: exchange,
  routing key, the AMQP properties, the envelope, the keys and their order, and the body
  byte for byte once the random ids (``_msg_id``, ``_unique_id``, ``message_id``, the reply
  queue, the timestamp) are replaced by the golden ones.

Seams used (driver internals; adjust here if they move): ``BrokerConnection.ensure`` runs
the publish action on the recording channel, ``_driver.ReplyConsumer`` is replaced by a
consumer that needs no broker, and replies are sent through ``RabbitRpcIncoming``.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

pytest.importorskip("amqp", reason="the rabbit driver needs py-amqp (extra 'rabbit')")

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging import _jsonutils, opts, wire
from legacy_rpc.messaging.drivers.rabbit import _connection, _driver, _listeners
from legacy_rpc.messaging.rpc.dispatcher import NoSuchMethod

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "compat" / "golden"
EXPECTED = {
    "rpc_call_request", "rpc_cast_request", "rpc_cast_server_request",
    "rpc_fanout_cast_request", "rpc_reply", "rpc_failure_valueerror",
    "rpc_failure_nosuchmethod", "rpc_heartbeat", "rpc_reply_after_heartbeat",
    "notification_v2", "notification_v1",
}
REQUESTS = ("rpc_call_request", "rpc_cast_request", "rpc_cast_server_request",
            "rpc_fanout_cast_request")
FAILURE_KEYS = ["class", "module", "message", "tb", "args", "kwargs"]
# A URL that is never connected to: the recording channel stands in for the broker.
UNUSED_URL = "rabbit://guest:guest@127.0.0.1:1/"

HEX32 = re.compile(r"^[0-9a-f]{32}$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$")
RANDOM_FIELDS: dict[str, re.Pattern[str]] = {
    "_msg_id": HEX32, "_unique_id": HEX32, "message_id": UUID4, "timestamp": TIMESTAMP,
    "_reply_q": re.compile(r"^reply_[0-9a-f]{32}$|^golden_capture_replies$"),
}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN_DIR / f"{name}.json").read_text("utf-8"))
    return data


def body_bytes(golden: dict[str, Any]) -> bytes:
    return str(golden["body"]).encode("utf-8")


def inputs(golden: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = golden["about"]["inputs"]
    return result


# --------------------------------------------------------------------------- the files

def test_every_golden_message_is_present_and_well_formed() -> None:
    names = {path.stem for path in GOLDEN_DIR.glob("*.json")}
    assert names >= EXPECTED, f"missing: {sorted(EXPECTED - names)}"
    for name in EXPECTED:
        golden = load(name)
        about = golden["about"]
        assert about["name"] == name
        assert about["versions"]["oslo.messaging"] == "18.3.1"
        assert {"kombu", "amqp"} <= set(about["versions"])
        assert json.loads(golden["body"]) == golden["decoded"]


# --------------------------------------------------------------------------- parsing

@pytest.mark.parametrize("name", REQUESTS)
def test_parse_golden_request(name: str) -> None:
    golden = load(name)
    given = inputs(golden)
    request = wire.parse_request(wire.decode_body(body_bytes(golden)))
    assert request.method == given["method"]
    assert request.args == given["args"]
    assert request.message.get("namespace") == given.get("namespace")
    assert request.message.get("version") == given.get("version")
    assert request.ctxt == given["ctxt"]
    assert request.client_timeout == given.get("call_monitor_timeout")
    assert request.unique_id == golden["message"]["_unique_id"]
    if name == "rpc_call_request":
        assert request.is_call
        assert request.msg_id == golden["message"]["_msg_id"]
        assert request.reply_q == golden["message"]["_reply_q"]
    else:
        assert not request.is_call
        assert request.reply_q is None


@pytest.mark.parametrize("name,kind,value", [
    ("rpc_reply", wire.ReplyKind.END, 42),
    ("rpc_reply_after_heartbeat", wire.ReplyKind.END, {"slept": 1.5}),
    ("rpc_heartbeat", wire.ReplyKind.HEARTBEAT, None),
])
def test_parse_golden_reply(name: str, kind: wire.ReplyKind, value: Any) -> None:
    golden = load(name)
    reply = wire.parse_reply(wire.decode_body(body_bytes(golden)))
    assert reply.kind is kind
    assert reply.value == value
    assert reply.msg_id == inputs(golden)["request"]["_msg_id"]
    assert reply.unique_id == golden["message"]["_unique_id"]


def test_parse_golden_valueerror_failure() -> None:
    golden = load("rpc_failure_valueerror")
    reply = wire.parse_reply(wire.decode_body(body_bytes(golden)))
    assert reply.kind is wire.ReplyKind.FAILURE
    assert reply.msg_id == inputs(golden)["request"]["_msg_id"]
    assert reply.failure is not None
    exc = wire.deserialize_remote_exception(reply.failure, [])
    assert isinstance(exc, ValueError)
    assert "bad value" in str(exc)
    assert "Traceback" in str(exc)  # the remote traceback is kept


def test_parse_golden_nosuchmethod_failure() -> None:
    golden = load("rpc_failure_nosuchmethod")
    reply = wire.parse_reply(wire.decode_body(body_bytes(golden)))
    assert reply.kind is wire.ReplyKind.FAILURE
    assert reply.failure is not None
    exc = wire.deserialize_remote_exception(reply.failure, [])
    assert isinstance(exc, messaging.RemoteError)
    assert exc.exc_type == "NoSuchMethod"
    assert exc.value == "Endpoint does not support RPC method no_such_method"
    # oslo's module name, when allowed, maps to our class
    allowed = wire.deserialize_remote_exception(reply.failure,
                                                ["oslo_messaging.rpc.dispatcher"])
    assert isinstance(allowed, NoSuchMethod)


@pytest.mark.parametrize("name", ["notification_v2", "notification_v1"])
def test_parse_golden_notification(name: str) -> None:
    golden = load(name)
    given = inputs(golden)
    note = wire.parse_notification(wire.decode_body(body_bytes(golden)))
    assert note.priority == "info"
    assert note.publisher_id == given["publisher_id"]
    assert note.event_type == given["event_type"]
    assert note.payload == given["payload"]
    assert note.metadata == {"message_id": golden["message"]["message_id"],
                             "timestamp": golden["message"]["timestamp"]}
    assert note.ctxt == given["ctxt"]
    assert note.unique_id == golden["message"]["_unique_id"]
    assert wire.notification_message(note)["priority"] == "info"


def test_envelope_forms() -> None:
    for name in EXPECTED - {"notification_v1"}:
        decoded = load(name)["decoded"]
        assert list(decoded) == ["oslo.version", "oslo.message"], name
        assert decoded["oslo.version"] == "2.0"
        assert isinstance(decoded["oslo.message"], str)
    # v1 notifications have no envelope: the bare dict is the body
    v1 = load("notification_v1")
    assert "oslo.message" not in v1["decoded"] and v1["decoded"] == v1["message"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_our_encoder_reproduces_golden_bytes(name: str) -> None:
    """Re-encoding the decoded golden message with our encoder gives the same bytes
    (separators, escaping, and for enveloped messages the inner JSON text)."""
    golden = load(name)
    assert wire.encode_body(golden["decoded"]) == body_bytes(golden)
    if name != "notification_v1":
        assert _jsonutils.dumps(golden["message"]) == golden["decoded"]["oslo.message"]
        assert wire.serialize_msg(golden["message"]) == golden["decoded"]


# --------------------------------------------------------------------------- what we publish

@dataclass
class Published:
    exchange: str
    routing_key: str
    mandatory: bool
    properties: dict[str, Any]
    body: bytes

    @property
    def decoded(self) -> Any:
        return json.loads(self.body)

    @property
    def message(self) -> dict[str, Any]:
        decoded = self.decoded
        if isinstance(decoded, dict) and "oslo.message" in decoded:
            inner: dict[str, Any] = json.loads(decoded["oslo.message"])
            return inner
        assert isinstance(decoded, dict)
        return decoded


@dataclass
class RecordingChannel:
    """Stands in for a py-amqp channel: records publishes, accepts declarations."""

    published: list[Published] = field(default_factory=list)
    on_publish: Callable[[Published], None] | None = None

    def basic_publish(self, message: Any, exchange: str = "", routing_key: str = "",
                      mandatory: bool = False, **_kwargs: Any) -> None:
        body = message.body if isinstance(message.body, bytes) else \
            str(message.body).encode("utf-8")
        item = Published(exchange, routing_key, mandatory, dict(message.properties), body)
        self.published.append(item)
        if self.on_publish is not None:
            self.on_publish(item)

    def confirm_select(self) -> None:
        pass

    def exchange_declare(self, *args: Any, **kwargs: Any) -> None:
        pass

    def queue_declare(self, *args: Any, **kwargs: Any) -> None:
        pass

    def queue_bind(self, *args: Any, **kwargs: Any) -> None:
        pass


class FakeReplyConsumer:
    """Replaces the reply queue consumer: no broker; replies are handed to the waiters."""

    instances: list[FakeReplyConsumer] = []

    def __init__(self, driver: Any, waiters: Any, *_args: Any, **_kwargs: Any) -> None:
        self.queue_name = f"reply_{uuid.uuid4().hex}"
        self.waiters = waiters
        FakeReplyConsumer.instances.append(self)

    def close(self) -> None:
        pass


@pytest.fixture
def channel(monkeypatch: pytest.MonkeyPatch) -> RecordingChannel:
    recording = RecordingChannel()

    def ensure(self: _connection.BrokerConnection, action: Callable[[Any], Any],
               **_kwargs: Any) -> Any:
        self._channel = recording
        return action(recording)

    monkeypatch.setattr(_connection.BrokerConnection, "ensure", ensure)
    # The recording channel confirms every publish at once.
    monkeypatch.setattr(_connection.BrokerConnection, "_wait_confirm",
                        lambda self, deadline: None)
    monkeypatch.setattr(_driver, "ReplyConsumer", FakeReplyConsumer)
    FakeReplyConsumer.instances.clear()
    return recording


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([], project="legacy-rpc-golden")
    return conf


@pytest.fixture
def rpc_transport(conf: cfg.ConfigOpts,
                  channel: RecordingChannel) -> Iterator[messaging.Transport]:
    transport = messaging.get_rpc_transport(conf, UNUSED_URL)
    yield transport
    transport.cleanup()


def assert_same_message(ours: dict[str, Any], golden: dict[str, Any]) -> None:
    """Same keys in the same order; equal values, except random ones of the same form."""
    assert list(ours) == list(golden), f"key order: ours {list(ours)}, oslo {list(golden)}"
    for key, value in golden.items():
        pattern = RANDOM_FIELDS.get(key)
        if pattern is not None and isinstance(value, str):
            assert isinstance(ours[key], str) and pattern.match(ours[key]), (key, ours[key])
        else:
            assert ours[key] == value, (key, ours[key], value)


def assert_same_bytes(published: Published, golden: dict[str, Any]) -> None:
    """Our body, with our random values swapped for the golden ones, is the golden body."""
    ours_message, golden_message = published.message, golden["message"]
    text = published.body.decode("utf-8")
    for key in RANDOM_FIELDS:
        if isinstance(ours_message.get(key), str) and isinstance(golden_message.get(key), str):
            assert ours_message[key] in text
            text = text.replace(ours_message[key], golden_message[key])
    assert text == golden["body"]


def assert_same_amqp(published: Published, golden: dict[str, Any],
                     routing_key: str | None = None) -> None:
    amqp_info = golden["amqp"]
    assert published.exchange == amqp_info["exchange"]
    assert published.routing_key == (routing_key if routing_key is not None
                                     else amqp_info["routing_key"])
    properties, expected = dict(published.properties), dict(amqp_info["properties"])
    if "expiration" in expected:
        # oslo sends the whole timeout; a call here sends what is left of its deadline
        # (never more: the request must not outlive its caller), a few ms less at most.
        ttl, full = int(properties.pop("expiration")), int(expected.pop("expiration"))
        assert full - 1000 < ttl <= full
    assert properties == expected


def test_rabbit_driver_property_set_matches_oslo() -> None:
    """JSON_PROPERTIES plus the empty headers is exactly what oslo puts on every message."""
    for name in EXPECTED:
        properties = dict(load(name)["amqp"]["properties"])
        properties.pop("expiration", None)
        assert properties == {**_connection.JSON_PROPERTIES, "application_headers": {}}, name


def test_call_request_matches_golden(rpc_transport: messaging.Transport,
                                     channel: RecordingChannel) -> None:
    golden, reply = load("rpc_call_request"), load("rpc_reply")
    given = inputs(golden)

    def answer(published: Published) -> None:
        # oslo's golden reply (42), re-addressed to this call, through the reply path
        msg_id = published.message["_msg_id"]
        body = reply["body"].replace(reply["message"]["_msg_id"], msg_id)
        FakeReplyConsumer.instances[-1].waiters.deliver(wire.decode_body(body.encode()))

    channel.on_publish = answer
    client = messaging.get_rpc_client(
        rpc_transport, messaging.Target(topic=golden["amqp"]["routing_key"],
                                        exchange=golden["amqp"]["exchange"]))
    result = client.prepare(namespace=given["namespace"], version=given["version"],
                            timeout=given["timeout"]).call(given["ctxt"], given["method"],
                                                           **given["args"])
    assert result == 42
    [published] = channel.published
    # Unlike oslo, requests to a topic are mandatory (a flag of the publish method, not of
    # the message): one the broker cannot route yet is sent again instead of being lost.
    assert published.mandatory
    assert_same_amqp(published, golden)
    assert list(published.decoded) == ["oslo.version", "oslo.message"]
    assert_same_message(published.message, golden["message"])
    assert published.message["_reply_q"] == FakeReplyConsumer.instances[-1].queue_name
    assert_same_bytes(published, golden)


@pytest.mark.parametrize("name", ["rpc_cast_request", "rpc_cast_server_request",
                                  "rpc_fanout_cast_request"])
def test_cast_request_matches_golden(rpc_transport: messaging.Transport,
                                     channel: RecordingChannel, name: str) -> None:
    golden, topic = load(name), load("rpc_cast_request")["amqp"]["routing_key"]
    given = inputs(golden)
    client = messaging.get_rpc_client(
        rpc_transport, messaging.Target(topic=topic,
                                        exchange=load("rpc_cast_request")["amqp"]["exchange"]))
    prepared = client.prepare(server=given.get("server"), fanout=given.get("fanout"))
    prepared.cast(given["ctxt"], given["method"], **given["args"])
    [published] = channel.published
    assert published.mandatory == (not given.get("fanout"))  # as for calls, above
    assert_same_amqp(published, golden)
    assert_same_message(published.message, golden["message"])
    assert_same_bytes(published, golden)


def _incoming(driver: Any, golden: dict[str, Any]) -> Any:
    request_body = wire.serialize_msg(inputs(golden)["request"])
    request = wire.parse_request(request_body)
    return _listeners.RabbitRpcIncoming(driver, request)


@pytest.mark.parametrize("name,result", [("rpc_reply", 42),
                                         ("rpc_reply_after_heartbeat", {"slept": 1.5})])
def test_reply_matches_golden(rpc_transport: messaging.Transport, channel: RecordingChannel,
                              name: str, result: Any) -> None:
    golden = load(name)
    _incoming(rpc_transport._driver, golden).reply(result)
    [published] = channel.published
    assert published.mandatory  # replies are mandatory: a missing caller is noticed
    assert_same_amqp(published, golden)
    assert_same_message(published.message, golden["message"])
    assert published.message["_msg_id"] == golden["message"]["_msg_id"]
    assert_same_bytes(published, golden)


def test_heartbeat_matches_golden(rpc_transport: messaging.Transport,
                                  channel: RecordingChannel) -> None:
    golden = load("rpc_heartbeat")
    _incoming(rpc_transport._driver, golden).heartbeat()
    [published] = channel.published
    assert published.mandatory
    assert_same_amqp(published, golden)
    assert_same_message(published.message, golden["message"])
    assert_same_bytes(published, golden)


def _raise(exc: BaseException) -> Any:
    try:
        raise exc
    except BaseException:
        return sys.exc_info()


@pytest.mark.parametrize("name,exc", [
    ("rpc_failure_valueerror", ValueError("bad value", 42)),
    ("rpc_failure_nosuchmethod", NoSuchMethod("no_such_method")),
])
def test_failure_reply_matches_golden(rpc_transport: messaging.Transport,
                                      channel: RecordingChannel, name: str,
                                      exc: BaseException) -> None:
    golden = load(name)
    _incoming(rpc_transport._driver, golden).reply(failure=_raise(exc))
    [published] = channel.published
    assert published.mandatory
    assert_same_amqp(published, golden)
    ours, theirs = published.message, golden["message"]
    assert list(ours) == list(theirs)
    assert ours["result"] is None and ours["ending"] is True
    assert ours["_msg_id"] == theirs["_msg_id"]
    # the failure travels as JSON text with the same keys, order and values (but the
    # traceback, which names each side's own files)
    our_failure, oslo_failure = json.loads(ours["failure"]), json.loads(theirs["failure"])
    assert list(our_failure) == list(oslo_failure) == FAILURE_KEYS
    for key in ("class", "module", "message", "args", "kwargs"):
        assert our_failure[key] == oslo_failure[key], key
    assert isinstance(our_failure["tb"], list) and our_failure["tb"]
    assert our_failure["tb"][0] == oslo_failure["tb"][0] == "Traceback (most recent call last):\n"


class _RedactedContext:
    """A context object, as oslo.context's, that notifications carry (dicts are dropped)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def redacted_copy(self) -> dict[str, Any]:
        return dict(self.values)


@pytest.mark.parametrize("name", ["notification_v2", "notification_v1"])
def test_notification_matches_golden(conf: cfg.ConfigOpts, channel: RecordingChannel,
                                     name: str) -> None:
    golden = load(name)
    given = inputs(golden)
    opts.register_transport_opts(conf)
    conf.set_override("control_exchange", golden["amqp"]["exchange"])
    transport = messaging.get_notification_transport(conf, UNUSED_URL)
    try:
        notifier = messaging.Notifier(transport, publisher_id=given["publisher_id"],
                                      driver=given["driver"], topics=given["topics"])
        getattr(notifier, given["priority"].lower())(
            _RedactedContext(given["ctxt"]), given["event_type"], given["payload"])
    finally:
        transport.cleanup()
    [published] = channel.published
    assert not published.mandatory
    assert_same_amqp(published, golden)
    if name == "notification_v1":
        assert "oslo.message" not in published.decoded
    else:
        assert list(published.decoded) == ["oslo.version", "oslo.message"]
    assert_same_message(published.message, golden["message"])
    assert_same_bytes(published, golden)

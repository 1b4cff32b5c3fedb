"""Driver contract: bad or foreign input never kills a server, secrets never reach the log.

Also: messages in the older formats (no envelope, callers without ``_reply_q``) are served,
and duplicates of a request are dropped.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging import wire
from tests.contract.conftest import RawAccess
from tests.helpers import wait_for

StartServer = Callable[..., messaging.MessageHandlingServer]


class Echo:
    def __init__(self) -> None:
        self.received: list[Any] = []
        self.event = threading.Event()

    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        self.received.append(value)
        self.event.set()
        return value


def _serves(transport: messaging.Transport, topic: str) -> bool:
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
    return bool(client.call({}, "echo", value="still serving") == "still serving")


MALFORMED = {
    "not json": b"\x00\xffnot json at all, password=hunter2",
    "json but not an object": b"[1, 2, 3]",
    "newer envelope": json.dumps({"oslo.version": "3.0", "oslo.message": "{}"}).encode(),
    "envelope with bad inner json": json.dumps(
        {"oslo.version": "2.0", "oslo.message": "{nope"}).encode(),
    "missing method": wire.encode_body(wire.serialize_msg(
        {"args": {"admin_password": "hunter2"}})),
    "method not a string": wire.encode_body(wire.serialize_msg(
        {"method": 5, "args": {}, "_context_auth_token": "hunter2"})),
    "args not a dict": wire.encode_body(wire.serialize_msg(
        {"method": "echo", "args": [{"password": "hunter2"}], "password": "hunter2"})),
}


@pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_request_is_logged_masked_and_dropped(
        transport: messaging.Transport, start_server: StartServer, topic: str,
        raw: RawAccess, body: bytes, caplog: pytest.LogCaptureFixture) -> None:
    ep = Echo()
    start_server([ep])
    with caplog.at_level(logging.DEBUG):
        raw.publish(topic, body)
        assert _serves(transport, topic)
        wait_for(lambda: any("malformed" in r.getMessage() for r in caplog.records),
                 message="the malformed message was not logged")
    assert ep.received == ["still serving"]
    assert "hunter2" not in caplog.text


def test_duplicate_request_is_dropped(transport: messaging.Transport,
                                      start_server: StartServer, topic: str,
                                      raw: RawAccess) -> None:
    ep = Echo()
    start_server([ep])
    body = wire.encode_body(wire.build_request({}, {"method": "echo", "args": {"value": 1}}))
    raw.publish(topic, body)
    raw.publish(topic, body)
    assert _serves(transport, topic)  # processed after both copies on the same queue
    assert ep.received.count(1) == 1


def test_unenveloped_legacy_cast_is_served(transport: messaging.Transport,
                                           start_server: StartServer, topic: str,
                                           raw: RawAccess) -> None:
    ep = Echo()
    start_server([ep])
    raw.publish(topic, json.dumps({"method": "echo", "args": {"value": "v1.0"},
                                   "_unique_id": wire.new_id(),
                                   "_context_user": "old"}).encode())
    assert ep.event.wait(10)
    assert ep.received == ["v1.0"]


def test_caller_without_reply_queue_is_answered_on_msg_id_queue(
        transport: messaging.Transport, start_server: StartServer, topic: str,
        raw: RawAccess) -> None:
    """A pre-Grizzly caller sends ``_msg_id`` but no ``_reply_q`` and waits on a direct
    exchange and queue named after the msg id; the reply carries no ``_msg_id``."""
    start_server([Echo()])
    msg_id = wire.new_id()
    replies = raw.collect(msg_id, direct_exchange=True)
    raw.publish(topic, json.dumps({"method": "echo", "args": {"value": 42},
                                   "_msg_id": msg_id, "_unique_id": wire.new_id()}).encode())
    wait_for(lambda: replies, message="no reply on the msg-id queue")
    reply = wire.deserialize_msg(json.loads(replies[0]))
    assert reply["result"] == 42 and reply["failure"] is None
    assert "_msg_id" not in reply


def test_legacy_double_reply_is_understood(transport: messaging.Transport, topic: str,
                                          raw: RawAccess) -> None:
    """A legacy server answers with one message per value and an empty ending marker;
    answer a real call by hand the way it would."""
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
    requests = raw.collect(topic, bind=True)
    result: list[Any] = []
    caller = threading.Thread(target=lambda: result.append(client.call({}, "anything")))
    caller.start()
    wait_for(lambda: requests, message="the call never left the client")
    request = wire.parse_request(json.loads(requests[0]))
    assert request.reply_q is not None and request.msg_id is not None
    for part in ({"result": "first", "failure": None},
                 {"result": None, "failure": None, "ending": True}):
        body = wire.serialize_msg(dict(part, _msg_id=request.msg_id,
                                       _unique_id=wire.new_id()))
        raw.publish(request.reply_q, wire.encode_body(body), exchange="")
    caller.join(10)
    assert result == ["first"]

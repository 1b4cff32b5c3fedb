"""Notification bodies on the wire: what we send and what we read (spec section 3.8)."""

from __future__ import annotations

import json
import re

import pytest

from legacy_rpc.messaging import wire

# Captured from oslo.messaging 18.x (spec 3.8), exactly as they travel.
OSLO_V2 = (
    '{"oslo.version": "2.0", "oslo.message": "{\\"message_id\\": '
    '\\"df555205-2275-4d78-8ce2-76f4f194cb60\\", \\"publisher_id\\": \\"compute.host1\\", '
    '\\"event_type\\": \\"compute.instance.create.end\\", \\"priority\\": \\"INFO\\", '
    '\\"payload\\": {\\"id\\": 1}, \\"timestamp\\": \\"2026-11-22 17:07:07.108140\\", '
    '\\"_unique_id\\": \\"278667af50cd42e79b136a0901cc078f\\"}"}'
)
OSLO_V1 = (
    '{"message_id": "a02a76dc-0000-4000-8000-000000000000", "publisher_id": "compute.host1", '
    '"event_type": "compute.instance.create.end", "priority": "INFO", "payload": {"id": 1}, '
    '"timestamp": "2026-11-22 17:07:07.103500", '
    '"_unique_id": "dce68218ca9b4ad8befa6be3eb5b2402"}'
)


@pytest.mark.parametrize("body", [OSLO_V2, OSLO_V1])
def test_oslo_bodies_are_read(body: str) -> None:
    note = wire.parse_notification(wire.decode_body(body.encode()))
    assert note.priority == "info"
    assert note.publisher_id == "compute.host1"
    assert note.event_type == "compute.instance.create.end"
    assert note.payload == {"id": 1}
    assert note.ctxt == {}
    assert re.match(r"^[0-9a-f-]{36}$", note.metadata["message_id"])
    assert note.metadata["timestamp"].startswith("2026-11-22 17:07:07.")
    assert note.unique_id is not None
    message = wire.notification_message(note)
    assert message == {"message_id": note.metadata["message_id"],
                       "publisher_id": "compute.host1",
                       "event_type": "compute.instance.create.end", "priority": "info",
                       "payload": {"id": 1}, "timestamp": note.metadata["timestamp"]}


def test_v2_body_has_the_envelope_and_inner_keys() -> None:
    message = wire.build_notification("compute.host1", "e", "info", {"id": 1})
    body = wire.pack_notification({"user": "u"}, message, 2.0)
    assert set(body) == {"oslo.version", "oslo.message"}
    assert body["oslo.version"] == "2.0"
    inner = json.loads(body["oslo.message"])
    assert set(inner) == {"message_id", "publisher_id", "event_type", "priority", "payload",
                          "timestamp", "_unique_id", "_context_user"}
    assert inner["priority"] == "INFO"
    assert re.match(r"^[0-9a-f]{32}$", inner["_unique_id"])


def test_v1_body_is_the_bare_dict() -> None:
    message = wire.build_notification("p", "e", "SAMPLE", {"n": 1})
    body = wire.pack_notification({}, message, 1.0)
    assert "oslo.version" not in body
    assert body["priority"] == "SAMPLE"
    assert wire.parse_notification(json.loads(wire.encode_body(body))).priority == "sample"


def test_each_pack_gets_a_fresh_unique_id_and_leaves_the_message_alone() -> None:
    message = wire.build_notification("p", "e", "info", {})
    first = json.loads(wire.pack_notification({}, message)["oslo.message"])
    second = json.loads(wire.pack_notification({}, message)["oslo.message"])
    assert first["_unique_id"] != second["_unique_id"]
    assert "_unique_id" not in message


def test_context_round_trip() -> None:
    body = wire.pack_notification({"user": "u", "roles": ["a"]},
                                  wire.build_notification("p", "e", "info", {}))
    assert wire.parse_notification(body).ctxt == {"user": "u", "roles": ["a"]}


@pytest.mark.parametrize("body", [
    [1, 2], "text", {"priority": None}, {"priority": ""}, {"payload": {}},
    {"oslo.version": "3.0", "oslo.message": "{}"},
])
def test_malformed_bodies(body: object) -> None:
    with pytest.raises(wire.MalformedMessage):
        wire.parse_notification(body)

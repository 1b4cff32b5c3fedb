"""Serializers (oslo_messaging_api.md 1.11)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from legacy_rpc.messaging import JsonPayloadSerializer, NoOpSerializer, Serializer


class Thing:
    def __init__(self) -> None:
        self.name = "n"
        self.when = datetime.datetime(1920, 2, 3, 4, 5, 6, 7)
        self.tags = ("a", "b")


def test_serializer_is_abstract() -> None:
    with pytest.raises(TypeError):
        Serializer()  # type: ignore[abstract]


def test_partial_serializer_cannot_be_instantiated() -> None:
    class Half(Serializer):
        def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
            return entity

    with pytest.raises(TypeError):
        Half()  # type: ignore[abstract]


@pytest.mark.parametrize("value", [None, 1, "s", {"a": [1]}, object(), Thing()])
def test_noop_serializer_is_identity(value: Any) -> None:
    s = NoOpSerializer()
    ctxt = {"user": "u"}
    assert s.serialize_entity(ctxt, value) is value
    assert s.deserialize_entity(ctxt, value) is value


def test_noop_serializer_context_is_identity() -> None:
    s = NoOpSerializer()
    ctxt = {"user": "u"}
    assert s.serialize_context(ctxt) is ctxt
    assert s.deserialize_context(ctxt) is ctxt
    obj = object()
    assert s.serialize_context(obj) is obj


def test_noop_is_a_serializer() -> None:
    assert isinstance(NoOpSerializer(), Serializer)
    assert isinstance(JsonPayloadSerializer(), NoOpSerializer)


def test_json_payload_serializer_converts_instances() -> None:
    s = JsonPayloadSerializer()
    assert s.serialize_entity({}, Thing()) == {
        "name": "n", "when": "1920-02-03T04:05:06.000007", "tags": ["a", "b"]}


def test_json_payload_serializer_converts_nested_primitives() -> None:
    s = JsonPayloadSerializer()
    assert s.serialize_entity(None, {"t": (1, 2), "x": [Thing()]}) == {
        "t": [1, 2], "x": [{"name": "n", "when": "1920-02-03T04:05:06.000007",
                           "tags": ["a", "b"]}]}


def test_json_payload_serializer_leaves_the_rest_as_noop() -> None:
    s = JsonPayloadSerializer()
    thing = Thing()
    ctxt = {"user": "u"}
    assert s.deserialize_entity(ctxt, thing) is thing
    assert s.serialize_context(ctxt) is ctxt
    assert s.deserialize_context(ctxt) is ctxt
    assert s.serialize_entity(ctxt, "s") == "s"

"""Serializers: turn application entities and contexts into wire primitives and back."""

from __future__ import annotations

import abc
from typing import Any

from legacy_rpc.messaging import _jsonutils

__all__ = ["Serializer", "NoOpSerializer", "JsonPayloadSerializer"]


class Serializer(abc.ABC):
    """Converts entities and contexts; a serialized context must be a dict."""

    @abc.abstractmethod
    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        """Turn an entity into something the wire can carry."""

    @abc.abstractmethod
    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        """Rebuild an entity from its wire form."""

    @abc.abstractmethod
    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        """Turn a request context into a dict."""

    @abc.abstractmethod
    def deserialize_context(self, ctxt: dict[str, Any]) -> Any:
        """Rebuild a request context from a dict."""


class NoOpSerializer(Serializer):
    """Returns everything unchanged."""

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def serialize_context(self, ctxt: Any) -> Any:
        return ctxt

    def deserialize_context(self, ctxt: Any) -> Any:
        return ctxt


class JsonPayloadSerializer(NoOpSerializer):
    """Turns entities into JSON primitives (objects by their attributes)."""

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return _jsonutils.to_primitive(entity, convert_instances=True)

"""Serializers of the legacy API: turn entities into primitives for the wire and back.

The core's ``Serializer`` has the same two methods (and two for contexts), so a serializer
written for either API works with both.
"""

from __future__ import annotations

import abc
from typing import Any

__all__ = ["Serializer", "NoOpSerializer"]


class Serializer(abc.ABC):
    """Generic (de-)serialization definition base class."""

    @abc.abstractmethod
    def serialize_entity(self, context: Any, entity: Any) -> Any:
        """Serialize something to primitive form."""

    @abc.abstractmethod
    def deserialize_entity(self, context: Any, entity: Any) -> Any:
        """Deserialize something from primitive form."""


class NoOpSerializer(Serializer):
    """A serializer that does nothing."""

    def serialize_entity(self, context: Any, entity: Any) -> Any:
        return entity

    def deserialize_entity(self, context: Any, entity: Any) -> Any:
        return entity

"""``NotificationFilter``: lets an endpoint receive only the notifications it wants.

Attach an instance to an endpoint as its ``filter_rule`` attribute::

    class ComputeEndpoint:
        filter_rule = NotificationFilter(publisher_id=r"^compute\\.",
                                         payload={"state": "active"})

        def info(self, ctxt, publisher_id, event_type, payload, metadata): ...

Notifications a filter rejects are still acknowledged (they were delivered, just not to
this endpoint).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeAlias

__all__ = ["NotificationFilter"]

_Rule: TypeAlias = "re.Pattern[str] | dict[str, _Rule]"
_Spec: TypeAlias = "str | re.Pattern[str] | Mapping[str, Any]"


def _compile(spec: _Spec | None) -> _Rule | None:
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        return {str(key): rule for key, value in spec.items()
                if (rule := _compile(value)) is not None}
    return re.compile(spec)


def _as_mapping(data: Any) -> Mapping[str, Any] | None:
    if isinstance(data, Mapping):
        return data
    to_dict = getattr(data, "to_dict", None)  # a deserialized request context
    if callable(to_dict):
        result = to_dict()
        return result if isinstance(result, Mapping) else None
    return None


def _matches(rule: _Rule | None, data: Any) -> bool:
    if rule is None:
        return True
    if isinstance(rule, dict):
        mapping = _as_mapping(data)
        if mapping is None:
            return False
        return all(key in mapping and _matches(sub, mapping[key]) for key, sub in rule.items())
    return isinstance(data, str) and rule.match(data) is not None


class NotificationFilter:
    """Matches notifications by regular expressions on their fields.

    ``publisher_id`` and ``event_type`` are regular expressions; ``context``,
    ``metadata`` and ``payload`` map keys to regular expressions (nested mappings reach
    into nested dicts). Expressions use :func:`re.match`: anchored at the start only, so
    add ``$`` for an exact match. A key that is missing, or whose value is not a string,
    does not match. A notification passes when every given rule matches.
    """

    def __init__(self, context: Mapping[str, Any] | None = None,
                 publisher_id: str | re.Pattern[str] | None = None,
                 event_type: str | re.Pattern[str] | None = None,
                 metadata: Mapping[str, Any] | None = None,
                 payload: Mapping[str, Any] | None = None) -> None:
        self._context = _compile(context)
        self._publisher_id = _compile(publisher_id)
        self._event_type = _compile(event_type)
        self._metadata = _compile(metadata)
        self._payload = _compile(payload)

    def match(self, context: Any, publisher_id: Any, event_type: Any, metadata: Any,
              payload: Any) -> bool:
        """True when the notification passes every rule of this filter."""
        return (_matches(self._publisher_id, publisher_id)
                and _matches(self._event_type, event_type)
                and _matches(self._context, context)
                and _matches(self._metadata, metadata)
                and _matches(self._payload, payload))

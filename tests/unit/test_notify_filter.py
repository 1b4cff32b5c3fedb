"""``NotificationFilter``: regular expressions on publisher, event type, context,
metadata and payload."""

from __future__ import annotations

import re
from typing import Any

import pytest

from legacy_rpc.messaging.notify import NotificationFilter


def match(f: NotificationFilter, ctxt: Any = None, publisher_id: Any = "compute.host1",
          event_type: Any = "compute.instance.create.end", metadata: Any = None,
          payload: Any = None) -> bool:
    metadata = metadata if metadata is not None else {"message_id": "m", "timestamp": "t"}
    return f.match(ctxt if ctxt is not None else {}, publisher_id, event_type, metadata,
                   payload if payload is not None else {})


def test_an_empty_filter_matches_everything() -> None:
    assert match(NotificationFilter(), publisher_id=None, event_type=None, payload=[1])


@pytest.mark.parametrize(("pattern", "value", "expected"), [
    (r"compute", "compute.host1", True),
    (r"host1", "compute.host1", False),          # re.match: anchored at the start
    (r".*host1", "compute.host1", True),
    (r"compute$", "compute.host1", False),
    (re.compile(r"^comp"), "compute.host1", True),
    (r"compute", None, False),                   # not a string: no match
    (r"compute", 42, False),
])
def test_publisher_id(pattern: Any, value: Any, expected: bool) -> None:
    assert match(NotificationFilter(publisher_id=pattern), publisher_id=value) is expected


def test_event_type() -> None:
    f = NotificationFilter(event_type=r"compute\.instance\.(create|delete)\.")
    assert match(f, event_type="compute.instance.create.end")
    assert not match(f, event_type="compute.instance.update")


def test_dict_rules_need_every_key_present_and_matching() -> None:
    f = NotificationFilter(payload={"state": "^active$", "flavor": "m1"})
    assert match(f, payload={"state": "active", "flavor": "m1.small", "other": 1})
    assert not match(f, payload={"state": "active"})                   # missing key
    assert not match(f, payload={"state": "active", "flavor": 1})      # not a string
    assert not match(f, payload={"state": "inactive", "flavor": "m1"})
    assert not match(f, payload="not a dict")


def test_nested_dict_rules_reach_into_nested_payloads() -> None:
    f = NotificationFilter(payload={"host": {"name": "^h1$"}})
    assert match(f, payload={"host": {"name": "h1"}})
    assert not match(f, payload={"host": "h1"})
    assert not match(f, payload={"host": {"name": "h10"}})


def test_context_and_metadata() -> None:
    f = NotificationFilter(context={"project_id": "^p1$"},
                           metadata={"timestamp": r"2026-"})
    assert match(f, ctxt={"project_id": "p1"},
                 metadata={"message_id": "x", "timestamp": "2026-01-01 00:00:00"})
    assert not match(f, ctxt={"project_id": "p1"},
                     metadata={"message_id": "x", "timestamp": "2025-01-01 00:00:00"})
    assert not match(f, ctxt={}, metadata={"timestamp": "2026-"})


def test_a_context_object_is_matched_through_to_dict() -> None:
    class Ctxt:
        def to_dict(self) -> dict[str, Any]:
            return {"user": "admin"}

    assert NotificationFilter(context={"user": "adm"}).match(Ctxt(), "p", "e", {}, {})
    assert not NotificationFilter(context={"user": "adm"}).match(object(), "p", "e", {}, {})


def test_every_rule_must_match() -> None:
    f = NotificationFilter(publisher_id="compute", event_type="compute.instance",
                           payload={"a": "1"})
    assert match(f, payload={"a": "1"})
    assert not match(f, publisher_id="network", payload={"a": "1"})
    assert not match(f, payload={"a": "2"})


def test_an_invalid_expression_fails_at_construction() -> None:
    with pytest.raises(re.error):
        NotificationFilter(event_type="(")

"""Notification dispatchers: endpoint order, filters, verdicts, exceptions, batches."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from legacy_rpc.messaging.drivers.base import IncomingMessage
from legacy_rpc.messaging.notify import NotificationFilter, NotificationResult
from legacy_rpc.messaging.notify.dispatcher import (
    BatchNotificationDispatcher,
    NotificationDispatcher,
)
from legacy_rpc.messaging.serializer import NoOpSerializer


def incoming(event_type: str = "e", priority: str = "info", payload: Any = None,
             publisher_id: str = "p") -> IncomingMessage:
    return IncomingMessage({"user": "u", "client_timeout": None}, {
        "message_id": f"id-{event_type}", "publisher_id": publisher_id,
        "event_type": event_type, "priority": priority, "payload": payload or {},
        "timestamp": "2026-01-01 00:00:00"}, f"id-{event_type}")


class Endpoint:
    def __init__(self, result: Any = None, rule: NotificationFilter | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.result = result
        if rule is not None:
            self.filter_rule = rule

    def info(self, *args: Any) -> Any:
        self.calls.append(args)
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def test_supported_priorities_follow_the_endpoint_methods() -> None:
    class Errors:
        def error(self, *args: Any) -> None: ...
        def warning(self, *args: Any) -> None: ...  # not a priority method: ignored

    assert NotificationDispatcher([Endpoint(), Errors()]).supported_priorities == [
        "info", "error"]
    assert NotificationDispatcher([object()]).supported_priorities == []


def test_endpoint_receives_the_five_arguments() -> None:
    ep = Endpoint()
    assert NotificationDispatcher([ep]).dispatch(incoming(payload={"a": 1})) == "handled"
    assert ep.calls == [({"user": "u", "client_timeout": None}, "p", "e", {"a": 1},
                         {"message_id": "id-e", "timestamp": "2026-01-01 00:00:00"})]


def test_priority_is_matched_case_insensitively() -> None:
    ep = Endpoint()
    NotificationDispatcher([ep]).dispatch(incoming(priority="INFO"))
    assert len(ep.calls) == 1


def test_first_requeue_stops_the_dispatch() -> None:
    first, second, third = Endpoint(), Endpoint(NotificationResult.REQUEUE), Endpoint()
    verdict = NotificationDispatcher([first, second, third]).dispatch(incoming())
    assert verdict == NotificationResult.REQUEUE
    assert (len(first.calls), len(second.calls), len(third.calls)) == (1, 1, 0)


def test_an_exception_counts_as_requeue_and_is_logged_with_traceback(
        caplog: pytest.LogCaptureFixture) -> None:
    after = Endpoint()
    with caplog.at_level(logging.ERROR):
        verdict = NotificationDispatcher([Endpoint(KeyError("k")), after]).dispatch(incoming())
    assert verdict == NotificationResult.REQUEUE
    assert after.calls == []
    [record] = caplog.records
    assert record.exc_info is not None and isinstance(record.exc_info[1], KeyError)


def test_an_unexpected_return_value_counts_as_handled(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        verdict = NotificationDispatcher([Endpoint("oops")]).dispatch(incoming())
    assert verdict == NotificationResult.HANDLED
    assert "oops" in caplog.text


def test_filtered_out_endpoints_are_skipped() -> None:
    skipped = Endpoint(NotificationResult.REQUEUE, NotificationFilter(event_type="^other$"))
    taken = Endpoint()
    assert NotificationDispatcher([skipped, taken]).dispatch(incoming()) == "handled"
    assert (skipped.calls, len(taken.calls)) == ([], 1)


def test_unknown_priority_returns_none(caplog: pytest.LogCaptureFixture) -> None:
    """As oslo.messaging: no verdict (the listener acknowledges it, being no REQUEUE)."""
    with caplog.at_level(logging.WARNING):
        verdict = NotificationDispatcher([Endpoint()]).dispatch(incoming(priority="loud"))
    assert verdict is None
    assert "loud" in caplog.text


def test_a_failing_deserializer_counts_as_requeue() -> None:
    class Broken(NoOpSerializer):
        def deserialize_context(self, ctxt: Any) -> Any:
            raise ValueError("cannot")

    assert NotificationDispatcher([Endpoint()], Broken()).dispatch(incoming()) == "requeue"


def test_serializer_is_applied() -> None:
    class Wrap(NoOpSerializer):
        def deserialize_context(self, ctxt: Any) -> Any:
            return ("ctxt", ctxt["user"])

        def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
            return ("entity", ctxt, entity)

    ep = Endpoint()
    NotificationDispatcher([ep], Wrap()).dispatch(incoming(payload={"a": 1}))
    assert ep.calls[0][0] == ("ctxt", "u")
    assert ep.calls[0][3] == ("entity", ("ctxt", "u"), {"a": 1})


# --------------------------------------------------------------------------- batches

class BatchEndpoint:
    def __init__(self, result: Any = None, rule: NotificationFilter | None = None) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.result = result
        if rule is not None:
            self.filter_rule = rule

    def info(self, messages: list[dict[str, Any]]) -> Any:
        self.batches.append(messages)
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result

    def error(self, messages: list[dict[str, Any]]) -> Any:
        return self.info(messages)


def test_batches_are_grouped_by_priority() -> None:
    ep = BatchEndpoint()
    batch = [incoming("a"), incoming("b", "error"), incoming("c")]
    assert BatchNotificationDispatcher([ep]).dispatch(batch) == set()
    assert [[m["event_type"] for m in b] for b in ep.batches] == [["a", "c"], ["b"]]
    assert set(ep.batches[0][0]) == {"ctxt", "publisher_id", "event_type", "payload",
                                     "metadata"}


def test_a_requeued_batch_part_skips_later_endpoints_the_rest_goes_on() -> None:
    picky = BatchEndpoint(NotificationResult.REQUEUE, NotificationFilter(event_type="^a$"))
    later = BatchEndpoint()
    a, b = incoming("a"), incoming("b")
    requeue = BatchNotificationDispatcher([picky, later]).dispatch([a, b])
    assert requeue == {a}
    assert [[m["event_type"] for m in batch] for batch in later.batches] == [["b"]]


def test_a_raising_batch_endpoint_requeues_what_it_was_given(
        caplog: pytest.LogCaptureFixture) -> None:
    a, b = incoming("a"), incoming("b", "error")
    with caplog.at_level(logging.ERROR):
        requeue = BatchNotificationDispatcher([BatchEndpoint(RuntimeError("x"))]).dispatch(
            [a, b])
    assert requeue == {a, b}
    assert all(r.exc_info for r in caplog.records)


def test_batch_unknown_priority_is_acknowledged() -> None:
    odd = incoming("odd", "loud")
    assert BatchNotificationDispatcher([BatchEndpoint()]).dispatch([odd]) == set()

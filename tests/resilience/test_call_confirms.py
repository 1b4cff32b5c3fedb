"""Calls do not wait for their request's publisher confirm (the reply proves delivery),
yet a request the broker could not route or refused is still published again, paced, and
each call ends with its answer or a bounded error. Real RabbitMQ, own virtual host."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import amqp
import pytest

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging.exceptions import MessageDeliveryFailure
from tests.helpers import amqp_params, wait_for
from tests.infra.inspect import BrokerInspector
from tests.resilience.conftest import Vhost, rabbitmqctl
from tests.resilience.test_delivery_invariants import (
    Echo,
    client_on,
    raw_publish,
    request,
    server_on,
)

pytestmark = pytest.mark.broker


class Counting(Echo):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        with self.lock:
            self.calls += 1
        return value


class LogSeen(logging.Handler):
    """Sets an event when a record containing ``text`` is logged."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.DEBUG)
        self.text = text
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


def test_a_call_sent_before_any_server_is_answered_once_when_one_starts(
        vhost: Vhost) -> None:
    topic = f"late-{time.time_ns()}"
    seen = LogSeen("no queue is bound")
    log = logging.getLogger("legacy_rpc.messaging.drivers.rabbit._requests")
    log.addHandler(seen)
    log.setLevel(logging.DEBUG)
    answers: list[Any] = []
    endpoint = Counting()
    try:
        with client_on(vhost.url, topic, timeout=30) as client:
            caller = threading.Thread(target=lambda: answers.append(client.call({}, "echo",
                                                                                value=7)))
            caller.start()
            assert seen.seen.wait(10), "the unroutable request was never noticed"
            with server_on(vhost.url, topic, endpoint):
                caller.join(25)
                assert not caller.is_alive()
                assert answers == [7]
                started = time.monotonic()
                assert client.call({}, "echo", value=8) == 8  # no backlog of copies
                assert time.monotonic() - started < 5
            assert endpoint.calls == 2  # the paced re-publishes were not run twice
    finally:
        log.removeHandler(seen)
        log.setLevel(logging.NOTSET)


def test_a_call_with_no_server_times_out_on_its_deadline(vhost: Vhost) -> None:
    with client_on(vhost.url, f"nobody-{time.time_ns()}", timeout=1.5) as client:
        started = time.monotonic()
        with pytest.raises(messaging.MessagingTimeout, match="no server listens"):
            client.call({}, "echo", value=1)
        assert 0.5 < time.monotonic() - started < 4


def test_a_call_gives_up_after_the_unroutable_budget(vhost: Vhost) -> None:
    url = f"{vhost.url}?rabbit_unroutable_retry_timeout=1"
    with client_on(url, f"nobody-{time.time_ns()}", timeout=30) as client:
        started = time.monotonic()
        with pytest.raises(MessageDeliveryFailure, match="rabbit_unroutable_retry_timeout"):
            client.call({}, "echo", value=1)
        assert time.monotonic() - started < 5


def test_a_refused_call_request_is_sent_again_paced_and_ends_on_its_deadline(
        vhost: Vhost) -> None:
    """A queue at its length limit that rejects publishes: the broker nacks the request."""
    topic = f"full-{time.time_ns()}"
    rabbitmqctl("set_policy", "-p", vhost.name, "--apply-to", "queues", f"reject-{topic}",
                f"^{topic}", '{"max-length": 0, "overflow": "reject-publish"}')
    inspector = BrokerInspector.for_rabbitmqctl(vhost=vhost.name)
    endpoint = Counting()
    try:
        with server_on(vhost.url, topic, endpoint):
            inspector.wait_queue(topic, timeout=15, consumers=1)
            wait_for(lambda: f"reject-{topic}" in rabbitmqctl("list_queues", "-p", vhost.name,
                                                              "name", "policy"),
                     timeout=15, interval=0.2, message="the policy was not applied")
            with client_on(vhost.url, topic, timeout=2) as client:
                started = time.monotonic()
                with pytest.raises(messaging.MessagingTimeout, match="refused"):
                    client.call({}, "echo", value=1)
                assert 1.5 < time.monotonic() - started < 5
            assert endpoint.calls == 0
    finally:
        rabbitmqctl("clear_policy", "-p", vhost.name, f"reject-{topic}")


def test_calls_from_threads_leave_no_publish_unconfirmed(vhost: Vhost) -> None:
    """After a burst of calls and a heartbeat tick, every pooled connection has read the
    confirm of its last request (nothing waits unread behind a deferred publish)."""
    topic = f"burst-{time.time_ns()}"
    endpoint = Counting()
    url = f"{vhost.url}?heartbeat_timeout_threshold=2"
    with server_on(vhost.url, topic, endpoint), client_on(url, topic) as client:
        def calls() -> None:
            for n in range(50):
                assert client.call({}, "echo", value=n) == n

        threads = [threading.Thread(target=calls) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert endpoint.calls == 200
        pool = client.transport._driver._pool  # type: ignore[attr-defined]
        wait_for(lambda: not any(c.unsettled for c in pool.idle_connections()),
                 timeout=5, message="a request's confirm was never read")


def test_a_reply_to_a_queue_declared_late_arrives_soon_in_a_quiet_system(
        vhost: Vhost) -> None:
    """When the broker returns a reply (the caller's queue is missing, e.g. while it
    reconnects), the reply goes to the retrier at once and arrives soon after the queue is
    declared, off the worker's path."""
    topic = f"quiet-{time.time_ns()}"
    reply_q = f"late-reply-{time.time_ns()}"
    endpoint = Counting()
    with server_on(vhost.url, topic, endpoint) as server:
        driver = server.transport._driver
        BrokerInspector.for_rabbitmqctl(vhost=vhost.name).wait_queue(topic, timeout=15,
                                                                     consumers=1)
        raw_publish(vhost.url, topic, request("echo", _msg_id="m-1", _reply_q=reply_q))
        # The reply went out to a queue that does not exist yet and came back.
        wait_for(lambda: len(driver._retrier) == 1, timeout=10,
                 message="the returned reply never reached the retrier")
        conn = amqp.Connection(**amqp_params(vhost.url))
        conn.connect()
        try:
            channel = conn.channel()
            channel.queue_declare(reply_q, auto_delete=True)
            started = time.monotonic()
            got: list[Any] = []

            def arrived() -> bool:
                got.append(channel.basic_get(reply_q, no_ack=True))
                return got[-1] is not None

            wait_for(arrived, timeout=10, interval=0.05,
                     message="the returned reply was never retried")
            assert time.monotonic() - started < 5
            body = got[-1].body
            assert "m-1" in (body if isinstance(body, str) else body.decode())
        finally:
            conn.close()

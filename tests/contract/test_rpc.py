"""Driver contract: RPC calls, casts, fanout, versions, errors, timeouts, streaming.

Every test runs on every driver in ``conftest.DRIVERS``.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging

StartServer = Callable[..., messaging.MessageHandlingServer]


class AppError(Exception):
    """A custom exception; rebuilt only where this module is allowed.

    Keyword arguments travel in ``kwargs`` and positional ones in ``args``, so the receiver
    can call ``AppError(*args, **kwargs)``.
    """

    def __init__(self, reason: str, code: int = 0) -> None:
        super().__init__(reason)
        self.kwargs = {"code": code}
        self.reason = reason


class Recorder:
    """An endpoint that records what it receives."""

    target = messaging.Target(version="1.2")

    def __init__(self, name: str = "ep") -> None:
        self.name = name
        self.calls: list[tuple[str, dict[str, Any], Any]] = []
        self.event = threading.Event()
        self.release = threading.Event()

    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        self.calls.append(("echo", {"value": value}, ctxt))
        self.event.set()
        return value

    def whoami(self, ctxt: dict[str, Any]) -> str:
        self.calls.append(("whoami", {}, ctxt))
        return self.name

    def add(self, ctxt: dict[str, Any], a: int, b: int) -> int:
        return a + b

    def fail(self, ctxt: dict[str, Any], reason: str) -> None:
        raise ValueError(reason, 42)

    def fail_app(self, ctxt: dict[str, Any]) -> None:
        raise AppError("app failed", code=7)

    @messaging.expected_exceptions(KeyError)
    def lookup(self, ctxt: dict[str, Any], key: str) -> Any:
        return {}[key]

    def slow(self, ctxt: dict[str, Any], seconds: float) -> str:
        time.sleep(seconds)  # the method under test is slow; nothing is synchronised by it
        return "done"

    def blocked(self, ctxt: dict[str, Any]) -> str:
        self.event.set()
        self.release.wait(30)
        return "released"

    def count(self, ctxt: dict[str, Any], n: int) -> Iterator[int]:
        yield from range(n)

    def count_then_fail(self, ctxt: dict[str, Any], n: int) -> Iterator[int]:
        yield from range(n)
        raise ValueError("stream broke")

    def nones(self, ctxt: dict[str, Any]) -> Iterator[None]:
        yield None
        yield None

    def exhausted(self, ctxt: dict[str, Any]) -> None:
        raise StopIteration("nothing left")

    def _private(self, ctxt: dict[str, Any]) -> str:
        return "secret"


def client(transport: messaging.Transport, topic: str, **kwargs: Any) -> messaging.RPCClient:
    kwargs.setdefault("timeout", 10)
    return messaging.get_rpc_client(transport, messaging.Target(topic=topic), **kwargs)


# ----------------------------------------------------------------------------- basics

def test_call_returns_result_and_passes_context(transport: messaging.Transport,
                                                start_server: StartServer, topic: str) -> None:
    ep = Recorder()
    start_server([ep])
    result = client(transport, topic).call({"user": "u1", "project_id": "p"}, "echo",
                                          value={"a": [1, 2], "b": None})
    assert result == {"a": [1, 2], "b": None}
    _name, _args, ctxt = ep.calls[0]
    assert ctxt == {"user": "u1", "project_id": "p"}


def test_cast_is_delivered(transport: messaging.Transport, start_server: StartServer,
                           topic: str) -> None:
    ep = Recorder()
    start_server([ep])
    assert client(transport, topic).cast({}, "echo", value=5) is None
    assert ep.event.wait(10), "cast never reached the server"
    assert ep.calls[0][1] == {"value": 5}


def test_fanout_cast_reaches_every_server(transport: messaging.Transport,
                                          start_server: StartServer, topic: str) -> None:
    eps = [Recorder("a"), Recorder("b"), Recorder("c")]
    for i, ep in enumerate(eps):
        start_server([ep], server=f"s{i}")
    client(transport, topic).prepare(fanout=True).cast({}, "echo", value="all")
    for ep in eps:
        assert ep.event.wait(10), f"fanout cast missed server {ep.name}"
    assert all(len(ep.calls) == 1 for ep in eps)


def test_server_targeted_call_reaches_only_that_server(transport: messaging.Transport,
                                                       start_server: StartServer,
                                                       topic: str) -> None:
    start_server([Recorder("a")], server="host-a")
    start_server([Recorder("b")], server="host-b")
    c = client(transport, topic)
    assert {c.prepare(server="host-b").call({}, "whoami") for _ in range(6)} == {"b"}
    assert {c.prepare(server="host-a").call({}, "whoami") for _ in range(6)} == {"a"}


def test_calls_are_balanced_across_servers_of_a_topic(transport: messaging.Transport,
                                                      start_server: StartServer,
                                                      topic: str) -> None:
    start_server([Recorder("a")], server="host-a")
    start_server([Recorder("b")], server="host-b")
    c = client(transport, topic)
    answers = [c.call({}, "whoami") for _ in range(20)]
    assert set(answers) == {"a", "b"}


def test_exchange_scopes_topics(transport: messaging.Transport, start_server: StartServer,
                                topic: str, exchange: str) -> None:
    start_server([Recorder("in-x")], exchange=exchange)
    c = client(transport, topic, timeout=1)
    assert c.prepare(exchange=exchange).call({}, "whoami") == "in-x"
    with pytest.raises(messaging.MessagingTimeout):
        c.call({}, "whoami")  # the default exchange has no such server


def test_concurrent_calls_get_their_own_replies(transport: messaging.Transport,
                                                start_server: StartServer, topic: str) -> None:
    start_server([Recorder()])
    c = client(transport, topic)
    results: dict[int, Any] = {}

    def worker(i: int) -> None:
        for j in range(10):
            results[i * 100 + j] = c.call({}, "add", a=i * 100, b=j)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {k: k for k in results} and len(results) == 50


def test_endpoint_can_make_nested_calls(transport: messaging.Transport,
                                        start_server: StartServer, topic: str) -> None:
    inner_topic = f"{topic}-inner"
    start_server([Recorder("inner")], topic_=inner_topic)

    class Outer:
        def relay(self, ctxt: dict[str, Any]) -> str:
            return f"outer->{client(transport, inner_topic).call(ctxt, 'whoami')}"

    start_server([Outer()])
    assert client(transport, topic).call({}, "relay") == "outer->inner"


def test_blocking_executor_serves(transport: messaging.Transport, start_server: StartServer,
                                  topic: str) -> None:
    start_server([Recorder()], executor="blocking")
    assert client(transport, topic).call({}, "add", a=2, b=3) == 5


def test_args_are_json_primitives_on_arrival(transport: messaging.Transport,
                                             start_server: StartServer, topic: str) -> None:
    ep = Recorder()
    start_server([ep])
    when = datetime.datetime(1920, 2, 3, 4, 5, 6, 7)
    assert client(transport, topic).call({}, "echo", value=(when, {1})) == [
        "1920-02-03T04:05:06.000007", [1]]


def test_unserialisable_argument_fails_at_send(transport: messaging.Transport,
                                               start_server: StartServer, topic: str) -> None:
    start_server([Recorder()])
    with pytest.raises(TypeError):
        client(transport, topic).cast({}, "echo", value=object())


# ----------------------------------------------------------------------------- versions

def test_namespaces_select_endpoints(transport: messaging.Transport, start_server: StartServer,
                                     topic: str) -> None:
    class Base:
        target = messaging.Target(namespace="base", version="1.0")

        def whoami(self, ctxt: dict[str, Any]) -> str:
            return "base"

    class Legacy:
        target = messaging.Target(namespace="new", legacy_namespaces=["old"])

        def whoami(self, ctxt: dict[str, Any]) -> str:
            return "legacy-aware"

    start_server([Base(), Legacy(), Recorder("default")])
    c = client(transport, topic)
    assert c.prepare(namespace="base").call({}, "whoami") == "base"
    assert c.prepare(namespace="old").call({}, "whoami") == "legacy-aware"
    assert c.call({}, "whoami") == "default"
    with pytest.raises(messaging.RemoteError) as err:
        c.prepare(namespace="unknown").call({}, "whoami")
    assert err.value.exc_type == "UnsupportedVersion"


def test_version_compatibility(transport: messaging.Transport, start_server: StartServer,
                               topic: str) -> None:
    start_server([Recorder()])  # implements 1.2
    c = client(transport, topic)
    assert c.prepare(version="1.1").call({}, "add", a=1, b=1) == 2
    assert c.prepare(version="1.2").call({}, "add", a=1, b=2) == 3
    for version in ("1.3", "2.0"):
        with pytest.raises(messaging.RemoteError) as err:
            c.prepare(version=version).call({}, "add", a=1, b=1)
        assert err.value.exc_type == "UnsupportedVersion"
        assert version in str(err.value)


def test_version_cap_refuses_before_sending(transport: messaging.Transport,
                                            start_server: StartServer, topic: str) -> None:
    ep = Recorder()
    start_server([ep])
    c = client(transport, topic, version_cap="1.1")
    assert c.can_send_version("1.1") and not c.can_send_version("1.2")
    with pytest.raises(messaging.RPCVersionCapError):
        c.prepare(version="1.2").cast({}, "echo", value=1)
    assert c.prepare(version="1.1").call({}, "echo", value=1) == 1


def test_unknown_and_private_methods_are_refused(transport: messaging.Transport,
                                                 start_server: StartServer, topic: str) -> None:
    start_server([Recorder()])
    c = client(transport, topic)
    for method in ("no_such_method", "_private"):
        with pytest.raises(messaging.RemoteError) as err:
            c.call({}, method)
        assert err.value.exc_type == "NoSuchMethod"


def test_ping_endpoint_when_enabled(conf: cfg.ConfigOpts, driver_url: str, topic: str) -> None:
    transport = messaging.get_rpc_transport(conf, driver_url)
    conf.set_override("rpc_ping_enabled", True)
    srv = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s"),
                                   [Recorder()])
    srv.start()
    try:
        assert client(transport, topic).call({}, "oslo_rpc_server_ping") == "pong"
    finally:
        srv.stop()
        srv.wait()
        transport.cleanup()


# ----------------------------------------------------------------------------- errors

def test_builtin_remote_exception_is_rebuilt(transport: messaging.Transport,
                                             start_server: StartServer, topic: str) -> None:
    start_server([Recorder()])
    with pytest.raises(ValueError) as err:
        client(transport, topic).call({}, "fail", reason="bad value")
    assert err.value.args == ("bad value", 42)
    assert "Traceback" in str(err.value)


def test_exception_from_unlisted_module_is_remote_error(transport: messaging.Transport,
                                                        start_server: StartServer,
                                                        topic: str) -> None:
    start_server([Recorder()])
    with pytest.raises(messaging.RemoteError) as err:
        client(transport, topic).call({}, "fail_app")
    assert err.value.exc_type == "AppError"
    assert "app failed" in str(err.value.value)


def test_exception_from_allowed_module_is_rebuilt(conf: cfg.ConfigOpts, driver_url: str,
                                                  topic: str) -> None:
    transport = messaging.get_rpc_transport(conf, driver_url, allowed_remote_exmods=[__name__])
    srv = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s"),
                                   [Recorder()])
    srv.start()
    try:
        with pytest.raises(AppError) as err:
            client(transport, topic).call({}, "fail_app")
        assert err.value.reason == "app failed" and err.value.kwargs == {"code": 7}
        assert type(err.value).__name__ == "AppError_Remote"
    finally:
        srv.stop()
        srv.wait()
        transport.cleanup()


def test_expected_exception_reaches_caller(transport: messaging.Transport,
                                           start_server: StartServer, topic: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    start_server([Recorder()])
    with caplog.at_level("ERROR"), pytest.raises(KeyError):
        client(transport, topic).call({}, "lookup", key="missing")
    assert not [r for r in caplog.records if "Exception during message handling" in r.message]


def test_call_to_fanout_target_is_invalid(transport: messaging.Transport, topic: str) -> None:
    with pytest.raises(messaging.InvalidTarget):
        client(transport, topic).prepare(fanout=True).call({}, "echo", value=1)


def test_send_without_topic_is_invalid(transport: messaging.Transport) -> None:
    with pytest.raises(messaging.InvalidTarget):
        messaging.get_rpc_client(transport, messaging.Target()).cast({}, "echo")


def test_server_target_needs_topic_and_server(transport: messaging.Transport,
                                              topic: str) -> None:
    srv = messaging.get_rpc_server(transport, messaging.Target(topic=topic), [Recorder()])
    with pytest.raises(messaging.InvalidTarget):
        srv.start()


def test_at_least_once_send_to_nobody_is_undeliverable(transport: messaging.Transport,
                                                       topic: str) -> None:
    if not transport._driver.capabilities.at_least_once:
        pytest.skip(f"{type(transport._driver).__name__} cannot tell an unroutable send")
    c = client(transport, f"{topic}-nobody",
               transport_options=messaging.TransportOptions(at_least_once=True))
    with pytest.raises(messaging.MessageUndeliverable):
        c.cast({}, "echo", value=1)
    with pytest.raises(messaging.MessageUndeliverable):
        c.call({}, "echo", value=1)


# ----------------------------------------------------------------------------- timeouts

def test_call_timeout_names_target_and_message_id(transport: messaging.Transport,
                                                  start_server: StartServer,
                                                  topic: str) -> None:
    ep = Recorder()
    start_server([ep])
    c = client(transport, topic, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout) as err:
        c.call({}, "blocked")
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 5, elapsed
    text = str(err.value)
    assert "message ID" in text and topic in text and "blocked" in text
    # The late reply is dropped quietly and the transport keeps working.
    ep.release.set()
    assert c.prepare(timeout=10).call({}, "add", a=1, b=1) == 2


def test_call_monitor_keeps_long_call_alive(transport: messaging.Transport,
                                            start_server: StartServer, topic: str) -> None:
    start_server([Recorder()])
    c = client(transport, topic, timeout=20, call_monitor_timeout=2)
    assert c.call({}, "slow", seconds=3) == "done"


def test_call_monitor_fails_fast_without_heartbeats(transport: messaging.Transport,
                                                    start_server: StartServer,
                                                    topic: str) -> None:
    srv = start_server([Recorder()])
    srv.stop()  # the topic's queue stays, but nobody consumes it any more
    srv.wait()
    c = client(transport, topic, timeout=30, call_monitor_timeout=1)
    started = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout) as err:
        c.call({}, "add", a=1, b=1)
    assert time.monotonic() - started < 10
    assert "heartbeat" in str(err.value)


# ----------------------------------------------------------------------------- streaming

def test_stream_yields_values_as_produced(transport: messaging.Transport,
                                          start_server: StartServer, topic: str) -> None:
    start_server([Recorder()])
    c = client(transport, topic)
    assert list(c.stream({}, "count", n=5)) == [0, 1, 2, 3, 4]
    assert list(c.stream({}, "nones")) == [None, None]
    assert list(c.stream({}, "add", a=1, b=2)) == [3]
    assert c.call({}, "count", n=5) == 4  # a call returns the last value


def test_stream_raises_remote_failure_after_values(transport: messaging.Transport,
                                                   start_server: StartServer,
                                                   topic: str) -> None:
    start_server([Recorder()])
    seen: list[int] = []
    with pytest.raises(ValueError, match="stream broke"):
        for value in client(transport, topic).stream({}, "count_then_fail", n=3):
            seen.append(value)
    assert seen == [0, 1, 2]


def test_remote_stop_iteration_reaches_the_caller_as_itself(transport: messaging.Transport,
                                                            start_server: StartServer,
                                                            topic: str) -> None:
    """A remote ``StopIteration`` is the call's exception (it used to surface as
    ``RuntimeError``); inside a stream, where it would silently end the iteration, it
    surfaces as ``RuntimeError``."""
    start_server([Recorder()])
    c = client(transport, topic)
    with pytest.raises(StopIteration, match="nothing left"):
        c.call({}, "exhausted")
    with pytest.raises(RuntimeError, match="StopIteration"):
        list(c.stream({}, "exhausted"))


def test_an_unread_stream_releases_its_reply_waiter(transport: messaging.Transport,
                                                   start_server: StartServer,
                                                   topic: str) -> None:
    import gc

    waiters = getattr(transport._driver, "_waiters", None)  # type: ignore[attr-defined]
    if waiters is None:
        pytest.skip("the driver keeps no reply waiters")
    start_server([Recorder()])
    c = client(transport, topic)
    for _ in range(10):
        c.stream({}, "count", n=3)  # dropped without being iterated
    gc.collect()
    deadline = time.monotonic() + 5
    while len(waiters) and time.monotonic() < deadline:
        time.sleep(0.01)  # polling a condition with a deadline
    assert len(waiters) == 0
    stream = c.stream({}, "count", n=3)
    assert next(iter(stream)) == 0
    stream.close()  # type: ignore[attr-defined]
    assert len(waiters) == 0


# ----------------------------------------------------------------------------- lifecycle

def test_requests_wait_in_queue_while_server_is_stopped(transport: messaging.Transport,
                                                        start_server: StartServer,
                                                        topic: str) -> None:
    first = Recorder()
    srv = start_server([first])
    srv.stop()
    srv.wait()
    client(transport, topic).cast({}, "echo", value="queued")
    second = Recorder()
    start_server([second], server="server2")
    assert second.event.wait(10), "a cast sent while no server ran was lost"
    assert first.calls == []


def test_stop_lets_in_flight_call_finish(transport: messaging.Transport,
                                         start_server: StartServer, topic: str) -> None:
    ep = Recorder()
    srv = start_server([ep])
    result: list[Any] = []
    caller = threading.Thread(target=lambda: result.append(
        client(transport, topic).call({}, "blocked")))
    caller.start()
    assert ep.event.wait(10)
    srv.stop()
    ep.release.set()
    srv.wait()
    caller.join(10)
    assert result == ["released"]


def test_server_restarts(transport: messaging.Transport, start_server: StartServer,
                         topic: str) -> None:
    srv = start_server([Recorder()])
    c = client(transport, topic)
    assert c.call({}, "add", a=1, b=1) == 2
    srv.stop()
    srv.wait()
    srv.start()
    assert c.call({}, "add", a=2, b=2) == 4

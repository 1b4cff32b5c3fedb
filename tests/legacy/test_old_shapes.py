"""Older shapes of the legacy API, on fake and on RabbitMQ.

- ``rpc.service.Service.tg``: the thread group of ``openstack.common.service.Service``
  (ceilometer 2013.2's ``CollectorService.start()`` adds timers and threads to it);
- the Essex ``notifier.api.notify(publisher_id, event_type, priority, payload)``;
- the Essex ``create_consumer(topic, service_obj)``, an object without ``dispatch()``;
- quantum 2013.1's ``dispatch(ctxt, version, method, **kwargs)``, without ``namespace``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from legacy_rpc import messaging, rpc
from legacy_rpc.notifier import api as notifier_api
from legacy_rpc.rpc import _dispatch, _threadgroup, common, dispatcher, service
from tests.legacy.conftest import TIMEOUT, LegacyEnv, Recorder


class _Counter:
    """Counts calls and lets a test wait, with a deadline, for a number of them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.count = 0

    def tick(self) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = TIMEOUT) -> int:
        with self._cond:
            assert self._cond.wait_for(lambda: self.count >= count, timeout), (
                f"expected {count} call(s) within {timeout}s, got {self.count}")
            return self.count


def _wait_in_thread(fn: Callable[[], Any], timeout: float = TIMEOUT) -> None:
    """Run ``fn`` in a thread and fail unless it returns within ``timeout``."""
    done = threading.Event()

    def run() -> None:
        fn()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(timeout), f"{fn!r} did not return within {timeout}s"


# --------------------------------------------------------------------------- thread group

class CollectorLikeService(service.Service):
    """As ceilometer 2013.2's CollectorService: a timer before, a thread after start()."""

    RPC_API_VERSION = "1.0"

    def __init__(self, host: str, topic: str) -> None:
        super().__init__(host, topic)
        self.ticks = _Counter()
        self.failing_ticks = _Counter()
        self.thread_started = threading.Event()
        self.thread_ended = threading.Event()

    def start(self) -> None:
        self.tg.add_timer(0.05, self._tick, None, "a", key="b")
        self.tg.add_timer(0.05, self._failing_tick)
        super().start()
        self.tg.add_thread(self._loop, 0.01)

    def _tick(self, arg: str, key: str) -> None:
        assert (arg, key) == ("a", "b")
        self.ticks.tick()

    def _failing_tick(self) -> None:
        self.failing_ticks.tick()
        raise RuntimeError("timer boom")

    def _loop(self, poll: float) -> None:
        self.thread_started.set()
        stopping = threading.Event()
        while not _threadgroup.current_thread_stopping():
            stopping.wait(poll)  # a worker loop; it checks for stop() between rounds
        self.thread_ended.set()

    def ticks_seen(self, ctxt: Any) -> int:
        return self.ticks.count


def test_service_tg_exists_from_construction(legacy: LegacyEnv) -> None:
    serv = service.Service("test-host", legacy.topic("tg"))
    assert isinstance(serv.tg, _threadgroup.ThreadGroup)
    assert serv.tg.threads == [] and serv.tg.timers == []
    serv.stop()  # stopping a service never started is harmless
    _wait_in_thread(serv.wait)


def test_service_thread_group_timers_and_thread(legacy: LegacyEnv, context: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    topic = legacy.topic("collector")
    legacy.queue(f"{topic}.test-host")
    serv = CollectorLikeService("test-host", topic)
    caplog.set_level(logging.ERROR, logger=_threadgroup.__name__)
    serv.start()
    try:
        assert len(serv.tg.timers) == 2 and len(serv.tg.threads) == 1
        assert serv.thread_started.wait(TIMEOUT)
        serv.ticks.wait_for(2)
        # the failing timer is logged at each call and keeps going
        serv.failing_ticks.wait_for(3)
        assert rpc.call(context, topic, {"method": "ticks_seen"}) >= 2
        timers = list(serv.tg.timers)
    finally:
        serv.stop()
    errors = [r for r in caplog.records if "timer boom" in str(r.exc_info)]
    assert len(errors) >= 2
    assert serv.tg.timers == []
    assert serv.thread_ended.wait(TIMEOUT)
    assert serv.tg.threads == []
    _wait_in_thread(serv.wait)
    # stop() joined the timer threads: no call can start after it returned
    assert not any(timer.is_alive() for timer in timers)


def test_thread_group_stop_is_bounded_and_ends_timers(legacy: LegacyEnv) -> None:
    tg = _threadgroup.ThreadGroup(stop_timeout=0.2)
    release = threading.Event()
    stuck = tg.add_thread(release.wait)  # ignores stop(): cannot be killed natively
    counter = _Counter()
    timer = tg.add_timer(0.01, counter.tick)
    counter.wait_for(2)
    started = time.monotonic()
    tg.stop()
    assert time.monotonic() - started < TIMEOUT
    assert not timer.is_alive()
    assert stuck.is_alive() and tg.threads == [stuck]
    _wait_in_thread(tg.wait)  # bounded after stop() as well
    release.set()
    assert stuck.wait(TIMEOUT)
    assert tg.threads == []


def test_thread_group_timer_options(legacy: LegacyEnv) -> None:
    tg = _threadgroup.ThreadGroup()
    done_counter = _Counter()

    def finish() -> None:
        done_counter.tick()
        if done_counter.count == 3:
            raise _threadgroup.LoopingCallDone("finished")

    finishing = tg.add_timer(0.01, finish)
    assert finishing.wait(TIMEOUT)
    assert (done_counter.count, finishing.retvalue) == (3, "finished")

    delayed = _Counter()
    timer = tg.add_timer(0.01, delayed.tick, TIMEOUT * 10)  # a long initial delay
    assert delayed.count == 0

    stopper = _Counter()

    def stop_own_group() -> None:
        stopper.tick()
        tg.stop()  # from inside a timer callback: no deadlock

    stopping_timer = tg.add_timer(0.01, stop_own_group)
    stopper.wait_for(1)
    assert stopping_timer.wait(TIMEOUT)  # its call of stop() returned, then it ended
    _wait_in_thread(tg.wait)
    assert stopper.count == 1 and tg.timers == []
    assert not timer.is_alive() and delayed.count == 0


# --------------------------------------------------------------------------- Essex notify

class _Endpoint:
    def __init__(self) -> None:
        self.received = Recorder()

    def info(self, ctxt: Any, publisher_id: Any, event_type: Any, payload: Any,
             metadata: Any) -> None:
        self.received.add((ctxt, publisher_id, event_type, payload))


def test_essex_and_current_notify_shapes(legacy: LegacyEnv) -> None:
    topic = legacy.topic("notifications")
    legacy.set("notification_driver", ["nova.notifier.rabbit_notifier"])
    legacy.set("notification_topics", [topic])
    legacy.queue(f"{topic}.info")
    notifier_api._reset_drivers()
    endpoint = _Endpoint()
    listener = messaging.get_notification_listener(
        legacy.transport, [messaging.Target(topic=topic)], [endpoint], executor="threading")
    listener.start()
    try:
        ctxt = common.CommonRpcContext(user="u1", tenant="t1")
        notifier_api.notify("compute.host1", "essex.event", notifier_api.INFO, {"n": 1})
        endpoint.received.wait(1)
        notifier_api.notify(ctxt, "compute.host1", "current.event", notifier_api.INFO,
                            {"n": 2})
        endpoint.received.wait(2)
        notifier_api.notify(publisher_id="compute.host1", event_type="essex.kw",
                            priority=notifier_api.INFO, payload={"n": 3})
        notifier_api.notify(ctxt, "compute.host1", "current.kw",
                            priority=notifier_api.INFO, payload={"n": 4})
        items = endpoint.received.wait(4)
    finally:
        listener.stop()
        listener.wait()
    by_event = {event: (c, pub, payload) for c, pub, event, payload in items}
    assert set(by_event) == {"essex.event", "current.event", "essex.kw", "current.kw"}
    assert by_event["essex.event"][1:] == ("compute.host1", {"n": 1})
    assert by_event["essex.event"][0]["is_admin"] is True  # no context: an admin one
    assert by_event["current.event"][0]["user"] == "u1"
    assert by_event["current.kw"][0]["user"] == "u1"
    assert by_event["essex.kw"][2] == {"n": 3}


def test_notify_shapes_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Any, ...]] = []
    monkeypatch.setattr(notifier_api, "_notify", lambda *a: seen.append(a))
    ctxt = common.CommonRpcContext(user="u1")
    notifier_api.notify("pub", "evt", "INFO", {"a": 1})
    notifier_api.notify(None, "pub", "evt", "INFO", {"a": 2})
    notifier_api.notify(ctxt, "pub", "evt", "INFO", {"a": 3})
    notifier_api.notify("pub", "evt", "INFO", payload={"a": 4})
    notifier_api.notify(context=ctxt, publisher_id="pub", event_type="evt",
                        priority="INFO", payload={"a": 5})
    assert seen == [(None, "pub", "evt", "INFO", {"a": 1}),
                    (None, "pub", "evt", "INFO", {"a": 2}),
                    (ctxt, "pub", "evt", "INFO", {"a": 3}),
                    (None, "pub", "evt", "INFO", {"a": 4}),
                    (ctxt, "pub", "evt", "INFO", {"a": 5})]
    for args, kwargs in [((ctxt, "pub", "evt", "INFO"), {}),  # today's, payload missing
                         ((None, "pub", "evt", "INFO"), {}),
                         (("pub", "evt", "INFO"), {}),
                         (("pub", "evt", "INFO", {}, "extra", "more"), {}),
                         (("pub", "evt", "INFO", {}), {"bogus": 1}),
                         ((ctxt, "pub", "evt", "INFO"), {"context": ctxt})]:
        with pytest.raises(TypeError):
            notifier_api.notify(*args, **kwargs)
    assert len(seen) == 5


# --------------------------------------------------------------------------- Essex consumer

class EssexService:
    """An Essex service object: no dispatch(), its methods take (context, **args)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def echo(self, context: Any, value: Any) -> Any:
        self.recorder.add(("echo", context.to_dict().get("user"), value))
        return value

    def note(self, ctxt: Any, value: Any) -> None:
        self.recorder.add(("note", value))

    def _private(self, context: Any) -> str:
        return "secret"


def _remote_type(exc: BaseException) -> str:
    return getattr(exc, "exc_type", None) or type(exc).__name__


def test_essex_create_consumer_with_service_object(legacy: LegacyEnv, context: Any,
                                                   recorder: Recorder) -> None:
    topic = legacy.topic("essex")
    conn = legacy.connection()
    conn.create_consumer(topic, EssexService(recorder), fanout=False)
    conn.consume_in_thread()
    assert rpc.call(context, topic, {"method": "echo", "args": {"value": 42}}) == 42
    rpc.cast(context, topic, {"method": "note", "args": {"value": "cast"}})
    assert recorder.wait(2) == [("echo", "fake_user", 42), ("note", "cast")]
    # the version is ignored, as Essex had none
    assert rpc.call(context, topic, {"method": "echo", "version": "9.9",
                                     "args": {"value": 1}}) == 1
    for method in ("missing", "_private", "__class__"):
        with pytest.raises(Exception) as info:
            rpc.call(context, topic, {"method": method, "args": {}})
        assert "AttributeError" in _remote_type(info.value)


# --------------------------------------------------------------------------- quantum

class PluginRpcDispatcher(dispatcher.RpcDispatcher):
    """quantum 2013.1: ``dispatch`` without ``namespace``, the context rebuilt."""

    def __init__(self, callbacks: list[Any], recorder: Recorder) -> None:
        super().__init__(callbacks)
        self.recorder = recorder

    def dispatch(self, rpc_ctxt: Any, version: Any, method: Any,  # type: ignore[override]
                 **kwargs: Any) -> Any:
        self.recorder.add(("dispatch", method, sorted(kwargs)))
        return super().dispatch(rpc_ctxt, version, method, None, **kwargs)


class PluginCallbacks:
    RPC_API_VERSION = "1.1"

    def get_device_details(self, rpc_context: Any, device: str, agent_id: str) -> Any:
        return {"device": device, "agent_id": agent_id}


def test_dispatcher_without_namespace(legacy: LegacyEnv, context: Any,
                                      recorder: Recorder) -> None:
    topic = legacy.topic("q-plugin")
    conn = legacy.connection()
    conn.create_consumer(topic, PluginRpcDispatcher([PluginCallbacks()], recorder),
                         fanout=False)
    conn.consume_in_thread()
    msg = {"method": "get_device_details", "version": "1.1", "namespace": None,
           "args": {"device": "tap1", "agent_id": "a1"}}
    assert rpc.call(context, topic, msg) == {"device": "tap1", "agent_id": "a1"}
    assert recorder.wait(1) == [("dispatch", "get_device_details",
                                 ["agent_id", "device"])]


def test_takes_namespace_is_read_from_the_signature(legacy: LegacyEnv) -> None:
    class Current:
        def dispatch(self, ctxt: Any, version: Any, method: Any, namespace: Any,
                     **kwargs: Any) -> None: ...

    class Quantum:
        def dispatch(self, ctxt: Any, version: Any, method: Any, **kwargs: Any) -> None: ...

    class Renamed:
        def dispatch(self, ctxt: Any, version: Any, method: Any, ns: Any,
                     **kwargs: Any) -> None: ...

    class Wrapper:
        def dispatch(self, *args: Any, **kwargs: Any) -> None: ...

    assert _dispatch._takes_namespace(Current().dispatch)
    assert not _dispatch._takes_namespace(Quantum().dispatch)
    assert _dispatch._takes_namespace(Renamed().dispatch)
    assert _dispatch._takes_namespace(Wrapper().dispatch)
    assert _dispatch._takes_namespace(dispatcher.RpcDispatcher([]).dispatch)

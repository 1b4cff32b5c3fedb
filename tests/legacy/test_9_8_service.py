"""Spec 9.8: ``rpc.service.Service``, on fake and on RabbitMQ, with its three consumers."""

from __future__ import annotations

from typing import Any

from legacy_rpc import rpc
from legacy_rpc.rpc import service
from tests.legacy.conftest import LegacyEnv, Recorder


class FakeService(service.Service):
    def test_method(self) -> str:
        return "manager"


def _topic(legacy: LegacyEnv) -> str:
    topic = legacy.topic("test-topic")
    legacy.queue(f"{topic}.test-host")
    return topic


def test_9_8_message_default(legacy: LegacyEnv) -> None:
    serv = FakeService("test-host", _topic(legacy))
    serv.start()
    try:
        assert serv.manager is serv
        assert serv.test_method() == "manager"
    finally:
        serv.stop()


def test_9_8_hook_default(legacy: LegacyEnv) -> None:
    class HookManager:
        def __init__(self) -> None:
            self.hooked: Any = None

        def initialize_service_hook(self, svc: Any) -> None:
            self.hooked = svc

    manager = HookManager()
    serv = service.Service("test-host", _topic(legacy), manager)
    serv.start()
    try:
        assert manager.hooked is serv
    finally:
        serv.stop()


class Manager:
    RPC_API_VERSION = "1.0"

    def __init__(self, host: str, recorder: Recorder) -> None:
        self.host = host
        self.recorder = recorder

    def whoami(self, ctxt: Any) -> str:
        self.recorder.add(("whoami", self.host))
        return self.host

    def ping(self, ctxt: Any) -> None:
        self.recorder.add(("ping", self.host))


def test_9_8_three_consumers(legacy: LegacyEnv, context: Any) -> None:
    """topic: one instance; topic.host: that host; fanout: every instance."""
    topic = legacy.topic("svc")
    recorder = Recorder()
    services = [service.Service(host, topic, Manager(host, recorder))
                for host in ("host1", "host2")]
    for svc in services:
        legacy.queue(f"{topic}.{svc.host}")
        svc.start()
    try:
        assert rpc.call(context, topic, {"method": "whoami"}) in ("host1", "host2")
        for host in ("host1", "host2"):
            direct = rpc.queue_get_for(context, topic, host)
            assert rpc.call(context, direct, {"method": "whoami"}) == host
        rpc.fanout_cast(context, topic, {"method": "ping"})
        pings = [item for item in recorder.wait(5) if item[0] == "ping"]
        assert sorted(pings) == [("ping", "host1"), ("ping", "host2")]
    finally:
        for svc in services:
            svc.stop()
    svc.wait()  # returns once stopped

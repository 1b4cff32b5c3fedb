"""Delivery invariants of the legacy ``Connection`` (issue 9, observation 6).

``create_consumer`` declares its queue at once but takes messages from it only from
``consume_in_thread()`` on: messages cast meanwhile wait in the queue (where another server
can take them, and where they expire with their caller's timeout). The heartbeat thread
never takes them: before, it acknowledged and "dispatched" half of the shared queue into a
consumer nobody ran, and closing that connection lost them.
"""

from __future__ import annotations

import time
from typing import Any

from legacy_rpc import rpc
from legacy_rpc.rpc import common, dispatcher
from tests.helpers import wait_for
from tests.legacy.conftest import LegacyEnv, Recorder


class Manager:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def record(self, context: Any, n: int) -> None:
        self.recorder.add(n)


def test_a_consumer_not_yet_started_takes_no_message(
        legacy: LegacyEnv, context: common.CommonRpcContext, recorder: Recorder) -> None:
    if legacy.backend == "rabbit":
        from oslo_config import cfg

        from legacy_rpc.messaging.drivers.rabbit._opts import GROUP, rabbit_opts

        cfg.CONF.register_opts(rabbit_opts, group=GROUP)
        # Heartbeats every fraction of a second: the heartbeat thread is busy meanwhile.
        legacy.set("heartbeat_timeout_threshold", 1, "oslo_messaging_rabbit")
    topic = legacy.topic("early")
    early = legacy.connection()
    early.create_consumer(topic, dispatcher.RpcDispatcher([Manager(recorder)]))
    for n in range(20):
        rpc.cast(context, topic, {"method": "record", "args": {"n": n}})
    quiet_until = time.monotonic() + 3  # several heartbeat periods
    while time.monotonic() < quiet_until:
        assert recorder.items == [], "a consumer that was never started dispatched"
        time.sleep(0.1)  # sampling pace of a quiet period, not synchronisation
    early.close()
    legacy.consumer(topic, [Manager(recorder)])
    wait_for(lambda: sorted(recorder.items) == list(range(20)), timeout=15,
             message=lambda: f"{len(recorder.items)} of 20 casts arrived: {recorder.items}")


def test_service_start_hook_runs_before_consuming(
        legacy: LegacyEnv, context: common.CommonRpcContext, recorder: Recorder) -> None:
    """Messages waiting in the queue are dispatched only after ``consume_in_thread``."""
    topic = legacy.topic("hook")
    conn = legacy.connection()
    conn.create_consumer(topic, dispatcher.RpcDispatcher([Manager(recorder)]))
    rpc.cast(context, topic, {"method": "record", "args": {"n": 1}})
    assert recorder.items == []
    conn.consume_in_thread()
    assert recorder.wait(1) == [1]

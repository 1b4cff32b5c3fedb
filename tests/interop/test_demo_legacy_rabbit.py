"""``legacy-rpc demo`` on RabbitMQ, as a new user runs it: the legacy part, with an
unmodified oslo.messaging process calling the old-style service; the broker holds no
consumer and no message of the demo afterwards."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.infra.fixtures import SharedVhost
from tests.infra.inspect import BrokerInspector

pytestmark = [pytest.mark.interop, pytest.mark.broker]


def test_the_legacy_demo_on_rabbitmq_with_an_oslo_messaging_caller(
        shared_vhost: SharedVhost) -> None:
    url = shared_vhost.url
    proc = subprocess.run([sys.executable, "-m", "legacy_rpc.cli", "demo", "--url", url,
                           "--part", "legacy", "--timeout", "15"],
                          capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout
    assert "7. oslo.messaging client" in out
    assert "(another process): client.call({}, 'add', a=40, b=2)" in out
    assert out.count("returned  42") == 2  # the RPCClient step and the oslo.messaging step
    assert "listener  info(publisher_id='demo.host-1', event_type='demo.started')" in out
    assert out.rstrip().splitlines()[-1].startswith("All 7 steps passed in ")
    assert "guest@" not in out + proc.stderr  # the password is masked
    assert "Traceback" not in proc.stderr
    inspector = BrokerInspector.for_rabbitmqctl(vhost=shared_vhost.name)
    demo_queues = [q for name, q in inspector.queues().items() if "legacy-rpc-demo" in name]
    assert demo_queues, "the demo declared no queue in its vhost"
    assert all(q.consumers == 0 for q in demo_queues), demo_queues
    assert all(q.messages_unacknowledged == 0 for q in demo_queues), demo_queues

"""``rabbit_max_retries`` (issue 12 item 5): with the broker unreachable, the legacy sends
give up after that many tries with an ``RPCException``, as the original's reconnect did,
instead of blocking until their deadline (forever for a cast).

Against a port nobody listens on, and against a ``tests.infra`` FaultProxy in front of
the shared broker that starts refusing and resetting connections after a first send.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc import rpc
from legacy_rpc.messaging.exceptions import MessageDeliveryFailure
from legacy_rpc.messaging.transport import TransportURL
from legacy_rpc.rpc import (
    _backend,
    common,
    dispatcher,
    impl_kombu,  # noqa: F401 - registers the rabbit options
)
from tests.helpers import delete_broker_objects
from tests.infra.faultproxy import FaultProxy

CONF = cfg.CONF
# Two tries 0.2 s apart: the whole give-up must come far sooner than the 30 s timeout.
DEADLINE = 15.0


@pytest.fixture
def legacy_conf() -> Iterator[Callable[[str, Any], None]]:
    """``set(name, value)`` on the global CONF; cleared, and the transports released,
    afterwards."""
    names: list[str] = []

    def set_(name: str, value: Any) -> None:
        CONF.set_override(name, value)
        names.append(name)

    set_("rpc_backend", "nova.openstack.common.rpc.impl_kombu")
    set_("rpc_response_timeout", 30)
    set_("rabbit_retry_interval", 0)  # the core waits at least a short pause anyway
    set_("rabbit_retry_backoff", 0)
    set_("control_exchange", f"lg-retries-{uuid.uuid4().hex[:8]}")
    yield set_
    rpc.cleanup()
    for name in reversed(names):
        CONF.clear_override(name)


def _unused_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()  # nothing listens on it from now on
    return port


def _gives_up(send: Callable[[], Any]) -> BaseException:
    """Run ``send``; it must raise an ``RPCException`` within ``DEADLINE`` seconds."""
    start = time.monotonic()
    with pytest.raises(common.RPCException) as info:
        send()
    assert time.monotonic() - start < DEADLINE
    return info.value


@pytest.mark.parametrize("tries", [1, 3])
def test_sends_give_up_after_max_retries(legacy_conf: Callable[[str, Any], None],
                                         tries: int) -> None:
    legacy_conf("rabbit_host", "127.0.0.1")
    legacy_conf("rabbit_port", _unused_port())
    legacy_conf("rabbit_max_retries", tries)
    msg = {"method": "echo", "args": {"value": 1}}
    error = _gives_up(lambda: rpc.cast({}, "retries", msg))
    assert isinstance(error, MessageDeliveryFailure)  # what core-style code catches
    assert f"after {tries} tries" in str(error)
    _gives_up(lambda: rpc.fanout_cast({}, "retries", msg))
    # A call first sets up its reply queue, which the rabbit driver retries until the
    # call's timeout (not rabbit_max_retries): bounded by the timeout, still RPCException.
    _gives_up(lambda: rpc.call({}, "retries", msg, timeout=1))
    _gives_up(lambda: rpc.notify({}, "retries.info", {"event_type": "x", "payload": {}}))


def test_zero_keeps_the_core_default() -> None:
    """``rabbit_max_retries = 0`` means forever in the original: the core's None."""
    conf = cfg.ConfigOpts()
    conf([])
    url = TransportURL.parse(conf, "rabbit://127.0.0.1:5672/")
    assert _backend.send_retry(conf, url) is None
    conf.set_override("rabbit_max_retries", 4)
    assert _backend.send_retry(conf, url) == 3
    assert _backend.send_retry(conf, TransportURL.parse(conf, "fake://")) is None


def test_a_broker_that_goes_away(legacy_conf: Callable[[str, Any], None],
                                 rabbit_url: str) -> None:
    """Casts work through the proxy; once it refuses new connections and resets the
    current ones, the next cast gives up after the configured tries."""
    base = TransportURL.parse(CONF, rabbit_url)
    host = base.hosts[0]
    topic = f"lg-retries-{uuid.uuid4().hex[:8]}"
    with FaultProxy(host.port or 5672, host.hostname or "127.0.0.1") as proxy:
        legacy_conf("rabbit_host", "127.0.0.1")
        legacy_conf("rabbit_port", proxy.port)
        legacy_conf("rabbit_userid", host.username or "guest")
        legacy_conf("rabbit_password", host.password or "guest")
        legacy_conf("rabbit_virtual_host", base.virtual_host or "/")
        legacy_conf("rabbit_max_retries", 2)
        conn = rpc.create_connection()
        try:
            conn.create_consumer(topic, dispatcher.RpcDispatcher([]))  # declares the queue
            rpc.cast({}, topic, {"method": "echo", "args": {}})  # reachable: sent
            proxy.refuse_new = True
            proxy.reset()
            error = _gives_up(lambda: rpc.cast({}, topic, {"method": "echo", "args": {}}))
            assert "after 2 tries" in str(error)
        finally:
            proxy.refuse_new = False
            conn.close()
            delete_broker_objects(rabbit_url, [topic], [str(CONF.control_exchange)])


@pytest.mark.parametrize("tries", [1, 3])
def test_create_consumer_gives_up_after_max_retries(legacy_conf: Callable[[str, Any], None],
                                                    tries: int) -> None:
    """The original's create_consumer raised once its connection failed N times; it used to
    block here until a broker came."""
    legacy_conf("rabbit_host", "127.0.0.1")
    legacy_conf("rabbit_port", _unused_port())
    legacy_conf("rabbit_max_retries", tries)
    conn = rpc.create_connection()
    try:
        error = _gives_up(lambda: conn.create_consumer("retries",
                                                       dispatcher.RpcDispatcher([])))
        assert isinstance(error, MessageDeliveryFailure)
        assert f"after {tries} tries" in str(error)
    finally:
        conn.close()

"""Spec 9.3: ``test_kombu`` / ``test_kombu_ssl``, mapped onto what the facade does.

Consumer pools, exchanges, remote exceptions and request expiry run on fake and on
RabbitMQ. The connection options are checked where they end up: in the transport URL built
from them (and, for HA queues, in the queue declarations it leads to). The kombu connection
internals the original stubbed are the core's now (see tests/legacy/CHECKLIST.md).
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc import rpc
from legacy_rpc.messaging.drivers.base import Subscription
from legacy_rpc.messaging.drivers.rabbit._opts import load_options
from legacy_rpc.messaging.drivers.rabbit._topology import Topology
from legacy_rpc.messaging.transport import TransportHost
from legacy_rpc.rpc import _transport_url, common
from tests.helpers import amqp_params, wait_for
from tests.legacy.conftest import TIMEOUT, LegacyEnv, Recorder
from tests.legacy.test_9_1_shared_suite import MSG_ECHO_42, Receiver


def _conf(**overrides: Any) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([])
    for name, value in overrides.items():
        _transport_url.transport_url(conf, "rabbit")  # registers the legacy options
        conf.set_override(name, value)
    return conf


# --------------------------------------------------------------------------- consumers

def _pool_collector(recorder: Recorder) -> Any:
    return lambda message: recorder.add(message["args"]["value"])


def test_9_3_topic_multiple_queues(legacy: LegacyEnv, context: Any) -> None:
    """Workers in two pools (queues) of one topic each get a copy; create_worker."""
    legacy.require_pools()
    topic = legacy.topic("workers")
    pools = {name: Receiver() for name in ("queue1", "queue2")}
    for name, receiver in pools.items():
        conn = legacy.connection()
        conn.create_worker(topic, _dispatcher(receiver), legacy.queue(f"{topic}-{name}"))
        conn.consume_in_thread()
    rpc.cast(context, topic, dict(MSG_ECHO_42))
    for receiver in pools.values():
        assert receiver.recorder.wait(1) == [42]


def _dispatcher(receiver: Any) -> Any:
    from legacy_rpc.rpc import dispatcher

    return dispatcher.RpcDispatcher([receiver])


def test_9_3_create_worker(legacy: LegacyEnv, context: Any) -> None:
    """Within one pool each message goes to one worker; calls work on workers too."""
    legacy.require_pools()
    topic = legacy.topic("workers")
    pool = legacy.queue(f"{topic}-pool.name")
    recorder = Recorder()
    for _ in range(2):
        conn = legacy.connection()
        conn.create_worker(topic, _dispatcher(Receiver(recorder)), pool)
        conn.consume_in_thread()
    for value in range(4):
        rpc.cast(context, topic, {"method": "echo", "args": {"value": value}})
    assert sorted(recorder.wait(4)) == [0, 1, 2, 3]
    assert rpc.call(context, topic, dict(MSG_ECHO_42)) == 42
    assert sorted(recorder.items) == [0, 1, 2, 3, 42]  # each message handled once


def test_9_3_join_consumer_pool_default(legacy: LegacyEnv, context: Any) -> None:
    """Keyword arguments as the original test passed them; the callback gets the message
    dict, context keys included."""
    legacy.require_pools()
    topic = legacy.topic("pool")
    received: list[dict[str, Any]] = []
    done = threading.Event()

    def callback(message: dict[str, Any]) -> None:
        received.append(message)
        done.set()

    conn = legacy.connection()
    conn.join_consumer_pool(callback=callback, pool_name=legacy.queue(f"{topic}-pool"),
                            topic=topic, exchange_name=None)
    conn.consume_in_thread()
    rpc.cast(context, topic, dict(MSG_ECHO_42))
    assert done.wait(TIMEOUT)
    assert received[0]["method"] == "echo" and received[0]["args"] == {"value": 42}
    assert received[0]["_context_user"] == "fake_user"


def test_9_3_join_consumer_pool_no_ack(legacy: LegacyEnv, context: Any) -> None:
    """``ack_on_error=False`` is honoured: a failed message comes back."""
    legacy.require_pools()
    legacy.require_requeue()
    topic = legacy.topic("pool")
    attempts: list[int] = []
    done = threading.Event()

    def callback(message: dict[str, Any]) -> None:
        attempts.append(message["args"]["value"])
        if len(attempts) == 1:
            raise ValueError("first attempt fails")
        done.set()

    conn = legacy.connection()
    conn.join_consumer_pool(callback, legacy.queue(f"{topic}-pool"), topic,
                            ack_on_error=False)
    conn.consume_in_thread()
    rpc.cast(context, topic, dict(MSG_ECHO_42))
    assert done.wait(TIMEOUT)
    assert attempts == [42, 42]


def _join(legacy: LegacyEnv, topic: str, pool: str, exchange: str) -> Recorder:
    recorder = Recorder()
    conn = legacy.connection()
    conn.join_consumer_pool(_pool_collector(recorder), legacy.queue(pool), topic,
                            exchange_name=exchange)
    conn.consume_in_thread()
    legacy.janitor.exchanges.add(exchange)
    return recorder


def _publish(legacy: LegacyEnv, raw: Any, topic: str, value: Any, exchange: str) -> None:
    body = common.serialize_msg({"method": "m", "args": {"value": value},
                                 "_unique_id": uuid.uuid4().hex})
    raw.publish(topic, json.dumps(body).encode(), exchange=exchange)


def test_9_3_topic_send_receive_exchange_name(legacy: LegacyEnv) -> None:
    legacy.require_pools()
    topic = legacy.topic("pool")
    exchange = f"{legacy.prefix}-foorbar"
    recorder = _join(legacy, topic, f"{topic}-pool", exchange)
    _publish(legacy, legacy.raw(), topic, "in foorbar", exchange)
    assert recorder.wait(1) == ["in foorbar"]


def test_9_3_topic_multiple_queues_specify_exchange(legacy: LegacyEnv) -> None:
    legacy.require_pools()
    topic = legacy.topic("pool")
    exchange = f"{legacy.prefix}-abc"
    recorders = [_join(legacy, topic, f"{topic}-queue{i}", exchange) for i in (1, 2)]
    _publish(legacy, legacy.raw(), topic, "copy", exchange)
    for recorder in recorders:
        assert recorder.wait(1) == ["copy"]


def test_9_3_topic_one_queues_multiple_exchange(legacy: LegacyEnv) -> None:
    """Pools of one topic in two exchanges: each gets what is sent to its own exchange."""
    legacy.require_pools()
    topic = legacy.topic("pool")
    names = {x: f"{legacy.prefix}-{x}" for x in ("abc", "def")}
    recorders = {x: _join(legacy, topic, f"{topic}-{x}", name) for x, name in names.items()}
    raw = legacy.raw()
    _publish(legacy, raw, topic, "to abc", names["abc"])
    _publish(legacy, raw, topic, "to def", names["def"])
    assert recorders["abc"].wait(1) == ["to abc"]
    assert recorders["def"].wait(1) == ["to def"]


def test_9_3_message_ttl_on_timeout(legacy: LegacyEnv, context: Any) -> None:
    """A call request still queued when its caller gave up is discarded, not run later
    (the original's ``ttl`` header was not enforced by RabbitMQ, spec 10.18; fixed)."""
    topic = legacy.topic("late")
    legacy.consumer(topic, [Receiver()], start=False).close()  # declares the queue only
    with pytest.raises(common.Timeout):
        rpc.call(context, topic, {"method": "echo", "args": {"value": "expired"}}, timeout=1)
    if legacy.backend == "rabbit" and legacy.rabbit_url is not None:
        # The TTL runs from when the broker queued the request, a little after the caller
        # sent it: wait until the broker dropped it, not until the caller gave up.
        wait_for(lambda: _queued(legacy.rabbit_url or "", topic) == 0,
                 message="the broker still holds the expired request")
    receiver = Receiver()
    legacy.consumer(topic, [receiver])
    assert rpc.call(context, topic, {"method": "echo", "args": {"value": "fresh"}}) == "fresh"
    assert receiver.recorder.items == ["fresh"]


def _queued(url: str, queue: str) -> int:
    """How many messages the broker holds ready in ``queue`` (a passive declare)."""
    import amqp

    conn = amqp.Connection(**amqp_params(url))
    conn.connect()
    try:
        return int(conn.channel().queue_declare(queue, passive=True).message_count)
    finally:
        conn.close()


# --------------------------------------------------------------------------- exceptions

def test_9_3_call_exception(legacy: LegacyEnv, context: Any) -> None:
    legacy.set("allowed_rpc_exception_modules", ["exceptions"])
    topic = legacy.topic("test")
    legacy.consumer(topic, [Receiver()])
    value = "This is the exception message"
    with pytest.raises(NotImplementedError) as info:
        rpc.call(context, topic, {"method": "fail", "args": {"value": value}})
    assert value in str(info.value)
    assert "raise NotImplementedError(value)" in str(info.value)  # the remote traceback
    assert info.value.args[0] == value


def test_9_3_call_converted_exception(legacy: LegacyEnv, context: Any) -> None:
    from tests.legacy import legacy_errors

    class Converting:
        def fail_converted(self, ctxt: Any, value: str) -> None:
            raise legacy_errors.ApiError(message=value, code="500")

    legacy.set("allowed_rpc_exception_modules", ["tests.legacy.legacy_errors"])
    topic = legacy.topic("test")
    legacy.consumer(topic, [Converting()])
    value = "This is the exception message"
    with pytest.raises(legacy_errors.ApiError) as info:
        rpc.call(context, topic, {"method": "fail_converted", "args": {"value": value}})
    assert value in str(info.value) and "ApiError" in str(info.value)


def test_9_3_call_exception_not_allowed(legacy: LegacyEnv, context: Any) -> None:
    """An exception from a module that is not allowed arrives as RemoteError, which both
    the legacy and the new-style except clauses catch."""
    from legacy_rpc import messaging
    from tests.legacy import legacy_errors

    class Converting:
        def fail_converted(self, ctxt: Any, value: str) -> None:
            raise legacy_errors.ApiError(message=value, code="500")

    topic = legacy.topic("test")
    legacy.consumer(topic, [Converting()])
    with pytest.raises(common.RemoteError) as info:
        rpc.call(context, topic, {"method": "fail_converted", "args": {"value": "v"}})
    assert isinstance(info.value, messaging.RemoteError)
    assert info.value.exc_type == "ApiError" and "500: v" in info.value.value
    assert str(info.value).startswith("Remote error: ApiError 500: v")
    assert isinstance(info.value.__cause__, messaging.RemoteError)


# --------------------------------------------------------------------------- cast_to_server

def test_9_3_cast_to_server_uses_server_params(legacy: LegacyEnv, context: Any) -> None:
    conf = _conf()
    params = {"username": "fake_username", "password": "fake_password",
              "hostname": "fake_hostname", "port": 31337, "virtual_host": "fake_vhost"}
    url = _transport_url.transport_url(conf, "rabbit", server_params=params)
    assert url.hosts == [TransportHost("fake_hostname", 31337, "fake_username",
                                       "fake_password")]
    assert url.virtual_host == "fake_vhost"

    if legacy.backend in ("fake", "zmq"):
        # Like the original impl_fake and impl_zmq, these backends have no *_to_server
        # functions.
        with pytest.raises(AttributeError):
            rpc.cast_to_server(context, params, "topic", dict(MSG_ECHO_42))
        return
    assert legacy.rabbit_url is not None
    real = _transport_url.transport_url(cfg.CONF)  # the test broker, given as server_params
    host = real.hosts[0]
    server = {"hostname": host.hostname, "port": host.port, "username": host.username,
              "password": host.password, "virtual_host": real.virtual_host}
    topic = legacy.topic("test")
    receivers = [Receiver(), Receiver()]
    legacy.consumer(topic, [receivers[0]])
    legacy.consumer(topic, [receivers[1]], fanout=True)
    rpc.cast_to_server(context, server, topic, dict(MSG_ECHO_42))
    rpc.fanout_cast_to_server(context, server, topic, {"method": "echo",
                                                       "args": {"value": 43}})
    assert receivers[0].recorder.wait(1) == [42]
    assert receivers[1].recorder.wait(1) == [43]


# --------------------------------------------------------------------------- options

def test_9_3_cast_interface_uses_default_options() -> None:
    conf = _conf()
    url = _transport_url.transport_url(conf, "rabbit")
    assert url.transport == "rabbit"
    assert url.hosts == [TransportHost("localhost", 5672, "guest", "guest")]
    assert url.virtual_host == "/"
    assert url.query == {}  # no ssl, nothing but the defaults


def test_9_3_roundrobin_reconnect() -> None:
    """Every broker of rabbit_hosts, IPv6 included, with the default port where none is
    given; the core tries them in turn (kombu_failover_strategy=round-robin)."""
    conf = _conf(rabbit_hosts=["host1:1234", "host2:5678", "[::1]:2345",
                               "[2001:0db8:85a3:0042:0000:8a2e:0370:7334]"])
    url = _transport_url.transport_url(conf, "rabbit")
    assert [(h.hostname, h.port) for h in url.hosts] == [
        ("host1", 1234), ("host2", 5678), ("::1", 2345),
        ("2001:0db8:85a3:0042:0000:8a2e:0370:7334", 5672)]
    assert {(h.username, h.password) for h in url.hosts} == {("guest", "guest")}


def _queue_arguments(conf: cfg.ConfigOpts) -> dict[str, Any]:
    url = _transport_url.transport_url(conf, "rabbit")
    topology = Topology(load_options(conf, url.query))
    return topology.subscription_queue(Subscription("topic"), "openstack", "x").arguments


def test_9_3_queue_not_declared_ha_if_ha_off() -> None:
    assert "x-ha-policy" not in _queue_arguments(_conf())


def test_9_3_queue_declared_ha_if_ha_on() -> None:
    conf = _conf(rabbit_ha_queues=True)
    assert _transport_url.transport_url(conf, "rabbit").query["rabbit_ha_queues"] == "true"
    assert _queue_arguments(conf)["x-ha-policy"] == "all"


def test_9_3_ssl_on_extended() -> None:
    conf = _conf(rabbit_use_ssl=True, kombu_ssl_version="TLSv1_2",
                 kombu_ssl_keyfile="/etc/ssl/key.pem", kombu_ssl_certfile="/etc/ssl/cert.pem",
                 kombu_ssl_ca_certs="/etc/ssl/ca.pem")
    query = _transport_url.transport_url(conf, "rabbit").query
    assert query == {"ssl": "true", "ssl_version": "TLSv1_2",
                     "ssl_key_file": "/etc/ssl/key.pem", "ssl_cert_file": "/etc/ssl/cert.pem",
                     "ssl_ca_file": "/etc/ssl/ca.pem"}
    options = load_options(conf, query)
    assert options.ssl and options.ssl_ca_file == "/etc/ssl/ca.pem"


def test_9_3_bad_ssl_version(restore_conf: Any) -> None:
    from legacy_rpc.rpc import impl_kombu  # noqa: F401 - registers the rabbit options

    restore_conf("rpc_backend", "nova.openstack.common.rpc.impl_kombu")
    restore_conf("kombu_ssl_version", "SSLv24")
    with pytest.raises(RuntimeError, match="SSLv24"):
        rpc.create_connection()
    restore_conf("kombu_ssl_version", "SSLv3")  # insecure: refused too
    with pytest.raises(RuntimeError, match="insecure"):
        rpc.create_connection()

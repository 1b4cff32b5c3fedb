"""The rabbit driver's options and declarations (spec 2.3 and 3.2), without a broker."""

from __future__ import annotations

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging.drivers.base import Subscription
from legacy_rpc.messaging.drivers.rabbit._opts import load_options
from legacy_rpc.messaging.drivers.rabbit._topology import Topology


def options(**query: str) -> Topology:
    conf = cfg.ConfigOpts()
    conf([])
    return Topology(load_options(conf, query))


def test_default_rpc_topology_matches_oslo() -> None:
    topic, server, fanout = options().rpc_queues("openstack", "demo", "host1", "abc")
    assert (topic.name, topic.durable, topic.auto_delete, topic.arguments) == \
        ("demo", False, False, {})
    [(exchange, key)] = topic.bindings
    assert (exchange.name, exchange.type, exchange.durable, exchange.auto_delete, key) == \
        ("openstack", "topic", False, False, "demo")
    assert server.name == "demo.host1" and server.bindings[0][1] == "demo.host1"
    assert server.arguments == {}
    assert fanout.name == "demo_fanout_abc"
    assert (fanout.durable, fanout.auto_delete) == (False, False)
    assert fanout.arguments == {"x-expires": 1800000}
    [(fanout_exchange, _)] = fanout.bindings
    assert (fanout_exchange.name, fanout_exchange.type, fanout_exchange.durable,
            fanout_exchange.auto_delete) == ("demo_fanout", "fanout", False, True)


def test_reply_and_notification_queues() -> None:
    topology = options()
    reply = topology.reply_queue("reply_x")
    assert (reply.durable, reply.auto_delete, reply.arguments, reply.bindings) == \
        (False, False, {"x-expires": 1800000}, ())
    note = topology.notification_queue("nova", "notifications.info")
    assert (note.name, note.arguments) == ("notifications.info", {})
    assert note.bindings[0][0].name == "nova"
    pooled = topology.subscription_queue(
        Subscription("notifications.info", "nova", queue="mypool"), "openstack", "u")
    assert pooled.name == "mypool" and pooled.bindings[0][1] == "notifications.info"


def test_durable_and_auto_delete_options() -> None:
    topic, _server, fanout = options(amqp_durable_queues="true",
                                     amqp_auto_delete="true").rpc_queues("x", "t", "s", "u")
    assert (topic.durable, topic.auto_delete) == (True, True)
    assert topic.bindings[0][0].durable and topic.bindings[0][0].auto_delete
    assert (fanout.durable, fanout.auto_delete) == (False, False)  # transient queues stay


def test_quorum_queues() -> None:
    topology = options(rabbit_quorum_queue="1", rabbit_quorum_delivery_limit="5",
                       rabbit_transient_queues_ttl="0")
    topic, _server, fanout = topology.rpc_queues("x", "t", "s", "u")
    assert topic.durable
    assert topic.arguments == {"x-queue-type": "quorum", "x-delivery-limit": 5}
    assert fanout.arguments == {}  # no TTL, not transient-quorum


def test_transient_quorum_queues() -> None:
    topology = options(rabbit_transient_quorum_queue="true")
    _topic, _server, fanout = topology.rpc_queues("x", "t", "s", "u")
    assert fanout.durable and fanout.bindings[0][0].durable
    assert fanout.arguments == {"x-queue-type": "quorum", "x-expires": 1800000}
    assert topology.reply_queue("r").arguments == {"x-queue-type": "quorum",
                                                   "x-expires": 1800000}


def test_ha_queues() -> None:
    topic, _server, fanout = options(rabbit_ha_queues="true").rpc_queues("x", "t", "s", "u")
    assert topic.arguments == {"x-ha-policy": "all"}
    assert fanout.arguments == {"x-ha-policy": "all", "x-expires": 1800000}


@pytest.mark.parametrize(("query", "message"), [
    ({"no_such_option": "1"}, "Unknown transport URL option"),
    ({"rabbit_qos_prefetch_count": "many"}, "Invalid value"),
    ({"rabbit_ha_queues": "1", "rabbit_quorum_queue": "1"}, "cannot be combined"),
    ({"kombu_compression": "zip"}, "gzip or bz2"),
    ({"rabbit_stream_fanout": "1"}, "not supported"),
])
def test_bad_options_are_clear_errors(query: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        options(**query)


def test_bad_url_option_fails_transport_creation() -> None:
    conf = cfg.ConfigOpts()
    conf([])
    with pytest.raises(messaging.DriverLoadFailure, match="Unknown transport URL option"):
        messaging.get_transport(conf, "rabbit://u:p@h:5672/?foo=1")

"""Self-tests of tests/infra: private nodes, the cluster, the inspector and the fault proxy.

They check the tools against real brokers with py-amqp directly, so that a resilience
test failing with these tools points at the code under test, not at the tools.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterator

import amqp
import pytest

from tests.helpers import amqp_params, wait_for
from tests.infra.faultproxy import FaultProxy
from tests.infra.fixtures import PrivateVhost, ResourceBaseline, SharedVhost
from tests.infra.inspect import BrokerInspector
from tests.infra.nodes import Cluster, PrivateNode, live_processes

pytestmark = pytest.mark.broker


@contextlib.contextmanager
def connection(url: str, **kwargs: object) -> Iterator[amqp.Connection]:
    conn = amqp.Connection(**amqp_params(url), **kwargs)
    conn.connect()
    try:
        yield conn
    finally:
        with contextlib.suppress(Exception):
            conn.close()
        conn.collect()


def pump(conn: amqp.Connection, seconds: float, until: Callable[[], bool] | None = None) -> None:
    """Serve the connection (heartbeats included) for ``seconds`` or until ``until()``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (until and until()):
        conn.heartbeat_tick()
        with contextlib.suppress(socket.timeout):
            conn.drain_events(timeout=0.1)


# ------------------------------------------------------------------ private node


def test_private_node_is_not_the_shared_broker(private_node: PrivateNode,
                                               private_vhost: PrivateVhost) -> None:
    assert private_node.nodename != "rabbit@localhost"
    assert private_node.amqp_port != 5672
    assert private_node.running_nodes() == [private_node.nodename]
    with connection(private_vhost.url) as conn, connection(private_vhost.url) as other:
        assert conn.server_properties["product"] == "RabbitMQ"
        assert private_node.close_all_connections(vhost=private_vhost.name) == 2
        for closed in (conn, other):
            with pytest.raises(amqp.exceptions.ConnectionForced):
                closed.drain_events(timeout=5)
    assert private_vhost.name in private_node.rabbitmqctl("list_vhosts", "name", "-q")


def test_stop_app_and_start_app(private_node: PrivateNode,
                                private_vhost: PrivateVhost) -> None:
    with connection(private_vhost.url) as conn:
        conn.channel().queue_declare("kept", durable=True, auto_delete=False)
        private_node.stop_app()
        with pytest.raises((OSError, amqp.exceptions.AMQPError)):  # closed by the broker
            conn.drain_events(timeout=5)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", private_node.amqp_port), timeout=2).close()
    private_node.start_app()
    with connection(private_vhost.url) as conn:
        conn.channel().queue_declare("kept", durable=True, auto_delete=False, passive=True)


@pytest.mark.parametrize("backend", ["rabbitmqctl", "http"])
def test_inspector_sees_consumers_and_messages(private_vhost: PrivateVhost,
                                               backend: str) -> None:
    inspector = private_vhost.inspector(backend)
    with connection(private_vhost.url,
                    client_properties={"connection_name": "infra-probe"}) as conn:
        channel, delivered, tag = consume_two_of_five(conn)
        queue = inspector.wait_queue("work", consumers=1, messages_ready=3,
                                     messages_unacknowledged=2)
        assert queue.messages == 5
        [consumer] = inspector.consumers()
        assert (consumer.queue, consumer.ack_required, consumer.prefetch_count) == (
            "work", True, 2)
        [conn_info] = inspector.connections()
        assert conn_info.client_name == "infra-probe"
        if backend == "http":  # (derived from the reads above; rabbitmqctl calls are slow)
            assert inspector.consumers_per_queue() == {"work": 1}
            assert inspector.channels_per_connection() == {conn_info.name: 1}
        [channel_info] = inspector.channels()
        assert channel_info.connection == conn_info.name
        assert channel_info.name == consumer.channel

        channel.basic_cancel(tag)
        for message in delivered:
            channel.basic_ack(message.delivery_tag)
        inspector.wait_settled(timeout=15)
        assert inspector.queue("work").messages_ready == 3
    if backend == "rabbitmqctl":  # (the HTTP API would take another two seconds)
        inspector.wait_connections(0)


def test_shared_broker_inspector(inspector: BrokerInspector, shared_vhost: SharedVhost) -> None:
    if not os.environ.get("LEGACY_RPC_INSPECTOR"):
        # Unless the shared broker's HTTP statistics are fresh, rabbitmqctl is chosen.
        assert inspector.backend == "rabbitmqctl" or inspector.staleness <= 3.0
    with connection(shared_vhost.url) as conn:
        channel, delivered, tag = consume_two_of_five(conn)
        inspector.wait_queue("work", consumers=1, messages_ready=3, messages_unacknowledged=2)
        channel.basic_cancel(tag)
        channel.basic_ack(delivered[-1].delivery_tag, multiple=True)
        inspector.wait_settled()


def consume_two_of_five(conn: amqp.Connection) -> tuple[amqp.Channel, list[amqp.Message], str]:
    """Publish 5 messages to queue "work" and take 2 of them (prefetch 2), unacked."""
    channel = conn.channel()
    channel.queue_declare("work", auto_delete=False)
    for n in range(5):
        channel.basic_publish(amqp.Message(str(n)), routing_key="work")
    channel.basic_qos(0, 2, False)
    delivered: list[amqp.Message] = []
    tag = channel.basic_consume("work", callback=delivered.append)
    while len(delivered) < 2:
        conn.drain_events(timeout=5)
    return channel, delivered, tag


# ------------------------------------------------------------------ fault proxy


def test_blackhole_starves_heartbeats_and_reset_closes(
        fault_proxy: FaultProxy, resource_baseline: ResourceBaseline,
        shared_vhost: SharedVhost) -> None:
    url = fault_proxy.url(shared_vhost.url)
    conn = amqp.Connection(**amqp_params(url), heartbeat=1)
    conn.connect()
    try:
        frames = conn.bytes_recv
        pump(conn, 3, until=lambda: conn.bytes_recv > frames)
        assert conn.bytes_recv > frames  # the broker's heartbeats come through
        fault_proxy.blackhole()
        frames = conn.bytes_recv
        began = time.monotonic()
        with pytest.raises(amqp.exceptions.ConnectionForced, match="heartbeats missed"):
            pump(conn, 10)
        assert conn.bytes_recv == frames  # not one frame in the black hole
        assert time.monotonic() - began < 5
        assert fault_proxy.active == 1  # the socket itself stays open
    finally:
        conn.collect()  # close() would wait forever for the broker's close-ok
    fault_proxy.wait_active(0)  # a client hanging up on a black hole is let go

    fault_proxy.reset()  # nothing to reset; new connections pass again
    assert fault_proxy.mode == "pass"
    with connection(url, heartbeat=10) as conn:
        fault_proxy.wait_active(1)
        fault_proxy.reset()
        with pytest.raises(ConnectionResetError):
            conn.channel()

    fault_proxy.latency(0.2)
    with connection(url) as conn:
        channel = conn.channel()
        began = time.monotonic()
        channel.queue_declare("", exclusive=True)
        assert time.monotonic() - began >= 0.4  # one round trip: 0.2 s each way
    fault_proxy.pass_through()

    fault_proxy.refuse_new = True
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", fault_proxy.port), timeout=2).close()
    fault_proxy.refuse_new = False
    fault_proxy.wait_active(0)
    stats = fault_proxy.stats()
    assert (stats.accepted, stats.resets) == (3, 1)
    resource_baseline.wait_returned(timeout=5)


def test_proxy_close_joins_its_thread_and_closes_its_sockets(
        resource_baseline: ResourceBaseline, rabbit_url: str) -> None:
    proxy = FaultProxy(5672).start()
    clients = [socket.create_connection(("127.0.0.1", proxy.port)) for _ in range(3)]
    proxy.wait_active(3)
    proxy.blackhole()
    proxy.close()
    for client in clients:
        client.close()
    resource_baseline.wait_returned(timeout=5)


# ------------------------------------------------------------------ cluster


def test_cluster_forms(cluster3: Cluster) -> None:
    names = sorted(node.nodename for node in cluster3.nodes)
    assert cluster3.nodes[-1].running_nodes() == names
    assert cluster3.url.count("@127.0.0.1:") == 3


def test_quorum_queue_survives_losing_its_leader(cluster3: Cluster) -> None:
    with connection(cluster3.urls[0]) as conn:
        channel = conn.channel()
        channel.confirm_select()
        channel.queue_declare("qq", durable=True, auto_delete=False,
                              arguments={"x-queue-type": "quorum"})
        for n in range(3):
            channel.basic_publish(amqp.Message(str(n), delivery_mode=2), routing_key="qq")
    leader = leader_of(cluster3, "qq")
    index = next(i for i, node in enumerate(cluster3.nodes) if node.nodename == leader)
    pids = cluster3.nodes[index].pids()
    assert len(pids) >= 2  # the wrapper script and beam, at least
    cluster3.stop_node(index, kill=True)
    try:
        assert not live_processes(pids)  # nothing of the killed node is left
        wait_for(lambda: leader_of(cluster3, "qq") not in ("", leader), timeout=30,
                 message="no new leader was elected")
        with connection(cluster3.urls[(index + 1) % 3]) as conn:
            channel = conn.channel()
            bodies: list[str] = []

            def got_all() -> bool:
                # A new leader may answer basic.get with "empty" until it has caught up.
                message = channel.basic_get("qq", no_ack=True)
                if message is not None:
                    bodies.append(message.body)
                return len(bodies) >= 3

            wait_for(got_all, timeout=30, interval=0.1, message=lambda: f"only {bodies} came back")
            assert bodies == ["0", "1", "2"]
            assert channel.basic_get("qq", no_ack=True) is None  # nothing doubled
    finally:
        cluster3.start_node(index)  # with its old data: it rejoins the cluster
    cluster3.wait_running(3, via=index)


def leader_of(cluster: Cluster, queue: str) -> str:
    """The node name of the quorum queue's leader, asked from any running node."""
    node = next(node for node in cluster.nodes if node.running)
    out = node.rabbitmqctl("list_queues", "name", "leader", "-q", "--no-table-headers",
                           check=False)
    rows = dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)
    return rows.get(queue, "").strip()

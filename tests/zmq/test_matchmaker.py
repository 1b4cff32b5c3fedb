"""Matchmakers (spec 9.10): topic, direct and fanout lookups, registration, expiry.

The in-process and Redis matchmakers are run by the same tests; the ring file has its own.
"""

from __future__ import annotations

import json
import logging
import pathlib
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from legacy_rpc.messaging.drivers.zmq import _matchmaker as mm
from tests.helpers import wait_for
from tests.zmq.conftest import PrivateRedis

MakeMatchMaker = Callable[..., mm.MatchMaker]


@pytest.fixture(params=["inprocess", "redis"])
def make(request: pytest.FixtureRequest, namespace: str) -> Iterator[MakeMatchMaker]:
    made: list[mm.MatchMaker] = []

    def build(freq: float = 60, ttl: float = 120) -> mm.MatchMaker:
        if request.param == "redis":
            host, port = request.getfixturevalue("shared_redis")
            maker: mm.MatchMaker = mm.RedisMatchMaker(namespace, freq, ttl, host, port, None)
        else:
            maker = mm.InProcessMatchMaker(namespace, freq, ttl)
        made.append(maker)
        return maker

    yield build
    for maker in made:
        maker.close()


def test_registered_members_are_found_and_unregistered_ones_not(make: MakeMatchMaker) -> None:
    server, client = make(), make()
    a, b = mm.member("tcp://127.0.0.1:1", "t"), mm.member("tcp://127.0.0.1:2", "t")
    server.register("x:t", a)
    server.register("x:t", b)
    assert client.lookup("x:t") == sorted([a, b])
    assert client.lookup("x:other") == []
    server.unregister("x:t", a)
    assert client.lookup("x:t") == [b]


def test_a_registration_expires_without_heartbeats(make: MakeMatchMaker) -> None:
    server, client = make(freq=60, ttl=0.3), make()
    value = mm.member("tcp://127.0.0.1:1", "t")
    server.register("x:t", value)
    assert client.lookup("x:t") == [value]
    wait_for(lambda: client.lookup("x:t") == [], 5, message="the registration never expired")


def test_heartbeats_keep_a_registration_alive(make: MakeMatchMaker) -> None:
    server, client = make(freq=0.05, ttl=0.3), make()
    value = mm.member("tcp://127.0.0.1:1", "t")
    server.register("x:t", value)
    started = time.monotonic()
    missing: list[float] = []

    def three_ttls_passed() -> bool:
        if client.lookup("x:t") != [value]:
            missing.append(time.monotonic() - started)
        return time.monotonic() - started > 0.9

    wait_for(three_ttls_passed, 5, interval=0.05)
    assert missing == [], f"the registration was missing at {missing}"
    assert client.lookup("x:t") == [value]


def test_close_removes_every_registration(make: MakeMatchMaker) -> None:
    server, client = make(), make()
    server.register("x:t", mm.member("tcp://127.0.0.1:1", "t"))
    server.register("fanout:t", mm.member("tcp://127.0.0.1:1", "fanout-1"))
    server.close()
    assert client.lookup("x:t") == [] and client.lookup("fanout:t") == []


def test_namespaces_do_not_see_each_other(make: MakeMatchMaker,
                                          request: pytest.FixtureRequest) -> None:
    server = make()
    server.register("x:t", mm.member("tcp://127.0.0.1:1", "t"))
    other: mm.MatchMaker
    if isinstance(server, mm.InProcessMatchMaker):
        other = mm.InProcessMatchMaker(f"other-{uuid.uuid4().hex}", 60, 120)
    else:
        host, port = request.getfixturevalue("shared_redis")
        other = mm.RedisMatchMaker(f"other-{uuid.uuid4().hex}", 60, 120, host, port, None)
    try:
        assert other.lookup("x:t") == []
    finally:
        other.close()


def test_redis_restart_is_survived_by_heartbeats(private_redis: PrivateRedis,
                                                 namespace: str) -> None:
    server = mm.RedisMatchMaker(namespace, 0.1, 2, "127.0.0.1", private_redis.port, None)
    client = mm.RedisMatchMaker(namespace, 0.1, 2, "127.0.0.1", private_redis.port, None)
    try:
        value = mm.member("tcp://127.0.0.1:1", "t")
        server.register("x:t", value)
        assert client.lookup("x:t") == [value]
        private_redis.stop()
        private_redis.start()  # empty: nothing is saved

        def found() -> bool:
            try:
                return client.lookup("x:t") == [value]
            except Exception:  # the client reconnects on its next command
                return False

        wait_for(found, 10, message="the server did not register again after the restart")
    finally:
        server.close()
        client.close()


@pytest.mark.parametrize("path, kind", [
    ("openstack.common.rpc.matchmaker_redis.MatchMakerRedis", "redis"),
    ("nova.openstack.common.rpc.matchmaker_ring.MatchMakerRing", "ring"),
    ("openstack.common.rpc.matchmaker.MatchMakerLocalhost", "redis"),
    ("openstack.common.rpc.matchmaker.MatchMakerStub", "inprocess"),
    ("redis", "redis"), ("ring", "ring"), ("inprocess", "inprocess"),
])
def test_legacy_class_paths_map_to_ours(path: str, kind: str) -> None:
    assert mm.matchmaker_kind(path) == kind


def test_an_unknown_matchmaker_is_a_clear_error() -> None:
    with pytest.raises(mm.MatchMakerError, match=r"Unknown matchmaker 'nova\.Bogus'"):
        mm.matchmaker_kind("nova.Bogus")


# ----------------------------------------------------------------------------- ring

@pytest.fixture
def ring(tmp_path: pathlib.Path) -> mm.RingMatchMaker:
    path = tmp_path / "ring.json"
    path.write_text(json.dumps({"compute": ["h1", "h2:9600"], "notifications": ["h3"]}))
    return mm.RingMatchMaker("ns", 60, 120, str(path), 9501)


def test_ring_topic_members_share_one_queue(ring: mm.RingMatchMaker) -> None:
    assert ring.lookup("nova:compute") == ["tcp://h1:9501 compute", "tcp://h2:9600 compute"]


def test_ring_fanout_reaches_every_host(ring: mm.RingMatchMaker) -> None:
    members = [mm.split_member(m) for m in ring.lookup("fanout:compute")]
    assert [a for a, _ in members] == ["tcp://h1:9501", "tcp://h2:9600"]
    assert len({q for _, q in members}) == 2  # a queue each: each gets a copy


def test_ring_direct_lookups(ring: mm.RingMatchMaker) -> None:
    assert ring.lookup("nova:compute.h2") == ["tcp://h2:9600 compute.h2"]
    assert ring.lookup("nova:compute.elsewhere") == ["tcp://elsewhere:9501 compute.elsewhere"]
    assert ring.port_for("compute", "h2") == 9600 and ring.port_for("compute", "h1") == 9501


def test_ring_notifications_use_the_topic_entry(ring: mm.RingMatchMaker) -> None:
    assert ring.lookup("nova:notifications.info") == ["tcp://h3:9501 notifications"]


def test_ring_unknown_topic_is_empty_and_logged(ring: mm.RingMatchMaker,
                                                caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert ring.lookup("nova:unknown") == []
    assert "unknown" in caplog.text


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"t": "h1"}', '{"t": [1]}'])
def test_a_bad_ring_file_is_a_clear_error(tmp_path: pathlib.Path, content: str) -> None:
    path = tmp_path / "ring.json"
    path.write_text(content)
    with pytest.raises(mm.MatchMakerError, match="ring file"):
        mm.RingMatchMaker("ns", 60, 120, str(path), 9501)


def test_a_missing_ring_file_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(mm.MatchMakerError, match="Cannot read"):
        mm.RingMatchMaker("ns", 60, 120, str(tmp_path / "absent.json"), 9501)

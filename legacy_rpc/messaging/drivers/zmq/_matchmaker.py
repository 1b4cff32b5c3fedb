"""Matchmakers: where the live receivers of a key are (Redis, a ring file, in process).

A key names what a sender addresses: ``<exchange>:<routing_key>`` for a topic, a server
(``<topic>.<server>``) or a notification queue, ``fanout:<topic>`` for a fanout. A member is
``"<zmq address> <queue>"``: the bound socket of one listener and the queue it consumes. A
sender delivers to one member per distinct queue, so members sharing a queue compete (the
servers of a topic, the listeners of a pool) and members with queues of their own each get a
copy (fanout, other pools).

Registrations carry a TTL (``matchmaker_heartbeat_ttl``) and are refreshed every
``matchmaker_heartbeat_freq`` seconds by a heartbeat thread, so a dead server disappears and
a restarted Redis is filled again. Legacy ``rpc_zmq_matchmaker`` class paths map to these
(:func:`create`).
"""

from __future__ import annotations

import abc
import json
import logging
import re
import threading
import time
from typing import Any

from legacy_rpc.messaging import _mask

LOG = logging.getLogger(__name__)

__all__ = ["MatchMaker", "InProcessMatchMaker", "RedisMatchMaker", "RingMatchMaker",
           "MatchMakerError", "create", "matchmaker_kind", "member", "split_member",
           "tcp_address"]


class MatchMakerError(Exception):
    """The matchmaker cannot be used (bad ring file, unknown kind, Redis missing)."""


def member(address: str, queue: str) -> str:
    return f"{address} {queue}"


def tcp_address(host: str, port: int | str | None = None) -> str:
    """``tcp://host[:port]``, with an IPv6 address in brackets."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"tcp://{host}" if port is None else f"tcp://{host}:{port}"


def split_member(value: str) -> tuple[str, str]:
    """``(address, queue)`` of a member; ``ValueError`` for a malformed one."""
    address, sep, queue = value.partition(" ")
    if not sep or not address.startswith(("tcp://", "ipc://", "inproc://")):
        raise ValueError(f"malformed matchmaker member {value[:100]!r}")
    return address, queue


_KINDS = {
    "redis": "redis", "ring": "ring", "inprocess": "inprocess", "localhost": "redis",
    "matchmakerredis": "redis", "matchmakerring": "ring", "matchmakerlocalhost": "redis",
    "matchmakerstub": "inprocess", "fake": "inprocess",
}


def matchmaker_kind(name: str) -> str:
    """``redis``, ``ring`` or ``inprocess`` for a short name or a legacy class path.

    ``...matchmaker.MatchMakerLocalhost`` (the legacy default: every service on this host)
    becomes Redis on ``[matchmaker_redis] host`` (127.0.0.1 by default): the registry that
    processes of one host share. ``MatchMakerStub`` (tests) becomes the in-process one.
    """
    last = name.strip().rpartition(".")[2].lower()
    kind = _KINDS.get(last)
    if kind is None:
        raise MatchMakerError(f"Unknown matchmaker {name!r}: use redis, ring, inprocess or a "
                              "legacy class path (...matchmaker_redis.MatchMakerRedis, "
                              "...matchmaker_ring.MatchMakerRing, ...)")
    return kind


class MatchMaker(abc.ABC):
    """Registrations with a TTL refreshed by a heartbeat thread, and lookups."""

    def __init__(self, namespace: str, freq: float, ttl: float) -> None:
        self.namespace = namespace
        self.freq = freq
        self.ttl = ttl
        self._registered: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self, key: str, value: str) -> None:
        """Register ``value`` under ``key`` now and keep it alive until unregistered."""
        with self._lock:
            self._registered.add((key, value))
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, daemon=True,
                                                name="legacy-rpc-zmq-heartbeat")
                self._thread.start()
        self._store(key, value)

    def unregister(self, key: str, value: str) -> None:
        with self._lock:
            self._registered.discard((key, value))
        try:
            self._remove(key, value)
        except Exception as exc:  # it expires anyway
            LOG.warning("Could not unregister %s from the matchmaker: %s", key,
                        _mask.mask_text(str(exc)))

    def send_heartbeats(self) -> None:
        """Refresh every registration (re-creating it, e.g. after a Redis restart)."""
        with self._lock:
            registered = list(self._registered)
        for key, value in registered:
            self._store(key, value)

    def _beat(self) -> None:
        while not self._stop.wait(self.freq):
            try:
                self.send_heartbeats()
            except Exception as exc:
                LOG.warning("Matchmaker heartbeat failed (next in %ss): %s", self.freq,
                            _mask.mask_text(str(exc)))

    def close(self) -> None:
        """Stop the heartbeat and remove what is still registered."""
        self._stop.set()
        with self._lock:
            registered, self._registered = list(self._registered), set()
            thread = self._thread
        for key, value in registered:
            try:
                self._remove(key, value)
            except Exception:
                LOG.debug("Could not unregister %s on close", key, exc_info=True)
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    @property
    def fixed_port(self) -> bool:
        """Whether listeners must bind the configured port (peers cannot be told another)."""
        return False

    @abc.abstractmethod
    def lookup(self, key: str) -> list[str]:
        """The live members of ``key`` (possibly empty)."""

    @abc.abstractmethod
    def registrations(self) -> dict[str, list[str]]:
        """Every key of this namespace with its live members (for ``legacy-rpc status``)."""

    @abc.abstractmethod
    def _store(self, key: str, value: str) -> None:
        ...

    @abc.abstractmethod
    def _remove(self, key: str, value: str) -> None:
        ...


class InProcessMatchMaker(MatchMaker):
    """One registry per namespace per process: for tests and single-process services."""

    _registries: dict[str, dict[str, dict[str, float]]] = {}
    _global = threading.Lock()

    def _registry(self) -> dict[str, dict[str, float]]:
        return self._registries.setdefault(self.namespace, {})

    def _store(self, key: str, value: str) -> None:
        with self._global:
            self._registry().setdefault(key, {})[value] = time.monotonic() + self.ttl

    def _remove(self, key: str, value: str) -> None:
        with self._global:
            self._registry().get(key, {}).pop(value, None)

    def lookup(self, key: str) -> list[str]:
        now = time.monotonic()
        with self._global:
            members = self._registry().get(key, {})
            for value in [v for v, expiry in members.items() if expiry <= now]:
                del members[value]
            return sorted(members)

    def registrations(self) -> dict[str, list[str]]:
        with self._global:
            keys = list(self._registry())
        return {key: members for key in sorted(keys) if (members := self.lookup(key))}


class RedisMatchMaker(MatchMaker):
    """Registrations in Redis: a sorted set per key, each member scored by its expiry."""

    def __init__(self, namespace: str, freq: float, ttl: float, host: str, port: int,
                 password: str | None) -> None:
        super().__init__(namespace, freq, ttl)
        try:
            import redis
        except ImportError as exc:
            raise MatchMakerError("the Redis matchmaker needs redis-py: pip install "
                                  "'legacy-rpc[zmq]'") from exc
        self._redis: Any = redis.Redis(host=host, port=port, password=password or None,
                                       socket_timeout=5, socket_connect_timeout=5,
                                       decode_responses=True)

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    def _store(self, key: str, value: str) -> None:
        pipe = self._redis.pipeline()
        pipe.zadd(self._key(key), {value: time.time() + self.ttl})
        pipe.expire(self._key(key), int(self.ttl) + 1)
        pipe.execute()

    def _remove(self, key: str, value: str) -> None:
        self._redis.zrem(self._key(key), value)

    def lookup(self, key: str) -> list[str]:
        now = time.time()
        pipe = self._redis.pipeline()
        pipe.zremrangebyscore(self._key(key), "-inf", now)
        pipe.zrangebyscore(self._key(key), now, "+inf")
        members: list[str] = pipe.execute()[1]
        return sorted(members)

    def registrations(self) -> dict[str, list[str]]:
        prefix = self._key("")
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"  # the namespace literally
        keys = sorted(k[len(prefix):] for k in self._redis.scan_iter(match=pattern, count=500))
        return {key: members for key in keys if (members := self.lookup(key))}

    def close(self) -> None:
        super().close()
        self._redis.close()


_PRIORITIES = ("audit", "debug", "info", "warn", "warning", "error", "critical", "sample")


def _split_entry(entry: str) -> tuple[str, str | None]:
    """``(host, port or None)`` of a ring entry: ``host``, ``host:port``, ``[v6]``,
    ``[v6]:port`` or a bare IPv6 address (which has no port)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") and rest[1:].isdigit() else None
        return host, port
    name, colon, port = entry.rpartition(":")
    if colon and port.isdigit() and ":" not in name:
        return name, port
    return entry, None


def _host_name(entry: str) -> str:
    return _split_entry(entry)[0]


class RingMatchMaker(MatchMaker):
    """The static legacy ring file: ``{"topic": ["host1", "host2:9502"], ...}``.

    Nothing registers: each listed host runs its server on the listed port (default
    ``rpc_zmq_port``). A topic's servers share it; ``<topic>.<host>`` is that host even when
    unlisted; a fanout reaches every listed host. Notification keys (``<topic>.<priority>``)
    use the entry of the whole key, else of the topic.
    """

    def __init__(self, namespace: str, freq: float, ttl: float, ringfile: str,
                 port: int, ring: dict[str, list[str]] | None = None) -> None:
        super().__init__(namespace, freq, ttl)
        self.port = port
        self.ring = ring if ring is not None else self._load(ringfile)

    @staticmethod
    def _load(path: str) -> dict[str, list[str]]:
        try:
            with open(path, encoding="utf-8") as handle:
                ring = json.load(handle)
        except (OSError, ValueError) as exc:
            raise MatchMakerError(f"Cannot read the matchmaker ring file {path}: "
                                  f"{exc}") from exc
        if not isinstance(ring, dict) or not all(
                isinstance(k, str) and isinstance(v, list) and
                all(isinstance(h, str) and h for h in v) for k, v in ring.items()):
            raise MatchMakerError(f"The matchmaker ring file {path} must map each topic to "
                                  "a list of host names")
        return ring

    @property
    def fixed_port(self) -> bool:
        return True

    def _address(self, host: str) -> str:
        name, port = _split_entry(host)
        return tcp_address(name, port or self.port)

    def port_for(self, topic: str, host: str) -> int:
        """The port ``host`` serves ``topic`` on, as the ring says."""
        for entry in self.ring.get(topic, []):
            name, port = _split_entry(entry)
            if name == host.strip("[]") and port is not None:
                return int(port)
        return self.port

    def lookup(self, key: str) -> list[str]:
        if key.startswith("fanout:"):
            topic = key[len("fanout:"):]
            return [member(self._address(h), f"fanout-{h}") for h in self.ring.get(topic, [])]
        routing_key = key.partition(":")[2]
        if routing_key in self.ring:
            return [member(self._address(h), routing_key) for h in self.ring[routing_key]]
        topic, dot, rest = routing_key.partition(".")
        if not dot:
            LOG.warning("No key %s in the matchmaker ring", routing_key)
            return []
        hosts = self.ring.get(topic, [])
        listed = [h for h in hosts if _host_name(h) == rest]
        if listed:  # server-targeted, to a listed host
            return [member(self._address(h), routing_key) for h in listed]
        if hosts and (rest in _PRIORITIES or "." in rest):  # a topic's notifications
            return [member(self._address(h), topic) for h in hosts]
        return [member(self._address(rest), routing_key)]  # server-targeted, unlisted

    def registrations(self) -> dict[str, list[str]]:
        """What the ring file says (nothing registers: whether they run is not known)."""
        found: dict[str, list[str]] = {}
        for topic, hosts in sorted(self.ring.items()):
            found[f"*:{topic}"] = [member(self._address(h), topic) for h in hosts]
            found[f"fanout:{topic}"] = self.lookup(f"fanout:{topic}")
        return found

    def _store(self, key: str, value: str) -> None:
        return None

    def _remove(self, key: str, value: str) -> None:
        return None


def create(kind: str, namespace: str, freq: float, ttl: float, *, redis_host: str,
           redis_port: int, redis_password: str | None, ringfile: str,
           port: int) -> MatchMaker:
    """The matchmaker of ``kind`` (see :func:`matchmaker_kind`)."""
    kind = matchmaker_kind(kind)
    if kind == "redis":
        return RedisMatchMaker(namespace, freq, ttl, redis_host, redis_port, redis_password)
    if kind == "ring":
        return RingMatchMaker(namespace, freq, ttl, ringfile, port)
    return InProcessMatchMaker(namespace, freq, ttl)

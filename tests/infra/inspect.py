"""What a RabbitMQ vhost holds: queues, consumers, channels, connections.

Resilience tests assert on the broker's side of the story ("after the reconnect there is
exactly one consumer on the queue", "nothing stays unacknowledged"). One interface,
:class:`BrokerInspector`, has two backends:

- the management HTTP API (``for_http``): cheap to poll, but its numbers are statistics
  that the broker refreshes every ``collect_statistics_interval`` (5 s by default, 500 ms
  on our private nodes), and a new queue or connection appears only after its first
  refresh;
- ``rabbitmqctl`` (``for_rabbitmqctl``): asks the queue and channel processes directly,
  so classic queues' numbers are always current; each call costs about 0.4 s.

Because HTTP numbers may lag, every ``wait_*`` method of an HTTP inspector accepts a state
only after it has held for ``staleness`` seconds (two statistics intervals), so a stale
sample cannot end a wait early. Quorum queues' message counts come from periodic metrics
on both backends and may lag a few seconds.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

__all__ = [
    "BrokerInspector",
    "ChannelInfo",
    "ConnectionInfo",
    "ConsumerInfo",
    "InspectorError",
    "QueueInfo",
]

T = TypeVar("T")


class InspectorError(RuntimeError):
    """The broker could not be asked (HTTP error, ``rabbitmqctl`` failure)."""


@dataclass(frozen=True)
class QueueInfo:
    """One queue's consumers and message counts (``messages`` = ready + unacked)."""

    name: str
    consumers: int
    messages_ready: int
    messages_unacknowledged: int
    messages: int
    type: str = "classic"


@dataclass(frozen=True)
class ConnectionInfo:
    """One client connection; ``client_name`` is the ``connection_name`` it announced."""

    name: str
    user: str
    channels: int
    peer_port: int
    client_name: str | None


@dataclass(frozen=True)
class ChannelInfo:
    """One channel; ``connection`` is the name of its connection."""

    name: str
    connection: str
    number: int
    consumers: int
    messages_unacknowledged: int
    prefetch_count: int


@dataclass(frozen=True)
class ConsumerInfo:
    """One consumer: its queue, its channel's name, its tag and acknowledgement mode."""

    queue: str
    channel: str
    tag: str
    ack_required: bool
    prefetch_count: int


class _Backend(Protocol):
    name: str
    staleness: float

    def ping(self) -> None: ...

    def queues(self, vhost: str) -> list[QueueInfo]: ...

    def connections(self, vhost: str) -> list[ConnectionInfo]: ...

    def channels(self, vhost: str) -> list[ChannelInfo]: ...

    def consumers(self, vhost: str) -> list[ConsumerInfo]: ...


def _int(row: Mapping[str, Any], key: str) -> int:
    value = row.get(key)
    return int(value) if isinstance(value, int | float) else 0


def _channel_connection(channel_name: str) -> str:
    # RabbitMQ names a channel "<connection name> (<number>)".
    head, sep, _ = channel_name.rpartition(" (")
    return head if sep else channel_name


# ------------------------------------------------------------------ HTTP backend


class _HttpBackend:
    name = "http"

    def __init__(self, api_base_url: str, user: str, password: str, stats_interval: float,
                 sample_interval: float, timeout: float) -> None:
        self.base = api_base_url.rstrip("/") + "/"
        if not self.base.endswith("/api/"):
            self.base += "api/"
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self.headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        self.timeout = timeout
        # A queue's numbers reach the API after its own stats timer, the collector's
        # timer and the next sample of the management database.
        self.staleness = sample_interval + 2 * stats_interval

    def get(self, path: str) -> Any:
        request = urllib.request.Request(self.base + path, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            body = exc.read()[:300].decode(errors="replace")
            raise InspectorError(f"GET {self.base}{path}: HTTP {exc.code} {body}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise InspectorError(f"GET {self.base}{path}: {exc}") from exc

    def rows(self, path: str) -> list[dict[str, Any]]:
        data = self.get(path)
        if not isinstance(data, list):
            raise InspectorError(f"GET {self.base}{path}: expected a list, got {data!r:.200}")
        return [row for row in data if isinstance(row, dict)]

    def ping(self) -> None:
        self.get("overview")

    def queues(self, vhost: str) -> list[QueueInfo]:
        columns = "name,type,consumers,messages_ready,messages_unacknowledged,messages"
        rows = self.rows(f"queues/{quote(vhost, safe='')}?columns={columns}")
        return [QueueInfo(str(row["name"]), _int(row, "consumers"),
                          _int(row, "messages_ready"), _int(row, "messages_unacknowledged"),
                          _int(row, "messages"), str(row.get("type", "classic")))
                for row in rows]

    def connections(self, vhost: str) -> list[ConnectionInfo]:
        rows = self.rows(f"vhosts/{quote(vhost, safe='')}/connections")
        result = []
        for row in rows:
            props = row.get("client_properties") or {}
            client = props.get("connection_name") if isinstance(props, dict) else None
            result.append(ConnectionInfo(str(row["name"]), str(row.get("user", "")),
                                         _int(row, "channels"), _int(row, "peer_port"),
                                         None if client is None else str(client)))
        return result

    def channels(self, vhost: str) -> list[ChannelInfo]:
        rows = self.rows(f"vhosts/{quote(vhost, safe='')}/channels")
        result = []
        for row in rows:
            details = row.get("connection_details") or {}
            name = str(row["name"])
            connection = (str(details["name"]) if isinstance(details, dict)
                          and "name" in details else _channel_connection(name))
            result.append(ChannelInfo(name, connection, _int(row, "number"),
                                      _int(row, "consumer_count"),
                                      _int(row, "messages_unacknowledged"),
                                      _int(row, "prefetch_count")))
        return result

    def consumers(self, vhost: str) -> list[ConsumerInfo]:
        rows = self.rows(f"consumers/{quote(vhost, safe='')}")
        result = []
        for row in rows:
            queue = row.get("queue") or {}
            channel = row.get("channel_details") or {}
            result.append(ConsumerInfo(
                str(queue.get("name", "")) if isinstance(queue, dict) else "",
                str(channel.get("name", "")) if isinstance(channel, dict) else "",
                str(row.get("consumer_tag", "")), bool(row.get("ack_required")),
                _int(row, "prefetch_count")))
        return result


# ------------------------------------------------------------------ rabbitmqctl backend


class _CtlBackend:
    name = "rabbitmqctl"
    staleness = 0.0

    def __init__(self, node: str | None, command: Sequence[str], env: Mapping[str, str] | None,
                 timeout: float) -> None:
        self.command = [*command, *(["-n", node] if node else [])]
        self.env = dict(env) if env is not None else None
        self.timeout = timeout

    def rows(self, *args: str) -> list[dict[str, Any]]:
        argv = [*self.command, *args, "-q", "--formatter", "json"]
        try:
            result = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                                    timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InspectorError(f"{' '.join(argv)}: {exc}") from exc
        if result.returncode != 0:
            raise InspectorError(f"{' '.join(argv)} failed ({result.returncode}): "
                                 f"{result.stderr.strip()} {result.stdout.strip()}")
        try:
            data = json.loads(result.stdout or "[]")
        except ValueError as exc:
            raise InspectorError(f"{' '.join(argv)}: not JSON: {result.stdout!r:.300}") from exc
        if not isinstance(data, list):
            raise InspectorError(f"{' '.join(argv)}: expected a list, got {data!r:.200}")
        return [row for row in data if isinstance(row, dict)]

    def ping(self) -> None:
        self.rows("list_vhosts", "name")

    def queues(self, vhost: str) -> list[QueueInfo]:
        rows = self.rows("list_queues", "-p", vhost, "name", "type", "consumers",
                         "messages_ready", "messages_unacknowledged", "messages")
        return [QueueInfo(str(row["name"]), _int(row, "consumers"),
                          _int(row, "messages_ready"), _int(row, "messages_unacknowledged"),
                          _int(row, "messages"), str(row.get("type", "classic")))
                for row in rows]

    def connections(self, vhost: str) -> list[ConnectionInfo]:
        rows = self.rows("list_connections", "name", "vhost", "user", "channels", "peer_port",
                         "client_properties")
        result = []
        for row in rows:
            if row.get("vhost") != vhost:
                continue
            client = None
            # client_properties is a list of [key, type, value] triples.
            for item in row.get("client_properties") or []:
                if isinstance(item, list) and len(item) == 3 and item[0] == "connection_name":
                    client = str(item[2])
            result.append(ConnectionInfo(str(row["name"]), str(row.get("user", "")),
                                         _int(row, "channels"), _int(row, "peer_port"), client))
        return result

    def channels(self, vhost: str) -> list[ChannelInfo]:
        rows = self.rows("list_channels", "name", "vhost", "number", "consumer_count",
                         "messages_unacknowledged", "prefetch_count")
        return [ChannelInfo(str(row["name"]), _channel_connection(str(row["name"])),
                            _int(row, "number"), _int(row, "consumer_count"),
                            _int(row, "messages_unacknowledged"), _int(row, "prefetch_count"))
                for row in rows if row.get("vhost") == vhost]

    def consumers(self, vhost: str) -> list[ConsumerInfo]:
        rows = self.rows("list_consumers", "-p", vhost, "queue_name", "channel_pid",
                         "consumer_tag", "ack_required", "prefetch_count")
        channel_names = {str(row["pid"]): str(row["name"])
                         for row in self.rows("list_channels", "pid", "name")} if rows else {}
        return [ConsumerInfo(str(row["queue_name"]),
                             channel_names.get(str(row["channel_pid"]), str(row["channel_pid"])),
                             str(row["consumer_tag"]), bool(row.get("ack_required")),
                             _int(row, "prefetch_count"))
                for row in rows]


# ------------------------------------------------------------------ the inspector


class BrokerInspector:
    """Reads what one vhost of a broker holds; see the module docstring for the backends.

    ``BrokerInspector(api_base_url, user, password, vhost)`` reads the management HTTP API
    (``api_base_url`` like ``http://127.0.0.1:15672/api/``). Its numbers lag by up to the
    broker's ``collect_statistics_interval`` (``stats_interval``, 5 s by default) twice
    plus the management database's sample interval (``sample_interval``: the smallest
    ``management.sample_retention_policies`` step, 5 s by default; private nodes use
    0.5 s and 1 s).
    """

    #: Pause between two samples in ``wait_*`` (the rabbitmqctl backend is slower anyway).
    poll_interval = 0.1

    def __init__(self, api_base_url: str, user: str = "guest", password: str = "guest",
                 vhost: str = "/", *, stats_interval: float = 5.0,
                 sample_interval: float = 5.0, timeout: float = 10.0) -> None:
        self.vhost = vhost
        self._backend: _Backend = _HttpBackend(api_base_url, user, password, stats_interval,
                                               sample_interval, timeout)

    @classmethod
    def for_http(cls, api_base_url: str, user: str = "guest", password: str = "guest",
                 vhost: str = "/", *, stats_interval: float = 5.0,
                 sample_interval: float = 5.0, timeout: float = 10.0) -> BrokerInspector:
        """An inspector over the management HTTP API (statistics, refreshed periodically)."""
        return cls(api_base_url, user, password, vhost, stats_interval=stats_interval,
                   sample_interval=sample_interval, timeout=timeout)

    @classmethod
    def for_rabbitmqctl(cls, node: str | None = None, vhost: str = "/", *,
                        command: Sequence[str] = ("rabbitmqctl",),
                        env: Mapping[str, str] | None = None,
                        timeout: float = 30.0) -> BrokerInspector:
        """An inspector over ``rabbitmqctl [-n node]`` (always current for classic queues).

        ``command`` and ``env`` select the CLI and its environment (a private node passes
        its own, with its Erlang cookie); by default the ``rabbitmqctl`` on ``PATH``.
        """
        inspector = cls.__new__(cls)
        inspector.vhost = vhost
        inspector._backend = _CtlBackend(node, command, env, timeout)
        return inspector

    @property
    def backend(self) -> str:
        """``"http"`` or ``"rabbitmqctl"``."""
        return self._backend.name

    @property
    def staleness(self) -> float:
        """How old (seconds) a number read from this backend may be."""
        return self._backend.staleness

    def __repr__(self) -> str:
        return f"<BrokerInspector {self.backend} vhost={self.vhost!r}>"

    # ---------------------------------------------------------------- reads

    def ping(self) -> bool:
        """True if the broker answers this backend at all."""
        try:
            self._backend.ping()
        except InspectorError:
            return False
        return True

    def queues(self) -> dict[str, QueueInfo]:
        """Every queue of the vhost by name."""
        return {queue.name: queue for queue in self._backend.queues(self.vhost)}

    def queue(self, name: str) -> QueueInfo:
        """One queue; ``KeyError`` if the vhost has no such queue (yet)."""
        queues = self.queues()
        if name not in queues:
            raise KeyError(f"no queue {name!r} in vhost {self.vhost!r} "
                           f"(queues: {sorted(queues)})")
        return queues[name]

    def consumers_per_queue(self) -> dict[str, int]:
        """Queue name -> number of consumers, for every queue of the vhost."""
        return {name: queue.consumers for name, queue in self.queues().items()}

    def consumers(self) -> list[ConsumerInfo]:
        """Every consumer of the vhost with its queue and channel."""
        return self._backend.consumers(self.vhost)

    def connections(self) -> list[ConnectionInfo]:
        """Every client connection to the vhost."""
        return self._backend.connections(self.vhost)

    def channels(self) -> list[ChannelInfo]:
        """Every channel of the vhost's connections."""
        return self._backend.channels(self.vhost)

    def channels_per_connection(self) -> dict[str, int]:
        """Connection name -> number of open channels, for every connection of the vhost."""
        return {conn.name: conn.channels for conn in self.connections()}

    def unacknowledged(self) -> int:
        """Messages delivered to consumers and not yet acknowledged, over the vhost."""
        return sum(queue.messages_unacknowledged for queue in self.queues().values())

    # ---------------------------------------------------------------- waits

    def wait_until(self, predicate: Callable[[BrokerInspector], T | None],
                   timeout: float = 10.0,
                   message: str | Callable[[], str] = "broker state not reached") -> T:
        """Poll ``predicate(self)`` until it returns a truthy value and return that value.

        On a backend whose numbers may lag, the value must stay truthy for
        :attr:`staleness` seconds (the deadline is ``timeout`` plus that). An
        ``InspectorError`` counts as "not yet" (the broker may be restarting). Raises
        ``AssertionError`` with ``message`` at the deadline.
        """
        deadline = time.monotonic() + timeout + self.staleness
        true_since: float | None = None
        error: InspectorError | None = None
        while True:
            value: T | None = None
            try:
                value = predicate(self)
                error = None
            except InspectorError as exc:
                error = exc
            now = time.monotonic()
            if value:
                true_since = now if true_since is None else true_since
                if now - true_since >= self.staleness:
                    return value
            else:
                true_since = None
            if now >= deadline:
                text = message() if callable(message) else message
                if error is not None:
                    text += f" (last error: {error})"
                raise AssertionError(f"timed out after {timeout + self.staleness:.1f}s on "
                                     f"{self!r}: {text}")
            time.sleep(min(self.poll_interval, max(deadline - now, 0.0)))

    def wait_settled(self, timeout: float = 10.0) -> None:
        """Wait until no message of the vhost is unacknowledged."""
        seen: dict[str, QueueInfo] = {}

        def settled(inspector: BrokerInspector) -> bool:
            nonlocal seen
            seen = inspector.queues()
            return all(queue.messages_unacknowledged == 0 for queue in seen.values())

        self.wait_until(settled, timeout, lambda: "unacknowledged messages remain: " + str(
            {name: q.messages_unacknowledged for name, q in seen.items()
             if q.messages_unacknowledged}))

    def wait_queue(self, name: str, timeout: float = 10.0, **expected: int) -> QueueInfo:
        """Wait until queue ``name`` exists and has the ``expected`` numbers.

        E.g. ``wait_queue("q", consumers=1, messages_ready=0)``; keys are
        :class:`QueueInfo` fields.
        """
        unknown = set(expected) - set(QueueInfo.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown QueueInfo fields: {sorted(unknown)}")
        seen: QueueInfo | None = None

        def matches(inspector: BrokerInspector) -> QueueInfo | None:
            nonlocal seen
            seen = inspector.queues().get(name)
            if seen is None:
                return None
            ok = all(getattr(seen, key) == value for key, value in expected.items())
            return seen if ok else None

        return self.wait_until(matches, timeout,
                               lambda: f"queue {name!r}: wanted {expected}, saw {seen}")

    def wait_no_queue(self, name: str, timeout: float = 10.0) -> None:
        """Wait until the vhost has no queue ``name`` (deleted, or an auto-delete gone)."""
        self.wait_until(lambda inspector: name not in inspector.queues(), timeout,
                        f"queue {name!r} still exists")

    def wait_connections(self, count: int, timeout: float = 10.0) -> list[ConnectionInfo]:
        """Wait until the vhost has exactly ``count`` client connections; return them."""
        seen: list[ConnectionInfo] = []

        def enough(inspector: BrokerInspector) -> bool:
            nonlocal seen
            seen = inspector.connections()
            return len(seen) == count

        self.wait_until(enough, timeout,
                        lambda: f"{count} connections wanted, saw {[c.name for c in seen]}")
        return seen

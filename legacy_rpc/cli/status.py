"""``legacy-rpc status``: the RPC topics, servers and queues a broker holds.

On RabbitMQ the queues of the URL's virtual host are read from the management HTTP API
(``--api-url``, default ``http://HOST:15672/api/`` with the URL's credentials) and grouped
the way oslo.messaging names them: a topic's shared queue ``TOPIC``, one ``TOPIC.SERVER``
per server, ``TOPIC_fanout_<id>`` per fanout consumer, ``reply_<id>`` per client waiting for
answers, ``TOPIC.PRIORITY`` for notifications. The API's figures are its statistics, which
lag by up to its collection interval (5 s by default). Without the management API the
queue list cannot be read: only the topics named on the command line are checked, over
AMQP (depth and consumers of their shared queues). ``fake://`` is the in-memory broker of
this very process: a ``status`` run has its own, empty one, so it cannot see any other
process; it says so. On ``zmq://`` it lists what the matchmaker holds (``_status_zmq``).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

from legacy_rpc.cli import _ops
from legacy_rpc.messaging import _mask
from legacy_rpc.messaging._transport_url import TransportURL

__all__ = ["register", "run", "run_status", "Queue", "Topic", "Overview", "group_queues",
           "default_api_url"]

PRIORITIES = ("audit", "debug", "info", "warn", "error", "critical", "sample")
_REPLY = re.compile(r"reply_[0-9a-f]{32}")
_FANOUT = re.compile(r"(?P<topic>.+)_fanout_[0-9a-f]{32}")
_COLUMNS = "name,messages,messages_ready,messages_unacknowledged,consumers"
_FAKE_NOTE = ("fake:// is an in-memory broker inside one process: this status command has "
              "its own, which holds {held}; it cannot see the queues of any other process. "
              "Use --url rabbit://... to see a real broker.")


@dataclass
class Queue:
    """One queue as the broker reports it; ``consumers`` is None when unknown."""

    name: str
    messages: int
    consumers: int | None


@dataclass
class Topic:
    """An RPC topic: its shared queue, its servers' queues and its fanout queues."""

    name: str
    queue: Queue | None = None
    servers: dict[str, Queue] = field(default_factory=dict)
    fanout: list[Queue] = field(default_factory=list)


@dataclass
class Overview:
    """The queues of a virtual host, grouped by what oslo.messaging uses them for."""

    topics: dict[str, Topic] = field(default_factory=dict)
    notifications: list[Queue] = field(default_factory=list)
    replies: list[Queue] = field(default_factory=list)
    other: list[Queue] = field(default_factory=list)


def register(subparsers: Any) -> None:
    """Add the ``status`` subcommand."""
    parser = subparsers.add_parser(
        "status", help="list the RPC topics, servers and queues the broker holds",
        description=_ops.description(__doc__),
        epilog=_ops.EXIT_CODES)
    parser.add_argument("topics", nargs="*", metavar="TOPIC",
                        help="show only these topics (without the management API: check "
                             "these topics' queues over AMQP)")
    parser.add_argument("--api-url", default=None, metavar="URL",
                        help="the RabbitMQ management API (default http://HOST:15672/api/ "
                             "for the first host of --url, with its credentials)")
    parser.add_argument("--json", action="store_true", help="print the overview as JSON")
    _ops.add_timeout(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The ``status`` handler."""
    return run_status(args)


# ------------------------------------------------------------------ grouping (pure)


def group_queues(queues: Iterable[Queue]) -> Overview:
    """Group queues by oslo.messaging's naming: topics with servers and fanout queues,
    notification queues, reply queues and the rest."""
    overview = Overview()
    rest: list[Queue] = []
    for queue in queues:
        fanout = _FANOUT.fullmatch(queue.name)
        if _REPLY.fullmatch(queue.name):
            overview.replies.append(queue)
        elif fanout:
            _topic(overview, fanout["topic"]).fanout.append(queue)
        else:
            rest.append(queue)
    names = {q.name for q in rest}
    for queue in sorted(rest, key=lambda q: len(q.name)):
        owner = _shared_queue_of(queue.name, names)
        if owner is not None:
            _topic(overview, owner).servers[queue.name[len(owner) + 1:]] = queue
        elif queue.name.rpartition(".")[2] in PRIORITIES and "." in queue.name:
            overview.notifications.append(queue)
        elif queue.name.startswith("amq."):
            overview.other.append(queue)
        else:
            _topic(overview, queue.name).queue = queue
    for name in [n for n, t in overview.topics.items() if t.queue is None and not t.servers]:
        overview.other.extend(overview.topics.pop(name).fanout)  # fanout queues alone
    return overview


def _shared_queue_of(name: str, names: set[str]) -> str | None:
    """The longest ``TOPIC`` in ``names`` such that ``name`` is ``TOPIC.SERVER``."""
    head = name
    while "." in head:
        head = head.rpartition(".")[0]
        if head in names:
            return head
    return None


def _topic(overview: Overview, name: str) -> Topic:
    return overview.topics.setdefault(name, Topic(name))


def select(overview: Overview, topics: Sequence[str]) -> Overview:
    """Only the named topics (all when none is named); other groups are dropped."""
    if not topics:
        return overview
    return Overview(topics={n: t for n, t in overview.topics.items() if n in topics})


# ------------------------------------------------------------------ reading the broker


def default_api_url(parsed: TransportURL) -> str:
    """``http://HOST:15672/api/`` for the first host of ``parsed``."""
    host = parsed.hosts[0].hostname if parsed.hosts else None
    host = host or "localhost"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:15672/api/"


def _api_base(api_url: str) -> str:
    base = api_url.rstrip("/")
    return base + "/" if base.endswith("/api") else base + "/api/"


class _ApiUnreachable(Exception):
    """The management API cannot be read (not enabled, not reachable, or the user may not)."""


def read_api(api_url: str, user: str, password: str, vhost: str,
             timeout: float) -> list[Queue]:
    """The queues of ``vhost`` from the management API.

    Called after the AMQP login succeeded, so a refused login means a user without a
    management tag. :raises _ApiUnreachable: no usable HTTP answer; :raises OpsError:
    (broker) the API does not know the virtual host; (usage) a bad ``api_url``.
    """
    url = f"{_api_base(api_url)}queues/{quote(vhost, safe='')}?columns={_COLUMNS}"
    if urlsplit(url).scheme not in ("http", "https"):
        raise _ops.OpsError(_ops.USAGE, f"bad --api-url {api_url!r}: use http(s)://HOST:PORT")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            rows = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        if exc.code == 401:  # the AMQP login worked: the user lacks a management tag
            raise _ApiUnreachable(f"it refused user {user!r}, who may log in over AMQP but "
                                  "has no management tag") from None
        if exc.code == 404:
            raise _ops.OpsError(_ops.BROKER, f"the management API does not know virtual "
                                             f"host {vhost!r}") from None
        raise _ApiUnreachable(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _ApiUnreachable(str(reason) or type(exc).__name__) from None
    if not isinstance(rows, list):
        raise _ApiUnreachable("the answer is not a list of queues")
    return [Queue(str(r.get("name", "")), int(r.get("messages") or 0),
                  int(r.get("consumers") or 0)) for r in rows if isinstance(r, dict)]


def check_queues_amqp(parsed: TransportURL, names: Sequence[str],
                      timeout: float) -> list[Queue | str]:
    """Depth and consumers of the named queues by passive declares; a missing one is
    its name (a string)."""
    import amqp

    host = parsed.hosts[0] if parsed.hosts else None
    conn = amqp.Connection(
        host=f"{(host and host.hostname) or 'localhost'}:{(host and host.port) or 5672}",
        userid=(host and host.username) or "guest",
        password=(host and host.password) or "guest",
        virtual_host=parsed.virtual_host or "/", connect_timeout=timeout,
        read_timeout=timeout, write_timeout=timeout)
    found: list[Queue | str] = []
    try:
        conn.connect()
        for name in names:
            channel = conn.channel()
            try:
                _, messages, consumers = channel.queue_declare(name, passive=True)
                found.append(Queue(name, messages, consumers))
                channel.close()
            except amqp.exceptions.NotFound:
                found.append(name)  # the broker closed the channel
    finally:
        conn.collect()
    return found


# ------------------------------------------------------------------ the command


def run_status(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Show what the broker of ``args.url`` holds; return the exit status."""
    out = out or sys.stdout
    try:
        _ops.check_timeout(args.timeout)
        parsed = _ops.parse_url(args.url)
        if parsed.transport == "fake":
            return _fake_status(args, parsed, out)
        if parsed.transport == "zmq":
            from legacy_rpc.cli._status_zmq import zmq_status

            return zmq_status(args, out)
        if parsed.transport not in ("rabbit", "kombu"):
            raise _ops.OpsError(_ops.USAGE, f"status reads RabbitMQ (rabbit://), zmq:// (its "
                                            f"matchmaker) and fake://, not "
                                            f"{parsed.transport}://")
        _ops.check_broker(args.url, args.timeout)
        return _rabbit_status(args, parsed, out)
    except Exception as exc:
        return _ops.fail("status", _ops.exit_for(exc))


def _rabbit_status(args: argparse.Namespace, parsed: TransportURL, out: TextIO) -> int:
    host = parsed.hosts[0] if parsed.hosts else None
    user = (host and host.username) or "guest"
    password = (host and host.password) or "guest"
    vhost = parsed.virtual_host or "/"
    api_url = args.api_url or default_api_url(parsed)
    try:
        queues = read_api(api_url, user, password, vhost, args.timeout)
    except _ApiUnreachable as exc:
        return _without_api(args, parsed, out, f"the management API at {api_url} cannot be "
                                               f"read ({exc})")
    overview = select(group_queues(queues), args.topics)
    header = {"url": _mask.mask_url(args.url), "virtual_host": vhost,
              "source": f"management API {api_url}"}
    if args.json:
        print(json.dumps({**header, **asdict(overview)}, indent=2, sort_keys=True), file=out)
    else:
        print(f"broker {header['url']} (virtual host {vhost!r}), from the {header['source']}",
              file=out)
        print(format_overview(overview), file=out)
        print("note: queue figures are the management API's statistics; they lag by up to "
              "its collection interval (5 s by default).", file=out)
    missing = [t for t in args.topics if t not in overview.topics]
    if missing:
        print(f"legacy-rpc status: no queue for topic(s) {', '.join(missing)}",
              file=sys.stderr)
        return _ops.FAILED
    return _ops.OK


def _without_api(args: argparse.Namespace, parsed: TransportURL, out: TextIO,
                 why: str) -> int:
    if not args.topics:
        raise _ops.OpsError(_ops.FAILED, f"{why}: without it the queues cannot be listed; "
                                         "name the topics to check (legacy-rpc status "
                                         "TOPIC...) or give --api-url")
    print(f"note: {why}; checking only the named topics' shared queues over AMQP "
          "(servers, fanout and reply queues cannot be seen)", file=sys.stderr)
    found = check_queues_amqp(parsed, args.topics, args.timeout)
    return _print_checked(args, found, out)


def _fake_status(args: argparse.Namespace, parsed: TransportURL, out: TextIO) -> int:
    from legacy_rpc.messaging.drivers.impl_fake import broker_for

    broker = broker_for(parsed.virtual_host)
    found: list[Queue | str] = [
        Queue(t, broker.queue_depth(t), None) if broker.has_queue(t) else t
        for t in args.topics]
    held = "the queues listed above" if any(isinstance(f, Queue) for f in found) else "nothing"
    print("note: " + _FAKE_NOTE.format(held=held), file=sys.stderr)
    return _print_checked(args, found, out) if args.topics else _ops.OK


def _print_checked(args: argparse.Namespace, found: list[Queue | str], out: TextIO) -> int:
    if args.json:
        print(json.dumps([asdict(f) if isinstance(f, Queue) else {"name": f, "missing": True}
                          for f in found], indent=2, sort_keys=True), file=out)
    else:
        for item in found:
            print(f"{item}: no such queue (no server has listened on this topic)"
                  if isinstance(item, str) else f"{item.name}: {_figures(item)}", file=out)
    return _ops.FAILED if any(isinstance(f, str) for f in found) else _ops.OK


def _figures(queue: Queue) -> str:
    consumers = "?" if queue.consumers is None else str(queue.consumers)
    return f"messages={queue.messages} consumers={consumers}"


def format_overview(overview: Overview) -> str:
    """The overview for people."""
    lines: list[str] = []
    if overview.topics:
        lines.append("RPC topics:")
    for name in sorted(overview.topics):
        topic = overview.topics[name]
        shared = _figures(topic.queue) if topic.queue else "no shared queue"
        lines.append(f"  {name}: {shared}; {len(topic.servers)} server(s), "
                     f"{len(topic.fanout)} fanout queue(s)")
        for server in sorted(topic.servers):
            lines.append(f"    server {server}: {_figures(topic.servers[server])}")
    if not overview.topics:
        lines.append("RPC topics: none")
    if overview.notifications:
        lines.append("Notification queues:")
        lines.extend(f"  {q.name}: {_figures(q)}" for q in sorted(
            overview.notifications, key=lambda q: q.name))
    if overview.replies:
        waiting = sum(q.consumers or 0 for q in overview.replies)
        lines.append(f"Reply queues: {len(overview.replies)} ({waiting} with a client)")
    if overview.other:
        lines.append("Other queues:")
        lines.extend(f"  {q.name}: {_figures(q)}" for q in sorted(
            overview.other, key=lambda q: q.name))
    return "\n".join(lines)

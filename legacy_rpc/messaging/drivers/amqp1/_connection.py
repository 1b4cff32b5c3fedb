"""One AMQP 1.0 connection, with its own I/O thread (a proton ``Container``).

proton is event-driven and not thread-safe: whoever touches the connection, its links and
deliveries holds its *drive lock*. The I/O thread holds it while it handles events and lets
it go only while it waits for its sockets (:class:`_DrivenSelector`). No proton object
leaves the lock (messages travel as :class:`Outgoing` / :class:`Incoming` plain data; a
proton wrapper dropped elsewhere would change the connection's C state there). Other
threads hand work over with :meth:`Amqp1Connection.submit` (a task queue and a pipe the
container selects on, written only when no wake-up is pending yet: :class:`_Waker`) and
wait on a ``Future`` with a deadline; nothing polls. A send is *direct*: if the I/O thread
is waiting for its sockets, the sending thread takes the lock and writes the message itself
(one hand-over less per send), then wakes the I/O thread for what follows. Code already on
the I/O thread (a subscriber's ``on_incoming``) settles deliveries at once with
:meth:`Amqp1Connection.settle_here`.

The connection reconnects by itself, with backoff and failover over the hosts, and then
attaches every receiver again. A message being sent when the connection is lost cannot be
known to have arrived: its send fails with :class:`PublishOutcomeUnknown` rather than being
sent twice. Messages not sent yet wait for the next connection (within their callers'
deadlines and ``retry`` budgets). Deliveries received on a lost connection cannot be settled
any more: the broker gives them to a consumer again.

An *optional* address (``Subscriber.optional``, ``send(optional=True)``) names something
that may not exist, such as the fanout exchange of 0-9-1 peers: its link gets a session of
its own, because RabbitMQ ends the whole session when an attach names a missing exchange.
While it is missing, a receiver is attached again quietly every :data:`OPTIONAL_RETRY`
seconds and a send to it completes at once without sending (nobody could receive it);
neither makes the connection degraded.
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures
import contextlib
import functools
import itertools
import logging
import os
import random
import select
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from proton import Delivery, Endpoint, Handler, Message, ProtonException, SSLDomain
from proton._io import IO  # the selector the container's I/O handler uses
from proton.handlers import IOHandler, MessagingHandler
from proton.reactor import Container

from legacy_rpc.messaging._transport_url import TransportHost
from legacy_rpc.messaging.drivers.amqp1._errors import (
    BrokerRefused,
    ConnectionLost,
    ErrorKind,
    PublishOutcomeUnknown,
    classify,
    describe,
)
from legacy_rpc.messaging.drivers.amqp1._opts import Amqp1Options

LOG = logging.getLogger(__name__)

__all__ = ["Amqp1Connection", "ConnectionPlan", "Incoming", "Outgoing", "Subscriber"]

CLOSE_TIMEOUT = 10.0
MAX_SENDERS = 64  # sender links kept open per connection (least recently used go first)
OPTIONAL_RETRY = 2.0  # seconds between attempts to attach to a missing optional address
DIRECT_WAIT = 0.005  # seconds a sender waits for the I/O thread to reach its select
_ids = itertools.count(1)


@dataclass(frozen=True)
class ConnectionPlan:
    """Where and how to connect: hosts (tried in turn), virtual host, options, role."""

    hosts: Sequence[TransportHost]
    virtual_host: str
    options: Amqp1Options
    role: str


@dataclass(frozen=True)
class Incoming:
    """A received message as plain Python data: its body (``bytes`` for a data section, else
    the decoded AMQP value), where it came from, and a key to settle it by.

    No proton object leaves the I/O thread (proton is not thread-safe, and even dropping
    the last reference to a delivery elsewhere would touch the connection's C state): the
    delivery stays in the connection, found again by ``key``; ``generation`` tells that it
    belonged to a connection since lost (then it cannot be settled).
    """

    body: object
    address: str
    generation: int
    key: int


@dataclass
class Subscriber:
    """A receiver the connection keeps attached: ``on_incoming`` runs on the I/O thread.

    With ``auto_accept`` a delivery is accepted before it is handed over (replies);
    otherwise its owner settles it with :meth:`Amqp1Connection.settle`. ``active`` says
    whether the receiver is given credit (consumes).
    """

    address: str
    credit: int
    on_incoming: Callable[[Incoming], None]
    auto_accept: bool = False
    active: bool = True
    optional: bool = False  # may not exist (see the module docstring): retried quietly
    key: int = field(default_factory=lambda: next(_ids))
    failed: str | None = None
    owed: int = 0  # credit not given back yet for settled deliveries (I/O thread only)


@dataclass(frozen=True)
class Outgoing:
    """A message to send, as plain Python data (the proton message is built on the I/O
    thread): one data section of ``body`` with these header and property fields."""

    body: bytes
    durable: bool = True
    ttl: float | None = None
    content_type: str | None = "application/json"
    content_encoding: str | None = "utf-8"

    def message(self) -> Message:
        message = Message(body=self.body, inferred=True, durable=self.durable,
                          content_type=self.content_type,
                          content_encoding=self.content_encoding)
        if self.ttl is not None:
            message.ttl = self.ttl
        return message


@dataclass
class _Send:
    address: str
    outgoing: Outgoing
    future: concurrent.futures.Future[None]
    retry: int | None
    attempts: int = 0
    optional: bool = False


class _Waker:
    """Wakes the I/O thread to run submitted tasks: the read end of a pipe is a selectable
    of the container, and :meth:`wake` writes one byte to it only when no wake-up is
    pending already (a burst of submits costs one write and one wake-up). The I/O thread
    reads the pipe, then clears ``pending``, then runs the tasks, so a task queued after
    that writes again.

    Lighter than proton's ``EventInjector``, whose every trigger goes through a locked
    ``queue.Queue``, a pipe write and an application event dispatched through every handler;
    it also closes its pipe when the container lets it go.
    """

    def __init__(self, run_tasks: Callable[[], None]) -> None:
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        self._run_tasks = run_tasks
        self._lock = threading.Lock()  # orders writes against closing the pipe
        self.pending = False
        self._stopping = False
        self._closed = False
        self._transport = None  # proton's IOHandler looks for a transport on selectables

    def fileno(self) -> int:
        return self._read_fd

    def wake(self) -> None:
        if self.pending:
            return
        with self._lock:
            if self._closed:
                return
            self.pending = True
            os.write(self._write_fd, b"!")

    def stop(self) -> None:
        """Let the container drop this selectable (and so end its loop) after the tasks."""
        self._stopping = True
        self.pending = False
        self.wake()

    def close(self) -> None:  # called by proton once the selectable is final
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._read_fd)
                os.close(self._write_fd)

    def on_selectable_init(self, event: Any) -> None:
        selectable = event.context
        selectable.reading = True
        selectable.update()

    def on_selectable_readable(self, event: Any) -> None:
        # Read first, then clear: cleared first, a wake in between would write a byte this
        # read swallows, leaving ``pending`` set with an empty pipe (no wake-up ever again).
        # This way a byte written in between stays for the next round, and a task queued
        # before ``pending`` is cleared is run below.
        with contextlib.suppress(BlockingIOError):
            os.read(self._read_fd, 512)
        self.pending = False
        self._run_tasks()
        if self._stopping:
            selectable = event.context
            selectable.terminate()
            selectable.update()


class _DrivenSelector(IO.Selector):
    """Proton's selector, but its OS wait runs without the drive lock, so that another
    thread can send meanwhile (:meth:`Amqp1Connection.submit` with ``direct``). What the
    wait needs is copied under the lock; what it found is handled under it again."""

    def __init__(self, drive: threading.Lock) -> None:
        super().__init__()
        self._drive = drive

    def select(self, timeout: float | None) -> tuple[list[Any], list[Any], list[Any]]:
        reading, writing = list(self._reading), list(self._writing)
        wait = timeout
        deadline: float | None = self._deadline  # typed None by proton, set by update()
        if deadline is not None:
            until = max(0.0, deadline - time.time())
            wait = until if wait is None else min(wait, until)
        self._drive.release()
        try:
            readable, writable, failed = select.select(reading, writing, writing, wait)
        except InterruptedError:
            readable, writable, failed = [], [], []
        finally:
            self._drive.acquire()
        now = time.time()
        expired = [s for s in self._selectables if s.deadline and now > s.deadline]
        self._deadline = None
        self.update_deadline()
        return readable, writable + [s for s in failed if s not in writable], expired


def _install_selector(container: Container, drive: threading.Lock) -> bool:
    """Give the container's I/O handler a :class:`_DrivenSelector`; False where this
    proton keeps it elsewhere (then every task runs on the I/O thread, as before)."""
    handler = getattr(container.global_handler, "base", container.global_handler)
    if not isinstance(handler, IOHandler) or not isinstance(
            getattr(handler, "_selector", None), IO.Selector):
        return False
    handler._selector = _DrivenSelector(drive)
    return True


class _Timer(Handler):
    def __init__(self, action: Callable[[], None]) -> None:
        self._action = action

    def on_timer_task(self, event: Any) -> None:
        self._action()


_live: weakref.WeakSet[Amqp1Connection] = weakref.WeakSet()


@atexit.register
def _close_live_connections() -> None:
    """Stop every I/O thread before the interpreter finalises: a daemon thread still
    inside proton's C code while Python tears down can crash the process at exit."""
    for conn in list(_live):
        with contextlib.suppress(Exception):
            conn.close(timeout=2.0)


def _link_name() -> str:
    """A name no other link of this process has, also across reconnects (proton's default
    repeats, and a late outcome from a lost link must never match a new delivery)."""
    return f"legacy-rpc-{uuid.uuid4().hex}"


def _links_of(session: Any) -> list[Any]:
    """The links of one session (proton lists a connection's links, not a session's)."""
    links = []
    link = session.connection.link_head(0)
    while link is not None:
        if link.session == session:
            links.append(link)
        link = link.next(0)
    return links


def _set(future: concurrent.futures.Future[Any], result: Any = None,
         exc: BaseException | None = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class Amqp1Connection(MessagingHandler):
    """A self-healing AMQP 1.0 connection with its I/O thread; see the module docstring."""

    def __init__(self, plan: ConnectionPlan, name: str) -> None:
        super().__init__(prefetch=0, auto_accept=False, auto_settle=True)
        self._plan = plan
        self._opts = plan.options
        self.name = f"amqp1-{name}-{next(_ids)}"
        self._tasks: collections.deque[Callable[[], None]] = collections.deque()
        self._container = Container(self)
        # Proton is not thread-safe: whoever touches it holds the drive lock. The I/O thread
        # holds it except while it waits for its sockets, when a sender may take it.
        self._drive = threading.Lock()
        self._direct = _install_selector(self._container, self._drive)
        self.direct_runs = 0  # times a sending thread wrote to the connection itself
        self._container.container_id = f"legacy-rpc-{self.name}-{uuid.uuid4().hex[:8]}"
        self._waker = _Waker(self._run_tasks)
        self._container.selectable(self._waker)  # type: ignore[arg-type]  # duck-typed
        self._conn: Any = None
        self._connected = False
        self._generation = 0
        self._next_host = random.randrange(len(plan.hosts)) if len(plan.hosts) > 1 else 0
        self._failures = 0
        self._last_error: str | None = None
        self._fatal: str | None = None
        self._senders: collections.OrderedDict[str, Any] = collections.OrderedDict()
        self._missing: dict[str, float] = {}  # optional address -> when to look again
        self._in_flight: dict[tuple[str, Any], _Send] = {}
        self._waiting: collections.deque[_Send] = collections.deque()
        self._subs: dict[int, Subscriber] = {}
        self._by_link: dict[str, Subscriber] = {}
        self._receivers: dict[int, Any] = {}  # Subscriber.key -> its proton receiver
        self._unsettled: dict[int, Any] = {}  # Incoming.key -> its proton delivery
        self._closing = False
        self._stopped = False
        self.connected_event = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        _live.add(self)

    # ---------------------------------------------------------------- thread hand-over

    def _run(self) -> None:
        """The container's loop (as ``Container.run``), holding the drive lock except while
        it waits for its sockets (:class:`_DrivenSelector`)."""
        container = self._container
        with self._drive:
            container.timeout = 3.14159265359
            container.start()
            while True:
                try:
                    running = container.process()
                except Exception:  # a bug in a handler must not end the connection's life
                    LOG.exception("The I/O thread of %s failed; it goes on", self.name)
                    running = not self._closing
                # Proton keeps what a handler raised in ``errors`` and says nothing.
                for _, exc, tb in container.errors:
                    LOG.error("A handler of %s failed; it goes on", self.name,
                              exc_info=(type(exc), exc, tb))
                container.errors.clear()
                if not running:
                    break
            with contextlib.suppress(Exception):
                container.stop()
                container.process()

    def submit(self, task: Callable[[], None], direct: bool = False) -> None:
        """Run ``task`` with the connection (thread-safe). ``direct``: on the calling
        thread if the I/O thread is waiting for its sockets or gets there within
        :data:`DIRECT_WAIT` (no hand-over; the I/O thread is woken afterwards to handle
        what followed), else, as always otherwise, on the I/O thread. Tasks run in the
        order submitted."""
        self._tasks.append(task)
        if (direct and self._direct and not self.on_io_thread()
                and self._drive.acquire(timeout=DIRECT_WAIT)):
            self.direct_runs += 1
            try:
                self._run_tasks()
            finally:
                self._drive.release()
        self._waker.wake()

    def call(self, task: Callable[[], Any], timeout: float | None) -> Any:
        """Run ``task`` on the I/O thread and return its result (``TimeoutError``)."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                _set(future, task())
            except BaseException as exc:
                _set(future, exc=exc)

        self.submit(run)
        return future.result(timeout)

    def on_io_thread(self) -> bool:
        """Whether the calling code runs on this connection's I/O thread."""
        return threading.get_ident() == self._thread.ident

    def _run_tasks(self) -> None:
        while self._tasks:
            task = self._tasks.popleft()
            try:
                task()
            except Exception:
                LOG.exception("A task on %s failed", self.name)
        self._flush()

    def _flush(self) -> None:
        """Write what the tasks produced (a message, a settlement) to the socket now, as
        proton's I/O handler would on the next loop: saves a select round trip and its
        events per hand-over. Anything unexpected (no socket yet, a full socket buffer,
        another proton version's internals) leaves the writing to the container."""
        conn = self._conn
        transport = conn.transport if conn is not None else None
        selectable = getattr(transport, "_selectable", None)
        if transport is None or selectable is None or selectable.is_terminal:
            return
        try:
            pending = transport.pending()
            if pending > 0:
                transport.pop(selectable.send(transport.peek(pending)))
        except (OSError, AttributeError, ProtonException):
            return  # the container's own write (or its error handling) follows
        IOHandler.update(transport, selectable, self._container.now)

    # ---------------------------------------------------------------- state

    @property
    def degraded(self) -> str | None:
        """Why the connection is down, or None while it is up."""
        return None if self._connected else (self._last_error or "connecting")

    @property
    def generation(self) -> int:
        return self._generation

    # ---------------------------------------------------------------- connecting

    def on_start(self, event: Any) -> None:
        self._connect()

    def _ssl_domain(self) -> SSLDomain | None:
        opts = self._opts
        if not opts.ssl:
            return None
        domain = SSLDomain(SSLDomain.MODE_CLIENT)
        if opts.ssl_ca_file:
            domain.set_trusted_ca_db(opts.ssl_ca_file)
        domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME if opts.ssl_verify_hostname
                                       else SSLDomain.VERIFY_PEER)
        if opts.ssl_cert_file:
            domain.set_credentials(opts.ssl_cert_file, opts.ssl_key_file or opts.ssl_cert_file,
                                   opts.ssl_key_password or None)
        return domain

    def _connect(self) -> None:
        if self._closing:
            return
        hosts = self._plan.hosts
        host = hosts[self._next_host % len(hosts)]
        self._next_host += 1
        port = host.port or (5671 if self._opts.ssl else 5672)
        hostname = host.hostname or "localhost"
        address = f"[{hostname}]" if ":" in hostname else hostname
        kwargs: dict[str, Any] = {"reconnect": False, "sasl_enabled": True,
                                  "allow_insecure_mechs": True,
                                  "ssl_domain": self._ssl_domain()}
        if host.username:
            kwargs["user"] = host.username
            kwargs["password"] = host.password or ""
        if self._opts.sasl_mechanisms:
            kwargs["allowed_mechs"] = self._opts.sasl_mechanisms
        if self._plan.virtual_host and self._plan.virtual_host != "/":
            kwargs["virtual_host"] = f"vhost:{self._plan.virtual_host}"
            kwargs["sni"] = hostname
        if self._opts.idle_timeout:
            kwargs["heartbeat"] = float(self._opts.idle_timeout)
        scheme = "amqps" if self._opts.ssl else "amqp"
        try:
            self._conn = self._container.connect(f"{scheme}://{address}:{port}", **kwargs)
        except Exception as exc:  # e.g. a bad CA file: fatal for this attempt, retried
            self._lost(f"{type(exc).__name__}: {exc}", ErrorKind.FATAL)

    def on_connection_opened(self, event: Any) -> None:
        if event.connection != self._conn:
            return
        self._connected = True
        if self._failures:
            LOG.info("%s reconnected after %d failed attempt(s)", self.name, self._failures)
        self._failures = 0
        self._fatal = None
        self._last_error = None
        for sub in list(self._subs.values()):
            self._attach(sub)
        waiting, self._waiting = self._waiting, collections.deque()
        for send in waiting:
            self._send_now(send)
        self.connected_event.set()

    def on_transport_error(self, event: Any) -> None:
        condition = event.transport.condition
        if event.connection is not None and event.connection != self._conn:
            return
        self._last_error = describe(condition)
        if classify(getattr(condition, "name", None)) is ErrorKind.FATAL:
            self._fatal = self._last_error

    def on_connection_error(self, event: Any) -> None:
        if event.connection == self._conn:
            self._last_error = describe(event.connection.remote_condition)

    def on_session_error(self, event: Any) -> None:
        """The broker ended the session (RabbitMQ 3.x does when its channel behind it is
        closed, e.g. by ``close_all_connections``): every link is gone with it, so the
        connection is replaced as if it had been lost."""
        if event.connection != self._conn:
            return
        if self._optional_failed(event.session, event.session.remote_condition):
            return
        self._abandon(f"the broker ended the session: "
                      f"{describe(event.session.remote_condition)}")

    def _abandon(self, reason: str) -> None:
        old = self._conn
        self._lost(reason, ErrorKind.CONNECTION)
        if old is not None:
            old.close()

    def on_disconnected(self, event: Any) -> None:
        if self._closing:
            self._stop_container()
            return
        if event.connection is not None and event.connection != self._conn:
            return
        self._lost(self._last_error or "the connection was closed",
                   ErrorKind.FATAL if self._fatal else ErrorKind.CONNECTION)

    def _lost(self, reason: str, kind: ErrorKind) -> None:
        """The connection is gone: fail or park its work, then reconnect with backoff."""
        was_connected = self._connected
        self._connected = False
        self.connected_event.clear()
        self._generation += 1
        self._conn = None
        self._senders.clear()
        self._missing.clear()
        self._by_link.clear()
        self._receivers.clear()
        self._unsettled.clear()
        in_flight, self._in_flight = self._in_flight, {}
        for send in in_flight.values():
            _set(send.future, exc=PublishOutcomeUnknown(
                f"The connection was lost before the broker settled the message to "
                f"{send.address} ({reason}); it is not sent again"))
        self._failures += 1
        self._last_error = reason
        waiting, self._waiting = self._waiting, collections.deque()
        for send in waiting:
            send.attempts += 1
            if send.future.done():
                continue
            if kind is ErrorKind.FATAL:
                _set(send.future, exc=BrokerRefused(f"Cannot send to {send.address}: {reason}"))
            elif send.retry is not None and send.retry >= 0 and send.attempts > send.retry:
                _set(send.future, exc=ConnectionLost(
                    f"Cannot send to {send.address}: {reason} ({send.attempts} connection "
                    f"attempt(s), retry={send.retry})"))
            else:
                self._waiting.append(send)
        if self._closing:
            return
        opts = self._opts
        delay = min(opts.connection_retry_interval_max,
                    opts.connection_retry_interval
                    + opts.connection_retry_backoff * max(0, self._failures - 1))
        delay *= random.uniform(0.75, 1.0) if self._failures > 1 else random.uniform(0, 0.2)
        log = LOG.warning if was_connected or self._failures == 1 else LOG.debug
        log("%s: connection to the broker lost or refused (%s); reconnecting in %.1fs",
            self.name, reason, delay)
        self._container.schedule(delay, _Timer(self._connect))

    # ---------------------------------------------------------------- sending

    def send(self, address: str, outgoing: Outgoing, retry: int | None = None,
             optional: bool = False) -> concurrent.futures.Future[None]:
        """Send ``outgoing`` to ``address``; the future completes when the broker settled
        it (accepted), or fails (refused, connection lost while in flight, no connection
        within ``retry`` attempts). Cancel the future to give up before it is sent. An
        ``optional`` address that does not exist completes the future without sending."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        send = _Send(address, outgoing, future, retry, optional=optional)
        self.submit(lambda: self._send_now(send), direct=True)
        return future

    def _send_now(self, send: _Send) -> None:
        if send.future.done():
            return  # cancelled by its caller (deadline) before it could be sent
        if self._closing:
            _set(send.future, exc=ConnectionLost("the connection is closed"))
            return
        if not self._connected:
            if self._fatal is not None:
                _set(send.future, exc=BrokerRefused(
                    f"Cannot send to {send.address}: {self._fatal}"))
            elif send.retry == 0 and self._failures:
                _set(send.future, exc=ConnectionLost(
                    f"Cannot send to {send.address}: not connected ({self._last_error})"))
            else:
                self._waiting.append(send)
            return
        if send.optional and self._missing.get(send.address, 0.0) > self._container.now:
            _set(send.future)  # it does not exist: nobody could receive the message
            return
        try:
            sender = self._senders.get(send.address)
            if sender is not None:
                self._senders.move_to_end(send.address)
            else:
                self._trim_senders()
                sender = self._container.create_sender(
                    self._own_session() if send.optional else self._conn,
                    target=send.address, name=_link_name())
                self._senders[send.address] = sender
            delivery = sender.send(send.outgoing.message())
            assert isinstance(delivery, Delivery)
        except Exception as exc:  # e.g. a message proton cannot encode
            _set(send.future, exc=exc)
            return
        self._in_flight[(sender.name, delivery.tag)] = send

    def _trim_senders(self) -> None:
        """Detach the least recently used idle sender beyond :data:`MAX_SENDERS` (a server
        answering many short-lived callers would otherwise keep a link per caller)."""
        if len(self._senders) < MAX_SENDERS:
            return
        busy = {name for name, _ in self._in_flight}
        for address, sender in list(self._senders.items()):
            if sender.name not in busy:
                del self._senders[address]
                sender.close()
                if getattr(sender.session, "legacy_optional", False):
                    sender.session.close()
                return

    def _settled_send(self, event: Any) -> _Send | None:
        if event.connection != self._conn:
            return None  # an outcome from a lost connection: its sends already failed
        return self._in_flight.pop((event.link.name, event.delivery.tag), None)

    def on_accepted(self, event: Any) -> None:
        send = self._settled_send(event)
        if send is not None:
            _set(send.future)

    def on_rejected(self, event: Any) -> None:
        send = self._settled_send(event)
        if send is not None:
            condition = event.delivery.remote.condition
            _set(send.future, exc=BrokerRefused(
                f"The broker rejected the message to {send.address}: {describe(condition)}",
                getattr(condition, "name", None)))

    def on_released(self, event: Any) -> None:
        # released, or modified: the broker did not take it, so sending it again is safe.
        send = self._settled_send(event)
        if send is not None:
            self._senders.pop(send.address, None)
            self.submit(lambda: self._send_now(send))

    # ---------------------------------------------------------------- links

    def on_link_error(self, event: Any) -> None:
        if event.connection != self._conn:
            return
        link = event.link
        condition = link.remote_condition
        if self._optional_failed(link.session, condition):
            return
        reason = describe(condition)
        kind = classify(getattr(condition, "name", None))
        if link.is_sender:
            if self._senders.get(link.target.address or "") == link:
                del self._senders[link.target.address]
            for key in [k for k in self._in_flight if k[0] == link.name]:
                send = self._in_flight.pop(key)
                exc: BaseException = (BrokerRefused(f"Cannot send to {send.address}: {reason}",
                                                    getattr(condition, "name", None))
                                      if kind is ErrorKind.FATAL else PublishOutcomeUnknown(
                    f"The link to {send.address} failed before the broker settled the "
                    f"message ({reason}); it is not sent again"))
                _set(send.future, exc=exc)
            return
        sub = self._by_link.pop(link.name, None)
        if sub is None or sub.key not in self._subs:
            return
        self._receivers.pop(sub.key, None)
        self._forget_deliveries(link.name)
        sub.failed = reason
        LOG.error("%s: the broker detached the receiver of %s (%s); attaching it again",
                  self.name, sub.address, reason)
        delay = self._opts.connection_retry_interval or 0.5
        self._container.schedule(delay, _Timer(functools.partial(self._reattach, sub,
                                                                 self._generation)))

    def subscribe(self, sub: Subscriber) -> None:
        """Keep a receiver attached to ``sub.address`` (thread-safe)."""
        def add() -> None:
            self._subs[sub.key] = sub
            if self._connected:
                self._attach(sub)
        self.submit(add)

    def _attach(self, sub: Subscriber) -> None:
        if sub.key not in self._subs or not self._connected or sub.key in self._receivers:
            return
        receiver = self._container.create_receiver(
            self._own_session() if sub.optional else self._conn, source=sub.address,
            name=_link_name())
        self._receivers[sub.key] = receiver
        self._by_link[receiver.name] = sub
        sub.owed = 0
        if sub.active:
            receiver.flow(sub.credit)

    def set_active(self, sub: Subscriber, active: bool) -> None:
        """Give a receiver credit (consume) or stop topping it up (thread-safe)."""
        def apply() -> None:
            sub.active = active
            receiver = self._receivers.get(sub.key)
            if active and receiver is not None and receiver.state & Endpoint.LOCAL_ACTIVE:
                missing = sub.credit - receiver.credit
                if missing > 0:
                    receiver.flow(missing)
                sub.owed = 0
        self.submit(apply)

    def unsubscribe(self, sub: Subscriber) -> None:
        """Detach the receiver for good (its unsettled deliveries go back to the queue)."""
        def remove() -> None:
            self._subs.pop(sub.key, None)
            receiver = self._receivers.pop(sub.key, None)
            if receiver is not None:
                self._by_link.pop(receiver.name, None)
                self._forget_deliveries(receiver.name)
                receiver.close()
                if sub.optional:
                    receiver.session.close()
        self.submit(remove)

    def _reattach(self, sub: Subscriber, generation: int) -> None:
        """Attach ``sub`` again, unless its connection was replaced meanwhile (the new one
        attached every receiver already)."""
        if generation == self._generation:
            self._attach(sub)

    # ---------------------------------------------------------------- optional addresses

    def _own_session(self) -> Any:
        """A session for one optional link: its failure must not end the shared one."""
        session = self._conn.session()
        session.legacy_optional = True  # kept by proton with the session (its attributes)
        session.open()
        return session

    def _optional_failed(self, session: Any, condition: Any) -> bool:
        """An optional link's session or link was ended by the broker (its address does not
        exist, or no longer): forget its link quietly, settle its sends as not needed, and
        try a receiver again later. Says whether it was such a link."""
        if not getattr(session, "legacy_optional", False):
            return False
        reason = describe(condition)
        # "Not found" is the expected answer; anything else (say, no permission) is told.
        log = (LOG.debug if getattr(condition, "name", None) == "amqp:not-found"
               else LOG.warning)
        for link in _links_of(session):
            if link.is_sender:
                address = link.target.address or ""
                if self._senders.get(address) == link:
                    del self._senders[address]
                self._missing[address] = self._container.now + OPTIONAL_RETRY
                for key in [k for k in self._in_flight if k[0] == link.name]:
                    _set(self._in_flight.pop(key).future)
                log("%s: not sending to %s for now (%s)", self.name, address, reason)
                continue
            sub = self._by_link.pop(link.name, None)
            if sub is None or self._receivers.get(sub.key) != link:
                continue
            del self._receivers[sub.key]
            self._forget_deliveries(link.name)
            log("%s: %s is not there (%s); looking again in %.0fs", self.name,
                sub.address, reason, OPTIONAL_RETRY)
            self._container.schedule(OPTIONAL_RETRY,
                                     _Timer(functools.partial(self._reattach, sub,
                                                              self._generation)))
        session.close()
        return True

    def on_message(self, event: Any) -> None:
        if event.connection != self._conn:
            return  # from a lost connection: the broker delivers it again
        sub = self._by_link.get(event.link.name)
        delivery = event.delivery
        if sub is None:
            delivery.update(Delivery.RELEASED)
            delivery.settle()
            return
        body = event.message.body
        if isinstance(body, memoryview | bytearray):
            body = bytes(body)
        incoming = Incoming(body, sub.address, self._generation, next(_ids))
        self._unsettled[incoming.key] = delivery
        if sub.auto_accept:
            self._settle_now(incoming, Delivery.ACCEPTED)
        try:
            sub.on_incoming(incoming)
        except Exception:
            LOG.exception("Handing over a delivery from %s failed", sub.address)
        self._flush()  # its settlement (and credit), without another select round

    def dispose(self, incoming: Incoming, outcome: int) -> concurrent.futures.Future[bool]:
        """Settle a received delivery (``Delivery.ACCEPTED``, ``REJECTED``, ``RELEASED``,
        ``MODIFIED``); the future says whether it could be (False: its connection is gone,
        so the broker delivers the message again)."""
        future: concurrent.futures.Future[bool] = concurrent.futures.Future()
        self.submit(lambda: _set(future, self._settle_now(incoming, outcome)))
        return future

    def settle_here(self, incoming: Incoming, outcome: int) -> bool:
        """:meth:`dispose` for code on the I/O thread (a subscriber's ``on_incoming``):
        settles at once; says whether it could."""
        assert self.on_io_thread(), "settle_here runs on the I/O thread only"
        return self._settle_now(incoming, outcome)

    def _settle_now(self, incoming: Incoming, outcome: int) -> bool:
        delivery = self._unsettled.pop(incoming.key, None)
        if delivery is None or incoming.generation != self._generation or not self._connected:
            return False
        link = delivery.link
        if not link.state & Endpoint.LOCAL_ACTIVE or delivery.settled:
            return False
        if outcome == Delivery.MODIFIED:
            delivery.local.failed = True
        delivery.update(outcome)
        delivery.settle()
        sub = self._by_link.get(link.name)
        if sub is not None and sub.active:
            # Credit comes back as deliveries are settled (unsettled ones + credit never
            # exceed ``sub.credit``), but once half of it is owed, not at every message:
            # one flow frame per half window instead of one per message.
            sub.owed += 1
            if sub.owed * 2 >= sub.credit:
                link.flow(sub.owed)
                sub.owed = 0
        return True

    def _forget_deliveries(self, link_name: str) -> None:
        """Drop the unsettled deliveries of a link that is gone (the broker has them)."""
        for key in [k for k, d in self._unsettled.items() if d.link.name == link_name]:
            del self._unsettled[key]

    # ---------------------------------------------------------------- closing

    def _stop_container(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._waker.stop()
            self._container.stop()

    def on_connection_closed(self, event: Any) -> None:
        if self._closing:
            self._stop_container()

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Close the connection and stop the I/O thread; bounded wait."""
        _live.discard(self)
        if not self._thread.is_alive():
            return

        def stop() -> None:
            self._closing = True
            for send in list(self._waiting) + list(self._in_flight.values()):
                _set(send.future, exc=ConnectionLost("the connection was closed"))
            self._waiting.clear()
            self._in_flight.clear()
            if self._conn is not None and self._connected:
                # Close properly, so the broker takes back unsettled deliveries and credit
                # at once; stop when the broker answered, or after a bounded wait.
                self._conn.close()
                self._container.schedule(timeout / 2, _Timer(self._stop_container))
            else:
                self._stop_container()

        self.submit(stop)
        self._thread.join(timeout)
        if self._thread.is_alive():
            LOG.warning("The I/O thread of %s did not stop within %.0fs", self.name, timeout)


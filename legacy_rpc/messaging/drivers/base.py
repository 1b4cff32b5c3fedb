"""The driver interface: what a driver author implements.

The shape follows ``oslo_messaging._drivers.base`` so that its driver guide applies:

- :class:`BaseDriver` sends (``send``: the old call/cast; ``send_notification``) and listens
  (``listen``: the old ``create_consumer``; ``listen_for_notifications``).
- A listener is either poll style (:class:`PollStyleListener`, whose ``poll`` returns the next
  messages) or push style (:class:`Listener`); :class:`PollStyleListenerAdapter` turns the
  first into the second with one thread.
- Each received message is an :class:`IncomingMessage` (notifications) or an
  :class:`RpcIncomingMessage` (requests, which can be replied to).

Message bodies are built and parsed by :mod:`legacy_rpc.messaging.wire` only; a driver moves
them. A driver declares its :class:`Capabilities` and which of its errors are worth a retry
(``recoverable_errors``), so the core never decides by matching error strings.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from legacy_rpc.messaging import wire
from legacy_rpc.messaging.exceptions import MessagingException

if TYPE_CHECKING:
    from oslo_config import cfg

    from legacy_rpc.messaging._transport_url import TransportURL
    from legacy_rpc.messaging.target import Target

LOG = logging.getLogger(__name__)

__all__ = [
    "Capabilities",
    "Subscription",
    "LISTEN_KINDS",
    "rpc_subscriptions",
    "notification_subscriptions",
    "TransportDriverError",
    "IncomingMessage",
    "RpcIncomingMessage",
    "PollStyleListener",
    "Listener",
    "PollStyleListenerAdapter",
    "BaseDriver",
]


@dataclass(frozen=True)
class Capabilities:
    """What a driver supports; the core checks these before relying on a feature."""

    requeue: bool = False
    """Notification listeners can give a message back for redelivery."""
    fanout: bool = True
    """A fanout cast reaches every server of a topic."""
    streaming_replies: bool = True
    """A call can receive several values before its final reply (generators, multicall)."""
    call_monitor: bool = True
    """Servers send heartbeats while a call runs (``call_monitor_timeout``)."""
    pools: bool = True
    """Notification listener pools (shared subscriptions)."""
    at_least_once: bool = True
    """``TransportOptions(at_least_once=True)`` sends fail with ``MessageUndeliverable``
    when no queue would take them."""


@dataclass(frozen=True)
class Subscription:
    """One queue a listener consumes, and how it is bound.

    ``routing_key`` is the topic (for ``fanout``: the topic whose ``<topic>_fanout``
    exchange is consumed); ``exchange`` None means the control exchange (ignored for
    fanout); ``queue`` None means a queue named ``routing_key``, or a fresh unique queue for
    fanout. A fanout queue with a generated name is deleted when the listener is cleaned up.
    """

    routing_key: str
    exchange: str | None = None
    queue: str | None = None
    fanout: bool = False


LISTEN_KINDS = ("rpc", "notification", "raw")
"""What a listener's deliveries are: RPC requests (acknowledged before dispatch),
notifications (acknowledged or requeued after dispatch), or raw bodies (the un-enveloped
dict; acknowledged or requeued after the callback)."""


def rpc_subscriptions(target: Target) -> list[Subscription]:
    """An RPC server's three queues: ``<topic>``, ``<topic>.<server>`` and its fanout."""
    assert target.topic and target.server
    return [Subscription(target.topic, target.exchange),
            Subscription(f"{target.topic}.{target.server}", target.exchange),
            Subscription(target.topic, fanout=True)]


def notification_subscriptions(targets_and_priorities: list[tuple[Target, str]],
                               pool: str | None) -> list[Subscription]:
    """One subscription per (target, priority): ``<topic>.<priority>`` or the pool's queue."""
    subscriptions = []
    for target, priority in targets_and_priorities:
        subscription = Subscription(f"{target.topic}.{priority}", target.exchange, pool)
        if subscription not in subscriptions:
            subscriptions.append(subscription)
    return subscriptions


class TransportDriverError(MessagingException):
    """Base class for errors raised by a driver."""


class IncomingMessage:
    """A received message: a notification, or the base of an RPC request.

    ``ctxt`` is the sender's context (a dict), ``message`` the body's own fields.

    For a notification a driver parses the body with ``wire.parse_notification`` and builds
    the message from the result: ``ctxt`` is ``Notification.ctxt`` (the ``_context_*`` keys),
    ``message`` is ``wire.notification_message(...)``
    (``message_id``, ``publisher_id``, ``event_type``, ``priority`` in lower case,
    ``payload``, ``timestamp``; no ``_unique_id``) and ``msg_id`` the ``message_id``.
    The listener calls exactly one of :meth:`acknowledge` or :meth:`requeue` per
    notification, after its endpoints returned. Until then the message is unacknowledged: a
    listener that is cleaned up first gives it back for redelivery. A driver drops the
    redelivery of a notification whose ``_unique_id`` it acknowledged recently (the last
    16, as oslo.messaging does).
    """

    def __init__(self, ctxt: dict[str, Any], message: dict[str, Any],
                 msg_id: str | None = None) -> None:
        self.ctxt = ctxt
        self.message = message
        self.msg_id = msg_id or str(uuid.uuid4())
        self.client_timeout: float | None = None

    def acknowledge(self) -> None:
        """Tell the backend the message is handled. Must not raise; failures are logged."""

    def requeue(self) -> None:
        """Give the message back for redelivery (only with ``Capabilities.requeue``)."""
        raise NotImplementedError("this driver cannot requeue messages")


class RpcIncomingMessage(IncomingMessage):
    """An RPC request. Replies are built here; the driver only transmits them.

    A driver implements :meth:`transmit_reply`: deliver one reply body (already built by
    :mod:`~legacy_rpc.messaging.wire`) to the caller, at most once, blocking until the
    backend has it. It must not raise: log and drop instead.
    """

    def __init__(self, ctxt: dict[str, Any], message: dict[str, Any],
                 msg_id: str | None = None, reply_q: str | None = None,
                 stream_replies: bool = True, client_timeout: float | None = None) -> None:
        super().__init__(ctxt, message, msg_id)
        self.client_timeout = client_timeout
        self.reply_q = reply_q
        self.wants_reply = msg_id is not None
        # Whether the caller reads a generator's values one by one (wire.Request).
        self.stream_replies = stream_replies

    @staticmethod
    def fields_of(request: wire.Request) -> dict[str, Any]:
        """The constructor arguments for a parsed request: ``cls(**fields_of(request))``."""
        return {"ctxt": request.ctxt, "message": request.message, "msg_id": request.msg_id,
                "reply_q": request.reply_q, "stream_replies": request.stream_replies,
                "client_timeout": request.client_timeout}

    @abc.abstractmethod
    def transmit_reply(self, body: dict[str, Any]) -> None:
        """Send one reply body to the caller."""

    def reply(self, reply: Any = None,
              failure: wire.ExcInfo | BaseException | None = None) -> None:
        """Send the final reply: the result, or the exception (``sys.exc_info()``)."""
        if not self.wants_reply:
            return
        failure_text = wire.serialize_remote_exception(failure) if failure else None
        self.transmit_reply(wire.build_reply(self._reply_msg_id, None if failure else reply,
                                             failure_text, ending=True))

    def reply_value(self, value: Any) -> None:
        """Send one value of a streamed result; :meth:`reply` must follow to end it."""
        if self.wants_reply:
            self.transmit_reply(wire.build_reply(self._reply_msg_id, value, None, ending=None))

    def heartbeat(self) -> None:
        """Tell a caller that uses ``call_monitor_timeout`` the call is still running."""
        if self.wants_reply:
            self.transmit_reply(wire.build_heartbeat(self._reply_msg_id))

    @property
    def _reply_msg_id(self) -> str | None:
        # Pre-Grizzly callers sent no _reply_q and expect no _msg_id in the reply body.
        return self.msg_id if self.reply_q is not None else None


class PollStyleListener(abc.ABC):
    """A listener whose :meth:`poll` returns the next messages."""

    def __init__(self, prefetch_size: int = -1) -> None:
        self.prefetch_size = prefetch_size

    @abc.abstractmethod
    def poll(self, timeout: float | None = None, batch_size: int = 1,
             batch_timeout: float | None = None) -> list[IncomingMessage]:
        """Return up to ``batch_size`` messages.

        Block until the batch is full; or until one message has arrived and
        ``batch_timeout`` has passed since; or until ``timeout`` passes; or until
        :meth:`stop` is called. Must not raise.
        """

    def start(self) -> None:  # noqa: B027 - optional hook
        """Begin consuming. A listener declares its queues when it is created but takes
        messages from them only from here on, so messages sent before a server starts wait
        in the broker (where they can go to other servers or expire) instead of in a
        listener nobody polls yet."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Make :meth:`poll` return soon. Thread-safe."""

    def cleanup(self) -> None:  # noqa: B027 - optional hook
        """Release resources; block until done."""


class Listener(abc.ABC):
    """A push-style listener: it calls ``on_incoming_callback(list_of_messages)``."""

    def __init__(self, batch_size: int = 1, batch_timeout: float | None = None,
                 prefetch_size: int = -1) -> None:
        if prefetch_size > 0:
            batch_size = min(batch_size, prefetch_size)
        self.batch_size = batch_size
        self.batch_timeout = batch_timeout
        self.prefetch_size = prefetch_size
        self.on_incoming_callback: Callable[[list[IncomingMessage]], None] | None = None

    def start(self, on_incoming_callback: Callable[[list[IncomingMessage]], None]) -> None:
        self.on_incoming_callback = on_incoming_callback

    def stop(self) -> None:
        self.on_incoming_callback = None

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Release resources; block until done."""


class PollStyleListenerAdapter(Listener):
    """Runs a :class:`PollStyleListener` on threads and pushes each batch to a callback.

    With ``workers=1`` (the default) one thread polls and calls the callback. With more, the
    threads take turns (leader/follower): one polls while the others wait; the thread that
    received a batch hands the polling over and runs the callback itself, so a message is
    dispatched by the thread that read it, with no hand-off to a worker pool on the way.
    Threads are started as needed, up to ``workers``; when all are busy nobody polls, which
    holds back further messages at the broker instead of queueing them in memory.

    After :meth:`stop` the threads keep polling until ``poll`` returns nothing, so messages
    the listener already fetched are still handed over instead of being lost.
    """

    POLL_TIMEOUT = 1.0

    def __init__(self, poll_style_listener: PollStyleListener, batch_size: int = 1,
                 batch_timeout: float | None = None) -> None:
        super().__init__(batch_size, batch_timeout, poll_style_listener.prefetch_size)
        self._poll_style_listener = poll_style_listener
        self._started = threading.Event()
        self._workers = 1
        self._threads: list[threading.Thread] = []
        self._reader = threading.Lock()   # held by the thread that polls
        self._state = threading.Lock()    # guards _threads and _waiting
        self._waiting = 0                 # threads waiting to poll

    @property
    def poll_style_listener(self) -> PollStyleListener:
        return self._poll_style_listener

    def start(self, on_incoming_callback: Callable[[list[IncomingMessage]], None],
              workers: int = 1) -> None:
        self._poll_style_listener.start()
        super().start(on_incoming_callback)
        self._workers = max(1, workers)
        self._started.set()
        with self._state:
            self._threads = []
            self._spawn_locked()

    def _spawn_locked(self) -> None:
        thread = threading.Thread(target=self._runner, name="legacy-rpc-listener",
                                  daemon=True)
        self._threads.append(thread)
        thread.start()

    def _runner(self) -> None:
        callback = self.on_incoming_callback
        assert callback is not None
        while True:
            with self._state:
                self._waiting += 1
            with self._reader:
                with self._state:
                    self._waiting -= 1
                running = self._started.is_set()
                try:
                    batch = self._poll_style_listener.poll(
                        timeout=self.POLL_TIMEOUT if running else 0,
                        batch_size=self.batch_size, batch_timeout=self.batch_timeout)
                except Exception:
                    LOG.exception("Listener poll failed; polling again")
                    time.sleep(0.1)  # back off a failing backend, not synchronisation
                    continue
                if batch and running:
                    with self._state:
                        if self._waiting == 0 and len(self._threads) < self._workers:
                            self._spawn_locked()  # someone must poll while we dispatch
            if batch:
                try:
                    callback(batch)
                except Exception:
                    LOG.exception("Dispatching a batch of %d message(s) failed", len(batch))
            elif not running:
                return

    def stop(self) -> None:
        """Stop polling; with one worker, also wait for it (it only hands batches over)."""
        self._started.clear()
        self._poll_style_listener.stop()
        if self._workers == 1:
            self.join()
        super().stop()

    def join(self) -> None:
        """Wait until every thread has finished (after :meth:`stop`)."""
        with self._state:
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join()

    def cleanup(self) -> None:
        self._poll_style_listener.cleanup()


class BaseDriver(abc.ABC):
    """The interface every driver implements; constructed as ``cls(conf, url, ...)``."""

    capabilities: ClassVar[Capabilities] = Capabilities()
    recoverable_errors: ClassVar[tuple[type[BaseException], ...]] = ()
    prefetch_size: ClassVar[int] = 0

    def __init__(self, conf: cfg.ConfigOpts, url: TransportURL,
                 default_exchange: str | None = None,
                 allowed_remote_exmods: Sequence[str] | None = None) -> None:
        self.conf = conf
        self._url = url
        self._default_exchange = default_exchange
        self._allowed_remote_exmods = list(allowed_remote_exmods or [])

    def require_features(self, requeue: bool = False) -> None:
        """Raise ``NotImplementedError`` for a requested feature the driver lacks."""
        if requeue and not self.capabilities.requeue:
            raise NotImplementedError(f"the {type(self).__name__} driver cannot requeue")

    @abc.abstractmethod
    def send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
             wait_for_reply: bool | None = None, timeout: float | None = None,
             call_monitor_timeout: float | None = None, retry: int | None = None,
             transport_options: Any = None) -> Any:
        """Send an RPC request (the old call/cast).

        Without ``wait_for_reply`` return once the backend accepted the message. With it,
        return the result, or raise the rebuilt remote exception, ``MessagingTimeout`` after
        ``timeout`` seconds (or ``call_monitor_timeout`` without a heartbeat).
        ``MessageDeliveryFailure`` when ``retry`` retries (None/-1 forever) are used up.
        Retrying must never duplicate a message.
        """

    def send_stream(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
                    timeout: float | None = None, call_monitor_timeout: float | None = None,
                    retry: int | None = None, transport_options: Any = None) -> Iterator[Any]:
        """Send a call and iterate over every value the remote method produces.

        ``timeout`` bounds the wait for each value (the legacy ``multicall`` rule).
        Only for drivers with ``Capabilities.streaming_replies``.
        """
        raise NotImplementedError(f"the {type(self).__name__} driver cannot stream replies")

    @abc.abstractmethod
    def send_notification(self, target: Target, ctxt: dict[str, Any],
                          message: dict[str, Any], version: float,
                          retry: int | None = None) -> None:
        """Store-and-forward a notification (``message`` is the notification dict)."""

    @abc.abstractmethod
    def listen_subscriptions(self, subscriptions: list[Subscription], kind: str,
                             batch_size: int = 1,
                             batch_timeout: float | None = None) -> Listener:
        """Consume the given queues (declaring and binding them) on one listener.

        ``kind`` is one of :data:`LISTEN_KINDS`. This is the one listening primitive a
        driver implements; :meth:`listen` and :meth:`listen_for_notifications` are built on
        it, and the legacy API's ``create_consumer``, ``create_worker`` and
        ``join_consumer_pool`` use it directly.
        """

    def listen(self, target: Target, batch_size: int,
               batch_timeout: float | None) -> Listener:
        """Subscribe to exchange+topic (with its fanout) and exchange+topic+server."""
        return self.listen_subscriptions(rpc_subscriptions(target), "rpc", batch_size,
                                         batch_timeout)

    def listen_for_notifications(self, targets_and_priorities: list[tuple[Target, str]],
                                 pool: str | None, batch_size: int,
                                 batch_timeout: float | None) -> Listener:
        """Subscribe to ``<topic>.<priority>`` for each pair; ``pool`` shares a queue."""
        return self.listen_subscriptions(
            notification_subscriptions(targets_and_priorities, pool), "notification",
            batch_size, batch_timeout)

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Release every resource; block until done."""

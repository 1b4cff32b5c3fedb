"""Publishing RPC requests: routing retries while no server listens, and calls whose
publisher confirm is read off their critical path.

A request to a topic is published ``mandatory``. One the broker cannot route yet (its queue
does not exist, e.g. while servers re-subscribe after a broker restart) is published again,
with growing pauses, for up to ``rabbit_unroutable_retry_timeout`` and never past the
caller's deadline (:class:`UnroutablePacing`).

A cast waits for its confirm. A call does not (:class:`CallRequest`): its reply proves
delivery, so the confirm is read later - by the next publish on the same connection, by
the call itself if no reply came within ``common.SETTLE_AFTER``, or by the heartbeat thread - and
only a return or a nack is reported back, through the call's reply queue, to be published
again by the calling thread. This takes one broker round trip off every call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from legacy_rpc.messaging.drivers import common
from legacy_rpc.messaging.exceptions import MessageDeliveryFailure, MessagingTimeout

LOG = logging.getLogger(__name__)

__all__ = ["UnroutablePacing", "CallRequest"]

UNROUTABLE_FIRST_PAUSE = 0.05
UNROUTABLE_LONGEST_PAUSE = 1.0


class UnroutablePacing:
    """When to publish an unroutable request again, and when to give up."""

    def __init__(self, budget: float, deadline: float | None) -> None:
        self.budget = budget
        self.deadline = deadline
        give_up = time.monotonic() + budget
        self.give_up = give_up if deadline is None else min(give_up, deadline)
        self.pause = UNROUTABLE_FIRST_PAUSE

    def wait(self, target: Any, exchange: str, routing_key: str,
             refused: bool = False) -> None:
        """Pause before the next try, or raise if the next try would come too late.

        ``refused``: the broker nacked the request (e.g. a queue at its length limit that
        rejects publishes) rather than finding no queue for it."""
        why = (f"the broker refused (nacked) it on {exchange}/{routing_key}" if refused
               else f"no queue is bound to {exchange}/{routing_key} (no server listens)")
        if time.monotonic() + self.pause >= self.give_up:
            if self.deadline is not None and self.give_up >= self.deadline:
                raise MessagingTimeout(f"Timed out sending to {target!r}: {why}")
            raise MessageDeliveryFailure(
                f"Could not deliver to {target!r} in {self.budget:.0f}s: {why} "
                "(rabbit_unroutable_retry_timeout)")
        LOG.debug("Publishing to %s/%s again in %.2fs: %s", exchange, routing_key,
                  self.pause, why)
        time.sleep(self.pause)  # retry pacing, not synchronisation
        self.pause = min(UNROUTABLE_LONGEST_PAUSE, self.pause * 2)


class CallRequest:
    """The publishing side of one call: its hooks for ``common.start_call``.

    ``send(body, on_failure)`` publishes once without waiting for the confirm and returns
    a function that reads the confirm now (``settle``), or None if there is nothing to read.
    """

    def __init__(self, waiters: common.ReplyWaiters, msg_id: str,
                 send: Callable[[dict[str, Any], Callable[[str], None]],
                                Callable[[], None] | None],
                 pacing: UnroutablePacing, target: Any, exchange: str,
                 routing_key: str) -> None:
        self._waiters = waiters
        self.msg_id = msg_id
        self._send = send
        self._pacing = pacing
        self._target = target
        self._exchange = exchange
        self._routing_key = routing_key
        self._settle: Callable[[], None] | None = None

    def publish(self, body: dict[str, Any]) -> None:
        def on_failure(kind: str) -> None:  # any thread: only hand it to the caller
            self._waiters.push(self.msg_id, common.Undelivered(kind))

        self._settle = self._send(body, on_failure)

    def settle(self) -> None:
        """Read the request's confirm now (no reply has come yet)."""
        settle, self._settle = self._settle, None
        if settle is not None:
            settle()

    def resend(self, body: dict[str, Any], kind: str) -> None:
        """The request was not routed (or was refused): publish it again, paced."""
        self._pacing.wait(self._target, self._exchange, self._routing_key,
                          refused=kind == "nacked")
        self.publish(body)

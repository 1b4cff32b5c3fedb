"""RPC servers: ``get_rpc_server`` and ``RPCServer``.

Delivery: a request is acknowledged before it is dispatched (at most once, as with
oslo.messaging); a server that dies while a method runs loses that request and its caller
times out. Every outcome, result or exception, is sent back for calls; casts get nothing.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from legacy_rpc.messaging import server as msg_server
from legacy_rpc.messaging.drivers import common
from legacy_rpc.messaging.drivers.base import IncomingMessage, Listener, RpcIncomingMessage
from legacy_rpc.messaging.rpc.dispatcher import (
    DefaultRPCAccessPolicy,
    ExpectedException,
    NoSuchMethod,
    PingEndpoint,
    RPCAccessPolicyBase,
    RPCDispatcher,
    StreamedResult,
    expected_exceptions,
    expose,
)
from legacy_rpc.messaging.serializer import Serializer
from legacy_rpc.messaging.target import Target

if TYPE_CHECKING:
    from legacy_rpc.messaging.transport import Transport

LOG = logging.getLogger(__name__)

__all__ = ["RPCServer", "get_rpc_server", "expected_exceptions", "expose"]


class _CallMonitor:
    """Sends heartbeats every ``client_timeout / 2`` seconds while a call runs."""

    def __init__(self, message: RpcIncomingMessage) -> None:
        self._message = message
        self._thread: threading.Thread | None = None
        timeout = message.client_timeout
        if not timeout or not message.wants_reply:
            return  # the common case: nothing to create per message
        interval = int(timeout) / 2
        if interval < 1:
            LOG.warning("Ignoring call_monitor_timeout %s: heartbeats need at least 2 s",
                        timeout)
            return
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True,
                                        name="legacy-rpc-call-monitor")
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._done.wait(interval):
            try:
                self._message.heartbeat()
            except Exception:
                LOG.exception("Failed to send a call-monitor heartbeat; stopping them")
                return

    def stop(self) -> None:
        if self._thread is not None:
            self._done.set()
            self._thread.join()


class RPCServer(msg_server.MessageHandlingServer):
    """Listens on ``target`` (its topic, its server queue and its fanout) and dispatches."""

    def __init__(self, transport: Transport, target: Target, dispatcher: RPCDispatcher,
                 executor: str | None = None) -> None:
        super().__init__(transport, dispatcher, executor)
        self._target = target

    @property
    def target(self) -> Target:
        return self._target

    def _create_listener(self) -> Listener:
        from legacy_rpc.messaging.drivers.base import TransportDriverError

        try:
            return self.transport._listen(self._target, 1, None)
        except TransportDriverError as exc:
            raise msg_server.ServerListenError(self._target, exc) from exc

    def _process_incoming(self, incoming: list[IncomingMessage]) -> None:
        message = incoming[0]
        assert isinstance(message, RpcIncomingMessage)
        try:
            message.acknowledge()
        except Exception:
            LOG.exception("Could not acknowledge message %s; skipping it", message.msg_id)
            return
        monitor = _CallMonitor(message)
        try:
            with self.transport._observe_dispatch(message.ctxt, message.message,
                                                  message.msg_id, str(self._target.topic)):
                result, failure = self._dispatch(message)
        finally:
            monitor.stop()
        try:
            message.reply(result, failure)
        except Exception:
            LOG.exception("Could not send the reply to message %s", message.msg_id)

    def _dispatch(self, message: RpcIncomingMessage) -> tuple[Any, Any]:
        """Dispatch; stream a generator's values as they come. Return (result, failure)."""
        method = message.message.get("method")
        try:
            result = self.dispatcher.dispatch(message)
            if isinstance(result, StreamedResult):
                if message.stream_replies:
                    for value in result:
                        message.reply_value(value)
                    result = None
                else:
                    # The caller wants one result (oslo.messaging's call): the last value.
                    result = common.last_value(iter(result))
        except ExpectedException as exc:
            LOG.debug("Expected exception during message handling (%s)", exc.exc_info[1])
            return None, exc.exc_info
        except NoSuchMethod:
            log = LOG.debug if str(method).endswith("_ignore_errors") else LOG.exception
            log("Exception during message handling")
            return None, sys.exc_info()
        except Exception:
            LOG.exception("Exception during message handling")
            return None, sys.exc_info()
        return result, None


def get_rpc_server(transport: Transport, target: Target, endpoints: Sequence[Any],
                   executor: str | None = None, serializer: Serializer | None = None,
                   access_policy: type[RPCAccessPolicyBase] | None = None,
                   server_cls: type[RPCServer] = RPCServer) -> RPCServer:
    """Build an RPC server for ``endpoints`` listening on ``target`` (topic and server).

    ``executor`` is ``'threading'`` (a pool of ``executor_thread_pool_size`` threads, the
    default) or ``'blocking'`` (dispatch in the listener thread). ``access_policy`` is a
    class; the default refuses methods whose names start with ``_``.
    """
    if getattr(transport.conf, "rpc_ping_enabled", False):
        if any(hasattr(e, "oslo_rpc_server_ping") for e in endpoints):
            LOG.warning("An endpoint already defines oslo_rpc_server_ping; not adding the "
                        "ping endpoint")
        else:
            endpoints = [*endpoints, PingEndpoint()]  # a copy: the caller's list stays as is
    # otherwise the dispatcher keeps the caller's list itself, as oslo.messaging's does
    dispatcher = RPCDispatcher(endpoints, serializer, access_policy or DefaultRPCAccessPolicy)
    return server_cls(transport, target, dispatcher, executor)

"""The names of ``openstack.common.rpc.amqp`` that services use, on the core.

Importing it registers ``amqp_durable_queues`` and ``amqp_auto_delete``. The machinery the
original kept here (connection pools, reply proxy, consumer callbacks) is the core's now;
what remains is the server-side context (:class:`RpcContext`), context packing, the
duplicate filter and the control exchange lookup.
"""

from __future__ import annotations

import logging
from typing import Any

from oslo_config import cfg

from legacy_rpc.messaging.drivers.common import DuplicateFilter
from legacy_rpc.rpc import _opts, common

__all__ = [
    "amqp_opts",
    "UNIQUE_ID",
    "RpcContext",
    "pack_context",
    "unpack_context",
    "get_control_exchange",
]

amqp_opts = _opts.amqp_opts
cfg.CONF.register_opts(amqp_opts)

LOG = logging.getLogger(__name__)

UNIQUE_ID = "_unique_id"
_CONTEXT_PREFIX = "_context_"


class RpcContext(common.CommonRpcContext):
    """The context a server method receives: the caller's context values, plus the
    ``msg_id``/``reply_q`` of the request and ``conf``, which ``to_dict()`` leaves out."""

    def __init__(self, **kwargs: Any) -> None:
        self.msg_id = kwargs.pop("msg_id", None)
        self.reply_q = kwargs.pop("reply_q", None)
        self.conf = kwargs.pop("conf")
        self._replier: Any = kwargs.pop("_replier", None)
        super().__init__(**kwargs)

    def deepcopy(self) -> Any:
        values = self.to_dict()
        values.update(conf=self.conf, msg_id=self.msg_id, reply_q=self.reply_q,
                      _replier=self._replier)
        return self.from_dict(values)

    def reply(self, reply: Any = None, failure: Any = None, ending: bool = False,
              connection_pool: Any = None, log_failure: bool = True) -> None:
        """Send an extra value to the caller before the method's own result.

        After ``ending=True`` (or for a cast) further replies are dropped; the call itself
        ends when the method returns.
        """
        if self.msg_id is None or self._replier is None:
            return
        if failure is not None:
            self._replier.reply(None, failure)
        elif not ending:
            self._replier.reply_value(reply)
        if ending or failure is not None:
            self.msg_id = None


def pack_context(msg: dict[str, Any], context: Any) -> None:
    """Add the context to ``msg`` as ``_context_<key>`` entries (in place)."""
    values = context if isinstance(context, dict) else context.to_dict()
    msg.update({f"{_CONTEXT_PREFIX}{key}": value for key, value in values.items()})


def unpack_context(conf: Any, msg: dict[str, Any]) -> RpcContext:
    """Pop the ``_context_*``, ``_msg_id`` and ``_reply_q`` entries of ``msg`` into an
    :class:`RpcContext`."""
    values: dict[str, Any] = {}
    for key in list(msg):
        text = str(key)
        if text.startswith(_CONTEXT_PREFIX):
            values[text[len(_CONTEXT_PREFIX):]] = msg.pop(key)
    values["msg_id"] = msg.pop("_msg_id", None)
    values["reply_q"] = msg.pop("_reply_q", None)
    values["conf"] = conf
    ctx = RpcContext.from_dict(values)
    common._safe_log(LOG.debug, "unpacked context: %s", ctx.to_dict())
    result: RpcContext = ctx
    return result


class _MsgIdCache:
    """Remembers the last 16 ``_unique_id`` values and refuses a repeat."""

    def __init__(self, **kwargs: Any) -> None:
        self._seen = DuplicateFilter()

    def check_duplicate_message(self, message_data: dict[str, Any]) -> None:
        """:raises common.DuplicateMessageError: the message was seen already."""
        unique_id = message_data.get(UNIQUE_ID)
        if unique_id is not None and self._seen.seen(str(unique_id)):
            raise common.DuplicateMessageError(msg_id=unique_id)


def get_control_exchange(conf: Any) -> str:
    """The configured control exchange."""
    exchange: str = conf.control_exchange
    return exchange

"""Talks to the scheduler the way nova's Essex code did (the very old nova.rpc package)."""

from nova import rpc
from nova.rpc import common as rpc_common


def ask_scheduler(context, topic, widget, timeout=None):
    """Ask the scheduler for a host; None when it does not answer in time."""
    try:
        return rpc.call(context, topic,
                        {'method': 'select_host', 'args': {'widget': widget}},
                        timeout=timeout)
    except rpc_common.Timeout:
        return None


def tell_everyone(context, topic, widget):
    rpc.fanout_cast(context, topic, {'method': 'audit', 'args': {}})

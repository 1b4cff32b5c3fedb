# Vendored oslo-incubator openstack.common.rpc: the legacy implementation (truncated
# test data, Python 2).
from oslo.config import cfg

from nova.openstack.common import importutils


def create_connection(new=True):
    return _get_impl().create_connection(cfg.CONF, new=new)


def call(context, topic, msg, timeout=None, check_for_lock=False):
    return _get_impl().call(cfg.CONF, context, topic, msg, timeout)


def cast(context, topic, msg):
    return _get_impl().cast(cfg.CONF, context, topic, msg)


def fanout_cast(context, topic, msg):
    return _get_impl().fanout_cast(cfg.CONF, context, topic, msg)


def multicall(context, topic, msg, timeout=None, check_for_lock=False):
    return _get_impl().multicall(cfg.CONF, context, topic, msg, timeout)


def queue_get_for(context, topic, host):
    return '%s.%s' % (topic, host) if host else topic


_RPCIMPL = None


def _get_impl():
    global _RPCIMPL
    if _RPCIMPL is None:
        _RPCIMPL = importutils.import_module(cfg.CONF.rpc_backend)
    return _RPCIMPL

# Essex nova.rpc: the legacy implementation itself (truncated test data, Python 2).
from nova import flags
from nova.openstack.common import importutils

FLAGS = flags.FLAGS


def create_connection(new=True):
    return _get_impl().create_connection(new=new)


def call(context, topic, msg, timeout=None):
    return _get_impl().call(context, topic, msg, timeout)


def cast(context, topic, msg):
    return _get_impl().cast(context, topic, msg)


def fanout_cast(context, topic, msg):
    return _get_impl().fanout_cast(context, topic, msg)


def multicall(context, topic, msg, timeout=None):
    return _get_impl().multicall(context, topic, msg, timeout)


def notify(context, topic, msg):
    return _get_impl().notify(context, topic, msg)


def cleanup():
    return _get_impl().cleanup()


_RPCIMPL = None


def _get_impl():
    global _RPCIMPL
    if _RPCIMPL is None:
        try:
            _RPCIMPL = importutils.import_module(FLAGS.rpc_backend)
        except ImportError, exc:
            print "cannot load %s: %s" % (FLAGS.rpc_backend, exc)
            raise
    return _RPCIMPL

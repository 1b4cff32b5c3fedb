# Vendored copy of openstack.common.rpc (oslo-incubator). Truncated in this sample: the
# real one cannot run on Python 3, which is why the project moves to legacy_rpc. The
# migration tools recognise it by what it defines (the legacy rpc functions).


def create_connection(new=True):
    raise NotImplementedError


def call(context, topic, msg, timeout=None):
    raise NotImplementedError


def cast(context, topic, msg):
    raise NotImplementedError


def fanout_cast(context, topic, msg):
    raise NotImplementedError


def multicall(context, topic, msg, timeout=None):
    raise NotImplementedError


raise ImportError("acme.openstack.common.rpc is a stub: run 'legacy-rpc migrate'")

# Vendored openstack.common.rpc.proxy (truncated test data, Python 2).
from nova.openstack.common import rpc


class RpcProxy(object):

    def __init__(self, topic, default_version, version_cap=None):
        self.topic = topic
        self.default_version = default_version

    def call(self, context, msg, topic=None, version=None, timeout=None):
        return rpc.call(context, topic or self.topic, msg, timeout)

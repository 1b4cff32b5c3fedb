"""Client side API of the inventory service: what other services import to talk to it."""

from oslo_config import cfg

from legacy_rpc import rpc
from legacy_rpc.rpc import proxy as rpc_proxy

CONF = cfg.CONF


class InventoryAPI(rpc_proxy.RpcProxy):
    """Client side of the inventory RPC API.

    API version history:

        1.0 - Initial version (add_item, get_item, remove_item, ping).
        1.1 - Added list_items (a generator on the server: use multicall).
    """

    BASE_RPC_API_VERSION = '1.0'

    def __init__(self):
        super(InventoryAPI, self).__init__(
            topic=CONF.inventory_topic,
            default_version=self.BASE_RPC_API_VERSION)

    def add_item(self, ctxt, name, quantity):
        return self.call(ctxt, self.make_msg('add_item', name=name,
                                             quantity=quantity))

    def get_item(self, ctxt, name, host=None):
        topic = None
        if host:
            topic = rpc.queue_get_for(ctxt, self.topic, host)
        return self.call(ctxt, self.make_msg('get_item', name=name),
                         topic=topic)

    def remove_item(self, ctxt, name):
        self.cast(ctxt, self.make_msg('remove_item', name=name))

    def list_items(self, ctxt):
        return self.multicall(ctxt, self.make_msg('list_items'),
                              version='1.1')

    def ping(self, ctxt):
        self.fanout_cast(ctxt, self.make_msg('ping'))

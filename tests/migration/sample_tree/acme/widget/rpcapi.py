"""Client side of the widget RPC API."""

from oslo_config import cfg

from acme.openstack.common import rpc
import acme.openstack.common.rpc.proxy as rpc_proxy

CONF = cfg.CONF


class WidgetAPI(rpc_proxy.RpcProxy):
    """Client side of the widget RPC API.

    API version history:

        1.0 - Initial version.
        1.1 - Added list_widgets (a generator: use multicall).
    """

    BASE_RPC_API_VERSION = '1.0'

    def __init__(self):
        super(WidgetAPI, self).__init__(topic=CONF.widget_topic,
                                        default_version=self.BASE_RPC_API_VERSION)

    def create_widget(self, ctxt, name, size):
        return self.call(ctxt, self.make_msg('create_widget', name=name, size=size))

    def get_widget(self, ctxt, name, host=None):
        topic = rpc.queue_get_for(ctxt, self.topic, host) if host else None
        return self.call(ctxt, self.make_msg('get_widget', name=name), topic=topic)

    def delete_widget(self, ctxt, name):
        self.cast(ctxt, self.make_msg('delete_widget', name=name))

    def list_widgets(self, ctxt):
        return self.multicall(ctxt, self.make_msg('list_widgets'), version='1.1')

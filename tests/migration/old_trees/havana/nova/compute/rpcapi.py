# Client side of the compute RPC API, in the plain dotted import form (test data,
# Python 2).
from oslo.config import cfg

from nova import exception
from nova.objects import base as objects_base
from nova.openstack.common import jsonutils
import nova.openstack.common.rpc.proxy
from nova import rpc

CONF = cfg.CONF


class ComputeAPI(nova.openstack.common.rpc.proxy.RpcProxy):
    """Client side of the compute rpc API.

    Uses nova.openstack.common.rpc.proxy.RpcProxy (this docstring is not rewritten).
    """

    BASE_RPC_API_VERSION = '2.0'

    def __init__(self):
        super(ComputeAPI, self).__init__(
                topic=CONF.compute_topic,
                default_version=self.BASE_RPC_API_VERSION,
                serializer=objects_base.NovaObjectSerializer())
        self.client = rpc.get_client(None)  # the project's own nova.rpc: left alone

    def get_console_output(self, ctxt, instance, tail_length):
        try:
            return self.call(ctxt, self.make_msg('get_console_output',
                    instance=jsonutils.to_primitive(instance), tail_length=tail_length),
                    topic=nova.openstack.common.rpc.queue_get_for(ctxt, CONF.compute_topic,
                                                                  instance['host']))
        except exception.NovaException, e:
            raise exception.ConsoleNotFound(e)

    def reboot_instance(self, ctxt, instance, reboot_type):
        nova.openstack.common.rpc.proxy.RpcProxy.cast(self, ctxt,
                self.make_msg('reboot_instance', instance=instance,
                              reboot_type=reboot_type))

# Unit test of the compute rpcapi patching the vendored copy by name (test data,
# Python 2).
import mock
from oslo.config import cfg

from nova.compute import rpcapi as compute_rpcapi
from nova.openstack.common import importutils

CONF = cfg.CONF
CONF.import_opt('rpc_backend', 'nova.openstack.common.rpc')
CONF.import_opt('notification_driver', "nova.openstack.common.notifier.api")
kombu = importutils.try_import('nova.openstack.common.rpc.impl_kombu')
shim = importutils.import_module('nova.rpc')  # the project's own module: left alone


class ComputeRpcAPIChecks(object):

    @mock.patch('nova.openstack.common.rpc.call')
    def check_console_output(self, call):
        call.return_value = u'output'
        rpcapi = compute_rpcapi.ComputeAPI()
        print rpcapi.get_console_output(None, {'host': 'h'}, 10)
        # 'nova.openstack.common.rpc.cast' in a comment stays as it is
        self.assertEqual('not a module path: nova.openstack.common.rpc.cast', u'x')

    @mock.patch('nova.openstack.common.rpc.proxy.RpcProxy.cast')
    def check_reboot(self, cast):
        compute_rpcapi.ComputeAPI().reboot_instance(None, {}, 'HARD')
        assert cast.called, `cast`

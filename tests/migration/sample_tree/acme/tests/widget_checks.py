"""Unit checks of the widget client that patch the vendored rpc by name.

``python -m unittest acme.tests.widget_checks`` (after ``legacy-rpc migrate``): the patch
targets are strings, which the drop-in step rewrites like the imports.
"""

import importlib
import unittest
from unittest import mock

from oslo_config import cfg

from acme.widget import rpcapi as widget_rpcapi

CONF = cfg.CONF
CONF.import_opt('rpc_backend', 'acme.openstack.common.rpc')
CONF.import_opt('widget_topic', 'acme.service')


def try_import(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


class WidgetAPIChecks(unittest.TestCase):

    def test_the_rpc_module_imports(self):
        self.assertIsNotNone(try_import('acme.openstack.common.rpc'))
        self.assertEqual(CONF.rpc_backend, 'legacy_rpc.rpc.impl_kombu')

    @mock.patch('acme.openstack.common.rpc.call')
    def test_create_widget_calls(self, call):
        call.return_value = {'name': 'gear', 'size': 3}
        result = widget_rpcapi.WidgetAPI().create_widget(None, 'gear', 3)
        self.assertEqual(result, {'name': 'gear', 'size': 3})
        context, topic, msg, timeout = call.call_args[0]
        self.assertEqual((topic, msg['method'], msg['args']),
                         ('widget', 'create_widget', {'name': 'gear', 'size': 3}))

    @mock.patch('acme.openstack.common.rpc.proxy.RpcProxy.cast')
    def test_delete_widget_casts(self, cast):
        widget_rpcapi.WidgetAPI().delete_widget(None, 'gear')
        self.assertEqual(cast.call_args[0][1]['method'], 'delete_widget')


if __name__ == '__main__':
    unittest.main()

"""The acme-widget service: consumers made by hand, the pre-Service way.

``python -m acme.service --config-file etc/acme/acme.conf`` starts the consumers, plays a
client once and prints what happened as one JSON line.
"""

import json
import socket
import sys

from oslo_config import cfg

from acme import exception
from acme.openstack.common import rpc
from acme.openstack.common.rpc import common as rpc_common
from acme.openstack.common.rpc import dispatcher as rpc_dispatcher
from acme.widget import manager as widget_manager
from acme.widget import rpcapi as widget_rpcapi

CONF = cfg.CONF
CONF.register_opts([
    cfg.StrOpt('host', default=socket.gethostname(), help='Name of this node.'),
    cfg.StrOpt('widget_topic', default='widget', help='Topic of the widget service.'),
])
CONF.import_opt('notification_topics', 'acme.openstack.common.notifier.rpc_notifier')

rpc.set_defaults(control_exchange='acme')

WAIT = 10


def start_consumers(manager):
    conn = rpc.create_connection(new=True)
    dispatcher = rpc_dispatcher.RpcDispatcher([manager])
    conn.create_consumer(CONF.widget_topic, dispatcher, fanout=False)
    node_topic = rpc.queue_get_for(None, CONF.widget_topic, CONF.host)
    conn.create_consumer(node_topic, dispatcher, fanout=False)
    conn.create_consumer(CONF.widget_topic, dispatcher, fanout=True)
    conn.consume_in_thread()
    return conn


def main(argv):
    CONF(argv[1:], project='acme')
    manager = widget_manager.WidgetManager(CONF.host)
    conn = start_consumers(manager)
    ctxt = rpc_common.CommonRpcContext(user='demo', project_id='acme')
    api = widget_rpcapi.WidgetAPI()
    result = {}
    try:
        result['created'] = api.create_widget(ctxt, 'gear', 3)
        result['got'] = api.get_widget(ctxt, 'gear', host=CONF.host)
        result['listed'] = list(api.list_widgets(ctxt))
        try:
            api.get_widget(ctxt, 'sprocket')
        except exception.WidgetNotFound:
            result['missing'] = 'sprocket'
        api.delete_widget(ctxt, 'gear')
        result['deleted'] = manager.deleted.wait(WAIT)
        rpc.fanout_cast(ctxt, CONF.widget_topic, {'method': 'audit', 'args': {}})
        result['audited'] = manager.audited.wait(WAIT)
        rpc.cast(ctxt, CONF.widget_topic,
                 {'method': 'create_widget', 'args': {'name': 'cog', 'size': 1}})
        result['direct'] = rpc.call(ctxt, CONF.widget_topic,
                                    {'method': 'get_widget', 'args': {'name': 'cog'}},
                                    timeout=WAIT)
    finally:
        conn.close()
        rpc.cleanup()
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

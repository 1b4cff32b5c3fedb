"""The inventory service binary: starts the RPC service and exercises it once.

Run: ``python -m inventory.service --config-file inventory.conf``. It starts a
``Service`` (the three standard consumers), audits its own notifications the way
ceilometer did (``join_consumer_pool``), then plays a client through ``InventoryAPI`` and
prints what happened as one JSON line.
"""

import json
import socket
import sys
import threading

from oslo_config import cfg

from legacy_rpc import rpc
from legacy_rpc.rpc import common as rpc_common
from legacy_rpc.rpc import service

from inventory import api as inventory_api
from inventory import manager as inventory_manager

CONF = cfg.CONF
CONF.register_opts([
    cfg.StrOpt('host', default=socket.gethostname(),
               help='Name of this node.'),
    cfg.StrOpt('inventory_topic', default='inventory',
               help='The topic inventory nodes listen on.'),
])
CONF.import_opt('notification_topics', 'legacy_rpc.notifier.rpc_notifier')

rpc.set_defaults(control_exchange='inventory')

WAIT = 10


class Auditor(object):
    """Receives the notifications of the inventory service (raw messages)."""

    def __init__(self, expected):
        self.expected = expected
        self.events = []
        self.done = threading.Event()

    def __call__(self, message):
        self.events.append(message['event_type'])
        if len(self.events) >= self.expected:
            self.done.set()


def main(argv):
    CONF(argv[1:], project='inventory')
    manager = inventory_manager.InventoryManager(CONF.host)
    server = service.Service(CONF.host, CONF.inventory_topic, manager)
    server.start()

    auditor = Auditor(expected=4)
    audit_conn = rpc.create_connection(new=True)
    topic = '%s.info' % CONF.notification_topics[0]
    audit_conn.join_consumer_pool(auditor, '%s-audit' % CONF.inventory_topic,
                                  topic)
    audit_conn.consume_in_thread()

    ctxt = rpc_common.CommonRpcContext(user='demo', project_id='demo')
    api = inventory_api.InventoryAPI()
    result = {}
    try:
        result['add'] = [api.add_item(ctxt, 'apple', 3),
                         api.add_item(ctxt, 'apple', 2),
                         api.add_item(ctxt, 'pear', 1)]
        result['get'] = api.get_item(ctxt, 'apple', host=CONF.host)
        result['list'] = list(api.list_items(ctxt))
        try:
            api.get_item(ctxt, 'plum')
        except KeyError:
            result['missing'] = 'plum'
        api.remove_item(ctxt, 'pear')
        api.ping(ctxt)
        result['removed'] = manager.removed.wait(WAIT)
        result['pinged'] = manager.pinged.wait(WAIT)
        auditor.done.wait(WAIT)
        result['notifications'] = sorted(auditor.events)
        try:
            api.call(ctxt, api.make_msg('list_items'), version='2.0')
        except rpc_common.RemoteError as e:
            result['unsupported'] = e.exc_type
    finally:
        audit_conn.close()
        server.stop()
        rpc.cleanup()
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

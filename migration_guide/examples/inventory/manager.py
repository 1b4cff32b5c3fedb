"""Server side of the inventory service: the manager the RPC dispatcher calls."""

import logging
import threading

from oslo_config import cfg

from legacy_rpc.notifier import api as notifier_api

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


class InventoryManager(object):
    """Keeps item counts; notifies every change."""

    RPC_API_VERSION = '1.1'

    def __init__(self, host):
        self.host = host
        self.items = {}
        self.pings = 0
        self.removed = threading.Event()
        self.pinged = threading.Event()

    def initialize_service_hook(self, service):
        LOG.info("Inventory service %s consuming on %s", service.host,
                 service.topic)

    def _notify(self, context, event_type, payload):
        notifier_api.notify(context,
                            notifier_api.publisher_id('inventory', self.host),
                            event_type, notifier_api.INFO, payload)

    def add_item(self, context, name, quantity):
        self.items[name] = self.items.get(name, 0) + quantity
        self._notify(context, 'inventory.item.added',
                     {'name': name, 'quantity': self.items[name],
                      'user': context.user})
        return self.items[name]

    def get_item(self, context, name):
        return {'name': name, 'quantity': self.items[name],
                'host': self.host}

    def remove_item(self, context, name):
        self.items.pop(name, None)
        self._notify(context, 'inventory.item.removed', {'name': name})
        self.removed.set()

    def list_items(self, context):
        for name in sorted(self.items):
            yield {'name': name, 'quantity': self.items[name]}

    def ping(self, context):
        self.pings += 1
        self.pinged.set()

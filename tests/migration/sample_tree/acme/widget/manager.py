"""The widget manager: what the widget service does for each request."""

import threading

from acme import exception
from acme.openstack.common.notifier import api as notifier_api  # publishes widget.*


class WidgetManager(object):

    RPC_API_VERSION = '1.1'

    def __init__(self, host):
        self.host = host
        self.widgets = {}
        self.deleted = threading.Event()
        self.audited = threading.Event()

    def _notify(self, context, event, payload):
        notifier_api.notify(context, notifier_api.publisher_id('widget', self.host),
                            'widget.%s' % event, notifier_api.INFO, payload)

    def create_widget(self, context, name, size):
        self.widgets[name] = size
        self._notify(context, 'create', {'name': name, 'size': size})
        return {'name': name, 'size': size, 'host': self.host}

    def get_widget(self, context, name):
        if name not in self.widgets:
            raise exception.WidgetNotFound(name)
        return {'name': name, 'size': self.widgets[name]}

    def delete_widget(self, context, name):
        self.widgets.pop(name, None)
        self.deleted.set()

    def list_widgets(self, context):
        for name in sorted(self.widgets):
            yield name

    def audit(self, context):
        self.audited.set()

"""Conductor API: parses as Python 3 (test data)."""

from nova import notifier
from nova.openstack.common.notifier import api as notifier_api


def announce(context, host):
    notifier.notify(context, notifier.publisher_id('conductor', host),
                    'conductor.start', 'INFO', {})
    notifier_api.notify(context, notifier_api.publisher_id('conductor', host),
                        'conductor.start', notifier_api.INFO, {})

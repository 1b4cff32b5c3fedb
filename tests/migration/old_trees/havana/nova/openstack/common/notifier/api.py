# Vendored openstack.common.notifier.api (truncated test data, Python 2).
WARN = 'WARN'
INFO = 'INFO'


def publisher_id(service, host=None):
    return "%s.%s" % (service, host)


def notify(context, publisher_id, event_type, priority, payload):
    print "%s %s" % (event_type, payload)


def notify_decorator(name, fn):
    return fn

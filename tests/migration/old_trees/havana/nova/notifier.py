# The project's own nova/notifier.py: notify() over oslo.messaging's Notifier, NOT the
# legacy notifier (test data, Python 2).
from oslo import messaging

from nova import rpc


def publisher_id(service, host=None):
    return "%s.%s" % (service, host)


def notify(context, publisher_id, event_type, priority, payload):
    notifier = rpc.get_notifier(publisher_id=publisher_id)
    getattr(notifier, priority.lower())(context, event_type, payload)


def notify_decorator(name, fn):
    raise messaging.MessagingException(u"not supported: %s" % name)

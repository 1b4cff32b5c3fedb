# Essex nova.notifier.api: the legacy notifier (truncated test data, Python 2).
import uuid

WARN = 'WARN'
INFO = 'INFO'


def publisher_id(service, host=None):
    return "%s.%s" % (service, host)


def notify(publisher_id, event_type, priority, payload):
    msg = dict(message_id=str(uuid.uuid4()), publisher_id=publisher_id,
               event_type=event_type, priority=priority, payload=payload)
    print >>log, msg

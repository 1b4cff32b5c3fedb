# The project's own nova/rpc.py (Icehouse style): a shim over oslo.messaging, NOT the
# legacy implementation although its name looks like one (test data, Python 2).
from oslo.config import cfg
from oslo import messaging

CONF = cfg.CONF
TRANSPORT = None
NOTIFIER = None


def init(conf):
    global TRANSPORT, NOTIFIER
    TRANSPORT = messaging.get_transport(conf)
    NOTIFIER = messaging.Notifier(TRANSPORT)


def cleanup():
    global TRANSPORT
    TRANSPORT.cleanup()
    TRANSPORT = None


def get_client(target, version_cap=None):
    return messaging.RPCClient(TRANSPORT, target, version_cap=version_cap)


def get_server(target, endpoints):
    return messaging.get_rpc_server(TRANSPORT, target, endpoints, executor='eventlet')


def get_notifier(service=None, host=None, publisher_id=None):
    return NOTIFIER.prepare(publisher_id=publisher_id or "%s.%s" % (service, host))

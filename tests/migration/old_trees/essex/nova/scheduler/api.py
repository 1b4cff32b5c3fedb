# Essex-style scheduler client (test data, Python 2).
from nova import flags
from nova import rpc
from nova.notifier import api as notifier
from nova.rpc import common as rpc_common

FLAGS = flags.FLAGS


def _call_scheduler(method, context, params=None):
    kwargs = {'method': method, 'args': params or {}}
    try:
        return rpc.call(context, FLAGS.scheduler_topic, kwargs)
    except rpc_common.Timeout, e:
        print "scheduler did not answer: %s" % e
        return None


def run_instance(context, **kwargs):
    notifier.notify(notifier.publisher_id('scheduler'), 'scheduler.run_instance',
                    notifier.INFO, kwargs)
    rpc.cast(context, FLAGS.scheduler_topic, {'method': 'run_instance', 'args': kwargs})


def start(service):
    conn = rpc.create_connection(new=True)
    conn.create_consumer(FLAGS.scheduler_topic, service, fanout=False)
    conn.consume_in_thread()
    return conn

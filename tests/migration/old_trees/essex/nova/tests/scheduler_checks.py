# Essex-style unit test of the scheduler client (test data, Python 2).
import mock

from nova.scheduler import api


class SchedulerAPIChecks(object):

    @mock.patch('nova.rpc.call')
    def check_call(self, call):
        call.return_value = 'host1'
        assert api._call_scheduler('select', None) == 'host1'

    @mock.patch('nova.notifier.api.notify')
    @mock.patch('nova.rpc.cast')
    def check_run_instance(self, cast, notify):
        api.run_instance(None, name=u'vm')
        print cast.call_args

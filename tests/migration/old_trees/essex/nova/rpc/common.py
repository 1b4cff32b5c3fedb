# Essex nova.rpc.common (truncated test data, Python 2).
from nova import exception


class RemoteError(exception.NovaException):
    message = "Remote error: %(exc_type)s %(value)s\n%(traceback)s."


class Timeout(exception.NovaException):
    message = "Timeout while waiting on RPC response."

# Essex nova.rpc: the legacy implementation itself (truncated sample). The migration
# tools treat it as a vendored copy because of what it defines, not because of its name.


def create_connection(new=True):
    raise NotImplementedError


def call(context, topic, msg, timeout=None):
    raise NotImplementedError


def cast(context, topic, msg):
    raise NotImplementedError


def fanout_cast(context, topic, msg):
    raise NotImplementedError


def multicall(context, topic, msg, timeout=None):
    raise NotImplementedError


raise ImportError("nova.rpc is a stub: run 'legacy-rpc migrate'")

# Vendored copy of openstack.common.notifier.api (oslo-incubator), truncated in this
# sample; recognised by what it defines.


def publisher_id(service, host=None):
    raise NotImplementedError


def notify(context, publisher_id, event_type, priority, payload):
    raise NotImplementedError


raise ImportError("acme.openstack.common.notifier is a stub: run 'legacy-rpc migrate'")

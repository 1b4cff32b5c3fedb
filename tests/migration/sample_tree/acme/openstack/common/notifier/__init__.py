# Vendored copy of openstack.common.notifier (oslo-incubator), truncated in this sample.
raise ImportError("acme.openstack.common.notifier is a stub: run 'legacy-rpc migrate'")

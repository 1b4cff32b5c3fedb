# Vendored copy of openstack.common.rpc (oslo-incubator). Truncated in this sample: the
# real one cannot run on Python 3, which is why the project moves to legacy_rpc.
raise ImportError("acme.openstack.common.rpc is a stub: run 'legacy-rpc migrate'")

"""An example legacy service, written against the old ``openstack.common.rpc`` API.

Its only change from the original is its import lines (``from nova.openstack.common import
rpc`` became ``from legacy_rpc import rpc``, and so on); see README.md next to it.
"""

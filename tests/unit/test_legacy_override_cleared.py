"""A ``transport_url`` override that was cleared no longer counts as set: oslo.config keeps
reporting ``set_override`` as its location afterwards, which made one test's override
steer every later use of the legacy API in the process."""

from __future__ import annotations

from oslo_config import cfg

from legacy_rpc.messaging import opts
from legacy_rpc.rpc import _transport_url


def test_a_cleared_override_is_not_explicitly_set() -> None:
    conf = cfg.ConfigOpts()
    opts.register_transport_opts(conf)
    conf([])
    assert not _transport_url._explicitly_set(conf, "transport_url")
    conf.set_override("transport_url", "fake:///x")
    assert _transport_url._explicitly_set(conf, "transport_url")
    assert _transport_url.transport_url(conf).transport == "fake"
    conf.clear_override("transport_url")
    assert conf.get_location("transport_url").location is cfg.Locations.set_override  # type: ignore[union-attr]
    assert not _transport_url._explicitly_set(conf, "transport_url")
    assert _transport_url.transport_url(conf).transport != "fake"

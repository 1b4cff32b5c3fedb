"""Our options and oslo.messaging 18.3.1's share one ConfigOpts, in either order (issue 13).

The end-to-end proofs (both libraries sending to each other in one process) are in
``tests/interop/test_coexistence.py``; here: option equality, registration in both orders,
one config file read by both, ``list_opts`` and its entry point.
"""

from __future__ import annotations

import importlib.metadata
import operator
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc.messaging import _opt_types, opts
from legacy_rpc.messaging.drivers.rabbit import _opts as rabbit_opts
from legacy_rpc.messaging.notify import _opts as notify_opts

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # oslo.messaging imports eventlet, which warns
    import oslo_messaging
    from oslo_messaging import conffixture as oslo_conffixture
    from oslo_messaging import opts as oslo_opts

GROUPS = (None, notify_opts.GROUP, rabbit_opts.GROUP)


def _ours() -> dict[tuple[str | None, str], cfg.Opt]:
    return {(group, opt.dest): opt for group, options in opts.list_opts() for opt in options}


def _theirs() -> list[tuple[str | None, cfg.Opt]]:
    return [(group, opt) for group, options in oslo_opts.list_opts() for opt in options
            if group in GROUPS]


def test_every_shared_option_is_equal_both_ways() -> None:
    ours = _ours()
    shared = [(group, theirs, ours[(group, theirs.dest)]) for group, theirs in _theirs()
              if (group, theirs.dest) in ours]
    assert len(shared) >= 40  # DEFAULT, notifications and rabbit: nearly all of oslo's
    for group, theirs, mine in shared:
        assert mine == theirs, (group, theirs.dest)
        assert theirs == mine, (group, theirs.dest)  # our __eq__ is asked first here too
        assert operator.ne(theirs, mine) is False, (group, theirs.dest)  # what oslo.config asks


def test_a_different_default_or_kind_is_still_a_duplicate() -> None:
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.IntOpt("rpc_response_timeout", default=60))
    with pytest.raises(cfg.DuplicateOptError):
        conf.register_opt(_opt_types.IntOpt("rpc_response_timeout", default=30))
    with pytest.raises(cfg.DuplicateOptError):
        conf.register_opt(_opt_types.StrOpt("rpc_response_timeout", default="60"))
    conf.register_opt(_opt_types.IntOpt("rpc_response_timeout", default=60, help="other"))


def _register_oslo(conf: cfg.ConfigOpts) -> None:
    oslo_conffixture.ConfFixture(conf)  # registers every group oslo.messaging has
    oslo_messaging.get_notification_transport(conf, url="fake://")
    oslo_messaging.get_rpc_transport(conf, url="fake://")


def _register_ours(conf: cfg.ConfigOpts) -> None:
    import legacy_rpc.messaging as messaging
    from legacy_rpc.messaging.conffixture import ConfFixture

    ConfFixture(conf)
    messaging.get_notification_transport(conf, url="fake:///coexist-opts").cleanup()
    messaging.get_rpc_transport(conf, url="fake:///coexist-opts").cleanup()


CONFIG = """
[DEFAULT]
control_exchange = coexist
rpc_response_timeout = 17
[oslo_messaging_notifications]
driver = messagingv2
driver = log
topics = audit,notifications
[oslo_messaging_rabbit]
rabbit_retry_interval = 3
ssl = true
"""


@pytest.mark.parametrize("order", [(_register_oslo, _register_ours),
                                   (_register_ours, _register_oslo)],
                         ids=["oslo-first", "ours-first"])
def test_both_orders_register_and_read_one_file(
        tmp_path: Path, order: tuple[Callable[[cfg.ConfigOpts], None], ...]) -> None:
    path = tmp_path / "service.conf"
    path.write_text(CONFIG)
    conf = cfg.ConfigOpts()
    conf(args=["--config-file", str(path)])
    for register in order:
        register(conf)
    conf.reload_config_files()
    assert conf.control_exchange == "coexist"
    assert conf.rpc_response_timeout == 17
    notifications: Any = conf.oslo_messaging_notifications
    assert notifications.driver == ["messagingv2", "log"]
    assert notifications.topics == ["audit", "notifications"]
    rabbit: Any = conf.oslo_messaging_rabbit
    assert rabbit.rabbit_retry_interval == 3
    assert rabbit.ssl is True
    # our rabbit driver's view of the same section
    assert rabbit_opts.load_options(conf, {}).rabbit_retry_interval == 3


def test_reconnect_delays_may_be_fractions_in_a_url() -> None:
    conf = cfg.ConfigOpts()
    conf([])
    loaded = rabbit_opts.load_options(conf, {"rabbit_retry_interval": "0.2"})
    assert loaded.rabbit_retry_interval == pytest.approx(0.2)
    with pytest.raises(ValueError, match="rabbit_retry_backoff"):
        rabbit_opts.load_options(conf, {"rabbit_retry_backoff": "-1"})


def test_list_opts_has_oslo_groups_and_an_entry_point() -> None:
    listed = opts.list_opts()
    assert [group for group, _ in listed] == [None, notify_opts.GROUP, rabbit_opts.GROUP]
    assert listed[2][1][0] is not rabbit_opts.rabbit_opts[0]  # copies
    points = importlib.metadata.entry_points(group="oslo.config.opts")
    (point,) = [p for p in points if p.name == "legacy_rpc.messaging"]
    assert point.load() is opts.list_opts

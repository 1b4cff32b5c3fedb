"""Legacy module paths: recognise them and name their ``legacy_rpc`` drop-in.

Legacy packages are ``<project>.openstack.common.rpc`` and ``.notifier`` (any project
prefix, or none), ``<project>.openstack.common.log_handler``, and the very old
``nova.rpc`` and ``nova.notifier``. Their drop-ins are ``legacy_rpc.rpc``,
``legacy_rpc.notifier`` and ``legacy_rpc.notifier.log_handler``. A name that looks legacy
may still be a project's own module: :mod:`.resolve` decides from the tree.
"""

from __future__ import annotations

import re

__all__ = ["dropin_module", "canonical", "legacy_root", "LEGACY_PARENTS", "INCUBATOR"]

_OPENSTACK_COMMON = re.compile(
    r"^(?:[A-Za-z_][\w.]*\.)?openstack\.common\.(rpc|notifier|log_handler)((?:\.\w+)*)$")
_NOVA = re.compile(r"^nova\.(rpc|notifier)((?:\.\w+)*)$")
_OWN = re.compile(r"^legacy_rpc\.(rpc|notifier)((?:\.\w+)*)$")

_PACKAGE_OF = {"rpc": "legacy_rpc.rpc", "notifier": "legacy_rpc.notifier",
               "log_handler": "legacy_rpc.notifier.log_handler"}

LEGACY_PARENTS = re.compile(r"^(?:(?:[A-Za-z_][\w.]*\.)?openstack\.common|nova)$")
"""Packages from which ``rpc``/``notifier`` (``log_handler``) are imported by name:
``from nova.openstack.common import rpc``, ``from nova import rpc``."""


def dropin_module(module: str) -> str | None:
    """The ``legacy_rpc`` module replacing legacy ``module``, or None if it is not legacy."""
    match = _OPENSTACK_COMMON.match(module) or _NOVA.match(module)
    if match is None:
        return None
    return _PACKAGE_OF[match.group(1)] + match.group(2)


def canonical(name: str) -> str | None:
    """``rpc.proxy.RpcProxy`` for a dotted name under any legacy or drop-in package.

    ``acme.openstack.common.rpc.call``, ``nova.rpc.call`` and ``legacy_rpc.rpc.call`` all
    give ``rpc.call``; None for a name outside those packages.
    """
    dropin = name if _OWN.match(name) else dropin_module(name)
    if dropin is None:
        return None
    return dropin[len("legacy_rpc."):]


def legacy_root(module: str) -> str | None:
    """The legacy package or module a legacy-named ``module`` lies in.

    ``acme.openstack.common.rpc.proxy.RpcProxy`` gives ``acme.openstack.common.rpc``,
    ``nova.notifier.api`` gives ``nova.notifier``; None for a name that is not legacy.
    """
    match = _OPENSTACK_COMMON.match(module) or _NOVA.match(module)
    if match is None:
        return None
    return module[:match.end(1)]


INCUBATOR = re.compile(r"(?:^|\.)openstack\.common\.")
"""The oslo-incubator path: a module there is the incubator's copy unless the tree shows
otherwise (``nova.rpc`` may be Essex's legacy package or a project's own module)."""

"""From a ``notification_driver`` value to the driver module.

Old configuration files name the drivers by their module paths in the project that vendored
them (``nova.openstack.common.notifier.rpc_notifier``, any project prefix; the very old
``nova.notifier.rpc_notifier``). Such paths are matched the way the core's driver registry
matches ``rpc_backend`` values: on the last component, under a known legacy package. The
new-style driver names (``messaging``, ``messagingv2``, ``log``, ``noop``, ``test``) name
the equivalent legacy drivers. Anything else is imported as a module, as the original did.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["module_name", "import_driver"]

_PACKAGE = "legacy_rpc.notifier"
_LEGACY_PACKAGES = ("openstack.common.notifier", "nova.notifier", _PACKAGE)

# Legacy driver modules, and the ones that were aliases of them.
_MODULES = {
    "log_notifier": "log_notifier",
    "no_op_notifier": "no_op_notifier",
    "rpc_notifier": "rpc_notifier",
    "rpc_notifier2": "rpc_notifier2",
    "test_notifier": "test_notifier",
    "list_notifier": "list_notifier",
    "capacity_notifier": "capacity_notifier",
    "rabbit_notifier": "rpc_notifier",
}

# Names of the new-style drivers -> the legacy driver doing the same.
_NEW_STYLE = {
    "messaging": "rpc_notifier",
    "messagingv2": "rpc_notifier2",
    "log": "log_notifier",
    "noop": "no_op_notifier",
    "test": "test_notifier",
}


def module_name(name: str) -> str:
    """The module to import for a ``notification_driver`` value."""
    name = name.strip()
    if name in _NEW_STYLE:
        return f"{_PACKAGE}.{_NEW_STYLE[name]}"
    package, dot, module = name.rpartition(".")
    if dot and module in _MODULES and any(
            package == p or package.endswith("." + p) for p in _LEGACY_PACKAGES):
        return f"{_PACKAGE}.{_MODULES[module]}"
    return name


def import_driver(name: str) -> ModuleType:
    """Import the driver module ``name`` stands for; ImportError if there is none."""
    return importlib.import_module(module_name(name))

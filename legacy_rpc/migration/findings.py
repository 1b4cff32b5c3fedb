"""One piece of legacy usage found in a file."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Finding", "KINDS"]

KINDS = {
    "legacy-import": "import of a legacy package (the drop-in step changes it)",
    "import-opt": "CONF.import_opt/import_group naming a legacy module",
    "legacy-string": "string naming a legacy module (a mock.patch target, try_import, ...)",
    "rpc-call": "module-level rpc call (call, cast, fanout_cast, multicall, notify, ...)",
    "consumer": "legacy connection/consumer (create_connection, create_consumer, ...)",
    "rpc-proxy": "RpcProxy client class",
    "dispatcher": "RpcDispatcher",
    "service": "legacy rpc Service",
    "notifier": "legacy notifier API call",
    "rpc-backend": "rpc_backend option",
    "legacy-option": "legacy messaging option in a config file",
    "unknown-option": "messaging-looking option that no legacy or new-style code knows",
}
"""Every finding kind and what it means."""


@dataclass(frozen=True)
class Finding:
    """``kind`` (a key of :data:`KINDS`) at ``line``:``col`` (1-based) of a file.

    ``code`` is the source line, ``advice`` what to do about it, ``fixable`` whether
    ``legacy-rpc migrate`` does it.
    """

    line: int
    col: int
    kind: str
    code: str
    advice: str
    fixable: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

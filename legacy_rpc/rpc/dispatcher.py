"""``RpcDispatcher``: server-side versioned dispatch to manager objects.

A manager may declare ``RPC_API_VERSION`` (default ``'1.0'``) and ``RPC_API_NAMESPACE``
(default None). A request goes to the first manager, in list order, whose namespace equals
the request's and whose version is compatible (same major, minor not lower than the
request's); a request without a version asks for ``'1.0'``. Methods are called as
``method(ctxt, **kwargs)``.

Unlike the original, names starting with ``_`` cannot be called remotely: they are
reported as missing (``AttributeError``), so a caller cannot reach a manager's internals.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from legacy_rpc.rpc import common
from legacy_rpc.rpc.serializer import NoOpSerializer, Serializer

__all__ = ["RpcDispatcher"]


class RpcDispatcher:
    """Dispatches a request to the manager (``callbacks``) that serves its version."""

    def __init__(self, callbacks: Iterable[Any], serializer: Serializer | None = None) -> None:
        self.callbacks = list(callbacks)
        self.serializer: Any = serializer if serializer is not None else NoOpSerializer()

    def _deserialize_args(self, context: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {name: self.serializer.deserialize_entity(context, value)
                for name, value in kwargs.items()}

    def dispatch(self, ctxt: Any, version: str | None, method: str, namespace: str | None,
                 **kwargs: Any) -> Any:
        """Call ``method`` on the right manager and return its serialized result.

        :raises common.UnsupportedRpcVersion: no manager of the namespace serves
            ``version``.
        :raises AttributeError: one does, but none has ``method``.
        """
        if not version:
            version = "1.0"
        had_compatible = False
        for proxyobj in self.callbacks:
            if getattr(proxyobj, "RPC_API_NAMESPACE", None) != namespace:
                continue
            rpc_api_version = getattr(proxyobj, "RPC_API_VERSION", "1.0")
            is_compatible = common.version_is_compatible(rpc_api_version, version)
            had_compatible = had_compatible or is_compatible
            if str(method).startswith("_") or not hasattr(proxyobj, method):
                continue
            if is_compatible:
                result = getattr(proxyobj, method)(ctxt,
                                                   **self._deserialize_args(ctxt, kwargs))
                return self.serializer.serialize_entity(ctxt, result)
        if had_compatible:
            raise AttributeError(f"No such RPC function '{method}'")
        raise common.UnsupportedRpcVersion(version=version)

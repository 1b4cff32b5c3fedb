"""``RpcProxy``: the client-side helper of a versioned RPC API.

A service's client API subclasses it and sends through it; every send sets the message's
``version`` (the default one, or the one given, refused above ``version_cap``) and
serializes each argument. The module functions are looked up on ``legacy_rpc.rpc`` at call
time (``rpc.call`` ...), so replacing them (in tests) takes effect.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from legacy_rpc import rpc
from legacy_rpc.rpc import common
from legacy_rpc.rpc.serializer import NoOpSerializer, Serializer

__all__ = ["RpcProxy"]


class RpcProxy:
    """Sends versioned messages on ``topic``; subclasses set ``RPC_API_NAMESPACE``."""

    RPC_API_NAMESPACE: str | None = None

    def __init__(self, topic: str, default_version: str, version_cap: str | None = None,
                 serializer: Serializer | None = None) -> None:
        self.topic = topic
        self.default_version = default_version
        self.version_cap = version_cap
        self.serializer: Any = serializer if serializer is not None else NoOpSerializer()

    def _set_version(self, msg: dict[str, Any], vers: str | None) -> None:
        """Set ``msg['version']`` (in place).

        :raises common.RpcVersionCapError: the version is above ``version_cap``.
        """
        v = vers if vers else self.default_version
        if self.version_cap and not common.version_is_compatible(self.version_cap, v):
            raise common.RpcVersionCapError(version_cap=self.version_cap)
        msg["version"] = v

    def _get_topic(self, topic: str | None) -> str:
        return topic if topic else self.topic

    def can_send_version(self, version: str) -> bool:
        """Whether ``version`` is within the version cap (always without a cap)."""
        return not self.version_cap or common.version_is_compatible(self.version_cap,
                                                                    version)

    @staticmethod
    def make_namespaced_msg(method: str, namespace: str | None,
                            **kwargs: Any) -> dict[str, Any]:
        return {"method": method, "namespace": namespace, "args": kwargs}

    def make_msg(self, method: str, **kwargs: Any) -> dict[str, Any]:
        return self.make_namespaced_msg(method, self.RPC_API_NAMESPACE, **kwargs)

    def _serialize_msg_args(self, context: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {name: self.serializer.serialize_entity(context, value)
                for name, value in kwargs.items()}

    def _prepare(self, context: Any, msg: dict[str, Any], version: str | None) -> None:
        self._set_version(msg, version)
        msg["args"] = self._serialize_msg_args(context, msg.get("args", {}))

    def call(self, context: Any, msg: dict[str, Any], topic: str | None = None,
             version: str | None = None, timeout: float | None = None) -> Any:
        """``rpc.call`` with the version set and the arguments and result serialized.

        :raises common.Timeout: naming this topic and method.
        """
        self._prepare(context, msg, version)
        real_topic = self._get_topic(topic)
        try:
            result = rpc.call(context, real_topic, msg, timeout)
            return self.serializer.deserialize_entity(context, result)
        except rpc.common.Timeout as exc:
            raise rpc.common.Timeout(exc.info, real_topic, msg.get("method")) from exc

    def multicall(self, context: Any, msg: dict[str, Any], topic: str | None = None,
                  version: str | None = None, timeout: float | None = None) -> Iterator[Any]:
        """``rpc.multicall`` with the version set and the arguments serialized."""
        self._prepare(context, msg, version)
        real_topic = self._get_topic(topic)
        try:
            result = rpc.multicall(context, real_topic, msg, timeout)
            values: Iterator[Any] = self.serializer.deserialize_entity(context, result)
            return values
        except rpc.common.Timeout as exc:
            raise rpc.common.Timeout(exc.info, real_topic, msg.get("method")) from exc

    def cast(self, context: Any, msg: dict[str, Any], topic: str | None = None,
             version: str | None = None) -> None:
        self._prepare(context, msg, version)
        rpc.cast(context, self._get_topic(topic), msg)

    def fanout_cast(self, context: Any, msg: dict[str, Any], topic: str | None = None,
                    version: str | None = None) -> None:
        self._prepare(context, msg, version)
        rpc.fanout_cast(context, self._get_topic(topic), msg)

    def cast_to_server(self, context: Any, server_params: Mapping[str, Any],
                       msg: dict[str, Any], topic: str | None = None,
                       version: str | None = None) -> None:
        self._prepare(context, msg, version)
        rpc.cast_to_server(context, server_params, self._get_topic(topic), msg)

    def fanout_cast_to_server(self, context: Any, server_params: Mapping[str, Any],
                              msg: dict[str, Any], topic: str | None = None,
                              version: str | None = None) -> None:
        self._prepare(context, msg, version)
        rpc.fanout_cast_to_server(context, server_params, self._get_topic(topic), msg)

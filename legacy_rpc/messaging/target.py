"""``Target``: where a message goes to, or what a server listens on."""

from __future__ import annotations

from typing import Any

__all__ = ["Target"]

_FIELDS = ("exchange", "topic", "namespace", "version", "server", "fanout")


class Target:
    """A plain holder of addressing fields, with the semantics of ``oslo_messaging.Target``.

    ``legacy_namespaces`` lists extra namespaces an endpoint accepts during a rolling upgrade.
    Calling a target returns a copy with some fields replaced; like oslo.messaging, the copy
    does not carry ``legacy_namespaces`` over.
    """

    def __init__(self, exchange: str | None = None, topic: str | None = None,
                 namespace: str | None = None, version: str | None = None,
                 server: str | None = None, fanout: bool | None = None,
                 legacy_namespaces: list[str] | None = None) -> None:
        self.exchange = exchange
        self.topic = topic
        self.namespace = namespace
        self.version = version
        self.server = server
        self.fanout = fanout
        self.accepted_namespaces: list[str | None] = [namespace, *(legacy_namespaces or [])]

    def __call__(self, **kwargs: Any) -> Target:
        unknown = set(kwargs) - set(_FIELDS)
        if unknown:
            raise TypeError(f"Target has no field(s) {sorted(unknown)}")
        fields = {name: kwargs.get(name, getattr(self, name)) for name in _FIELDS}
        return Target(**fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Target) and vars(self) == vars(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)}" for name in _FIELDS
                          if getattr(self, name))
        return f"<Target {shown}>"

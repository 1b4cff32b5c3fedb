"""``ConfFixture``: messaging configuration for tests, as ``oslo_messaging.conffixture``.

For test suites built on ``fixtures``/``testtools`` (the OpenStack style)::

    from legacy_rpc import messaging
    from legacy_rpc.messaging import conffixture

    class MyTest(testtools.TestCase):
        def setUp(self):
            super().setUp()
            self.messaging_conf = self.useFixture(conffixture.ConfFixture(cfg.CONF))
            self.messaging_conf.response_timeout = 5
            transport = messaging.get_rpc_transport(cfg.CONF)  # fake://: in memory
            self.addCleanup(transport.cleanup)

pytest users have the same in the plugin's ``messaging_conf`` fixture.
"""

from __future__ import annotations

from typing import Any

import fixtures
from oslo_config import cfg

from legacy_rpc.messaging import opts
from legacy_rpc.messaging.drivers.rabbit import _opts as rabbit_opts
from legacy_rpc.messaging.notify import _opts as notify_opts

__all__ = ["ConfFixture"]

DEFAULT_TRANSPORT_URL = "fake://"
"""The embedded in-memory driver: no broker needed. Transports on one ``fake://`` virtual host
meet; give each test its own (``fake:///<name>``) to keep tests apart."""

_LEGACY_NAMES = {
    "notification_driver": "driver",
    "notification_transport_url": "transport_url",
    "notification_topics": "topics",
}
"""Removed ``[DEFAULT]`` notification options -> their ``[oslo_messaging_notifications]``
names; old tests still override them by the old name."""

_WRAPPED = ("set_override", "clear_override")


def _new_name(name: str, group: Any) -> tuple[str, Any]:
    """Map a legacy ``[DEFAULT]`` notification option to its current name and group."""
    if name in _LEGACY_NAMES and group in (None, "DEFAULT"):
        return _LEGACY_NAMES[name], notify_opts.GROUP
    return name, group


class ConfFixture(fixtures.Fixture):
    """Registers the messaging options on ``conf`` and points it at ``transport_url``.

    On construction, as oslo.messaging's fixture does, it registers the ``[DEFAULT]`` core
    options, the ``[oslo_messaging_notifications]`` and the ``[oslo_messaging_rabbit]``
    options and overrides
    ``transport_url`` (default ``fake://``, the embedded in-memory driver). While set up,
    ``conf.set_override``/``conf.clear_override`` also accept the legacy names
    ``notification_driver``, ``notification_transport_url`` and ``notification_topics``.
    Cleanup restores both methods and calls ``conf.reset()``, which drops every override.
    """

    def __init__(self, conf: cfg.ConfigOpts, transport_url: str | None = None) -> None:
        super().__init__()
        self.conf = conf
        opts.register_transport_opts(conf)
        notify_opts.register_notifier_opts(conf)
        conf.register_opts(rabbit_opts.rabbit_opts, group=rabbit_opts.GROUP)
        self.transport_url = transport_url or DEFAULT_TRANSPORT_URL
        self._saved: dict[str, Any] = {}

    @property
    def transport_url(self) -> str:
        """``[DEFAULT] transport_url``; setting it overrides the option."""
        url: str = self.conf.transport_url
        return url

    @transport_url.setter
    def transport_url(self, value: str) -> None:
        self.conf.set_override("transport_url", value)

    @property
    def response_timeout(self) -> int:
        """``[DEFAULT] rpc_response_timeout`` (seconds); setting it overrides the option."""
        timeout: int = self.conf.rpc_response_timeout
        return timeout

    @response_timeout.setter
    def response_timeout(self, value: int) -> None:
        self.conf.set_override("rpc_response_timeout", value)

    def _setUp(self) -> None:
        self._wrap_overrides()
        self.addCleanup(self._unwrap_overrides)
        self.addCleanup(self.conf.reset)  # runs first: cleanups run in reverse order

    def _wrap_overrides(self) -> None:
        conf = self.conf
        original_set = conf.set_override
        original_clear = conf.clear_override
        # Remember whether the instance already had its own (e.g. another fixture's) wrapper.
        self._saved = {name: vars(conf)[name] for name in _WRAPPED if name in vars(conf)}

        def set_override(name: str, override: Any, group: Any = None,
                         **kwargs: Any) -> Any:
            name, group = _new_name(name, group)
            return original_set(name, override, group, **kwargs)

        def clear_override(name: str, group: Any = None, **kwargs: Any) -> Any:
            name, group = _new_name(name, group)
            return original_clear(name, group, **kwargs)

        set_override.wrapped = original_set  # type: ignore[attr-defined]
        clear_override.wrapped = original_clear  # type: ignore[attr-defined]
        conf.set_override = set_override
        conf.clear_override = clear_override

    def _unwrap_overrides(self) -> None:
        for name in _WRAPPED:
            if name in self._saved:
                setattr(self.conf, name, self._saved[name])
            else:
                vars(self.conf).pop(name, None)
        self._saved = {}

    # oslo.messaging's names for the two steps (its test suites call them); the wrappers
    # carry the original method as ``wrapped``, as oslo's do.
    _setup_decorator = _wrap_overrides
    _teardown_decorator = _unwrap_overrides

"""``oslo_messaging._drivers.impl_fake`` names that test suites patch.

oslo.messaging's fake driver keeps every exchange in one class-level dict,
``FakeExchangeManager._exchanges``, and test suites reset it between tests with
``fixtures.MonkeyPatch(...FakeExchangeManager._exchanges, new_value={})``. Our ``fake://``
broker is per virtual host instead (:mod:`legacy_rpc.messaging.drivers.impl_fake`), so
there is nothing global to reset: the attribute exists so that such a ``setUp`` keeps
working, and changing it has no effect. Tests keep apart with a virtual host of their own.
"""

from __future__ import annotations

from typing import Any, ClassVar

from legacy_rpc.messaging.drivers.impl_fake import FakeDriver

__all__ = ["FakeDriver", "FakeExchangeManager"]


class FakeExchangeManager:
    """Inert stand-in for oslo.messaging's class of the same name (see the module doc)."""

    _exchanges: ClassVar[dict[str, Any]] = {}

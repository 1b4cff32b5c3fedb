"""Spec 9.7: ``test_fake`` — the strict JSON check, on fake and on RabbitMQ alike.

(The rest of ``RpcFakeTestCase`` is the 9.1 suite, which runs on both backends.)
"""

from __future__ import annotations

from typing import Any

import pytest

from legacy_rpc import rpc
from tests.legacy.conftest import LegacyEnv


class Unserializable:
    """An arbitrary object: not a JSON primitive."""


def test_9_7_non_primitive_raises(legacy: LegacyEnv, context: Any) -> None:
    topic = legacy.topic("foo")  # nobody consumes it: the check happens when sending
    msg = {"method": "foo", "args": {"value": Unserializable()}}
    with pytest.raises(TypeError):
        rpc.cast(context, topic, msg)
    with pytest.raises(TypeError):
        rpc.call(context, topic, msg)
    with pytest.raises(TypeError):
        rpc.fanout_cast(context, topic, msg)

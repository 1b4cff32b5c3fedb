"""Fixtures shared by the notifier unit tests: a private config, a notification transport
on ``fake://``, and an empty ``test`` driver record around every test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from oslo_config import cfg

from legacy_rpc.messaging.notify import _impl_test, get_notification_transport
from legacy_rpc.messaging.transport import Transport


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([], default_config_files=[], default_config_dirs=[])
    return conf


@pytest.fixture
def transport(conf: cfg.ConfigOpts) -> Iterator[Transport]:
    t = get_notification_transport(conf, f"fake:///test-{uuid.uuid4().hex}")  # a vhost of its own
    yield t
    t.cleanup()


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    _impl_test.reset()
    yield
    _impl_test.reset()

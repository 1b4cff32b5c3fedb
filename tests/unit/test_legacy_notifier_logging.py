"""The legacy notifier logs a failed notification without its secrets, and cut short.

When a driver (or a topic) fails, ``notifier.api``, ``rpc_notifier`` and ``rpc_notifier2``
log the payload: secret keys must be sanitized, URL passwords and ``key=value`` secrets
masked, and a huge payload cut.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc import rpc
from legacy_rpc.messaging._mask import SANITIZED
from legacy_rpc.notifier import api as notifier_api
from legacy_rpc.notifier import rpc_notifier, rpc_notifier2

SECRETS = ("hunter2", "s3cr3t", "tok3n", "pa55")


def payload() -> dict[str, Any]:
    return {"password": "hunter2", "url": "rabbit://user:s3cr3t@host:5672/",
            "note": "token=tok3n", "nested": [{"admin_password": "pa55"}],
            "pad": "x" * 100_000}


def assert_clean(caplog: pytest.LogCaptureFixture, logger: str) -> str:
    records = [r for r in caplog.records if r.name == logger]
    assert records, f"nothing logged by {logger}"
    text = "\n".join(r.getMessage() for r in records)
    for secret in SECRETS:
        assert secret not in caplog.text
    assert SANITIZED in text
    assert all(len(r.getMessage()) < 3000 for r in records)  # the 100 KB pad is cut
    return text


@pytest.fixture
def failing_rpc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def notify(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("broker unavailable")

    monkeypatch.setattr(rpc, "notify", notify)
    yield


def test_api_logs_a_failing_driver_without_secrets(monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    def notify(context: Any, message: Any) -> None:
        raise RuntimeError("could not send to rabbit://user:s3cr3t@host/ with token=tok3n")

    monkeypatch.setattr(notifier_api, "_get_drivers", lambda: [SimpleNamespace(notify=notify)])
    with caplog.at_level(logging.ERROR, logger=notifier_api.__name__):
        notifier_api.notify({}, "publisher", "event", notifier_api.INFO, payload())
    [record] = [r for r in caplog.records if r.name == notifier_api.__name__]
    message = record.getMessage()
    assert record.exc_info is not None  # still logged with its traceback
    for secret in SECRETS:
        assert secret not in message
    assert SANITIZED in message and "rabbit://user:****@host" in message
    assert len(message) < 3000


def test_api_logs_without_secrets_in_the_captured_text(monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    def notify(context: Any, message: Any) -> None:
        raise RuntimeError("driver down")

    monkeypatch.setattr(notifier_api, "_get_drivers", lambda: [SimpleNamespace(notify=notify)])
    with caplog.at_level(logging.ERROR, logger=notifier_api.__name__):
        notifier_api.notify({}, "publisher", "event", notifier_api.INFO, payload())
    assert "driver down" in assert_clean(caplog, notifier_api.__name__)


@pytest.mark.usefixtures("failing_rpc")
def test_rpc_notifier_logs_a_failing_topic_without_secrets(
        caplog: pytest.LogCaptureFixture) -> None:
    message = {"priority": "INFO", "event_type": "e", "payload": payload()}
    with caplog.at_level(logging.ERROR, logger=rpc_notifier.__name__):
        rpc_notifier.notify({"user": "u"}, message)
    topics = cfg.CONF.notification_topics
    text = assert_clean(caplog, rpc_notifier.__name__)
    assert all(f"{topic}.info" in text for topic in topics)


@pytest.mark.usefixtures("failing_rpc")
def test_rpc_notifier2_logs_a_failing_topic_without_secrets(
        caplog: pytest.LogCaptureFixture) -> None:
    message = {"priority": "INFO", "event_type": "e", "payload": payload()}
    with caplog.at_level(logging.ERROR, logger=rpc_notifier2.__name__):
        rpc_notifier2.notify({"user": "u"}, message)
    text = assert_clean(caplog, rpc_notifier2.__name__)
    assert all(f"{topic}.info" in text for topic in cfg.CONF.rpc_notifier2.topics)

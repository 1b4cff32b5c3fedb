"""Small incompatibilities with oslo.messaging 18.3.1 that issue 13 listed, one test each.

oslo.messaging's driver entry points, ``notify.middleware.RequestNotifier``, notification
timestamps under ``oslo_utils.timeutils`` overrides, ``rpc_response_timeout = None``.
"""

from __future__ import annotations

import datetime
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import webob  # type: ignore[import-untyped]
from oslo_config import cfg
from oslo_utils import timeutils

import legacy_rpc.messaging as messaging
from legacy_rpc.messaging.drivers import registry
from legacy_rpc.messaging.notify import _impl_test
from legacy_rpc.messaging.notify.middleware import RequestNotifier


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([])
    return conf


def _url() -> str:
    return f"fake:///test-{uuid.uuid4().hex}"


# ------------------------------------------------------------ oslo.messaging.drivers


@pytest.fixture
def oslo_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An installed distribution declaring two drivers in oslo.messaging's group."""
    dist = tmp_path / "outoftree_driver-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: outoftree-driver\n"
                                   "Version: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[oslo.messaging.drivers]\n"
        "outoftree = legacy_rpc.messaging.drivers.impl_fake:FakeDriver\n"
        "oslofake = oslo_messaging._drivers.impl_fake:FakeDriver\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.clear_cache()
    yield
    registry.clear_cache()


@pytest.mark.usefixtures("oslo_entry_points")
def test_a_driver_declared_in_oslos_group_is_found(conf: cfg.ConfigOpts) -> None:
    transport = messaging.get_transport(conf, "outoftree:///x")
    try:
        assert type(transport._driver).__name__ == "FakeDriver"
    finally:
        transport.cleanup()
    assert "outoftree" in registry.available_drivers()
    # oslo.messaging's own drivers in that group are built on its internals: skipped
    assert "oslofake" not in registry.available_drivers()


# ------------------------------------------------------------ WSGI middleware


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _failing_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    raise RuntimeError("boom")


@pytest.fixture
def notifications(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """``cfg.CONF`` set to send with the ``test`` driver, and what it recorded."""
    from legacy_rpc.messaging.conffixture import ConfFixture

    with ConfFixture(cfg.CONF, transport_url=_url()):
        cfg.CONF.set_override("driver", ["test"], group="oslo_messaging_notifications")
        _impl_test.reset()
        yield _impl_test.NOTIFICATIONS
        _impl_test.reset()


def test_middleware_notifies_request_and_response(notifications: list[Any]) -> None:
    app = RequestNotifier(_app, publisher_id="api", service_name="svc")
    request = webob.Request.blank("/servers", environ={"REQUEST_METHOD": "GET",
                                                      "HTTP_X_AUTH_TOKEN": "secret"})
    response = request.get_response(app)
    assert response.status_int == 200
    (_, first, p1, _), (_, second, p2, _) = notifications
    assert p2 == "INFO"
    assert (first["event_type"], p1, first["publisher_id"]) == ("http.request", "INFO", "api")
    assert second["event_type"] == "http.response"
    for sent in (first, second):
        req = sent["payload"]["request"]
        assert req["PATH_INFO"] == "/servers"
        assert req["HTTP_X_SERVICE_NAME"] == "svc"
        assert "HTTP_X_AUTH_TOKEN" not in req
        assert not any(key.startswith("wsgi.") for key in req)
    assert second["payload"]["response"]["status"] == "200 OK"


def test_middleware_reports_an_exception_and_reraises_it(notifications: list[Any]) -> None:
    app = RequestNotifier(_failing_app, ignore_req_list="head, options")
    with pytest.raises(RuntimeError, match="boom"):
        webob.Request.blank("/x").get_response(app)
    (_, response, _, _) = notifications[-1]
    assert "RuntimeError('boom')" in response["payload"]["exception"]["value"]
    assert response["payload"]["exception"]["traceback"]
    assert "response" not in response["payload"]
    notifications.clear()
    webob.Request.blank("/x", environ={"REQUEST_METHOD": "OPTIONS"}).get_response(
        RequestNotifier(_app, ignore_req_list="head, options"))
    assert notifications == []


def test_middleware_factory_for_paste() -> None:
    make = RequestNotifier.factory({"publisher_id": "global"}, publisher_id="local",
                                   url=_url())
    assert make(_app).notifier.publisher_id == "local"


# ------------------------------------------------------------ timeutils overrides


def test_notification_timestamp_follows_timeutils_override(conf: cfg.ConfigOpts) -> None:
    frozen = datetime.datetime(2012, 3, 4, 5, 6, 7, 890)
    timeutils.set_time_override(frozen)
    try:
        transport = messaging.get_notification_transport(conf, _url())
        _impl_test.reset()
        messaging.Notifier(transport, "p", driver="test").info({}, "e", {})
        [(_, message, _, _)] = _impl_test.NOTIFICATIONS
        assert message["timestamp"] == "2012-03-04 05:06:07.000890"
    finally:
        timeutils.clear_time_override()
        _impl_test.reset()


# ------------------------------------------------------------ rpc_response_timeout = None


def test_rpc_response_timeout_none_waits_without_limit(conf: cfg.ConfigOpts) -> None:
    transport = messaging.get_rpc_transport(conf, _url())
    conf.set_override("rpc_response_timeout", None)
    release = threading.Event()

    class Slow:
        def wait(self, ctxt: dict[str, Any]) -> str:
            release.wait(10)
            return "done"

    server = messaging.get_rpc_server(transport, messaging.Target(topic="t", server="s"),
                                      [Slow()])
    server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic="t"))
        assert client._call_timeout() is None
        threading.Timer(0.3, release.set).start()
        assert client.call({}, "wait") == "done"
    finally:
        server.stop()
        server.wait()
        transport.cleanup()

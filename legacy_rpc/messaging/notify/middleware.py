"""``RequestNotifier``: WSGI middleware sending a notification per HTTP request and response.

As ``oslo_messaging.notify.middleware``: ``http.request`` before the application runs and
``http.response`` after it (with ``response`` status and headers, or with ``exception`` value
and traceback when the application raised, which is then re-raised), both at ``INFO`` with
an empty context. The payload's ``request`` is the WSGI environ's upper-case (CGI and
``HTTP_*``) keys, without ``HTTP_X_AUTH_TOKEN``. A notification that cannot be sent is
logged and never breaks the request.

Configuration (paste.deploy ``filter:`` section, or keyword arguments): ``url`` (transport
URL of the notifications; default: the ``cfg.CONF`` notification transport),
``publisher_id`` (default: the program name), ``service_name`` (sent as
``HTTP_X_SERVICE_NAME``; default: the request's host) and ``ignore_req_list``
(comma-separated HTTP methods not to notify).

Requires WebOb (as the WSGI frameworks of OpenStack services do).
"""

from __future__ import annotations

import functools
import logging
import os.path
import sys
import traceback as tb
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import webob  # type: ignore[import-untyped]
import webob.dec  # type: ignore[import-untyped]
from oslo_config import cfg

from legacy_rpc.messaging.notify.notifier import Notifier, get_notification_transport

__all__ = ["RequestNotifier"]

LOG = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _logged(method: F) -> F:
    """Log (with the traceback) and swallow any exception: notifying must not fail a request."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            LOG.exception("Could not send the notification of an API call: %s", exc)
            return None

    return wrapper  # type: ignore[return-value]


class RequestNotifier:
    """Notifies ``http.request`` and ``http.response`` around a WSGI application."""

    @classmethod
    def factory(cls, global_conf: dict[str, Any], **local_conf: Any
                ) -> Callable[[WSGIApp], RequestNotifier]:
        """paste.deploy filter factory: ``local_conf`` overrides ``global_conf``."""
        conf = {**global_conf, **local_conf}

        def make(app: WSGIApp) -> RequestNotifier:
            return cls(app, **conf)

        return make

    def __init__(self, app: WSGIApp, **conf: Any) -> None:
        self.application = app
        transport = get_notification_transport(cfg.CONF, conf.get("url"))
        self.notifier = Notifier(
            transport, publisher_id=conf.get("publisher_id", os.path.basename(sys.argv[0])))
        self.service_name: str | None = conf.get("service_name")
        self.ignore_req_list = [method.strip().upper()
                                for method in str(conf.get("ignore_req_list", "")).split(",")]

    @staticmethod
    def environ_to_dict(environ: dict[str, Any]) -> dict[str, Any]:
        """The CGI/``HTTP_*`` keys of a WSGI environ (PEP 3333 server keys are lower case),
        without the caller's token."""
        return {key: value for key, value in environ.items()
                if key.isupper() and key != "HTTP_X_AUTH_TOKEN"}

    @_logged
    def process_request(self, request: webob.Request) -> None:
        """Send ``http.request``."""
        request.environ["HTTP_X_SERVICE_NAME"] = self.service_name or request.host
        self.notifier.info({}, "http.request",
                           {"request": self.environ_to_dict(request.environ)})

    @_logged
    def process_response(self, request: webob.Request, response: webob.Response | None,
                         exception: BaseException | None = None,
                         traceback: Any = None) -> None:
        """Send ``http.response``."""
        payload: dict[str, Any] = {"request": self.environ_to_dict(request.environ)}
        if response is not None:
            payload["response"] = {"status": response.status, "headers": response.headers}
        if exception is not None:
            payload["exception"] = {"value": repr(exception),
                                    "traceback": tb.format_tb(traceback)}
        self.notifier.info({}, "http.response", payload)

    @webob.dec.wsgify  # type: ignore[untyped-decorator]
    def __call__(self, request: webob.Request) -> webob.Response:
        if request.method in self.ignore_req_list:
            return request.get_response(self.application)
        self.process_request(request)
        try:
            response = request.get_response(self.application)
        except Exception:
            _, value, trace = sys.exc_info()
            self.process_response(request, None, value, trace)
            raise
        self.process_response(request, response)
        return response

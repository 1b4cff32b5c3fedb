"""TLS for amqp1: the broker's certificate and host name are verified by default.

A TLS-terminating proxy with a throwaway CA (from the rabbit TLS tests) sits in front of
the shared broker, whose AMQP 1.0 side answers behind it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from tests.resilience.test_rabbit_tls import TlsProxy, certs  # noqa: F401 - a fixture

pytest.importorskip("proton", reason="python-qpid-proton (legacy-rpc[amqp1]) is missing")

pytestmark = pytest.mark.broker


@pytest.fixture
def tls_proxy(certs: Path, amqp1_url: str) -> Iterator[TlsProxy]:  # noqa: F811
    parts = urlsplit(amqp1_url)
    proxy = TlsProxy(certs, (parts.hostname or "127.0.0.1", parts.port or 5672))
    yield proxy
    proxy.close()


def _url(proxy: TlsProxy, amqp1_url: str, host: str, **query: Any) -> str:
    parts = urlsplit(amqp1_url)
    suffix = "&".join(f"{key}={value}" for key, value in query.items())
    return (f"amqp1://{parts.username}:{parts.password}@{host}:{proxy.port}{parts.path}"
            f"?ssl=true&{suffix}")


def _round_trip(url: str) -> Any:
    conf = cfg.ConfigOpts()
    conf([])
    transport = messaging.get_rpc_transport(conf, url)

    class Echo:
        def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
            return value

    server = messaging.get_rpc_server(transport, messaging.Target(topic="tls", server="s"),
                                      [Echo()])
    server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic="tls"),
                                          timeout=5, retry=0)
        return client.call({}, "echo", value="over tls")
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def test_verified_certificate_and_host_name(tls_proxy: TlsProxy, certs: Path,  # noqa: F811
                                            amqp1_url: str) -> None:
    url = _url(tls_proxy, amqp1_url, "localhost", ssl_ca_file=certs / "ca.pem")
    assert _round_trip(url) == "over tls"


def test_host_name_mismatch_is_refused_by_default(tls_proxy: TlsProxy,
                                                  certs: Path,  # noqa: F811
                                                  amqp1_url: str) -> None:
    # The certificate names localhost, not 127.0.0.1.
    url = _url(tls_proxy, amqp1_url, "127.0.0.1", ssl_ca_file=certs / "ca.pem")
    with pytest.raises((messaging.MessagingTimeout, messaging.MessageDeliveryFailure)):
        _round_trip(url)


def test_unknown_ca_is_refused(tls_proxy: TlsProxy, amqp1_url: str) -> None:
    with pytest.raises((messaging.MessagingTimeout, messaging.MessageDeliveryFailure)):
        _round_trip(_url(tls_proxy, amqp1_url, "localhost"))


def test_host_name_check_can_be_turned_off(tls_proxy: TlsProxy, certs: Path,  # noqa: F811
                                           amqp1_url: str) -> None:
    url = _url(tls_proxy, amqp1_url, "127.0.0.1", ssl_ca_file=certs / "ca.pem",
               ssl_verify_hostname="false")
    assert _round_trip(url) == "over tls"

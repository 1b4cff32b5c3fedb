"""TLS to RabbitMQ: the broker's certificate and host name are verified by default.

The test puts a TLS-terminating proxy with a throwaway CA in front of the real broker, so
the driver's TLS client (CA file, host-name check, opt-out) is exercised end to end without
reconfiguring the shared RabbitMQ.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from oslo_config import cfg

import legacy_rpc.messaging as messaging
from tests.conftest import brokers_required

pytestmark = pytest.mark.broker


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        if brokers_required():
            pytest.fail("openssl is needed to make test certificates", pytrace=False)
        pytest.skip("openssl is not available")
    path = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
             "/CN=legacy-rpc test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=path)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "server.key", "-out", "server.csr", cwd=path)
    (path / "san.cnf").write_text("subjectAltName=DNS:localhost\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "1", "-extfile", "san.cnf", "-out", "server.pem",
             cwd=path)
    return path


class TlsProxy:
    """Accepts TLS on a local port and relays the plain bytes to the broker."""

    def __init__(self, certs: Path, upstream: tuple[str, int]) -> None:
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(certs / "server.pem", certs / "server.key")
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closing = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            tls = self._context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            client.close()  # the client refused our certificate: that is the point
            return
        upstream = socket.create_connection(self._upstream)
        self._sockets += [tls, upstream]
        threading.Thread(target=self._pump, args=(upstream, tls), daemon=True).start()
        self._pump(tls, upstream)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self._closing = True
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture
def proxy(certs: Path, rabbit_url: str) -> Iterator[TlsProxy]:
    parts = urlsplit(rabbit_url)
    tls = TlsProxy(certs, (parts.hostname or "127.0.0.1", parts.port or 5672))
    yield tls
    tls.close()


def _round_trip(url: str, **query: Any) -> Any:
    conf = cfg.ConfigOpts()
    conf([])
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    transport = messaging.get_rpc_transport(conf, f"{url}?{suffix}")

    class Echo:
        def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
            return value

    server = messaging.get_rpc_server(transport, messaging.Target(topic="tls", server="s"),
                                      [Echo()])
    started = False
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic="tls"),
                                          timeout=10, retry=0)
        # Connects first, failing fast on TLS errors (a fanout cast, since a cast to a topic
        # with no queue yet would wait for one: rabbit_unroutable_retry_timeout).
        client.prepare(fanout=True).cast({}, "echo", value="probe")
        server.start()
        started = True
        return client.call({}, "echo", value="over tls")
    finally:
        if started:
            server.stop()
            server.wait()
        transport.cleanup()


def _url(proxy: TlsProxy, rabbit_url: str, host: str) -> str:
    parts = urlsplit(rabbit_url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return f"rabbit://{credentials}{host}:{proxy.port}{parts.path or '/'}"


def test_tls_with_ca_file_and_matching_host_name(proxy: TlsProxy, certs: Path,
                                                 rabbit_url: str) -> None:
    assert _round_trip(_url(proxy, rabbit_url, "localhost"), ssl="true",
                       ssl_ca_file=certs / "ca.pem") == "over tls"


def test_tls_refuses_a_certificate_for_another_host(proxy: TlsProxy, certs: Path,
                                                    rabbit_url: str) -> None:
    with pytest.raises(messaging.MessageDeliveryFailure, match=r"(?i)certificate|hostname"):
        _round_trip(_url(proxy, rabbit_url, "127.0.0.1"), ssl="true",
                    ssl_ca_file=certs / "ca.pem")


def test_tls_refuses_an_unknown_ca(proxy: TlsProxy, rabbit_url: str) -> None:
    with pytest.raises(messaging.MessageDeliveryFailure, match=r"(?i)certificate"):
        _round_trip(_url(proxy, rabbit_url, "localhost"), ssl="true")


def test_tls_host_name_check_can_be_turned_off(proxy: TlsProxy, certs: Path,
                                               rabbit_url: str) -> None:
    assert _round_trip(_url(proxy, rabbit_url, "127.0.0.1"), ssl="true",
                       ssl_ca_file=certs / "ca.pem",
                       ssl_enforce_hostname_verification="false") == "over tls"

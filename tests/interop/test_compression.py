"""Compressed bodies (``kombu_compression``) between oslo.messaging 18.3.1 and legacy_rpc.

Each side compresses what it sends (requests, replies) with its own setting, and must read
what the other side compressed, whatever the algorithm: zlib data labelled
``application/x-gzip``, or ``application/x-bz2``. A raw consumer bound next to the servers'
queues proves the requests really travel compressed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import legacy_rpc.messaging as messaging
from tests.interop.conftest import Janitor, OsloPeer, RawCapture, StartPeer, legacy_conf, with_query

pytestmark = pytest.mark.interop

CTXT = {"user": "u1", "project_id": "p1"}
# kombu's names: 'bz2' (the name in oslo.messaging's option help) is unknown to kombu 5.x,
# so an oslo.messaging service that compresses with bz2 is configured with 'bzip2'.
OSLO_GZIP, OSLO_BZ2 = "kombu_compression=gzip", "kombu_compression=bzip2"


@pytest.fixture(scope="module")
def names(run_id: str, janitor: Janitor) -> dict[str, str]:
    found = {"exchange": f"interop-{run_id}-x-zip", "ours": f"interop-{run_id}-zip-ours",
             "oslo": f"interop-{run_id}-zip-oslo"}
    janitor.exchanges.update([found["exchange"], f"{found['ours']}_fanout",
                              f"{found['oslo']}_fanout"])
    janitor.queues.update([found["ours"], f"{found['ours']}.ours1", found["oslo"],
                           f"{found['oslo']}.z1"])
    return found


@pytest.fixture(scope="module")
def oslo_client(start_peer: StartPeer, names: dict[str, str]) -> OsloPeer:
    return start_peer("client", exchange=names["exchange"], topic=names["ours"],
                      label="oslo-client-bzip2", query=OSLO_BZ2)


@pytest.fixture(scope="module")
def oslo_server(start_peer: StartPeer, names: dict[str, str]) -> OsloPeer:
    return start_peer("server", exchange=names["exchange"], topic=names["oslo"],
                      servers=["z1"], label="oslo-server-gzip", query=OSLO_GZIP)


class Echo:
    def echo(self, ctxt: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {"args": kwargs, "ctxt": ctxt, "server": "ours1"}


@pytest.fixture(scope="module")
def legacy_server(rabbit_url: str, names: dict[str, str], oslo_client: OsloPeer,
                  oslo_server: OsloPeer) -> Iterator[None]:
    # our replies are gzip-compressed
    transport = messaging.get_rpc_transport(legacy_conf(names["exchange"]),
                                            with_query(rabbit_url, "kombu_compression=gzip"))
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic=names["ours"], server="ours1",
                                    exchange=names["exchange"]), [Echo()],
        executor="threading")
    server.start()
    try:
        yield
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


@pytest.fixture(scope="module")
def capture(rabbit_url: str) -> Iterator[RawCapture]:
    raw = RawCapture(rabbit_url)
    yield raw
    raw.close()


def _compression(message: Any) -> Any:
    return (message.properties.get("application_headers") or {}).get("compression")


def _payload() -> dict[str, Any]:
    # long and repetitive, so it is obvious the body was compressed and decompressed whole
    return {"text": "compressible " * 200, "items": list(range(100)), "u": "é✓"}


def test_bzip2_request_from_oslo_and_our_gzip_reply(
        legacy_server: None, oslo_client: OsloPeer, capture: RawCapture,
        names: dict[str, str]) -> None:
    copy = capture.bind(names["exchange"], names["ours"])
    oslo_client.wait_ready()
    payload = _payload()
    result = oslo_client.ok("call", method="echo", args=payload, ctxt=CTXT)
    assert result["args"] == payload  # we read bz2, and oslo read our gzip reply
    assert result["ctxt"] == CTXT
    [request] = capture.wait(copy)
    assert _compression(request) == "application/x-bz2"


def _call_oslo(rabbit_url: str, names: dict[str, str], query: str) -> tuple[Any, Any]:
    transport = messaging.get_rpc_transport(legacy_conf(names["exchange"]),
                                            with_query(rabbit_url, query))
    try:
        client = messaging.get_rpc_client(
            transport, messaging.Target(topic=names["oslo"], exchange=names["exchange"]),
            timeout=20)
        payload = _payload()
        return payload, client.call(CTXT, "echo", **payload)
    finally:
        transport.cleanup()


@pytest.mark.parametrize("query,header", [("kombu_compression=bz2", "application/x-bz2"),
                                          ("kombu_compression=gzip", "application/x-gzip")])
def test_our_compressed_request_and_the_oslo_gzip_reply(
        rabbit_url: str, oslo_server: OsloPeer, capture: RawCapture, names: dict[str, str],
        query: str, header: str) -> None:
    oslo_server.wait_ready()
    copy = capture.bind(names["exchange"], names["oslo"])
    payload, result = _call_oslo(rabbit_url, names, query)
    assert result["args"] == payload  # oslo read our request, we read its gzip reply
    assert result["server"] == "z1"
    [request] = capture.wait(copy)
    assert _compression(request) == header


def test_oslo_spelling_of_bz2_is_accepted(rabbit_url: str, oslo_server: OsloPeer,
                                          names: dict[str, str]) -> None:
    """The same [oslo_messaging_rabbit] settings must work for both libraries: an
    oslo.messaging 18.3.1 service compresses with bz2 only as 'bzip2' (kombu's name)."""
    oslo_server.wait_ready()
    payload, result = _call_oslo(rabbit_url, names, OSLO_BZ2)
    assert result["args"] == payload

"""``TransportURL`` parsing (spec 1.4, verified examples), rendering and password masking."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc.messaging._transport_url import (
    InvalidTransportURL,
    TransportHost,
    TransportURL,
)
from legacy_rpc.messaging.exceptions import MessagingException

H = TransportHost


def parse(url: object) -> TransportURL:
    return TransportURL.parse(cfg.ConfigOpts(), url)


# ------------------------------------------------------------ spec 1.4 verified examples

@pytest.mark.parametrize(
    ("url", "transport", "virtual_host", "hosts", "query"),
    [
        ("rabbit://", "rabbit", None, [], {}),
        ("rabbit:///", "rabbit", "", [], {}),
        ("rabbit://rabbitmq:password@127.0.0.1:5672//", "rabbit", "/",
         [H("127.0.0.1", 5672, "rabbitmq", "password")], {}),
        ("rabbit://u:p@h1:5672,u2:p2@h2:5673/vh?ssl=1&heartbeat_timeout_threshold=10",
         "rabbit", "vh", [H("h1", 5672, "u", "p"), H("h2", 5673, "u2", "p2")],
         {"ssl": "1", "heartbeat_timeout_threshold": "10"}),
        ("rabbit://u%40x:p%3Aw@[::1]:5672/%2Fvh", "rabbit", "/vh",
         [H("::1", 5672, "u@x", "p:w")], {}),
        ("rabbit://h1,h2/", "rabbit", "", [H("h1"), H("h2")], {}),
    ],
)
def test_verified_examples(url: str, transport: str, virtual_host: str | None,
                           hosts: list[TransportHost], query: dict[str, str]) -> None:
    parsed = parse(url)
    assert parsed.transport == transport
    assert parsed.virtual_host == virtual_host
    assert parsed.hosts == hosts
    assert parsed.query == query


# ------------------------------------------------------------ more parsing rules

@pytest.mark.parametrize(
    ("url", "virtual_host"),
    [("rabbit://h", None), ("rabbit://h/", ""), ("rabbit://h//", "/"),
     ("rabbit://h/%2Fvh", "/vh"), ("rabbit://h/a%20b", "a b"), ("rabbit://h/vh?x=1", "vh")],
)
def test_virtual_host_rules(url: str, virtual_host: str | None) -> None:
    assert parse(url).virtual_host == virtual_host


def test_repeated_query_keys_are_joined() -> None:
    assert parse("rabbit://h/?a=1&a=2&b=3").query == {"a": "1,2", "b": "3"}


def test_blank_query_values_are_dropped_like_parse_qs() -> None:
    assert parse("rabbit://h/?a=&b=1").query == {"b": "1"}


@pytest.mark.parametrize(
    ("url", "transport", "virtual_host", "hosts"),
    [
        ("nova.openstack.common.rpc.impl_kombu://host/",
         "nova.openstack.common.rpc.impl_kombu", "", [H("host")]),
        ("kombu+memory:////", "kombu+memory", "/", []),
        ("fake:/", "fake", "", []),
        ("fake:///", "fake", "", []),
        ("fake://", "fake", None, []),
        ("fake:", "fake", None, []),
        ("RABBIT://h/", "rabbit", "", [H("h")]),
        ("  rabbit://h/\n", "rabbit", "", [H("h")]),
    ],
)
def test_scheme_forms(url: str, transport: str, virtual_host: str | None,
                      hosts: list[TransportHost]) -> None:
    parsed = parse(url)
    assert (parsed.transport, parsed.virtual_host, parsed.hosts) == (
        transport, virtual_host, hosts)


@pytest.mark.parametrize(
    ("netloc", "host"),
    [
        ("h", H("h")),
        ("h:5672", H("h", 5672)),
        ("h:", H("h")),
        ("[::1]", H("::1")),
        ("[::1]:5673", H("::1", 5673)),
        ("::1", H("::1")),
        ("fe80::1:2", H("fe80::1:2")),
        ("u@h", H("h", None, "u", None)),
        ("u:@h", H("h", None, "u", "")),
        (":p@h", H("h", None, "", "p")),
        ("u:p@ss@h:1", H("h", 1, "u", "p@ss")),
        ("u:p:w@h", H("h", None, "u", "p:w")),
        ("u%2Cv:p%2Fw@h", H("h", None, "u,v", "p/w")),
        ("u:p@", H(None, None, "u", "p")),
        ("u:p@:5672", H(None, 5672, "u", "p")),
    ],
)
def test_host_elements(netloc: str, host: TransportHost) -> None:
    assert parse(f"rabbit://{netloc}/").hosts == [host]


def test_empty_host_elements_are_skipped() -> None:
    assert parse("rabbit://,h1,,h2,/").hosts == [H("h1"), H("h2")]


def test_mixed_credentials_only_warn(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        parsed = parse("rabbit://u:topsecret@h1,h2/")
    assert len(parsed.hosts) == 2
    assert "credentials for some hosts only" in caplog.text
    assert "topsecret" not in caplog.text


# ------------------------------------------------------------ default from conf

def test_default_when_option_not_registered() -> None:
    parsed = TransportURL.parse(cfg.ConfigOpts())
    assert (parsed.transport, parsed.virtual_host, parsed.hosts) == ("rabbit", None, [])


@pytest.mark.parametrize("url", [None, ""])
def test_falsy_url_uses_conf(url: str | None) -> None:
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("transport_url", secret=True))
    conf([])
    conf.set_override("transport_url", "fake://u:p@h:1/vh")
    parsed = TransportURL.parse(conf, url)
    assert parsed == TransportURL(conf, "fake", "vh", [H("h", 1, "u", "p")])
    assert parsed.conf is conf


def test_conf_transport_url_none_means_default() -> None:
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("transport_url"))
    conf([])
    assert TransportURL.parse(conf).transport == "rabbit"


def test_conf_may_be_any_object() -> None:
    class Conf:
        transport_url = "fake:///"

    assert TransportURL.parse(Conf()).transport == "fake"
    assert TransportURL.parse(object()).transport == "rabbit"


# ------------------------------------------------------------ bad input

@pytest.mark.parametrize("url", [b"rabbit://u:p@h/", 42, ["rabbit://"], cfg])
def test_wrong_url_type(url: object) -> None:
    with pytest.raises(InvalidTransportURL) as info:
        parse(url)
    assert info.value.url is url
    assert "Wrong URL type" in str(info.value)
    assert isinstance(info.value, MessagingException)


@pytest.mark.parametrize(
    "url", ["//h/", "/path", "host", ":x", "1abc://h/", "ra bbit://h/", "[::1]:5672"])
def test_no_scheme(url: str) -> None:
    with pytest.raises(InvalidTransportURL, match="No scheme specified"):
        parse(url)


@pytest.mark.parametrize(
    "url", ["rabbit://h:abc/", "rabbit://h:-1/", "rabbit://h:70000/", "rabbit://[::1]:x/",
            "rabbit://h:٣/"])
def test_bad_port(url: str) -> None:
    with pytest.raises(InvalidTransportURL, match="Invalid port"):
        parse(url)


@pytest.mark.parametrize("url", ["rabbit://[::1/", "rabbit://[::1]x/"])
def test_bad_ipv6(url: str) -> None:
    with pytest.raises(InvalidTransportURL, match="IPv6"):
        parse(url)


# ------------------------------------------------------------ rendering and round trips

@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("rabbit://", "rabbit:///"),
        ("rabbit:///", "rabbit:///"),
        ("rabbit://rabbitmq:password@127.0.0.1:5672//",
         "rabbit://rabbitmq:password@127.0.0.1:5672//"),
        ("rabbit://u:p@h1:5672,u2:p2@h2:5673/vh?ssl=1&heartbeat_timeout_threshold=10",
         "rabbit://u:p@h1:5672,u2:p2@h2:5673/vh?ssl=1&heartbeat_timeout_threshold=10"),
        ("rabbit://u%40x:p%3Aw@[::1]:5672/%2Fvh", "rabbit://u%40x:p%3Aw@[::1]:5672//vh"),
        ("rabbit://h1,h2/", "rabbit://h1,h2/"),
        ("rabbit://h?a=1&a=2", "rabbit://h/?a=1%2C2"),
        ("rabbit://:p@h/", "rabbit://:p@h/"),
        ("rabbit://u@h/", "rabbit://u@h/"),
        ("fake:/", "fake:///"),
        ("rabbit://h/a%20b", "rabbit://h/a%20b"),
    ],
)
def test_str(url: str, text: str) -> None:
    assert parse(url).as_uri(include_password=True) == text


@pytest.mark.parametrize(
    "url",
    [
        "rabbit:///",
        "rabbit://rabbitmq:password@127.0.0.1:5672//",
        "rabbit://u:p@h1:5672,u2:p2@h2:5673/vh?ssl=1&heartbeat_timeout_threshold=10",
        "rabbit://u%40x:p%3Aw@[::1]:5672/%2Fvh",
        "rabbit://h1,h2/",
        "rabbit://u:p%2F%3F%23%25@h/",
        "kombu+memory:////",
        "rabbit://h/?a=1&a=2",
    ],
)
def test_round_trip(url: str) -> None:
    parsed = parse(url)
    again = parse(parsed.as_uri(include_password=True))
    assert again == parsed
    assert again.query == parsed.query
    assert again.as_uri(include_password=True) == parsed.as_uri(include_password=True)


def test_str_of_built_url() -> None:
    url = TransportURL(None, "rabbit", "/vh", [H("::1", 5672, "a:b", "c@d"), H("h2")],
                       {"ssl": "1"})
    assert url.as_uri(include_password=True) == "rabbit://a%3Ab:c%40d@[::1]:5672,h2//vh?ssl=1"
    assert parse(url.as_uri(include_password=True)) == url


# ------------------------------------------------------------ equality and hashing

def test_transport_host_value_semantics() -> None:
    assert H("h", 1, "u", "p") == H("h", 1, "u", "p")
    assert H("h", 1, "u", "p") != H("h", 1, "u", "q")
    assert H("h") != "h"
    assert len({H("h", 1), H("h", 1), H("h", 2)}) == 2


def test_transport_url_equality_ignores_query() -> None:
    a = parse("rabbit://u:p@h:1/vh?ssl=1")
    b = parse("rabbit://u:p@h:1/vh")
    assert a == b and hash(a) == hash(b)
    assert a != parse("rabbit://u:p@h:1/other")
    assert a != parse("kombu://u:p@h:1/vh")
    assert a != parse("rabbit://u:q@h:1/vh")
    assert a != "rabbit://u:p@h:1/vh"
    assert len({a, b}) == 1


def test_constructor_defaults() -> None:
    url = TransportURL(None)
    assert (url.transport, url.virtual_host, url.hosts, url.query) == (None, None, [], {})


def test_constructor_copies_hosts_and_query() -> None:
    hosts = [H("h")]
    query = {"a": "1"}
    url = TransportURL(None, "fake", hosts=hosts, query=query)
    hosts.append(H("x"))
    query["b"] = "2"
    assert url.hosts == [H("h")] and url.query == {"a": "1"}


# ------------------------------------------------------------ masking

SECRET = "s3cr3t-pw"


def test_transport_host_repr_masks_password() -> None:
    host = H("h", 5672, "u", SECRET)
    assert repr(host) == "<TransportHost hostname=h, port=5672, username=u, password=****>"
    assert SECRET not in str(host)
    assert repr(H("h")) == (
        "<TransportHost hostname=h, port=None, username=None, password=None>")


def test_repr_and_masked_hide_passwords() -> None:
    url = parse(f"rabbit://u:{SECRET}@h1:5672,u2:{SECRET}2@[::1]:5673/vh?ssl=1")
    expected = "rabbit://u:****@h1:5672,u2:****@[::1]:5673/vh?ssl=1"
    assert url.masked() == expected
    assert repr(url) == expected
    assert SECRET in url.as_uri(include_password=True)  # drivers need the real password
    assert str(url) == expected and url.as_uri() == expected
    for text in (str(url), f"{url}", "%s" % url, repr(url), repr(url.hosts),  # noqa: UP031
                 repr([url]), f"{url!r}", "%r" % url):  # noqa: UP031
        assert SECRET not in text


def test_log_calls_with_repr_do_not_leak(caplog: pytest.LogCaptureFixture) -> None:
    url = parse(f"rabbit://u:{SECRET}@h/")
    logger = logging.getLogger("test_transport_url")
    with caplog.at_level(logging.INFO, logger="test_transport_url"):
        logger.info("connecting to %r with hosts %s", url, url.hosts)
    assert SECRET not in caplog.text
    assert "u:****@h" in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        f"rabbit://u:{SECRET}@h:bad/",
        f"rabbit://u:{SECRET}@h,u:{SECRET}@[::1/",
        f"rabbit://u:ab/{SECRET}@h/",
        f"rabbit://u:{SECRET}/x@h:5672/",
        f"//u:{SECRET}@h/",
        f"_u:{SECRET}@h/",
        f"rabbit://u:{SECRET}@h:99999/",
    ],
)
def test_exceptions_mask_passwords(url: str) -> None:
    with pytest.raises(InvalidTransportURL) as info:
        parse(url)
    exc = info.value
    assert exc.url == url
    for text in (str(exc), repr(exc), *map(str, exc.args)):
        assert SECRET not in text
        assert "****" in text
    assert exc.__cause__ is None and exc.__context__ is None


def test_invalid_transport_url_with_non_string_masks_too() -> None:
    exc = InvalidTransportURL(f"rabbit://u:{SECRET}@h/".encode(), "Wrong URL type")
    assert SECRET not in str(exc)
    built = TransportURL(None, "rabbit", hosts=[H("h", None, "u", SECRET)])
    exc = InvalidTransportURL(built, "whatever")
    assert SECRET not in str(exc) and "u:****@h" in str(exc)
    assert exc.msg == "whatever" and exc.url is built


def test_invalid_transport_url_message_shape() -> None:
    exc = InvalidTransportURL("foo", "No scheme specified")
    assert str(exc) == "Invalid transport URL 'foo': No scheme specified"


def test_url_attribute_types() -> None:
    parsed: Any = parse("rabbit://h:1/")
    assert isinstance(parsed.hosts[0].port, int)

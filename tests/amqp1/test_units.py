"""Pure logic of the amqp1 driver: options from a URL query, addresses, error classes."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oslo_config import cfg

from legacy_rpc.messaging.drivers.amqp1._addresses import RabbitMQ3Scheme
from legacy_rpc.messaging.drivers.amqp1._errors import ErrorKind, classify, describe
from legacy_rpc.messaging.drivers.amqp1._opts import load_options
from legacy_rpc.messaging.drivers.base import Subscription
from legacy_rpc.messaging.target import Target


def _conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([])
    return conf


def test_query_overrides_options_and_kombu_spellings_are_accepted() -> None:
    opts = load_options(_conf(), {"ssl": "1", "ssl_ca_certs": "/ca.pem", "idle_timeout": "5",
                                  "sasl_mechanisms": "PLAIN"})
    assert (opts.ssl, opts.ssl_ca_file, opts.idle_timeout) == (True, "/ca.pem", 5)
    assert opts.ssl_verify_hostname  # on by default


def test_unknown_query_key_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown transport URL option.*sasl_mechanisms"):
        load_options(_conf(), {"sasl_mechanism": "PLAIN"})


def test_a_bad_secret_value_is_not_echoed() -> None:
    opts = load_options(_conf(), {"ssl_key_password": "hunter2"})
    assert "hunter2" not in repr(opts)
    with pytest.raises(ValueError) as info:
        load_options(_conf(), {"idle_timeout": "hunter2x"})
    assert "idle_timeout" in str(info.value)


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=5))
def test_any_query_loads_or_fails_with_value_error(query: dict[str, str]) -> None:
    """Hostile queries: a clear ValueError or options, never another exception."""
    with contextlib.suppress(ValueError):
        load_options(_conf(), query)


names = st.text(st.characters(blacklist_characters="/", blacklist_categories=["Cs"]),
                min_size=1, max_size=40)


@given(names, names)
def test_addresses_of_a_topic(topic: str, server: str) -> None:
    scheme = RabbitMQ3Scheme("openstack")
    assert scheme.request(Target(topic=topic)) == f"/queue/{topic}"
    assert scheme.request(Target(topic=topic, exchange="openstack")) == f"/queue/{topic}"
    assert scheme.request(Target(topic=topic, server=server)) == f"/queue/{topic}.{server}"
    assert scheme.request(Target(topic=topic, exchange="nova")) == f"/queue/nova.{topic}"
    assert scheme.subscription(Subscription(topic)) == scheme.request(Target(topic=topic))
    fanout = scheme.request(Target(topic=topic, fanout=True))
    assert fanout == scheme.subscription(Subscription(topic, fanout=True))
    assert fanout.startswith("/topic/")


@given(st.text(max_size=10), st.text(max_size=10))
def test_a_slash_or_empty_name_is_refused(prefix: str, suffix: str) -> None:
    scheme = RabbitMQ3Scheme("openstack")
    with pytest.raises(ValueError, match=r"AMQP 1\.0 address"):
        scheme.request(Target(topic=f"{prefix}/{suffix}"))
    with pytest.raises(ValueError):
        scheme.reply_target(f"{prefix}/{suffix}", None)


def test_replies_and_pools() -> None:
    scheme = RabbitMQ3Scheme("openstack")
    assert scheme.reply_target("reply_1", "m") == "/amq/queue/reply_1"
    assert scheme.reply_target(None, "m1") == "/exchange/m1/m1"  # pre-Grizzly caller
    assert scheme.reply_source("reply_1") == "/queue/reply_1"
    with pytest.raises(NotImplementedError, match="binding"):
        scheme.subscription(Subscription("t", queue="pool"))
    with pytest.raises(NotImplementedError):
        scheme.subscription(Subscription("t", fanout=True, queue="named"))


@pytest.mark.parametrize(("name", "kind"), [
    ("amqp:unauthorized-access", ErrorKind.FATAL), ("amqp:not-found", ErrorKind.FATAL),
    ("amqp:link:detach-forced", ErrorKind.LINK),
    ("amqp:connection:forced", ErrorKind.CONNECTION),
    ("amqp:internal-error", ErrorKind.CONNECTION), (None, ErrorKind.CONNECTION),
    ("made:up", ErrorKind.CONNECTION)])
def test_conditions_are_classified_by_name(name: str | None, kind: ErrorKind) -> None:
    assert classify(name) is kind


def test_describe_masks_urls() -> None:
    class Condition:
        name = "amqp:unauthorized-access"
        description = "amqp://u:hunter2@h denied"

    assert "hunter2" not in describe(Condition())
    assert describe(None) == "no error condition given"

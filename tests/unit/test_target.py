"""``Target`` (oslo_messaging_api.md 1.2)."""

from __future__ import annotations

import pytest

from legacy_rpc.messaging import Target

FIELDS = ("exchange", "topic", "namespace", "version", "server", "fanout")


def test_defaults_are_none() -> None:
    t = Target()
    for name in FIELDS:
        assert getattr(t, name) is None
    assert t.accepted_namespaces == [None]


def test_fields_are_stored() -> None:
    t = Target(exchange="x", topic="t", namespace="ns", version="1.2", server="s", fanout=True)
    assert (t.exchange, t.topic, t.namespace, t.version, t.server, t.fanout) == (
        "x", "t", "ns", "1.2", "s", True)


def test_accepted_namespaces() -> None:
    assert Target(namespace="ns").accepted_namespaces == ["ns"]
    assert Target(namespace="new", legacy_namespaces=["old", "older"]).accepted_namespaces == [
        "new", "old", "older"]
    assert Target(legacy_namespaces=["old"]).accepted_namespaces == [None, "old"]


def test_call_copies_fields_and_replaces_the_given_ones() -> None:
    t = Target(exchange="x", topic="t", namespace="ns", version="1.2", server="s", fanout=False)
    copy = t(server="s2", version="1.3")
    assert copy is not t
    assert (copy.exchange, copy.topic, copy.namespace, copy.version, copy.server, copy.fanout) == (
        "x", "t", "ns", "1.3", "s2", False)
    # the original is untouched
    assert (t.version, t.server) == ("1.2", "s")


def test_call_without_arguments_is_an_equal_copy() -> None:
    t = Target(exchange="x", topic="t", namespace="ns", version="1.2", server="s", fanout=True)
    copy = t()
    assert copy is not t
    assert copy == t


def test_call_with_explicit_none_clears_a_field() -> None:
    t = Target(topic="t", server="s", version="1.2")
    copy = t(server=None, version=None)
    assert copy.server is None
    assert copy.version is None
    assert copy.topic == "t"


def test_call_does_not_copy_legacy_namespaces() -> None:
    t = Target(namespace="new", legacy_namespaces=["old"])
    copy = t(topic="t")
    assert copy.accepted_namespaces == ["new"]
    assert copy != t
    # a changed namespace gives accepted_namespaces of the new namespace only
    assert t(namespace="other").accepted_namespaces == ["other"]


def test_call_with_unknown_field_raises_type_error() -> None:
    with pytest.raises(TypeError):
        Target()(topics="t")
    with pytest.raises(TypeError):
        Target()(legacy_namespaces=["x"])


def test_eq_compares_all_fields() -> None:
    assert Target(topic="t", server="s") == Target(topic="t", server="s")
    assert Target(topic="t") != Target(topic="t", server="s")
    assert Target(topic="t", fanout=True) != Target(topic="t", fanout=False)
    assert not Target(topic="t") == Target(topic="u")  # noqa: SIM201 - exercise __eq__


def test_eq_includes_accepted_namespaces() -> None:
    assert Target(namespace="a", legacy_namespaces=["b"]) != Target(namespace="a")
    assert Target(namespace="a", legacy_namespaces=["b"]) == Target(namespace="a",
                                                                    legacy_namespaces=["b"])


def test_not_equal_to_other_types() -> None:
    assert Target() != object()
    assert Target(topic="t") != {"topic": "t"}
    assert Target() != None  # noqa: E711 - exercise __ne__ with None


def test_hash_is_identity() -> None:
    a = Target(topic="t")
    b = Target(topic="t")
    assert a == b
    assert hash(a) == id(a)
    assert hash(b) == id(b)
    assert len({a, b}) == 2  # equal targets are distinct dict keys, as in oslo.messaging


def test_repr_shows_only_truthy_fields_in_order() -> None:
    t = Target(exchange="x", topic="t", namespace="ns", version="1.2", server="s", fanout=True)
    assert repr(t) == "<Target exchange=x, topic=t, namespace=ns, version=1.2, server=s, fanout=True>"
    assert repr(Target(topic="t", server="s")) == "<Target topic=t, server=s>"
    assert repr(Target(topic="t", fanout=False, namespace="")) == "<Target topic=t>"
    assert repr(Target()) == "<Target >"


def test_repr_does_not_show_legacy_namespaces() -> None:
    assert repr(Target(topic="t", legacy_namespaces=["old"])) == "<Target topic=t>"

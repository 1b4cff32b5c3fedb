"""Secret masking: ``mask_url`` on free text and ``sanitize``/``safe_log`` on message data."""

from __future__ import annotations

import collections
import copy
from typing import Any

import pytest

from legacy_rpc.messaging._mask import MASK, SANITIZED, mask_url, safe_log, sanitize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rabbit://u:p@h:5672/", "rabbit://u:****@h:5672/"),
        ("rabbit://u:p@h1:5672,u2:p2@h2:5673/vh?ssl=1",
         "rabbit://u:****@h1:5672,u2:****@h2:5673/vh?ssl=1"),
        ("x rabbit://u:p@h/ and amqp://a:b@c:1// end",
         "x rabbit://u:****@h/ and amqp://a:****@c:1// end"),
        ("rabbit://u:p%40x@[::1]:5672/%2Fvh", "rabbit://u:****@[::1]:5672/%2Fvh"),
        ("rabbit://u:p@ss@h/", "rabbit://u:****@h/"),
        ("nova.openstack.common.rpc.impl_kombu://u:p@h/",
         "nova.openstack.common.rpc.impl_kombu://u:****@h/"),
        ("url='rabbit://u:p@h'", "url='rabbit://u:****@h'"),
        ('{"url": "rabbit://u:p@h/"}', '{"url": "rabbit://u:****@h/"}'),
        ("rabbit://h/?x=http://u:p@h2", "rabbit://h/?x=http://u:****@h2"),
        ("rabbit://h1,h2:5672,u:p@h3/", "rabbit://h1,h2:5672,u:****@h3/"),
        ("rabbit://u:@h/", "rabbit://u:****@h/"),
    ],
)
def test_mask_url_masks_passwords(text: str, expected: str) -> None:
    assert mask_url(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no url here",
        "http://example.com/a?b=c",
        "rabbit://u@h/",
        "rabbit://h:5672/v@x",
        "rabbit://[::1]:5672/",
        "rabbit://::1/",
        "rabbit://h1,h2/",
        "fake:///",
    ],
)
def test_mask_url_leaves_text_without_passwords_alone(text: str) -> None:
    assert mask_url(text) == text


@pytest.mark.parametrize(
    ("text", "secret_parts"),
    [
        ("rabbit://u:ab/cd@h:5672/vh", ("ab", "cd")),
        ("rabbit://u:p@h1,u2:a/b@h2/", ("a/b",)),
        ("rabbit://u:zz?yy@h", ("zz", "yy")),
        ("rabbit://u:qq,ww@h/", ("qq", "ww")),
        ("rabbit://u:qq,ww/ee@h/v", ("qq", "ww", "ee")),
    ],
)
def test_mask_url_badly_quoted_passwords_leave_no_fragment(
        text: str, secret_parts: tuple[str, ...]) -> None:
    masked = mask_url(text)
    assert MASK in masked
    rest = masked.replace("rabbit://", "")
    for part in secret_parts:
        assert part not in rest, masked


@pytest.mark.parametrize(
    "key",
    ["password", "Password", "admin_password", "PASSWORD_x", "auth_token", "new_pass",
     "_context_auth_token", "_context_password", "_context_new_pass", "token", "Token",
     "x_token", "_context_token", "secret", "client_secret", "SecretKey",
     "_context_secret"],
)
def test_sanitize_secret_keys(key: str) -> None:
    assert sanitize({key: "s3cr3t", "other": 1}) == {key: SANITIZED, "other": 1}


@pytest.mark.parametrize("key", ["pass", "tokens", "token_type", "user", "auth", "_context_user"])
def test_sanitize_keeps_ordinary_keys(key: str) -> None:
    assert sanitize({key: "value"}) == {key: "value"}


def test_sanitize_never_mutates_input() -> None:
    data: dict[str, Any] = {
        "password": "p",
        "args": {"nested": {"auth_token": "t"}, "items": [{"password": "x"}]},
    }
    original = copy.deepcopy(data)
    result = sanitize(data)
    assert data == original
    assert result["password"] == SANITIZED
    assert result["args"]["nested"]["auth_token"] == SANITIZED
    assert result["args"]["items"][0]["password"] == SANITIZED
    assert result is not data and result["args"] is not data["args"]


def test_sanitize_recurses_lists_in_lists_and_tuples() -> None:
    data = {"a": [[{"password": "x"}], ({"secret": "y"}, "plain")]}
    result = sanitize(data)
    assert result == {"a": [[{"password": SANITIZED}], ({"secret": SANITIZED}, "plain")]}
    assert isinstance(result["a"][1], tuple)


def test_sanitize_masks_urls_in_values() -> None:
    data = {"transport": "rabbit://u:pw@h/", "list": ["amqp://a:b@c/"], "raw": b"x://u:p@h"}
    assert sanitize(data) == {
        "transport": "rabbit://u:****@h/",
        "list": ["amqp://a:****@c/"],
        "raw": b"x://u:****@h",
    }


def test_sanitize_non_dict_inputs() -> None:
    assert sanitize("see rabbit://u:p@h/") == "see rabbit://u:****@h/"
    assert sanitize(b"rabbit://u:p@h/") == b"rabbit://u:****@h/"
    raw = b"\xff plain"
    assert sanitize(raw) is raw
    assert sanitize([{"password": 1}, 2]) == [{"password": SANITIZED}, 2]
    assert sanitize(None) is None
    assert sanitize(42) == 42


def test_sanitize_keeps_container_types() -> None:
    point = collections.namedtuple("point", ["url", "n"])
    ordered = collections.OrderedDict([("password", "x"), ("b", point("rabbit://u:p@h", 1))])
    result = sanitize(ordered)
    assert isinstance(result, collections.OrderedDict)
    assert result["password"] == SANITIZED
    assert result["b"] == point("rabbit://u:****@h", 1)
    assert sanitize(frozenset({"rabbit://u:p@h"})) == frozenset({"rabbit://u:****@h"})


def test_sanitize_handles_cycles() -> None:
    data: dict[str, Any] = {"password": "x"}
    data["self"] = data
    result = sanitize(data)
    assert result["password"] == SANITIZED
    assert result["self"] is result


def test_sanitize_returns_uncopyable_objects_as_they_are() -> None:
    class NoCopy:
        def __deepcopy__(self, memo: dict[int, Any]) -> NoCopy:
            raise TypeError("cannot copy")

    obj = NoCopy()
    assert sanitize({"obj": obj})["obj"] is obj


def test_safe_log_passes_sanitized_copy() -> None:
    calls: list[tuple[str, Any]] = []

    def log(msg: str, *args: Any) -> None:
        calls.append((msg, *args))

    data = {"_context_auth_token": "tok", "method": "echo", "args": {"password": "p"}}
    safe_log(log, "received %s", data)
    assert calls == [("received %s", {"_context_auth_token": SANITIZED, "method": "echo",
                                      "args": {"password": SANITIZED}})]
    assert data["_context_auth_token"] == "tok"


def test_safe_log_with_logging(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    logger = logging.getLogger("test_mask")
    with caplog.at_level(logging.DEBUG, logger="test_mask"):
        safe_log(logger.debug, "received %s", {"password": "hunter2",
                                               "url": "rabbit://u:hunter3@h/"})
    assert "hunter2" not in caplog.text and "hunter3" not in caplog.text
    assert SANITIZED in caplog.text

"""Masking runs in linear time on hostile text, still hides every secret, and gives the same
results as simple quadratic reference implementations kept here.

Timings are CPU time with generous bounds (a loaded two-core CI box must pass): the point is
to catch quadratic behaviour, where 100 KB took over a minute, not to benchmark.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from legacy_rpc.messaging import _mask
from legacy_rpc.messaging._mask import (
    MASK,
    SANITIZED,
    TOO_DEEP,
    mask_text,
    mask_url,
    safe_repr,
    sanitize,
    sanitize_body,
)

# --------------------------------------------------------------------------- reference
# mask_url before the linear rewrite (commit cdc875d), and mask_text as the regex it used,
# applied at every keyword (also inside masked values), for differential tests on small
# inputs, where quadratic time and recursion do not matter.

_R_AUTHORITY_START = re.compile(r"://")
_R_URL_END = re.compile(r"""[\s'"<>`]""")
_R_AUTHORITY_END = re.compile(r"[/?#]")
_R_KEYWORD_AT = re.compile(r"(?=password|secret|token|new_pass)", re.IGNORECASE)
_R_KEY_VALUE = re.compile(
    r"""(?ix)
    (?:password|secret|token|new_pass)[\w.-]*["']? \s* [:=] \s*
    ( "(?:[^"\\]|\\.)*" | '[^']*' | [^\s,;}&]+ )
    """)


def _r_group_elements(authority: str) -> list[str]:
    elements = authority.split(",")
    groups: list[str] = []
    i = 0
    while i < len(elements):
        element = elements[i]
        if "@" not in element and _mask._suspicious_plain_host(element):
            nxt = next((k for k in range(i + 1, len(elements)) if "@" in elements[k]), None)
            if nxt is not None:
                element = ",".join(elements[i:nxt + 1])
                i = nxt
        groups.append(element)
        i += 1
    return groups


def _r_mask_token(token: str) -> str:
    match = _R_AUTHORITY_END.search(token)
    end = match.start() if match else len(token)
    groups = _r_group_elements(token[:end])
    last_at = token.rfind("@")
    if last_at >= end and any("@" not in g and _mask._suspicious_plain_host(g)
                              for g in groups):
        match = _R_AUTHORITY_END.search(token, last_at)
        end = match.start() if match else len(token)
        groups = _r_group_elements(token[:end])
    return ",".join(_mask._mask_element(g) for g in groups) + reference_mask_url(token[end:])


def reference_mask_url(text: str) -> str:
    if "://" not in text:
        return text
    out: list[str] = []
    pos = 0
    for match in _R_AUTHORITY_START.finditer(text):
        start = match.end()
        if start < pos:
            continue
        end_match = _R_URL_END.search(text, start)
        end = end_match.start() if end_match else len(text)
        out.append(text[pos:start])
        out.append(_r_mask_token(text[start:end]))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def reference_mask_text(text: str) -> str:
    text = reference_mask_url(text)
    out: list[str] = []
    done = 0
    for keyword in _R_KEYWORD_AT.finditer(text):
        match = _R_KEY_VALUE.match(text, keyword.start())
        if match is None:
            continue
        start, end = match.span(1)
        if start >= done:
            out += [text[done:start], MASK]
            done = end
        else:  # inside the value masked last
            done = max(done, end)
    out.append(text[done:])
    return "".join(out)


@pytest.mark.parametrize(("text", "expected"), [
    ("password=abc other", f"password={MASK} other"),
    ("password: token: abc", f"password: {MASK} {MASK}"),
    ('password="token=a b" c', f"password={MASK} c"),
    ('password="x token=" abc', f"password={MASK} abc"),  # '=' inside the quotes
])
def test_reference_mask_text(text: str, expected: str) -> None:
    assert reference_mask_text(text) == expected


# --------------------------------------------------------------------------- generators

# Pieces that exercise every branch of the scanners (and their worst cases when repeated).
FRAGMENTS = [
    "://", "rabbit://", "u:p@h", "@", ":", ",", "/", "?", "#", "[", "]", "::1", "%40", "5672",
    '"', "'", "\\", '\\"', "\\\\", " ", "\n", "\t", "=", ";", "}", "&", "<", ">", "`",
    "password", "PassWord", "secret", "token", "new_pass", "_token", "auth_token", "-", ".",
    "a", "xyz", "é", "0",
]
fragments = st.sampled_from(FRAGMENTS) | st.text(max_size=4)
small_texts = st.lists(fragments, max_size=30).map("".join)


@st.composite
def large_texts(draw: st.DrawFn, size: int = 100_000) -> str:
    """Text up to ``size`` characters made of a few pieces repeated many times."""
    runs = draw(st.lists(st.tuples(st.lists(fragments, min_size=1, max_size=4).map("".join),
                                   st.integers(min_value=1, max_value=size)),
                         min_size=1, max_size=4))
    parts: list[str] = []
    room = size
    for piece, count in runs:
        if not piece:
            continue
        count = min(count, room // len(piece))
        parts.append(piece * count)
        room -= len(piece) * count
    return "".join(parts)


# Secrets hold "QZ", which no fragment nor noise below holds, so finding one means a leak.
secrets = st.text(alphabet="ABCDEFGHJKMNPRSTUVWXY0123456789", min_size=4, max_size=12).map(
    lambda s: f"QZ{s}")
noise = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)


def secret_shapes(secret: str) -> list[str]:
    return [
        f"password={secret}", f"token: {secret}", f'"password": "{secret}"',
        f"'admin_password': '{secret}'", f"new_pass = {secret};", f"x_token={secret}&y=1",
        f"rabbit://user:{secret}@host:5672/", f"amqp://u:{secret}@h1,v:{secret}@h2/vh",
        f"http://example/?next=rabbit://u:{secret}@h", f"SECRET_KEY={secret}",
    ]


def cpu(func: Callable[[], object], repeat: int = 3) -> float:
    """The smallest CPU time of ``repeat`` runs of ``func`` (minimums resist noise)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        func()
        best = min(best, time.process_time() - start)
    return best


# --------------------------------------------------------------------------- same results

@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(text=small_texts)
def test_mask_url_as_before(text: str) -> None:
    assert mask_url(text) == reference_mask_url(text)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(text=small_texts)
def test_mask_text_as_before(text: str) -> None:
    assert mask_text(text) == reference_mask_text(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("password=abc other", f"password={MASK} other"),
    ('{"token": "a\\"b", "x": 1}', f'{{"token": {MASK}, "x": 1}}'),
    ("'secret': 'a b'", f"'secret': {MASK}"),
    ('password="unterminated value', f"password={MASK} value"),
    ("tokens=1, token_type = bearer;", f"tokens={MASK}, token_type = {MASK};"),
    ("password\n=\n  x", f"password\n=\n  {MASK}"),
    ("password= ,", "password= ,"),
    ("url rabbit://u:p@h/ password:q", f"url rabbit://u:{MASK}@h/ password:{MASK}"),
    ("password: token: abc", f"password: {MASK} {MASK}"),
    ("password=token=abc", f"password={MASK}"),
])
def test_mask_text_examples(text: str, expected: str) -> None:
    assert mask_text(text) == expected


# --------------------------------------------------------------------------- linear time

HOSTILE = {
    "name run": "a" * 4096,
    "keyword run": "password" * 512,
    "opening quotes": 'password=" ' * 372,
    "single quotes": "password='x " * 341,
    "escaped quotes": 'password="' + '\\"' * 2043,
    "backslash newline": 'token="\\\n' * 512,
    "nested urls": "x://h/" * 682,
    "schemes": "://" * 1365,
    "commas": "x://" + "u:a," * 1024,
    "colons": "x://" + ":" * 4092,
    "ats": "x://" + "@" * 4092,
    "slashes and at": "x://u:a/" * 511 + "@h",
    "spaces after keys": ("password" + " " * 56) * 64,
    "mixed": ('{"password": "a\\\\' + "://u:p@h," * 10 + "token=") * 34,
}


@pytest.mark.parametrize("func", [mask_text, mask_url, lambda t: sanitize({"k": [t]})],
                         ids=["mask_text", "mask_url", "sanitize"])
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_four_times_the_text_takes_less_than_eight_times_the_time(
        func: Callable[[str], Any], name: str) -> None:
    unit = HOSTILE[name] * 6  # about 25 KB
    small = cpu(lambda: func(unit))
    large = cpu(lambda: func(unit * 4))  # about 100 KB
    # Quadratic would be 16 times; the constant absorbs timer granularity on tiny times.
    assert large < 8 * small + 0.02, (name, small, large)
    assert large < 2.0, (name, large)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_sanitize_body_work_does_not_grow_with_the_body(name: str) -> None:
    small = HOSTILE[name] * 6
    large = small * 40  # about 1 MB
    for body in (small, large, large.encode()):
        shown = sanitize_body(body)
        assert len(shown) <= 2000 + 40
    # Only a bounded prefix is read: a 40 times larger body costs about the same.
    assert cpu(lambda: sanitize_body(large)) < 4 * cpu(lambda: sanitize_body(small)) + 0.02


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=large_texts())
def test_generated_large_texts_take_bounded_roughly_linear_time(text: str) -> None:
    assume(len(text) >= 1000)
    for func in (mask_text, sanitize_body):
        once = cpu(lambda f=func: f(text), repeat=2)  # type: ignore[misc]
        assert once < 1.0, (func.__name__, len(text), once)
    quarter = text[:len(text) // 4]
    small = cpu(lambda: mask_text(quarter), repeat=2)
    full = cpu(lambda: mask_text(text), repeat=2)
    assert full < 8 * small + 0.05, (len(text), small, full)


# --------------------------------------------------------------------------- no secret survives

@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(secret=secrets, before=noise, after=noise, shape=st.integers(min_value=0, max_value=9))
def test_no_generated_secret_survives_mask_text(secret: str, before: str, after: str,
                                                shape: int) -> None:
    text = f"{before} {secret_shapes(secret)[shape]} {after}"
    assert "QZ" not in mask_text(text), mask_text(text)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(secret=secrets, before=noise, after=noise, shape=st.integers(min_value=0, max_value=9),
       padding=st.integers(min_value=0, max_value=20_000))
def test_no_generated_secret_survives_sanitize_body(secret: str, before: str, after: str,
                                                    shape: int, padding: int) -> None:
    # Padding moves the secret across the bounded window: cut or not, it must not show.
    text = f"{'x' * padding}{before} {secret_shapes(secret)[shape]} {after}"
    for body in (text, text.encode()):
        assert "QZ" not in sanitize_body(body)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(secret=secrets, filler=st.text(max_size=30), padding=st.integers(0, 3000),
       envelope=st.booleans())
def test_no_secret_survives_in_json_bodies(secret: str, filler: str, padding: int,
                                           envelope: bool) -> None:
    assume("QZ" not in filler)
    message: dict[str, Any] = {
        "method": "m", "pad": "p" * padding, "_context_auth_token": secret,
        "args": {"password": secret, "url": f"rabbit://u:{secret}@h/", "note": filler,
                 "nested": [{"client_secret": secret}, f"token={secret}"]},
    }
    body: Any = message
    if envelope:
        body = {"oslo.version": "2.0", "oslo.message": json.dumps(message)}
    for limit in (2000, 100_000):
        assert "QZ" not in sanitize_body(json.dumps(body).encode(), limit=limit)


def test_sanitize_body_of_a_large_body_shows_a_masked_prefix_and_the_size() -> None:
    body = ("password=hunter2 rabbit://u:hunter3@h/ " * 5000).encode()
    shown = sanitize_body(body)
    assert "hunter" not in shown
    assert shown.endswith(f"... ({len(body)} bytes)")
    assert shown.startswith(f"password={MASK} rabbit://u:{MASK}@h/")


def test_sanitize_body_json_within_the_window_is_structural() -> None:
    body = json.dumps({"oslo.version": "2.0",
                       "oslo.message": json.dumps({"password": "x", "a": 1})})
    assert json.loads(sanitize_body(body)) == {"oslo.version": "2.0",
                                               "oslo.message": {"password": SANITIZED, "a": 1}}


def test_sanitize_body_deep_json_is_masked_as_text() -> None:
    deep = "[" * 100_000 + '"password=hunter2"' + "]" * 100_000
    shown = sanitize_body(deep)
    assert "hunter2" not in shown and len(shown) < 2100
    mid = "[" * 300 + '{"password": "hunter2"}' + "]" * 300
    assert "hunter2" not in sanitize_body(mid)
    inner = json.dumps({"oslo.version": "2.0", "oslo.message": mid})
    assert "hunter2" not in sanitize_body(inner)


# --------------------------------------------------------------------------- deep structures

def test_sanitize_bounds_its_depth() -> None:
    data: Any = {"password": "x"}
    for _ in range(50_000):
        data = [data]
    result = sanitize(data)
    depth = 0
    while isinstance(result, list):
        result = result[0]
        depth += 1
    assert result == TOO_DEEP and depth == _mask.MAX_DEPTH
    assert "x" not in safe_repr(data, limit=10**6).replace(TOO_DEEP, "")


def test_sanitize_keeps_structures_up_to_the_depth_limit() -> None:
    data: Any = {"password": "x", "url": "rabbit://u:p@h"}
    for _ in range(_mask.MAX_DEPTH - 1):
        data = {"k": data}
    result = sanitize(data)
    for _ in range(_mask.MAX_DEPTH - 1):
        result = result["k"]
    assert result == {"password": SANITIZED, "url": f"rabbit://u:{MASK}@h"}


def test_sanitize_deep_tuples_and_dicts() -> None:
    data: Any = "rabbit://u:p@h"
    for i in range(10_000):
        data = (data,) if i % 2 else {"k": data}
    assert "u:p@" not in safe_repr(data, limit=10**7)


# --------------------------------------------------------------------------- safe_repr

def test_safe_repr_masks_and_cuts() -> None:
    data = {"password": "hunter2", "url": "rabbit://u:hunter3@h/", "pad": "x" * 5000}
    shown = safe_repr(data, limit=200)
    assert "hunter" not in shown and SANITIZED in shown
    assert len(shown) <= 200 + 40 and shown.endswith("characters)")
    assert safe_repr({"a": 1}) == "{'a': 1}"


def test_safe_repr_masks_urls_in_reprs_of_other_objects() -> None:
    class Conn:
        def __repr__(self) -> str:
            return "<Conn rabbit://u:hunter2@h/>"

    assert "hunter2" not in safe_repr({"conn": Conn()})


def test_safe_repr_of_unprintable_objects() -> None:
    class Bad:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert safe_repr(Bad()) == "<unprintable Bad>"


def test_sanitize_body_takes_any_bytes_like_body() -> None:
    raw = b"password=hunter2 rabbit://u:hunter3@h/"
    for body in (memoryview(raw), bytearray(raw)):
        assert sanitize_body(body) == f"password={MASK} rabbit://u:{MASK}@h/"  # type: ignore[arg-type]

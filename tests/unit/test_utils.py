"""``_utils``: the version-comparison helper (legacy_api.md 3.8, oslo_messaging_api.md 1.5)."""

from __future__ import annotations

import pytest

from legacy_rpc.messaging._utils import parse_version, version_is_compatible

# (imp_version, version, expected): every example of legacy_api.md 3.8.
LEGACY_EXAMPLES = [
    ("1.23", "1.23", True),
    ("1.24", "1.23", True),
    ("1.22", "1.23", False),
    ("2.23", "1.23", False),
    ("1.23", "2.23", False),
    ("1.23", "1.23.1", False),
    ("1.23.1", "1.23.2", False),
    ("1.23.2", "1.23.1", True),
    ("1.24", "1.23.1", True),
    ("1.23.0", "1.23", True),
]


@pytest.mark.parametrize(("imp_version", "version", "expected"), LEGACY_EXAMPLES)
def test_legacy_examples(imp_version: str, version: str, expected: bool) -> None:
    assert version_is_compatible(imp_version, version) is expected


@pytest.mark.parametrize(
    ("imp_version", "version", "expected"),
    [
        ("1.10", "1.9", True),    # numeric: 10 > 9 although "10" < "9" as text
        ("1.9", "1.10", False),
        ("1.100", "1.20", True),
        ("10.0", "9.0", False),   # majors must be equal, not merely ordered
        ("1.0", "1.0.0", True),
        ("1.0.10", "1.0.9", True),
        ("1.0.9", "1.0.10", False),
        ("2.0", "2.0", True),
        ("2.0", "2.1", False),    # a newer minor is never served
        ("2.5", "2.0", True),
    ],
)
def test_numeric_not_lexical(imp_version: str, version: str, expected: bool) -> None:
    assert version_is_compatible(imp_version, version) is expected


def test_argument_order_is_implementation_first() -> None:
    # An endpoint at 1.5 serves a 1.2 request, not the reverse.
    assert version_is_compatible("1.5", "1.2") is True
    assert version_is_compatible("1.2", "1.5") is False


def test_no_implemented_version_accepts_anything() -> None:
    assert version_is_compatible(None, "1.0") is True
    assert version_is_compatible(None, "99.99") is True
    assert version_is_compatible(None, None) is True


def test_no_requested_version_never_matches_a_real_implementation() -> None:
    # The rule oslo.messaging's version cap relies on (a cap with no message version fails).
    assert version_is_compatible("1.0", None) is False
    assert version_is_compatible("2.0", None) is False


@pytest.mark.parametrize("bad", ["", "1", "a.b", "1.x", "1.2.3.4", "1..2", ".1", "1.-1"])
def test_unparsable_versions_are_not_compatible(bad: str) -> None:
    assert version_is_compatible(bad, "1.0") is False
    assert version_is_compatible("1.0", bad) is False


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("1.0", (1, 0, 0)), ("1.23", (1, 23, 0)), ("1.23.4", (1, 23, 4)), ("10.200.3000", (10, 200, 3000))],
)
def test_parse_version(text: str, parsed: tuple[int, int, int]) -> None:
    assert parse_version(text) == parsed


@pytest.mark.parametrize("bad", ["", "1", "1.", ".1", "a.b", "1.x", "1.2.3.4", "1.2.x", " 1.2", "1.-2", "v1.2"])
def test_parse_version_errors(bad: str) -> None:
    with pytest.raises(ValueError, match="major and minor integer"):
        parse_version(bad)

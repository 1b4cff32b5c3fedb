"""``_jsonutils``: JSON with ``oslo_serialization.jsonutils`` semantics (spec 1.11, 3.4)."""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from legacy_rpc.messaging import _jsonutils
from legacy_rpc.messaging._jsonutils import dumps, loads, to_primitive

DT = datetime.datetime(1920, 2, 3, 4, 5, 6, 7)


class Plain:
    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)


class Unconvertible:
    __slots__ = ()


class ItemsOnly:
    """Not a Mapping, but has items(), like the duck-typed dicts jsonutils accepts."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def items(self) -> Any:
        return self._data.items()


# ---------------------------------------------------------------- datetimes

def test_datetime_format_matches_oslo() -> None:
    assert to_primitive(DT) == "1920-02-03T04:05:06.000007"
    assert dumps(DT) == '"1920-02-03T04:05:06.000007"'


def test_datetime_without_microseconds_keeps_the_fraction() -> None:
    # '%Y-%m-%dT%H:%M:%S.%f' always writes six digits (unlike str(datetime)).
    assert to_primitive(datetime.datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000000"


def test_datetime_in_args_as_on_the_wire() -> None:
    text = dumps({"args": {"when": DT}})
    assert json.loads(text) == {"args": {"when": "1920-02-03T04:05:06.000007"}}


def test_convert_datetime_false_keeps_the_datetime() -> None:
    assert to_primitive(DT, convert_datetime=False) is DT


# ---------------------------------------------------------------- containers

def test_sets_and_tuples_become_lists() -> None:
    assert to_primitive((1, 2, 3)) == [1, 2, 3]
    assert sorted(to_primitive({3, 1, 2})) == [1, 2, 3]
    assert isinstance(to_primitive({1}), list)
    assert sorted(to_primitive(frozenset({"a", "b"}))) == ["a", "b"]
    assert json.loads(dumps({"s": {1}, "t": (1, 2)})) == {"s": [1], "t": [1, 2]}


def test_nested_structures_are_converted_recursively() -> None:
    value = {"a": [(1, 2), {"b": {3}, "when": DT}], "u": uuid.UUID(int=1)}
    assert to_primitive(value) == {
        "a": [[1, 2], {"b": [3], "when": "1920-02-03T04:05:06.000007"}],
        "u": "00000000-0000-0000-0000-000000000001",
    }
    assert json.loads(dumps(value)) == to_primitive(value)


def test_simple_values_are_returned_as_is() -> None:
    for value in ("s", 1, 1.5, True, False, None):
        assert to_primitive(value) is value


def test_uuid_becomes_its_hyphenated_string() -> None:
    u = uuid.UUID("df555205-2275-4d78-8ce2-76f4f194cb60")
    assert to_primitive(u) == "df555205-2275-4d78-8ce2-76f4f194cb60"
    assert dumps({"id": u}) == '{"id": "df555205-2275-4d78-8ce2-76f4f194cb60"}'


def test_bytes_become_text() -> None:
    assert to_primitive(b"abc") == "abc"
    assert to_primitive("é".encode()) == "é"
    assert dumps({"b": b"xyz"}) == '{"b": "xyz"}'


def test_exceptions_become_their_repr() -> None:
    exc = ValueError("bad value", 42)
    assert to_primitive(exc) == repr(exc) == "ValueError('bad value', 42)"
    assert json.loads(dumps({"e": exc})) == {"e": "ValueError('bad value', 42)"}


def test_generators_and_iterables_become_lists() -> None:
    def gen() -> Iterator[int]:
        yield from (1, 2)

    assert to_primitive(gen()) == [1, 2]
    assert to_primitive(range(3)) == [0, 1, 2]


def test_objects_with_items_become_dicts() -> None:
    assert to_primitive(ItemsOnly({"a": 1, "b": (2,)})) == {"a": 1, "b": [2]}


# ---------------------------------------------------------------- instances and errors

def test_unconvertible_object_makes_dumps_raise_type_error() -> None:
    with pytest.raises(TypeError):
        dumps(object())
    with pytest.raises(TypeError):
        dumps({"nested": [Unconvertible()]})


def test_unconvertible_object_in_to_primitive_raises_value_error() -> None:
    with pytest.raises(ValueError):
        to_primitive(object())


def test_instances_are_not_converted_by_default() -> None:
    with pytest.raises(ValueError):
        to_primitive(Plain(a=1))
    with pytest.raises(TypeError):
        dumps(Plain(a=1))


def test_convert_instances_uses_the_attributes() -> None:
    assert to_primitive(Plain(a=1, b=(2, 3), when=DT), convert_instances=True) == {
        "a": 1, "b": [2, 3], "when": "1920-02-03T04:05:06.000007"}


def test_convert_instances_nested() -> None:
    obj = Plain(child=Plain(x=1), items=[Plain(y=2)])
    assert to_primitive(obj, convert_instances=True) == {
        "child": {"x": 1}, "items": [{"y": 2}]}


def test_max_depth_cuts_deep_instance_chains() -> None:
    # Each instance level adds one to the depth; below max_depth (3) values become None,
    # exactly as oslo_serialization does.
    chain = Plain(child=Plain(child=Plain(child=Plain(child=Plain(v=1)))))
    assert to_primitive(chain, convert_instances=True) == {"child": {"child": {"child": None}}}


def test_max_depth_is_configurable() -> None:
    chain = Plain(child=Plain(v=1))
    assert to_primitive(chain, convert_instances=True, max_depth=0) is None
    assert to_primitive(chain, convert_instances=True, max_depth=1) == {"child": None}
    assert to_primitive(chain, convert_instances=True, max_depth=2) == {"child": {"v": 1}}


def test_max_depth_leaves_simple_values_alone() -> None:
    # Simple values, datetimes and uuids are converted before the depth check.
    assert to_primitive("s", level=10) == "s"
    assert to_primitive(DT, level=10) == "1920-02-03T04:05:06.000007"
    assert to_primitive([1], level=10) is None


def test_plain_dicts_and_lists_do_not_count_towards_the_depth() -> None:
    deep: Any = 1
    for _ in range(10):
        deep = {"k": [deep]}
    assert to_primitive(deep) == deep


def test_cycles_through_instances_terminate() -> None:
    a = Plain()
    a.me = a
    result = to_primitive(a, convert_instances=True)
    assert result == {"me": {"me": {"me": None}}}


# ---------------------------------------------------------------- dumps / loads

def test_dumps_uses_default_separators() -> None:
    assert dumps({"a": 1, "b": [1, 2]}) == '{"a": 1, "b": [1, 2]}'


def test_dumps_keeps_key_order() -> None:
    assert dumps({"z": 1, "a": 2}) == '{"z": 1, "a": 2}'


def test_dumps_non_string_keys() -> None:
    assert json.loads(dumps({1: "a"})) == {"1": "a"}


def test_loads_accepts_text_and_utf8_bytes() -> None:
    assert loads('{"a": [1, "é"]}') == {"a": [1, "é"]}
    assert loads('{"a": [1, "é"]}'.encode()) == {"a": [1, "é"]}


def test_loads_rejects_non_json() -> None:
    with pytest.raises(ValueError):
        loads("not json")
    with pytest.raises(ValueError):
        loads(b"\xff\xfe")


def test_round_trip() -> None:
    value = {"a": 1, "b": [True, None, 1.5], "c": {"d": "é"}}
    assert loads(dumps(value)) == value


def test_module_all() -> None:
    assert set(_jsonutils.__all__) == {"to_primitive", "dumps", "loads", "MAX_DEPTH",
                                       "TooDeeplyNested", "nesting_depth"}


# ---------------------------------------------------------------- nesting depth

def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(("text", "depth"), [
    ("1", 0), ("[]", 1), ('{"a": [1, {"b": []}]}', 4), ('"[[[["', 0),
    ('["[[", {"a": "{{{"}]', 2), (r'["\"", [["\\[[["]]]', 3), (r'["\\", [[]]]', 3),
    (_nested(300), 300), ("]]]", 0),
])
def test_nesting_depth_ignores_brackets_in_strings(text: str, depth: int) -> None:
    assert _jsonutils.nesting_depth(text) == depth


def test_nesting_depth_is_exact_on_dumped_values() -> None:
    value: Any = 'x[{\\"\\'
    for level in range(1, 40):
        value = [value, {"k]": value}] if level % 2 else {"[": value}
    # Every even level adds one (a dict); every odd one adds two (a list holding a dict).
    assert _jsonutils.nesting_depth(dumps(value)) == 20 * 2 + 19


def test_loads_accepts_max_depth_and_refuses_one_more() -> None:
    assert loads(_nested(_jsonutils.MAX_DEPTH)) == loads(_nested(_jsonutils.MAX_DEPTH))
    with pytest.raises(_jsonutils.TooDeeplyNested):
        loads(_nested(_jsonutils.MAX_DEPTH + 1))
    assert loads(_nested(5), max_depth=5) == [[[[[]]]]]
    with pytest.raises(_jsonutils.TooDeeplyNested):
        loads(_nested(6), max_depth=5)


@pytest.mark.parametrize("text", ["[" * 100_000, "{" * 100_000, '{"a":' * 100_000,
                                  _nested(100_000)])
def test_loads_never_lets_recursion_error_out(text: str) -> None:
    with pytest.raises(_jsonutils.TooDeeplyNested):
        loads(text)
    with pytest.raises(ValueError):  # unbounded: the interpreter's limit, or a syntax error
        loads(text, max_depth=None)


def test_loads_deep_brackets_inside_strings_are_fine() -> None:
    text = json.dumps({"s": "[" * 10_000, "t": ["{" * 10_000]})
    assert loads(text) == {"s": "[" * 10_000, "t": ["{" * 10_000]}


def test_loads_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        loads("1" * 5000)  # over the interpreter's integer digit limit
    with pytest.raises(TypeError):
        loads(42)  # type: ignore[arg-type]
    assert loads(bytearray(b"[1]")) == [1]
    assert loads("[1e999]") == [float("inf")]

"""The README's code examples run as written (so the README stays true)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
NEW_STYLE = next(b for b in BLOCKS if "get_rpc_server" in b)
TESTING = next(b for b in BLOCKS if "def test_" in b)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


def _leading_literal(comment: str) -> tuple[bool, object]:
    """The longest start of ``comment`` that is a Python literal (e.g. ``3, as ...``)."""
    for end in range(len(comment), 0, -1):
        try:
            return True, ast.literal_eval(comment[:end])
        except (ValueError, SyntaxError):
            continue
    return False, None


def test_usage_example_runs_and_its_comments_are_true() -> None:
    """Run the example; every ``expression  # literal`` line must evaluate to the literal."""
    setup, teardown = NEW_STYLE.split("\nserver.stop()")
    namespace: dict[str, object] = {}
    exec(compile(setup, "README.md", "exec"), namespace)
    checked = 0
    try:
        for line in setup.splitlines():
            match = re.match(r"^(\S.*?)\s+#\s*(\S.*)$", line)
            if match and "=" not in match.group(1).split("(")[0]:
                found, expected = _leading_literal(match.group(2))
                if found:
                    assert eval(match.group(1), namespace) == expected, line
                    checked += 1
    finally:
        exec(compile("server.stop()" + teardown, "README.md", "exec"), namespace)
    assert checked >= 3


def test_testing_example_passes(pytester: pytest.Pytester) -> None:
    calculator = NEW_STYLE.split("class Calculator:")[1].split("\nserver =")[0]
    pytester.makepyfile("import legacy_rpc.messaging as messaging\n\n"
                        f"class Calculator:{calculator}\n\n{TESTING}")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_notification_example_runs() -> None:
    block = next(b for b in BLOCKS if "get_notification_listener" in b)
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["received"].is_set()  # type: ignore[attr-defined]

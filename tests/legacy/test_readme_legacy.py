"""The README's legacy-API example runs as written and its ``# value`` comments are true."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from legacy_rpc import rpc
from tests.legacy.conftest import CONF

README = Path(__file__).resolve().parents[2] / "README.md"


def _block() -> str:
    section = README.read_text().split("## Using the legacy API", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert found is not None
    return found.group(1)


def test_readme_legacy_example() -> None:
    code = _block()
    namespace: dict[str, object] = {}
    checked = 0
    try:
        for statement in ast.parse(code).body:
            source = ast.get_source_segment(code, statement) or ""
            exec(compile(ast.Module([statement], []), "README.md", "exec"), namespace)
            line = code.splitlines()[statement.end_lineno - 1] if statement.end_lineno else ""
            comment = re.search(r"#\s*(\[.*\]|\d+)\s*$", line)
            if isinstance(statement, ast.Expr) and comment:
                expected = ast.literal_eval(comment.group(1))
                assert eval(compile(ast.Expression(statement.value), "README.md", "eval"),
                            namespace) == expected, source
                checked += 1
    finally:
        CONF.clear_override("rpc_backend")
        rpc.cleanup()
        rpc._RPCIMPL = None
    assert checked == 3

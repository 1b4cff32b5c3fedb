"""Every Python code block of ``migration_guide/`` runs, each in a fresh interpreter.

A block right after ``<!-- not-run: reason -->`` is a fragment and is skipped. A block runs
with the repository on ``sys.path`` in an empty temporary working directory; it passes when it exits 0 (blocks assert what they show).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "migration_guide"
_BLOCK = re.compile(r"(?P<marker><!--\s*not-run:[^>]*-->\s*\n)?```python\n(?P<code>.*?)```",
                    re.DOTALL)


def _blocks() -> list[tuple[str, str, bool]]:
    found = []
    for page in sorted(GUIDE.rglob("*.md")):
        text = page.read_text()
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("code"))
            name = f"{page.relative_to(GUIDE)}:{line}"
            found.append((name, match.group("code"), match.group("marker") is not None))
    return found


BLOCKS = _blocks()


def test_the_guide_has_executed_examples() -> None:
    run = [name for name, _, skipped in BLOCKS if not skipped]
    skipped = [name for name, _, skipped in BLOCKS if skipped]
    assert len(run) >= 8
    assert len(skipped) <= len(run) // 3, skipped


@pytest.mark.parametrize(("name", "code"),
                         [(n, c) for n, c, skipped in BLOCKS if not skipped],
                         ids=[n for n, _, skipped in BLOCKS if not skipped])
def test_example(name: str, code: str, tmp_path: Path) -> None:
    root = GUIDE.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"

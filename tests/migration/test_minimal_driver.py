"""The porting guide's minimal example driver passes the whole driver contract suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET = "migration_guide.examples.minimal_driver.memory_driver:MemoryDriver"


def test_minimal_driver_passes_the_contract_suite() -> None:
    env = dict(os.environ, LEGACY_RPC_CONTRACT_DRIVERS=f"memory={TARGET}")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/contract", "-q", "-p", "no:cacheprovider",
         "-x"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "failed" not in summary and "skipped" not in summary

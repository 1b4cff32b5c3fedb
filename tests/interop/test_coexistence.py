"""legacy_rpc.messaging and oslo.messaging 18.3.1 in one process on one config (issue 13).

Each case runs ``coexist_scenario.py`` in a fresh interpreter, so the library named first
really registers its options first, on ``cfg.CONF`` or on a fresh ``ConfigOpts``. Both
libraries read ``transport_url``, ``control_exchange`` and the notification driver and
topics from the same file; RPC and notifications cross between them over RabbitMQ, in a
vhost of the test's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.infra.fixtures import SharedVhost

pytestmark = pytest.mark.interop

SCENARIO = Path(__file__).with_name("coexist_scenario.py")
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("conf", ["global", "fresh"])
@pytest.mark.parametrize("order", ["oslo-first", "ours-first"])
def test_both_libraries_share_one_process_and_config(shared_vhost: SharedVhost, order: str,
                                                     conf: str) -> None:
    name = f"coexist-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    proc = subprocess.run(
        [sys.executable, str(SCENARIO), "--order", order, "--conf", conf,
         "--url", shared_vhost.url, "--name", name],
        capture_output=True, text=True, timeout=120, cwd=str(REPO_ROOT), env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["ours_to_oslo"] == {"server": "oslo", "value": "ours"}
    assert result["oslo_to_ours"] == {"server": "ours", "value": "oslo"}
    assert result["control_exchange"] == [name]
    assert result["ours_heard"] == {"publisher_id": "oslo.pub", "event_type": "oslo.event",
                                    "payload": {"from": "oslo"}}
    assert result["oslo_heard"] == {"publisher_id": "ours.pub", "event_type": "ours.event",
                                    "payload": {"from": "ours"}}

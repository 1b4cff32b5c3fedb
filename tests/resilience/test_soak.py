"""The short CI version of the soak (``tools/soak.py``): mixed load through faults.

Each scenario runs on private RabbitMQ node(s) with the driver's default options, for about
15-20 s of load with one or two faults: connection kills, a broker restart (stop_app /
start_app, default non-durable queues), and the stop of the node leading the topic queue
of a 3-node cluster with quorum queues. Nothing confirmed may be lost (but for a message
confirmed into a transient queue in the instant a broker stops, which only durable queues
prevent) or executed twice, no call may outlive its timeout by more than a second, and afterwards the broker must hold no
unacknowledged message and every queue its expected consumers. The full 60 s soak is
``python tools/soak.py``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.infra.nodes import RabbitMQTools

pytestmark = pytest.mark.broker

SOAK_PATH = Path(__file__).resolve().parents[2] / "tools" / "soak.py"


def _load_soak() -> ModuleType:
    """Import ``tools/soak.py`` (``tools`` is not a package) as ``legacy_rpc_soak``."""
    name = "legacy_rpc_soak"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SOAK_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


soak = _load_soak()

#: Per scenario: 12-18 s of load with one or two faults, then the quiet period. The whole
#: module takes about 1.5 minutes on 2 cores, node starts included.
SHORT: dict[str, dict[str, Any]] = {
    "kills": {"duration": 12.0, "first_fault": 4.0, "kill_interval": 5.0},
    "restarts": {"duration": 18.0, "first_fault": 5.0, "restart_interval": 60.0,
                 "downtime": 2.0},
    "cluster": {"duration": 15.0, "first_fault": 4.0, "cluster_interval": 60.0,
                "downtime": 2.0},
}


@pytest.mark.timeout(150)
@pytest.mark.parametrize("scenario", soak.SCENARIOS)
def test_short_soak(scenario: str, rabbitmq_tools: RabbitMQTools) -> None:
    config = soak.ScenarioConfig(scenario, tools=rabbitmq_tools, **SHORT[scenario])
    result = soak.run_scenario(config)
    table = soak.format_table([result])
    print(table)  # shown by pytest -rA or on failure
    assert result.faults, f"no fault was injected\n{table}"
    assert result.casts_confirmed > 0 and result.notes_confirmed > 0 and result.calls_ok > 0, \
        f"no load ran\n{table}"
    if scenario == "restarts":
        # The one loss default (transient) queues cannot prevent: a message the broker
        # confirmed into a queue that the stop then deleted, in the last moment before it
        # went down (seen once in 13 restarts). Any other loss fails.
        assert result.casts_lost == result.casts_lost_at_stop and \
            result.notes_lost == result.notes_lost_at_stop, f"confirmed but lost\n{table}"
    else:
        assert result.casts_lost == 0 and result.notes_lost == 0, \
            f"confirmed but lost\n{table}"
    # The one duplicate no consumer can prevent (oslo.messaging neither): an ack that
    # crosses the broker's closing of the connection is discarded, and the message goes to
    # another server. It can only happen at a fault; any other duplicate fails.
    duplicated = (result.casts_duplicated + result.notes_duplicated
                  + result.calls_executed_twice)
    assert duplicated == result.duplicated_at_fault, f"executed more than once\n{table}"
    assert result.calls_past_deadline == 0, f"calls past their deadline\n{table}"
    assert not result.stuck_threads, f"load threads stuck\n{table}"
    assert result.broker_settled and result.broker_unacked == 0, \
        f"the broker did not settle\n{table}"
    assert result.consumers_ok, f"queues without their expected consumers\n{table}"

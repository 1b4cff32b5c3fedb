"""Fixtures for resilience tests: a private RabbitMQ vhost whose connections we can drop.

Dropping connections with ``rabbitmqctl close_all_connections -p <vhost>`` affects only this
test's vhost, so other users of the broker (other tests, other sessions) are not disturbed.
"""

from __future__ import annotations

import subprocess
from urllib.parse import quote

import pytest

from tests.infra.fixtures import SharedVhost


def rabbitmqctl(*args: str, timeout: float = 30) -> str:
    result = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True,
                            timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


class Vhost:
    """A throwaway vhost that the test's user may use."""

    def __init__(self, name: str, base_url: str) -> None:
        self.name = name
        self.url = f"{base_url.rstrip('/')}/{quote(name, safe='')}"

    def drop_connections(self) -> int:
        """Close every connection of the vhost; return how many were closed."""
        out = rabbitmqctl("close_all_connections", "-p", self.name, "resilience test")
        for word in out.split():
            if word.isdigit():
                return int(word)
        return 0

    def connection_names(self) -> list[str]:
        out = rabbitmqctl("list_connections", "vhost", "name", "-q", "--no-table-headers")
        rows = [line.split("\t", 1) for line in out.splitlines() if "\t" in line]
        return [name for vhost, name in rows if vhost == self.name]

    def delete_queue(self, queue: str) -> None:
        rabbitmqctl("delete_queue", "-p", self.name, queue)

    def queue_names(self) -> list[str]:
        out = rabbitmqctl("list_queues", "-p", self.name, "name", "-q", "--no-table-headers")
        return [line.strip() for line in out.splitlines() if line.strip()]


@pytest.fixture
def vhost(shared_vhost: SharedVhost) -> Vhost:
    """The test's own vhost on the shared broker (``tests.infra``'s ``shared_vhost``), with
    the helpers resilience tests use."""
    return Vhost(shared_vhost.name, shared_vhost.url.rsplit("/", 1)[0])

"""Throwaway virtual hosts on the shared RabbitMQ for amqp1 tests.

RabbitMQ 3.x's AMQP 1.0 clients cannot delete the queues they declare (reply queues,
topic queues), so every amqp1 test session works in a vhost of its own, deleted with all
its queues at the end, instead of leaving queues behind on the shared vhost.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest

from tests.conftest import brokers_required

__all__ = ["amqp1_vhost_url", "rabbitmqctl", "vhost_or_skip"]


def rabbitmqctl(*args: str, timeout: float = 60) -> str:
    """Run ``rabbitmqctl`` on the shared broker and return its output (raise on failure)."""
    result = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True,
                            timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


@contextlib.contextmanager
def amqp1_vhost_url(rabbit_url: str, purpose: str) -> Iterator[str]:
    """An ``amqp1://`` URL to a new vhost of the broker of ``rabbit_url``; deleted after."""
    if shutil.which("rabbitmqctl") is None:
        raise RuntimeError("rabbitmqctl is needed to create a vhost for amqp1 tests")
    parts = urlsplit(rabbit_url.split(",")[0])
    user = parts.username or "guest"
    vhost = f"lrpc-amqp1-{purpose}-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        netloc = parts.netloc or "guest:guest@127.0.0.1:5672"
        yield f"amqp1://{netloc}/{quote(vhost, safe='')}"
    finally:
        with contextlib.suppress(Exception):
            rabbitmqctl("delete_vhost", vhost)


@contextlib.contextmanager
def vhost_or_skip(vhost: contextlib.AbstractContextManager[str]) -> Iterator[str]:
    """Enter ``vhost``; if it cannot be made, skip (fail when brokers are required)."""
    try:
        url = vhost.__enter__()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        if brokers_required():
            pytest.fail(f"no vhost for amqp1 tests: {exc}", pytrace=False)
        pytest.skip(f"no vhost for amqp1 tests: {exc}")
    try:
        yield url
    finally:
        vhost.__exit__(None, None, None)

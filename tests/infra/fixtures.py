"""Pytest fixtures over private nodes, the inspector, the fault proxy and resource counts.

Registered for the whole suite by ``pytest_plugins`` in ``tests/conftest.py``.

- ``private_node`` (module): one private RabbitMQ node per test module (a start costs
  about 3 s); ``private_vhost`` (function) gives each test a vhost of its own on it and
  first brings the node back up if an earlier test left it stopped;
  ``fresh_private_node`` (function) is a brand-new node for tests that need a pristine
  broker (or kill it).
- ``cluster3`` (module): a three-node cluster; tests that stop a node start it again.
- ``fault_proxy`` (function): a :class:`FaultProxy` in front of the shared broker.
- ``shared_vhost`` / ``inspector`` (function): a throwaway vhost on the shared broker
  (made and deleted through the management API when it answers, else with
  ``rabbitmqctl``) and a :class:`BrokerInspector` of it; ``make_inspector`` (session) builds one for any vhost
  of the shared broker (e.g. the resilience suite's ``vhost``).
- ``resource_baseline`` (function): thread and file-descriptor counts at the test's
  start, to assert that a test's clients gave everything back.

The shared broker's inspector reads ``rabbitmqctl`` (always current) unless its
management API has fresh statistics (``collect_statistics_interval`` <= 1 s and 1 s
samples); ``LEGACY_RPC_INSPECTOR=http`` or ``=rabbitmqctl`` forces a backend and
``LEGACY_RPC_RABBIT_API_URL`` names the API (default ``http://HOST:15672/api/``) and
``LEGACY_RPC_RABBIT_NODE`` the node for ``rabbitmqctl -n`` (default: the CLI's default).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import pytest

from tests.conftest import brokers_required
from tests.infra.faultproxy import FaultProxy
from tests.infra.inspect import BrokerInspector
from tests.infra.nodes import (
    Cluster,
    PrivateNode,
    RabbitMQTools,
    management_request,
    rabbitmq_or_skip,
    sweep_stale_dirs,
)

__all__ = [
    "PrivateVhost",
    "ResourceBaseline",
    "SharedVhost",
    "choose_shared_inspector",
    "cluster3",
    "fault_proxy",
    "fresh_private_node",
    "inspector",
    "make_inspector",
    "private_node",
    "private_vhost",
    "rabbitmq_tools",
    "resource_baseline",
    "shared_vhost",
]

# ------------------------------------------------------------------ private nodes


@pytest.fixture(scope="session")
def rabbitmq_tools() -> RabbitMQTools:
    """The RabbitMQ scripts for private nodes, or skip (fail under REQUIRE_BROKERS=1).

    Also removes what killed test runs left behind (see :func:`sweep_stale_dirs`).
    """
    tools = rabbitmq_or_skip()
    sweep_stale_dirs()
    return tools


@pytest.fixture(scope="module")
def private_node(rabbitmq_tools: RabbitMQTools) -> Iterator[PrivateNode]:
    """A private RabbitMQ node shared by the tests of one module (see ``private_vhost``)."""
    with PrivateNode(tools=rabbitmq_tools) as node:
        yield node


@dataclass(frozen=True)
class PrivateVhost:
    """A vhost of the test's own on a private node."""

    node: PrivateNode
    name: str
    url: str

    def inspector(self, backend: str = "http") -> BrokerInspector:
        """An inspector of this vhost (``http`` or ``rabbitmqctl``)."""
        return self.node.inspector(self.name, backend=backend)


@pytest.fixture
def private_vhost(private_node: PrivateNode) -> Iterator[PrivateVhost]:
    """A fresh vhost on the module's private node, which is brought up first if needed."""
    private_node.ensure_running()
    name = f"t-{uuid.uuid4().hex[:10]}"
    url = private_node.add_vhost(name)
    try:
        yield PrivateVhost(private_node, name, url)
    finally:
        if private_node.running:
            # The node may be left with its application stopped; then the vhost goes
            # with the node at the end of the module.
            private_node.delete_vhost(name, check=False)


@pytest.fixture
def fresh_private_node(rabbitmq_tools: RabbitMQTools) -> Iterator[PrivateNode]:
    """A brand-new private node for this test only."""
    with PrivateNode(tools=rabbitmq_tools) as node:
        yield node


@pytest.fixture(scope="module")
def cluster3(rabbitmq_tools: RabbitMQTools) -> Iterator[Cluster]:
    """A three-node private cluster for one module (quorum queues work on it)."""
    with Cluster(3, tools=rabbitmq_tools) as cluster:
        yield cluster


# ------------------------------------------------------------------ the shared broker


def _host_port(url: str) -> tuple[str, int]:
    first = urlsplit(f"//{urlsplit(url).netloc.split(',')[0]}")
    return first.hostname or "127.0.0.1", first.port or 5672


def _credentials(url: str) -> tuple[str, str]:
    parts = urlsplit(url.split(",")[0])
    return unquote(parts.username or "guest"), unquote(parts.password or "guest")


@pytest.fixture
def fault_proxy(rabbit_url: str) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the shared broker; ``fault_proxy.url(...)``."""
    host, port = _host_port(rabbit_url)
    with FaultProxy(port, host) as proxy:
        yield proxy


#: Erlang expression printing the statistics interval (ms) and the smallest sample step
#: (s) of the management database's basic and global policies.
_FRESHNESS_EVAL = (
    "{ok, I} = application:get_env(rabbit, collect_statistics_interval), "
    "P = rabbit_mgmt_agent_config:get_env(sample_retention_policies), "
    "S = lists:max([element(2, hd(proplists:get_value(K, P))) || K <- [global, basic]]), "
    "io:format(\"~b ~b~n\", [I, S])."
)


def choose_shared_inspector(rabbit_url: str) -> Callable[[str], BrokerInspector]:
    """Pick the shared broker's inspector backend once; return a vhost -> inspector factory.

    ``rabbitmqctl`` unless the management API answers with fresh statistics (see the
    module docstring); HTTP with the broker's real intervals if ``rabbitmqctl`` is absent.
    """
    host, _ = _host_port(rabbit_url)
    user, password = _credentials(rabbit_url)
    api_url = os.environ.get("LEGACY_RPC_RABBIT_API_URL", f"http://{host}:15672/api/")
    forced = os.environ.get("LEGACY_RPC_INSPECTOR", "")
    if forced not in ("", "http", "rabbitmqctl"):
        raise pytest.UsageError(f"LEGACY_RPC_INSPECTOR={forced!r}: use http or rabbitmqctl")
    ctl = shutil.which("rabbitmqctl")
    node = os.environ.get("LEGACY_RPC_RABBIT_NODE") or None

    def http(stats: float = 5.0, sample: float = 5.0) -> Callable[[str], BrokerInspector]:
        return lambda vhost: BrokerInspector.for_http(
            api_url, user, password, vhost, stats_interval=stats, sample_interval=sample)

    def rabbitmqctl() -> Callable[[str], BrokerInspector]:
        return lambda vhost: BrokerInspector.for_rabbitmqctl(node, vhost)

    if forced == "rabbitmqctl":
        return rabbitmqctl()
    api_answers = BrokerInspector.for_http(api_url, user, password, timeout=3).ping()
    intervals = _stats_intervals(node) if ctl and api_answers else None
    if forced == "http":
        return http(*intervals) if intervals else http()
    if ctl:
        fresh = intervals is not None and intervals[0] <= 1.0 and intervals[1] <= 1.0
        return http(*intervals) if fresh and intervals else rabbitmqctl()
    if api_answers:
        return http()
    reason = f"neither rabbitmqctl nor the management API ({api_url}) is available"
    if brokers_required():
        pytest.fail(f"{reason} and LEGACY_RPC_REQUIRE_BROKERS=1", pytrace=False)
    pytest.skip(reason)


def _stats_intervals(node: str | None) -> tuple[float, float] | None:
    """(statistics interval, sample step) in seconds, read from the broker, or None."""
    command = ["rabbitmqctl", *(["-n", node] if node else []), "eval", _FRESHNESS_EVAL]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30,
                             check=False).stdout.split()
        return int(out[0]) / 1000, float(out[1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return None


@pytest.fixture(scope="session")
def make_inspector(rabbit_url: str) -> Callable[[str], BrokerInspector]:
    """Build a :class:`BrokerInspector` for a vhost of the shared broker."""
    return choose_shared_inspector(rabbit_url)


@dataclass(frozen=True)
class SharedVhost:
    """A throwaway vhost on the shared broker."""

    name: str
    url: str


def _rabbitmqctl(*args: str, timeout: float = 60) -> None:
    node = os.environ.get("LEGACY_RPC_RABBIT_NODE")
    result = subprocess.run(["rabbitmqctl", *(["-n", node] if node else []), *args],
                            capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")


def _shared_rabbitmqctl(*args: str) -> None:
    """``rabbitmqctl`` on the shared broker, waiting out a restart by another test once."""
    try:
        _rabbitmqctl(*args)
    except RuntimeError:
        _rabbitmqctl("await_startup", "--timeout", "120", timeout=150)
        _rabbitmqctl(*args)


class _VhostAdmin:
    """Adds and deletes vhosts of the shared broker.

    Through its management API when that answers (a few milliseconds per request), else
    with ``rabbitmqctl`` (about 1 s per command: an Erlang VM starts each time; with three
    commands per test, that was 3 s of every ``shared_vhost`` test). Both end in the same
    broker calls (``rabbit_vhost:add``, ``rabbit_auth_backend_internal:set_permissions``,
    ``rabbit_vhost:delete``), which return once the vhost is ready or gone. A request the
    API fails (e.g. while another test restarts the broker) is done with ``rabbitmqctl``,
    which waits out the restart.
    """

    def __init__(self, rabbit_url: str) -> None:
        host, _ = _host_port(rabbit_url)
        self.user, password = _credentials(rabbit_url)
        api_url = os.environ.get("LEGACY_RPC_RABBIT_API_URL", f"http://{host}:15672/api/")
        self.api = api_url.rstrip("/") + "/"
        if not self.api.endswith("/api/"):
            self.api += "api/"
        self._password = password
        # The API may be used only if it answers with a node's overview: then its
        # add/delete calls go to the broker the tests use.
        self.http = self._request("GET", "overview")

    def _request(self, method: str, path: str, body: dict[str, str] | None = None) -> bool:
        return management_request(self.api, self.user, self._password, method, path, body)

    def add(self, name: str) -> None:
        vhost = quote(name, safe="")
        if not (self.http and self._request("PUT", f"vhosts/{vhost}")):
            _shared_rabbitmqctl("add_vhost", name)
        if not (self.http and self._request(
                "PUT", f"permissions/{vhost}/{quote(self.user, safe='')}",
                {"configure": ".*", "write": ".*", "read": ".*"})):
            _shared_rabbitmqctl("set_permissions", "-p", name, self.user, ".*", ".*", ".*")

    def delete(self, name: str) -> None:
        if not (self.http and self._request("DELETE", f"vhosts/{quote(name, safe='')}")):
            _shared_rabbitmqctl("delete_vhost", name)


@pytest.fixture(scope="session")
def _vhost_admin(rabbit_url: str) -> _VhostAdmin:
    return _VhostAdmin(rabbit_url)


@pytest.fixture
def shared_vhost(rabbit_url: str, _vhost_admin: _VhostAdmin) -> Iterator[SharedVhost]:
    """A vhost of this test's own on the shared broker, deleted afterwards."""
    if shutil.which("rabbitmqctl") is None:
        if brokers_required():
            pytest.fail("rabbitmqctl is needed to create a vhost", pytrace=False)
        pytest.skip("rabbitmqctl is not available")
    name = f"legacy-rpc-infra-{uuid.uuid4().hex[:8]}"
    parts = urlsplit(rabbit_url.split("?")[0])
    _vhost_admin.add(name)
    try:
        yield SharedVhost(name, f"{parts.scheme}://{parts.netloc}/{quote(name, safe='')}")
    finally:
        _vhost_admin.delete(name)


@pytest.fixture
def inspector(shared_vhost: SharedVhost,
              make_inspector: Callable[[str], BrokerInspector]) -> BrokerInspector:
    """An inspector of ``shared_vhost`` (the test's vhost on the shared broker)."""
    return make_inspector(shared_vhost.name)


# ------------------------------------------------------------------ resources


def _open_fds() -> dict[int, str]:
    fds: dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the directory's own fd, already closed
    return fds


class ResourceBaseline:
    """Thread and open-fd counts of this process at one moment, to compare with later.

    Counts are compared, not identities, so that a socket closed and opened again (a
    listener re-created) is no leak; the failure message names what is new.
    """

    def __init__(self) -> None:
        self.threads = set(threading.enumerate())
        self.fds = _open_fds()

    @property
    def thread_count(self) -> int:
        return len(self.threads)

    @property
    def fd_count(self) -> int:
        return len(self.fds)

    def new_threads(self) -> list[threading.Thread]:
        """Threads alive now that were not at the baseline."""
        return [t for t in threading.enumerate() if t not in self.threads]

    def new_fds(self) -> dict[int, str]:
        """Open fds (number -> what they point at) that were not open at the baseline."""
        return {fd: target for fd, target in _open_fds().items()
                if self.fds.get(fd) != target}

    def wait_returned(self, timeout: float = 10.0, *, threads: bool = True,
                      fds: bool = True) -> None:
        """Wait until the thread and fd counts are back at (or below) the baseline."""
        deadline = time.monotonic() + timeout
        while True:
            extra_threads = threading.active_count() - self.thread_count if threads else 0
            extra_fds = len(_open_fds()) - self.fd_count if fds else 0
            if extra_threads <= 0 and extra_fds <= 0:
                return
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"resources not returned after {timeout:.1f}s: {extra_threads} more "
                    f"threads {[t.name for t in self.new_threads()]}, {extra_fds} more fds "
                    f"{self.new_fds()}")
            time.sleep(0.05)


@pytest.fixture
def resource_baseline() -> ResourceBaseline:
    """Threads and fds at the test's start; call ``wait_returned()`` to check the end."""
    return ResourceBaseline()

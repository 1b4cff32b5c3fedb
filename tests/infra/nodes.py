"""Private RabbitMQ nodes and clusters that the test tooling starts and stops itself.

A resilience test that restarts, kills or partitions a broker must not do it to the shared
broker (``rabbit@localhost``, used by every other test at the same time). A
:class:`PrivateNode` is a broker of its own: its own node name, AMQP, distribution and
management ports, and its own data, log, config and plugin files under a temporary
directory, all given to ``rabbitmq-server`` through ``RABBITMQ_*`` variables (with
``RABBITMQ_CONF_ENV_FILE`` pointing at an empty file of ours, so that the system's
``rabbitmq-env.conf``, which names ``rabbit@localhost``, is never read). The Erlang cookie
is ``$HOME/.erlang.cookie`` with ``HOME`` set to a directory of the node; ``rabbitmqctl -n``
gets the same environment. A :class:`Cluster` is N such nodes with one cookie, joined into
one cluster as they boot (or with ``stop_app`` / ``join_cluster`` / ``start_app``).

Measured on 2 cores (RabbitMQ 3.10.8 with the management plugin): a node starts in about
3 s, a 3-node cluster in about 8 s, ``stop_app`` + ``start_app`` take about 2 s, and a
killed node is gone in 0.1 s.

The nodes run as children of the test process in a process group of their own, are killed
at interpreter exit if a test forgot to stop them, and (when started from the main thread)
also get SIGTERM if the test process dies. Nothing here waits with a fixed sleep: every
wait polls a condition until a deadline.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from tests.conftest import brokers_required

if TYPE_CHECKING:
    from tests.infra.inspect import BrokerInspector

__all__ = [
    "Cluster",
    "NodeError",
    "PrivateNode",
    "RabbitMQTools",
    "find_rabbitmq",
    "free_ports",
    "live_processes",
    "process_tree",
    "rabbitmq_or_skip",
    "random_cookie",
    "release_ports",
    "sweep_stale_dirs",
]

#: Where the real server scripts live on Debian/Ubuntu; /usr/sbin holds wrappers that
#: switch to the ``rabbitmq`` user and write to /var/log, which we must not do.
_DEBIAN_SCRIPTS = Path("/usr/lib/rabbitmq/bin")
#: Ports the RabbitMQ CLI tools use for their own Erlang distribution (35672-35682).
_CLI_DIST_PORTS = range(35672, 35683)
#: Keeps the distribution listener of our nodes (and of their CLI calls) on loopback.
_ERL_FLAGS = "-kernel inet_dist_use_interface {127,0,0,1}"
_POLL = 0.05


class NodeError(RuntimeError):
    """A private node did not start, stop or answer as asked."""


# ------------------------------------------------------------------ locating RabbitMQ


@dataclass(frozen=True)
class RabbitMQTools:
    """Paths of the RabbitMQ scripts used to run private nodes."""

    server: Path
    ctl: Path
    plugins: Path


def _is_su_wrapper(script: Path) -> bool:
    try:
        return "/usr/lib/rabbitmq/bin/" in script.read_text(errors="replace")
    except OSError:
        return True


def find_rabbitmq() -> RabbitMQTools | None:
    """The RabbitMQ scripts to run private nodes with, or None when not installed.

    ``LEGACY_RPC_RABBITMQ_SBIN`` names the directory (and then only it is tried);
    otherwise the Debian location and then ``rabbitmq-server`` on ``PATH`` (unless it is
    the Debian ``su`` wrapper) are tried.
    """
    configured = os.environ.get("LEGACY_RPC_RABBITMQ_SBIN")
    candidates: list[Path] = [Path(configured)] if configured else [_DEBIAN_SCRIPTS]
    on_path = shutil.which("rabbitmq-server")
    if not configured and on_path and not _is_su_wrapper(Path(on_path)):
        candidates.append(Path(on_path).parent)
    for directory in candidates:
        tools = RabbitMQTools(directory / "rabbitmq-server", directory / "rabbitmqctl",
                              directory / "rabbitmq-plugins")
        if all(os.access(path, os.X_OK) for path in (tools.server, tools.ctl, tools.plugins)):
            return tools
    return None


def rabbitmq_or_skip() -> RabbitMQTools:
    """The RabbitMQ scripts, or skip the test (fail when LEGACY_RPC_REQUIRE_BROKERS=1)."""
    tools = find_rabbitmq()
    if tools is None:
        where = os.environ.get("LEGACY_RPC_RABBITMQ_SBIN") or f"{_DEBIAN_SCRIPTS} or PATH"
        reason = (f"no rabbitmq-server, rabbitmqctl and rabbitmq-plugins in {where} (set "
                  "LEGACY_RPC_RABBITMQ_SBIN): private RabbitMQ nodes cannot be started")
        if brokers_required():
            pytest.fail(f"{reason}, and LEGACY_RPC_REQUIRE_BROKERS=1", pytrace=False)
        pytest.skip(f"{reason}; set LEGACY_RPC_REQUIRE_BROKERS=1 to fail instead")
    return tools


# ------------------------------------------------------------------ ports

_reserved_ports: set[int] = set()
_ports_lock = threading.Lock()


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback TCP ports, reserved until :func:`release_ports`.

    The kernel picks them (bind to port 0). Ports already handed to another private node
    of this process are never handed out again while reserved, so a stopped node finds
    its ports free when it starts again.
    """
    ports: list[int] = []
    held: list[socket.socket] = []
    try:
        with _ports_lock:
            while len(ports) < count:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                held.append(sock)
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
                if port in _CLI_DIST_PORTS or port in _reserved_ports:
                    continue
                ports.append(port)
            _reserved_ports.update(ports)
    finally:
        for sock in held:
            sock.close()
    return ports


def release_ports(ports: Iterable[int]) -> None:
    """Give reserved ports back (when their node is gone for good)."""
    with _ports_lock:
        _reserved_ports.difference_update(ports)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            # With nothing listening, a connect from the same (ephemeral) port number
            # can succeed by connecting the socket to itself.
            return bool(sock.getsockname() != sock.getpeername())
    except OSError:
        return False


def _proc_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, pgrp, state) of every process, read from ``/proc``."""
    table: dict[int, tuple[int, int, str]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may contain spaces, so split after ")".
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2:
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def process_tree(root: int) -> set[int]:
    """``root`` and all its descendants, plus everything in its process group.

    The beam's helpers (``erl_child_setup``, ``inet_gethost``) start sessions of their
    own, so the process group alone does not hold them all.
    """
    table = _proc_table()
    tree = {root} | {pid for pid, (_, pgrp, _) in table.items() if pgrp == root}
    grew = True
    while grew:
        children = {pid for pid, (ppid, _, _) in table.items() if ppid in tree}
        grew = not children <= tree
        tree |= children
    return tree


def _threads_alive(pid: int) -> bool:
    """True while any thread of ``pid`` runs (the leader may be a zombie before the rest)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        try:
            stat = Path(f"/proc/{pid}/task/{task}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2:].split()[0] not in ("Z", "X"):
            return True
    return False


def live_processes(pids: Iterable[int]) -> set[int]:
    """The processes of ``pids`` that still run (zombies do not count).

    A killed beam is re-parented to init, which may take seconds to reap it; a zombie
    whose threads have all exited holds no port or file any more.
    """
    table = _proc_table()
    return {pid for pid in pids if pid in table
            and (table[pid][2] not in ("Z", "X") or _threads_alive(pid))}


def _wait_gone(pids: Iterable[int], timeout: float) -> bool:
    """Wait until none of ``pids`` runs; False if some still do at the deadline."""
    pending = set(pids)
    deadline = time.monotonic() + timeout
    while live_processes(pending):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True


def _wait(predicate: Callable[[], bool], deadline: float, what: Callable[[], str]) -> None:
    while not predicate():
        if time.monotonic() >= deadline:
            raise NodeError(f"timed out: {what()}")
        time.sleep(_POLL)


# ------------------------------------------------------------------ stale directories

#: Names the process that made a top-level node or cluster directory: "pid starttime".
_OWNER_FILE = ".lrpc-owner"


def _process_stamp(pid: int) -> str | None:
    """``"pid starttime"`` of a live process (the pair is unique despite pid reuse)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return f"{pid} {stat[stat.rfind(')') + 2:].split()[19]}"


def _mark_owner(directory: Path) -> None:
    (directory / _OWNER_FILE).write_text(_process_stamp(os.getpid()) or "")


def sweep_stale_dirs(parent: str | Path | None = None) -> list[Path]:
    """Kill nodes and remove directories left by test processes that died (e.g. SIGKILL).

    Only ``lrpc-*`` directories whose owner file names a process that no longer exists
    are touched; a node still running from one (its working directory is inside) was
    orphaned and is killed first. Returns the directories removed.
    """
    removed = []
    for entry in sorted(Path(parent or tempfile.gettempdir()).glob("lrpc-*")):
        try:
            stamp = (entry / _OWNER_FILE).read_text().strip()
            owner = int(stamp.split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if _process_stamp(owner) == stamp:
            continue
        orphans = _processes_inside(entry)
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        _wait_gone(orphans, 10)
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _processes_inside(directory: Path) -> list[int]:
    inside = []
    prefix = str(directory.resolve()) + os.sep
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (os.readlink(f"/proc/{entry.name}/cwd") + os.sep).startswith(prefix):
                    inside.append(int(entry.name))
    return inside


# ------------------------------------------------------------------ nodes

_live_nodes: set[PrivateNode] = set()
_live_lock = threading.Lock()


def _kill_leftovers() -> None:
    with _live_lock:
        nodes = list(_live_nodes)
    for node in nodes:
        with contextlib.suppress(Exception):
            node.close()


atexit.register(_kill_leftovers)


def _random_name(length: int = 8) -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(length))


def random_cookie() -> str:
    """A fresh Erlang cookie (only nodes that share it can cluster or be controlled)."""
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(24))


def management_request(api_url: str, user: str, password: str, method: str, path: str,
                       body: dict[str, str] | None = None) -> bool:
    """One request to a RabbitMQ management API (``api_url`` ends in ``/api/``); whether
    it succeeded (False also when the API does not answer)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    request = urllib.request.Request(
        api_url + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return 200 <= int(response.status) < 300
    except (OSError, ValueError):  # URLError, HTTPError and timeouts are OSErrors
        return False


class PrivateNode:
    """One RabbitMQ node of the test's own, on free loopback ports, under a temp dir.

    ``start()`` launches ``rabbitmq-server`` and waits until the AMQP (and management)
    ports answer; ``stop()`` ends the whole node; ``stop_app()`` / ``start_app()`` restart
    the broker inside the running Erlang node, as an operator's broker restart does.
    ``close()`` (or leaving the ``with`` block) stops the node and removes its directory.
    Data survives ``stop()`` / ``start()``: the name, ports and directory stay the same.

    ``plugins`` go to the node's own enabled_plugins file (``rabbitmq_management`` by
    default, for :class:`~tests.infra.inspect.BrokerInspector`); ``config`` adds
    ``rabbitmq.conf`` lines. So that HTTP numbers are fresh, statistics are collected
    every ``stats_interval_ms`` (500 ms instead of 5 s) and the management database
    samples message counts every second (instead of every 5 s).
    """

    user = "guest"
    password = "guest"

    def __init__(
        self,
        name: str | None = None,
        *,
        cookie: str | None = None,
        base_dir: str | Path | None = None,
        plugins: Sequence[str] = ("rabbitmq_management",),
        config: Sequence[str] = (),
        stats_interval_ms: int = 500,
        tools: RabbitMQTools | None = None,
    ) -> None:
        found = tools or find_rabbitmq()
        if found is None:
            raise NodeError("rabbitmq-server is not installed")
        self.tools = found
        short = name or f"lrpc-{_random_name()}"
        self.nodename = short if "@" in short else f"{short}@localhost"
        self.cookie = cookie or random_cookie()
        self.plugins = tuple(plugins)
        self.extra_config = tuple(config)
        self.stats_interval_ms = stats_interval_ms
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.nodename.split('@')[0]}-",
                                         dir=base_dir))
        if base_dir is None:
            _mark_owner(self.dir)
        self.amqp_port, self.dist_port, self.mgmt_port = free_ports(3)
        self._proc: subprocess.Popen[bytes] | None = None
        self._closed = False
        self.start_seconds: float | None = None
        self._launched_at = 0.0
        with _live_lock:
            _live_nodes.add(self)
        self._write_files()

    # ---------------------------------------------------------------- files and env

    @property
    def home(self) -> Path:
        return self.dir / "home"

    @property
    def log_dir(self) -> Path:
        return self.dir / "log"

    @property
    def console_log(self) -> Path:
        return self.log_dir / "console.log"

    @property
    def node_log(self) -> Path:
        return self.log_dir / f"{self.nodename}.log"

    def _write_files(self) -> None:
        for sub in ("home", "mnesia", "log"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(self.cookie)
        cookie.chmod(0o400)
        # Our own (empty) env file replaces /etc/rabbitmq/rabbitmq-env.conf.
        (self.dir / "rabbitmq-env.conf").write_text("# private test node: no overrides\n")
        lines = [f"collect_statistics_interval = {self.stats_interval_ms}"]
        if "rabbitmq_management" in self.plugins:
            lines += ["management.tcp.ip = 127.0.0.1", f"management.tcp.port = {self.mgmt_port}"]
            # Message counts reach the HTTP API as samples, every 5 s by default.
            lines += [f"management.sample_retention_policies.{kind}.minute = 1"
                      for kind in ("global", "basic")]
            lines += ["management.sample_retention_policies.detailed.10 = 1"]
        lines += ["log.file.level = info", *self.extra_config]
        (self.dir / "rabbitmq.conf").write_text("\n".join(lines) + "\n")
        plugins = ",".join(self.plugins)
        (self.dir / "enabled_plugins").write_text(f"[{plugins}].\n")

    def env(self) -> dict[str, str]:
        """The environment of the node and of the CLI tools pointed at it.

        Inherited ``RABBITMQ_*`` and ``ERL_*`` variables are dropped so that neither the
        caller's environment nor the system's env file can point us at the shared broker.
        """
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("RABBITMQ_", "ERL_")) and key != "NOTIFY_SOCKET"}
        env.update(
            HOME=str(self.home),
            LANG="C.UTF-8",
            LC_ALL="C.UTF-8",
            ERL_FLAGS=_ERL_FLAGS,
            ERL_EPMD_ADDRESS="127.0.0.1",
            RABBITMQ_CONF_ENV_FILE=str(self.dir / "rabbitmq-env.conf"),
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.amqp_port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.log_dir),
            RABBITMQ_CONFIG_FILE=str(self.dir / "rabbitmq.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.dir / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(self.dir / "rabbitmq.pid"),
        )
        return env

    # ---------------------------------------------------------------- addresses

    @property
    def url(self) -> str:
        """Transport URL of this node (guest may log in because we connect over loopback)."""
        return f"rabbit://{self.user}:{self.password}@127.0.0.1:{self.amqp_port}/"

    @property
    def api_url(self) -> str:
        """Base URL of the management HTTP API (``.../api/``)."""
        return f"http://127.0.0.1:{self.mgmt_port}/api/"

    def inspector(self, vhost: str = "/", *, backend: str = "http") -> BrokerInspector:
        """A :class:`BrokerInspector` of ``vhost`` on this node (``http`` or ``rabbitmqctl``)."""
        from tests.infra.inspect import BrokerInspector

        if backend == "http":
            return BrokerInspector.for_http(self.api_url, self.user, self.password, vhost,
                                            stats_interval=self.stats_interval_ms / 1000,
                                            sample_interval=1.0)
        if backend == "rabbitmqctl":
            return BrokerInspector.for_rabbitmqctl(self.nodename, vhost,
                                                   command=[str(self.tools.ctl)],
                                                   env=self.env())
        raise ValueError(f"unknown inspector backend {backend!r} (http or rabbitmqctl)")

    # ---------------------------------------------------------------- lifecycle

    @property
    def running(self) -> bool:
        """True while the node's process runs (its broker application may be stopped)."""
        return self._proc is not None and self._proc.poll() is None

    def launch(self) -> None:
        """Start ``rabbitmq-server`` without waiting; see :meth:`wait_started`."""
        if self._closed:
            raise NodeError(f"{self.nodename} is closed")
        if self.running:
            raise NodeError(f"{self.nodename} is already running")
        command = [str(self.tools.server)]
        setpriv = shutil.which("setpriv")
        if setpriv and threading.current_thread() is threading.main_thread():
            # If pytest itself dies, the node's wrapper gets SIGTERM and stops the node.
            # (The signal follows the parent *thread*, hence main thread only.)
            command = [setpriv, "--pdeathsig", "TERM", *command]
        self._launched_at = time.monotonic()
        with self.console_log.open("ab") as console:
            self._proc = subprocess.Popen(
                command, env=self.env(), cwd=self.dir, stdin=subprocess.DEVNULL,
                stdout=console, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_started(self, timeout: float = 60.0) -> None:
        """Wait until the AMQP (and management) listeners answer; fail if the node exits.

        RabbitMQ opens its client listeners only after the broker and its plugins have
        booted, so an answering AMQP port means the node is ready.
        """
        deadline = time.monotonic() + timeout
        ports = [self.amqp_port]
        if "rabbitmq_management" in self.plugins:
            ports.append(self.mgmt_port)

        def ready() -> bool:
            if not self.running:
                raise NodeError(f"{self.nodename} exited while starting "
                                f"(exit status {self._exit_status()})\n{self.log_tail()}")
            return all(_port_open(port) for port in ports)

        _wait(ready, deadline,
              lambda: f"{self.nodename} did not start in {timeout:.0f}s\n{self.log_tail()}")
        self.start_seconds = time.monotonic() - self._launched_at

    def start(self, timeout: float = 60.0) -> PrivateNode:
        """Start the node and wait until it accepts AMQP connections; returns ``self``."""
        self.launch()
        try:
            self.wait_started(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the whole node gracefully (SIGTERM); kill it if it is not gone in time.

        :meth:`kill` is faster when the test does not care how the node goes.
        """
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self._detach_management_handler()
        tree = process_tree(proc.pid)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        _wait_gone(tree, timeout)
        self._kill_tree(tree)

    def pids(self) -> set[int]:
        """The node's live processes (the wrapper, beam and its helpers)."""
        return live_processes(process_tree(self._proc.pid)) if self._proc else set()

    def kill(self) -> None:
        """Kill the node at once (SIGKILL to all its processes), as a crash would."""
        if self._proc is not None:
            self._kill_tree(process_tree(self._proc.pid))

    def _kill_tree(self, tree: set[int]) -> None:
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in live_processes(tree):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
        if not _wait_gone(tree, 10):
            raise NodeError(f"{self.nodename}: processes {sorted(live_processes(tree))} "
                            "survived SIGKILL")
        self._proc = None

    def restart(self, timeout: float = 60.0) -> None:
        """Stop the whole node and start it again (same name, ports and data)."""
        self.stop()
        self.start(timeout)

    def stop_app(self, timeout: float = 60.0) -> None:
        """Stop the broker application, keeping the Erlang node (``rabbitmqctl stop_app``)."""
        self._detach_management_handler()
        self.rabbitmqctl("stop_app", timeout=timeout)

    def _detach_management_handler(self) -> None:
        """Remove the management agent's event handler before a broker stop.

        On RabbitMQ 3.10 the handler's ``terminate`` stalls the shutdown of ``rabbit`` for
        5 s when it runs during the stop; run earlier, it takes milliseconds. The plugin
        adds it again when the broker starts. Best effort: a failure costs only the 5 s.
        """
        if "rabbitmq_management" in self.plugins and _port_open(self.amqp_port):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.rabbitmqctl("eval", "gen_event:delete_handler(rabbit_event, "
                                 "rabbit_mgmt_db_handler, []).", timeout=10, check=False)

    def start_app(self, timeout: float = 60.0) -> None:
        """Start the broker application again and wait until it accepts connections."""
        deadline = time.monotonic() + timeout
        self.rabbitmqctl("start_app", timeout=timeout)
        _wait(lambda: _port_open(self.amqp_port), deadline,
              lambda: f"{self.nodename}: AMQP port closed after start_app")

    def ensure_running(self, timeout: float = 60.0) -> None:
        """Start the node, or its broker application, if a test left it down."""
        if not self.running:
            self.start(timeout)
        elif not _port_open(self.amqp_port):
            self.start_app(timeout)

    def _api(self, method: str, path: str, body: dict[str, str] | None = None) -> bool:
        """One request to the management API; False if there is none or it failed.

        A few milliseconds, where a ``rabbitmqctl`` run costs about 1 s (its Erlang VM
        starts each time); both end in the same broker calls.
        """
        if "rabbitmq_management" not in self.plugins:
            return False
        return management_request(self.api_url, self.user, self.password, method, path, body)

    def add_vhost(self, name: str) -> str:
        """Create vhost ``name`` that guest may fully use; return its transport URL.

        Through the management API when the node has it, else with ``rabbitmqctl``.
        """
        vhost = quote(name, safe="")
        if not self._api("PUT", f"vhosts/{vhost}"):
            self.rabbitmqctl("add_vhost", name)
        if not self._api("PUT", f"permissions/{vhost}/{quote(self.user, safe='')}",
                         {"configure": ".*", "write": ".*", "read": ".*"}):
            self.rabbitmqctl("set_permissions", "-p", name, self.user, ".*", ".*", ".*")
        return self.vhost_url(name)

    def delete_vhost(self, name: str, *, check: bool = True) -> None:
        """Delete vhost ``name`` with everything in it (``check=False``: errors ignored)."""
        if not self._api("DELETE", f"vhosts/{quote(name, safe='')}"):
            self.rabbitmqctl("delete_vhost", name, check=check)

    def vhost_url(self, name: str) -> str:
        """The transport URL of vhost ``name`` on this node."""
        return self.url + quote(name, safe="")

    def close(self) -> None:
        """Stop the node at once and remove its directory; the ports are released."""
        if self._closed:
            return
        self.kill()
        self._closed = True
        with _live_lock:
            _live_nodes.discard(self)
        release_ports((self.amqp_port, self.dist_port, self.mgmt_port))
        if os.environ.get("LEGACY_RPC_KEEP_NODE_DIRS") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrivateNode:
        """Start the node unless it runs; a failed start closes it."""
        if not self.running:
            try:
                self.start()
            except BaseException:
                self.close()
                raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<PrivateNode {self.nodename} amqp={self.amqp_port} {state}>"

    def _exit_status(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def log_tail(self, lines: int = 25) -> str:
        """The last lines of the console and node logs, for error messages."""
        parts = []
        for path in (self.console_log, self.node_log):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path}\n" + "\n".join(text))
        return "\n".join(parts)

    # ---------------------------------------------------------------- CLI

    def rabbitmqctl(self, *args: str, timeout: float = 60.0, check: bool = True) -> str:
        """Run ``rabbitmqctl -n NODE ARGS`` against this node and return its stdout."""
        return self._cli(self.tools.ctl, args, timeout, check)

    def rabbitmq_plugins(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``rabbitmq-plugins -n NODE ARGS`` against this node."""
        return self._cli(self.tools.plugins, args, timeout, True)

    def _cli(self, tool: Path, args: Sequence[str], timeout: float, check: bool) -> str:
        result = subprocess.run([str(tool), "-n", self.nodename, *args], env=self.env(),
                                cwd=self.dir, capture_output=True, text=True,
                                timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise NodeError(f"{tool.name} -n {self.nodename} {' '.join(args)} failed "
                            f"({result.returncode}): {result.stderr.strip()}"
                            f" {result.stdout.strip()}")
        return result.stdout

    def close_all_connections(self, reason: str = "closed by test", *,
                              vhost: str | None = None) -> int:
        """Close the node's client connections (of ``vhost``, else of every vhost).

        Returns how many there were; each client gets a ``connection.close`` with
        ``CONNECTION_FORCED`` and ``reason``.
        """
        rows = self.rabbitmqctl("list_connections", "vhost", "-q", "--no-table-headers")
        count = len([row for row in rows.splitlines()
                     if row.strip() and (vhost is None or row.strip() == vhost)])
        if count:
            scope = ["--global"] if vhost is None else ["-p", vhost]
            self.rabbitmqctl("close_all_connections", *scope, reason)
        return count

    def cluster_status(self) -> dict[str, object]:
        """``rabbitmqctl cluster_status`` as a dict (``running_nodes``, ``disk_nodes``...)."""
        out = self.rabbitmqctl("cluster_status", "--formatter", "json", "-q")
        data = json.loads(out)
        if not isinstance(data, dict):
            raise NodeError(f"unexpected cluster_status output: {out!r}")
        return data

    def running_nodes(self) -> list[str]:
        """Names of the cluster's nodes whose broker runs, as this node sees them."""
        nodes = self.cluster_status().get("running_nodes", [])
        return sorted(str(node) for node in nodes) if isinstance(nodes, list) else []


# ------------------------------------------------------------------ clusters


class Cluster:
    """``size`` private nodes with one cookie, joined into one RabbitMQ cluster.

    Nodes 1.. join node 0. With ``join="boot"`` (the default, and the fastest) node 0
    starts first and the others join it while they boot for the first time (peer
    discovery with ``classic_config`` naming node 0, no restart of their broker needed);
    with ``join="cli"`` all nodes start at once and then nodes 1.. join with
    ``stop_app`` / ``join_cluster`` / ``start_app``, as an operator does. ``url`` is a
    multi-host transport URL over all nodes; ``stop_node(i)`` / ``start_node(i)`` take one
    node down and up again; ``close()`` (or leaving the ``with`` block) kills every node
    and removes the cluster's directory, also when the start failed half-way.
    """

    def __init__(
        self,
        size: int = 3,
        *,
        join: str = "boot",
        plugins: Sequence[str] = ("rabbitmq_management",),
        config: Sequence[str] = (),
        stats_interval_ms: int = 500,
        tools: RabbitMQTools | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        if join not in ("boot", "cli"):
            raise ValueError(f"join must be 'boot' or 'cli', not {join!r}")
        self.join = join
        self.dir = Path(tempfile.mkdtemp(prefix="lrpc-cluster-"))
        _mark_owner(self.dir)
        self.cookie = random_cookie()
        prefix = f"lrpc-{_random_name(6)}"
        seed = f"{prefix}-0@localhost"
        discovery = [
            "cluster_formation.peer_discovery_backend = classic_config",
            f"cluster_formation.classic_config.nodes.1 = {seed}",
        ]
        self.nodes: list[PrivateNode] = []
        try:
            for index in range(size):
                extra = discovery if join == "boot" and index > 0 else []
                self.nodes.append(PrivateNode(
                    f"{prefix}-{index}", cookie=self.cookie, base_dir=self.dir,
                    plugins=plugins, config=[*extra, *config],
                    stats_interval_ms=stats_interval_ms, tools=tools))
        except BaseException:
            self.close()
            raise
        self.start_seconds: float | None = None

    def start(self, timeout: float = 120.0) -> Cluster:
        """Start all nodes, join them into one cluster, and wait until all of them run."""
        began = time.monotonic()
        deadline = began + timeout

        def left() -> float:
            return max(deadline - time.monotonic(), 1.0)

        try:
            if self.join == "boot":
                self.nodes[0].start(left())
                others = self.nodes[1:]
            else:
                others = self.nodes
            for node in others:
                node.launch()
            for node in others:
                node.wait_started(left())
            if self.join == "cli":
                seed = self.nodes[0].nodename
                for node in self.nodes[1:]:
                    node.stop_app(left())
                    node.rabbitmqctl("join_cluster", seed, timeout=left())
                    node.start_app(left())
            self.wait_running(len(self.nodes), left())
        except BaseException:
            self.close()
            raise
        self.start_seconds = time.monotonic() - began
        return self

    def wait_running(self, count: int, timeout: float = 30.0, via: int | None = None) -> None:
        """Wait until ``count`` nodes run in the cluster, as seen from node ``via``."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []

        def enough() -> bool:
            nonlocal seen
            node = self.nodes[via] if via is not None else self._a_running_node()
            with contextlib.suppress(NodeError, subprocess.TimeoutExpired, ValueError):
                seen = node.running_nodes()
            return len(seen) == count

        _wait(enough, deadline, lambda: f"{count} running nodes expected, saw {seen}")

    def ensure_running(self, timeout: float = 90.0) -> None:
        """Start every node (or broker application) a test left down; wait for all."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            node.ensure_running(max(deadline - time.monotonic(), 1.0))
        self.wait_running(len(self.nodes), max(deadline - time.monotonic(), 1.0))

    def _a_running_node(self) -> PrivateNode:
        for node in self.nodes:
            if node.running:
                return node
        raise NodeError("no node of the cluster runs")

    @property
    def urls(self) -> list[str]:
        """The transport URL of each node."""
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """One transport URL listing every node (the driver fails over between them)."""
        hosts = ",".join(f"{node.user}:{node.password}@127.0.0.1:{node.amqp_port}"
                         for node in self.nodes)
        return f"rabbit://{hosts}/"

    def stop_node(self, index: int, *, kill: bool = False) -> None:
        """Take node ``index`` down: gracefully, or with ``kill=True`` as a crash does."""
        node = self.nodes[index]
        if kill:
            node.kill()
        else:
            node.stop()

    def start_node(self, index: int, timeout: float = 60.0) -> None:
        """Start node ``index`` again; it rejoins the cluster with its old data."""
        self.nodes[index].start(timeout)

    def close(self) -> None:
        """Kill every node and remove the cluster's directory."""
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.kill()
        for node in self.nodes:
            node.close()
        if os.environ.get("LEGACY_RPC_KEEP_NODE_DIRS") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Cluster:
        """Start the cluster unless it runs; a failed start closes it."""
        if not all(node.running for node in self.nodes):
            self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, index: int) -> PrivateNode:
        return self.nodes[index]


#!/usr/bin/env python3
"""RabbitMQ benchmark: legacy-rpc, oslo.messaging and raw py-amqp on the same broker.

    .venv/bin/python tools/bench_rabbit.py [--url rabbit://guest:guest@127.0.0.1:5672/]
        [--duration 5] [--only legacy-rpc,legacy-api,oslo,raw] [--scenarios call,call4,cast,notify]
        [--json FILE] [--profile cprofile|py-spy --profile-dir DIR] [--legacy-rpc-src DIR]

Scenarios, for each implementation in turn (never two at once):

    call    sequential calls from one thread: calls/s, p50/p99 latency, CPU per 1000 calls
    call4   --threads (4) threads of calls in one client process: total calls/s, p50/p99
    cast    confirmed casts from one thread: the rate at which cast() returns, and the rate
            at which the server received them (first measured send to last receipt)
    notify  notifications (messagingv2): sent/s (confirmed) and received end to end/s by a
            listener process

Each scenario runs in two fresh processes, a server (RPC server or notification listener)
and a client, so every implementation gets the same two processes on the same cores. The
client runs ``--warmup`` seconds unmeasured, then ``--duration`` seconds measured. CPU is
measured inside each process: the client's over its measured window, the server's between
the first and the last measured message it handled. Topics are unique per run; the queues a
scenario leaves behind are deleted after it. A worker that does not answer in time is
killed and its scenario reported as "hung"; the whole run stops starting scenarios after
``--budget`` seconds.

"raw py-amqp" is the floor: hand-written request/reply (correlation id, reply_to, one
exclusive reply queue per calling thread, no confirms on the round trip), and confirmed
publishes to an acking consumer for casts and notifications (see ``tools/bench/impls.py``).

Output: a Markdown table per scenario with the ratios the goals name, the goals' status and
the versions; ``--json FILE`` writes every figure. With ``--profile`` the workers run under
cProfile (all threads; ``.pstats`` files) or py-spy (collapsed stacks, ``.txt``), and a
summary of the top costs per process is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import IO, Any

TOOLS = Path(__file__).resolve().parent
sys.path[:0] = [str(TOOLS)]

from bench import profiling  # noqa: E402
from bench.impls import IMPLS, queues_to_delete  # noqa: E402
from bench.report import SCENARIOS, derive, render  # noqa: E402

WORKER = TOOLS / "bench" / "worker.py"
DEFAULT_URL = "rabbit://guest:guest@127.0.0.1:5672/"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
CALL_TIMEOUT = 10.0


class WorkerFailure(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class Worker:
    """A worker process, its command pipe and a thread collecting its events."""

    def __init__(self, name: str, cmd: list[str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in kill()/close()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, text=True, bufsize=1,
                                     start_new_session=True)
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,),
                                        daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # not ours (e.g. a profiler's banner)
            if isinstance(event, dict):
                self._events.put(event)
        self._events.put(None)

    def send(self, cmd: str, **fields: Any) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # it has died; expect() will say so

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                got = self._events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise WorkerFailure("hung", f"{self.name}: no '{event}' within {timeout:.0f}s"
                                    ) from None
            if got is None:
                raise WorkerFailure("error", f"{self.name} exited "
                                    f"(rc {self.proc.wait()}): {self.log_tail()}")
            if got.get("event") == "error":
                raise WorkerFailure("error", f"{self.name}: {got.get('message')}")
            if got.get("event") == event:
                return got

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    def wait_exit(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def kill(self) -> None:
        """Kill the worker (and, under a profiler, its child) by process group id."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        self.close()

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.close()
        self._log.close()


# ------------------------------------------------------------------ environment

def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(TOOLS.parent), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "-C", str(TOOLS.parent), "status", "--porcelain",
                                "--untracked-files=no", "legacy_rpc"],
                               capture_output=True, text=True, timeout=10)
        return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def _amqp_connection(url: str) -> Any:
    import amqp

    parsed = urllib.parse.urlsplit(url)
    conn = amqp.Connection(host=f"{parsed.hostname or 'localhost'}:{parsed.port or 5672}",
                           userid=urllib.parse.unquote(parsed.username or "guest"),
                           password=urllib.parse.unquote(parsed.password or "guest"),
                           virtual_host=urllib.parse.unquote(parsed.path[1:]) or "/",
                           connect_timeout=10)
    conn.connect()
    return conn


def _rabbitmq_version(url: str) -> str:
    ctl = shutil.which("rabbitmqctl") or ("/usr/sbin/rabbitmqctl"
                                          if os.path.exists("/usr/sbin/rabbitmqctl") else None)
    if ctl:
        try:
            out = subprocess.run([ctl, "status"], capture_output=True, text=True, timeout=30)
            found = re.search(r"RabbitMQ version:\s*(\S+)", re.sub(r"\x1b\[[0-9;]*m", "",
                                                                   out.stdout))
            if found:
                return found.group(1)
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        conn = _amqp_connection(url)
        try:
            version = conn.server_properties.get("version", "?")
        finally:
            conn.close()
        return f"{version.decode() if isinstance(version, bytes) else version} (from the broker)"
    except Exception as exc:
        return f"unknown ({exc})"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def collect_meta(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "legacy-rpc": (f"{_version('legacy-rpc')} ({_git_commit()})" if not args.legacy_rpc_src
                       else f"from {args.legacy_rpc_src}"),
        "oslo.messaging": _version("oslo.messaging"),
        "amqp": _version("amqp"),
        "kombu": _version("kombu"),
        "rabbitmq": _rabbitmq_version(args.url),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "loadavg_at_start": os.getloadavg(),
        "platform": platform.platform(),
        "payload": args.payload,
        "duration": args.duration,
        "warmup": args.warmup,
        "threads": args.threads,
    }


class CpuMeter:
    """Where the machine's CPU went during a scenario, from /proc (Linux; else nothing).

    Splits the busy time of all cores into the two workers, the broker (``beam.smp``) and
    everything else; "everything else" is the noise from other work on the machine.
    """

    TICK = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0

    def __init__(self, worker_pids: list[int]) -> None:
        self._pids = {"workers": worker_pids, "broker": self._broker_pids(),
                      "orchestrator": [os.getpid()]}
        self._start = self._sample()

    @staticmethod
    def _broker_pids() -> list[int]:
        pids = []
        for comm in Path("/proc").glob("[0-9]*/comm"):
            with contextlib.suppress(OSError):
                if comm.read_text().strip() == "beam.smp":
                    pids.append(int(comm.parent.name))
        return pids

    @classmethod
    def _proc_cpu(cls, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / cls.TICK  # utime, stime

    def _sample(self) -> dict[str, float] | None:
        try:
            cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        sample = {"wall": time.monotonic(), "busy": (sum(cpu[:8]) - cpu[3] - cpu[4]) / self.TICK}
        for group, pids in self._pids.items():
            sample[group] = sum(self._proc_cpu(pid) for pid in pids)
        return sample

    def stop(self) -> dict[str, float] | None:
        end = self._sample()
        if end is None or self._start is None:
            return None
        delta = {key: end[key] - self._start[key] for key in end}
        wall = delta.pop("wall")
        if wall <= 0:
            return None
        out = {f"{key}_cores": value / wall for key, value in delta.items()}
        out["others_cores"] = max(0.0, out["busy_cores"] - out["workers_cores"]
                                  - out["broker_cores"] - out["orchestrator_cores"])
        out["wall"] = wall
        out["broker_cpu"] = delta["broker"]
        return out


def delete_queues(url: str, names: list[str]) -> None:
    """Delete the queues a scenario left behind (best effort)."""
    if not names:
        return
    try:
        conn = _amqp_connection(url)
    except Exception as exc:
        print(f"  (could not connect to delete queues {names}: {exc})", file=sys.stderr)
        return
    try:
        ch = conn.channel()
        for name in names:
            try:
                ch.queue_delete(name)
            except Exception:
                ch = conn.channel()  # a channel error closed it
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def _masked(url: str) -> str:
    return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


# ------------------------------------------------------------------ running

def worker_cmd(args: argparse.Namespace, role: str, impl: str, scenario: str, topic: str,
               profile_base: Path | None) -> list[str]:
    cmd = [sys.executable, str(WORKER), "--role", role, "--impl", impl, "--scenario", scenario,
           "--url", args.url, "--topic", topic, "--duration", str(args.duration),
           "--warmup", str(args.warmup), "--payload", str(args.payload),
           "--threads", str(args.threads)]
    if args.legacy_rpc_src and impl in ("legacy-rpc", "legacy-api"):
        cmd += ["--src", args.legacy_rpc_src]
    if profile_base is not None and args.profile == "cprofile":
        cmd += ["--cprofile", f"{profile_base}_{role}.pstats"]
    if profile_base is not None and args.profile == "py-spy":
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        cmd = [spy, "record", "--rate", "500", "--format", "raw", "--threads", "--gil",
               "--output", f"{profile_base}_{role}.txt", "--", *cmd]
    return cmd


def run_scenario(args: argparse.Namespace, impl: str, scenario: str, run_id: str,
                 logdir: Path) -> dict[str, Any]:
    tag = impl.replace("-", "")
    topic = f"bench_{run_id}_{tag}_{scenario}"
    base = f"{tag}_{scenario}"
    profile_base = Path(args.profile_dir) / base if args.profile else None
    server = Worker(f"{impl}/{scenario} server", worker_cmd(args, "server", impl, scenario,
                                                            topic, profile_base),
                    logdir / f"{base}_server.log")
    client = Worker(f"{impl}/{scenario} client", worker_cmd(args, "client", impl, scenario,
                                                            topic, profile_base),
                    logdir / f"{base}_client.log")
    run: dict[str, Any] = {"status": "ok", "topic": topic}
    reply_queues: list[str] = []
    try:
        server.expect("ready", START_TIMEOUT)
        client.expect("ready", START_TIMEOUT)
        run["loadavg"] = os.getloadavg()[0]
        meter = CpuMeter([server.proc.pid, client.proc.pid]) if not args.profile else None
        client.send("go")
        result = client.expect("result", args.warmup + args.duration + CALL_TIMEOUT + 30)
        if meter is not None:
            run["machine"] = meter.stop()
        reply_queues = result.pop("reply_queues", [])
        run["client"] = result
        if result.get("hung_threads"):
            run["status"] = "hung"
            run["note"] = f"{result['hung_threads']} client thread(s) never returned"
        expect = result["total_ok"] if scenario in ("cast", "notify") else 0
        server.send("report", expect=expect, timeout=args.drain_timeout)
        run["server"] = server.expect("report", args.drain_timeout + 15)
        if not run["server"].get("complete"):
            run["note"] = (f"the server received {run['server']['total']} of "
                           f"{expect} messages within {args.drain_timeout:g}s")
        client.send("stop")
        server.send("stop")
        try:
            client.expect("stopped", STOP_TIMEOUT)
            server.expect("stopped", STOP_TIMEOUT)
        except WorkerFailure as exc:
            run["status"] = "teardown hung" if exc.status == "hung" else run["status"]
            run["note"] = (run.get("note", "") + f" teardown: {exc}").strip()
        for worker in (client, server):
            if not worker.wait_exit(10 if args.profile else 5):
                worker.kill()
    except WorkerFailure as exc:
        run["status"] = exc.status
        run["note"] = str(exc)
    finally:
        for worker in (client, server):
            worker.kill()
        delete_queues(args.url, [*queues_to_delete(topic), *reply_queues])
    return run


def progress_line(impl: str, scenario: str, fig: dict[str, Any]) -> str:
    if fig.get("status") not in ("ok", "teardown hung"):
        return f"  {impl:<10} {scenario:<6} {fig.get('status')}: {fig.get('note', '')}"
    parts = [f"{fig.get('rate', 0):,.0f}/s"]
    if fig.get("e2e") and scenario in ("cast", "notify"):
        parts.append(f"e2e {fig['e2e']:,.0f}/s")
    if fig.get("p50_ms") is not None:
        parts.append(f"p50 {fig['p50_ms']:.2f} ms p99 {fig['p99_ms']:.2f} ms")
    for key, name in (("client_cpu", "client"), ("server_cpu", "server")):
        if fig.get(key) is not None:
            parts.append(f"{name} CPU {fig[key]:.3f} s/1000")
    return f"  {impl:<10} {scenario:<6} " + ", ".join(parts)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help=f"broker URL (default {DEFAULT_URL})")
    parser.add_argument("--duration", type=float, default=5.0,
                        help="measured seconds per scenario (default 5)")
    parser.add_argument("--warmup", type=float, default=0.5,
                        help="unmeasured seconds before each scenario (default 0.5)")
    parser.add_argument("--only", default=",".join(IMPLS),
                        help=f"implementations, in order (default {','.join(IMPLS)})")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"scenarios (default {','.join(SCENARIOS)})")
    parser.add_argument("--threads", type=int, default=4,
                        help="calling threads in the call4 scenario (default 4)")
    parser.add_argument("--payload", type=int, default=1024,
                        help="characters of payload per message (default 1024)")
    parser.add_argument("--drain-timeout", type=float, default=20.0,
                        help="longest wait for a server to receive every cast/notification "
                             "(default 20)")
    parser.add_argument("--budget", type=float, default=170.0,
                        help="no scenario is started after this many seconds (default 170)")
    parser.add_argument("--json", default="", help="write every figure to this file")
    parser.add_argument("--logdir", default="",
                        help="where the workers' stderr goes (default: a temporary directory)")
    parser.add_argument("--legacy-rpc-src", default="",
                        help="import legacy_rpc from this tree instead of this checkout "
                             "(a snapshot, or a patched copy to measure a change)")
    parser.add_argument("--profile", choices=["cprofile", "py-spy"], default="",
                        help="run the workers under a profiler")
    parser.add_argument("--profile-dir", default="", help="where profiles are written")
    args = parser.parse_args(argv)
    impls = [s.strip() for s in args.only.split(",") if s.strip()]
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if not impls or any(i not in IMPLS for i in impls):
        parser.error(f"--only takes a list of {', '.join(IMPLS)}")
    if not scenarios or any(s not in SCENARIOS for s in scenarios):
        parser.error(f"--scenarios takes a list of {', '.join(SCENARIOS)}")
    if args.duration <= 0 or args.warmup < 0 or args.threads < 1 or args.payload < 0:
        parser.error("--duration and --threads must be positive, --warmup and --payload not "
                     "negative")
    if args.profile and not args.profile_dir:
        args.profile_dir = tempfile.mkdtemp(prefix="bench_rabbit_profile_")
    if args.profile_dir:
        Path(args.profile_dir).mkdir(parents=True, exist_ok=True)
    args.impls, args.scenario_list = impls, scenarios
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    run_id = uuid.uuid4().hex[:8]
    logdir = Path(args.logdir or tempfile.mkdtemp(prefix="bench_rabbit_logs_"))
    logdir.mkdir(parents=True, exist_ok=True)
    try:
        _amqp_connection(args.url).close()
    except Exception as exc:
        print(f"bench_rabbit: cannot connect to {_masked(args.url)}: {exc}", file=sys.stderr)
        return 2
    meta = collect_meta(args)
    print(f"bench_rabbit run {run_id}: {', '.join(args.impls)} x "
          f"{', '.join(args.scenario_list)}; load average {meta['loadavg_at_start'][0]:.2f}; "
          f"worker logs in {logdir}", file=sys.stderr)
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    figures: dict[str, dict[str, dict[str, Any]]] = {}
    for impl in args.impls:
        for scenario in args.scenario_list:
            if time.monotonic() - started > args.budget:
                run = {"status": "skipped", "note": f"time budget of {args.budget:g}s used up"}
            else:
                run = run_scenario(args, impl, scenario, run_id, logdir)
            runs.setdefault(impl, {})[scenario] = run
            fig = derive(run)
            figures.setdefault(impl, {})[scenario] = fig
            print(progress_line(impl, scenario, fig), file=sys.stderr, flush=True)
    meta["elapsed_s"] = round(time.monotonic() - started, 1)
    print(render(figures, args.impls, args.scenario_list, meta))
    print(f"(run {run_id} took {meta['elapsed_s']:.0f} s)")
    if args.profile:
        print(profiling.summarize_dir(Path(args.profile_dir), args.profile))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"meta": meta, "figures": figures, "runs": runs}, indent=2, default=str) + "\n")
    failed = any(f.get("status") not in ("ok", "teardown hung")
                 for per in figures.values() for f in per.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

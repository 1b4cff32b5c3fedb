#!/usr/bin/env python3
"""Run oslo.messaging's own tests against oslo.messaging and against legacy_rpc.messaging.

The tests are copied at run time from the installed oslo.messaging wheel
(``oslo_messaging/tests/``) into a temporary directory; nothing of them is kept in this
repository. Each in-scope module then runs twice, each time in a subprocess of its own with
the ``unittest`` loader (so the ``load_tests`` scenarios of the suite apply, as under
oslo's own stestr):

- ``oslo``: against the real oslo.messaging (the copied tests are imported as
  ``oslo_messaging.tests``);
- ``ours``: through an import alias: ``oslo_messaging`` *is* ``legacy_rpc.messaging``,
  ``oslo_messaging.X`` is ``legacy_rpc.messaging.X``, and the real oslo.messaging cannot be
  imported at all in that process.

It prints, per module, how many tests pass on each side and how many of those that pass on
oslo.messaging also pass on ours, then the in-scope total, and lists the modules left out
and why. ``--json`` writes every test's outcome on both sides.

Harness shims (``ours`` side only), for oslo-private modules that whole test modules import
at load time although few of their tests use them: the functional tests register the kafka
driver's options in every ``setUp`` (``oslo_messaging._drivers.kafka_driver.kafka_options``;
this library has no kafka driver: the stand-in has no option and ``register_opts`` returns
the conf), and ``rpc/test_client`` imports oslo's private metrics collector for its one
``test_metrics`` (the stand-in raises, so that test fails). They are test-harness
obstacles, not APIs a service uses.

Usage::

    python tools/oslo_conformance.py                     # every in-scope module
    python tools/oslo_conformance.py --quick             # the short CI selection
    python tools/oslo_conformance.py -m test_target -m rpc.test_client --json out.json
    RPC_TRANSPORT_URL=rabbit://guest:guest@127.0.0.1:5672/ NOTIFY_TRANSPORT_URL=... \\
        python tools/oslo_conformance.py -m functional.test_functional

Functional modules run only when ``RPC_TRANSPORT_URL``/``NOTIFY_TRANSPORT_URL`` name a
RabbitMQ (as in oslo.messaging's own tox setup); otherwise their tests skip on both sides.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
import unittest
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "oslo_messaging"
TESTS = f"{PACKAGE}.tests"

IN_SCOPE = (
    "rpc.test_client",
    "rpc.test_dispatcher",
    "rpc.test_server",
    "notify.test_dispatcher",
    "notify.test_listener",
    "notify.test_log_handler",
    "notify.test_logger",
    "notify.test_middleware",
    "notify.test_notifier",
    "test_target",
    "test_transport",
    "test_urls",
    "test_exception_serialization",
    "test_expected_exceptions",
    "test_fixture",
    "test_opts",
    "functional.test_functional",
    "functional.notify.test_logger",
)
"""Modules of ``oslo_messaging/tests`` a service's code or test suite can touch."""

OUT_OF_SCOPE = {
    "drivers.test_impl_rabbit": "oslo's kombu driver internals (Connection, consumers, "
                                "private methods); our rabbit driver has its own suites",
    "drivers.test_amqpdriver": "oslo's AMQP driver base classes and reply waiter internals",
    "drivers.test_pool": "oslo's private connection pool class",
    "drivers.test_impl_kafka": "the kafka driver, which this library does not have",
    "test_config_opts_proxy": "oslo's private ConfigOptsProxy (URL query overrides of "
                              "options are tested in our driver's own tests)",
    "test_utils": "oslo's private helper module oslo_messaging._utils",
    "functional.test_rabbitmq": "starts its own three-node cluster with pifpaf to test "
                                "oslo's failover internals; our failover has tests/resilience",
}
"""Modules left out, each with why."""

OUT_OF_SCOPE_TESTS = {
    "rpc.test_server.TestServerLocking.": "subclasses MessageHandlingServer through oslo's "
                                          "private hooks (_create_listener, _executor_cls, "
                                          "_states, DEFAULT_LOG_AFTER)",
    "test_transport.GetTransportTestCase.": "replaces stevedore's DriverManager with a mock "
                                            "to load a driver; we load drivers without stevedore",
    "test_transport.GetTransportSadPathTestCase.": "the same stevedore mock, for load failures",
    "test_transport.TestSetDefaults.": "the same stevedore mock, to see the default exchange",
}
"""Test classes of in-scope modules left out (ids start with ``oslo_messaging.tests.`` + key),
each with why: they drive oslo's private machinery, not the public API."""

QUICK = tuple(m for m in IN_SCOPE if not m.startswith("functional."))
"""The CI selection: every in-scope module but the functional ones (which need RabbitMQ and
take minutes); about half a minute per side."""

TEST_TIMEOUT = 15.0
"""Seconds one test may take before it is interrupted and counted as failed."""

MODULE_TIMEOUT = 900.0
"""Seconds one module's subprocess may take."""


# ------------------------------------------------------------------ worker (subprocess)


class _ExistingModule(importlib.abc.Loader):
    """Loads a module that is already imported, under another name."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module = module
        self.spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self.module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__ = self.spec  # the import system set the alias's spec; restore ours


class _AliasFinder(importlib.abc.MetaPathFinder):
    """``oslo_messaging.tests*`` from the copy; in ``ours`` mode the rest from the core."""

    def __init__(self, copy_root: Path, alias: bool) -> None:
        self.copy_root = copy_root
        self.alias = alias

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname == TESTS or fullname.startswith(TESTS + "."):
            return self._from_copy(fullname)
        if not self.alias or not fullname.startswith(PACKAGE + "."):
            return None
        ours = "legacy_rpc.messaging" + fullname[len(PACKAGE):]
        found: types.ModuleType | None
        try:
            found = importlib.import_module(ours)
        except ImportError:
            found = None
        shim_parent = any(name.startswith(fullname + ".") for name in _SHIMS)
        if found is None or (shim_parent and not hasattr(found, "__path__")):
            found = self._shim(fullname)
        if found is None:
            return None  # ModuleNotFoundError: oslo.messaging is hidden
        module = found
        return importlib.machinery.ModuleSpec(fullname, _ExistingModule(module),
                                              is_package=hasattr(module, "__path__"))

    @staticmethod
    def _shim(fullname: str) -> types.ModuleType | None:
        """A harness stand-in (see ``_SHIMS``), or an empty package on the way to one."""
        module = types.ModuleType(fullname)
        module.__spec__ = importlib.machinery.ModuleSpec(fullname, None)
        if fullname in _SHIMS:
            exec(_SHIMS[fullname], module.__dict__)
            return module
        if any(name.startswith(fullname + ".") for name in _SHIMS):
            module.__path__ = []
            return module
        return None

    def _from_copy(self, fullname: str) -> importlib.machinery.ModuleSpec | None:
        base = self.copy_root.joinpath(*fullname.split("."))
        if (base / "__init__.py").is_file():
            return importlib.util.spec_from_file_location(
                fullname, base / "__init__.py", submodule_search_locations=[str(base)])
        if base.with_suffix(".py").is_file():
            return importlib.util.spec_from_file_location(fullname, base.with_suffix(".py"))
        return None


_SHIMS = {
    f"{PACKAGE}._drivers.kafka_driver.kafka_options":
        "KAFKA_OPTS = []\n"
        "def register_opts(conf, url):\n"
        "    return conf\n",
    f"{PACKAGE}._metrics.client":
        "class MetricsCollectorClient:\n"
        "    def put_into_queue(self, *args, **kwargs):\n"
        "        raise NotImplementedError('oslo.messaging metrics are not implemented')\n"
        "METRICS_COLLECTOR = None\n",
}
"""Stand-ins for oslo-private modules the test modules import at load time (``ours`` side)."""


class _NotOslo(importlib.abc.MetaPathFinder):
    """Refuses the real oslo.messaging (``ours`` mode), should anything bypass the alias."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> None:
        if fullname == PACKAGE:
            raise ModuleNotFoundError(f"No module named {PACKAGE!r} (hidden)", name=fullname)
        return None


class _TestTimeout(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _TestTimeout(f"test took longer than {TEST_TIMEOUT:.0f}s")


def _describe(err: Any) -> str:
    """The traceback text of an ``exc_info`` triple."""
    import traceback

    return "".join(traceback.format_exception(*err))


class _Recorder(unittest.TestResult):
    """Writes one JSON line per test outcome; bounds each test with a timer."""

    def __init__(self, out: Any) -> None:
        super().__init__()
        self.out = out

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)

    def stopTest(self, test: unittest.TestCase) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        super().stopTest(test)

    def _write(self, test: Any, outcome: str, detail: str = "") -> None:
        self.out.write(json.dumps({"id": test.id(), "outcome": outcome,
                                   "detail": detail[-1500:]}) + "\n")
        self.out.flush()

    def addSuccess(self, test: Any) -> None:
        self._write(test, "pass")

    def addFailure(self, test: Any, err: Any) -> None:
        self._write(test, "fail", _describe(err))

    def addError(self, test: Any, err: Any) -> None:
        self._write(test, "fail", _describe(err))

    def addSkip(self, test: Any, reason: str) -> None:
        self._write(test, "skip", reason)

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        self._write(test, "xfail")

    def addUnexpectedSuccess(self, test: Any) -> None:
        self._write(test, "fail", "unexpected success")


def worker(side: str, copy_root: Path, module: str, report: Path) -> int:
    """Run one module's tests in this process and write the outcomes to ``report``."""
    warnings.simplefilter("ignore")
    sys.path.insert(0, str(REPO_ROOT))
    if side == "ours":
        sys.meta_path.insert(0, _NotOslo())
        import legacy_rpc.messaging

        sys.modules[PACKAGE] = legacy_rpc.messaging
    sys.meta_path.insert(0, _AliasFinder(copy_root, alias=side == "ours"))
    signal.signal(signal.SIGALRM, _on_alarm)
    # notify/test_logger reaches notify._impl_test as an attribute without importing it; in
    # a whole-suite run another module has imported it by then. Do the same on both sides.
    importlib.import_module(f"{PACKAGE}.notify._impl_test")
    name = f"{TESTS}.{module}"
    with report.open("w", encoding="utf-8") as out:
        recorder = _Recorder(out)
        try:
            suite = unittest.defaultTestLoader.loadTestsFromName(name)
        except Exception as exc:  # the module cannot be imported on this side
            out.write(json.dumps({"id": name, "outcome": "import-error",
                                  "detail": f"{type(exc).__name__}: {exc}"}) + "\n")
            return 0
        _in_scope(suite).run(recorder)
    return 0


def _in_scope(suite: unittest.TestSuite) -> unittest.TestSuite:
    """``suite`` without the tests of :data:`OUT_OF_SCOPE_TESTS` (they are not even run)."""
    kept = unittest.TestSuite()
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            kept.addTest(_in_scope(test))
        elif not excluded(test.id()):
            kept.addTest(test)
    return kept


# ------------------------------------------------------------------ driver (parent)


@dataclass
class ModuleResult:
    """The outcomes of one module on both sides."""

    module: str
    outcomes: dict[str, dict[str, str]] = field(default_factory=dict)  # side -> id -> outcome
    details: dict[str, dict[str, str]] = field(default_factory=dict)
    import_errors: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def passed(self, side: str) -> set[str]:
        return {t for t, o in self.outcomes.get(side, {}).items()
                if o == "pass" and not excluded(t)}

    @property
    def reference(self) -> set[str]:
        """The tests that pass on oslo.messaging: the ones that count."""
        return self.passed("oslo")

    @property
    def both(self) -> set[str]:
        return self.reference & self.passed("ours")


def excluded(test_id: str) -> bool:
    """Whether a test is in :data:`OUT_OF_SCOPE_TESTS`."""
    return any(test_id.startswith(f"{TESTS}.{prefix}") for prefix in OUT_OF_SCOPE_TESTS)


def copy_tests(dest: Path) -> Path:
    """Copy ``oslo_messaging/tests`` of the installed wheel under ``dest``; return ``dest``."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("oslo.messaging is not installed in this interpreter")
    source = Path(next(iter(spec.submodule_search_locations))) / "tests"
    if not source.is_dir():
        raise SystemExit(f"the installed oslo.messaging has no tests at {source}")
    shutil.copytree(source, dest / PACKAGE / "tests",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def run_side(side: str, copy_root: Path, module: str, workdir: Path) -> tuple[
        str, str, list[dict[str, str]], float]:
    report = workdir / f"{side}-{module}.jsonl"
    env = dict(os.environ, PYTHONWARNINGS="ignore", PYTHONDONTWRITEBYTECODE="1")
    start = time.monotonic()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", side,
           "--copy", str(copy_root), "--report", str(report), module]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=MODULE_TIMEOUT,
                              cwd=str(workdir), env=env, check=False)
        trailer = "" if proc.returncode == 0 else (proc.stderr or "")[-1500:]
    except subprocess.TimeoutExpired:
        trailer = f"module timed out after {MODULE_TIMEOUT:.0f}s"
    rows = []
    if report.exists():
        rows = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    if trailer:
        rows.append({"id": f"{TESTS}.{module}", "outcome": "crash", "detail": trailer})
    return side, module, rows, time.monotonic() - start


def run(modules: Sequence[str], jobs: int) -> list[ModuleResult]:
    """Run ``modules`` on both sides, ``jobs`` subprocesses at a time."""
    results = {m: ModuleResult(m) for m in modules}
    with tempfile.TemporaryDirectory(prefix="oslo-conformance-") as tmp:
        workdir = Path(tmp)
        copy_root = copy_tests(workdir / "copy")
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(run_side, side, copy_root, m, workdir)
                       for m in modules for side in ("oslo", "ours")]
            for future in concurrent.futures.as_completed(futures):
                side, module, rows, seconds = future.result()
                result = results[module]
                result.seconds[side] = seconds
                outcomes = result.outcomes.setdefault(side, {})
                details = result.details.setdefault(side, {})
                for row in rows:
                    if row["outcome"] in ("import-error", "crash"):
                        result.import_errors[side] = row["detail"]
                        continue
                    outcomes[row["id"]] = row["outcome"]
                    if row.get("detail"):
                        details[row["id"]] = row["detail"]
    return [results[m] for m in modules]


def summary(results: Sequence[ModuleResult]) -> tuple[int, int]:
    """(tests passing on both, tests passing on oslo.messaging) over ``results``."""
    return (sum(len(r.both) for r in results), sum(len(r.reference) for r in results))


def report(results: Sequence[ModuleResult], out: Any = sys.stdout) -> None:
    """Print the side-by-side table, the total and the out-of-scope list."""
    width = max(len(r.module) for r in results) + 2
    print(f"{'module':<{width}}{'oslo pass':>10}{'ours pass':>10}{'both':>7}{'ratio':>8}"
          f"{'skipped':>9}  note", file=out)
    for r in results:
        oslo_skips = sum(1 for o in r.outcomes.get("oslo", {}).values() if o == "skip")
        ratio = f"{100 * len(r.both) / len(r.reference):.1f}%" if r.reference else "-"
        note = ""
        if "ours" in r.import_errors:
            note = "ours: " + r.import_errors["ours"].strip().splitlines()[-1][:70]
        print(f"{r.module:<{width}}{len(r.reference):>10}{len(r.passed('ours')):>10}"
              f"{len(r.both):>7}{ratio:>8}{oslo_skips:>9}  {note}", file=out)
    both, reference = summary(results)
    total = 100 * both / reference if reference else 0.0
    print(f"\nIn scope: {both} of the {reference} tests that pass on oslo.messaging pass on "
          f"legacy_rpc.messaging ({total:.1f}%).", file=out)
    print("\nOut of scope (one line each):", file=out)
    for module, why in OUT_OF_SCOPE.items():
        print(f"  {module}: {why}", file=out)
    for prefix, why in OUT_OF_SCOPE_TESTS.items():
        print(f"  {prefix.rstrip('.')}: {why}", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--module", action="append", dest="modules",
                        help="a module under oslo_messaging/tests (repeatable; default: all "
                             "in scope)")
    parser.add_argument("--quick", action="store_true", help="the short CI selection")
    parser.add_argument("--jobs", type=int, default=2, help="subprocesses at a time")
    parser.add_argument("--json", type=Path, help="write every outcome here")
    parser.add_argument("--min-ratio", type=float, default=0.0,
                        help="exit 1 when the in-scope pass ratio (0-1) is below this")
    parser.add_argument("--worker", choices=("oslo", "ours"), help=argparse.SUPPRESS)
    parser.add_argument("--copy", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("worker_module", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.copy, args.worker_module, args.report)
    modules = args.modules or list(QUICK if args.quick else IN_SCOPE)
    unknown = [m for m in modules if m not in IN_SCOPE]
    if unknown:
        parser.error(f"not an in-scope module: {', '.join(unknown)} (in scope: "
                     f"{', '.join(IN_SCOPE)})")
    results = run(modules, max(1, args.jobs))
    report(results)
    both, reference = summary(results)
    if args.json:
        args.json.write_text(json.dumps(
            {"summary": {"both": both, "reference": reference,
                         "per_module": {r.module: [len(r.both), len(r.reference)]
                                        for r in results}},
             "modules": {r.module: {"outcomes": r.outcomes, "details": r.details,
                                    "import_errors": r.import_errors, "seconds": r.seconds}
                         for r in results}}, indent=1, sort_keys=True))
    return 1 if reference and both / reference < args.min_ratio else 0


if __name__ == "__main__":
    sys.exit(main())

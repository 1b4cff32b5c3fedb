"""Figures from the workers' raw reports, Markdown tables, ratios and the goals' status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["GOALS", "LABELS", "SCENARIOS", "Goal", "derive", "render"]

LABELS = {"legacy-rpc": "legacy-rpc", "legacy-api": "legacy API (rpc.call)",
          "oslo": "oslo.messaging", "raw": "raw py-amqp"}
SCENARIOS = {
    "call": "Sequential calls, 1 thread",
    "call4": "Calls from {threads} threads, one client process",
    "cast": "Confirmed casts, 1 thread",
    "notify": "Notifications (messagingv2), 1 thread",
}


@dataclass(frozen=True)
class Goal:
    scenario: str
    metric: str
    versus: str
    target: float
    text: str
    subject: str = "legacy-rpc"


GOALS = [
    Goal("call", "rate", "raw", 0.90, "sequential calls/s >= 90 % of raw py-amqp"),
    Goal("call4", "rate", "oslo", 3.0, "4-thread calls/s >= 3x oslo.messaging"),
    Goal("cast", "rate", "oslo", 2.0, "confirmed cast() returns/s >= 2x oslo.messaging"),
    Goal("cast", "e2e", "oslo", 2.0, "casts received end to end/s >= 2x oslo.messaging"),
    Goal("notify", "rate", "oslo", 2.0, "notifications sent/s >= 2x oslo.messaging"),
    Goal("notify", "e2e", "oslo", 2.0, "notifications received end to end/s >= 2x oslo.messaging"),
    Goal("call", "rate", "legacy-rpc", 0.95,
         "legacy rpc.call within 5 % of RPCClient.call (calls/s)", subject="legacy-api"),
    Goal("cast", "rate", "legacy-rpc", 0.95,
         "legacy rpc.cast within 5 % of RPCClient.cast (casts/s)", subject="legacy-api"),
]


def _per_1000(value: float | None, n: int) -> float | None:
    return None if value is None or n <= 0 else value / n * 1000.0


def derive(run: dict[str, Any]) -> dict[str, Any]:
    """The figures of one scenario run (``status``, ``client`` and ``server`` reports)."""
    out: dict[str, Any] = {"status": run.get("status", "?"), "note": run.get("note", "")}
    client, server = run.get("client"), run.get("server")
    if not client:
        return out
    n = client["count"]
    usage = client["usage"]
    out.update(rate=client["rate"], p50_ms=client["p50_ms"], p99_ms=client["p99_ms"],
               count=n, errors=client["errors"],
               client_cpu=_per_1000(usage["cpu"], n),
               client_csw=(usage["vcsw"] + usage["ivcsw"]) / n if n else None,
               client_sys_share=usage["sys"] / usage["cpu"] if usage["cpu"] > 0 else None)
    if client.get("last_error"):
        out["note"] = (out["note"] + " " if out["note"] else "") + client["last_error"]
    if server:
        span, measured = server.get("span"), server["measured"]
        if span and measured > 1:
            out["server_cpu"] = _per_1000(span["cpu"], measured - 1)
            out["server_csw"] = (span["vcsw"] + span["ivcsw"]) / (measured - 1)
            out["server_sys_share"] = span["sys"] / span["cpu"] if span["cpu"] > 0 else None
        out["received"], out["sent"] = server["total"], client["total_ok"]
        first, last = client.get("first_send"), server.get("last_t")
        if first is not None and last is not None and last > first:
            out["e2e"] = measured / (last - first)
        out["complete"] = server.get("complete", False)
    machine = run.get("machine")
    if machine:
        # The meter spans warm-up and measurement: divide by every message sent in it.
        sent = client["total_ok"]
        out["broker_cpu"] = _per_1000(machine["broker_cpu"], sent)
        out["others_cores"] = machine["others_cores"]
    return out


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    return format(value, spec)


Row = tuple[str, str, str]  # label, figure key, format spec


SHORT = {"call": "sequential calls", "call4": "calls, {threads} threads", "cast": "casts",
         "notify": "notifications"}

ROWS: dict[str, list[Row]] = {
    "call": [("calls/s", "rate", ",.0f"), ("p50 latency, ms", "p50_ms", ".2f"),
             ("p99 latency, ms", "p99_ms", ".2f"),
             ("client CPU s / 1000 calls", "client_cpu", ".3f"),
             ("server CPU s / 1000 calls", "server_cpu", ".3f"),
             ("client CPU share in the kernel", "client_sys_share", ".0%"),
             ("server CPU share in the kernel", "server_sys_share", ".0%"),
             ("client context switches / call", "client_csw", ".1f"),
             ("server context switches / call", "server_csw", ".1f"),
             ("calls measured", "count", ",d"), ("errors", "errors", ",d")],
    "cast": [("cast() returns/s (confirmed)", "rate", ",.0f"),
             ("received end to end/s", "e2e", ",.0f"),
             ("p50 cast() latency, ms", "p50_ms", ".2f"),
             ("p99 cast() latency, ms", "p99_ms", ".2f"),
             ("client CPU s / 1000 casts", "client_cpu", ".3f"),
             ("server CPU s / 1000 casts", "server_cpu", ".3f"),
             ("sent / received", "sent_received", ""), ("errors", "errors", ",d")],
    "notify": [("sent/s (confirmed)", "rate", ",.0f"),
               ("received end to end/s", "e2e", ",.0f"),
               ("p50 send latency, ms", "p50_ms", ".2f"),
               ("p99 send latency, ms", "p99_ms", ".2f"),
               ("client CPU s / 1000 notifications", "client_cpu", ".3f"),
               ("listener CPU s / 1000 notifications", "server_cpu", ".3f"),
               ("sent / received", "sent_received", ""), ("errors", "errors", ",d")],
}
for _rows in ROWS.values():
    _rows[-1:-1] = [("broker CPU s / 1000 calls or messages (warm-up included)", "broker_cpu", ".3f"),
                    ("other processes' CPU during the run, cores", "others_cores", ".2f")]
ROWS["call4"] = ROWS["call"]


def _cell(fig: dict[str, Any], key: str, spec: str) -> str:
    if fig.get("status") not in ("ok", "teardown hung"):
        return fig.get("status", "-") if key == "rate" else "-"
    if key == "sent_received":
        if "sent" not in fig:
            return "-"
        mark = "" if fig.get("complete") else " (incomplete)"
        return f"{fig['sent']:,} / {fig['received']:,}{mark}"
    return _fmt(fig.get(key), spec)


def ratio(figs: dict[str, dict[str, Any]], key: str, a: str, b: str) -> float | None:
    x, y = figs.get(a, {}).get(key), figs.get(b, {}).get(key)
    if not x or not y:
        return None
    return float(x) / float(y)


def render(figures: dict[str, dict[str, dict[str, Any]]], impls: list[str],
           scenarios: list[str], meta: dict[str, Any]) -> str:
    """Markdown: one table per scenario (implementations side by side), then the goals."""
    lines: list[str] = []
    add: Callable[[str], None] = lines.append
    labels = dict(LABELS, oslo=f"oslo.messaging {meta['oslo.messaging']}")
    add(f"RabbitMQ benchmark, {meta['date']}: legacy-rpc {meta['legacy-rpc']}, "
        f"oslo.messaging {meta['oslo.messaging']}, py-amqp {meta['amqp']}, "
        f"kombu {meta['kombu']}, Python {meta['python']}, RabbitMQ {meta['rabbitmq']}; "
        f"{meta['cpus']} CPUs ({meta['cpu_model']}), broker on the same host; "
        f"payload {meta['payload']} B, {meta['duration']:g} s per scenario after "
        f"{meta['warmup']:g} s warm-up; server and client in separate processes.")
    add("")
    for sc in scenarios:
        figs = {impl: figures.get(impl, {}).get(sc, {}) for impl in impls}
        add(f"### {SCENARIOS[sc].format(threads=meta['threads'])}")
        add("")
        add("| | " + " | ".join(labels[i] for i in impls) + " |")
        add("|---|" + "---:|" * len(impls))
        for label, key, spec in ROWS[sc]:
            add(f"| {label} | " + " | ".join(_cell(figs[i], key, spec) for i in impls) + " |")
        ratios = []
        for key, name in (("rate", "rate"), ("e2e", "end to end")):
            if sc.startswith("call") and key == "e2e":
                continue
            for a, b in (("legacy-rpc", "raw"), ("legacy-rpc", "oslo"), ("oslo", "raw"),
                         ("legacy-api", "legacy-rpc")):
                r = ratio(figs, key, a, b)
                if r is not None:
                    ratios.append(f"{name} {a} / {b} = {r:.2f}")
        if ratios:
            add("")
            add("Ratios: " + "; ".join(ratios) + ".")
        notes = [f"{labels[i]}: {figs[i]['note']}" for i in impls if figs[i].get("note")]
        if notes:
            add("")
            add("Notes: " + "; ".join(notes))
        add("")
    add("### Summary")
    add("")
    add("| scenario | " + " | ".join(labels[i] for i in impls) + " | legacy-rpc / goal's reference |")
    add("|---|" + "---:|" * (len(impls) + 1))
    for sc, key, unit in (("call", "rate", "calls/s"), ("call", "p50_ms", "p50 ms"),
                          ("call4", "rate", "calls/s"), ("cast", "rate", "casts/s"),
                          ("cast", "e2e", "casts/s end to end"),
                          ("notify", "rate", "notifications/s"),
                          ("notify", "e2e", "notifications/s end to end")):
        if sc not in scenarios:
            continue
        figs = {impl: figures.get(impl, {}).get(sc, {}) for impl in impls}
        versus = "raw" if sc == "call" else "oslo"
        r = ratio(figs, key, "legacy-rpc", versus) if key != "p50_ms" else None
        spec = ".2f" if key == "p50_ms" else ",.0f"
        cells = " | ".join(_cell(figs[i], key, spec) for i in impls)
        add(f"| {SHORT[sc].format(threads=meta['threads'])}, {unit} | {cells} | "
            f"{f'{r:.2f} x {versus}' if r is not None else ''} |")
    add("")
    goal_rows = []
    for goal in GOALS:
        if goal.scenario not in scenarios:
            continue
        figs = {impl: figures.get(impl, {}).get(goal.scenario, {}) for impl in impls}
        r = ratio(figs, goal.metric, goal.subject, goal.versus)
        if r is None:
            status, shown = "not measured", "-"
        else:
            status, shown = ("met" if r >= goal.target else "NOT met"), f"{r:.2f}"
        goal_rows.append(f"| {goal.text} | {goal.target:g} | {shown} | {status} |")
    if goal_rows:
        add("### Goals (legacy-rpc)")
        add("")
        add("| goal | target ratio | measured | status |")
        add("|---|---:|---:|---|")
        lines.extend(goal_rows)
        add("")
    return "\n".join(lines)

#!/usr/bin/env python3
"""Plot a ``bench_rabbit.py --json`` file: throughput per scenario and implementation.

    .venv/bin/pip install matplotlib     # or: pip install 'legacy-rpc[bench]'
    .venv/bin/python tools/bench_plot.py bench.json docs/bench_rabbit.png

One group of bars per scenario (calls/s, casts/s or notifications/s as ``cast()``/``call()``
return), one bar per implementation, with the machine and versions in the title. The README's
figure is made this way from the run whose table it shows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SCENARIO_LABELS = {"call": "sequential calls", "call4": "calls, {threads} threads",
                   "cast": "confirmed casts", "notify": "notifications"}
IMPL_LABELS = {"legacy-rpc": "legacy-rpc (new API)", "legacy-api": "legacy-rpc (legacy API)",
               "oslo": "oslo.messaging", "raw": "raw py-amqp"}


def plot(data: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta, figures = data["meta"], data["figures"]
    impls = [i for i in IMPL_LABELS if i in figures]
    scenarios = [s for s in SCENARIO_LABELS if any(s in figures[i] for i in impls)]
    width = 0.8 / max(1, len(impls))
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for n, impl in enumerate(impls):
        rates = [figures[impl].get(s, {}).get("rate") or 0 for s in scenarios]
        xs = [x + (n - (len(impls) - 1) / 2) * width for x in range(len(scenarios))]
        bars = ax.bar(xs, rates, width, label=IMPL_LABELS[impl])
        ax.bar_label(bars, labels=[f"{r:,.0f}" if r else "" for r in rates], fontsize=7,
                     padding=2)
    ax.set_xticks(range(len(scenarios)),
                  [SCENARIO_LABELS[s].format(threads=meta.get("threads", 4)) for s in scenarios])
    ax.set_ylabel("per second (higher is better)")
    broker = str(meta.get("rabbitmq", "?")).replace(" (from the broker)", "")
    ax.set_title(f"RabbitMQ {broker}, {meta.get('cpus', '?')} CPUs, "
                 f"payload {meta.get('payload', '?')} B, {meta.get('date', '')}", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json_file", type=Path)
    parser.add_argument("png_file", type=Path)
    args = parser.parse_args()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed: pip install matplotlib", file=sys.stderr)
        return 2
    plot(json.loads(args.json_file.read_text()), args.png_file)
    print(f"wrote {args.png_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

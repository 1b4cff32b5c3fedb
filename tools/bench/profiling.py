"""Summaries of the profiles ``bench_rabbit.py --profile`` writes.

- cProfile (``*.pstats``, every thread of a worker merged): the top functions by own time
  and by cumulative time.
- py-spy (``*.txt``, collapsed stacks of ``py-spy record --format raw --threads --gil``:
  only samples of the thread holding the GIL, i.e. Python work, not waits and not the
  kernel time of system calls; imports are left out): the share of samples per thread,
  and the top functions by own (leaf) samples and by inclusive samples.

    python tools/bench/profiling.py DIR [--top 25] [--match SUBSTRING]
"""

from __future__ import annotations

import argparse
import collections
import io
import pstats
import re
import sys
from pathlib import Path

__all__ = ["summarize_dir", "summarize_pstats", "summarize_pyspy"]

_LINE = re.compile(r"^(.*) (\d+)$")
_FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")


def _short(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (file.py)``: one entry per function."""
    m = _FRAME.match(frame)
    if not m:
        return frame
    func, path = m.groups()
    parts = path.replace("\\", "/").split("/")
    where = "/".join(parts[-2:]) if len(parts) > 1 else path
    return f"{func} ({where})"


def _file_of(short_frame: str) -> str:
    m = _FRAME.match(short_frame)
    return m.group(2) if m else short_frame


def summarize_pyspy(path: Path, top: int = 25, match: str = "") -> str:
    by_thread: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    own_by_file: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        stack, count = m.group(1), int(m.group(2))
        frames = stack.split(";")
        thread = frames[0]
        frames = [_short(f) for f in frames[1:]]
        if not frames:
            continue
        if match and not any(match in f for f in frames):
            continue
        if any(f.startswith(("_find_and_load ", "<module> ")) for f in frames):
            continue  # start-up: imports
        total += count
        by_thread[re.sub(r"^thread \(\d+\):?\s*", "", thread) or thread] += count
        own[frames[-1]] += count
        own_by_file[_file_of(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count
    out = io.StringIO()
    out.write(f"== {path.name}: {total} samples (thread holding the GIL; imports left out)\n")
    if not total:
        return out.getvalue()
    out.write("  by thread:\n")
    for name, n in by_thread.most_common(8):
        out.write(f"    {100 * n / total:5.1f} %  {name}\n")
    out.write("  own (leaf) samples by file:\n")
    for name, n in own_by_file.most_common(15):
        out.write(f"    {100 * n / total:5.1f} %  {name}\n")
    out.write("  own (leaf) samples:\n")
    for name, n in own.most_common(top):
        out.write(f"    {100 * n / total:5.1f} %  {name}\n")
    out.write("  inclusive samples:\n")
    for name, n in inclusive.most_common(top):
        out.write(f"    {100 * n / total:5.1f} %  {name}\n")
    return out.getvalue()


def summarize_pstats(path: Path, top: int = 25) -> str:
    out = io.StringIO()
    out.write(f"== {path.name}\n")
    stats = pstats.Stats(str(path), stream=out)
    stats.strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def summarize_dir(directory: Path, kind: str, top: int = 25, match: str = "") -> str:
    if kind == "cprofile":
        files = sorted(directory.glob("*.pstats"))
        return "\n".join(summarize_pstats(f, top) for f in files)
    files = sorted(directory.glob("*.txt"))
    return "\n".join(summarize_pyspy(f, top, match) for f in files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("directory")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="", help="only stacks with a frame containing this")
    args = parser.parse_args(argv)
    directory = Path(args.directory)
    kind = "cprofile" if any(directory.glob("*.pstats")) else "py-spy"
    print(summarize_dir(directory, kind, args.top, args.match))
    return 0


if __name__ == "__main__":
    sys.exit(main())

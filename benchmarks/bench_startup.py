"""How long from typing ``sagewiz`` to the first screen painted, measured in a real terminal (tmux).

Starts the console script in a detached tmux session of 100×30, polls the pane every 10 ms until
the welcome screen's question appears, and reports the median of several launches, next to a
bare ``python -c pass`` in the same venv. Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docs_section

REPO = Path(__file__).resolve().parent.parent
SECTION = "bench_startup"
MARK = "Where should it train?"


def time_to_text(command: str, text: str, timeout: float = 30.0) -> float:
    session = f"sagewiz-bench-{os.getpid()}"
    started = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", command], check=True)
    try:
        while time.perf_counter() - started < timeout:
            pane = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
            if text in pane:
                return time.perf_counter() - started
            time.sleep(0.01)
        raise TimeoutError(f"{text!r} never appeared")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    if shutil.which("tmux") is None:
        print("tmux is needed to measure a real terminal", file=sys.stderr)
        return 1
    home = tempfile.mkdtemp(prefix="sagewiz-bench-")
    sagewiz = Path(sys.executable).with_name("sagewiz")
    wizard = f"SAGEWIZ_HOME={home} {sagewiz}"
    bare = f"{sys.executable} -c 'print(\"ready\"); import time; time.sleep(5)'"
    rows = {"`sagewiz` → welcome screen painted": [], "`python -c print(...)` → text on screen (the floor)": []}
    for _ in range(args.repeat):  # interleaved
        rows["`sagewiz` → welcome screen painted"].append(time_to_text(wizard, MARK))
        rows["`python -c print(...)` → text on screen (the floor)"].append(time_to_text(bare, "ready"))
    start, end = docs_section.markers(SECTION)
    lines = [start, "## Wizard start-up: launch to first painted screen", "",
             f"Measured {dt.datetime.now():%Y-%m-%d %H:%M} by `benchmarks/bench_startup.py` in tmux (100×30), "
             f"median of {args.repeat} launches. Reproduce with:", "", "```sh",
             shlex.join([os.path.relpath(sys.executable, REPO), "benchmarks/bench_startup.py", *argv]), "```", "",
             "| what | median (s) | runs (s) |", "|---|---:|---|"]
    for name, values in rows.items():
        lines.append(f"| {name} | {statistics.median(values):.3f} | {', '.join(f'{v:.3f}' for v in values)} |")
    lines += ["", "The wizard imports neither torch nor boto3 before its first screen (a test checks it); they load "
              "with the step that needs them.", "", end]
    section = "\n".join(lines) + "\n"
    docs_section.write_section(args.out, section, SECTION)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())

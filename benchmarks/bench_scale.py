"""Checking and packing at scale: 50,000 pictures against 5,000, wall time, pictures/s, peak memory.

A folder of tens of thousands of pictures is what a beginner's scraped or exported dataset holds.
Each command runs as the user types it, in a fresh process whose peak resident memory is read
from the kernel (``wait4``'s ``ru_maxrss``):

* ``sagewiz check DIR`` the first time (every picture opened, decoded and fingerprinted);
* ``sagewiz check DIR`` again (what checking found is remembered: nothing changed, nothing opened);
* ``sagewiz check DIR`` stopped with Ctrl-C halfway, then run again: the second run's time;
* ``sagewiz im2rec --list --recursive`` and ``sagewiz im2rec --resize 32`` (re-encode), the
  packing every training run does.

The growth from 5,000 to 50,000 should be linear in time and flat in memory (the answers kept
for each picture are a few hundred bytes; no picture stays in memory). Writes its section of
docs/benchmarks.md.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 5000,50000] [--workdir /tmp/sagewiz-bench-scale]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import docs_section
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SECTION = "bench_scale"
SAGEWIZ = str(Path(sys.executable).with_name("sagewiz"))
CLASSES = 10


def pictures(root: Path, count: int) -> Path:
    """``count`` small JPEGs (64×48, each different) in ten class folders; made once."""
    done = root / ".complete"
    if done.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(count)
    for i in range(count):
        folder = root / f"class_{i % CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        picture = Image.effect_noise((64, 48), 20 + i % 30).convert("RGB")
        picture.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)), (0, 0, 16 + i % 32, 12))
        picture.save(folder / f"{i:06d}.jpg", quality=85)
    done.touch()
    time.sleep(2.1)  # a picture written in the last two seconds is never remembered (check_cache.RECENT_NS)
    return root


def timed(command: list[str], env: dict, *, interrupt_after: float | None = None) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB, exit code) of one command in a fresh process; with
    ``interrupt_after``, Ctrl-C (SIGINT) is sent that many seconds in."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if interrupt_after is not None:
        time.sleep(interrupt_after)
        process.send_signal(signal.SIGINT)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, process.returncode


def measure(data: Path, count: int, work: Path) -> dict[str, tuple[float, float]]:
    home = work / f"home-{count}"
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "SAGEWIZ_HOME": str(home)}
    rows: dict[str, tuple[float, float]] = {}
    check = [SAGEWIZ, "check", str(data), "--json"]
    rows["check` the first time"] = timed(check, env)[:2]
    rows["check` again (remembered)"] = timed(check, env)[:2]
    shutil.rmtree(home / "cache")
    _, _, code = timed(check, env, interrupt_after=rows["check` the first time"][0] / 2)
    if code != 130:
        print(f"the interrupted check ended with {code}, not 130 (Ctrl-C)", file=sys.stderr)
    rows["check` after a Ctrl-C halfway (the rest)"] = timed(check, env)[:2]
    prefix = work / f"packed-{count}" / "pictures"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    rows["im2rec --list --recursive`"] = timed([SAGEWIZ, "im2rec", "--list", "--recursive", str(prefix), str(data)], env)[:2]
    rows["im2rec --resize 32` (2 threads)"] = timed([SAGEWIZ, "im2rec", "--resize", "32", "--num-thread", "2", str(prefix), str(data)], env)[:2]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="5000,50000")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sagewiz-bench-scale"))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = {}
    for count in sizes:
        data = pictures(args.workdir / f"pictures-{count}", count)
        results[count] = measure(data, count, args.workdir)
        for name, (wall, rss) in results[count].items():
            print(f"{count:>7,} {name:<40} {wall:7.1f} s {count / wall:8,.0f}/s {rss:7.0f} MiB", flush=True)
    small, big = sizes[0], sizes[-1]
    lines = [
        docs_section.markers(SECTION)[0],
        "## Checking and packing at scale",
        "",
        f"`benchmarks/bench_scale.py`, {dt.date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Small JPEGs (64×48, each different) in {CLASSES} class folders; each command "
        "as typed, in a fresh process (start-up included); peak memory is the process's resident peak (`ru_maxrss`).",
        "",
        "| command | " + " | ".join(f"{n:,} pictures: s · pictures/s · MiB" for n in sizes) + f" | time ×, memory × ({big // small}× the pictures) |",
        "|---|" + "---:|" * len(sizes) + "---:|",
    ]
    for name in results[small]:
        cells = [f"{results[n][name][0]:,.1f} · {n / results[n][name][0]:,.0f} · {results[n][name][1]:,.0f}" for n in sizes]
        growth = f"{results[big][name][0] / results[small][name][0]:.1f}×, {results[big][name][1] / results[small][name][1]:.2f}×"
        lines.append(f"| `sagewiz {name} | " + " | ".join(cells) + f" | {growth} |")
    per_picture = (results[big][small_name := next(iter(results[small]))][1] - results[small][small_name][1]) * 1024 / (big - small)
    lines += [
        "",
        f"Memory grows with the list of pictures and what was found about each (about {per_picture:.1f} KiB a picture in "
        f"`sagewiz check`), never with their pixels: no picture is kept once it is checked or packed.",
        "",
        "\"Check again\" reads what the first check found from the sagewiz home's cache (a picture unchanged since is not "
        "opened); \"after Ctrl-C halfway\" is the second of two checks, the first stopped by SIGINT at half the first check's time.",
        docs_section.markers(SECTION)[1],
        "",
    ]
    docs_section.write_section(args.out, "\n".join(lines), SECTION)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

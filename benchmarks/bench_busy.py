"""Does local training stall when the computer is busy? How torch's OpenMP threads wait, measured.

torch's OpenMP threads (GNU libgomp in the CPU wheel) spin for a while before they sleep when
they wait for work; ``OMP_WAIT_POLICY=PASSIVE`` makes them sleep at once, ``GOMP_SPINCOUNT``
shortens the spin. This measures a training step of the algorithm's network (ResNet-20, 3,28,28,
batch 32, SGD: what the digits sample trains) in a fresh process per measurement, under each
policy, alternated in one run:

* **quiet**: nothing else running (as far as this script knows: the load average is recorded);
* **beside a neighbour**: a second process trains the same network with the same policy at the
  same time, on the same cores, which is what a second training, the endpoint or a busy
  browser does to the engine. Both sides' images/s are recorded; the figure is the measured one.

Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import docs_section

SECTION = "bench_busy"
# the environment each case gives torch (the rest of the environment less these variables)
POLICIES = {"torch's default (spin, then sleep)": {}, "sleep at once (OMP_WAIT_POLICY=PASSIVE)": {"OMP_WAIT_POLICY": "PASSIVE"},
            "short spin (GOMP_SPINCOUNT=1000)": {"GOMP_SPINCOUNT": "1000"}}
# One measurement: warm up, then count steps for a fixed time, print images/s.
STEP = """
import sys, time, torch
from sagewiz.core.local.resnet import build_resnet
torch.manual_seed(0)
model = build_resnet(20, 10, (3, 28, 28))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x, y = torch.rand(32, 3, 28, 28) * 255, torch.randint(0, 10, (32,))
def step():
    opt.zero_grad(); torch.nn.functional.cross_entropy(model(x), y).backward(); opt.step()
for _ in range(3): step()
start, steps = time.perf_counter(), 0
while time.perf_counter() - start < float(sys.argv[1]):
    step(); steps += 1
print(steps * 32 / (time.perf_counter() - start))
"""


def _start(policy: dict, seconds: float) -> subprocess.Popen:
    env = {**{k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}, **policy}
    return subprocess.Popen([sys.executable, "-c", STEP, str(seconds)], env=env, stdout=subprocess.PIPE, text=True)


def measure(policy: dict, seconds: float, neighbour: bool) -> float:
    """Images/s of one training process (with a neighbour doing the same, when asked)."""
    processes = [_start(policy, seconds) for _ in range(2 if neighbour else 1)]
    rates = [float(process.communicate()[0]) for process in processes]
    return rates[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    runs: dict[tuple[str, bool], list[float]] = {(name, n): [] for name in POLICIES for n in (False, True)}
    for _ in range(args.rounds):  # alternated: each round measures every case once
        for neighbour in (False, True):
            for name, policy in POLICIES.items():
                runs[name, neighbour].append(measure(policy, args.seconds, neighbour))
                print(f"{name:40s} {'beside a neighbour' if neighbour else 'quiet':20s} {runs[name, neighbour][-1]:8.1f} images/s", flush=True)
    rows = []
    for neighbour in (False, True):
        default, *others = (statistics.median(runs[name, neighbour]) for name in POLICIES)
        rows.append(f"| {'beside a neighbour' if neighbour else 'quiet'} | {default:.1f} | "
                    + " | ".join(f"{other:.1f} ({other / default:.2f}×)" for other in others) + " |")
    detail = "; ".join(f"{name}, {'beside a neighbour' if n else 'quiet'}: " + ", ".join(f"{r:.1f}" for r in rates)
                       for (name, n), rates in runs.items())
    start, end = docs_section.markers(SECTION)
    section = f"""{start}
## A busy computer: how torch's threads wait

Measured {dt.datetime.now():%Y-%m-%d %H:%M} by `benchmarks/bench_busy.py`. Reproduce from the repository root with:

```sh
.venv/bin/python {shlex.join(['benchmarks/bench_busy.py', *sys.argv[1:]])}
```

- **CPU**: {platform.processor() or platform.machine()}; {len(os.sched_getaffinity(0))} cores usable; load average {load_before:.1f} before the run
- **what**: a ResNet-20 training step (3,28,28, batch 32, SGD), {args.seconds:g} s per measurement, a fresh process each,
  {args.rounds} rounds alternated; the neighbour is a second process training the same network at the same time

| case | {" | ".join(f"{name} (images/s)" for name in POLICIES)} |
|---|{"---:|" * len(POLICIES)}
{chr(10).join(rows)}

No policy wins both: sleeping at once keeps a busy computer from stalling the engine but costs
the quiet case, where most training happens. sagewiz keeps torch's default until the engine
chooses its threads by the load it finds (issue 18).

Runs (images/s): {detail}

{end}
"""
    docs_section.write_section(args.out, section, SECTION)


if __name__ == "__main__":
    main()

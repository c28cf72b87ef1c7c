"""How fast this computer trains, measured, so that the time said before a training is this
computer's and not the one the figures in core/estimates.py were taken on (a 2-core VM with
AVX-512 trained 2.7-3.1× faster than a 2-core one with AVX2 only).

Two measures, the better first:

* the jobs this computer finished: the engine writes each job's pace into its status
  (:func:`job_pace`), and the median of the last few of a family is what the next one takes;
* before any: a few training steps of the family's reference network on random pictures,
  measured once per computer by ``python -m sagewiz.core.local.pace FAMILY`` (its own process,
  so the wizard never loads torch) and kept in ``pace.json`` in the sagewiz home, by computer.

A pace is pictures per second at the family's reference depth, in float32, steps and validation
together: what :func:`sagewiz.core.estimates.estimate_minutes` divides a job's pictures by.
``SAGEWIZ_ASSUMED_PACE="small=850,large=20"`` says the pace instead of measuring it (the tests,
so that what they show is the same on every computer).

On a CPU with bfloat16 instructions the same probe also times the steps under bfloat16 autocast,
alternated with the float32 ones, and keeps their ratio, the family's *bfloat16 gain*: whether
mixed precision trains faster here differs from one CPU to the next (0.35-0.75× float32 on one
AVX-512 BF16 VM, 1.3-1.7× on another; 2.5-3.6× with AMX), so
:mod:`sagewiz.core.local.mixed_precision` decides on it rather than on the instructions' names.
``SAGEWIZ_ASSUMED_BF16_GAIN="small=1.6,large=1.7"`` says it instead.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from sagewiz.core.local.cores import KEPT_FROM_CORES

# family: (depth, side, batch) of the network measured; estimates scale other depths from it
REFERENCE = {"small": (20, 28, 32), "large": (18, 224, 8)}
# A job's pace over its steps' pace on random pictures, measured with `sagewiz run` on a 2-core
# AVX2 VM (2026-12-03): the digits sample's ResNet-20/28 trained 275 pictures/s against 320 in
# steps, 300 photos' ResNet-18/224 6.9 against 8.2 (validation, decoding and the epochs' ends).
JOB_SHARE = {"small": 0.85, "large": 0.85}
LEARNED_FROM = 5  # the last jobs of a family whose median is the pace: one busy run doesn't sway it
PROBE_SECONDS = 1.0  # of timed steps (3 at least), after one untimed: oneDNN builds its kernels on the first
PROBE_TIMEOUT_S = 120
ASSUMED_VARIABLE = "SAGEWIZ_ASSUMED_PACE"
ASSUMED_GAIN_VARIABLE = "SAGEWIZ_ASSUMED_BF16_GAIN"
CACHE = "pace.json"
_measuring = threading.Lock()  # one measure at a time: two at once would each measure half the computer
_failed: set[str] = set()  # families that couldn't be measured in this process: not tried again
# Paces measured while other programs kept the probe's threads from their cores: this process
# says them (the computer is that slow now), but doesn't remember them for the next one.
_busy: dict[str, tuple[float, float | None]] = {}  # family → (pace, bfloat16 gain)


def family_of(side: int) -> str:
    """"small" for pictures of at most 28 px a side (the digits sample), "large" above."""
    return "small" if side <= 28 else "large"


def computer() -> str:
    """What a pace is measured on: the processor's name and generation, its widest vector
    instructions and the cores this process may use ("AMD EPYC (family 26 model 2), AVX-512,
    2 cores"): VMs of one name came with AVX2 only or with AVX-512, 2-3× apart, and AVX-512 VMs
    of one name trained in bfloat16 at 0.35-0.75× or 1.6-1.7× float32's speed. Another computer
    (a VM moved, a home copied) measures again."""
    from sagewiz.core.local.cores import usable_cores

    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                name, _, value = line.partition(":")
                name = name.strip()
                if name in ("model name", "cpu family", "model", "flags") and name not in fields:
                    fields[name] = value.strip()
                if line.strip() == "":
                    break  # the first processor's fields are every processor's
    except OSError:
        pass
    flags = fields.get("flags", "").split()
    vectors = next((said for flag, said in (("amx_bf16", "AMX"), ("avx512f", "AVX-512"), ("avx2", "AVX2")) if flag in flags), "")
    name = fields.get("model name") or platform.processor() or platform.machine()
    if fields.get("cpu family") and fields.get("model"):
        name += f" (family {fields['cpu family']} model {fields['model']})"
    return ", ".join(filter(None, (name, vectors, f"{usable_cores()} cores")))


def home_folder() -> Path:
    from sagewiz.core.ledger import default_ledger_path

    return default_ledger_path().parent


def known(which: str, home: Path | None = None) -> float | None:
    """This computer's pace for family ``which``: assumed, learned from its jobs, or measured
    earlier; None when it was never measured here."""
    assumed = _assumed()
    if assumed is not None:
        return assumed.get(which)
    home = home or home_folder()
    return learned(which, home) or measured(which, home) or _busy.get(which, (None, None))[0]


def known_gain(which: str, home: Path | None = None) -> float | None:
    """How many times faster family ``which`` trained under bfloat16 autocast than in float32 on
    this computer when :func:`measure` measured it (assumed with ``SAGEWIZ_ASSUMED_BF16_GAIN``);
    None when it wasn't (a CPU without bfloat16 instructions never is)."""
    assumed = _assumed(ASSUMED_GAIN_VARIABLE)
    if assumed is not None or _assumed() is not None:  # a stated pace comes with its gain, or none
        return (assumed or {}).get(which)
    home = home or home_folder()
    cache = _cache(home)
    gain = (cache.get("gains") or {}).get(which) if cache else None
    if isinstance(gain, (int, float)) and gain > 0:
        return float(gain)
    return _busy.get(which, (None, None))[1]


def _assumed(variable: str = ASSUMED_VARIABLE) -> dict[str, float] | None:
    said = os.environ.get(variable, "").strip()
    if not said:
        return None
    paces = {}
    for part in said.split(","):
        name, _, value = part.partition("=")
        try:
            paces[name.strip()] = float(value)
        except ValueError:
            continue
    return paces


def job_pace(*, depth: int, side: int, mixed_gain: float, pictures: int, seconds: float) -> dict:
    """What the engine writes into a finished job's status: ``pictures`` trained in full epochs
    (epochs × the train channel) in ``seconds`` (their steps and validation), by a network of
    ``depth`` layers on pictures of ``side`` px, ``mixed_gain`` times faster than float32 would be."""
    return {"computer": computer(), "family": family_of(side), "depth": depth, "mixed_gain": mixed_gain,
            "pictures": pictures, "seconds": round(seconds, 3), "at": time.time()}


def learned(which: str, home: Path) -> float | None:
    """The median pace of the last :data:`LEARNED_FROM` jobs of family ``which`` this computer
    finished, at the reference depth in float32; None before the first."""
    here, paces = computer(), []
    for pace in _job_paces(home):
        try:
            if pace["computer"] == here and pace["family"] == which and pace["seconds"] > 0 and pace["pictures"] > 0:
                speed = pace["pictures"] / pace["seconds"] * pace["depth"] / REFERENCE[which][0] / (pace.get("mixed_gain") or 1.0)
                paces.append((pace.get("at", 0.0), speed))
        except (KeyError, TypeError, AttributeError):
            continue  # written by an older sagewiz: not a measure
    recent = [speed for _, speed in sorted(paces)[-LEARNED_FROM:]]
    return statistics.median(recent) if recent else None


_read_paces: dict[Path, tuple[tuple, list]] = {}  # home → (its status files' sizes and times, their paces)


def _job_paces(home: Path) -> list[dict]:
    """The paces in the finished jobs' statuses, read again only when a status changed: the
    Settings step asks on every key, and a home of 500 jobs took 160 ms to read."""
    files = sorted((home / "jobs").glob("*/status.json"))
    signature = []
    for path in files:
        try:
            stat = path.stat()
            signature.append((path.parent.name, stat.st_mtime_ns, stat.st_size))
        except OSError:
            continue
    seen = _read_paces.get(home)
    if seen and seen[0] == tuple(signature):
        return seen[1]
    paces = []
    for path in files:
        try:
            pace = json.loads(path.read_text()).get("pace")
        except (OSError, ValueError, AttributeError):
            continue  # a job being written, or gone
        if isinstance(pace, dict):
            paces.append(pace)
    _read_paces[home] = (tuple(signature), paces)
    return paces


def _read_cache(home: Path) -> dict:
    """pace.json: what each computer measured, by its :func:`computer` name ({} when none)."""
    try:
        cache = json.loads((home / CACHE).read_text())
    except (OSError, ValueError):
        return {}
    computers = cache.get("computers") if isinstance(cache, dict) else None
    return computers if isinstance(computers, dict) else {}


def _cache(home: Path) -> dict | None:
    """What was measured on this computer, or None."""
    here = _read_cache(home).get(computer())
    return here if isinstance(here, dict) else None


def measured(which: str, home: Path) -> float | None:
    """The pace measured by :func:`measure` on this computer, or None."""
    try:
        return float(_cache(home)["paces"][which])
    except (KeyError, TypeError, ValueError):
        return None


def _gain_missing(which: str, home: Path | None) -> bool:
    """Whether a measure here would time bfloat16 too (the CPU has its instructions, and no pace
    is stated) and family ``which``'s gain is still unknown."""
    from sagewiz.core.local.cores import cpu_bf16

    return bool(cpu_bf16()) and _assumed() is None and known_gain(which, home) is None


def worth_measuring(which: str, home: Path | None = None) -> bool:
    """Whether family ``which``'s pace, or on a CPU with bfloat16 instructions its bfloat16 gain,
    is still unknown here and measuring it hasn't failed."""
    if which in _failed:
        return False
    return known(which, home) is None or _gain_missing(which, home)


def measure(which: str, home: Path | None = None) -> float | None:
    """Measure family ``which`` on this computer (a few seconds of training steps in a process of
    its own: float32, and bfloat16 where the CPU has it), remember it in the home folder, and
    return the pace; None when it couldn't be measured (the estimate then keeps the reference
    computer's figure). A measure asked for while another runs waits for it and takes its result."""
    home = home or home_folder()
    with _measuring:
        pace = measured(which, home)
        if pace is not None and not _gain_missing(which, home):
            return pace
        try:
            done = subprocess.run([sys.executable, "-m", "sagewiz.core.local.pace", which], capture_output=True, text=True,
                                  timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
            pace, share, gain = (float(word) for word in done.stdout.split()[-3:]) if done.returncode == 0 else (None, None, None)
        except (OSError, subprocess.SubprocessError, ValueError):
            pace = share = gain = None
        if pace is None or pace <= 0:
            _failed.add(which)
            return None
        gain = gain if gain and gain > 0 else None
        if share < KEPT_FROM_CORES:
            _busy[which] = (pace, gain)
        else:
            _remember(home, which, pace, gain)
        return pace


def _remember(home: Path, which: str, pace: float, gain: float | None) -> None:
    # by computer: a job run on fewer cores (taskset, a container) measures its own and keeps the others'
    computers, here = _read_cache(home), computer()
    measures = computers.get(here) if isinstance(computers.get(here), dict) else {}
    paces, gains = (measures.get(key) if isinstance(measures.get(key), dict) else {} for key in ("paces", "gains"))
    paces[which] = round(pace, 2)
    if gain:
        gains[which] = round(gain, 3)
    computers[here] = {"paces": paces, "gains": gains}
    try:
        home.mkdir(parents=True, exist_ok=True)
        partial = home / f"{CACHE}.{os.getpid()}.partial"
        partial.write_text(json.dumps({"computers": computers}, indent=1))
        os.replace(partial, home / CACHE)
    except OSError:
        pass  # a home that can't be written: the next estimate measures again


def probe(which: str) -> tuple[float, float, float | None]:
    """The job pace of family ``which`` from training steps of its reference network on random
    pictures, on the device and threads the engine would use (this process's, so torch here); the
    share of the timed steps' wall time its threads ran (well under 1: other programs kept them
    from their cores); and, on a CPU with bfloat16 instructions, the bfloat16 gain: its steps
    under bfloat16 autocast, alternated with the float32 ones, against them (None elsewhere)."""
    import torch

    from sagewiz.core.local.cores import cpu_bf16, usable_cores
    from sagewiz.core.local.resnet import build_resnet

    depth, side, batch = REFERENCE[which]
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    if not cuda:
        torch.set_num_threads(usable_cores())
    torch.manual_seed(0)
    model = build_resnet(depth, 10, (3, side, side), channels_last=not cuda).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    pictures = torch.randn(batch, 3, side, side, device=device)
    if not cuda:
        pictures = pictures.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch,), device=device)

    def step(bfloat16: bool) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            loss = torch.nn.functional.cross_entropy(model(pictures), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if cuda:
            torch.cuda.synchronize()

    kinds = (False, True) if not cuda and cpu_bf16() else (False,)
    for bfloat16 in kinds:
        step(bfloat16)  # oneDNN builds each precision's kernels on its first step
    started, cpu, took = time.perf_counter(), time.process_time(), {kind: [] for kind in kinds}
    while len(took[False]) < 3 or time.perf_counter() - started < PROBE_SECONDS * len(kinds):
        for bfloat16 in kinds:  # alternated: a moment of other work hits both alike
            began = time.perf_counter()
            step(bfloat16)
            took[bfloat16].append(time.perf_counter() - began)
    threads = 1 if cuda else torch.get_num_threads()
    share = (time.process_time() - cpu) / ((time.perf_counter() - started) * threads)
    # the median step: a moment of other work on the computer (the wizard drawing) doesn't sway it
    float32 = statistics.median(took[False])
    gain = float32 / statistics.median(took[True]) if True in took else None
    return batch / float32 * JOB_SHARE[which], share, gain


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in REFERENCE:
        print(f"usage: python -m sagewiz.core.local.pace {{{','.join(REFERENCE)}}}", file=sys.stderr)
        return 2
    from sagewiz.core.local.memory import keep_freed_memory

    keep_freed_memory()  # as the engine does: without it a float32 step measured 1.3-1.6× slower here
    pace, share, gain = probe(args[0])
    print(f"{pace:.2f} {share:.2f} {gain or 0:.3f}")  # 0: no bfloat16 measured
    return 0


if __name__ == "__main__":
    sys.exit(main())

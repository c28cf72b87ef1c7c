"""Benchmark: the inference form of the network (what the endpoint, ``sagewiz predict`` and
evaluation run) against the plain float32 network it is built from.

What it measures, and why:

* **plain float32** -- ``build_resnet(...).eval()``, channels_last, under ``torch.inference_mode``:
  what answered predictions before the inference form.
* **inference form** -- :func:`sagewiz.core.local.inference.inference_form` as
  ``load_for_inference`` builds it: BatchNorm folded, TorchScript-frozen oneDNN kernels or ONNX
  Runtime's, and the precision its probe chose at load (the table says which, and what the probe
  measured).
* **bfloat16 pass** -- where the CPU has BF16 instructions: the form's bfloat16 network alone
  (convolutions in bfloat16), whatever the probe chose, to show what the probe weighed. The
  bfloat16 form also runs the pictures it is unsure of again in float32; random weights leave it
  unsure of nearly all, so that part isn't timed here.

The networks have random weights and BatchNorm statistics (speed doesn't depend on them) and
see random pictures; each thread count builds its forms after setting the threads, as a process
does. The paths alternate within each of ``--repeat`` rounds (which goes first alternates too);
images/s is the median round. It writes its own section of docs/benchmarks.md (between
``<!-- bench_inference:start -->`` and ``<!-- bench_inference:end -->``) and asserts nothing.

    .venv/bin/python benchmarks/bench_inference.py [--repeat 3] [--threads 1,2] [--out docs/benchmarks.md] [--note TEXT]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import torch

from sagewiz.core.local.inference import hold_threads, inference_form
from sagewiz.core.local.cores import cpu_bf16
from sagewiz.core.local.resnet import BatchNorm, build_resnet

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import docs_section  # noqa: E402
from bench_endpoint import machine_info  # noqa: E402

NAME = "bench_inference"


@dataclass(frozen=True)
class Case:
    name: str
    num_layers: int
    side: int
    batch: int
    seconds: float  # at least this long a measurement (whole passes)


CASES = (Case("ResNet-20, 3×28×28", 20, 28, 32, 0.4), Case("ResNet-18, 3×224×224", 18, 224, 16, 1.0))


def network(case: Case) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_resnet(case.num_layers, 10, (3, case.side, case.side)).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, BatchNorm):
                module.moving_mean.uniform_(-0.5, 0.5)
                module.moving_var.uniform_(0.5, 2.0)
        model.bn_data.moving_mean.fill_(127.0)
        model.bn_data.moving_var.fill_(74.0 ** 2)
    return model


def images_per_second(run, batch: torch.Tensor, seconds: float) -> float:
    with torch.inference_mode():
        passes, started = 0, time.perf_counter()
        while passes == 0 or time.perf_counter() - started < seconds:
            run(batch)
            passes += 1
        return passes * len(batch) / (time.perf_counter() - started)


def bench(case: Case, threads: int, repeat: int) -> dict:
    hold_threads(threads)  # the forms answer on this many, whichever pool (torch's or ONNX Runtime's) answers
    model = network(case)
    shape = (3, case.side, case.side)
    started = time.perf_counter()
    form = inference_form(model, shape)
    load_s = time.perf_counter() - started
    paths = {"plain": model, "form": form}
    if cpu_bf16():
        paths["bfloat16"] = inference_form(model, shape, precision="bfloat16").run.reduced  # SureOrAgain's own
    torch.set_num_threads(threads)  # the plain network too (a form ONNX Runtime answers keeps torch to one)
    batch = torch.randint(0, 256, (case.batch, *shape), generator=torch.Generator().manual_seed(1),
                          dtype=torch.uint8).to(dtype=torch.float32, memory_format=torch.channels_last)
    rates: dict[str, list[float]] = {name: [] for name in paths}
    for round_ in range(repeat):
        for name in list(paths) if round_ % 2 == 0 else list(paths)[::-1]:
            rates[name].append(images_per_second(paths[name], batch, case.seconds))
    result = {"case": case, "threads": threads, "load_s": load_s, "said": form.said,
              "rates": {name: statistics.median(values) for name, values in rates.items()}}
    return result


def render(results: list[dict], argv: list[str], note: str | None) -> str:
    start, end = docs_section.markers(NAME)
    command = shlex.join([os.path.relpath(sys.executable, REPO), "benchmarks/bench_inference.py", *argv])
    lines = [start, "## The inference form of the network vs the plain float32 network", "",
             f"Measured {datetime.now():%Y-%m-%d %H:%M} by `benchmarks/bench_inference.py`. Reproduce from the repository root with:",
             "", "```sh", command, "```", ""]
    lines += [f"- **{key}**: {value}" for key, value in machine_info().items()]
    lines.append(f"- **bfloat16 instructions** (`cpu_bf16()`): {cpu_bf16() or 'none'}")
    if note:
        lines.append(f"- **note**: {note}")
    lines += ["- **networks**: random weights and BatchNorm statistics, 10 classes, random pictures; images/s is the "
              "median of the rounds, the paths alternated within each", "",
              "| network | batch | threads | plain float32 | inference form | form ÷ plain | bfloat16 pass "
              "| building the form | the form (as its log line says) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for entry in results:
        case, rates = entry["case"], entry["rates"]
        forced = f"{rates['bfloat16']:,.1f}" if "bfloat16" in rates else "-"
        lines.append(f"| {case.name} | {case.batch} | {entry['threads']} | {rates['plain']:,.1f} | {rates['form']:,.1f} | "
                     f"{rates['form'] / rates['plain']:.2f}× | {forced} | {entry['load_s']:.2f} s | {entry['said']} |")
    lines += ["", end]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds; images/s is the median round (default 3)")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts (default 1,2)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md", help="markdown file to update")
    parser.add_argument("--note", help="a remark for the report (e.g. the machine was shared)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    results = []
    for case in CASES:
        for count in threads:
            print(f"{case.name}, batch {case.batch}, {count} thread(s) ...", flush=True)
            results.append(bench(case, count, args.repeat))
    shown = [a for i, a in enumerate(argv) if a != "--note" and (i == 0 or argv[i - 1] != "--note") and not a.startswith("--note=")]
    section = render(results, shown, args.note)
    docs_section.write_section(args.out, section, NAME)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())

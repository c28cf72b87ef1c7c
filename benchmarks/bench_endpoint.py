"""Benchmark: the local endpoint over HTTP versus the same model run directly in-process.

What it measures, and why:

* **over HTTP** -- ``start_endpoint`` serves an untrained model (speed doesn't depend on the
  weights) and ``--concurrency`` clients (1 and 8) send JPEG photos to ``POST /invocations``
  as fast as they are answered, each on its own keep-alive connection, the way evaluation does.
  The server reads every connection on one event loop, decodes pictures on a few threads and
  batches what is queued.
* **in-process** -- the same photos through the server's own steps without HTTP, in this
  process, in batches of the concurrency (1 image, then 8 at a time): its preprocessing
  (``preprocess_for``: decode, resize, crop) and its ``forward`` on the same inference form
  (``load_for_inference``), softmax and lists included. This is the fair yardstick for the
  endpoint: the HTTP overhead is how much more time an image takes over HTTP than here.
* **forward only** -- just the forward pass over pre-decoded tensors, in batches of the same
  size: what the network alone costs, so decoding's share can be seen.

Throughput is images per second over the whole run; latency is per request (over HTTP) or per
batch (in-process: every image of a batch waits for the whole batch). Paths are interleaved
within each of ``--repeat`` rounds after a warm-up; throughput is the median round, latency
percentiles pool all rounds. Torch uses all cores in both processes: the yardstick holds them
(``hold_threads``), the server chooses as it answers (``core/local/threads.py``).

The target (issue 18): HTTP overhead at most 15% at concurrency 8 (issue 4 had asked for 10%).
The script writes its own section of docs/benchmarks.md (between ``<!-- bench_endpoint:start -->``
and ``<!-- bench_endpoint:end -->``), leaves the rest alone, and asserts nothing about speed.

    .venv/bin/python benchmarks/bench_endpoint.py [--repeat 3] [--models resnet20,resnet18]
        [--scale 1.0] [--workdir bench-data] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import shlex
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import PIL
import torch
from PIL import Image, ImageDraw

from sagewiz.core.local.artifact import ModelInfo, write_artifact
from sagewiz.core.local.batching import forward, load_for_inference
from sagewiz.core.local.cores import NO_BF16_VARIABLE
from sagewiz.core.local.endpoint import start_endpoint
from sagewiz.core.local.inference import hold_threads
from sagewiz.core.local.memory import keep_freed_memory
from sagewiz.core.local.pictures import preprocess_for
from sagewiz.core.local.resnet import build_resnet
from sagewiz.core.local.transforms import EvalTransform, batch_to_float, decode_image

REPO = Path(__file__).resolve().parent.parent
import docs_section  # noqa: E402  (benchmarks/ is on sys.path when a script runs)

START, END = "<!-- bench_endpoint:start -->", "<!-- bench_endpoint:end -->"
CONCURRENCY = (1, 8)
TARGET_OVERHEAD_PCT = 15.0


@dataclass(frozen=True)
class Case:
    name: str
    num_layers: int
    image_shape: tuple[int, int, int]
    photo_size: tuple[int, int]  # width, height of the JPEGs sent
    requests: dict[int, int]  # concurrency -> images per round (at --scale 1)


CASES = {
    "resnet20": Case("ResNet-20, 3x28x28", 20, (3, 28, 28), (40, 30), {1: 300, 8: 800}),
    "resnet18": Case("ResNet-18, 3x224x224", 18, (3, 224, 224), (500, 375), {1: 60, 8: 160}),
}


@dataclass
class Series:
    """One path at one concurrency: throughput per round and every latency."""

    rounds: list[float] = field(default_factory=list)  # images/s
    latencies: list[float] = field(default_factory=list)  # seconds
    batches: list[float] = field(default_factory=list)  # mean server batch size per round (HTTP only)

    @property
    def throughput(self) -> float:
        return statistics.median(self.rounds)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def make_photos(size: tuple[int, int], count: int, seed: int) -> list[bytes]:
    """Synthetic JPEG "photos" (gradient, shapes, noise) at quality 90."""
    rng = random.Random(seed)
    photos = []
    for _ in range(count):
        image = Image.linear_gradient("L").resize(size).convert("RGB")
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x, y = rng.randrange(size[0]), rng.randrange(size[1])
            r = rng.randrange(2, max(3, size[0] // 4))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
        image = Image.blend(image, Image.effect_noise(size, 40).convert("RGB"), 0.15)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        photos.append(buffer.getvalue())
    return photos


def make_model(workdir: Path, case: Case) -> Path:
    torch.manual_seed(0)
    model = build_resnet(case.num_layers, 10, case.image_shape).eval()
    info = ModelInfo(case.num_layers, 10, case.image_shape, tuple(f"class{i}" for i in range(10)))
    return write_artifact(workdir / f"model-{case.num_layers}.tar.gz", model, info)


def run_http(endpoint, photos: list[bytes], concurrency: int, total: int, series: Series) -> None:
    before = endpoint.stats()
    per_client = total // concurrency
    latencies: list[list[float]] = [[] for _ in range(concurrency)]

    def client(index: int) -> None:
        for i in range(per_client):
            data = photos[(index * per_client + i) % len(photos)]
            start = time.perf_counter()
            endpoint.predict(data, "image/jpeg")
            latencies[index].append(time.perf_counter() - start)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    after = endpoint.stats()
    series.rounds.append(per_client * concurrency / wall)
    series.latencies += [value for client_latencies in latencies for value in client_latencies]
    series.batches.append((after["predictions"] - before["predictions"]) / max(1, after["batches"] - before["batches"]))


def run_in_process(model, preprocess, shape, photos: list[bytes], batch: int, total: int, series: Series,
                   tensors: list[torch.Tensor] | None = None) -> None:
    """Batches of ``batch`` photos through the server's own steps without HTTP: its preprocessing
    and its ``forward`` (the inference form, softmax, lists), or the form alone over pre-decoded
    ``tensors`` when they are given."""
    count = total // batch
    start = time.perf_counter()
    for b in range(count):
        began = time.perf_counter()
        indices = [(b * batch + i) % len(photos) for i in range(batch)]
        if tensors is None:
            forward(model, [preprocess(photos[i]) for i in indices], shape, "cpu", False)
        else:
            with torch.inference_mode():
                model(tensors[indices[0] // batch % len(tensors)])
        series.latencies += [time.perf_counter() - began] * batch
    series.rounds.append(count * batch / (time.perf_counter() - start))


def bench_case(case: Case, workdir: Path, repeat: int, scale: float) -> dict:
    model_path = make_model(workdir, case)
    photos = make_photos(case.photo_size, 64, seed=case.num_layers)
    info, model, _ = load_for_inference(model_path, "cpu")  # the form the server answers with
    preprocess = preprocess_for(info)
    transform = EvalTransform(case.image_shape)
    results: dict[tuple[str, int], Series] = {}
    endpoint = start_endpoint(model_path, workdir / f"run-{case.num_layers}")
    try:
        tensors = {c: [batch_to_float(torch.stack([transform(decode_image(p, case.image_shape))
                                                   for p in photos[i:i + c]])) for i in range(0, len(photos), c)]
                   for c in CONCURRENCY}
        for c in CONCURRENCY:  # warm-up: connections, oneDNN kernels for each batch size
            run_http(endpoint, photos, c, 4 * c, Series())
            run_in_process(model, preprocess, case.image_shape, photos, c, 2 * c, Series())
        for round_ in range(repeat):
            for c in CONCURRENCY:
                total = max(c, int(case.requests[c] * scale) // c * c)
                print(f"  {case.name}: round {round_ + 1}/{repeat}, concurrency {c}, {total} images", flush=True)
                run_http(endpoint, photos, c, total, results.setdefault(("http", c), Series()))
                run_in_process(model, preprocess, case.image_shape, photos, c, total,
                               results.setdefault(("in-process", c), Series()))
                run_in_process(model, preprocess, case.image_shape, photos, c, total,
                               results.setdefault(("forward", c), Series()), tensors[c])
    finally:
        endpoint.stop()
    return {"case": case, "photos": photos, "results": results}


def machine_info() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown") if Path("/proc/cpuinfo").exists() \
        else platform.processor() or "unknown"
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "CPU": f"{cpu}; {threads} cores available (torch threads: {torch.get_num_threads()})",
        "OS": f"{platform.system()} {platform.release()}",
        "software": f"Python {platform.python_version()}, torch {torch.__version__}, Pillow {PIL.__version__}",
    }


def render(cases: list[dict], argv: list[str], note: str | None) -> str:
    command = shlex.join([os.path.relpath(sys.executable, REPO), "benchmarks/bench_endpoint.py", *argv])
    lines = [START, "## Local endpoint (HTTP) vs the model in-process", "",
             f"Measured {datetime.now():%Y-%m-%d %H:%M} by `benchmarks/bench_endpoint.py`. Reproduce from the repository root with:",
             "", "```sh", command, "```", ""]
    lines += [f"- **{key}**: {value}" for key, value in machine_info().items()]
    if note:
        lines.append(f"- **note**: {note}")
    lines += ["- **server**: `start_endpoint` defaults (max batch 16, batch wait 2 ms), 127.0.0.1, keep-alive connections; "
              f"both sides in float32 ({NO_BF16_VARIABLE}=1), so both run the same inference form",
              "- **requests**: synthetic JPEG photos at quality 90, sent with `LocalEndpoint.predict` "
              "(ResNet-20: 40x30, ResNet-18: 500x375); untrained weights, 10 classes", "",
              "| model | concurrency | path | images/s | p50 latency (ms) | p99 latency (ms) | mean server batch |",
              "|---|---:|---|---:|---:|---:|---:|"]
    summary = []
    for entry in cases:
        case, results = entry["case"], entry["results"]
        for c in CONCURRENCY:
            for path, label in (("http", "over HTTP"), ("in-process", "in-process (decode + forward)"),
                                ("forward", "forward only (pre-decoded)")):
                s = results[(path, c)]
                batch = f"{statistics.mean(s.batches):.1f}" if s.batches else "-"
                lines.append(f"| {case.name} | {c} | {label} | {s.throughput:,.1f} | {s.percentile(50) * 1000:.1f} "
                             f"| {s.percentile(99) * 1000:.1f} | {batch} |")
            http, direct = results[("http", c)], results[("in-process", c)]
            overhead = (direct.throughput / http.throughput - 1) * 100
            summary.append((case.name, c, overhead))
    lines += ["", "HTTP overhead: how much longer an image takes over HTTP than in-process with the same batch size "
              "(in-process images/s ÷ HTTP images/s − 1; negative: the server's overlapping of decoding with "
              "the forward pass won more than HTTP cost).", "",
              "| model | concurrency | HTTP overhead | target | met |", "|---|---:|---:|---|---|"]
    for name, c, overhead in summary:
        target = f"≤ {TARGET_OVERHEAD_PCT:.0f}%" if c == 8 else "-"
        met = ("yes" if overhead <= TARGET_OVERHEAD_PCT else "no") if c == 8 else "-"
        lines.append(f"| {name} | {c} | {overhead:+.1f}% | {target} | {met} |")
    lines += ["", END]
    return "\n".join(lines) + "\n"


def write_section(out: Path, section: str) -> None:
    """Replace this script's section of ``out`` (or append it), keeping everything else."""
    docs_section.write_section(out, section, "bench_endpoint")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="resnet20,resnet18", help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; throughput is the median round (default 3)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the images per round (default 1.0)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data" / "endpoint", help="models and server logs")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md", help="markdown file to update")
    parser.add_argument("--note", help="a remark for the report (e.g. the machine was shared)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in names if name not in CASES]
    if unknown:
        print(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(CASES)}", file=sys.stderr)
        return 2
    keep_freed_memory()  # as the endpoint's process does: the yardstick runs the same steps the same way
    # Both sides in float32: the inference form's bfloat16 choice at 28 px sits at its threshold
    # and is made in each process apart, so the server and the yardstick could run different
    # forms (seen: 2,528 against 1,110 images/s), and with untrained weights the bfloat16 form
    # answers every picture twice (its float32 second look for answers under 90% sure).
    os.environ[NO_BF16_VARIABLE] = "1"  # the server inherits it
    hold_threads(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    args.workdir.mkdir(parents=True, exist_ok=True)
    cases = []
    for name in names:
        print(f"{CASES[name].name} ...", flush=True)
        cases.append(bench_case(CASES[name], args.workdir, args.repeat, args.scale))
    shown = [a for i, a in enumerate(argv) if a != "--note" and (i == 0 or argv[i - 1] != "--note") and not a.startswith("--note=")]
    section = render(cases, shown, args.note)
    write_section(args.out, section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Is data loading the bottleneck of local training? The engine's input pipeline vs compute alone.

For each case the same network trains the same number of steps twice, in one run:

* **pipeline**: the engine's own way — a RecordIO channel, the training transform (random crop,
  mirror), its DataLoader (in-process with decoded images kept for a small channel, worker
  processes otherwise), uint8 → float batches;
* **compute only**: batches decoded and transformed beforehand, cycled from memory.

Throughput is images per second of optimizer steps; the target is pipeline ≥ 90% of compute
only. Cases: ResNet-20 on 28-pixel digits (``sagewiz sample``), what the sample trains, and
ResNet-18 on 224-pixel photos (re-encoded to a 256 short edge, as ``sagewiz run`` packs them).
Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import docs_section
import PIL
import torch
from PIL import Image

from sagewiz.core.dataset.listing import ListEntry
from sagewiz.core.dataset.packer import PackOptions, pack_images
from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.local.data import RecordChannel, loader
from sagewiz.core.local.engine import _to_input, _workers
from sagewiz.core.local.resnet import build_resnet
from sagewiz.core.local.transforms import TrainTransform

REPO = Path(__file__).resolve().parent.parent
SECTION = "bench_train"
TARGET = 0.9


def digits_rec(workdir: Path) -> Path:
    root = workdir / "digits"
    if not (root / "train").exists():
        write_sample_dataset(root, size=32, seed=0)
    return _pack(root, sorted((root / "train").glob("*/*.png")), workdir / "digits.rec", resize=32)


def photos_rec(workdir: Path, count: int) -> Path:
    root = workdir / "photos"
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    generator = torch.Generator().manual_seed(0)
    for i in range(count):
        path = root / f"{i % 2}" / f"{i:05d}.jpg"
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            noise = (torch.rand(47, 63, 3, generator=generator) * 255).to(torch.uint8)
            Image.frombytes("RGB", (63, 47), bytes(noise.flatten().tolist())).resize((500, 375), Image.BICUBIC).save(path, quality=90)
        paths.append(path)
    return _pack(root, paths, workdir / "photos.rec", resize=256)


def _pack(root: Path, paths: list[Path], rec: Path, resize: int) -> Path:
    if not rec.exists():
        entries = [ListEntry(i, str(p.relative_to(root)), (float(int(p.parent.name.split("_")[-1]) % 10),)) for i, p in enumerate(paths)]
        pack_images(entries, root, rec, rec.with_suffix(".idx"), PackOptions(resize=resize, quality=95), workers=os.cpu_count() or 1)
    return rec


def steps_per_second(model, optimizer, batches, steps: int) -> float:
    """Images/s over ``steps`` optimizer steps (after 2 warm-up steps)."""
    iterator = iter(batches)
    for _ in range(2):
        _step(model, optimizer, *next(iterator))
    started, images = time.perf_counter(), 0
    for _ in range(steps):
        x, y = next(iterator)
        _step(model, optimizer, x, y)
        images += len(y)
    return images / (time.perf_counter() - started)


def _step(model, optimizer, images, labels) -> None:
    loss = torch.nn.functional.cross_entropy(model(_to_input(images, torch.device("cpu"))), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _forever(dataset_loader):
    while True:
        yield from dataset_loader


def bench_case(name: str, rec: Path, layers: int, shape: tuple[int, int, int], resize: int, batch: int, steps: int,
               repeat: int) -> dict:
    torch.manual_seed(0)
    transform = TrainTransform(shape, "crop", 0, resize=resize)
    channel = RecordChannel("train", rec, 10, transform)
    workers = _workers(channel)
    pipeline = loader(channel, batch, shuffle=True, seed=0, workers=workers, drop_last=True)
    cached = [next(iter(loader(channel, batch, shuffle=True, seed=i, workers=workers, drop_last=True))) for i in range(8)]
    model = build_resnet(layers, 10, shape)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    results = {"pipeline": [], "compute only": []}
    for _ in range(repeat):  # interleaved, so drift in the machine's speed hits both alike
        results["pipeline"].append(steps_per_second(model, optimizer, _forever(pipeline), steps))
        results["compute only"].append(steps_per_second(model, optimizer, _forever(cached), steps))
    medians = {k: statistics.median(v) for k, v in results.items()}
    return {"name": name, "images": len(channel), "batch": batch, "steps": steps, "workers": workers,
            "runs": results, "median": medians, "ratio": medians["pipeline"] / medians["compute only"]}


def render(cases: list[dict], argv: list[str]) -> str:
    start, end = docs_section.markers(SECTION)
    command = shlex.join([os.path.relpath(sys.executable, REPO), "benchmarks/bench_train.py", *argv])
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    lines = [start, "## Local training: input pipeline vs compute only", "",
             f"Measured {dt.datetime.now():%Y-%m-%d %H:%M} by `benchmarks/bench_train.py`. Reproduce from the repository root with:",
             "", "```sh", command, "```", "",
             f"- **CPU**: {cpu}; {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
             f"- **software**: Python {platform.python_version()}, torch {torch.__version__}, Pillow {PIL.__version__}",
             "- **pipeline**: the engine's RecordIO channel + training transform (`augmentation_type=crop`) + DataLoader "
             "(workers 0 means decoded once and kept in memory: the channel is small)",
             "- **compute only**: 8 batches made beforehand and cycled from memory; same network, optimizer and steps", "",
             "| case | images in channel | batch | steps | DataLoader workers | pipeline (images/s) | compute only (images/s) | ratio | target | met |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for c in cases:
        met = "yes" if c["ratio"] >= TARGET else "**no**"
        lines.append(f"| {c['name']} | {c['images']:,} | {c['batch']} | {c['steps']} | {c['workers']} | {c['median']['pipeline']:.1f} "
                     f"| {c['median']['compute only']:.1f} | {c['ratio']:.2f} | ≥ {TARGET} | {met} |")
    lines += ["", "Runs (images/s): " + "; ".join(
        f"{c['name']}: pipeline {', '.join(f'{v:.1f}' for v in c['runs']['pipeline'])} / compute only "
        f"{', '.join(f'{v:.1f}' for v in c['runs']['compute only'])}" for c in cases), "", end]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs per path; the median is reported (default 3)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data" / "train", help="data (default bench-data/train, git-ignored)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--quick", action="store_true", help="fewer steps, to check the script works")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    scale = 0.2 if args.quick else 1.0
    cases = [
        bench_case("ResNet-20, 3,28,28 digits", digits_rec(args.workdir), 20, (3, 28, 28), 32, 32, int(100 * scale) or 5, args.repeat),
        bench_case("ResNet-18, 3,224,224 photos", photos_rec(args.workdir, 512), 18, (3, 224, 224), 256, 32, int(12 * scale) or 3, args.repeat),
    ]
    section = render(cases, argv)
    docs_section.write_section(args.out, section, SECTION)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())

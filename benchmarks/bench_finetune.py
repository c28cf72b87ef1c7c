"""Fine-tuning on this CPU: what a beginner's first model costs, against what the wizard says.

1,000 photo-like JPEGs (500×375, two classes, as the classic cats-and-dogs folder is) are trained
with the settings sagewiz suggests once a pretrained ResNet-18 is installed — transfer learning,
ResNet-18 at 224, few epochs — through ``sagewiz run``, the whole command timed. Beside it: the
training time the Settings step estimates for those settings (``estimate_minutes``), which should
be within 30%. The pretrained network's weights are a random ResNet-18 of the right shapes (the
time does not depend on them; no download needed). Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

import docs_section
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
SECTION = "bench_finetune"
SAGEWIZ = str(Path(sys.executable).with_name("sagewiz"))


def photos(root: Path, count: int) -> Path:
    """``count`` JPEGs of 500×375 in train/ and test/ class folders: shapes on noisy backgrounds."""
    if (root / "train").exists():
        return root
    rng = random.Random(0)
    for i in range(count):
        label = ("cats", "dogs")[i % 2]
        split = "test" if i % 10 == 0 else "train"
        folder = root / split / label
        folder.mkdir(parents=True, exist_ok=True)
        picture = Image.effect_noise((500, 375), 40).convert("RGB")
        draw = ImageDraw.Draw(picture)
        for _ in range(6):
            x, y = rng.randint(0, 450), rng.randint(0, 330)
            fill = (rng.randint(150, 255), 80, 60) if label == "cats" else (60, 90, rng.randint(150, 255))
            (draw.ellipse if label == "cats" else draw.rectangle)((x, y, x + 50, y + 45), fill=fill)
        picture.save(folder / f"{label}.{i}.jpg", quality=90)
    return root


def random_resnet18(path: Path) -> Path:
    """A model.tar.gz of a random ResNet-18 at 224, to install as the pretrained network."""
    import torch

    from sagewiz.core.local.resnet import build_resnet
    from sagewiz.core.model.archive import ModelInfo, write_archive
    from sagewiz.core.model.weights import checkpoint_params

    torch.manual_seed(0)
    info = ModelInfo(18, 1000, (3, 224, 224), tuple(f"class {i}" for i in range(1000)), {"mini_batch_size": "32"}, 1)
    return write_archive(path, checkpoint_params(build_resnet(18, 1000, (3, 224, 224))), info)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pictures", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sagewiz-bench-finetune"))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SAGEWIZ_HOME": str(args.workdir / "home")}
    data = photos(args.workdir / f"photos-{args.pictures}", args.pictures)
    subprocess.run([SAGEWIZ, "pretrained", "add", str(random_resnet18(args.workdir / "resnet18.tar.gz"))],
                   env=env, check=True, capture_output=True)
    started = time.perf_counter()
    done = subprocess.run([SAGEWIZ, "run", "--data", str(data), "--yes", "--json"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode:
        print(done.stderr, file=sys.stderr)
        return 1
    summary = json.loads(done.stdout)

    from sagewiz.core.hyperparams import Hyperparameters
    from sagewiz.core.estimates import estimate_minutes

    from sagewiz.core.local import pace

    hp = Hyperparameters.from_sagemaker(summary["hyperparameters"])
    trained = summary["training"]["billable_seconds"]
    family, home = pace.family_of(hp.image_shape_tuple[1]), args.workdir / "home"
    os.environ["SAGEWIZ_HOME"] = str(home)
    estimate_next = estimate_minutes(hp) * 60  # what the next run is told: this job's own pace, learned
    # what this run was told before training: the pace it measured in a few seconds of steps (a
    # home that had trained before says the pace learned from its jobs instead)
    os.environ[pace.ASSUMED_VARIABLE] = f"{family}={pace.measured(family, home) or pace.learned(family, home)}"
    estimate = estimate_minutes(hp) * 60
    ratio = estimate / trained
    sent = summary["hyperparameters"]
    section = "\n".join([
        docs_section.markers(SECTION)[0],
        "## Fine-tuning a beginner's photos on this CPU",
        "",
        f"`benchmarks/bench_finetune.py`, {dt.date.today()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}. {args.pictures:,} photo-like JPEGs (500×375, two "
        "classes) trained by `sagewiz run` with the settings it suggests once a pretrained ResNet-18 is installed:",
        f"`{', '.join(f'{k}={v}' for k, v in sent.items())}`.",
        "",
        "| | seconds |",
        "|---|---:|",
        f"| the whole `sagewiz run` (check, pack at 256, train, endpoint, test, clean up) | {wall:,.0f} |",
        f"| the training job | {trained:,.0f} |",
        f"| the estimate said before training, from a few seconds of steps measured first | {estimate:,.0f} "
        f"({ratio:.2f}× the real time) |",
        f"| the estimate the next run is told, from this job's own pace | {estimate_next:,.0f} "
        f"({estimate_next / trained:.2f}× the real time) |",
        "",
        f"Test accuracy {summary['test_accuracy']:.3f} (the pretrained weights here are random: the figure that matters is "
        "the time).",
        docs_section.markers(SECTION)[1],
        "",
    ])
    docs_section.write_section(args.out, section, SECTION)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())

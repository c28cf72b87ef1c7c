"""sagewiz's local engine against the algorithm's own, MXNet 1.9.1, on the same computer.

The same RecordIO files, network (the algorithm's ResNet: sagewiz writes its symbol, MXNet loads
it), batch and settings on both sides:

* **training**: MXNet's ``Module.fit`` reading ``ImageRecordIter`` (random crop and mirror, as
  the algorithm does) against ``sagewiz run``'s training job (the engine process
  ``python -m sagewiz.core.local.train`` on a job folder, as the local backend starts it):
  seconds per epoch (the first, which pays for start-up, left out where there are more) and
  validation accuracy after the same epochs. ResNet-20 at 28 px on the digits sample, ResNet-18
  at 224 on photo-like JPEGs;
* **inference**: images/s of a forward pass of a batch of random pictures, MXNet's bound
  ``Module`` against the network sagewiz's endpoint, evaluation and predict run.

sagewiz trains in the precision its suggested settings choose on this computer: mixed precision
(``precision_dtype=float16``, bfloat16 here) where its probe measured it faster than float32,
else float32. Its inference form is chosen at load as the endpoint's is: float32 by ONNX
Runtime's kernels where they measure faster than TorchScript's, bfloat16 where that measures
clearly faster than TorchScript's float32. On a CPU with bfloat16 instructions both are also run
in float32 (``precision_dtype=float32``; ``SAGEWIZ_NO_BF16=1``), a third side in the
alternation, for the float32 targets.

Each case runs on 1 and 2 cores (``taskset``: both sides see only those cores) and both quiet and
beside a CPU-bound neighbour process (a busy loop on every core, what a browser or a video call
does to a laptop), in a fresh process per measurement, the two sides alternated. Writes its
section of docs/benchmarks.md with the CPU's flags; asserts nothing.

    SAGEWIZ_MXNET_PYTHON=/path/to/python .venv/bin/python benchmarks/bench_vs_mxnet.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docs_section

REPO = Path(__file__).resolve().parent.parent
SECTION = "bench_vs_mxnet"
FLOAT32 = "sagewiz float32"  # the third side, on a CPU with bfloat16 instructions

MXNET_TRAIN = r'''
import json, logging, sys, time, mxnet as mx
a = json.loads(sys.argv[1])
costs = []
class Costs(logging.Handler):  # Module.fit logs "Epoch[n] Time cost=s": the training of each epoch alone
    def emit(self, record):
        message = record.getMessage()
        if "Time cost=" in message:
            costs.append(float(message.rsplit("=", 1)[1]))
logging.getLogger().addHandler(Costs())
logging.getLogger().setLevel(logging.INFO)
shape = tuple(a["image_shape"])
train = mx.io.ImageRecordIter(path_imgrec=a["train"], data_shape=shape, batch_size=a["batch"], shuffle=True,
                              rand_crop=True, rand_mirror=True, preprocess_threads=a["threads"], seed=1)
val = mx.io.ImageRecordIter(path_imgrec=a["validation"], data_shape=shape, batch_size=a["batch"],
                            preprocess_threads=a["threads"])
module = mx.mod.Module(mx.sym.load(a["symbol"]), context=mx.cpu())
module.fit(train, eval_data=val, optimizer="sgd", eval_metric="acc", num_epoch=a["epochs"],
           optimizer_params={"learning_rate": a["lr"], "momentum": 0.9, "wd": 0.0001},
           initializer=mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2))
accuracy = dict(module.score(val, "acc"))["accuracy"]
print(json.dumps({"costs": costs, "accuracy": accuracy}))
'''

# both sides' inference scripts end with the same timing: two warm-up batches, then as many as fit in the seconds
TIMED_RUNS = r'''
for _ in range(2):
    run()
start, n = time.perf_counter(), 0
while time.perf_counter() - start < a["seconds"]:
    run(); n += 1
print(json.dumps({"images_per_s": n * a["batch"] / (time.perf_counter() - start)}))
'''

MXNET_INFER = r'''
import json, sys, time, mxnet as mx
a = json.loads(sys.argv[1])
module = mx.mod.Module(mx.sym.load(a["symbol"]), context=mx.cpu())
module.bind(data_shapes=[("data", (a["batch"], *a["image_shape"]))], label_shapes=[("softmax_label", (a["batch"],))],
            for_training=False)
module.init_params(mx.init.Xavier())
batch = mx.io.DataBatch([mx.nd.random.uniform(0, 255, (a["batch"], *a["image_shape"]))], [mx.nd.zeros((a["batch"],))])
def run():
    module.forward(batch, is_train=False)
    module.get_outputs()[0].wait_to_read()
'''

SAGEWIZ_INFER = r'''
import json, sys, time, torch
a = json.loads(sys.argv[1])
from sagewiz.core.local.cores import usable_cores
from sagewiz.core.local.memory import keep_freed_memory
keep_freed_memory()  # as the endpoint and sagewiz predict do
torch.set_num_threads(usable_cores())
from sagewiz.core.local.resnet import build_resnet
model = build_resnet(a["layers"], a["classes"], tuple(a["image_shape"]), channels_last=True).eval()
from sagewiz.core.local.inference import inference_form  # what the endpoint, evaluation and predict run
model = inference_form(model, tuple(a["image_shape"]))
x = (torch.rand(a["batch"], *a["image_shape"]) * 255).to(memory_format=torch.channels_last)
def run():
    with torch.inference_mode():
        model(x)
'''

BUSY_LOOP = "while True: pass"


def cores_command(cores: int) -> list[str]:
    return ["taskset", "-c", ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[:cores])]


def run_json(command: list[str], env: dict) -> dict:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[:6])}… failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Neighbour:
    """A busy loop on every core while a measurement runs (or nothing, for the quiet case)."""

    def __init__(self, busy: bool):
        self.busy, self.processes = busy, []

    def __enter__(self):
        if self.busy:
            self.processes = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in os.sched_getaffinity(0)]
            time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.kill()
            process.wait()


def prepare(work: Path) -> dict[str, dict]:
    """The two workloads' packed channels and symbols (made once)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_finetune import photos

    from sagewiz.core.dataset.sample import write_sample_dataset
    from sagewiz.core.dataset.scan import scan_dataset
    from sagewiz.core.model.symbol import symbol_json
    from sagewiz.core.prepare import prepare_dataset

    cases = {
        # training_rounds: whole trainings a side, alternated; ResNet-18's take minutes each
        "ResNet-20, 3×28×28, digits": {"layers": 20, "image_shape": (3, 28, 28), "batch": 32, "lr": 0.1, "resize": 28, "training_rounds": 3,
                                       "make": lambda root: write_sample_dataset(root, size=28)},
        "ResNet-18, 3×224×224, photos": {"layers": 18, "image_shape": (3, 224, 224), "batch": 16, "lr": 0.01, "resize": 240, "training_rounds": 1,
                                         "make": lambda root: photos(root, 240)},
    }
    for name, case in cases.items():
        folder = work / re.sub(r"\W+", "-", name)
        if not (folder / "packed" / "validation.rec").exists():
            shutil.rmtree(folder, ignore_errors=True)
            case["make"](folder / "pictures")
            report = scan_dataset(folder / "pictures", remember=False)
            prepare_dataset(report, folder / "packed", resize=case["resize"])
        prepared = json.loads((folder / "packed" / "prepared.json").read_text())
        case.update(folder=folder, train=str(folder / "packed" / "train.rec"), validation=str(folder / "packed" / "validation.rec"),
                    samples=prepared["counts"]["train"], classes=2 if case["layers"] == 18 else 10)
        symbol = folder / "symbol.json"
        symbol.write_text(symbol_json(case["layers"], case["classes"], case["image_shape"]))
        case["symbol"] = str(symbol)
    return cases


def train_mxnet(case: dict, cores: int, epochs: int, mxnet: str) -> tuple[float, float, str]:
    env = {**os.environ, "OMP_NUM_THREADS": str(cores), "MXNET_CPU_WORKER_NTHREADS": str(cores)}
    arguments = {k: case[k] for k in ("train", "validation", "batch", "lr", "symbol")}
    out = run_json([*cores_command(cores), mxnet, "-c", MXNET_TRAIN, json.dumps({**arguments, "image_shape": case["image_shape"],
                                                                                  "threads": cores, "epochs": epochs})], env)
    return _epoch_seconds(out["costs"]), out["accuracy"], "float32"


def _epoch_seconds(costs: list[float]) -> float:
    """Seconds of an epoch's training: the mean after the first (which warms up) where there are several."""
    return sum(costs[1:]) / len(costs[1:]) if len(costs) > 1 else costs[0]


def train_sagewiz(case: dict, cores: int, epochs: int, work: Path, precision: str) -> tuple[float, float, str]:
    from sagewiz.core.local import job as jobs

    folder = Path(tempfile.mkdtemp(dir=work, prefix="job-"))
    hp = {"num_classes": str(case["classes"]), "num_layers": str(case["layers"]), "image_shape": ",".join(map(str, case["image_shape"])),
          "mini_batch_size": str(case["batch"]), "epochs": str(epochs), "learning_rate": str(case["lr"]),
          "num_training_samples": str(case["samples"]), "resize": str(case["resize"]), "precision_dtype": precision}
    channels = {split: {"path": case[split], "content_type": "application/x-recordio"} for split in ("train", "validation")}
    jobs.write_spec(folder, {"job_name": folder.name, "hyperparameters": hp, "channels": channels, "class_names": [],
                             "output_dir": str(folder / "output"), "device": "cpu"})
    done = subprocess.run([*cores_command(cores), sys.executable, "-m", "sagewiz.core.local.train", str(folder)], capture_output=True)
    log = jobs.log_path(folder).read_text()
    if done.returncode:
        raise RuntimeError(f"sagewiz's training failed:\n{log[-3000:]}")
    costs = [float(x) for x in re.findall(r"Time cost=([\d.]+)", log)]
    accuracy = float(re.findall(r"Validation-accuracy=([\d.]+)", log)[-1])
    # what the engine chose on these cores (it measures a core count it hasn't seen before its first step)
    arithmetic = "bfloat16" if "Arithmetic: bfloat16" in log else "float32"
    shutil.rmtree(folder)
    return _epoch_seconds(costs), accuracy, arithmetic


def infer(side: str, case: dict, cores: int, seconds: float, mxnet: str) -> float:
    arguments = {"layers": case["layers"], "classes": case["classes"], "image_shape": case["image_shape"], "batch": case["batch"],
                 "symbol": case["symbol"], "seconds": seconds}
    if side == "mxnet":
        env = {**os.environ, "OMP_NUM_THREADS": str(cores), "MXNET_CPU_WORKER_NTHREADS": str(cores)}
        return run_json([*cores_command(cores), mxnet, "-c", MXNET_INFER + TIMED_RUNS, json.dumps(arguments)], env)["images_per_s"]
    env = {**os.environ, **({"SAGEWIZ_NO_BF16": "1"} if side == FLOAT32 else {})}
    return run_json([*cores_command(cores), sys.executable, "-c", SAGEWIZ_INFER + TIMED_RUNS, json.dumps(arguments)], env)["images_per_s"]


def train(side: str, case: dict, cores: int, epochs: int, work: Path, mxnet: str) -> tuple[float, float, str]:
    if side == "mxnet":
        return train_mxnet(case, cores, epochs, mxnet)
    return train_sagewiz(case, cores, epochs, work, "float32" if side == FLOAT32 else case["precision"])


def alternated(sides: list[str], round_: int) -> list[str]:
    """``sides`` in the order of round ``round_``: each goes first in turn, so a machine's drift hits all alike."""
    turn = round_ % len(sides)
    return sides[turn:] + sides[:turn]


def suggested_precision(case: dict) -> str:
    """The precision_dtype sagewiz's suggested settings choose for this case on this computer,
    after measuring it as the wizard does (quiet, before the first measurement)."""
    from sagewiz.core.local import pace
    from sagewiz.core.suggestions import mixed_precision_pays

    side = case["image_shape"][1]
    if pace.worth_measuring(pace.family_of(side)):
        pace.measure(pace.family_of(side))
    return "float16" if mixed_precision_pays("local", "cpu", side) else "float32"


def trained_per_epoch(side: str, case: dict) -> int:
    """Pictures an epoch steps over: sagewiz drops the last partial batch (drop_last), MXNet's
    ImageRecordIter fills it with pictures from the start (round_batch): 194 photos at batch 16
    are 192 against 208, so images/s compares the work each did rather than its epoch's length."""
    batches = case["samples"] // case["batch"] if side == "sagewiz" else -(-case["samples"] // case["batch"])
    return batches * case["batch"]


def cpu_flags() -> str:
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "unknown"
    wanted = [f for f in flags if f.startswith(("avx512", "amx", "avx_vnni")) or f in ("avx2", "fma")]
    return " ".join(wanted) or "none of AVX2/AVX-512/AMX"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mxnet-python", default=os.environ.get("SAGEWIZ_MXNET_PYTHON"))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sagewiz-bench-vs-mxnet"))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--quick", action="store_true", help="quiet only, fewer epochs: a look, not the table")
    parser.add_argument("--rounds", type=int, default=3, help="inference measurements per side and case, alternated (median)")
    parser.add_argument("--note", default="", help="a remark on the machine for the report")
    args = parser.parse_args()
    if not args.mxnet_python:
        print("Set SAGEWIZ_MXNET_PYTHON (../shared/tools/make-mxnet-venv builds one): this benchmark compares with MXNet.", file=sys.stderr)
        return 2
    args.workdir.mkdir(parents=True, exist_ok=True)
    # a home of its own: this computer measured afresh, as a new user's wizard would (pace.json)
    os.environ.setdefault("SAGEWIZ_HOME", str(args.workdir / "home"))
    cases = prepare(args.workdir)
    loads = (False,) if args.quick else (False, True)
    load_before = os.getloadavg()[0]
    from sagewiz.core.local.cores import cpu_bf16

    bf16 = cpu_bf16()
    rows = []
    for name, case in cases.items():
        case["precision"] = suggested_precision(case)
        trainers = ["sagewiz", "mxnet"] + ([FLOAT32] if case["precision"] == "float16" else [])
        inferrers = ["sagewiz", "mxnet"] + ([FLOAT32] if bf16 else [])
        # at least two epochs but in --quick, so that what is measured is training, not start-up
        epochs = (2 if args.quick else 3) if case["layers"] == 20 else (1 if args.quick else 2)
        for busy in loads:
            for cores in (1, 2):
                with Neighbour(busy):
                    trained = {side: [] for side in trainers}
                    for round_ in range(1 if args.quick else case["training_rounds"]):
                        for side in alternated(trainers, round_):
                            trained[side].append(train(side, case, cores, epochs, args.workdir, args.mxnet_python))
                    inferred = {side: [] for side in inferrers}
                    for round_ in range(args.rounds):
                        for side in alternated(inferrers, round_):
                            inferred[side].append(infer(side, case, cores, 3, args.mxnet_python))
                # the median round's epoch seconds, and its accuracy
                median = {side: sorted(runs)[len(runs) // 2] for side, runs in trained.items()}
                speed = {side: trained_per_epoch("mxnet" if side == "mxnet" else "sagewiz", case) / median[side][0] for side in trainers}
                ratios = {side: sorted(o / t for o, t in zip(inferred[side], inferred["mxnet"])) for side in inferrers}
                rows.append({"name": name, "cores": cores, "load": "beside a neighbour" if busy else "quiet", "epochs": epochs,
                             "arithmetic": " or ".join(sorted({run[2] for run in trained["sagewiz"]})),  # as the engine's logs said
                             "speed": speed, "accuracy": {side: median[side][1] for side in trainers},
                             "inference": {side: statistics.median(runs) for side, runs in inferred.items()}, "ratios": ratios})
                print(f"{name}, {cores} cores, {rows[-1]['load']}: training " + ", ".join(f"{side} {v:.1f}" for side, v in speed.items())
                      + "; inference " + ", ".join(f"{side} {v:.1f}" for side, v in rows[-1]["inference"].items()), flush=True)
    (args.workdir / "rows.json").write_text(json.dumps(rows, indent=1))  # the measurements, whatever the report does
    rounds_said = ", ".join(f"{name.split(',')[0]}: {case['training_rounds']}" for name, case in cases.items())
    lines = [
        docs_section.markers(SECTION)[0],
        "## The local engine against MXNet 1.9.1 (the algorithm's engine)",
        "",
        f"`benchmarks/bench_vs_mxnet.py`, {dt.datetime.now():%Y-%m-%d %H:%M}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load_before:.1f} before the run. CPU flags: `{cpu_flags()}`. "
        "Same RecordIO files, network and settings on both sides; training images/s: the pictures an epoch stepped over "
        "(sagewiz drops the last partial batch, MXNet fills it from the start) over each engine's own "
        "\"Epoch[n] Time cost\" (the epoch's training; validation and start-up left out), the mean of the epochs after the "
        "first (which warms up) where there are several, of the median of the trainings a side, alternated "
        f"({rounds_said}); inference: a batch of random pictures forward, images/s, the median of {args.rounds} "
        "measurements a side alternated, with the lowest and highest of the rounds' ratios."
        + (f" {args.note}" if args.note else ""),
        "",
        "sagewiz trains in the precision its suggested settings choose here (column *arithmetic*: bfloat16 is mixed "
        "precision, chosen where the probe measured it faster than float32) and infers in the precision its inference "
        "form chooses at load" + (f"; this CPU has {bf16}, so sagewiz also ran in float32 as a third side, "
                                   "alternated with the other two." if bf16 else "."),
        "",
        "| network | cores | machine | arithmetic | training images/s (sagewiz / MXNet) | validation accuracy after the same epochs "
        "(sagewiz / MXNet) | inference images/s (sagewiz / MXNet) |" + (" sagewiz in float32: training / inference vs MXNet |" if bf16 else ""),
        "|---|---:|---|---|---:|---:|---:|" + ("---:|" if bf16 else ""),
    ]
    for row in rows:
        speed, inference, ratios, accuracy = row["speed"], row["inference"], row["ratios"], row["accuracy"]
        line = (f"| {row['name']} | {row['cores']} | {row['load']} | {row['arithmetic']} | {speed['sagewiz']:,.1f} / {speed['mxnet']:,.1f} = "
                f"**{speed['sagewiz'] / speed['mxnet']:.2f}×** | {accuracy['sagewiz']:.3f} / {accuracy['mxnet']:.3f} "
                f"({row['epochs']} epoch{'s' * (row['epochs'] != 1)}) | {inference['sagewiz']:,.1f} / {inference['mxnet']:,.1f} = "
                f"**{inference['sagewiz'] / inference['mxnet']:.2f}×** ({ratios['sagewiz'][0]:.2f}–{ratios['sagewiz'][-1]:.2f}) |")
        if bf16:
            trained = f"{speed[FLOAT32] / speed['mxnet']:.2f}× (accuracy {accuracy[FLOAT32]:.3f})" if FLOAT32 in speed else "(as left)"
            line += f" {trained} / {inference[FLOAT32] / inference['mxnet']:.2f}× |"
        lines.append(line)
    lines += ["", "Targets (issue 18): training ≥ 2× and inference ≥ 3× where AMX/BF16 pays, ≥ 1.0× for both in float32.",
              docs_section.markers(SECTION)[1], ""]
    docs_section.write_section(args.out, "\n".join(lines), SECTION)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

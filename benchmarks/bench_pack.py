"""Benchmark: packing images into RecordIO with ``sagewiz im2rec`` versus MXNet's ``im2rec.py``.

What it measures, and why:

* **list** -- ``--list --recursive`` over a cats-vs-dogs style folder, with each tool. The two
  ``.lst`` files must be the same bytes (sagewiz is a drop-in); the step is timed too.
* **pass-through** -- ``--pass-through --num-thread N``: the records hold each file's bytes as
  they are, so the work is reading files and framing records. Its natural yardstick is a plain
  copy of the same bytes into one file (a Python read/append loop and ``cat``; the faster one is
  the baseline). sagewiz's ``.rec``/``.idx`` must equal MXNet's byte for byte.
* **re-encode** -- ``--resize 224`` (JPEG quality 95, im2rec's default): decode, resize the
  short edge, encode. This is where threads and the imaging library matter.

Every timing is the wall time of the whole command run as a subprocess, interpreter start-up
and imports included, because that is what a user waits for. Start-up alone (``--help``,
``import mxnet``) is measured separately so the two can be told apart. Tools are interleaved
within each repetition after one warm-up run of each (which also fills the page cache), and the
median of ``--repeat`` runs is reported. The images are synthetic "photos" (smooth gradients,
shapes, texture and mild noise, 25-45 KB each at JPEG quality 90), generated once with a seed
and cached in the work folder.

The script writes its own section of docs/benchmarks.md (between ``<!-- bench_pack:start -->``
and ``<!-- bench_pack:end -->``) and leaves the rest of the file alone. It asserts nothing about
speed: it reports the figures, the targets and whether each is met.

MXNet is found through ``--mxnet-python PATH``, else ``$SAGEWIZ_MXNET_PYTHON``, else built with
``../shared/tools/make-mxnet-venv``; without it, sagewiz is measured alone.

    .venv/bin/python benchmarks/bench_pack.py [--images 2000] [--threads 2] [--repeat 3]
        [--workdir bench-data] [--out docs/benchmarks.md] [--mxnet-python PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import filecmp
import io
import json
import os
import platform
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parent.parent
MAKE_MXNET_VENV = REPO.parent / "shared" / "tools" / "make-mxnet-venv"
import docs_section  # noqa: E402  (benchmarks/ is on sys.path when a script runs)

START, END = "<!-- bench_pack:start -->", "<!-- bench_pack:end -->"
# --phone: the photos a beginner actually has (12 MP phone pictures), re-encoded to 224 px:
# where JPEG draft mode decodes at 1/8 scale and MXNet decodes every pixel. Its own section.
PHONE_START, PHONE_END = "<!-- bench_pack_phone:start -->", "<!-- bench_pack_phone:end -->"
PHONE_SIZES = ((4032, 3024), (3024, 4032))
PHONE_IMAGES = 120
DATA_VERSION = 1  # bump when the image generator changes, so cached data is regenerated
SIZES = ((500, 375), (375, 500), (500, 333), (480, 360))
CLASSES = ("cat", "dog")
RESIZE = 224
TARGETS = {  # ratio name -> minimum
    "re-encode sagewiz / im2rec": 2.0,
    "pass-through sagewiz / plain copy": 0.8,
}
# ----------------------------------------------------------------------------------------------
# Tools


@dataclass(frozen=True)
class Tool:
    """A command that speaks im2rec's flags: ``argv + [prefix, root, *flags]``."""

    name: str
    argv: tuple[str, ...]
    help_argv: tuple[str, ...]  # the cheapest full start-up: imports everything, does nothing
    note: str = ""


def find_sagewiz(args: argparse.Namespace) -> Tool:
    """The sagewiz console script next to this interpreter, or the --sagewiz-cmd stand-in."""
    if args.sagewiz_cmd:
        argv = tuple(shlex.split(args.sagewiz_cmd))
        return Tool("sagewiz", argv, argv + ("--help",), note="a stand-in given with --sagewiz-cmd")
    exe = Path(sys.executable).with_name("sagewiz")
    argv = (str(exe), "im2rec")
    probe = subprocess.run(argv + ("--help",), capture_output=True, text=True)
    if probe.returncode != 0 or "--pass-through" not in probe.stdout:
        sys.exit(f"{exe} im2rec --help failed (rc {probe.returncode}); is the command implemented?\n"
                 f"{probe.stderr[-2000:]}\nUse --sagewiz-cmd to benchmark a stand-in.")
    return Tool("sagewiz", argv, argv + ("--help",))


def find_mxnet(args: argparse.Namespace, workdir: Path) -> tuple[Tool | None, str]:
    """MXNet's im2rec.py and the python that runs it, or None and why not."""
    candidates = [args.mxnet_python, os.environ.get("SAGEWIZ_MXNET_PYTHON")]
    for python in filter(None, candidates):
        script = im2rec_script(python)
        if script:
            return Tool("mxnet im2rec.py", (python, script), (python, script, "--help")), ""
    if args.no_build_mxnet or not MAKE_MXNET_VENV.exists():
        return None, "no python with mxnet (give --mxnet-python or SAGEWIZ_MXNET_PYTHON)"
    venv = workdir / "mxnet-venv"
    print(f"building the MXNet reference venv in {venv} ...", flush=True)
    built = subprocess.run([str(MAKE_MXNET_VENV), str(venv)], capture_output=True, text=True)
    script = built.stdout.strip().splitlines()[-1] if built.returncode == 0 and built.stdout.strip() else ""
    if not script or not Path(script).exists():
        return None, f"make-mxnet-venv failed: {built.stderr.strip()[-300:]}"
    python = str(venv / "bin" / "python")
    return Tool("mxnet im2rec.py", (python, script), (python, script, "--help")), ""


def im2rec_script(python: str) -> str:
    """Path of mxnet/tools/im2rec.py for this python, or '' if it has no mxnet."""
    code = "import mxnet, os; print(os.path.join(os.path.dirname(mxnet.__file__), 'tools', 'im2rec.py'))"
    try:
        found = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    path = found.stdout.strip().splitlines()[-1] if found.returncode == 0 and found.stdout.strip() else ""
    return path if path and Path(path).exists() else ""


# ----------------------------------------------------------------------------------------------
# Synthetic photos


def make_photo(index: int, seed: int, sizes: tuple[tuple[int, int], ...] = SIZES) -> bytes:
    """One JPEG that compresses like a photo: smooth colour field, soft shapes, a mid-frequency
    texture and mild sensor-like noise. Sizes cycle through typical 4:3 / 3:2 photo shapes."""
    rng = np.random.default_rng([seed, index])
    width, height = sizes[index % len(sizes)]
    field_ = Image.fromarray((rng.random((4, 5, 3)) * 255).astype(np.uint8)).resize((width, height), Image.BICUBIC)
    draw = ImageDraw.Draw(field_)
    for _ in range(int(rng.integers(6, 14))):
        x0, y0 = int(rng.integers(-width // 4, width)), int(rng.integers(-height // 4, height))
        x1, y1 = x0 + int(rng.integers(30, width // 2)), y0 + int(rng.integers(30, height // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.polygon([(int(rng.integers(0, width)), int(rng.integers(0, height))) for _ in range(3)], fill=colour)
    pixels = np.asarray(field_.filter(ImageFilter.GaussianBlur(1.5)), dtype=np.float32)
    texture = Image.fromarray((rng.random((height // 6 + 1, width // 6 + 1)) * 255).astype(np.uint8))
    texture = np.asarray(texture.resize((width, height), Image.BICUBIC), dtype=np.float32)
    pixels += (texture[..., None] - 128) * rng.uniform(0.08, 0.2)
    pixels += rng.normal(0, rng.uniform(2.0, 3.5), pixels.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
    return out.getvalue()


def photo_path(root: Path, index: int, count: int) -> Path:
    """cat/cat.I.jpg for the first half, dog/dog.I.jpg for the rest (like Kaggle's data)."""
    label = CLASSES[0] if index < (count + 1) // 2 else CLASSES[1]
    return root / label / f"{label}.{index}.jpg"


def _write_photo(job: tuple[str, int, int, tuple[tuple[int, int], ...]]) -> int:
    path, index, seed, sizes = job
    data = make_photo(index, seed, sizes)
    Path(path).write_bytes(data)
    return len(data)


def ensure_photos(workdir: Path, count: int, seed: int, sizes: tuple[tuple[int, int], ...] = SIZES) -> tuple[Path, dict]:
    """Generate the photos once (process pool); later runs reuse them. Returns root and manifest."""
    tag = "" if sizes == SIZES else "-" + "_".join(f"{w}x{h}" for w, h in sizes)
    root = workdir / f"photos-v{DATA_VERSION}-n{count}-s{seed}{tag}"
    manifest_path = root.with_suffix(".json")
    if manifest_path.exists() and all(photo_path(root, i, count).exists() for i in range(count)):
        return root, json.loads(manifest_path.read_text())
    for label in CLASSES:
        (root / label).mkdir(parents=True, exist_ok=True)
    jobs = [(str(photo_path(root, i, count)), i, seed, sizes) for i in range(count)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        sizes = list(pool.map(_write_photo, jobs, chunksize=4 if tag else 32))
    manifest = {
        "count": count, "seed": seed, "version": DATA_VERSION, "bytes": sum(sizes),
        "min_kb": min(sizes) / 1000, "mean_kb": statistics.mean(sizes) / 1000, "max_kb": max(sizes) / 1000,
        "generated_in_s": round(time.perf_counter() - started, 1),
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return root, manifest


# ----------------------------------------------------------------------------------------------
# Running and timing commands


@dataclass
class Timing:
    """Wall and CPU (user+sys, children included) seconds of one command."""

    wall: float
    cpu: float


@dataclass
class Series:
    """Repeated timings of one command."""

    runs: list[Timing] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(t.wall for t in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(t.cpu for t in self.runs)


def run_timed(argv: list[str], cwd: Path | None = None, stdout_path: Path | None = None) -> Timing:
    """Run a command to completion; its stdout is discarded (or goes to a file), stderr is kept
    for the error message. Raises if it fails."""
    with tempfile.TemporaryFile() as err, open(stdout_path or os.devnull, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"command failed (rc {process.returncode}): {shlex.join(argv)}\n{tail}")
    return Timing(wall, usage.ru_utime + usage.ru_stime)


def time_interleaved(commands: dict[str, callable], repeat: int) -> dict[str, Series]:
    """One warm-up run of each command, then ``repeat`` rounds running each once, rotating the
    order every round so no command always goes first."""
    for run in commands.values():
        run()
    series = {name: Series() for name in commands}
    names = list(commands)
    for round_ in range(repeat):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            series[name].runs.append(commands[name]())
    return series


def startup_times(tools: list[Tool], repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall time of bare interpreter start-up and of each tool's full start-up; and the
    start-up to subtract from each timed command's wall time for its net rate."""
    commands = {}
    for tool in tools:
        python = tool.argv[0] if tool.name.startswith("mxnet") else sys.executable
        commands[f"{python} -c pass"] = [python, "-c", "pass"]
        if tool.name.startswith("mxnet"):
            commands[f"{python} -c 'import mxnet'"] = [python, "-c", "import mxnet"]
        commands[shlex.join(tool.help_argv)] = list(tool.help_argv)
    series = time_interleaved({k: (lambda a=a: run_timed(a)) for k, a in commands.items()}, max(repeat, 5))
    startup = {name: s.wall for name, s in series.items()}
    overhead = {tool.name: startup[shlex.join(tool.help_argv)] for tool in tools}
    overhead["plain copy (python loop)"] = startup[f"{sys.executable} -c pass"]
    overhead["plain copy (cat)"] = 0.0
    return startup, overhead


# ----------------------------------------------------------------------------------------------
# The benchmark steps


def read_list_paths(lst: Path) -> list[str]:
    """Relative image paths of a .lst file, in order."""
    return [line.rstrip("\n").split("\t")[-1] for line in lst.read_text().splitlines(keepends=True) if line.strip()]


def run_dir(workdir: Path, tool: Tool, step: str) -> Path:
    path = workdir / "runs" / tool.name.split()[0] / step
    path.mkdir(parents=True, exist_ok=True)
    return path


def bench_list(tools: list[Tool], root: Path, workdir: Path, repeat: int) -> tuple[dict[str, Series], dict[str, Path]]:
    """Time ``--list --recursive`` with each tool; return timings and each tool's .lst."""
    prefixes = {tool.name: run_dir(workdir, tool, "list") / "data" for tool in tools}
    commands = {
        tool.name: (lambda t=tool: run_timed(list(t.argv) + [str(prefixes[t.name]), str(root), "--list", "--recursive"]))
        for tool in tools
    }
    return time_interleaved(commands, repeat), {name: p.with_suffix(".lst") for name, p in prefixes.items()}


def pack_command(tool: Tool, lst: Path, root: Path, prefix: Path, flags: list[str]) -> callable:
    """A runner that packs a fresh copy of ``lst`` at ``prefix`` and times it."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(lst, prefix.with_suffix(".lst"))

    def run() -> Timing:
        for suffix in (".rec", ".idx"):
            prefix.with_suffix(suffix).unlink(missing_ok=True)
        return run_timed(list(tool.argv) + [str(prefix), str(root)] + flags)

    return run


COPY_LOOP = """
import sys
root, lst, out = sys.argv[1:]
paths = [line.rstrip('\\n').split('\\t')[-1] for line in open(lst) if line.strip()]
with open(out, 'wb') as dst:
    for rel in paths:
        with open(root + '/' + rel, 'rb') as src:
            dst.write(src.read())
"""


def copy_commands(lst: Path, root: Path, workdir: Path) -> dict[str, callable]:
    """The plain-copy baselines: a Python read/append loop and ``cat``, both as subprocesses."""
    out_dir = workdir / "runs" / "copy"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = read_list_paths(lst)
    py = [sys.executable, "-c", COPY_LOOP, str(root), str(lst), str(out_dir / "python-loop.bin")]
    cat = ["cat", *paths]
    return {
        "plain copy (python loop)": lambda: run_timed(py),
        "plain copy (cat)": lambda: run_timed(cat, cwd=root, stdout_path=out_dir / "cat.bin"),
    }


def bench_pack(tools: list[Tool], lst: Path, root: Path, workdir: Path, mode: str, threads: int,
               repeat: int, with_copy: bool) -> tuple[dict[str, Series], dict[str, Path]]:
    """Time one packing mode at one thread count for every tool (and the copy baselines)."""
    flags = (["--pass-through"] if mode == "pass-through" else ["--resize", str(RESIZE)]) + ["--num-thread", str(threads)]
    prefixes = {tool.name: run_dir(workdir, tool, f"{mode}-t{threads}") / "data" for tool in tools}
    commands = {tool.name: pack_command(tool, lst, root, prefixes[tool.name], flags) for tool in tools}
    if with_copy:
        commands.update(copy_commands(lst, root, workdir))
    return time_interleaved(commands, repeat), prefixes


# ----------------------------------------------------------------------------------------------
# Checking the outputs

MAGIC = 0xCED7230A


def read_records(rec: Path) -> list[bytes]:
    """Payloads of a RecordIO file, joining records split at embedded magic numbers."""
    data, records, pos, parts = rec.read_bytes(), [], 0, []
    while pos < len(data):
        magic, lrec = struct.unpack_from("<II", data, pos)
        if magic != MAGIC:
            raise ValueError(f"{rec}: bad magic at byte {pos}")
        cflag, length = lrec >> 29, lrec & ((1 << 29) - 1)
        parts.append(data[pos + 8: pos + 8 + length])
        pos += 8 + length + (-length % 4)
        if cflag in (0, 3):
            records.append(struct.pack("<I", MAGIC).join(parts))
            parts = []
    return records


def decode_record(payload: bytes) -> tuple[int, Image.Image]:
    """(id, image) of an im2rec image record."""
    flag, _label, ident, _ = struct.unpack_from("<IfQQ", payload)
    return ident, Image.open(io.BytesIO(payload[24 + 4 * flag:]))


def same_bytes(a: Path, b: Path) -> bool:
    return a.exists() and b.exists() and filecmp.cmp(a, b, shallow=False)


def check_resized(prefixes: dict[str, Path], lst: Path, sample: int = 50) -> dict[str, str]:
    """Every listed image is in each tool's .rec, in list order, with short edge RESIZE; and on a
    sample, how far sagewiz's pixels are from MXNet's (mean absolute difference, 0-255)."""
    ids = [int(line.split("\t", 1)[0]) for line in lst.read_text().splitlines() if line.strip()]
    decoded, notes = {}, {}
    for name, prefix in prefixes.items():
        records = [decode_record(r) for r in read_records(prefix.with_suffix(".rec"))]
        short_ok = all(min(img.size) == RESIZE for _, img in records)
        in_order = [ident for ident, _ in records] == ids
        notes[name] = f"{len(records)}/{len(ids)} records, list order {'yes' if in_order else 'NO'}, short edge {RESIZE} {'yes' if short_ok else 'NO'}"
        decoded[name] = records
    if len(decoded) == 2:
        (_, a), (_, b) = decoded.items()
        step = max(1, len(ids) // sample)
        diffs = []
        for (_, ia), (_, ib) in list(zip(a, b))[::step]:
            if ia.size != ib.size:
                diffs.append(float("nan"))
                continue
            pa = np.asarray(ia.convert("RGB"), dtype=np.int16)
            pb = np.asarray(ib.convert("RGB"), dtype=np.int16)
            diffs.append(float(np.abs(pa - pb).mean()))
        notes["pixels"] = f"mean |sagewiz - mxnet| over {len(diffs)} sampled images: {statistics.mean(diffs):.2f} of 255"
    return notes


# ----------------------------------------------------------------------------------------------
# Report


def machine_info(mxnet: Tool | None) -> dict[str, str]:
    """nproc, CPU model, Python and library versions."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    import PIL  # noqa: PLC0415

    info = {
        "CPU": f"{cpu}; nproc {len(os.sched_getaffinity(0))}",
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "sagewiz side": f"Python {platform.python_version()}, Pillow {PIL.__version__}, numpy {np.__version__}",
    }
    if mxnet:
        code = "import sys, mxnet, cv2, numpy; print(sys.version.split()[0], mxnet.__version__, cv2.__version__, numpy.__version__)"
        out = subprocess.run([mxnet.argv[0], "-c", code], capture_output=True, text=True).stdout.split()
        if len(out) == 4:
            info["MXNet side"] = f"Python {out[0]}, mxnet {out[1]}, opencv {out[2]}, numpy {out[3]}"
    return info


def net_wall(series: Series, overhead: float) -> float | None:
    """Median wall time less start-up, or None when start-up is nearly all of it."""
    net = series.wall - overhead
    return net if net > 0.05 * series.wall and net > 0.005 else None


def fmt_row(step: str, threads: str, name: str, series: Series, images: int, overhead: float) -> str:
    runs = ", ".join(f"{t.wall:.2f}" for t in series.runs)
    net = net_wall(series, overhead)
    net_rate = f"{images / net:,.0f}" if net else "-"
    return (f"| {step} | {threads} | {name} | {series.wall:.2f} | {images / series.wall:,.0f} | {net_rate} "
            f"| {series.cpu:.2f} | {runs} |")


def ratio_rows(results: dict, threads: list[int], sagewiz: str, mxnet: str | None,
               overhead: dict[str, float]) -> list[tuple[str, int, float, float | None]]:
    """(ratio name, threads, whole-command value, value net of start-up) for each comparison."""
    def ratio(series: dict[str, Series], base: str, ours: str) -> tuple[float, float | None]:
        whole = series[base].wall / series[ours].wall
        nb, no = net_wall(series[base], overhead[base]), net_wall(series[ours], overhead[ours])
        return whole, (nb / no if nb and no else None)

    rows = []
    for n in threads:
        resized = results[("re-encode", n)]
        if mxnet:
            rows.append(("re-encode sagewiz / im2rec", n, *ratio(resized, mxnet, sagewiz)))
        if ("pass-through", n) not in results:  # --phone measures re-encoding only
            continue
        passed = results[("pass-through", n)]
        copy = min((k for k in passed if k.startswith("plain copy")), key=lambda k: passed[k].wall)
        rows.append(("pass-through sagewiz / plain copy", n, *ratio(passed, copy, sagewiz)))
        if mxnet:
            rows.append(("pass-through sagewiz / im2rec", n, *ratio(passed, mxnet, sagewiz)))
    return rows


def render(ctx: dict) -> str:
    """The markdown section, markers included."""
    images, tools = ctx["images"], ctx["tools"]
    sagewiz = tools[0].name
    mxnet = tools[1].name if len(tools) > 1 else None
    start, end = (PHONE_START, PHONE_END) if ctx["phone"] else (START, END)
    title = "## Re-encoding phone photos (im2rec --resize)" if ctx["phone"] else "## Packing images (im2rec)"
    lines = [start, title, ""]
    lines += [f"Measured {ctx['date']} by `benchmarks/bench_pack.py`. Reproduce from the repository root with:", "",
              "```sh", ctx["command"], "```", ""]
    lines += [f"- **{k}**: {v}" for k, v in ctx["machine"].items()]
    m = ctx["manifest"]
    shapes = ", ".join(f"{w}x{h}" for w, h in (PHONE_SIZES if ctx["phone"] else SIZES))
    lines += [f"- **data**: {images:,} synthetic JPEG photos (quality 90; {shapes}) in "
              f"`cat/` and `dog/`, {m['min_kb']:.0f}-{m['max_kb']:.0f} KB, mean {m['mean_kb']:.1f} KB, "
              f"{m['bytes'] / 1e6:.1f} MB in all; warm page cache",
              "- **tools**: " + "; ".join(f"{t.name}: `{shlex.join(t.argv)}`" + (f" ({t.note})" if t.note else "") for t in tools),
              ]
    if ctx["note"]:
        lines.append(f"- **note**: {ctx['note']}")
    if ctx["mxnet_missing"]:
        lines.append(f"- **MXNet not measured**: {ctx['mxnet_missing']}")
    lines += ["", f"Wall time of the whole command (start-up included), median of {ctx['repeat']} interleaved runs after "
              "one warm-up run each; CPU is user+sys of the process and its children.", "",
              "| step | threads | tool | median wall (s) | images/s | images/s net of start-up | CPU (s) | runs (s) |",
              "|---|---|---|---:|---:|---:|---:|---|"]
    overhead = ctx["overhead"]
    for name, series in ctx["list"].items():
        lines.append(fmt_row("list `--list --recursive`", "-", name, series, images, overhead[name]))
    for (mode, n), series_by_tool in ctx["results"].items():
        step = "pass-through" if mode == "pass-through" else f"re-encode `--resize {RESIZE}`"
        for name, series in series_by_tool.items():
            lines.append(fmt_row(step, str(n) if name in {t.name for t in tools} else "1", name, series, images, overhead[name]))
    lines += ["", "Start-up alone (median wall of ≥5 runs):", "", "| command | seconds |", "|---|---:|"]
    lines += [f"| `{cmd}` | {sec:.3f} |" for cmd, sec in ctx["startup"].items()]
    lines += ["", "### Ratios and targets", "",
              "Throughput ratios (above 1: sagewiz is faster). Targets are judged on whole-command wall times; "
              "the ratio net of start-up (each command's wall time less its start-up above; `cat` counted as 0) "
              "is shown to tell start-up from per-image work.",
              "", "| ratio | threads | whole command | net of start-up | target | met |", "|---|---|---:|---:|---:|---|"]
    for name, n, value, net in ratio_rows(ctx["results"], ctx["threads"], sagewiz, mxnet, overhead):
        target = TARGETS.get(name)
        met = "-" if target is None else ("yes" if value >= target else "**no**")
        net_text = f"{net:.2f}x" if net else "-"
        lines.append(f"| {name} | {n} | {value:.2f}x | {net_text} | {'-' if target is None else f'≥ {target}x'} | {met} |")
    lines += ["", "### Same output", ""] + [f"- {check}" for check in ctx["checks"]]
    lines += ["", end]
    return "\n".join(lines) + "\n"


def write_section(out: Path, section: str) -> None:
    """Replace this script's section of ``out`` (or append it), keeping everything else."""
    docs_section.write_section(out, section, "bench_pack_phone" if section.startswith(PHONE_START) else "bench_pack")


def reproduce_command(argv: list[str], mxnet: Tool | None) -> str:
    """The command line that reproduces this run, relative to the repository root."""
    def rel(p: str) -> str:
        try:
            return str(Path(os.path.abspath(p)).relative_to(REPO))
        except ValueError:
            return p
    env = f"SAGEWIZ_MXNET_PYTHON={mxnet.argv[0]} " if mxnet and "--mxnet-python" not in argv else ""
    shown = []  # --note is prose for the report, not part of the measurement
    for arg in argv:
        if shown and shown[-1] == "--note":
            shown.pop()
        elif not arg.startswith("--note="):
            shown.append(arg)
    return env + shlex.join([rel(sys.executable), "benchmarks/bench_pack.py", *shown])


# ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=0, help=f"number of photos (default 2000; {PHONE_IMAGES} with --phone)")
    parser.add_argument("--phone", action="store_true", help="12 MP phone photos, re-encode only, in their own section of the report")
    parser.add_argument("--threads", default="2", help="comma-separated --num-thread values (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per command; the median is reported (default 3)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data", help="data and outputs (default bench-data/, git-ignored)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md", help="markdown file to update (default docs/benchmarks.md)")
    parser.add_argument("--mxnet-python", help="a python with mxnet (default $SAGEWIZ_MXNET_PYTHON, else build one)")
    parser.add_argument("--no-build-mxnet", action="store_true", help="don't build an MXNet venv when none is given")
    parser.add_argument("--sagewiz-cmd", help="benchmark this command instead of `sagewiz im2rec` (for testing the script)")
    parser.add_argument("--note", help="a remark to print under the tools in the report (e.g. what the stand-in is)")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the synthetic photos (default 2024)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    threads = [int(n) for n in args.threads.split(",")]
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)

    sagewiz = find_sagewiz(args)
    mxnet, mxnet_missing = find_mxnet(args, workdir)
    tools = [sagewiz] + ([mxnet] if mxnet else [])
    if mxnet_missing:
        print(f"MXNet not measured: {mxnet_missing}", flush=True)

    images = args.images or (PHONE_IMAGES if args.phone else 2000)
    args.images = images
    root, manifest = ensure_photos(workdir, images, args.seed, PHONE_SIZES if args.phone else SIZES)
    print(f"{args.images} photos in {root} ({manifest['mean_kb']:.1f} KB mean)", flush=True)

    checks = []
    print("timing start-up ...", flush=True)
    startup, overhead = startup_times(tools, args.repeat)
    print("timing --list ...", flush=True)
    runs = workdir / "phone" if args.phone else workdir  # outputs of the two datasets kept apart
    list_series, lsts = bench_list(tools, root, runs, args.repeat)
    if mxnet:
        equal = same_bytes(lsts[sagewiz.name], lsts[mxnet.name])
        checks.append(f"`.lst` from `--list --recursive`: sagewiz {'==' if equal else '!='} MXNet, byte for byte"
                      f" ({len(read_list_paths(lsts[sagewiz.name])):,} lines)")
    lst = lsts[mxnet.name] if mxnet else lsts[sagewiz.name]  # both tools pack the same list

    results = {}
    for n in threads:
        for mode in ("re-encode",) if args.phone else ("pass-through", "re-encode"):
            print(f"timing {mode} with {n} thread(s) ...", flush=True)
            series, prefixes = bench_pack(tools, lst, root, runs, mode, n, args.repeat, with_copy=mode == "pass-through")
            results[(mode, n)] = series
            if mode == "pass-through" and mxnet:
                for suffix in (".rec", ".idx"):
                    equal = same_bytes(prefixes[sagewiz.name].with_suffix(suffix), prefixes[mxnet.name].with_suffix(suffix))
                    checks.append(f"pass-through `{suffix}` with {n} thread(s): sagewiz {'==' if equal else '!='} MXNet, byte for byte")
            if mode == "re-encode":
                for name, note in check_resized(prefixes, lst).items():
                    checks.append(f"re-encode with {n} thread(s), {name}: {note}")
    first = workdir / "runs" / "sagewiz" / f"pass-through-t{threads[0]}" / "data.rec"
    for n in threads[1:] if not args.phone else ():
        other = workdir / "runs" / "sagewiz" / f"pass-through-t{n}" / "data.rec"
        checks.append(f"sagewiz pass-through `.rec` with {threads[0]} vs {n} thread(s): "
                      f"{'same bytes' if same_bytes(first, other) else 'DIFFERENT'}")

    section = render({
        "images": args.images, "phone": args.phone, "tools": tools, "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "command": reproduce_command(argv, mxnet), "machine": machine_info(mxnet), "manifest": manifest,
        "mxnet_missing": mxnet_missing, "repeat": args.repeat, "list": list_series, "results": results,
        "startup": startup, "overhead": overhead, "note": args.note, "threads": threads, "checks": checks,
    })
    write_section(args.out, section)
    print(section)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

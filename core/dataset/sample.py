"""A small, real dataset to try sagewiz with: handwritten digits written out as an image folder.

The digits are scikit-learn's copy of the UCI "Optical Recognition of Handwritten Digits" data
(1,797 images of 8×8 pixels, vendored in ``data/digits.csv.gz``; see ``data/NOTICE.md``). They
are written in the layout a beginner is asked to bring — ``train/<label>/*.png`` and
``test/<label>/*.png`` — so every later step (check, pack, train, predict) runs on them exactly
as it would on the user's own photos.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from PIL import Image

from sagewiz.core.errors import InputError

MARKER_NAME = ".sagewiz-sample.json"
MIN_SIZE, MAX_SIZE = 8, 512
MAX_TEST_FRACTION = 0.9
ALL_CLASSES = tuple(range(10))
_DATA_FILE = "digits.csv.gz"
_SOURCE_SIDE = 8
_SOURCE_MAX = 16
# Everything a sample writes; a folder holding anything else holds the user's files.
_SAMPLE_FILE = re.compile(r"(train|test)/digit_[0-9]/[0-9]{4}\.png")
# How many images to write between two progress callbacks: often enough for a smooth bar,
# rarely enough that the callback costs nothing.
_PROGRESS_EVERY = 50
_THREADS_FROM_SIZE = 64
_MAX_THREADS = 8


@dataclass(frozen=True)
class SampleSummary:
    """What :func:`write_sample_dataset` wrote: where, which digits, how many images per split."""

    path: Path
    classes: tuple[int, ...]
    image_size: int
    train_counts: dict[int, int] = field(default_factory=dict)
    test_counts: dict[int, int] = field(default_factory=dict)

    @property
    def train_total(self) -> int:
        """Number of training images over all classes."""
        return sum(self.train_counts.values())

    @property
    def test_total(self) -> int:
        """Number of test images over all classes."""
        return sum(self.test_counts.values())

    def to_dict(self) -> dict:
        """The summary as plain JSON-ready data, counts keyed by label folder name."""
        return {
            "path": str(self.path),
            "classes": list(self.classes),
            "labels": [label_folder(digit) for digit in self.classes],
            "image_size": self.image_size,
            "train": {label_folder(d): n for d, n in self.train_counts.items()},
            "test": {label_folder(d): n for d, n in self.test_counts.items()},
            "train_total": self.train_total,
            "test_total": self.test_total,
        }


def label_folder(digit: int) -> str:
    """The folder name, and so the class label, used for one digit: ``digit_3``."""
    return f"digit_{digit}"


@lru_cache(maxsize=1)
def load_digits() -> tuple[tuple[int, bytes], ...]:
    """All 1,797 digits as ``(digit, 64 pixel values 0..16 row by row)``, in the file's order."""
    raw = resources.files("sagewiz.core.dataset").joinpath("data", _DATA_FILE).read_bytes()
    rows = csv.reader(io.StringIO(gzip.decompress(raw).decode("ascii")))
    return tuple((int(row[64]), bytes(int(v) for v in row[:64])) for row in rows)


def write_sample_dataset(
    target: str | os.PathLike[str],
    *,
    size: int = 32,
    classes: Sequence[int] | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    progress: Callable[[int], object] | None = None,
) -> SampleSummary:
    """Write the handwritten-digits sample as ``target/{train,test}/digit_<d>/<nnnn>.png``.

    Images are RGB PNGs of ``size``×``size`` pixels, dark ink on a light background; ``nnnn`` is
    the image's row in the source data, so a file can be traced back. Each digit is split into
    train and test on its own (stratified) with ``seed``; the same arguments give byte-identical
    files (with the same Pillow and zlib). ``classes`` picks some digits (``[0, 1]`` for a quick
    two-class run). ``progress``, if given, is called with the number of images written since
    its last call.

    The dataset is built in a hidden folder beside ``target`` and moved into place at the end,
    so an interrupted run never leaves half a dataset. ``target`` may be missing, empty, or an
    earlier sample (which is replaced); anything else is refused rather than overwritten.

    Raises:
        InputError: an argument is out of range, ``target`` holds files that are not an earlier
            sample, or the folder can't be written.
    """
    size, chosen, test_fraction = _validated(size, classes, test_fraction)
    target = Path(target).expanduser().resolve()
    replacing = _check_target(target)
    splits = _split(chosen, test_fraction, seed)
    settings = {"size": size, "classes": list(chosen), "test_fraction": test_fraction, "seed": seed}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Not mkdtemp: its 0700 mode would stay on the finished folder; mkdir honours the umask.
        staging = target.parent / f".{target.name}.sagewiz-new-{secrets.token_hex(4)}"
        staging.mkdir()
    except OSError as error:
        raise _unwritable(target, error) from error
    try:
        _write_images(staging, splits, size, progress)
        marker = {"sagewiz_sample": "handwritten digits", **settings}
        (staging / MARKER_NAME).write_text(json.dumps(marker, indent=2) + "\n")
        _move_into_place(staging, target, replacing)
    except OSError as error:
        raise _unwritable(target, error) from error
    finally:
        # Also on KeyboardInterrupt: the half-written staging folder must not stay behind.
        shutil.rmtree(staging, ignore_errors=True)
    return SampleSummary(
        path=target,
        classes=chosen,
        image_size=size,
        train_counts={d: len(splits["train"][d]) for d in chosen},
        test_counts={d: len(splits["test"][d]) for d in chosen},
    )


def _validated(size, classes, test_fraction) -> tuple[int, tuple[int, ...], float]:
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise InputError(
            f"Image size {size!r} is out of range.",
            hint=f"Pick a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}; 32 is quick, "
            "224 matches what the SageMaker ResNet models expect.",
        )
    chosen = ALL_CLASSES if classes is None else tuple(classes)
    bad = [c for c in chosen if isinstance(c, bool) or not isinstance(c, int) or c not in ALL_CLASSES]
    if bad:
        raise InputError(
            f"There is no digit {bad[0]!r} in the sample.",
            hint="Classes are the digits 0 to 9, for example 0,1 or 3,5,8.",
        )
    chosen = tuple(sorted(set(chosen)))
    if len(chosen) < 2:
        raise InputError(
            "A classifier needs at least two classes to tell apart.",
            hint="Pick two or more digits, for example 0,1 for a quick two-class try.",
        )
    try:
        fraction = float(test_fraction)
    except (TypeError, ValueError):
        fraction = float("nan")
    if not 0 < fraction < MAX_TEST_FRACTION:  # also False for NaN
        raise InputError(
            f"Test fraction {test_fraction!r} is out of range.",
            hint=f"Use a number above 0 and below {MAX_TEST_FRACTION}, such as 0.2 "
            "(a fifth of the images kept aside for testing).",
        )
    return size, chosen, fraction


def _check_target(target: Path) -> bool:
    """Whether ``target`` is an earlier sample to replace; raise if it must not be touched."""
    if not target.exists():
        return False
    if not target.is_dir():
        raise InputError(
            f"{target} is a file, not a folder.",
            hint="Give the name of a new folder for the sample, for example ./digits.",
        )
    if not any(target.iterdir()):
        return False
    if _is_earlier_sample(target):
        return True
    raise InputError(
        f"{target} already holds files that sagewiz did not write.",
        title="Folder not empty",
        hint="Nothing was changed. Give the name of a new or empty folder, for example ./digits.",
    )


def _is_earlier_sample(folder: Path) -> bool:
    try:
        marker = json.loads((folder / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict) or "sagewiz_sample" not in marker:
        return False
    # The marker alone is not enough: if the user dropped their own files into an old sample,
    # replacing it would delete them.
    for root, dirs, files in os.walk(folder):
        relative = Path(root).relative_to(folder)
        for name in files:
            path = (relative / name).as_posix()
            if path != MARKER_NAME and not _SAMPLE_FILE.fullmatch(path):
                return False
        if any(os.path.islink(os.path.join(root, d)) for d in dirs):
            return False
    return True


def _split(chosen: tuple[int, ...], test_fraction: float, seed: int) -> dict[str, dict[int, list[int]]]:
    """Row numbers per split and digit: each digit shuffled on its own, its first part is test."""
    rows_of: dict[int, list[int]] = {d: [] for d in chosen}
    for row, (digit, _) in enumerate(load_digits()):
        if digit in rows_of:
            rows_of[digit].append(row)
    rng = random.Random(seed)
    splits: dict[str, dict[int, list[int]]] = {"train": {}, "test": {}}
    for digit in chosen:
        rows = rows_of[digit]
        rng.shuffle(rows)
        # At least one image on each side, so every class can be both learned and tested.
        n_test = min(max(1, round(len(rows) * test_fraction)), len(rows) - 1)
        splits["test"][digit] = sorted(rows[:n_test])
        splits["train"][digit] = sorted(rows[n_test:])
    return splits


def _write_images(root: Path, splits, size: int, progress) -> None:
    digits = load_digits()
    jobs = []
    for split, by_digit in splits.items():
        for digit, rows in by_digit.items():
            folder = root / split / label_folder(digit)
            folder.mkdir(parents=True)
            jobs += [(folder / f"{row:04d}.png", digits[row][1]) for row in rows]
    workers = min(_MAX_THREADS, os.cpu_count() or 1) if size >= _THREADS_FROM_SIZE else 1
    if workers == 1:
        written = map(_write_one, jobs, [size] * len(jobs))
        _report(written, progress)
    else:
        # Pillow releases the GIL while it compresses, so threads scale on large images
        # (224 px: 4.6 s → 2.5 s on 2 cores) without a process pool's start-up and pickling.
        # On small images the thread hand-off costs more than it saves.
        with ThreadPoolExecutor(workers, thread_name_prefix="sagewiz-sample") as pool:
            _report(pool.map(_write_one, jobs, [size] * len(jobs)), progress)


def _report(written, progress) -> None:
    pending = 0
    for _ in written:
        pending += 1
        if progress is not None and pending >= _PROGRESS_EVERY:
            progress(pending)
            pending = 0
    if progress is not None and pending:
        progress(pending)


def _write_one(job: tuple[Path, bytes], size: int) -> None:
    path, pixels = job
    # compress_level 3: half the time of the default 6, and on these images the files are
    # even smaller at 32 px (15 % larger at 224 px).
    _digit_image(pixels, size).save(path, format="PNG", compress_level=3)


def _digit_image(pixels: bytes, size: int) -> Image.Image:
    # Ink (16) becomes dark on a light page, like pen on paper; bicubic smoothing turns the
    # 8×8 blocks into strokes instead of squares. Scaling in "L" then converting is faster
    # than resizing three channels, and the result is the same.
    ink = bytes(255 - (v * 255 + _SOURCE_MAX // 2) // _SOURCE_MAX for v in pixels)
    image = Image.frombytes("L", (_SOURCE_SIDE, _SOURCE_SIDE), ink)
    if size != _SOURCE_SIDE:
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    return image.convert("RGB")


def _move_into_place(staging: Path, target: Path, replacing: bool) -> None:
    if not replacing:
        if target.exists():
            target.rmdir()  # checked empty above; rmdir refuses if that changed meanwhile
        os.rename(staging, target)
        return
    # Park the old sample inside a hidden folder first, so the new one appears in one rename
    # and the old one is deleted only once the new one is in place.
    parked = Path(tempfile.mkdtemp(prefix=f".{target.name}.sagewiz-old-", dir=target.parent))
    try:
        os.rename(target, parked / "previous")
        os.rename(staging, target)
    except OSError:
        if (parked / "previous").exists() and not target.exists():
            os.rename(parked / "previous", target)
        raise
    finally:
        shutil.rmtree(parked, ignore_errors=True)


def _unwritable(target: Path, error: OSError) -> InputError:
    return InputError(
        f"Couldn't write the sample to {target}: {error.strerror or error}.",
        title="Can't write there",
        hint="Pick a folder you can write to, on a disk with a few megabytes free.",
    )

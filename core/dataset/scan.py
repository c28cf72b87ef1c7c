"""Check a folder of labelled pictures before anything is packed, uploaded or paid for.

:func:`scan_dataset` finds the layout people really have (``train/`` + ``test/`` class folders,
or one folder per class to be split), opens every picture, and returns a
:class:`DatasetReport`: the classes and their labels, the counts per split, and every file it
will skip, convert or merely mention, each with the reason and what sagewiz will do. It writes
nothing. Classes are labelled by sorted folder name, the order im2rec ``--recursive`` gives
one level of class folders; pictures in subfolders of a class folder belong to that class.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections import Counter, defaultdict
from typing import Callable, Iterable, Sequence

from sagewiz.core.dataset.check_cache import CheckCache, stat_key
from sagewiz.core.dataset.images import CONVERTED_FORMATS, ImageInfo, content_hash, inspect_image
from sagewiz.core.dataset.report import (ERROR, INFO, LAYOUT_CSV, LAYOUT_NAMES, LAYOUT_POOL, LAYOUT_SPLITS, LAYOUT_UNLABELLED,
                                         SPLIT_HERE, WARNING, ClassInfo, DatasetReport, Problem)
from sagewiz.core.dataset.walk import FoundPicture, Walk, absolute_path, walk_dataset
from sagewiz.core.errors import InputError
from sagewiz.core.ordered import ordered_map

__all__ = ["ERROR", "INFO", "WARNING", "ClassInfo", "DatasetReport", "Problem", "count_images", "scan_dataset", "split_files", "LAYOUT_POOL", "LAYOUT_SPLITS",
           "LAYOUT_NAMES", "LAYOUT_CSV", "LAYOUT_UNLABELLED"]

IMBALANCE_RATIO = 3.0
# Below this many pictures, starting worker threads isn't worth it.
PARALLEL_FROM = 200
_REPORT_EVERY_S = 0.1
_SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}
# Colours change visibly only for CMYK (no colour profile is applied); the rest is lossless or
# what the picture already looks like on screen.
_WARN_CONVERSIONS = ("CMYK",)


def split_files(files: Iterable[tuple[str, str]], ratio: float, seed: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Split (path, class) pairs into train and test, per class (stratified) and seeded.

    Each class keeps ``round(n * ratio)`` pictures for training, but a class with two or more
    pictures always keeps at least one on each side. Each class is shuffled by its own seed
    (``seed`` and the class name), so the result doesn't depend on the input order or on the
    other classes. Both lists come back sorted by path.
    """
    by_class: dict[str, list[str]] = defaultdict(list)
    for path, name in files:
        by_class[name].append(path)
    train: list[tuple[str, str]] = []
    test: list[tuple[str, str]] = []
    for name, paths in by_class.items():
        paths.sort()
        random.Random(f"{seed}/{name}").shuffle(paths)
        n = len(paths)
        keep = n if n < 2 else min(max(math.floor(n * ratio + 0.5), 1), n - 1)
        train += [(p, name) for p in paths[:keep]]
        test += [(p, name) for p in paths[keep:]]
    return sorted(train), sorted(test)


def count_images(root: str | os.PathLike) -> int:
    """How many pictures :func:`scan_dataset` will open (for sizing a progress bar)."""
    return len(walk_dataset(root).found)


def scan_dataset(
    root: str | os.PathLike,
    *,
    mini_batch_size: int = 32,
    split_ratio: float = 0.8,
    seed: int = 100,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    remember: bool = True,
) -> DatasetReport:
    """Check every picture under ``root`` and say whether it can be trained on, and why not.

    Raises InputError when ``root`` is missing, not a folder or can't be read, or a setting is
    out of range. Anything about the files themselves is in the report, never raised.
    ``workers`` threads open the pictures when there are many (default: one per CPU);
    ``progress(n)`` is called with the number of pictures checked since its last call.
    With ``remember`` (the default), what each picture was found to be is kept in the sagewiz
    home (:mod:`check_cache`) and a picture unchanged since an earlier check is not opened again.
    """
    if not 0 < split_ratio < 1:
        raise InputError(f"The split ratio must be between 0 and 1, not {split_ratio}.", hint="0.8 keeps 80% of each class for training and 20% for testing.")
    if mini_batch_size < 1:
        raise InputError(f"mini_batch_size must be at least 1, not {mini_batch_size}.", hint="32 is the algorithm's default; use fewer for small datasets.")
    walk = walk_dataset(root)
    cache = CheckCache() if remember else None
    try:
        results = _inspect_all([f.path for f in walk.found], workers or os.cpu_count() or 1, progress, cache)
    finally:  # also on Ctrl-C: what was checked so far is kept, and the next check goes on from there
        if cache:
            cache.close()
    return _Assembler(absolute_path(root), walk, results, mini_batch_size, split_ratio, seed).report()


# --- opening the pictures ------------------------------------------------------------------------


def _examine(path: str, cache: CheckCache | None) -> tuple[ImageInfo, str | None]:
    """Inspect one picture and fingerprint it when usable, or say what the cache remembers of it
    (runs in a worker thread)."""
    key = stat_key(path) if cache else None  # before opening: a change while it is read shows next time
    if cache and (known := cache.lookup(path, key)):
        return known
    info = inspect_image(path)
    digest = None
    if info.usable:
        try:
            digest = content_hash(path)
        except OSError as error:
            info = ImageInfo(info.format, info.width, info.height, info.mode, problem=f"can't read it: {error.strerror or error}")
    if cache:
        cache.keep(path, key, info, digest)
    return info, digest


def _inspect_all(paths: Sequence[str], workers: int, progress: Callable[[int], None] | None,
                 cache: CheckCache | None) -> list[tuple[ImageInfo, str | None]]:
    # Threads, not processes: Pillow and hashlib release the GIL while they decode and hash, so
    # threads scale like processes (measured: 600 2-MP JPEGs on 2 cores, serial 11.1 s, 2 threads
    # 5.9 s, 2 processes 5.8 s) without pickling, without "spawn" re-importing the caller's
    # __main__, and without forking the threaded wizard app (which can deadlock the child).
    # ordered_map keeps a bounded window in flight, so 50,000 pictures cost no more memory per
    # picture than their answers, and Ctrl-C doesn't wait for the thousands still queued.
    threads = 1 if len(paths) <= PARALLEL_FROM else workers
    results: list[tuple[ImageInfo, str | None]] = []
    unreported, reported_at = 0, time.monotonic()
    try:
        for result in ordered_map(lambda path: _examine(path, cache), paths, threads):
            results.append(result)
            unreported += 1
            # a few reports a second: a progress bar (or the wizard's thread hop) per cached picture
            # would cost more than looking the picture up
            if progress and time.monotonic() - reported_at >= _REPORT_EVERY_S:
                progress(unreported)
                unreported, reported_at = 0, time.monotonic()
    except KeyboardInterrupt:  # the count so far is what the user is told was checked
        if progress and unreported:
            progress(unreported)
        raise
    if progress and unreported:
        progress(unreported)
    return results


# --- judging the dataset -------------------------------------------------------------------------


class _Assembler:
    """Turns what was found and opened into the report: per-file problems, the splits, the
    classes, and the checks on the dataset as a whole. Each error also adds what to do."""

    def __init__(self, root: str, walk: Walk, results: list[tuple[ImageInfo, str | None]], mini_batch_size: int, split_ratio: float, seed: int):
        self.root, self.walk, self.results = root, walk, results
        self.mini_batch_size, self.split_ratio, self.seed = mini_batch_size, split_ratio, seed
        self.problems = list(walk.problems)
        self.fixes: list[str] = list(walk.fixes)

    def report(self) -> DatasetReport:
        pictures = self._judge_files()
        images = self._splits(pictures)
        where = {path: split for split, pairs in images.items() for path, _ in pairs}
        classes = sorted({name for pairs in images.values() for _, name in pairs})
        tallies = {split: Counter(name for _, name in pairs) for split, pairs in images.items()}
        counts = {split: {name: tally[name] for name in classes} for split, tally in tallies.items()}
        self._check_classes(pictures, classes)
        if len(classes) >= 2:
            self._check_sizes(counts.get("train", {}))
        self._check_duplicates(pictures, where)
        self.problems.sort(key=lambda p: (_SEVERITY_ORDER[p.severity], p.path))
        usable = not any(p.severity == ERROR for p in self.problems)
        infos = [info for _, info, _ in pictures]
        converted = dict(sorted(Counter(CONVERTED_FORMATS[i.format] for i in infos if i.converted_to_jpeg).items()))
        return DatasetReport(
            root=self.root,
            layout=self.walk.layout,
            classes=[ClassInfo(name, label) for label, name in enumerate(classes)],
            counts=counts,
            images=images,
            formats=dict(sorted(Counter(info.format for info in infos).items())),
            converted=converted,
            width_range=(min(i.width for i in infos), max(i.width for i in infos)) if infos else None,
            height_range=(min(i.height for i in infos), max(i.height for i in infos)) if infos else None,
            total_images=len(self.walk.found) + self.walk.stray_images,
            usable_images=len(pictures),
            ignored_files=self.walk.ignored,
            problems=self.problems,
            usable=usable,
            summary=self._summary(usable, counts, len(pictures), len(classes), converted),
            mini_batch_size=self.mini_batch_size,
            split_ratio=self.split_ratio,
            seed=self.seed,
            labels_from=self.walk.labels_from,
        )

    def _judge_files(self) -> list[tuple[FoundPicture, ImageInfo, str]]:
        pictures = []
        for found, (info, digest) in zip(self.walk.found, self.results):
            if not info.usable or digest is None:
                self.problems.append(Problem(found.relpath, WARNING, info.problem or "can't be read", "skipped"))
                continue
            if info.converted_to_jpeg:
                self.problems.append(self._to_jpeg(found, info))
            elif info.conversion:
                severity = WARNING if info.conversion.startswith(_WARN_CONVERSIONS) else INFO
                self.problems.append(Problem(found.relpath, severity, info.conversion, "converted to RGB"))
            pictures.append((found, info, digest))
        return pictures

    @staticmethod
    def _to_jpeg(found: FoundPicture, info: ImageInfo) -> Problem:
        name = CONVERTED_FORMATS[info.format]
        reason = f"a {name} picture: the algorithm reads only JPEG and PNG"
        if info.conversion:
            reason += f" ({info.conversion})"
        if info.frames > 1:  # said, because the rest of the animation is left out
            return Problem(found.relpath, WARNING, f"{reason}; an animation of {info.frames} frames, of which only the first is used", "converted to JPEG")
        return Problem(found.relpath, INFO, reason, "converted to JPEG")

    def _splits(self, pictures: list[tuple[FoundPicture, ImageInfo, str]]) -> dict[str, list[tuple[str, str]]]:
        pairs = [(found.relpath, found.label_folder) for found, _, _ in pictures]
        if self.walk.layout in SPLIT_HERE:
            train, test = split_files(pairs, self.split_ratio, self.seed)
            return {"train": train, "test": test}
        split_of = {found.relpath: found.split for found, _, _ in pictures}
        return {split: sorted(p for p in pairs if split_of[p[0]] == split) for split in self.walk.folders}

    def _class_path(self, split: str, name: str) -> str:
        folder = self.walk.folders["pool" if self.walk.layout in SPLIT_HERE else split]
        if self.walk.layout in (LAYOUT_NAMES, LAYOUT_CSV):  # no class folder: the folder that holds them all
            return folder
        return name if folder == "." else f"{folder}/{name}"

    def _error(self, path: str, reason: str, fix: str) -> None:
        self.problems.append(Problem(path, ERROR, reason, "fix needed"))
        self.fixes.append(fix)

    def _check_classes(self, pictures: list[tuple[FoundPicture, ImageInfo, str]], classes: list[str]) -> None:
        if not self.walk.found and not self.walk.stray_images:
            self._error(".", "no pictures (JPEG, PNG, WebP, HEIC, AVIF, BMP, TIFF or GIF) were found", f"Put your pictures in one folder per class inside {self.root}, "
                        "for example cat/ and dog/ (or train/cat/, train/dog/, test/cat/ and test/dog/).")
            return
        if self.walk.layout == LAYOUT_UNLABELLED:
            self._error(".", f"{self.walk.stray_images:,} pictures and no labels: no class folders, no labels.csv, and their names "
                        "don't start with a class name (cat.0.jpg), so these are pictures to predict, not to train on",
                        f"To have a trained model say what they show: sagewiz predict MODEL {self.root}. To train on them, put them "
                        "in one folder per class (cat/, dog/), name them by class (cat.0.jpg, dog.0.jpg), or list them in a "
                        "labels.csv of file,label beside them.")
            return
        present: dict[str, set[str]] = defaultdict(set)
        for found, _, _ in pictures:
            present[found.split].add(found.label_folder)
        for split, folders in self.walk.class_folders.items():
            for name in sorted(folders - set(classes)):
                self.problems.append(Problem(self._class_path(split, name), WARNING, "no usable pictures in this folder, so it is not a class", "ignored"))
        if self.walk.layout == LAYOUT_SPLITS:
            self._check_split_classes(present)
        if len(classes) < 2:
            found = ", ".join(classes) or "none"
            self._error(".", f"found {len(classes)} class{'es' * (len(classes) != 1)} with usable pictures ({found}); a classifier needs at least two",
                        "Put each kind of picture in its own folder, at least two of them, for example cat/ and dog/.")

    def _check_split_classes(self, present: dict[str, set[str]]) -> None:
        if "train" not in self.walk.folders:
            self._error(".", "there is no train/ folder", "Put the training pictures in train/<class>/ next to your other folders.")
            return
        for split in self.walk.folders:
            if split == "train":
                continue
            for name in sorted(present[split] - present["train"]):
                self._error(self._class_path(split, name), f"class '{name}' has pictures in {self.walk.folders[split]}/ but none in "
                            f"{self.walk.folders['train']}/: the model can't learn it",
                            f"Add training pictures of '{name}' to {self._class_path('train', name)}/, or remove {self._class_path(split, name)}/.")
            for name in sorted(present["train"] - present[split]):
                self.problems.append(Problem(self._class_path("train", name), WARNING, f"class '{name}' has no pictures in "
                                             f"{self.walk.folders[split]}/, so how well the model knows it can't be measured", "kept"))

    def _check_sizes(self, train_counts: dict[str, int]) -> None:
        total = sum(train_counts.values())
        # a class with no training pictures at all is already an error of its own
        train_counts = {name: n for name, n in train_counts.items() if n}
        batch = self.mini_batch_size
        if not train_counts:
            return
        if total < batch:
            self._error(".", f"only {total} training pictures, fewer than one mini-batch (mini_batch_size {batch}): training would stop at once",
                        f"Use a mini_batch_size of {total} or less, or add pictures.")
        smallest = min(train_counts.values())
        for name, n in train_counts.items():
            if n < batch:
                self.problems.append(Problem(self._class_path("train", name), WARNING, f"class '{name}' has {n} training pictures, fewer than "
                                             f"mini_batch_size {batch}; the largest mini_batch_size every class fills is {smallest}", "kept"))
        big, small = max(train_counts, key=train_counts.get), min(train_counts, key=train_counts.get)
        if train_counts[big] / train_counts[small] > IMBALANCE_RATIO:
            self.problems.append(Problem(".", WARNING, f"strong imbalance: '{big}' has {train_counts[big]} training pictures, '{small}' only "
                                         f"{train_counts[small]}; the model will lean towards '{big}'. More pictures of the small "
                                         "classes (or fewer of the big ones) help", "kept"))

    def _check_duplicates(self, pictures: list[tuple[FoundPicture, ImageInfo, str]], where: dict[str, str]) -> None:
        groups: dict[str, list[FoundPicture]] = defaultdict(list)
        for found, _, digest in pictures:
            groups[digest].append(found)
        after = " after the split" if self.walk.layout in SPLIT_HERE else ""
        for members in groups.values():
            if len(members) < 2:
                continue
            members.sort(key=lambda f: f.relpath)
            # name the copy outside train/ (the one to remove); a copy in train and another in
            # test is leakage, copies in validation and test merely duplicates
            anchor = next((f for f in members if where[f.relpath] == "train"), members[0])
            for copy in members:
                if copy is anchor:
                    continue
                if copy.label_folder != anchor.label_folder:
                    # one picture, two answers: the model is taught both, and scored against both
                    self._error(copy.relpath, f"the same picture as {anchor.relpath}, which is in class '{anchor.label_folder}': a "
                                f"label conflict, one picture can't be both '{anchor.label_folder}' and '{copy.label_folder}'",
                                f"Keep only one of {anchor.relpath} and {copy.relpath}: delete the copy in the wrong class.")
                    continue
                if where[copy.relpath] != where[anchor.relpath] == "train":
                    reason, severity = (f"the same picture as {anchor.relpath}: it is in {where[anchor.relpath]} and "
                                        f"{where[copy.relpath]}{after}, so the test score will look better than it is"), WARNING
                elif where[copy.relpath] == where[anchor.relpath]:
                    weight = "in training" if where[copy.relpath] == "train" else f"in the {where[copy.relpath]} score"
                    reason, severity = (f"the same picture as {anchor.relpath}, in the same class: it weighs double {weight} "
                                        "(delete one copy unless that is what you want)"), WARNING
                else:
                    reason, severity = f"the same picture as {anchor.relpath}", INFO
                self.problems.append(Problem(copy.relpath, severity, reason, "kept"))

    def _summary(self, usable: bool, counts: dict[str, dict[str, int]], pictures: int, classes: int, to_jpeg: dict[str, int]) -> list[str]:
        if self.walk.layout == LAYOUT_UNLABELLED:
            return ["Not ready to train: these are pictures to predict (they have no labels).", *self.fixes]
        if not usable:
            errors = sum(p.severity == ERROR for p in self.problems)
            return [f"Not ready to train: {errors} problem{'s' * (errors != 1)} to fix first.", *self.fixes]
        per_split = ", ".join(f"{split} {sum(n.values()):,}" for split, n in counts.items())
        lines = [f"Ready to train: {pictures:,} pictures in {classes} classes ({per_split})."]
        skipped = sum(p.action == "skipped" for p in self.problems)
        converted = sum(p.action == "converted to RGB" for p in self.problems)
        if skipped or converted:
            lines.append(f"{skipped:,} file{'s' * (skipped != 1)} will be skipped and {converted:,} converted to RGB.")
        if to_jpeg:
            each, total = ", ".join(f"{name} {n:,}" for name, n in to_jpeg.items()), sum(to_jpeg.values())
            lines.append(f"{total:,} picture{'s' * (total != 1)} will be converted to JPEG when packed ({each}).")
        if self.walk.layout == LAYOUT_NAMES:
            lines.append(f"The labels were read from the {self.walk.labels_from}: the word before each name's number "
                         "(there are no class folders).")
        elif self.walk.layout == LAYOUT_CSV:
            lines.append(f"The labels were read from {self.walk.labels_from} (file,label), not from folders.")
        if self.walk.layout in SPLIT_HERE:
            share = round(self.split_ratio * 100)
            lines.append(f"Each class will be split {share}% for training and {100 - share}% for testing (seed {self.seed}).")
        warnings = sum(p.severity == WARNING for p in self.problems)
        if warnings:
            lines.append(f"{warnings:,} warning{'s' * (warnings != 1)} worth a look; warnings don't stop training.")
        return lines

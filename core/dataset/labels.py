"""Labels kept where people keep them when there are no class folders: in the file names
(Kaggle's dogs-vs-cats ``cat.0.jpg``, ``dog.1234.jpg``; ``cat_001.png``; Oxford pets'
``american_bulldog_10.jpg``) or in a CSV of ``file,label`` beside the pictures.

Reading labels from names is a guess, so it is made only when the guess is plain: at least two
labels, each on several pictures, and every file (or nearly every one) named the same way. A
folder of camera names (``IMG_1234.jpg``, ``DSC_0001.jpg``) or of numbers (Kaggle's ``test1/``:
``1.jpg`` …) has no labels: those are pictures to predict. Nothing here touches the file system
but reading the CSV.
"""

from __future__ import annotations

import csv
import io
import os
import posixpath
from collections import Counter
from dataclasses import dataclass, field

from sagewiz.core.dataset.report import WARNING, ERROR, INFO, Problem

# Each label needs this many pictures named with it before the names count as labels.
MIN_PICTURES_PER_LABEL = 3
# Files whose names don't fit: at most one in this many (a stray "readme.jpg" among 25,000).
MISFITS_ONE_IN = 20
# What cameras, phones and browsers start names with: a folder of them is not labelled by them.
CAMERA_WORDS = {
    "img", "image", "images", "imag", "dsc", "dscn", "dscf", "dsc_", "sam", "pxl", "mvimg", "vid", "mov", "photo",
    "photos", "pic", "pics", "picture", "pictures", "screenshot", "screen shot", "scan", "frame", "file", "dcim",
    "gopr", "gp", "dji", "wp", "p", "capture", "untitled", "download", "whatsapp image", "signal", "snapchat",
    "burst", "pano", "panorama", "cimg", "dc", "pict", "sdc", "hpim", "kimg", "mvi", "mvc", "pdr",
}
CSV_NAMES = ("labels.csv", "train.csv")
_FILE_WORDS = {"file", "filename", "file_name", "path", "filepath", "image", "image_id", "img", "id", "name", "picture", "fname"}
_LABEL_WORDS = {"label", "labels", "class", "class_name", "category", "target", "breed", "species", "y", "tag"}
# A label that says there is none: the picture is left out, and said.
_NO_LABEL = {"", "?", "-", "none", "null", "nan", "n/a", "na", "unknown", "unlabeled", "unlabelled"}


def label_in_name(name: str) -> str | None:
    """The label a file name carries: the letters before its counter (``cat.0.jpg`` → cat,
    ``dog-17.jpg`` → dog, ``american_bulldog_10.jpg`` → american_bulldog), or None when the name
    has no counter, starts with a number or with what a camera names its pictures (IMG, DSC …)."""
    stem = os.path.splitext(name)[0]
    first_digit = next((i for i, c in enumerate(stem) if c.isdigit()), None)
    if not first_digit:  # no counter at all, or a name that is a number
        return None
    head = stem[:first_digit].rstrip("._- ")
    if not head or not head[0].isalpha() or not all(c.isalpha() or c in "._- " for c in head):
        return None
    return None if head.lower() in CAMERA_WORDS else head


@dataclass
class NameLabels:
    """Labels read from the names of the pictures in one folder."""

    labels: dict[str, str]  # file name → label, for the names that fit
    misfits: list[str]  # picture names that carry none of the labels
    example: str  # a name to show ("cat.0.jpg")


def labels_from_names(names: list[str]) -> NameLabels | None:
    """The labels in ``names`` (picture file names, sorted), or None unless the names plainly
    carry them: two or more labels of at least :data:`MIN_PICTURES_PER_LABEL` pictures each, and
    at most one name in :data:`MISFITS_ONE_IN` without one of them."""
    found = {name: label_in_name(name) for name in names}
    counts = Counter(label for label in found.values() if label)
    kept = {label for label, n in counts.items() if n >= MIN_PICTURES_PER_LABEL}
    labels = {name: label for name, label in found.items() if label in kept}
    misfits = [name for name in names if name not in labels]
    if len(kept) < 2 or len(misfits) > len(names) // MISFITS_ONE_IN:
        return None
    return NameLabels(labels, misfits, example=next(iter(labels)))


def find_labels_csv(names: list[str]) -> str | None:
    """Which of the file ``names`` in a folder holds its labels: labels.csv, else train.csv, else the only .csv."""
    csvs = [name for name in names if name.lower().endswith(".csv")]
    for wanted in CSV_NAMES:
        for name in csvs:
            if name.lower() == wanted:
                return name
    return csvs[0] if len(csvs) == 1 else None


@dataclass
class CsvLabels:
    """What a labels CSV says about the pictures of its folder."""

    name: str  # the CSV's file name
    labels: dict[str, str]  # picture path (relative to the folder, "/") → label
    rows: int  # rows of labels read (the header not counted)
    problems: list[Problem] = field(default_factory=list)  # paths relative to the folder
    fixes: list[str] = field(default_factory=list)
    listed: set[str] = field(default_factory=set)  # every picture a row names, labelled or not


def read_labels_csv(path: str, pictures: set[str]) -> CsvLabels | None:
    """Read ``path`` (a CSV beside the pictures: a file and a label a row, a header optional) against
    ``pictures`` (the picture paths under its folder, relative to it). None when it can't be read or
    doesn't name these pictures (fewer than half its rows do): then it isn't their labels.

    A file given without its extension (``1``, for ``1.png``) is the picture of that name; a row
    naming no picture here, a missing or placeholder label ("unknown", "?") and a picture listed
    twice are each said, as problems about that path."""
    name = os.path.basename(path)
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
            text = handle.read(64 * 1024 * 1024)
    except OSError:
        return None
    first = text.split("\n", 1)[0]
    delimiter = next((d for d in (",", ";", "\t") if d in first), ",")
    rows = [(number, [cell.strip() for cell in row]) for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), 1)
            if any(cell.strip() for cell in row)]
    by_stem: dict[str, list[str]] = {}
    for picture in pictures:
        by_stem.setdefault(posixpath.splitext(picture)[0], []).append(picture)

    def resolve(cell: str) -> str | None:
        relpath = posixpath.normpath(cell.replace("\\", "/").removeprefix("./"))
        if relpath in pictures:
            return relpath
        if not posixpath.splitext(relpath)[1] and len(by_stem.get(relpath, ())) == 1:
            return by_stem[relpath][0]
        return None

    file_col, label_col = 0, 1
    if rows and resolve(rows[0][1][0]) is None:
        header = [cell.lower() for cell in rows[0][1]]
        if set(header) & (_FILE_WORDS | _LABEL_WORDS):
            file_col = next((i for i, cell in enumerate(header) if cell in _FILE_WORDS), 0)
            label_col = next((i for i, cell in enumerate(header) if cell in _LABEL_WORDS and i != file_col), 1 if file_col == 0 else 0)
            rows = rows[1:]
    result = CsvLabels(name, {}, len(rows))
    lines: dict[str, tuple[int, str]] = {}  # picture → (line, label) of its first row
    named = 0
    for number, cells in rows:
        cell = cells[file_col] if file_col < len(cells) else ""
        label = cells[label_col] if label_col < len(cells) else ""
        picture = resolve(cell)
        if picture is None:
            result.problems.append(Problem(cell or f"{name} line {number}", WARNING, f"{name} line {number} names it, but there is no such "
                                           "picture in the folder", "skipped"))
            continue
        named += 1
        result.listed.add(picture)
        if picture in lines:
            first_line, first_label = lines[picture]
            if first_label == label:
                result.problems.append(Problem(picture, INFO, f"listed twice in {name} (lines {first_line} and {number}), "
                                               f"both times '{label}': used once", "kept"))
            else:
                result.labels.pop(picture, None)
                result.problems.append(Problem(picture, ERROR, f"{name} gives it two labels: '{first_label}' on line {first_line} "
                                               f"and '{label}' on line {number}", "fix needed"))
                result.fixes.append(f"Keep one line for {picture} in {name}: it is '{first_label}' on line {first_line} and '{label}' on line {number}.")
            continue
        lines[picture] = (number, label)
        if label.lower() in _NO_LABEL:
            said = "gives it no label" if not label else f"labels it '{label}', which is not a class"
            result.problems.append(Problem(picture, WARNING, f"{name} line {number} {said}, so it is not trained on", "skipped"))
            continue
        result.labels[picture] = label
    if not named or named * 2 < len(rows):
        return None
    return result


def what_names_say(report) -> str:
    """The labels a report read from file names, as the wizard asks about them before using them:
    "cat: 12,500 pictures, dog: 12,500, read from names like cat.0.jpg"."""
    totals = {c.name: sum(counts.get(c.name, 0) for counts in report.counts.values()) for c in report.classes}
    each = [f"{name}: {n:,} picture{'s' * (n != 1)}" if i == 0 else f"{name}: {n:,}" for i, (name, n) in enumerate(totals.items())]
    return ", ".join(each) + ", read from " + report.labels_from.removeprefix("file ")

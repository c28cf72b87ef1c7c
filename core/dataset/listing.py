"""Image lists (``.lst``) exactly as MXNet's ``im2rec.py`` makes and reads them.

A list line is ``index \\t label(s) \\t relative/path``; labels are written with ``%f``. The
listing walks the folder the way im2rec does (``os.walk`` with links followed, directories and
files sorted, one label per directory that holds images, in walk order) and shuffles with
``random.seed(100)``, so our lists are byte-identical to im2rec's. Where they differ on purpose:
a folder or picture reached a second time through a link (a loop, which im2rec follows 40
levels deep, or a link to a folder listed where it is) is listed once and said (``left_out``).
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from sagewiz.core.dataset.links import FolderVisits, LeftOut, once_each
from sagewiz.core.errors import InputError

DEFAULT_EXTENSIONS = (".jpeg", ".jpg", ".png")
SHUFFLE_SEED = 100  # im2rec's fixed seed; changing it changes every list


@dataclass(frozen=True)
class ListEntry:
    """One image in a list: its index (the record id), its path relative to the root, its labels."""

    index: int
    path: str
    labels: tuple[float, ...]


@dataclass
class ImageListing:
    """What a walk of an image folder found: the entries, the label of each class folder, and
    files that can't go into a list file (their name holds a tab or a line break)."""

    entries: list[ListEntry]
    classes: dict[str, int] = field(default_factory=dict)
    unlistable: list[str] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)  # links im2rec would follow again (a loop: 40 levels deep)


def _has_extension(name: str, extensions: Sequence[str]) -> bool:
    return os.path.splitext(name)[1].lower() in extensions


def list_images(root: str | os.PathLike, *, recursive: bool, extensions: Sequence[str] = DEFAULT_EXTENSIONS) -> ImageListing:
    """Walk ``root`` like im2rec: with ``recursive`` every directory holding images is a class
    (labels in walk order; images directly in root get the first label they are met with);
    without it only the images directly in root, all labelled 0."""
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        raise InputError(
            f"{root} is not a folder." if os.path.exists(root) else f"There is no folder {root}.",
            hint="Give the folder that holds your images (or their class folders).",
        )
    extensions = tuple(ext.lower() for ext in extensions)
    listing = ImageListing(entries=[])

    def add(path: str, fpath: str, label: int) -> None:
        relpath = os.path.relpath(fpath, root)
        if "\t" in relpath or "\n" in relpath or "\r" in relpath:
            listing.unlistable.append(relpath)  # would break the line format for every reader
            return
        listing.entries.append(ListEntry(len(listing.entries), relpath, (float(label),)))

    found: list[tuple[str, str]] = []  # (folder, file) in im2rec's order
    linked: list[bool] = []
    if recursive:
        # im2rec's own walk, but a folder reached a second time (a loop, or a link to a folder
        # listed where it is) is not entered again: its pictures would get a second label
        visits = FolderVisits(root)
        for path, dirs, files in os.walk(root, followlinks=True):
            dirs.sort()
            files.sort()
            dirs[:] = [name for name in dirs if visits.enter(os.path.join(path, name))]
            for name in files:
                fpath = os.path.join(path, name)
                if _has_extension(name, extensions) and os.path.isfile(fpath):
                    found.append((path, fpath))
                    linked.append(visits.linked(path) or os.path.islink(fpath))
        listing.left_out += visits.left_out
    else:
        for name in sorted(os.listdir(root)):
            fpath = os.path.join(root, name)
            if _has_extension(name, extensions) and os.path.isfile(fpath):
                found.append((root, fpath))
                linked.append(os.path.islink(fpath))
    kept, twice = once_each([fpath for _, fpath in found], linked, root)
    listing.left_out += twice
    labels: dict[str, int] = {}
    for path, fpath in (found[i] for i in kept):
        # a label per folder that holds listed images, in walk order, as im2rec gives them
        add(path, fpath, labels.setdefault(path, len(labels)) if recursive else 0)
    listing.classes = {os.path.relpath(path, root): label for path, label in labels.items()} if recursive else (
        {".": 0} if listing.entries else {})
    return listing


def format_line(entry: ListEntry) -> str:
    """One list line, formatted exactly as im2rec's ``write_list`` does."""
    return "%d\t" % entry.index + "".join("%f\t" % label for label in entry.labels) + "%s\n" % entry.path


def write_list(path: str | os.PathLike, entries: Iterable[ListEntry]) -> None:
    """Write a ``.lst`` file (UTF-8; undecodable file names keep their original bytes)."""
    with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as out:
        out.writelines(format_line(entry) for entry in entries)


@dataclass(frozen=True)
class ListSplit:
    """One output list of a split: its file name suffix (``_train``, ``_0_val``…) and entries."""

    suffix: str
    entries: list[ListEntry]


def split_entries(
    entries: Sequence[ListEntry],
    *,
    chunks: int = 1,
    train_ratio: float = 1.0,
    test_ratio: float = 0.0,
    shuffle: bool = True,
) -> list[ListSplit]:
    """Shuffle and split entries into the lists im2rec's ``make_list`` would write, in its order."""
    if chunks < 1:
        raise InputError(f"--chunks must be at least 1, not {chunks}.", hint="Use --chunks 1 for a single list.")
    if not (0.0 <= train_ratio <= 1.0 and 0.0 <= test_ratio <= 1.0) or train_ratio + test_ratio > 1.0:
        raise InputError(
            f"--train-ratio {train_ratio} and --test-ratio {test_ratio} must each be between 0 and 1 "
            "and add up to at most 1.",
            hint="For example --train-ratio 0.8 --test-ratio 0.1 leaves 0.1 for validation.",
        )
    entries = list(entries)
    if shuffle:
        random.seed(SHUFFLE_SEED)
        random.shuffle(entries)
    chunk_size = math.ceil(len(entries) / chunks) if entries else 0
    splits: list[ListSplit] = []
    for number in range(chunks):
        chunk = entries[number * chunk_size : (number + 1) * chunk_size]
        tag = "_%d" % number if chunks > 1 else ""
        sep = int(chunk_size * train_ratio)
        sep_test = int(chunk_size * test_ratio)
        if train_ratio == 1.0:
            splits.append(ListSplit(tag, chunk))
            continue
        if test_ratio:
            splits.append(ListSplit(tag + "_test", chunk[:sep_test]))
        if train_ratio + test_ratio < 1.0:
            splits.append(ListSplit(tag + "_val", chunk[sep_test + sep :]))
        splits.append(ListSplit(tag + "_train", chunk[sep_test : sep_test + sep]))
    return splits


@dataclass(frozen=True)
class BadListLine:
    """A line of a list file that can't be used, and why."""

    line_number: int
    text: str
    reason: str


def read_list(path: str | os.PathLike) -> tuple[list[ListEntry], list[BadListLine]]:
    """Parse a ``.lst`` file the way im2rec does; lines it would skip are returned, not printed."""
    entries: list[ListEntry] = []
    bad: list[BadListLine] = []
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as lines:
            for number, line in enumerate(lines, 1):
                fields = [part.strip() for part in line.strip().split("\t")]
                if len(fields) < 3:
                    if line.strip():
                        bad.append(BadListLine(number, line.rstrip("\n"), "needs index, label(s) and path separated by tabs"))
                    continue
                try:
                    entries.append(ListEntry(int(fields[0]), fields[-1], tuple(float(x) for x in fields[1:-1])))
                except ValueError as error:
                    bad.append(BadListLine(number, line.rstrip("\n"), f"not a number: {error}"))
    except OSError as error:
        raise InputError(f"Can't read the list file {path}: {error.strerror}.", hint="Check the path and its permissions.") from None
    return entries, bad


def find_list_files(prefix: str | os.PathLike) -> list[Path]:
    """The ``.lst`` files im2rec packs for ``prefix``: in the prefix's folder (or the prefix itself
    when it is a folder), every file whose full path starts with the prefix and ends in ``.lst``."""
    prefix = os.path.abspath(prefix)
    folder = prefix if os.path.isdir(prefix) else os.path.dirname(prefix)
    if not os.path.isdir(folder):
        raise InputError(f"There is no folder {folder} to look for list files in.", hint="Check PREFIX: it names the folder and the start of the .lst file names.")
    found = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if path.startswith(prefix) and path.endswith(".lst") and os.path.isfile(path):
            found.append(Path(path))
    return found

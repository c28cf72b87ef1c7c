"""Find a dataset's layout and every file in it, without opening any picture.

Two layouts are understood: ``train/`` + ``test/`` (+ ``validation/``) holding class folders, or
class folders directly under the root (to be split). Without class folders, the labels may be in a
CSV beside the pictures or in their file names (:mod:`labels`); a flat folder of pictures with
neither is pictures to predict. Everything that can't be used is recorded as
a :class:`Problem` here, so nothing is dropped silently.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from sagewiz.core.dataset.labels import find_labels_csv, labels_from_names, read_labels_csv
from sagewiz.core.dataset.links import FolderVisits, once_each
from sagewiz.core.dataset.report import (INFO, LAYOUT_CSV, LAYOUT_NAMES, LAYOUT_POOL, LAYOUT_SPLITS, LAYOUT_UNLABELLED, WARNING,
                                         Problem)
from sagewiz.core.errors import InputError

# Compared on the lower-cased suffix, like im2rec. JPEG and PNG are packed as they are; the
# others (images.CONVERTED_FORMATS) become JPEG when packed.
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".webp", ".heic", ".heif", ".avif", ".bmp", ".tif", ".tiff", ".gif")
SPLIT_FOLDERS = {"train": "train", "test": "test", "validation": "validation", "val": "validation"}
SPLIT_ORDER = ("train", "validation", "test")


@dataclass(slots=True)
class FoundPicture:
    """A picture-named file inside a class folder: to be opened and checked."""

    path: str  # absolute
    relpath: str  # relative to the root, with "/"
    split: str  # "train", "validation", "test" or "pool"
    label_folder: str  # the class folder's name
    linked: bool = False  # reached through a link (itself one, or in a folder reached through one)


@dataclass
class Walk:
    layout: str
    folders: dict[str, str] = field(default_factory=dict)  # split → folder path shown to the user
    found: list[FoundPicture] = field(default_factory=list)
    class_folders: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    problems: list[Problem] = field(default_factory=list)
    stray_images: int = 0
    ignored: int = 0
    labels_from: str = ""  # without class folders: "file names like cat.0.jpg", "labels.csv"
    fixes: list[str] = field(default_factory=list)  # what to do about the errors among the problems


def _hidden(name: str) -> bool:
    # macOS zip archives carry a __MACOSX folder of resource forks next to the real pictures
    return name.startswith(".") or name == "__MACOSX"


def _is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _entries(folder: str) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return sorted((e for e in it if not _hidden(e.name)), key=lambda e: e.name)


def walk_dataset(root: str | os.PathLike) -> Walk:
    """Find the layout and every file under ``root``; raise InputError when root can't be used."""
    root = absolute_path(root)
    hint = "Give the folder that holds your class folders (or train/ and test/ with class folders inside)."
    if not os.path.exists(root):
        raise InputError(f"There is no folder {root}.", title="Folder not found", hint=hint)
    if not os.path.isdir(root):
        raise InputError(f"{root} is a file, not a folder.", hint=hint)
    try:
        top = _entries(root)
    except OSError as error:
        raise InputError(
            f"Can't read the folder {root}: {error.strerror or error}.",
            hint="Check the folder's permissions (ls -ld) or copy the pictures somewhere you can read.",
        ) from None
    visits = FolderVisits(root)
    walk = _walk_layout(root, top, visits)
    _count_each_once(walk, root, visits)
    return walk


def _walk_layout(root: str, top: list[os.DirEntry], visits: FolderVisits) -> Walk:
    splits: dict[str, list[os.DirEntry]] = defaultdict(list)
    for entry in top:
        if entry.is_dir() and entry.name.lower() in SPLIT_FOLDERS:
            splits[SPLIT_FOLDERS[entry.name.lower()]].append(entry)
    if not splits or set(splits) == {"train"} and len(splits["train"]) == 1:
        walk = Walk(LAYOUT_POOL)
        base = splits["train"][0].path if splits else root
        walk.folders["pool"] = relative_path(base, root) if splits else "."
        if splits:
            walk.problems.append(Problem(walk.folders["pool"], INFO, "there is no test/ folder, so this folder's pictures will be split", "split"))
            for entry in top:
                if entry.path != base:
                    _outside_classes(walk, root, entry, f"it is not inside {walk.folders['pool']}/")
        if not _labels_without_folders(walk, root, base, top if not splits else None, visits):
            _walk_split(walk, root, base, "pool", top if not splits else None, visits)
        return walk
    walk = Walk(LAYOUT_SPLITS)
    in_splits = {e.name for entries in splits.values() for e in entries}
    for entry in top:
        if entry.name not in in_splits:
            _outside_classes(walk, root, entry, "it is not inside train/, test/ or validation/")
    for split in SPLIT_ORDER:
        for entry in splits.get(split, []):
            walk.folders.setdefault(split, entry.name)
            _walk_split(walk, root, entry.path, split, None, visits)
    return walk


def _count_each_once(walk: Walk, root: str, visits: FolderVisits) -> None:
    """Say each link that was not followed; keep one of the pictures links made the same file."""
    for left in visits.left_out:
        walk.problems.append(Problem(left.path, WARNING, left.reason, "not followed"))
    kept, left_out = once_each([f.path for f in walk.found], [f.linked for f in walk.found], root)
    if not left_out:
        return
    label = {f.relpath: f.label_folder for f in walk.found}
    for left in left_out:
        severity = WARNING if label[left.path] != label[left.leads_to] else INFO
        walk.problems.append(Problem(left.path, severity, left.reason, "not followed"))
    walk.found = [walk.found[i] for i in kept]


def _walk_split(walk: Walk, root: str, base: str, split: str, entries: list[os.DirEntry] | None, visits: FolderVisits) -> None:
    if entries is None and not visits.enter(base):
        return  # a split folder that is a link to another: said by visits
    try:
        entries = _entries(base) if entries is None else entries
    except OSError as error:
        walk.problems.append(Problem(relative_path(base, root), WARNING, f"can't open the folder: {error.strerror or error}", "skipped"))
        return
    for entry in entries:
        if entry.is_dir():
            if not visits.enter(entry.path):
                continue  # a link to a folder walked where it is (another class, or a loop)
            walk.class_folders[split].add(entry.name)
            for path, linked in _files_under(walk, root, entry.path, visits):
                relpath = relative_path(path, root)
                if not _is_image_name(path):
                    _ignore(walk, relpath)
                else:
                    _add_picture(walk, FoundPicture(path, relpath, split, entry.name, linked))
        else:
            _outside_classes(walk, root, entry, "it is not inside a class folder")


def _add_picture(walk: Walk, found: FoundPicture) -> None:
    if any(c in found.relpath for c in "\t\r\n"):
        walk.stray_images += 1
        walk.problems.append(Problem(found.relpath, WARNING, "its name holds a tab or line break, which an image list can't hold", "skipped"))
    else:
        walk.found.append(found)


def _labels_without_folders(walk: Walk, root: str, base: str, entries: list[os.DirEntry] | None, visits: FolderVisits) -> bool:
    """Whether ``base`` (the root, or a lone train/) holds its labels without class folders: a labels
    CSV that names its pictures, or, in a folder of pictures only, file names that carry labels;
    such a folder with neither is pictures to predict. Walked here when so."""
    if entries is None:
        if not visits.enter(base):
            return False
        try:
            entries = _entries(base)
        except OSError:
            return False  # said by the class-folder walk
    csv_name = find_labels_csv([e.name for e in entries if not e.is_dir()])
    if csv_name and _walk_csv(walk, root, base, csv_name, visits):
        return True
    pictures = [e for e in entries if _is_image_name(e.name)]
    if any(e.is_dir() for e in entries) or not pictures:
        return False
    named = labels_from_names([e.name for e in pictures])
    walk.layout = LAYOUT_UNLABELLED if named is None else LAYOUT_NAMES
    if named is not None:
        walk.labels_from = f"file names like {named.example}"
        others = ", ".join(sorted(set(named.labels.values())))
    for entry in entries:
        relpath = relative_path(entry.path, root)
        if not _is_image_name(entry.name):
            _ignore(walk, relpath)
        elif named is None:
            walk.stray_images += 1  # said once for them all, by the check
        elif entry.name in named.labels:
            _add_picture(walk, FoundPicture(entry.path, relpath, "pool", named.labels[entry.name], entry.is_symlink()))
        else:
            walk.stray_images += 1
            walk.problems.append(Problem(relpath, WARNING, f"its name carries none of the labels the other names do ({others}), "
                                         "so it has no label", "skipped"))
    return True


def _walk_csv(walk: Walk, root: str, base: str, csv_name: str, visits: FolderVisits) -> bool:
    """Walk ``base`` with the labels of its CSV, when the CSV names its pictures."""
    trial, scratch = FolderVisits(root), Walk(LAYOUT_CSV)  # nothing is kept unless the CSV is used
    trial.enter(base)
    files = list(_files_under(scratch, root, base, trial))
    pictures = {relative_path(path, base): (path, linked) for path, linked in files if _is_image_name(path)}
    labels = read_labels_csv(os.path.join(base, csv_name), set(pictures))
    if labels is None:
        return False
    where = relative_path(base, root)
    inside = (lambda path: path) if where == "." else (lambda path: f"{where}/{path}")
    visits.left_out += trial.left_out
    walk.layout, walk.labels_from = LAYOUT_CSV, inside(csv_name)
    walk.problems += scratch.problems + [Problem(inside(p.path), p.severity, p.reason, p.action) for p in labels.problems]
    walk.fixes += labels.fixes
    for path, _ in files:
        relpath = relative_path(path, base)
        if relpath == csv_name:
            continue
        if relpath not in pictures:
            _ignore(walk, inside(relpath))
        elif relpath in labels.labels:
            _add_picture(walk, FoundPicture(path, inside(relpath), "pool", labels.labels[relpath], pictures[relpath][1]))
        else:
            walk.stray_images += 1
            if relpath not in labels.listed:
                walk.problems.append(Problem(inside(relpath), WARNING, f"not in {csv_name}, so it has no label", "skipped"))
    return True


def _outside_classes(walk: Walk, root: str, entry: os.DirEntry, where: str) -> None:
    relpath = relative_path(entry.path, root)
    if entry.is_dir():
        walk.problems.append(Problem(relpath, WARNING, f"this folder is not used: {where}", "ignored"))
    elif _is_image_name(entry.name):
        walk.stray_images += 1
        walk.problems.append(Problem(relpath, WARNING, f"{where}, so it has no label", "skipped"))
    else:
        _ignore(walk, relpath)


def _ignore(walk: Walk, relpath: str) -> None:
    walk.ignored += 1
    walk.problems.append(Problem(relpath, INFO, "not a picture file (JPEG, PNG, WebP, HEIC, AVIF, BMP, TIFF or GIF)", "ignored"))


def _files_under(walk: Walk, root: str, folder: str, visits: FolderVisits) -> Iterator[tuple[str, bool]]:
    """Every file below ``folder`` (entered already), sorted, as (path, reached through a link):
    links followed like im2rec, but each folder visited once (:class:`FolderVisits`)."""
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = _entries(current)
        except OSError as error:
            walk.problems.append(Problem(relative_path(current, root), WARNING, f"can't open the folder: {error.strerror or error}", "skipped"))
            continue
        linked = visits.linked(current)
        subfolders = []
        for entry in entries:
            if entry.is_dir():
                if visits.enter(entry.path):
                    subfolders.append(entry.path)
            else:
                yield entry.path, linked or entry.is_symlink()  # a broken link too: inspecting it says so
        stack.extend(reversed(subfolders))


def pictures_under(folder: str | os.PathLike) -> tuple[list[str], list[Problem]]:
    """Every picture-named file below ``folder`` (any depth, sorted, hidden files and folders left
    out, links followed but never in circles), the way a dataset's class folders are walked; and
    the folders that couldn't be opened. Nothing is opened but folders."""
    walk = Walk(LAYOUT_POOL)
    root = absolute_path(folder)
    visits = FolderVisits(root)
    visits.enter(root)
    found = [(path, linked) for path, linked in _files_under(walk, root, root, visits) if _is_image_name(path)]
    kept, _ = once_each([path for path, _ in found], [linked for _, linked in found], root)  # a picture linked twice is one
    return [found[i][0] for i in kept], walk.problems


def absolute_path(root: str | os.PathLike) -> str:
    # "~/photos" typed into the wizard means the same as it does in a shell
    return os.path.abspath(os.path.expanduser(os.fspath(root)))


def relative_path(path: str, root: str) -> str:
    return Path(os.path.relpath(path, root)).as_posix()

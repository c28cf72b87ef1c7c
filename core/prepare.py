"""From a checked dataset to the training job's input: ``.lst`` lists and RecordIO files.

The algorithm needs a ``train`` and a ``validation`` channel. The test pictures are kept out of
both, for evaluation through the endpoint at the end; when the dataset has no ``validation/``
folder, a seeded, per-class share of the training pictures becomes the validation set — the
tutorial validates on its test set, which makes the final test score look better than it is.

Pictures are re-encoded to a short edge of ``resize`` pixels while packing: a 12-megapixel phone
photo then decodes in a fraction of the time during every epoch (JPEG draft mode does most of
the shrinking), and the upload to S3 is a fraction of the size. Packing is skipped when the same
pictures were already packed with the same settings, so a resumed run doesn't redo it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sagewiz.core.dataset.listing import ListEntry, write_list
from sagewiz.core.dataset.packer import PackOptions, PackResult, pack_images
from sagewiz.core.dataset.report import DatasetReport
from sagewiz.core.dataset.scan import split_files
from sagewiz.core.disk import room_needed
from sagewiz.core.errors import DatasetError

VALIDATION_SHARE = 0.1
_MANIFEST = "prepared.json"


@dataclass(frozen=True)
class PreparedData:
    """The packed channels and the held-out test pictures of one dataset."""

    folder: Path
    class_names: tuple[str, ...]
    train_rec: Path
    validation_rec: Path
    test_images: tuple[tuple[str, int], ...]  # (absolute path, label)
    counts: dict[str, int]  # pictures packed per split (and test pictures kept)
    skipped: tuple[str, ...] = ()  # "path: reason" for pictures the packer couldn't use

    @property
    def smallest_training_class(self) -> int:
        return int(self.counts.get("smallest_training_class", 0))

    def to_dict(self) -> dict:
        return {"folder": str(self.folder), "class_names": list(self.class_names), "train_rec": str(self.train_rec),
                "validation_rec": str(self.validation_rec), "test_images": len(self.test_images),
                "counts": self.counts, "skipped": list(self.skipped)}


def _splits(report: DatasetReport, seed: int) -> dict[str, list[tuple[str, str]]]:
    images = report.images
    train = list(images.get("train", []))
    validation = list(images.get("validation", []))
    if not validation:
        train, validation = split_files(train, 1 - VALIDATION_SHARE, seed)
    return {"train": train, "validation": validation, "test": list(images.get("test", []))}


def prepare_dataset(
    report: DatasetReport,
    folder: str | os.PathLike,
    *,
    resize: int,
    seed: int = 0,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> PreparedData:
    """Write ``train``/``validation`` ``.lst`` + ``.rec``/``.idx`` files under ``folder`` and
    return what was made. ``progress(split, done, total)`` follows the packing.

    Raises DatasetError when the report isn't usable or a split ends up empty.
    """
    if not report.usable:
        raise DatasetError("This dataset can't be used for training yet: " + "; ".join(report.summary[:2]),
                           hint=f"Run `sagewiz check {report.root}` to see every problem and what to fix.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = tuple(c.name for c in sorted(report.classes, key=lambda c: c.label))
    label_of = {name: label for label, name in enumerate(names)}
    splits = _splits(report, seed)
    for split in ("train", "validation"):
        if not splits[split]:
            raise DatasetError(f"The {split} set is empty: every class needs at least two training pictures "
                               "so one can be held out for validation.", hint="Add pictures, or a validation/ folder.")
    options = PackOptions(resize=resize, quality=95)
    fingerprint = _fingerprint(report.root, splits, options)
    manifest_path = folder / _MANIFEST
    previous = _read_manifest(manifest_path)
    if previous and previous.get("fingerprint") == fingerprint and all((folder / f"{s}.rec").exists() for s in ("train", "validation")):
        return _prepared(folder, names, label_of, report.root, splits, previous)

    skipped: list[str] = []
    counts: dict[str, int] = {}
    for split in ("train", "validation"):
        entries = [ListEntry(i, path, (float(label_of[name]),)) for i, (path, name) in enumerate(splits[split])]
        with room_needed(folder, f"write the list {split}.lst"):  # pack_images says a full disk itself
            write_list(folder / f"{split}.lst", entries)
        result: PackResult = pack_images(entries, report.root, folder / f"{split}.rec", folder / f"{split}.idx", options,
                                         workers=workers or os.cpu_count() or 1,
                                         progress=_counter(progress, split, len(entries)) if progress else None)
        skipped += [f"{s.path}: {s.reason}" for s in result.skipped]
        counts[split] = result.packed
        if not result.packed:
            raise DatasetError(f"None of the {split} pictures could be packed.", hint="Run `sagewiz check` on the folder to see why.")
    train_per_class: dict[str, int] = {}
    for _, name in splits["train"]:
        train_per_class[name] = train_per_class.get(name, 0) + 1
    counts["test"] = len(splits["test"])
    counts["smallest_training_class"] = min(train_per_class.values())
    manifest = {"fingerprint": fingerprint, "counts": counts, "skipped": skipped}
    _write_manifest(manifest_path, manifest)
    return _prepared(folder, names, label_of, report.root, splits, manifest)


def _counter(progress: Callable[[str, int, int], None], split: str, total: int) -> Callable[[int], None]:
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress(split, done, total)

    return advance


def _prepared(folder: Path, names: tuple[str, ...], label_of: dict[str, int], root: str,
              splits: dict[str, list[tuple[str, str]]], manifest: dict) -> PreparedData:
    test = tuple((os.path.join(root, path), label_of[name]) for path, name in splits["test"] if name in label_of)
    return PreparedData(folder, names, folder / "train.rec", folder / "validation.rec", test,
                        dict(manifest["counts"]), tuple(manifest.get("skipped", ())))


def _fingerprint(root: str, splits: dict[str, list[tuple[str, str]]], options: PackOptions) -> str:
    digest = hashlib.sha256(json.dumps([root, options.resize, options.quality], sort_keys=True).encode())
    for split in ("train", "validation"):
        for path, name in splits[split]:
            info = os.stat(os.path.join(root, path))
            digest.update(f"{split}\t{path}\t{name}\t{info.st_size}\t{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _write_manifest(path: Path, manifest: dict) -> None:
    with room_needed(path.parent, f"write {path.name}"):
        path.write_text(json.dumps(manifest, indent=1))


def _read_manifest(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None

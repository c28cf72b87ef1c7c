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
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from sagewiz.core.dataset.listing import ListEntry, write_list
from sagewiz.core.dataset.packer import PackOptions, PackResult, pack_images
from sagewiz.core.dataset.report import DatasetReport
from sagewiz.core.dataset.scan import split_files
from sagewiz.core.disk import room_needed
from sagewiz.core.errors import DatasetError

VALIDATION_SHARE = 0.1
_MANIFEST = "prepared.json"
LOCK_FILE = ".packing.lock"


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


def training_pictures_per_class(report: DatasetReport, seed: int = 0) -> dict[str, int]:
    """How many pictures of each class the training set holds once packed with ``seed``: the
    training pictures less the share held out for validation (none when there is a validation/
    folder). The settings count these, so that they say the number the training job is given."""
    return _per_class(_splits(report, seed)["train"])


def _per_class(pairs: list[tuple[str, str]]) -> dict[str, int]:
    return dict(Counter(name for _, name in pairs))


def prepare_dataset(
    report: DatasetReport,
    folder: str | os.PathLike,
    *,
    resize: int,
    seed: int = 0,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    waiting: Callable[[str], None] | None = None,
) -> PreparedData:
    """Write ``train``/``validation`` ``.lst`` + ``.rec``/``.idx`` files under ``folder`` and
    return what was made. ``progress(split, done, total)`` follows the packing. While another
    sagewiz packs into the same folder, this one waits for it (``waiting(message)`` says so once),
    then uses what it packed when the pictures and settings are the same.

    Raises DatasetError when the report isn't usable or a split ends up empty.
    """
    if not report.usable:
        raise DatasetError("This dataset can't be used for training yet: " + "; ".join(report.summary[:2]),
                           hint=f"Run `sagewiz check {report.root}` to see every problem and what to fix.")
    folder = Path(folder)
    with packed_copy_lock(folder, waiting=waiting):
        return _prepare_in(report, folder, resize, seed, workers, progress)


@contextmanager
def packed_copy_lock(folder: str | os.PathLike, *, waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock of the packed copy in ``folder`` while packing it and until it is uploaded:
    two runs on the same pictures share one packed copy, and without the lock they wrote the same
    files at once and one removed the records the other was copying. Held already by this thread,
    it is simply held on. ``waiting(message)`` is called once when another sagewiz holds it. An
    flock: the kernel lets go of it when its process ends, killed or not, so a crashed run never
    blocks the next one."""
    folder = Path(folder).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    key = (threading.get_ident(), str(folder))
    if fcntl is None or key in _HELD:  # no flock here (Windows); or this thread holds it already (the journey does)
        yield
        return
    with open(folder / LOCK_FILE, "a") as handle:  # "a": opening never truncates or replaces it
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                waiting("Another sagewiz is packing or copying these pictures (the same folder): waiting for it to "
                        "finish, then using what it packed.")
            fcntl.flock(handle, fcntl.LOCK_EX)
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            fcntl.flock(handle, fcntl.LOCK_UN)


_HELD: set[tuple[int, str]] = set()  # (thread, folder) of the locks this process holds


def _prepare_in(report: DatasetReport, folder: Path, resize: int, seed: int, workers: int | None,
                progress: Callable[[str, int, int], None] | None) -> PreparedData:
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
    if previous and previous.get("fingerprint") == fingerprint and "counts" in previous and all((folder / f"{s}.rec").exists() for s in ("train", "validation")):
        return _prepared(folder, names, label_of, report.root, splits, previous)

    # each split is kept as soon as it is packed, and a split stopped by Ctrl-C keeps the records
    # it finished: a run started again goes on where the last one stopped
    done = previous.get("splits", {}) if previous and previous.get("fingerprint") == fingerprint else {}
    for split in ("train", "validation"):
        if split in done and (folder / f"{split}.rec").exists():
            continue
        entries = [ListEntry(i, path, (float(label_of[name]),)) for i, (path, name) in enumerate(splits[split])]
        with room_needed(folder, f"write the list {split}.lst"):  # pack_images says a full disk itself
            write_list(folder / f"{split}.lst", entries)
        result: PackResult = pack_images(entries, report.root, folder / f"{split}.rec", folder / f"{split}.idx", options,
                                         workers=workers or os.cpu_count() or 1,
                                         progress=_counter(progress, split, len(entries)) if progress else None,
                                         resume_key=f"{fingerprint}/{split}")
        if not result.packed:
            raise DatasetError(f"None of the {split} pictures could be packed.", hint="Run `sagewiz check` on the folder to see why.")
        done[split] = {"packed": result.packed, "skipped": [f"{s.path}: {s.reason}" for s in result.skipped]}
        _write_manifest(manifest_path, {"fingerprint": fingerprint, "splits": done})
    counts = {split: done[split]["packed"] for split in ("train", "validation")}
    counts["test"] = len(splits["test"])
    counts["smallest_training_class"] = min(_per_class(splits["train"]).values())
    manifest = {"fingerprint": fingerprint, "splits": done, "counts": counts,
                "skipped": [line for split in ("train", "validation") for line in done[split]["skipped"]]}
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

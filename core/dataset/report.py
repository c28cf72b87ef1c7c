"""What a dataset check found: the classes, the counts per split and every problem, each with
what sagewiz will do about it. Plain data, so the CLI, the wizard and JSON output all show the same."""

from __future__ import annotations

from dataclasses import asdict, dataclass

LAYOUT_SPLITS = "train/test folders"
LAYOUT_POOL = "one folder per class, to be split"
LAYOUT_NAMES = "labels from file names"  # cat.0.jpg, dog.1234.jpg in one folder, to be split
LAYOUT_CSV = "labels from a CSV file"  # labels.csv (file,label) beside the pictures, to be split
LAYOUT_UNLABELLED = "pictures without labels, to predict"  # Kaggle's test1/: 1.jpg, 2.jpg …
# The layouts whose pictures sagewiz splits into training and test pictures itself.
SPLIT_HERE = (LAYOUT_POOL, LAYOUT_NAMES, LAYOUT_CSV)
ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class Problem:
    """Something about one file or folder (``path`` relative to the root, "." for the whole
    dataset): how serious it is, why, and what sagewiz will do about it."""

    path: str
    severity: str  # "error" (can't train until fixed), "warning" or "info"
    reason: str
    action: str  # "skipped", "converted to RGB", "converted to JPEG", "kept", "ignored", "not followed", "fix needed"


@dataclass(frozen=True)
class ClassInfo:
    """A class: its folder name and the number label the model will use for it."""

    name: str
    label: int


@dataclass
class DatasetReport:
    """Everything :func:`scan_dataset` found. ``counts`` is split → class → usable pictures
    (for a folder to be split: the counts the seeded split will give); ``images`` lists each
    usable picture as (path relative to root, class name) per split."""

    root: str
    layout: str
    classes: list[ClassInfo]
    counts: dict[str, dict[str, int]]
    images: dict[str, list[tuple[str, str]]]
    formats: dict[str, int]
    converted: dict[str, int]  # pictures the algorithm can't read, by format ("WebP": 3): JPEG once packed
    width_range: tuple[int, int] | None
    height_range: tuple[int, int] | None
    total_images: int
    usable_images: int
    ignored_files: int
    problems: list[Problem]
    usable: bool
    summary: list[str]
    mini_batch_size: int
    split_ratio: float
    seed: int
    labels_from: str = ""  # how the labels were read, without class folders: "file names like cat.0.jpg", "labels.csv"

    def to_dict(self, *, include_images: bool = False) -> dict:
        """The report as JSON-ready data (the per-picture lists only when asked for)."""
        data = asdict(self)
        if not include_images:
            del data["images"]
        for key in ("width_range", "height_range"):
            value = data.pop(key)
            data[key.removesuffix("_range")] = None if value is None else {"min": value[0], "max": value[1]}
        return data

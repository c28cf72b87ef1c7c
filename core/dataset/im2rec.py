"""im2rec's two jobs, as functions: make the image lists, and pack every list of a prefix.

:func:`make_lists` and :func:`pack_lists` take one :class:`Im2recRequest` (the flags of
``im2rec.py``) and return reports; they never print. The CLI and the wizard show the reports.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager

from sagewiz.core.dataset.links import LeftOut
from sagewiz.core.dataset.listing import (
    DEFAULT_EXTENSIONS,
    BadListLine,
    find_list_files,
    list_images,
    read_list,
    split_entries,
    write_list,
)
from sagewiz.core.dataset.packer import PackOptions, PackResult, pack_images
from sagewiz.core.errors import InputError


@dataclass(frozen=True)
class Im2recRequest:
    """The flags of ``im2rec.py``, with its defaults (but threads: the output doesn't depend on them)."""

    prefix: str | os.PathLike
    root: str | os.PathLike
    exts: tuple[str, ...] = DEFAULT_EXTENSIONS
    chunks: int = 1
    train_ratio: float = 1.0
    test_ratio: float = 0.0
    recursive: bool = False
    shuffle: bool = True
    pass_through: bool = False
    resize: int = 0
    center_crop: bool = False
    quality: int = 95
    num_thread: int = 1
    color: int = 1
    encoding: str = ".jpg"
    pack_label: bool = False

    @property
    def pack_options(self) -> PackOptions:
        """The part of the request that decides how images are stored."""
        return PackOptions(self.pass_through, self.resize, self.center_crop, self.quality, self.color, self.encoding, self.pack_label)


@dataclass
class ListReport:
    """What :func:`make_lists` wrote: each list with its image count, and the labels it gave."""

    root: Path
    listed: int
    classes: dict[str, int]
    written: list[tuple[Path, int]] = field(default_factory=list)
    unlistable: list[str] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)  # links not followed again (im2rec would)


@dataclass
class PackReport:
    """One list packed: the list, lines of it that couldn't be read, and the pack result."""

    list_path: Path
    result: PackResult
    bad_lines: list[BadListLine] = field(default_factory=list)


def make_lists(request: Im2recRequest) -> ListReport:
    """Walk ``root`` and write ``prefix.lst`` (or the chunk/train/val/test lists), like ``im2rec --list``."""
    listing = list_images(request.root, recursive=request.recursive, extensions=request.exts)
    splits = split_entries(
        listing.entries,
        chunks=request.chunks,
        train_ratio=request.train_ratio,
        test_ratio=request.test_ratio,
        shuffle=request.shuffle,
    )
    prefix = os.path.abspath(request.prefix)
    folder = os.path.dirname(prefix)
    if not os.path.isdir(folder):
        raise InputError(f"There is no folder {folder} to write the lists into.", hint="Create it, or choose a PREFIX in an existing folder.")
    report = ListReport(Path(os.path.abspath(request.root)), len(listing.entries), listing.classes, unlistable=listing.unlistable,
                        left_out=listing.left_out)
    for split in splits:
        path = Path(prefix + split.suffix + ".lst")
        write_list(path, split.entries)
        report.written.append((path, len(split.entries)))
    return report


ProgressFactory = Callable[[str, int], ContextManager[Callable[[int], None]]]


def pack_lists(request: Im2recRequest, progress_factory: ProgressFactory | None = None) -> list[PackReport]:
    """Pack every ``.lst`` of the prefix into a ``.rec``/``.idx`` beside it, like im2rec without ``--list``.

    ``progress_factory(list_name, total)`` may return a context manager yielding ``advance(n)``.
    """
    list_files = find_list_files(request.prefix)
    if not list_files:
        raise InputError(
            f"No list file starts with {os.path.abspath(request.prefix)} and ends in .lst.",
            hint="Make the lists first: sagewiz im2rec --list --recursive PREFIX ROOT",
        )
    root = os.path.abspath(request.root)
    if not os.path.isdir(root):
        raise InputError(f"There is no folder {root} holding the images.", hint="ROOT must be the folder the list's paths are relative to.")
    options = request.pack_options
    options.validate()
    reports = []
    for list_path in list_files:
        entries, bad_lines = read_list(list_path)
        stem = list_path.with_suffix("")
        progress = progress_factory(list_path.name, len(entries)) if progress_factory else nullcontext(None)
        with progress as advance:
            result = pack_images(
                entries, root, f"{stem}.rec", f"{stem}.idx", options, workers=max(1, request.num_thread), progress=advance
            )
        reports.append(PackReport(list_path, result, bad_lines))
    return reports

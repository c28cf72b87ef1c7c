"""Pack the images of a list into a ``.rec``/``.idx`` pair, in parallel, in list order.

Two modes, as in im2rec:

* **pass-through** copies each file's bytes into its record (byte-identical to im2rec), after a
  cheap check that the bytes are a whole JPEG or PNG, so a damaged file is reported instead of
  poisoning a training job later; a WebP, HEIC, AVIF, BMP, TIFF or GIF is converted to JPEG
  instead (the algorithm reads only JPEG and PNG), where im2rec would copy bytes nobody reads;
* **re-encode** (:mod:`reencode`) decodes with Pillow (JPEG draft mode when the image is at least twice the target
  size), applies EXIF orientation, converts to the requested colour mode, optionally crops the
  centre square, resizes the short edge and encodes JPEG or PNG.

Records are always written in list order, whatever the number of workers: the output is the
same bytes with one worker or many. Pillow releases the GIL while it decodes, resizes and
encodes, so worker threads scale across cores without pickling images between processes.
Every listed image is either packed or reported with its reason; nothing is dropped silently.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from sagewiz.core.dataset.listing import ListEntry
from sagewiz.core.dataset.recordio import RecordWriter, pack_image_header
from sagewiz.core.disk import room_needed
from sagewiz.core.errors import InputError
from sagewiz.core.ordered import ordered_map

_JPEG_START = b"\xff\xd8\xff"
_PNG_START = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"
_PROGRESS_EVERY = 32


@dataclass(frozen=True)
class PackOptions:
    """How images go into records; the fields and defaults of im2rec's flags."""

    pass_through: bool = False
    resize: int = 0
    center_crop: bool = False
    quality: int = 95
    color: int = 1  # 1 colour, 0 grayscale, -1 as stored (alpha kept where the encoding allows)
    encoding: str = ".jpg"
    pack_label: bool = False

    def validate(self) -> None:
        """Raise InputError naming the flag when a value can't work."""
        if self.encoding not in (".jpg", ".png"):
            raise InputError(f"--encoding must be .jpg or .png, not {self.encoding}.", hint="Use --encoding .jpg (smaller) or .png (lossless).")
        if self.color not in (-1, 0, 1):
            raise InputError(f"--color must be 1, 0 or -1, not {self.color}.", hint="1 colour (the usual), 0 grayscale, -1 as stored.")
        if self.resize < 0:
            raise InputError(f"--resize must be 0 (keep the size) or a positive number of pixels, not {self.resize}.", hint="For the Image Classification algorithm, --resize 256 or 224 is typical.")
        if self.encoding == ".jpg" and not 1 <= self.quality <= 100:
            raise InputError(f"--quality for JPEG must be between 1 and 100, not {self.quality}.", hint="95 is im2rec's default.")


@dataclass(frozen=True)
class SkippedImage:
    """A listed image that was not packed, and why."""

    path: str
    reason: str


@dataclass
class PackResult:
    """What one pack wrote: the files, how many images went in, and each one left out."""

    rec_path: Path
    idx_path: Path
    listed: int = 0
    packed: int = 0
    bytes_written: int = 0
    skipped: list[SkippedImage] = field(default_factory=list)
    converted: dict[str, int] = field(default_factory=dict)  # pictures made JPEG, by their format ("WebP": 2)


class UnusableImage(Exception):
    """An image that can't be packed; the message is the reason shown to the user."""


class NotJpegOrPng(UnusableImage):
    """Bytes that are neither JPEG nor PNG: pass-through converts them when they are a WebP,
    HEIC, BMP… (reencode.convert_to_jpeg), or skips them."""


def check_encoded_image(data: bytes) -> None:
    """Raise UnusableImage unless ``data`` looks like a whole JPEG or PNG (cheap: no decoding)."""
    if not data:
        raise UnusableImage("empty file (0 bytes)")
    if data.startswith(_JPEG_START):
        # a JPEG ends with the EOI marker; some cameras append a few bytes after it
        if data.rfind(b"\xff\xd9", max(0, len(data) - 4096)) == -1:
            raise UnusableImage("truncated JPEG (no end-of-image marker)")
    elif data.startswith(_PNG_START):
        if data.rfind(_PNG_END, max(0, len(data) - 64)) == -1:
            raise UnusableImage("truncated PNG (no IEND chunk)")
    else:
        raise NotJpegOrPng("not a JPEG or PNG file, despite its name")


def _read_file(path: str) -> bytes:
    # os.open/os.read instead of open(): no buffered-file object per image, one read of the
    # whole file (asking for one byte more than its size catches a file that grew meanwhile)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise UnusableImage("the file is gone (moved or deleted after listing)") from None
    except OSError as error:
        raise UnusableImage(f"can't read it: {error.strerror}") from None
    try:
        size = os.fstat(fd).st_size
        chunks = [os.read(fd, size + 1)]
        while len(chunks[-1]) > size:  # it grew after fstat: read the rest
            chunks.append(os.read(fd, 1 << 20))
            if not chunks[-1]:
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except IsADirectoryError:
        raise UnusableImage("it is a folder, not a file") from None
    except OSError as error:
        if error.errno == 21:  # EISDIR on some systems
            raise UnusableImage("it is a folder, not a file") from None
        raise UnusableImage(f"can't read it: {error.strerror}") from None
    finally:
        os.close(fd)


def _encode_entry(root: str, entry: ListEntry, options: PackOptions) -> tuple[bytes, bytes, str | None] | SkippedImage:
    """The record payload of one list entry as (image header, image bytes, the format it was
    converted from or None), or why it was skipped. The two parts are written one after the
    other, never joined: that would copy every image."""
    converted = None
    try:
        data = _read_file(os.path.join(root, entry.path))
        if options.pass_through:
            try:
                check_encoded_image(data)
                image = data
            except NotJpegOrPng:  # the algorithm reads only JPEG and PNG: a WebP, HEIC… is made one
                from sagewiz.core.dataset.reencode import convert_to_jpeg  # Pillow: only when needed

                image, converted = convert_to_jpeg(data, options)
        else:
            from sagewiz.core.dataset.reencode import reencode  # Pillow: only when re-encoding

            image, converted = reencode(data, options)
    except UnusableImage as skip:
        return SkippedImage(entry.path, str(skip))
    labels = entry.labels if options.pack_label and len(entry.labels) > 1 else entry.labels[0]
    return pack_image_header(entry.index, labels), image, converted


def pack_images(
    entries: Sequence[ListEntry],
    root: str | os.PathLike,
    rec_path: str | os.PathLike,
    idx_path: str | os.PathLike,
    options: PackOptions = PackOptions(),
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    resume_key: str | None = None,
) -> PackResult:
    """Pack ``entries`` (paths relative to ``root``) into ``rec_path`` and ``idx_path``.

    The files are written beside their final names and moved into place at the end, so an
    interrupted pack never leaves a half-written ``.rec`` behind under the real name. With
    ``resume_key`` (what ``entries``, ``root`` and ``options`` are, as the caller fingerprints
    them), a pack stopped by Ctrl-C keeps the records it finished beside the final names, and a
    later pack with the same key goes on after them instead of starting over.
    """
    options.validate()
    root = os.path.abspath(root)
    result = PackResult(Path(rec_path), Path(idx_path), listed=len(entries))
    partial_rec, partial_idx = f"{rec_path}.partial", f"{idx_path}.partial"
    # a full disk is said as one (DiskFullError), once the partial files are gone again
    with room_needed(Path(rec_path).parent, f"pack the pictures into {Path(rec_path).name}",
                     needed=lambda: _pictures_size(root, entries)):
        _pack(entries, root, options, workers, progress, result, partial_rec, partial_idx, resume_key)
    return result


def _pictures_size(root: str, entries: Sequence[ListEntry]) -> int:
    """What the pictures take on disk: about what packing them writes (less when they are resized)."""
    total = 0
    for entry in entries:
        with contextlib.suppress(OSError):
            total += os.stat(os.path.join(root, entry.path)).st_size
    return total


def _pack(entries: Sequence[ListEntry], root: str, options: PackOptions, workers: int, progress: Callable[[int], None] | None,
          result: PackResult, partial_rec: str, partial_idx: str, resume_key: str | None) -> None:
    rec_path, idx_path = result.rec_path, result.idx_path
    stopped_at = f"{partial_rec}.json"  # where a pack stopped by Ctrl-C was, to go on from there
    earlier = _stopped_pack(stopped_at, resume_key, partial_rec, partial_idx)
    start = earlier["done"] if earlier else 0
    keep_partials = False
    try:
        if earlier:
            result.packed, result.converted = earlier["packed"], dict(earlier["converted"])
            result.skipped = [SkippedImage(path, reason) for path, reason in earlier["skipped"]]
        with RecordWriter(partial_rec, partial_idx, go_on_from=tuple(earlier["mark"]) if earlier else None) as writer:
            # Pass-through is a copy that holds the GIL for its magic scan: one thread was faster
            # than two on a warm cache (benchmarks/bench_pack.py), so extra workers only decode.
            threads = 1 if options.pass_through else workers
            todo = entries[start:]
            encoded = ordered_map(lambda entry: _encode_entry(root, entry, options), todo, threads)
            if progress and start:
                progress(start)  # the bar starts where the earlier pack stopped
            unreported = 0
            # what is whole after each picture: Ctrl-C may come in the middle of the next one
            whole = (start, writer.mark, result.packed, len(result.skipped), tuple(result.converted.items()))
            try:
                for position, (entry, payload) in enumerate(zip(todo, encoded), start + 1):
                    if isinstance(payload, SkippedImage):
                        result.skipped.append(payload)
                    else:
                        writer.write_parts(payload[0], payload[1], entry.index)
                        result.packed += 1
                        if payload[2]:
                            result.converted[payload[2]] = result.converted.get(payload[2], 0) + 1
                    whole = (position, writer.mark, result.packed, len(result.skipped), tuple(result.converted.items()))
                    unreported += 1
                    if progress and unreported == _PROGRESS_EVERY:
                        progress(unreported)  # a progress bar redraw per image would cost more than the copy
                        unreported = 0
                if progress and unreported:
                    progress(unreported)
            except KeyboardInterrupt:
                if resume_key is not None:
                    writer.close()  # flushed; what follows the last whole record is cut off when going on
                    _note_stop(stopped_at, resume_key, whole, result)
                    keep_partials = True
                raise
            result.bytes_written = writer.offset
        for partial, final in ((partial_rec, rec_path), (partial_idx, idx_path)):
            # Remove an old output first instead of renaming over it: ext4 (auto_da_alloc) flushes
            # the new file to disk before a rename that replaces a file, which made re-packing wait
            # on the disk for most of its time. Either way the final name never holds a partial file.
            with contextlib.suppress(FileNotFoundError):
                os.remove(final)
            os.replace(partial, final)
    finally:
        if not keep_partials:
            for leftover in (partial_rec, partial_idx, stopped_at):
                if os.path.exists(leftover):
                    os.remove(leftover)


def _note_stop(path: str, key: str, whole: tuple, result: PackResult) -> None:
    done, mark, packed, skipped, converted = whole
    state = {"key": key, "done": done, "mark": list(mark), "packed": packed, "converted": dict(converted),
             "skipped": [[s.path, s.reason] for s in result.skipped[:skipped]]}
    with open(f"{path}.new", "w") as f:
        json.dump(state, f)
    os.replace(f"{path}.new", path)


def _stopped_pack(path: str, key: str | None, partial_rec: str, partial_idx: str) -> dict | None:
    """What an earlier pack of the same pictures, stopped by Ctrl-C, finished (None: start afresh)."""
    if key is None:
        return None
    try:
        with open(path) as f:
            state = json.load(f)
        if state["key"] != key or os.path.getsize(partial_rec) < state["mark"][0] or os.path.getsize(partial_idx) < state["mark"][1]:
            return None
        return state
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None

"""Pack the images of a list into a ``.rec``/``.idx`` pair, in parallel, in list order.

Two modes, as in im2rec:

* **pass-through** copies each file's bytes into its record (byte-identical to im2rec), after a
  cheap check that the bytes are a whole JPEG or PNG, so a damaged file is reported instead of
  poisoning a training job later;
* **re-encode** decodes with Pillow (JPEG draft mode when the image is at least twice the target
  size), applies EXIF orientation, converts to the requested colour mode, optionally crops the
  centre square, resizes the short edge and encodes JPEG or PNG.

Records are always written in list order, whatever the number of workers: the output is the
same bytes with one worker or many. Pillow releases the GIL while it decodes, resizes and
encodes, so worker threads scale across cores without pickling images between processes.
Every listed image is either packed or reported with its reason; nothing is dropped silently.
"""

from __future__ import annotations

import io
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

from PIL import Image, ImageOps, UnidentifiedImageError

from sagewiz.core.dataset.images import MAX_IMAGE_PIXELS, to_rgb
from sagewiz.core.dataset.listing import ListEntry
from sagewiz.core.dataset.recordio import RecordWriter, pack_image_header
from sagewiz.core.errors import InputError

T = TypeVar("T")
R = TypeVar("R")

_JPEG_START = b"\xff\xd8\xff"
_PNG_START = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"
_ORIENTATION = 0x0112  # EXIF tag


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


class _Skip(Exception):
    """An image that can't be packed; the message is the reason shown to the user."""


def check_encoded_image(data: bytes) -> None:
    """Raise _Skip unless ``data`` looks like a whole JPEG or PNG (cheap: no decoding)."""
    if not data:
        raise _Skip("empty file (0 bytes)")
    if data.startswith(_JPEG_START):
        # a JPEG ends with the EOI marker; some cameras append a few bytes after it
        if data.rfind(b"\xff\xd9", max(0, len(data) - 4096)) == -1:
            raise _Skip("truncated JPEG (no end-of-image marker)")
    elif data.startswith(_PNG_START):
        if data.rfind(_PNG_END, max(0, len(data) - 64)) == -1:
            raise _Skip("truncated PNG (no IEND chunk)")
    else:
        raise _Skip("not a JPEG or PNG file, despite its name")


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise _Skip("the file is gone (moved or deleted after listing)") from None
    except IsADirectoryError:
        raise _Skip("it is a folder, not a file") from None
    except OSError as error:
        raise _Skip(f"can't read it: {error.strerror}") from None


def _draft_size(width: int, height: int, options: PackOptions) -> tuple[int, int] | None:
    """The smallest decode size that still leaves the short edge >= the target (for JPEG draft)."""
    if not options.resize:
        return None
    short = min(width, height)
    if options.center_crop:
        width = height = short
    return (max(1, -(-width * options.resize // short)), max(1, -(-height * options.resize // short)))


def _convert_mode(img: Image.Image, options: PackOptions) -> Image.Image:
    if options.color == 1:
        return img if img.mode == "RGB" else to_rgb(img)
    if options.color == 0:
        return img if img.mode == "L" else to_rgb(img).convert("L")
    # -1: as stored, but the chosen encoding must be able to hold it
    if options.encoding == ".jpg" and img.mode not in ("RGB", "L", "CMYK"):
        return to_rgb(img)
    if options.encoding == ".png" and img.mode not in ("RGB", "RGBA", "L", "LA", "I;16", "P", "1"):
        return to_rgb(img)
    return img


def _center_crop(img: Image.Image) -> Image.Image:
    width, height = img.size
    if height > width:
        margin = (height - width) // 2
        return img.crop((0, margin, width, margin + width))
    margin = (width - height) // 2
    return img.crop((margin, 0, margin + height, height))


def _resized_size(width: int, height: int, short_edge: int) -> tuple[int, int]:
    # the same integer arithmetic as im2rec, so output sizes match it exactly
    if height > width:
        return short_edge, height * short_edge // width
    return width * short_edge // height, short_edge


def reencode_image(data: bytes, options: PackOptions) -> bytes:
    """Decode, orient, convert, crop, resize and encode one image; raise _Skip when it can't be."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise _Skip(f"{img.width}×{img.height} pixels is over the {MAX_IMAGE_PIXELS:,}-pixel safety limit")
            # sizes are computed from the full-size picture, as im2rec sees it, even when the
            # JPEG is decoded at 1/2, 1/4 or 1/8 scale (draft mode) to save most of the decoding
            width, height = img.size
            orientation = img.getexif().get(_ORIENTATION, 1)
            if orientation in (5, 6, 7, 8):
                width, height = height, width
            draft = _draft_size(width, height, options)
            if img.format == "JPEG" and draft:
                img.draft("L" if options.color == 0 else "RGB", draft if (width, height) == img.size else draft[::-1])
            img.load()
            if orientation != 1:  # exif_transpose copies the whole image even when there's nothing to do
                img = ImageOps.exif_transpose(img)
            img = _convert_mode(img, options)
            if options.center_crop:
                img = _center_crop(img)
                width = height = min(width, height)
            if options.resize:
                size = _resized_size(width, height, options.resize)
                if size != img.size:
                    img = img.resize(size, Image.BILINEAR)
            out = io.BytesIO()
            if options.encoding == ".jpg":
                img.save(out, "JPEG", quality=options.quality)
            else:
                img.save(out, "PNG", compress_level=min(max(options.quality, 0), 9))
            return out.getvalue()
    except _Skip:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise _Skip("not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise _Skip(f"damaged image ({error})") from None


def _encode_entry(root: str, entry: ListEntry, options: PackOptions) -> bytes | SkippedImage:
    """The record payload of one list entry, or why it was skipped."""
    try:
        data = _read_file(os.path.join(root, entry.path))
        if options.pass_through:
            check_encoded_image(data)
            image = data
        else:
            image = reencode_image(data, options)
    except _Skip as skip:
        return SkippedImage(entry.path, str(skip))
    labels = entry.labels if options.pack_label and len(entry.labels) > 1 else entry.labels[0]
    return pack_image_header(entry.index, labels) + image


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int, window: int = 64) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` threads, yielding results in input order with at most
    ``window`` per worker in flight, so memory stays bounded however long the list."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sagewiz-pack") as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def pack_images(
    entries: Sequence[ListEntry],
    root: str | os.PathLike,
    rec_path: str | os.PathLike,
    idx_path: str | os.PathLike,
    options: PackOptions = PackOptions(),
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> PackResult:
    """Pack ``entries`` (paths relative to ``root``) into ``rec_path`` and ``idx_path``.

    The files are written beside their final names and moved into place at the end, so an
    interrupted pack never leaves a half-written ``.rec`` behind under the real name.
    """
    options.validate()
    root = os.path.abspath(root)
    result = PackResult(Path(rec_path), Path(idx_path), listed=len(entries))
    partial_rec, partial_idx = f"{rec_path}.partial", f"{idx_path}.partial"
    try:
        with RecordWriter(partial_rec, partial_idx) as writer:
            encoded = ordered_map(lambda entry: _encode_entry(root, entry, options), entries, workers)
            for entry, payload in zip(entries, encoded):
                if isinstance(payload, SkippedImage):
                    result.skipped.append(payload)
                else:
                    writer.write(payload, entry.index)
                    result.packed += 1
                if progress:
                    progress(1)
            result.bytes_written = writer.offset
        os.replace(partial_rec, rec_path)
        os.replace(partial_idx, idx_path)
    finally:
        for leftover in (partial_rec, partial_idx):
            if os.path.exists(leftover):
                os.remove(leftover)
    return result

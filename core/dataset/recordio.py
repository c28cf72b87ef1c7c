"""MXNet RecordIO, read and written in pure Python: ``.rec`` records, ``.idx`` indexes, image headers.

The framing follows dmlc-core's ``RecordIOWriter`` byte for byte, so files we write are the files
MXNet writes and SageMaker's Image Classification algorithm reads:

* each record is ``u32 magic | u32 (cflag << 29 | length) | data | zero padding to 4 bytes``;
* a payload that holds the magic at a 4-aligned offset is cut there into parts (cflag 1 first,
  2 middle, 3 last; 0 for a whole record) and the magic itself is dropped, the reader puts it back;
* the padding is computed from the whole payload's length (parts before the last are already
  aligned because the cuts are).

An image record's payload is ``struct '<IfQQ'`` (flag, label, id, id2) and the encoded image; with
several labels, flag is their count, the header label is 0 and the labels follow as float32.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Sequence

from sagewiz.core.errors import RecordIOError

MAGIC = 0xCED7230A
MAGIC_BYTES = struct.pack("<I", MAGIC)
MAX_RECORD_LENGTH = (1 << 29) - 1
IMAGE_HEADER = struct.Struct("<IfQQ")
_FRAME = struct.Struct("<II")
_ZEROS = b"\0\0\0"

# cflag values of a record part
WHOLE, FIRST, MIDDLE, LAST = 0, 1, 2, 3


def aligned_magic_offsets(payload: bytes | memoryview, start: int = 0, end: int | None = None) -> list[int]:
    """Offsets of the magic at 4-aligned positions of ``payload[start:end]`` (relative to ``start``).

    Only positions whose 4 bytes lie wholly inside the first ``len & ~3`` bytes count, as in dmlc.
    ``bytes.find`` does the scanning in C; most payloads hold no magic at all.
    """
    data = payload if isinstance(payload, bytes) else bytes(payload)
    end = len(data) if end is None else end
    limit = start + ((end - start) & ~3)
    found = []
    pos = data.find(MAGIC_BYTES, start, limit)
    while pos != -1:
        if (pos - start) % 4 == 0:
            found.append(pos - start)
            pos = data.find(MAGIC_BYTES, pos + 4, limit)
        else:
            pos = data.find(MAGIC_BYTES, pos + 1, limit)
    return found


def frame_record(payload: bytes) -> list[bytes | memoryview]:
    """The byte pieces that store ``payload`` as one record, in order (write them one after another)."""
    length = len(payload)
    if length > MAX_RECORD_LENGTH:
        raise RecordIOError(
            f"A record of {length:,} bytes is larger than RecordIO allows (512 MiB).",
            hint="Resize the image (sagewiz im2rec --resize 512) or drop it from the list.",
        )
    cuts = aligned_magic_offsets(payload)
    if not cuts:
        return [_FRAME.pack(MAGIC, length), payload, _ZEROS[: (-length) % 4]]
    view = memoryview(payload)
    pieces: list[bytes | memoryview] = []
    start = 0
    for cut in cuts:
        pieces.append(_FRAME.pack(MAGIC, ((FIRST if start == 0 else MIDDLE) << 29) | (cut - start)))
        pieces.append(view[start:cut])
        start = cut + 4
    pieces.append(_FRAME.pack(MAGIC, (LAST << 29) | (length - start)))
    pieces.append(view[start:])
    pieces.append(_ZEROS[: (-length) % 4])
    return pieces


def encode_record(payload: bytes) -> bytes:
    """``payload`` framed as one record, as bytes."""
    return b"".join(frame_record(payload))


def pack_image_header(record_id: int, labels: float | Sequence[float], id2: int = 0) -> bytes:
    """The ``IRHeader`` bytes (and packed labels) that precede an image in its record.

    A single number goes into the header with flag 0; a sequence becomes flag = its length,
    header label 0, then the labels as float32, like ``mxnet.recordio.pack``.
    """
    if isinstance(labels, (int, float)):
        return IMAGE_HEADER.pack(0, float(labels), record_id, id2)
    labels = [float(label) for label in labels]
    return IMAGE_HEADER.pack(len(labels), 0.0, record_id, id2) + struct.pack(f"<{len(labels)}f", *labels)


@dataclass(frozen=True)
class ImageRecord:
    """One unpacked image record: its id, its label(s) and the encoded image bytes."""

    record_id: int
    labels: tuple[float, ...]
    image: bytes
    flag: int = 0
    id2: int = 0

    @property
    def label(self) -> float:
        """The first (usually only) label."""
        return self.labels[0] if self.labels else 0.0


def unpack_image_record(payload: bytes) -> ImageRecord:
    """Split an image record's payload into header fields, labels and image bytes."""
    if len(payload) < IMAGE_HEADER.size:
        raise RecordIOError(f"An image record of {len(payload)} bytes is shorter than its 24-byte header.")
    flag, label, record_id, id2 = IMAGE_HEADER.unpack_from(payload)
    start = IMAGE_HEADER.size
    if flag > 0:
        end = start + 4 * flag
        if end > len(payload):
            raise RecordIOError(f"Image record {record_id} says it holds {flag} labels but is too short for them.")
        labels = struct.unpack_from(f"<{flag}f", payload, start)
        start = end
    else:
        labels = (label,)
    return ImageRecord(record_id, tuple(labels), payload[start:], flag, id2)


class RecordWriter:
    """Writes records to a ``.rec`` file and, when given an ``.idx`` path, the index beside it.

    Use as a context manager. Offsets are counted, not asked of the file, so writing stays cheap.
    """

    def __init__(self, rec_path: str | os.PathLike, idx_path: str | os.PathLike | None = None, *,
                 go_on_from: tuple[int, int, int] | None = None):
        """A new pair of files; or, with ``go_on_from`` (a :attr:`mark` of an earlier writer of
        these files), the same files cut back to that mark and written on from there."""
        if go_on_from is None:
            self._rec = open(rec_path, "wb", buffering=1 << 20)
            self._idx = open(idx_path, "w", encoding="ascii", buffering=1 << 16) if idx_path else None
            self.offset = self.idx_bytes = self.count = 0
            return
        self.offset, self.idx_bytes, self.count = go_on_from
        self._rec = _cut_back(rec_path, self.offset, "b", buffering=1 << 20)
        self._idx = _cut_back(idx_path, self.idx_bytes, "", encoding="ascii", buffering=1 << 16) if idx_path else None

    @property
    def mark(self) -> tuple[int, int, int]:
        """Where the records written so far end: bytes of ``.rec``, bytes of ``.idx``, records."""
        return self.offset, self.idx_bytes, self.count

    def write(self, payload: bytes, key: int | None = None) -> int:
        """Append one record (indexed under ``key`` when there is an index); returns its offset."""
        return self.write_parts(payload, b"", key)

    def write_parts(self, head: bytes, body: bytes, key: int | None = None) -> int:
        """Append one record whose payload is ``head + body``, without joining them first.

        Pass-through packing calls this with the image header and the file's bytes: the common
        case (no magic inside) goes to the file as a handful of pieces and is never copied in
        Python. ``head`` must be a multiple of 4 bytes long unless ``body`` is empty, so that the
        4-aligned magic positions of the payload are those of ``head`` and ``body`` themselves.
        """
        offset = self.offset
        length = len(head) + len(body)
        if body and len(head) % 4:
            raise ValueError("the head of a two-part record must be a multiple of 4 bytes long")
        if length > MAX_RECORD_LENGTH or aligned_magic_offsets(head) or (body and aligned_magic_offsets(body)):
            pieces = frame_record(head + body)  # rare: the payload must be cut at each magic
        else:
            pieces = [_FRAME.pack(MAGIC, length), head, body, _ZEROS[: (-length) % 4]]
        write = self._rec.write
        for piece in pieces:
            if piece:
                write(piece)
        self.offset += sum(map(len, pieces))
        if self._idx is not None:
            if key is None:
                raise ValueError("an indexed writer needs a key for every record")
            self.idx_bytes += self._idx.write(f"{key}\t{offset}\n")  # ASCII: characters are bytes
        self.count += 1
        return offset

    def close(self) -> None:
        """Flush and close both files."""
        self._rec.close()
        if self._idx is not None:
            self._idx.close()

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _cut_back(path: str | os.PathLike, size: int, binary: str, **how):
    """``path`` opened for appending after its first ``size`` bytes, the rest cut off."""
    with open(path, "r+b") as f:
        if f.seek(0, os.SEEK_END) < size:
            raise RecordIOError(f"{path} is shorter than the {size:,} bytes it was left with: it can't be written on.")
        f.truncate(size)
    return open(path, "a" + binary, **how)


def _read_exact(stream: BinaryIO, size: int, what: str, offset: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise RecordIOError(
            f"The record file ends in the middle of {what} at byte {offset:,}: it is truncated.",
            hint="Pack the images again (sagewiz im2rec PREFIX ROOT); a copy or upload was probably cut short.",
        )
    return data


def read_record(stream: BinaryIO) -> bytes | None:
    """Read the next whole record's payload from ``stream``; None at a clean end of file."""
    parts: list[bytes] = []
    while True:
        offset = stream.tell() if stream.seekable() else -1
        frame = stream.read(_FRAME.size)
        if not frame and not parts:
            return None
        if len(frame) != _FRAME.size:
            _read_exact(stream, _FRAME.size, "a record header", offset)  # raises: truncated
        magic, lrec = _FRAME.unpack(frame)
        if magic != MAGIC:
            raise RecordIOError(
                f"Byte {offset:,} of the record file should start a record but holds 0x{magic:08X}.",
                hint="This is not a RecordIO file, or it is damaged; pack the images again.",
            )
        cflag, length = lrec >> 29, lrec & MAX_RECORD_LENGTH
        data = _read_exact(stream, (length + 3) & ~3, "a record", offset)
        # a record starts WHOLE or FIRST and continues MIDDLE* LAST; anything else is damage
        expected = (WHOLE, FIRST) if not parts else (MIDDLE, LAST)
        if cflag not in expected:
            raise RecordIOError(
                f"The record at byte {offset:,} has a part flag ({cflag}) out of order.",
                hint="The record file is damaged; pack the images again.",
            )
        parts.append(data[:length])
        if cflag in (WHOLE, LAST):
            return MAGIC_BYTES.join(parts)


def iter_records(path: str | os.PathLike) -> Iterator[bytes]:
    """Every record payload of a ``.rec`` file, in file order."""
    with open(path, "rb", buffering=1 << 20) as stream:
        while (payload := read_record(stream)) is not None:
            yield payload


def read_index(path: str | os.PathLike) -> dict[int, int]:
    """An ``.idx`` file as ``{key: byte offset}``; damaged lines raise RecordIOError naming the line."""
    index: dict[int, int] = {}
    with open(path, encoding="ascii", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            fields = line.split("\t")
            try:
                key, offset = int(fields[0]), int(fields[1])
            except (ValueError, IndexError):
                raise RecordIOError(
                    f"Line {number} of {os.fspath(path)} is not 'key<TAB>offset': {line.strip()!r}.",
                    hint="Pack the images again to rebuild the index.",
                ) from None
            index[key] = offset
    return index


class IndexedRecordReader:
    """Random access to the records of a ``.rec`` file through its ``.idx``."""

    def __init__(self, rec_path: str | os.PathLike, idx_path: str | os.PathLike):
        self.index = read_index(idx_path)
        self._rec = open(rec_path, "rb")

    def keys(self) -> list[int]:
        """Record keys in index order."""
        return list(self.index)

    def read(self, key: int) -> bytes:
        """The payload of the record stored under ``key``."""
        try:
            offset = self.index[key]
        except KeyError:
            raise RecordIOError(f"No record with key {key} in the index.") from None
        self._rec.seek(offset)
        payload = read_record(self._rec)
        if payload is None:
            raise RecordIOError(f"The index points record {key} at byte {offset:,}, past the end of the file.")
        return payload

    def close(self) -> None:
        """Close the record file."""
        self._rec.close()

    def __enter__(self) -> "IndexedRecordReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

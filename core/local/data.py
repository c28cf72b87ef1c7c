"""The training job's input channels as torch datasets: RecordIO files, or images with a .lst.

Both give ``(uint8 C×H×W image, label)`` pairs; decoding and augmentation run in DataLoader
worker processes, one per core, so the training loop only waits on the network. Labels are
checked once when a channel is opened (from the record headers, without decoding any image), so
a label outside ``num_classes`` fails the job before the first epoch, with the file named.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from sagewiz.core.dataset.listing import read_list
from sagewiz.core.dataset.recordio import IMAGE_HEADER, MAGIC, read_index, read_record, unpack_image_record
from sagewiz.core.errors import DatasetError

_FRAME = struct.Struct("<II")
LENGTH_MASK = (1 << 29) - 1


def _record_offsets(path: Path) -> list[int]:
    """Where each record of a ``.rec`` starts: from its ``.idx`` when there is one, else a walk
    over the record frames (reading 8 bytes per part, not the images)."""
    index = path.with_suffix(".idx")
    if index.exists():
        return sorted(set(read_index(index).values()))
    offsets, position, size = [], 0, path.stat().st_size
    with open(path, "rb") as stream:
        starting = True
        while position < size:
            stream.seek(position)
            frame = stream.read(_FRAME.size)
            if len(frame) < _FRAME.size:
                raise DatasetError(f"{path.name} ends in the middle of a record: it is truncated.", hint="Pack the images again.")
            magic, lrec = _FRAME.unpack(frame)
            if magic != MAGIC:
                raise DatasetError(f"{path.name} is not a RecordIO file (byte {position:,} doesn't start a record).",
                                   hint="Give the .rec file that `sagewiz im2rec` or im2rec.py wrote.")
            if starting:
                offsets.append(position)
            cflag = lrec >> 29
            starting = cflag in (0, 3)  # a WHOLE or LAST part ends the record
            position += _FRAME.size + (((lrec & LENGTH_MASK) + 3) & ~3)
    return offsets


def _labels_at(stream, offset: int) -> tuple[float, ...]:
    """The label(s) of the record at ``offset``, from its header alone (no image read)."""
    stream.seek(offset)
    head = stream.read(_FRAME.size + IMAGE_HEADER.size)
    first_part = _FRAME.unpack_from(head)[1] & LENGTH_MASK if len(head) >= _FRAME.size else 0
    if len(head) < _FRAME.size + IMAGE_HEADER.size or first_part < IMAGE_HEADER.size:
        stream.seek(offset)  # the magic inside the header itself (or damage): read it properly
        record = read_record(stream)
        return unpack_image_record(record).labels if record else ()
    flag, label, _, _ = IMAGE_HEADER.unpack_from(head, _FRAME.size)
    if flag == 0:
        return (label,)
    extra = stream.read(4 * flag)
    if first_part < IMAGE_HEADER.size + 4 * flag or len(extra) < 4 * flag:
        stream.seek(offset)
        return unpack_image_record(read_record(stream)).labels
    return struct.unpack(f"<{flag}f", extra)


class _Channel(Dataset):
    """What both kinds of channel share: labels, transform, label checks."""

    def __init__(self, name: str, labels: list[tuple[float, ...]], num_classes: int, multi_label: bool,
                 transform: Callable, describe: Callable[[int], str]):
        self.name, self.num_classes, self.multi_label, self.transform = name, num_classes, multi_label, transform
        if not labels:
            raise DatasetError(f"The {name} channel holds no images.", hint="Check that the dataset was packed and uploaded.")
        for position, values in enumerate(labels):
            bad = [v for v in values if not (0 <= v < num_classes) or (not multi_label and v != int(v))]
            if bad:
                raise DatasetError(f"{describe(position)} in the {name} channel has label {bad[0]:g}, but num_classes is "
                                   f"{num_classes}: labels must be whole numbers from 0 to {num_classes - 1}.",
                                   hint="Set num_classes to the number of classes, or re-make the lists so labels start at 0.")
        self.labels = labels
        self.cache_decoded = False
        self._decoded: dict[int, object] = {}

    def __len__(self) -> int:
        return len(self.labels)

    def target(self, values: tuple[float, ...]) -> torch.Tensor:
        if self.multi_label:
            hot = torch.zeros(self.num_classes)
            hot[[int(v) for v in values]] = 1.0
            return hot
        return torch.tensor(int(values[0]))

    def raw(self, position: int) -> bytes:
        """The encoded image at ``position``."""
        raise NotImplementedError

    def __getitem__(self, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self._decoded.get(position) if self.cache_decoded else None
        if image is None:
            image = self.decode(self.raw(position), position)
            if self.cache_decoded:  # small channels: decode once, augment every epoch
                self._decoded[position] = image
        return self.transform(image), self.target(self.labels[position])

    def decode(self, data: bytes, position: int):
        from sagewiz.core.local.transforms import decode_image

        try:
            return decode_image(data, self.transform_shape, getattr(self.transform, "resize", None))
        except Exception as error:  # any byte string can arrive here; name the image, not the decoder
            raise DatasetError(f"Image {position} of the {self.name} channel can't be decoded ({type(error).__name__}: {error}).",
                               hint="Re-pack the dataset; `sagewiz check` finds damaged pictures first.") from None

    @property
    def transform_shape(self) -> tuple[int, int, int]:
        return (3, self.transform.height, self.transform.width)


class RecordChannel(_Channel):
    """A ``.rec`` file (and its ``.idx`` when present), as SageMaker's application/x-recordio."""

    def __init__(self, name: str, path: Path, num_classes: int, transform: Callable, multi_label: bool = False):
        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetError(f"The {name} channel's file {self.path} is missing.", hint="Prepare the dataset again.")
        self.offsets = _record_offsets(self.path)
        with open(self.path, "rb") as stream:
            labels = [_labels_at(stream, offset) for offset in self.offsets]
        self._stream, self._pid = None, None
        super().__init__(name, labels, num_classes, multi_label, transform, lambda i: f"Record {i}")

    def raw(self, position: int) -> bytes:
        if self._stream is None or self._pid != os.getpid():  # one handle per worker process
            self._stream, self._pid = open(self.path, "rb"), os.getpid()
        self._stream.seek(self.offsets[position])
        return unpack_image_record(read_record(self._stream)).image

    def __getstate__(self):
        return {**self.__dict__, "_stream": None}


class ListChannel(_Channel):
    """Images under ``root`` named by a ``.lst`` (application/x-image with a ``*_lst`` channel)."""

    def __init__(self, name: str, root: Path, lst: Path, num_classes: int, transform: Callable, multi_label: bool = False):
        if not Path(lst).is_file():
            raise DatasetError(f"The {name}_lst channel's file {lst} is missing.", hint="Make the list again (sagewiz im2rec --list).")
        entries, bad = read_list(lst)
        if bad:
            raise DatasetError(f"Line {bad[0].line_number} of {Path(lst).name} can't be read: {bad[0].reason}.",
                               hint="Every line must be: index<TAB>label(s)<TAB>relative path.")
        self.root, self.paths = Path(root), [e.path for e in entries]
        super().__init__(name, [e.labels for e in entries], num_classes, multi_label, transform,
                         lambda i: self.paths[i])

    def raw(self, position: int) -> bytes:
        try:
            return (self.root / self.paths[position]).read_bytes()
        except OSError as error:
            raise DatasetError(f"{self.paths[position]} of the {self.name} channel can't be read ({error.strerror}).",
                               hint="Check that every image in the list is still there.") from None


def open_channel(name: str, channels: dict, num_classes: int, transform: Callable, multi_label: bool) -> _Channel:
    """The ``train`` or ``validation`` channel of a job spec, whichever form it takes."""
    channel = channels.get(name)
    if channel is None:
        raise DatasetError(f"The job has no {name} channel; the algorithm needs train and validation.",
                           hint="Give both, as RecordIO files or as image folders with .lst files.")
    path = Path(channel["path"])
    if channel.get("content_type") == "application/x-image" or path.is_dir():
        lst = channels.get(f"{name}_lst")
        if lst is None:
            raise DatasetError(f"The {name} channel holds images but there is no {name}_lst channel listing them.",
                               hint=f"Add a {name}_lst channel with the .lst file.")
        return ListChannel(name, path, Path(lst["path"]), num_classes, transform, multi_label)
    return RecordChannel(name, path, num_classes, transform, multi_label)


def loader(dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int, workers: int, drop_last: bool,
           pin_memory: bool = False) -> DataLoader:
    """Batches of uint8 images and labels, decoded by ``workers`` processes (0: in this one)."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, generator=generator,
                      num_workers=workers, persistent_workers=workers > 0, pin_memory=pin_memory,
                      prefetch_factor=4 if workers > 0 else None)


class StartedLoader:
    """A DataLoader whose worker processes start now, with the batches of its first pass.

    Start every loader's workers before the first training step. A process forked later shares
    all the memory training has kept by then (``keep_freed_memory``), and the kernel copies each
    page of it on the trainer's next write to it: the validation loader's workers, forked at the
    first validation of a ResNet-18 job at 224 px, cost the step after it 116,000 page faults and
    3.5 s (one step is 2 s on two cores)."""

    def __init__(self, batches: DataLoader):
        self.batches = batches
        self._first = iter(batches) if batches.num_workers else None  # starts the workers, which start decoding

    def __iter__(self):
        first, self._first = self._first, None
        return first if first is not None else iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def count_by_label(labels: Sequence[tuple[float, ...]], num_classes: int) -> list[int]:
    counts = [0] * num_classes
    for values in labels:
        for v in values:
            counts[int(v)] += 1
    return counts

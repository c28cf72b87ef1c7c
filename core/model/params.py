"""MXNet's ``.params`` file (``mx.nd.save``/``mx.nd.load``), read and written with numpy.

Layout (little-endian; MXNet 1.9.1 ``src/ndarray/ndarray.cc``, ``NDArray::Save``/``Load``):
u64 ``0x112``, u64 0, u64 n, n arrays, u64 k (0 or n), k × (u64 length, UTF-8 name). An array is
u32 magic — V2 ``0xF993FAC9``, or V3 ``0xF993FACA`` under np-shape semantics (same layout, 0-d
arrays allowed), or V1 ``0xF993FAC8`` (no storage type) — i32 storage type (0 dense), i32 ndim +
ndim × i64 dims, i32 dev_type + i32 dev_id, i32 dtype, then the raw C-order data.

A SageMaker model is a download, so every count and size is checked against the bytes that are
really left before anything is allocated: a damaged or hostile file is refused with a
:class:`ModelFileError`, never a MemoryError.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from sagewiz.core.errors import ModelFileError

LIST_MAGIC = 0x112
V1_MAGIC = 0xF993FAC8
V2_MAGIC = 0xF993FAC9
V3_MAGIC = 0xF993FACA

# mshadow's type flags. 12 (bfloat16) has no numpy dtype and MXNet's SageMaker models never use it.
DTYPES = {
    0: np.dtype("<f4"), 1: np.dtype("<f8"), 2: np.dtype("<f2"), 3: np.dtype("u1"),
    4: np.dtype("<i4"), 5: np.dtype("i1"), 6: np.dtype("<i8"), 7: np.dtype("?"),
}
_FLAGS = {dtype: flag for flag, dtype in DTYPES.items()}
_NAMED_FLAGS = {12: "bfloat16", 8: "int16", 9: "uint16", 10: "uint32", 11: "uint64"}
_DEVICE_TYPES = {1, 2, 3, 5}  # cpu, gpu, cpu_pinned, cpu_shared: all load onto the CPU here
MAX_NDIM = 32  # MXNet's own limit on dimensions
_SMALLEST_ARRAY = 4 + 4 + 4  # magic, storage type, ndim (an empty placeholder array)
_HINT = ("Download the model again, or choose the model.tar.gz of a training job that completed "
         "(sagewiz resources lists them).")


def _count(number: int, word: str) -> str:
    return f"{number} {word}" + ("" if number == 1 else "s")


class _Reader:
    """A cursor over the file's bytes that refuses to read past the end."""

    def __init__(self, data: bytes, source: str):
        self.data = memoryview(data)
        self.offset = 0
        self.source = source

    @property
    def left(self) -> int:
        return len(self.data) - self.offset

    def fail(self, problem: str) -> ModelFileError:
        return ModelFileError(f"{self.source} is not a usable MXNet weights file: {problem}.", hint=_HINT)

    def take(self, size: int, what: str) -> memoryview:
        if size > self.left:
            raise self.fail(f"it ends {size - self.left} bytes too early, in {what} at byte {self.offset}"
                            " (the file is truncated)")
        chunk = self.data[self.offset:self.offset + size]
        self.offset += size
        return chunk

    def number(self, fmt: str, what: str) -> int:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]


def read_ndarray_list(data: bytes, *, source: str = "The .params file") -> tuple[list[np.ndarray], list[str]]:
    """The arrays of an ``mx.nd.save`` file and their names (empty when a bare list was saved).

    ``source`` names the file in messages. Raises :class:`ModelFileError` saying what is wrong.
    """
    reader = _Reader(data, source)
    if reader.left < 24 or reader.number("<Q", "the header") != LIST_MAGIC:
        raise reader.fail("it does not start like one (MXNet's .params files start with 0x112)")
    reader.number("<Q", "the header")  # reserved; MXNet ignores it too
    count = reader.number("<Q", "the number of arrays")
    if count * _SMALLEST_ARRAY > reader.left:
        raise reader.fail(f"it says it holds {count} arrays but has room for at most "
                          f"{reader.left // _SMALLEST_ARRAY}")
    arrays = [_read_array(reader, index) for index in range(count)]
    names = _read_names(reader, count)
    if reader.left:
        raise reader.fail(f"{_count(reader.left, 'unexpected byte')} follow its last name")
    return arrays, names


def _read_array(reader: _Reader, index: int) -> np.ndarray:
    what = f"array {index + 1}"
    start = reader.offset
    magic = reader.number("<I", what)
    if magic not in (V1_MAGIC, V2_MAGIC, V3_MAGIC):
        raise reader.fail(f"{what} (at byte {start}) has the unknown version mark {magic:#010x}")
    if magic != V1_MAGIC:
        storage = reader.number("<i", what)
        if storage != 0:
            raise reader.fail(f"{what} is a sparse array (storage type {storage}); "
                              "image-classification models hold only dense ones")
    ndim = reader.number("<i", what)
    if magic == V3_MAGIC and ndim == -1 or magic != V3_MAGIC and ndim == 0:
        raise reader.fail(f"{what} is an empty placeholder with no shape")
    if not 0 <= ndim <= MAX_NDIM:
        raise reader.fail(f"{what} says it has {ndim} dimensions")
    shape = struct.unpack(f"<{ndim}q", reader.take(8 * ndim, f"the shape of {what}"))
    if any(dim < 0 for dim in shape):
        raise reader.fail(f"{what} has a negative size in its shape {shape}")
    dev_type = reader.number("<i", what)
    reader.number("<i", what)  # device id: everything is loaded onto the CPU
    if dev_type not in _DEVICE_TYPES:
        raise reader.fail(f"{what} names an unknown device type {dev_type}")
    flag = reader.number("<i", what)
    if flag not in DTYPES:
        kind = _NAMED_FLAGS.get(flag)
        raise reader.fail(f"{what} holds {kind} numbers, which sagewiz can't read" if kind
                          else f"{what} has the unknown number type {flag}")
    dtype = DTYPES[flag]
    size = int(np.prod(shape, dtype=object)) if shape else 1  # Python ints: no overflow
    nbytes = size * dtype.itemsize
    if nbytes > reader.left:
        raise reader.fail(f"{what} of shape {shape} needs {nbytes} bytes of data but only "
                          f"{reader.left} are left (sizes that disagree, or a truncated file)")
    raw = reader.take(nbytes, f"the data of {what}")
    return np.frombuffer(raw, dtype=dtype, count=size).reshape(shape).copy()


def _read_names(reader: _Reader, count: int) -> list[str]:
    how_many = reader.number("<Q", "the number of names")
    if how_many not in (0, count):
        raise reader.fail(f"it holds {_count(count, 'array')} but {_count(how_many, 'name')}")
    names = []
    for index in range(how_many):
        length = reader.number("<Q", f"name {index + 1}")
        if length > reader.left:
            raise reader.fail(f"name {index + 1} says it is {length} bytes long but only "
                              f"{reader.left} bytes are left")
        try:
            names.append(bytes(reader.take(length, f"name {index + 1}")).decode("utf-8"))
        except UnicodeDecodeError:
            raise reader.fail(f"name {index + 1} is not UTF-8 text") from None
    return names


def read_params(data: bytes, *, source: str = "The .params file") -> dict[str, np.ndarray]:
    """The named arrays of a ``.params`` file, in file order (``arg:``/``aux:`` prefixes kept).

    Raises :class:`ModelFileError` for a damaged file, a bare unnamed list or a repeated name.
    """
    arrays, names = read_ndarray_list(data, source=source)
    if arrays and not names:
        raise ModelFileError(f"{source} holds {_count(len(arrays), 'array')} without names, so they can't be "
                             "matched to the network's layers.", hint=_HINT)
    params = dict(zip(names, arrays))
    if len(params) != len(names):
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise ModelFileError(f"{source} names {', '.join(repeated)} more than once.", hint=_HINT)
    return params


def load_params(path: Path) -> dict[str, np.ndarray]:
    """:func:`read_params` of the file at ``path`` (named by its file name in messages)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"Can't read the weights file {path}: {exc.strerror or exc}.", hint=_HINT) from exc
    return read_params(data, source=path.name)


def write_ndarray_list(arrays: Sequence[np.ndarray], names: Sequence[str] = (), *, np_shape: bool = False) -> bytes:
    """The bytes ``mx.nd.save`` writes for these arrays (and names, if any).

    ``np_shape=True`` writes V3 arrays, as MXNet does under np-shape semantics, and is needed for
    0-d arrays, which legacy (V2) semantics can't express. Raises ValueError for an unsupported
    dtype, a 0-d array without ``np_shape``, or names that don't match the arrays one to one.
    """
    if names and len(names) != len(arrays):
        raise ValueError(f"{len(arrays)} arrays but {len(names)} names")
    out = [struct.pack("<QQQ", LIST_MAGIC, 0, len(arrays))]
    for array in arrays:
        out.append(_array_bytes(np.asarray(array), np_shape))
    out.append(struct.pack("<Q", len(names)))
    for name in names:
        encoded = name.encode("utf-8")
        out.append(struct.pack("<Q", len(encoded)) + encoded)
    return b"".join(out)


def _array_bytes(array: np.ndarray, np_shape: bool) -> bytes:
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder not in "|" else array.dtype
    flag = _FLAGS.get(dtype)
    if flag is None:
        raise ValueError(f"MXNet's .params can't hold {array.dtype} arrays")
    if array.ndim == 0 and not np_shape:
        raise ValueError("a 0-d array needs np_shape=True (MXNet's legacy shapes have no 0-d arrays)")
    header = struct.pack(f"<Iii{array.ndim}qiii", V3_MAGIC if np_shape else V2_MAGIC, 0, array.ndim,
                         *array.shape, 1, 0, flag)
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def write_params(params: Mapping[str, np.ndarray], *, np_shape: bool = False) -> bytes:
    """The bytes ``mx.nd.save(path, params)`` writes for this dict, in its order."""
    return write_ndarray_list(list(params.values()), list(params), np_shape=np_shape)


def save_params(path: Path, params: Mapping[str, np.ndarray], *, np_shape: bool = False) -> None:
    """Write :func:`write_params` to ``path``."""
    Path(path).write_bytes(write_params(params, np_shape=np_shape))

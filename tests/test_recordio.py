"""RecordIO: whatever we write, we (and an independent reader) read back exactly."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagewiz.core.dataset.recordio import (
    MAGIC_BYTES,
    IndexedRecordReader,
    RecordWriter,
    encode_record,
    iter_records,
    pack_image_header,
    read_record,
    unpack_image_record,
)
from sagewiz.core.errors import RecordIOError


def independent_reader(data: bytes) -> list[bytes]:
    """A second, deliberately naive reader written from the format description, not our code."""
    records, current, pos = [], [], 0
    while pos < len(data):
        magic, lrec = struct.unpack("<II", data[pos : pos + 8])
        assert magic == 0xCED7230A
        cflag, length = lrec >> 29, lrec & ((1 << 29) - 1)
        current.append(data[pos + 8 : pos + 8 + length])
        pos += 8 + length + (4 - length % 4) % 4
        if cflag in (0, 3):
            records.append(MAGIC_BYTES.join(current))
            current = []
    assert current == [] and pos == len(data)
    return records


# payloads made of chunks, many of them the magic itself, so it lands at aligned and unaligned offsets
payloads = st.lists(st.one_of(st.binary(max_size=9), st.just(MAGIC_BYTES)), max_size=12).map(b"".join)


@settings(max_examples=400)
@given(records=st.lists(payloads, max_size=6))
def test_any_payloads_round_trip_through_our_reader_and_an_independent_one(records, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rec")
    with RecordWriter(folder / "x.rec", folder / "x.idx") as writer:
        for key, payload in enumerate(records):
            writer.write(payload, key)
    data = (folder / "x.rec").read_bytes()
    assert len(data) % 4 == 0
    assert list(iter_records(folder / "x.rec")) == records
    assert independent_reader(data) == records
    with IndexedRecordReader(folder / "x.rec", folder / "x.idx") as reader:
        assert [reader.read(key) for key in reader.keys()] == records


def test_magic_at_an_aligned_offset_splits_the_record_into_parts():
    payload = b"abcd" + MAGIC_BYTES + b"efgh" + MAGIC_BYTES + b"ij"
    framed = encode_record(payload)
    flags = []
    pos = 0
    while pos < len(framed):
        lrec = struct.unpack_from("<I", framed, pos + 4)[0]
        flags.append(lrec >> 29)
        length = lrec & ((1 << 29) - 1)
        pos += 8 + length + (4 - length % 4) % 4
    assert flags == [1, 2, 3]
    assert read_record(io.BytesIO(framed)) == payload


def test_magic_at_an_unaligned_offset_stays_inside_one_record():
    payload = b"ab" + MAGIC_BYTES + b"cd"
    framed = encode_record(payload)
    assert struct.unpack_from("<I", framed, 4)[0] >> 29 == 0
    assert read_record(io.BytesIO(framed)) == payload


@given(st.integers(0, 2**32 - 1), st.floats(width=32, allow_nan=False), st.binary(max_size=64))
def test_image_header_with_one_label_round_trips(record_id, label, image):
    record = unpack_image_record(pack_image_header(record_id, label) + image)
    assert (record.record_id, record.labels, record.image, record.flag) == (record_id, (label,), image, 0)


@given(st.lists(st.floats(width=32, allow_nan=False), min_size=2, max_size=8), st.binary(max_size=32))
def test_several_labels_are_packed_after_the_header_like_mxnet(labels, image):
    record = unpack_image_record(pack_image_header(7, labels) + image)
    assert record.flag == len(labels) and record.labels == tuple(labels) and record.image == image


def test_a_truncated_record_file_says_it_is_truncated(tmp_path):
    with RecordWriter(tmp_path / "x.rec") as writer:
        writer.write(b"x" * 100)
    data = (tmp_path / "x.rec").read_bytes()
    (tmp_path / "cut.rec").write_bytes(data[:50])
    with pytest.raises(RecordIOError, match="truncated") as caught:
        list(iter_records(tmp_path / "cut.rec"))
    assert caught.value.hint


def test_a_file_that_is_not_recordio_is_named_as_such(tmp_path):
    (tmp_path / "photo.rec").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 60)
    with pytest.raises(RecordIOError, match="should start a record"):
        list(iter_records(tmp_path / "photo.rec"))


def test_a_damaged_index_line_is_named(tmp_path):
    with RecordWriter(tmp_path / "x.rec", tmp_path / "x.idx") as writer:
        writer.write(b"abc", 0)
    (tmp_path / "x.idx").write_text("0\t0\nnot an index line\n")
    with pytest.raises(RecordIOError, match="Line 2"):
        IndexedRecordReader(tmp_path / "x.rec", tmp_path / "x.idx")


@given(heads=st.lists(st.sampled_from([b"\0" * 4, MAGIC_BYTES, b"abcd"]), min_size=1, max_size=4).map(b"".join),
       body=payloads)
def test_a_record_written_in_two_parts_is_the_same_bytes_as_written_whole(heads, body, tmp_path_factory):
    # pass-through packing writes the image header and the file's bytes without joining them
    folder = tmp_path_factory.mktemp("parts")
    with RecordWriter(folder / "whole.rec", folder / "whole.idx") as whole, \
            RecordWriter(folder / "parts.rec", folder / "parts.idx") as parts:
        for key in range(2):
            assert whole.write(heads + body, key) == parts.write_parts(heads, body, key)
    assert (folder / "whole.rec").read_bytes() == (folder / "parts.rec").read_bytes()
    assert (folder / "whole.idx").read_bytes() == (folder / "parts.idx").read_bytes()
    assert independent_reader((folder / "parts.rec").read_bytes()) == [heads + body] * 2

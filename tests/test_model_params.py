"""A SageMaker model's weights are MXNet's ``.params`` file: sagewiz reads what MXNet 1.9.1 wrote
(tests/fixtures/mxnet_model, made by make_fixtures.py with MXNet itself), writes the same bytes
back, and refuses a damaged or hostile file with a message instead of running out of memory."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagewiz.core.errors import ModelFileError, WizardError
from sagewiz.core.model.params import (
    load_params,
    read_ndarray_list,
    read_params,
    write_ndarray_list,
    write_params,
)

FIXTURES = Path(__file__).parent / "fixtures" / "mxnet_model"
PARAMS = FIXTURES / "params"


def fixture_bytes(name: str) -> bytes:
    path = FIXTURES / name
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def the_sample_arrays() -> dict[str, np.ndarray]:
    """What make_fixtures.py saved, drawn again from the same seed."""
    rng = np.random.RandomState(14)
    return {
        "f32": rng.randn(2, 3).astype(np.float32),
        "f64": rng.randn(4).astype(np.float64),
        "f16": rng.randn(2, 2).astype(np.float16),
        "u8": rng.randint(0, 256, (5,)).astype(np.uint8),
        "i32": rng.randint(-2**31, 2**31 - 1, (3, 1)).astype(np.int32),
        "i8": rng.randint(-128, 128, (2,)).astype(np.int8),
        "i64": rng.randint(-2**62, 2**62, (2, 2)).astype(np.int64),
        "bool": np.array([True, False, True]),
        "four_d": rng.randn(2, 1, 2, 3).astype(np.float32),
    }


def assert_same_arrays(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> None:
    assert list(ours) == list(theirs)
    for name in theirs:
        assert ours[name].dtype == theirs[name].dtype, name
        assert ours[name].shape == theirs[name].shape, name
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


def test_arrays_of_every_dtype_saved_by_mxnet_read_back_with_their_values():
    assert_same_arrays(read_params(fixture_bytes("params/dtypes-v2.params")), the_sample_arrays())


def test_sagewiz_writes_the_bytes_mxnet_wrote_for_every_dtype():
    assert write_params(the_sample_arrays()) == fixture_bytes("params/dtypes-v2.params")


def test_a_bare_list_saved_by_mxnet_has_no_names_and_is_written_back_the_same():
    data = fixture_bytes("params/list-v2.params")
    arrays, names = read_ndarray_list(data)
    assert names == []
    expected = list(the_sample_arrays().values())[:3]
    for ours, theirs in zip(arrays, expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert write_ndarray_list(arrays) == data


def test_np_shape_arrays_with_a_0d_scalar_and_a_zero_size_array_round_trip():
    data = fixture_bytes("params/np-shape-v3.params")
    params = read_params(data)
    assert params["scalar"].shape == () and params["scalar"] == np.float32(3.5)
    assert params["empty"].shape == (2, 0) and params["empty"].dtype == np.float32
    np.testing.assert_array_equal(params["i64"], the_sample_arrays()["i64"])
    assert write_params(params, np_shape=True) == data


def test_a_version_1_array_still_reads():
    # V1 is V2 without the storage-type field; MXNet 1.9.1 reads it but can no longer write it.
    v2 = write_params({"w": np.arange(6, dtype=np.float32).reshape(2, 3)})
    start = 24  # header, reserved, count
    v1 = v2[:start] + struct.pack("<I", 0xF993FAC8) + v2[start + 8:]
    np.testing.assert_array_equal(read_params(v1)["w"], np.arange(6, dtype=np.float32).reshape(2, 3))


def test_a_checkpoint_saved_by_mxnet_reads_and_writes_back_byte_for_byte():
    data = fixture_bytes("checkpoint/resnet20-0003.params.gz")
    params = read_params(data)
    assert list(params)[:3] == ["arg:bn_data_gamma", "arg:bn_data_beta", "arg:conv0_weight"]
    assert list(params)[-1] == "aux:bn1_moving_var"
    assert params["arg:fc1_weight"].shape == (2, 64)
    assert write_params(params) == data


def test_a_big_endian_or_strided_array_is_written_as_mxnet_would_write_it():
    plain = np.arange(12, dtype=np.float32).reshape(3, 4)
    odd = {"w": plain.astype(">f4").T.copy().T}  # big-endian and Fortran-ordered
    assert write_params(odd) == write_params({"w": plain})


def test_loading_from_a_file_names_the_file_in_the_message(tmp_path):
    path = tmp_path / "image-classification-0005.params"
    path.write_bytes(b"not weights at all, just text" * 3)
    with pytest.raises(ModelFileError, match="image-classification-0005.params") as caught:
        load_params(path)
    assert caught.value.hint


# ---------------------------------------------------------------- damaged and hostile files

def one_array_file(**overrides) -> bytes:
    """A one-array .params whose fields can be made to lie."""
    fields = {"magic": 0xF993FAC9, "storage": 0, "ndim": 2, "dims": (2, 3), "dev": 1, "dtype": 0,
              "data": bytes(24), "names": 1, "name_len": None, "name": b"arg:w", "count": 1}
    fields.update(overrides)
    name_len = len(fields["name"]) if fields["name_len"] is None else fields["name_len"]
    return (struct.pack("<QQQ", 0x112, 0, fields["count"])
            + struct.pack("<Iii", fields["magic"], fields["storage"], fields["ndim"])
            + struct.pack(f"<{len(fields['dims'])}q", *fields["dims"])
            + struct.pack("<iii", fields["dev"], 0, fields["dtype"]) + fields["data"]
            + struct.pack("<QQ", fields["names"], name_len) + fields["name"])


def test_the_hostile_file_builder_makes_a_good_file_when_nothing_lies():
    np.testing.assert_array_equal(read_params(one_array_file())["arg:w"], np.zeros((2, 3), np.float32))


HOSTILE = {
    "not a params file at all": (b"PK\x03\x04" + bytes(40), "does not start like one"),
    "empty file": (b"", "does not start like one"),
    "wrong array magic": (one_array_file(magic=0x12345678), "unknown version mark 0x12345678"),
    "a billion arrays": (one_array_file(count=10**9), "says it holds 1000000000 arrays"),
    "2**64-1 arrays": (one_array_file(count=2**64 - 1), "arrays but has room for at most"),
    "dims bigger than the data": (one_array_file(dims=(2**20, 2**20)), "needs 4398046511104 bytes"),
    "dims whose product overflows 64 bits": (one_array_file(dims=(2**62, 2**62)), "needs"),
    "negative dim": (one_array_file(dims=(-1, 3)), "negative size"),
    "absurd ndim": (one_array_file(ndim=2**30), "says it has 1073741824 dimensions"),
    "negative ndim": (one_array_file(ndim=-5), "says it has -5 dimensions"),
    "empty placeholder": (one_array_file(ndim=0, dims=()), "empty placeholder"),
    "sparse storage": (one_array_file(storage=1), "sparse array"),
    "unknown dtype": (one_array_file(dtype=99), "unknown number type 99"),
    "bfloat16": (one_array_file(dtype=12), "bfloat16"),
    "unknown device": (one_array_file(dev=77), "unknown device type 77"),
    "huge name length": (one_array_file(name_len=2**63), "says it is 9223372036854775808 bytes long"),
    "names that don't match the arrays": (one_array_file(names=3), "1 array but 3 names"),
    "name not UTF-8": (one_array_file(name=b"\xff\xfe"), "not UTF-8"),
    "junk after the names": (one_array_file() + b"junk", "4 unexpected bytes"),
    "data cut short": (one_array_file()[:24 + 12 + 16 + 12 + 10], "needs 24 bytes of data but only 10 are left"),
    "truncated inside a name": (one_array_file()[:-2], "name 1 says it is 5 bytes long but only 3 bytes are left"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_damaged_or_hostile_params_file_is_refused_with_a_clear_message(case):
    data, says = HOSTILE[case]
    with pytest.raises(ModelFileError, match="is not a usable MXNet weights file") as caught:
        read_params(data, source="model.params")
    assert says in caught.value.message
    assert isinstance(caught.value, WizardError) and "Download the model again" in caught.value.hint


def test_unnamed_arrays_and_repeated_names_cant_be_matched_to_layers():
    with pytest.raises(ModelFileError, match="without names"):
        read_params(fixture_bytes("params/list-v2.params"))
    twice = write_ndarray_list([np.zeros(1, np.float32)] * 2, ["arg:w", "arg:w"])
    with pytest.raises(ModelFileError, match="arg:w more than once"):
        read_params(twice)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=0, max_value=10**6))
def test_every_truncation_of_a_real_file_is_refused_cleanly(cut):
    data = fixture_bytes("params/dtypes-v2.params")
    with pytest.raises(ModelFileError):
        read_params(data[:cut % len(data)])


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0, max_value=10**6), byte=st.integers(0, 255))
def test_a_flipped_byte_is_read_or_refused_never_a_crash(position, byte):
    data = bytearray(fixture_bytes("params/dtypes-v2.params"))
    data[position % len(data)] = byte
    try:
        read_params(bytes(data))
    except ModelFileError:
        pass


def test_the_writer_refuses_what_mxnet_cant_hold():
    with pytest.raises(ValueError, match="complex"):
        write_params({"w": np.zeros(2, np.complex64)})
    with pytest.raises(ValueError, match="np_shape"):
        write_params({"w": np.float32(1.0)})

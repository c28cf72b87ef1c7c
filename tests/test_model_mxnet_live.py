"""Live cross-check of sagewiz's MXNet model formats against MXNet 1.9.1 itself.

Runs when SAGEWIZ_MXNET_PYTHON names a Python with mxnet installed (.ci/run builds one with
../shared/tools/make-mxnet-venv); skipped otherwise, and the skip says so. Each test hands MXNet a
short script and files in tmp_path: arrays go both ways through .params files, MXNet parses the
symbol sagewiz writes for every offered network, and a network sagewiz made runs in MXNet's
``load_checkpoint`` + ``Module.set_params(allow_missing=False, allow_extra=False)``.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from sagewiz.core.local.resnet import build_resnet
from sagewiz.core.model.params import load_params, save_params, write_params
from sagewiz.core.model.symbol import symbol_json
from sagewiz.core.model.weights import checkpoint_params

MXNET_PYTHON = os.environ.get("SAGEWIZ_MXNET_PYTHON")
pytestmark = [
    pytest.mark.mxnet,
    pytest.mark.skipif(not MXNET_PYTHON, reason="SAGEWIZ_MXNET_PYTHON is not set: no MXNet to cross-check "
                       "against (see tests/fixtures/mxnet_model/make_fixtures.py)"),
]

OFFERED = [(n, (3, 28, 28)) for n in (20, 32, 44, 56, 110)] + [
    (n, shape) for n in (18, 34, 50, 101, 152, 200) for shape in ((3, 32, 32), (3, 224, 224))]


def run_mxnet(script: str, folder: Path) -> str:
    done = subprocess.run([MXNET_PYTHON, "-c", textwrap.dedent(script), str(folder)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def random_arrays(rng: np.random.Generator) -> dict[str, np.ndarray]:
    shapes = [(3,), (2, 5), (1, 2, 3, 4), (7, 1)]
    arrays = {}
    for index, dtype in enumerate(["float32", "float64", "float16", "uint8", "int32", "int8", "int64", "bool"]):
        shape = shapes[index % len(shapes)]
        if np.dtype(dtype).kind == "f":
            arrays[f"arg:{dtype}"] = rng.standard_normal(shape).astype(dtype)
        elif dtype == "bool":
            arrays[f"aux:{dtype}"] = rng.integers(0, 2, shape).astype(bool)
        else:
            info = np.iinfo(dtype)
            arrays[f"aux:{dtype}"] = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    return arrays


def test_arrays_mxnet_saves_read_back_in_sagewiz_with_their_values(tmp_path):
    run_mxnet("""
        import sys, mxnet as mx, numpy as np
        out = sys.argv[1]
        rng = np.random.RandomState(7)
        arrays = {}
        for dtype in ["float32", "float64", "float16", "uint8", "int32", "int8", "int64", "bool"]:
            shape = tuple(rng.randint(1, 5, rng.randint(1, 5)))
            values = rng.randn(*shape) * 1000
            arrays[dtype] = values.astype(dtype) if dtype != "bool" else values > 0
        mx.nd.save(out + "/v2.params", {k: mx.nd.array(v, dtype=v.dtype) for k, v in arrays.items()})
        with mx.util.np_shape(True):
            v3 = dict(arrays, scalar=np.array(2.5, dtype="float32"), empty=np.zeros((3, 0), "float32"))
            mx.nd.save(out + "/v3.params", {k: mx.nd.array(v, dtype=v.dtype) for k, v in v3.items()})
        np.savez(out + "/values.npz", **v3)
    """, tmp_path)
    expected = dict(np.load(tmp_path / "values.npz"))
    for name, np_shape in (("v2.params", False), ("v3.params", True)):
        ours = load_params(tmp_path / name)
        wanted = expected if np_shape else {k: v for k, v in expected.items() if k not in ("scalar", "empty")}
        assert list(ours) == list(wanted)
        for key, value in wanted.items():
            assert ours[key].dtype == value.dtype and ours[key].shape == value.shape, key
            np.testing.assert_array_equal(ours[key], value, err_msg=key)
        assert write_params(ours, np_shape=np_shape) == (tmp_path / name).read_bytes()


def test_arrays_sagewiz_saves_load_in_mxnet_with_their_values(tmp_path):
    arrays = random_arrays(np.random.default_rng(11))
    save_params(tmp_path / "ours.params", arrays)
    save_params(tmp_path / "ours-v3.params", {**arrays, "arg:scalar": np.float64(-1.25)}, np_shape=True)
    np.savez(tmp_path / "values.npz", **{k.replace(":", "_"): v for k, v in arrays.items()})
    out = run_mxnet("""
        import sys, mxnet as mx, numpy as np
        out = sys.argv[1]
        expected = dict(np.load(out + "/values.npz"))
        loaded = mx.nd.load(out + "/ours.params")
        assert list(loaded) == [k.replace("_", ":", 1) for k in expected], list(loaded)
        for key, value in loaded.items():
            want = expected[key.replace(":", "_", 1)]
            got = value.asnumpy()
            assert got.dtype == want.dtype and got.shape == want.shape, key
            assert np.array_equal(got, want), key
        mx.nd.save(out + "/mxnet-again.params", loaded)
        with mx.util.np_shape(True):
            v3 = mx.nd.load(out + "/ours-v3.params")
            assert v3["arg:scalar"].shape == () and v3["arg:scalar"].asnumpy() == -1.25
        print("checked", len(loaded))
    """, tmp_path)
    assert "checked 8" in out
    assert (tmp_path / "mxnet-again.params").read_bytes() == (tmp_path / "ours.params").read_bytes()


def test_mxnet_reads_sagewizs_symbol_for_every_offered_network(tmp_path):
    for num_layers, shape in OFFERED:
        (tmp_path / f"resnet-{num_layers}-{shape[1]}.json").write_text(symbol_json(num_layers, 6, shape))
    out = run_mxnet("""
        import sys, json, glob, mxnet as mx
        for path in sorted(glob.glob(sys.argv[1] + "/resnet-*.json")):
            text = open(path).read()
            symbol = mx.sym.load_json(text)
            height = int(path.rsplit("-", 1)[1].split(".")[0])
            _, outputs, _ = symbol.infer_shape(data=(2, 3, height, height))
            assert outputs == [(2, 6)], (path, outputs)
            assert json.loads(symbol.tojson()) == json.loads(text), path
            print("parsed", path)
    """, tmp_path)
    assert out.count("parsed") == len(OFFERED)


def randomised(model: torch.nn.Module, seed: int, batch: torch.Tensor) -> torch.nn.Module:
    """Random weights and non-trivial BatchNorm statistics, so that every tensor matters, with fc1
    scaled so that the probabilities for ``batch`` are neither 0 nor 1."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("moving_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif name.endswith(("moving_mean", "beta", "bias")):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
            elif name.endswith("gamma"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) * 0.5 + 0.75)
        model.bn_data.moving_mean.fill_(120.0)
        model.bn_data.moving_var.fill_(3000.0)
        model.eval()
        model.fc1.weight /= model(batch).std()
    return model


# ResNet-20 (3 stages) and ResNet-18 at 32 px (4 stages, small stem); the bottleneck nets share
# their names and order with the symbol (test_model_weights.py) and are the slowest to run here.
@pytest.mark.parametrize("num_layers, shape", [(20, (3, 28, 28)), (18, (3, 32, 32))])
def test_a_network_sagewiz_made_answers_the_same_in_mxnet(num_layers, shape, tmp_path):
    pictures = np.random.default_rng(3).integers(0, 256, (4, *shape), dtype=np.uint8)
    batch = torch.from_numpy(pictures.astype(np.float32)).contiguous(memory_format=torch.channels_last)
    model = randomised(build_resnet(num_layers, 3, shape), num_layers, batch)
    (tmp_path / "model-symbol.json").write_text(symbol_json(num_layers, 3, shape))
    save_params(tmp_path / "model-0002.params", checkpoint_params(model))
    save_params(tmp_path / "pictures.params", {"data": pictures})
    run_mxnet(f"""
        import sys, mxnet as mx, numpy as np
        out = sys.argv[1]
        symbol, arg_params, aux_params = mx.model.load_checkpoint(out + "/model", 2)
        module = mx.mod.Module(symbol, data_names=["data"], label_names=["softmax_label"], context=mx.cpu())
        module.bind(data_shapes=[("data", (4, {shape[0]}, {shape[1]}, {shape[2]}))],
                    label_shapes=[("softmax_label", (4,))], for_training=False)
        module.set_params(arg_params, aux_params, allow_missing=False, allow_extra=False)
        pictures = mx.nd.load(out + "/pictures.params")["data"].astype("float32")
        module.forward(mx.io.DataBatch([pictures]), is_train=False)
        mx.nd.save(out + "/prob.params", {{"prob": module.get_outputs()[0]}})
    """, tmp_path)
    theirs = load_params(tmp_path / "prob.params")["prob"]
    with torch.no_grad():
        ours = torch.softmax(model(batch), dim=1).numpy()
    assert np.abs(ours - theirs).max() <= 1e-4
    assert ours.max() < 0.999  # not saturated: the comparison means something

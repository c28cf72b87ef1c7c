"""Pretrained weights converted by sagewiz answer what MXNet 1.9.1 answers with the original network.

Runs when SAGEWIZ_MXNET_PYTHON names a Python with mxnet 1.9.1 (see tests/test_model_mxnet_live.py);
MXNet's ONNX exporter needs the ``onnx`` package there: onnx 1.15.0 is the newest that still has
``onnx.mapping``, which ``mx.onnx`` imports. It is installed into that venv here when missing, and the
tests skip, saying why, when it can't be.

- Gluon's ``resnet18_v2`` and ``resnet50_v2`` with random weights and BatchNorm statistics, exported
  by ``mx.onnx.export_model``: sagewiz's network on raw 0–255 pixels gives Gluon's logits on
  normalised pixels. ResNet-18's first unit has Gluon's plain shortcut, rebuilt exactly where its
  bn1 keeps the unit's (non-negative) input out of the ReLU's cut — the first test gives it such a
  bn1; the second, random ones, and the conversion must say in how many channels it is exact.
- An MXNet checkpoint of the algorithm's symbol (1000 classes), saved by ``mx.model.save_checkpoint``.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from sagewiz.core.local.resnet import build_resnet
from sagewiz.core.model.params import load_params
from sagewiz.core.model.pretrained import add_pretrained, pretrained_params
from sagewiz.core.model.symbol import symbol_json
from sagewiz.core.model.weights import load_checkpoint_params

MXNET_PYTHON = os.environ.get("SAGEWIZ_MXNET_PYTHON")
ONNX_FOR_MXNET = "onnx==1.15.0"
pytestmark = [
    pytest.mark.mxnet,
    pytest.mark.skipif(not MXNET_PYTHON, reason="SAGEWIZ_MXNET_PYTHON is not set: no MXNet to cross-check against"),
]
SHAPE = (3, 224, 224)


def run_mxnet(script: str, folder: Path) -> str:
    done = subprocess.run([MXNET_PYTHON, "-c", textwrap.dedent(script), str(folder)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="session")
def mxnet_with_onnx():
    """The reference venv with the onnx package MXNet's exporter needs (installed if missing)."""
    has = subprocess.run([MXNET_PYTHON, "-c", "import onnx.mapping"], capture_output=True)
    if has.returncode != 0:
        done = subprocess.run([MXNET_PYTHON, "-m", "pip", "install", "-q", ONNX_FOR_MXNET],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.skip(f"can't install {ONNX_FOR_MXNET} into {MXNET_PYTHON}: {done.stderr[-500:]}")
    return MXNET_PYTHON


# Gluon's network with random weights and BatchNorm statistics, fc scaled so its logits are about
# ±1 (so that 1e-4 means something in float32), exported to ONNX by MXNet; its logits on two
# random pictures, normalised the ImageNet way, and its dense layer go to gluon.npz.
GLUON = """
    import sys, mxnet as mx, numpy as np
    from mxnet.gluon.model_zoo import vision
    out, arch, cut = sys.argv[1], "{arch}", {cut}
    mx.random.seed(5); rng = np.random.RandomState(5)
    net = vision.get_model(arch)
    net.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2))
    pixels = rng.randint(0, 256, (2, 3, 224, 224)).astype("uint8")
    mean = np.array([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1); std = np.array([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    normalised = mx.nd.array(((pixels / 255.0 - mean) / std).astype("float32"))
    net(normalised)
    params = net.collect_params()
    names = list(params.keys())
    first_bn = [n for n in names if "batchnorm" in n][0].rsplit("_", 1)[0]
    unit1_bn1 = [n for n in names if "stage1_batchnorm" in n][0].rsplit("_", 1)[0]
    for name in names:
        p = params[name]; shape = p.shape
        if name.startswith(first_bn):   # BatchNorm(scale=False, center=False): only its statistics
            if name.endswith("running_mean"): p.set_data(mx.nd.array(rng.randn(*shape) * 0.1))
            if name.endswith("running_var"): p.set_data(mx.nd.array(rng.rand(*shape) + 0.5))
            continue
        if name.endswith("running_var"): p.set_data(mx.nd.array(rng.rand(*shape) + 0.5))
        elif name.endswith("running_mean"): p.set_data(mx.nd.array(rng.randn(*shape) * 0.1))
        elif name.endswith("gamma"): p.set_data(mx.nd.array(rng.rand(*shape) * 0.5 + 0.75))
        elif name.endswith("beta"): p.set_data(mx.nd.array(rng.randn(*shape) * 0.1))
    if not cut:  # the first unit's bn1 keeps every input >= 0 out of the ReLU's cut: offset >= 0
        params[unit1_bn1 + "_running_mean"].set_data(mx.nd.array(-np.abs(rng.randn(64)) * 0.1))
        params[unit1_bn1 + "_beta"].set_data(mx.nd.array(np.abs(rng.randn(64)) * 0.1))
    dense = [n for n in names if "dense" in n and n.endswith("weight")][0]
    logits = net(normalised).asnumpy()
    params[dense].set_data(params[dense].data() / float(logits.std()))
    params[dense.replace("weight", "bias")].set_data(mx.nd.array(rng.randn(1000) * 0.1))
    logits = net(normalised).asnumpy()
    g = params[unit1_bn1 + "_gamma"].data().asnumpy(); b = params[unit1_bn1 + "_beta"].data().asnumpy()
    m = params[unit1_bn1 + "_running_mean"].data().asnumpy(); v = params[unit1_bn1 + "_running_var"].data().asnumpy()
    slope = g / np.sqrt(v + 1e-5)
    np.savez(out + "/gluon.npz", pixels=pixels, logits=logits, fc_weight=params[dense].data().asnumpy(),
             fc_bias=params[dense.replace("weight", "bias")].data().asnumpy(),
             uncut=np.sum((slope > 0) & (b - slope * m >= 0)))
    net.hybridize(); net(normalised)
    net.export(out + "/gluon", 0)
    mx.onnx.export_model(out + "/gluon-symbol.json", out + "/gluon-0000.params", [(1, 3, 224, 224)], np.float32,
                         out + "/{onnx_name}")
"""


def sagewiz_logits(params: dict, fc_weight: np.ndarray, fc_bias: np.ndarray, num_layers: int,
                   pixels: np.ndarray) -> np.ndarray:
    model = build_resnet(num_layers, fc_weight.shape[0], SHAPE, channels_last=False)
    load_checkpoint_params(model, {**params, "arg:fc1_weight": fc_weight, "arg:fc1_bias": fc_bias})
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(pixels.astype(np.float32))).numpy()  # raw 0–255 pixels


@pytest.mark.parametrize("arch, num_layers", [("resnet18_v2", 18), ("resnet50_v2", 50)])
def test_gluons_resnet_v2_exported_to_onnx_answers_the_same_in_sagewiz_on_raw_pixels(
        arch, num_layers, mxnet_with_onnx, tmp_path):
    onnx_name = f"resnet{num_layers}-v2-7.onnx"
    run_mxnet(GLUON.format(arch=arch, cut=False, onnx_name=onnx_name), tmp_path)
    gluon = np.load(tmp_path / "gluon.npz")
    network = add_pretrained(tmp_path / onnx_name, tmp_path / "home")
    assert (network.num_layers, network.classes, network.image_shape) == (num_layers, 1000, SHAPE)
    assert network.source == f"ONNX model zoo {onnx_name}"  # exact: no caveat in its words
    ours = sagewiz_logits(pretrained_params(network), gluon["fc_weight"], gluon["fc_bias"], num_layers, gluon["pixels"])
    theirs = gluon["logits"]
    # logits of about ±1 that differ between the two pictures far more than the tolerance
    print("max |Δ|", np.abs(ours - theirs).max(), "between pictures", np.abs(theirs[0] - theirs[1]).max())
    assert theirs.std() > 0.5 and np.abs(theirs[0] - theirs[1]).max() > 100 * 1e-4
    assert np.abs(ours - theirs).max() <= 1e-4, np.abs(ours - theirs).max()


def test_a_resnet18_v2_whose_first_unit_cuts_its_input_is_converted_and_says_where_it_is_approximate(
        mxnet_with_onnx, tmp_path):
    run_mxnet(GLUON.format(arch="resnet18_v2", cut=True, onnx_name="resnet18-v2-7.onnx"), tmp_path)
    gluon = np.load(tmp_path / "gluon.npz")
    network = add_pretrained(tmp_path / "resnet18-v2-7.onnx", tmp_path / "home")
    assert 0 < gluon["uncut"] < 64
    assert f"exactly in {int(gluon['uncut'])} of its 64 channels" in network.source
    ours = sagewiz_logits(pretrained_params(network), gluon["fc_weight"], gluon["fc_bias"], 18, gluon["pixels"])
    # an approximation, not another network: the answers stay close to Gluon's
    assert np.corrcoef(ours.ravel(), gluon["logits"].ravel())[0, 1] > 0.9


def test_an_mxnet_checkpoint_of_the_algorithms_resnet18_answers_the_same_in_sagewiz(tmp_path):
    (tmp_path / "resnet-18-symbol.json").write_text(symbol_json(18, 1000, SHAPE))
    run_mxnet("""
        import sys, mxnet as mx, numpy as np
        out = sys.argv[1]
        mx.random.seed(9); rng = np.random.RandomState(9)
        symbol = mx.sym.load(out + "/resnet-18-symbol.json")
        module = mx.mod.Module(symbol, data_names=["data"], label_names=["softmax_label"], context=mx.cpu())
        module.bind(data_shapes=[("data", (2, 3, 224, 224))], label_shapes=[("softmax_label", (2,))], for_training=False)
        module.init_params(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2))
        args, aux = module.get_params()
        for name, value in aux.items():
            size = value.shape
            aux[name] = mx.nd.array(rng.rand(*size) + 0.5 if name.endswith("var") else rng.randn(*size) * 0.1)
        aux["bn_data_moving_mean"] = mx.nd.array([120.0, 115.0, 100.0])
        aux["bn_data_moving_var"] = mx.nd.array([3000.0, 3300.0, 2800.0])
        for name, value in args.items():
            if name.endswith("gamma"): args[name] = mx.nd.array(rng.rand(*value.shape) * 0.5 + 0.75)
            if name.endswith("beta"): args[name] = mx.nd.array(rng.randn(*value.shape) * 0.1)
        pixels = mx.nd.array(rng.randint(0, 256, (2, 3, 224, 224)).astype("float32"))
        # fc1 scaled so that its logits are about ±2: probabilities neither ~1/1000 nor saturated
        logits = mx.mod.Module(symbol.get_internals()["fc1_output"], data_names=["data"], label_names=None)
        logits.bind(data_shapes=[("data", (2, 3, 224, 224))], for_training=False)
        logits.set_params(args, aux, allow_missing=False, allow_extra=True)
        logits.forward(mx.io.DataBatch([pixels]), is_train=False)
        args["fc1_weight"] = args["fc1_weight"] * 2.0 / float(logits.get_outputs()[0].asnumpy().std())
        module.set_params(args, aux, allow_missing=False, allow_extra=False)
        module.forward(mx.io.DataBatch([pixels]), is_train=False)
        mx.model.save_checkpoint(out + "/resnet-18", 0, symbol, args, aux)
        mx.nd.save(out + "/probe.params", {"pixels": pixels, "prob": module.get_outputs()[0]})
    """, tmp_path)
    network = add_pretrained(tmp_path / "resnet-18-0000.params", tmp_path / "home")
    assert (network.num_layers, network.classes, network.source) == (18, 1000, "MXNet checkpoint resnet-18")
    params = pretrained_params(network)
    assert not any(name.startswith("arg:fc1") for name in params)
    checkpoint = load_params(tmp_path / "resnet-18-0000.params")
    probe = load_params(tmp_path / "probe.params")
    logits = sagewiz_logits(params, checkpoint["arg:fc1_weight"], checkpoint["arg:fc1_bias"], 18,
                            probe["pixels"])
    ours = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    assert 0.01 < probe["prob"].max() < 0.999  # neither all ~1/1000 nor saturated: the comparison means something
    assert np.abs(ours - probe["prob"]).max() <= 1e-4

"""Live: a model sagewiz trained on this computer is a model MXNet 1.9.1 itself serves.

Runs when SAGEWIZ_MXNET_PYTHON names a Python with mxnet installed (.ci/run builds one with
../shared/tools/make-mxnet-venv); skipped otherwise, and the skip says so. A tiny training job
(ResNet-20 at 28 px, one epoch, digits from the sample) leaves its model.tar.gz; MXNet loads the
archive's own files with ``mx.model.load_checkpoint`` and ``Module.set_params(allow_missing=False,
allow_extra=False)`` and answers the same probabilities as sagewiz's local endpoint.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import textwrap

import numpy as np
import pytest
from PIL import Image

from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.dataset.scan import scan_dataset
from sagewiz.core.local import job as jobs
from sagewiz.core.local.endpoint import start_endpoint
from sagewiz.core.local.engine import run_job
from sagewiz.core.model.params import load_params, save_params
from sagewiz.core.prepare import prepare_dataset

MXNET_PYTHON = os.environ.get("SAGEWIZ_MXNET_PYTHON")
pytestmark = [
    pytest.mark.mxnet,
    pytest.mark.skipif(not MXNET_PYTHON, reason="SAGEWIZ_MXNET_PYTHON is not set: no MXNet to cross-check "
                       "against (see tests/fixtures/mxnet_model/make_fixtures.py)"),
]


def train_tiny_model(tmp_path):
    root = tmp_path / "digits"
    write_sample_dataset(root, size=28, classes=[0, 1, 7], seed=4)
    report = scan_dataset(root)
    prepared = prepare_dataset(report, tmp_path / "prepared", resize=28)
    folder = tmp_path / "job"
    hyperparameters = {"num_classes": "3", "num_layers": "20", "image_shape": "3,28,28", "mini_batch_size": "16",
                       "epochs": "1", "learning_rate": "0.05", "resize": "28",
                       "num_training_samples": str(prepared.counts["train"])}
    channels = {split: {"path": str(rec), "content_type": "application/x-recordio"}
                for split, rec in (("train", prepared.train_rec), ("validation", prepared.validation_rec))}
    jobs.write_spec(folder, {"job_name": "tiny", "hyperparameters": hyperparameters, "channels": channels,
                             "class_names": list(prepared.class_names), "output_dir": str(folder / "output"), "device": "cpu"})
    assert run_job(folder) == 0, jobs.read_status(folder).get("failure_reason")
    return folder / "output" / "model.tar.gz", [path for path, _ in prepared.test_images[:6]]


def test_mxnet_serves_a_model_sagewiz_trained_with_sagewizs_probabilities(tmp_path):
    archive, pictures = train_tiny_model(tmp_path)
    mxnet_files = tmp_path / "mxnet"
    mxnet_files.mkdir()
    with tarfile.open(archive) as tar:  # the test's own archive: plain files, known names
        tar.extractall(mxnet_files, filter="data")
    assert sorted(p.name for p in mxnet_files.iterdir()) == [
        "image-classification-0001.params", "image-classification-symbol.json", "model-shapes.json", "sagewiz-model.json"]
    pixels = np.stack([np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1) for path in pictures])
    save_params(tmp_path / "pictures.params", {"data": pixels})

    served = start_endpoint(archive, tmp_path / "run")
    try:
        ours = np.array([served.predict(open(path, "rb").read(), "image/png").probabilities for path in pictures])
    finally:
        served.stop()

    done = subprocess.run([MXNET_PYTHON, "-c", textwrap.dedent(f"""
        import json, sys, mxnet as mx
        folder, out = sys.argv[1], sys.argv[2]
        shape = json.load(open(folder + "/model-shapes.json"))[0]["shape"]
        symbol, arg_params, aux_params = mx.model.load_checkpoint(folder + "/image-classification", 1)
        module = mx.mod.Module(symbol, data_names=["data"], label_names=["softmax_label"], context=mx.cpu())
        module.bind(data_shapes=[("data", ({len(pictures)}, *shape[1:]))],
                    label_shapes=[("softmax_label", ({len(pictures)},))], for_training=False)
        module.set_params(arg_params, aux_params, allow_missing=False, allow_extra=False)
        pictures = mx.nd.load(out + "/pictures.params")["data"].astype("float32")
        module.forward(mx.io.DataBatch([pictures]), is_train=False)
        mx.nd.save(out + "/prob.params", {{"prob": module.get_outputs()[0]}})
    """), str(mxnet_files), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = load_params(tmp_path / "prob.params")["prob"]
    assert np.abs(ours - theirs).max() <= 1e-4
    # A model one epoch old is sure of itself (probabilities of 1e-9 and 1 - 1e-7): the small
    # probabilities still carry every logit, and they agree too, relative to their size.
    assert theirs.min() > 0
    assert np.abs(np.log(ours) - np.log(theirs)).max() <= 1e-3

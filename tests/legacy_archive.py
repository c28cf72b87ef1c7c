"""How sagewiz wrote a model archive before its archives were SageMaker's (format
``sagewiz-local-1``), kept so that tests can make one the old way and prove its users' models
still load: the parameters as a ``torch.save`` dict keyed by MXNet names in ``model-params.pt``,
the description in ``model-info.json``, and ``model-shapes.json``."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import torch

from sagewiz.core.local.resnet import mxnet_param_names


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    member.mode = 0o644
    tar.addfile(member, io.BytesIO(data))


def legacy_info_json(num_layers: int, num_classes: int, image_shape, class_names=(), hyperparameters=None,
                     epochs_trained: int = 0, job_name: str = "") -> bytes:
    return json.dumps({"num_layers": num_layers, "num_classes": num_classes, "image_shape": list(image_shape),
                       "class_names": list(class_names), "hyperparameters": dict(hyperparameters or {}),
                       "epochs_trained": epochs_trained, "job_name": job_name, "format": "sagewiz-local-1"},
                      indent=2, sort_keys=True).encode()


def write_legacy_archive(path: Path, model: torch.nn.Module, info_json: bytes) -> Path:
    """The archive an earlier sagewiz's write_artifact left, member for member."""
    names = mxnet_param_names(model)
    params = {names[key]: tensor.detach().to("cpu").contiguous() for key, tensor in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(params, buffer)
    image_shape = json.loads(info_json)["image_shape"]
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "model-info.json", info_json)
        _add(tar, "model-shapes.json", json.dumps([{"shape": [1, *image_shape], "name": "data"}]).encode())
        _add(tar, "model-params.pt", buffer.getvalue())
    return path

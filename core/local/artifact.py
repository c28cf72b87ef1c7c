"""``model.tar.gz``: what a local training job leaves behind, and how anything reads it back.

SageMaker's algorithm writes ``model.tar.gz`` holding the network's parameters and a
``model-shapes.json``; the local backend writes the same kind of archive so that incremental
training, the endpoint and evaluation all start from one file, whatever backend made it:

- ``model-params.pt``: the parameters as a ``torch.save`` dict keyed by their MXNet names
  (``arg:fc1_weight``, ``aux:bn_data_moving_mean``; see :func:`resnet.mxnet_param_names`),
- ``model-info.json``: what the network is (num_layers, num_classes, image_shape), the class
  names in label order, the hyperparameters as SageMaker strings, and the epochs trained,
- ``model-shapes.json``: the input shape, as SageMaker writes it.

Reading never extracts to disk and never unpickles code: only these three regular members are
read (bounded in size), and the tensors go through ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from sagewiz.core.errors import WizardError

if TYPE_CHECKING:  # torch is imported where tensors are actually read or written
    import torch
    from torch import nn

ARTIFACT_NAME = "model.tar.gz"
FORMAT = "sagewiz-local-1"
PARAMS_MEMBER = "model-params.pt"
INFO_MEMBER = "model-info.json"
SHAPES_MEMBER = "model-shapes.json"
# ResNet-200 at float32 is ~260 MB; anything far beyond is not one of ours.
MAX_MEMBER_BYTES = 1 << 30
_HINT = "Choose the model.tar.gz of a training job that completed (sagewiz resources lists them)."


class ArtifactError(WizardError):
    """A model archive that is missing, damaged, or not a model sagewiz can use."""


@dataclass(frozen=True)
class ModelInfo:
    """What a trained model is: enough to rebuild the network and name its answers."""

    num_layers: int
    num_classes: int
    image_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    epochs_trained: int = 0
    job_name: str = ""
    format: str = FORMAT

    def to_json(self) -> str:
        data = asdict(self)
        data["image_shape"] = list(self.image_shape)
        data["class_names"] = list(self.class_names)
        data["hyperparameters"] = dict(self.hyperparameters)
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelInfo:
        try:
            data = json.loads(text)
            info = cls(
                num_layers=int(data["num_layers"]),
                num_classes=int(data["num_classes"]),
                image_shape=tuple(int(d) for d in data["image_shape"]),  # type: ignore[arg-type]
                class_names=tuple(str(n) for n in data["class_names"]),
                hyperparameters={str(k): str(v) for k, v in data.get("hyperparameters", {}).items()},
                epochs_trained=int(data.get("epochs_trained", 0)),
                job_name=str(data.get("job_name", "")),
                format=str(data.get("format", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ArtifactError(f"The model's {INFO_MEMBER} is damaged ({error}).", hint=_HINT) from None
        if info.format != FORMAT:
            raise ArtifactError(f"This model archive is in the format {info.format!r}; this sagewiz reads {FORMAT!r}.",
                                hint="Train the model again with this version of sagewiz.")
        if len(info.image_shape) != 3 or len(info.class_names) not in (0, info.num_classes):
            raise ArtifactError(f"The model's {INFO_MEMBER} doesn't describe a network (image_shape "
                                f"{info.image_shape}, {len(info.class_names)} class names for {info.num_classes} classes).", hint=_HINT)
        return info


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    member.mode = 0o644
    tar.addfile(member, io.BytesIO(data))


def write_artifact(path: str | os.PathLike, model: nn.Module, info: ModelInfo) -> Path:
    """Write ``model`` and ``info`` as a model archive at ``path`` (atomically: a half-written
    archive never carries the final name). Returns the path."""
    import torch

    from sagewiz.core.local.resnet import mxnet_param_names

    names = mxnet_param_names(model)
    params = {names[key]: tensor.detach().to("cpu").contiguous() for key, tensor in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(params, buffer)
    shapes = json.dumps([{"shape": [1, *info.image_shape], "name": "data"}])
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        _add(tar, INFO_MEMBER, info.to_json().encode())
        _add(tar, SHAPES_MEMBER, shapes.encode())
        _add(tar, PARAMS_MEMBER, buffer.getvalue())
    os.replace(partial, path)
    return path


def _read_members(path: Path) -> dict[str, bytes]:
    wanted = {INFO_MEMBER, PARAMS_MEMBER}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if name not in wanted:
                    continue  # anything else (SageMaker's symbol.json, stray files) is not ours to read
                if not member.isreg():
                    raise ArtifactError(f"{path.name} holds {name} as a link or special file, which sagewiz refuses to read.", hint=_HINT)
                if member.size > MAX_MEMBER_BYTES:
                    raise ArtifactError(f"{path.name}'s {name} is {member.size:,} bytes, more than any sagewiz model.", hint=_HINT)
                extracted = tar.extractfile(member)
                assert extracted is not None  # a regular member always has contents
                found[name] = extracted.read()
    except FileNotFoundError:
        raise ArtifactError(f"There is no model archive at {path}.", title="Model not found", hint=_HINT) from None
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ArtifactError(f"{path} is not a readable model archive ({error}).", hint=_HINT) from None
    missing = sorted(wanted - set(found))
    if missing:
        raise ArtifactError(f"{path.name} is not a sagewiz model: it has no {' or '.join(missing)}.", hint=_HINT)
    return found


def read_info(path: str | os.PathLike) -> ModelInfo:
    """The model's description, without loading its tensors. Raises ArtifactError."""
    return ModelInfo.from_json(_read_members(Path(path))[INFO_MEMBER])


def read_artifact(path: str | os.PathLike) -> tuple[ModelInfo, dict[str, torch.Tensor]]:
    """The model's description and its parameters keyed by MXNet name. Raises ArtifactError."""
    import torch

    members = _read_members(Path(path))
    info = ModelInfo.from_json(members[INFO_MEMBER])
    try:
        params = torch.load(io.BytesIO(members[PARAMS_MEMBER]), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds (pickle, runtime, zip) for a damaged file
        raise ArtifactError(f"The parameters in {Path(path).name} can't be read ({type(error).__name__}: {error}).", hint=_HINT) from None
    if not isinstance(params, dict) or not all(isinstance(v, torch.Tensor) for v in params.values()):
        raise ArtifactError(f"The parameters in {Path(path).name} are not a set of named tensors.", hint=_HINT)
    return info, params


def load_model(path: str | os.PathLike, *, channels_last: bool = True) -> tuple[ModelInfo, nn.Module]:
    """Rebuild the trained network from a model archive, in eval mode. Raises ArtifactError."""
    from sagewiz.core.local.resnet import build_resnet, load_mxnet_params

    info, params = read_artifact(path)
    try:
        model = build_resnet(info.num_layers, info.num_classes, info.image_shape, channels_last=channels_last)
        load_mxnet_params(model, params)
    except ValueError as error:
        raise ArtifactError(f"{Path(path).name} doesn't fit the network it describes: {error}", hint=_HINT) from None
    return info, model.eval()

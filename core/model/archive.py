"""``model.tar.gz`` in SageMaker's layout: what every training job leaves behind, on either
backend, and the one reader everything that takes a model goes through.

SageMaker's Image Classification algorithm writes (member names from third-party notebooks,
DESIGN.md):

- ``image-classification-symbol.json``: the network (:mod:`sagewiz.core.model.symbol`),
- ``image-classification-NNNN.params``: the weights after NNNN epochs (:mod:`sagewiz.core.model.params`),
- ``model-shapes.json``: the input's N×C×H×W.

A model trained on this computer is written the same way, so SageMaker can serve or continue it,
plus ``sagewiz-model.json`` beside them (class names, hyperparameters, epochs, job name), which
SageMaker ignores. An archive SageMaker wrote has no such file: its network comes from the symbol
and the shapes file, and its class names are unknown (``class 0``, ``class 1``…) unless the caller,
who knows the run that made it, passes them. Archives of earlier sagewiz versions
(``model-params.pt`` + ``model-info.json``, format ``sagewiz-local-1``) still load.

A model may be a download, so reading never extracts to disk: the archive is refused whole if any
member is a link, a special file, an absolute or ``../`` path, or bigger than any model; only the
members named above are read, into memory. Plain numpy: torch is imported only to read the
tensors of an archive of an earlier sagewiz version.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Mapping, Sequence

import numpy as np

from sagewiz.core.errors import ModelFileError
from sagewiz.core.model.params import read_params, write_params
from sagewiz.core.model.symbol import model_shapes_json, read_symbol, symbol_json

ARTIFACT_NAME = "model.tar.gz"
SYMBOL_MEMBER = "image-classification-symbol.json"
SHAPES_MEMBER = "model-shapes.json"
SAGEWIZ_MEMBER = "sagewiz-model.json"
FORMAT = "sagewiz-2"
_PARAMS_MEMBER = re.compile(r"image-classification-(\d{4})\.params\Z")
# What sagewiz wrote before its archives were SageMaker's.
LEGACY_PARAMS_MEMBER = "model-params.pt"
LEGACY_INFO_MEMBER = "model-info.json"
LEGACY_FORMAT = "sagewiz-local-1"
# ResNet-200 at float32 is ~260 MB; anything far beyond is not a model of the algorithm.
MAX_MEMBER_BYTES = 1 << 30
# SageMaker's archive has three members; a tar of thousands is not a model (and tarfile keeps
# every member's header in memory while it walks them).
MAX_MEMBERS = 1000
_HINT = "Choose the model.tar.gz of a training job that completed (sagewiz resources lists them)."


class ArtifactError(ModelFileError):
    """A model archive that is missing, damaged, hostile, or not a model sagewiz can use."""


def params_member(epochs: int) -> str:
    """The weights member's name after ``epochs`` epochs: ``image-classification-0030.params``."""
    return f"image-classification-{int(epochs):04d}.params"


def unknown_class_names(num_classes: int) -> tuple[str, ...]:
    """What a model's answers are called when nobody has said: ``class 0``, ``class 1``…"""
    return tuple(f"class {label}" for label in range(num_classes))


@dataclass(frozen=True)
class ModelInfo:
    """What a trained model is: enough to rebuild the network and name its answers.

    ``class_names_known`` is False for a SageMaker-trained archive read without the run's class
    names: ``class_names`` are then ``class 0``, ``class 1``…, said to be unknown, never guessed.
    """

    num_layers: int
    num_classes: int
    image_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    epochs_trained: int = 0
    job_name: str = ""
    class_names_known: bool = True

    def sagewiz_json(self) -> str:
        """The ``sagewiz-model.json`` beside SageMaker's members: what the symbol doesn't say."""
        return json.dumps({"format": FORMAT, "class_names": list(self.class_names),
                           "hyperparameters": dict(self.hyperparameters), "epochs_trained": self.epochs_trained,
                           "job_name": self.job_name}, indent=2, sort_keys=True)


# ---- writing ---------------------------------------------------------------------------------

def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    member.mode = 0o644
    tar.addfile(member, io.BytesIO(data))


def _batch_size(hyperparameters: Mapping[str, str]) -> int:
    # model-shapes.json holds the shape the network was bound to in training: the mini-batch's.
    try:
        return max(int(str(hyperparameters.get("mini_batch_size", "1")).strip()), 1)
    except ValueError:
        return 1


def write_archive(path: str | os.PathLike, params: Mapping[str, np.ndarray], info: ModelInfo) -> Path:
    """Write a model archive in SageMaker's layout at ``path``, atomically (a half-written archive
    never carries the final name): ``params`` are the ``.params`` arrays named and ordered as
    ``mx.model.save_checkpoint`` writes them (:func:`sagewiz.core.model.weights.checkpoint_params`).
    Returns the path."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    # gzip's own default level, as `tar czf` uses: tarfile's 9 took 100 times longer on the
    # repetitive bytes of trained weights for a file 1% smaller.
    with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
        _add(tar, SYMBOL_MEMBER, symbol_json(info.num_layers, info.num_classes, info.image_shape).encode())
        _add(tar, params_member(info.epochs_trained), write_params(params))
        _add(tar, SHAPES_MEMBER, model_shapes_json(info.image_shape, _batch_size(info.hyperparameters)).encode())
        _add(tar, SAGEWIZ_MEMBER, info.sagewiz_json().encode())
    os.replace(partial, path)
    return path


# ---- reading ---------------------------------------------------------------------------------

def _wanted(name: str) -> bool:
    return name in (SYMBOL_MEMBER, SHAPES_MEMBER, SAGEWIZ_MEMBER, LEGACY_PARAMS_MEMBER, LEGACY_INFO_MEMBER) \
        or _PARAMS_MEMBER.match(name) is not None


def _members(path: Path, *, with_weights: bool) -> dict[str, bytes]:
    """The archive's members sagewiz reads, by name, after checking every member is harmless.
    Of several ``.params``, only the one with the highest epoch; none if not ``with_weights``."""
    label = path.name

    def refuse(problem: str) -> ArtifactError:
        return ArtifactError(f"{label} {problem}, so sagewiz refuses to read it.", title="Model refused", hint=_HINT)

    try:
        with tarfile.open(path, "r:*") as tar:
            chosen: dict[str, tarfile.TarInfo] = {}
            for count, member in enumerate(tar, 1):
                if count > MAX_MEMBERS:
                    raise refuse(f"holds more than {MAX_MEMBERS:,} files, far more than any model")
                parts = PurePosixPath(member.name).parts
                if member.name.startswith(("/", "\\")) or ".." in parts:
                    raise refuse(f"holds {member.name!r}, a path outside the archive")
                if member.issym() or member.islnk():
                    raise refuse(f"holds {member.name} as a link")
                if member.isdir():
                    continue
                if not member.isreg():
                    raise refuse(f"holds {member.name} as a special file")
                if member.size > MAX_MEMBER_BYTES:
                    raise refuse(f"holds {member.name} of {member.size:,} bytes, more than any model")
                name = member.name.removeprefix("./")
                if not _wanted(name):
                    continue  # anything else (a stray file) is not ours to read
                if name in chosen:
                    raise refuse(f"holds {name} twice")
                chosen[name] = member
            epochs = sorted(name for name in chosen if _PARAMS_MEMBER.match(name))
            keep = epochs[-1:] if with_weights else []  # 4 digits: the highest epoch sorts last
            found: dict[str, bytes] = {}
            for name, member in chosen.items():
                if name in epochs and name not in keep or name == LEGACY_PARAMS_MEMBER and not with_weights:
                    found[name] = b""  # present, not read
                    continue
                extracted = tar.extractfile(member)
                assert extracted is not None  # a regular member always has contents
                found[name] = extracted.read(MAX_MEMBER_BYTES + 1)
    except FileNotFoundError:
        raise ArtifactError(f"There is no model archive at {path}.", title="Model not found", hint=_HINT) from None
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise ArtifactError(f"{path} is not a readable model archive ({error}).", hint=_HINT) from None
    return found


def _chosen_names(names: Sequence[str] | None, num_classes: int, stored: Sequence[str] | None,
                  label: str) -> tuple[tuple[str, ...], bool]:
    """The class names to answer with: the caller's (the run's) win, then the archive's own,
    else ``class 0``… marked unknown."""
    for source, given in (("The run", names), (label, stored)):
        if given:
            if len(given) != num_classes:
                raise ArtifactError(f"{source} names {len(given)} classes but the model in {label} has {num_classes}.",
                                    hint=_HINT)
            return tuple(str(name) for name in given), True
    return unknown_class_names(num_classes), False


def _sagemaker_info(members: dict[str, bytes], label: str, class_names: Sequence[str] | None) -> ModelInfo:
    if SYMBOL_MEMBER not in members:
        kinds = f"{SYMBOL_MEMBER} (SageMaker's) or {LEGACY_INFO_MEMBER} (an earlier sagewiz's)"
        raise ArtifactError(f"{label} is not a model of the Image Classification algorithm: it has no {kinds}.", hint=_HINT)
    if SHAPES_MEMBER not in members:
        raise ArtifactError(f"{label} has no {SHAPES_MEMBER}, so the picture size its network takes is unknown.", hint=_HINT)
    if not any(_PARAMS_MEMBER.match(name) for name in members):
        raise ArtifactError(f"{label} has a network but no weights (no image-classification-NNNN.params).", hint=_HINT)
    network = read_symbol(members[SYMBOL_MEMBER], shapes=members[SHAPES_MEMBER], source=f"The {SYMBOL_MEMBER} in {label}")
    assert network.image_shape is not None  # read_symbol was given the shapes
    epochs = max(int(_PARAMS_MEMBER.match(name)[1]) for name in members if _PARAMS_MEMBER.match(name))  # type: ignore[index]
    extra: dict = {}
    if SAGEWIZ_MEMBER in members:
        try:
            extra = json.loads(members[SAGEWIZ_MEMBER])
            if not isinstance(extra, dict) or not isinstance(extra.get("class_names", []), list) \
                    or not isinstance(extra.get("hyperparameters", {}), dict):
                raise ValueError("not the fields sagewiz writes")
        except (ValueError, RecursionError) as error:
            raise ArtifactError(f"The {SAGEWIZ_MEMBER} in {label} is damaged ({error}).", hint=_HINT) from None
    names, known = _chosen_names(class_names, network.num_classes, extra.get("class_names"), label)
    return ModelInfo(network.num_layers, network.num_classes, network.image_shape, names,
                     {str(k): str(v) for k, v in extra.get("hyperparameters", {}).items()}, epochs,
                     str(extra.get("job_name", "")), known)


def _legacy_info(text: bytes, label: str, class_names: Sequence[str] | None) -> ModelInfo:
    try:
        data = json.loads(text)
        if data.get("format") != LEGACY_FORMAT:
            raise ArtifactError(f"{label} is in the format {data.get('format')!r}, which this sagewiz doesn't read.",
                                hint="Train the model again with this version of sagewiz.")
        num_classes = int(data["num_classes"])
        image_shape = tuple(int(d) for d in data["image_shape"])
        info = ModelInfo(int(data["num_layers"]), num_classes, image_shape, (),  # type: ignore[arg-type]
                         {str(k): str(v) for k, v in data.get("hyperparameters", {}).items()},
                         int(data.get("epochs_trained", 0)), str(data.get("job_name", "")))
        stored = [str(n) for n in data["class_names"]]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise ArtifactError(f"The {LEGACY_INFO_MEMBER} in {label} is damaged ({error}).", hint=_HINT) from None
    if len(image_shape) != 3:
        raise ArtifactError(f"The {LEGACY_INFO_MEMBER} in {label} gives the image shape {image_shape}, not C,H,W.", hint=_HINT)
    names, known = _chosen_names(class_names, num_classes, stored, label)
    return replace(info, class_names=names, class_names_known=known)


def _legacy_params(data: bytes, label: str) -> dict[str, np.ndarray]:
    import torch  # only an earlier sagewiz's archive holds a torch file

    try:
        params = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds (pickle, runtime, zip) for a damaged file
        raise ArtifactError(f"The weights in {label} can't be read ({type(error).__name__}: {error}).", hint=_HINT) from None
    if not isinstance(params, dict) or not all(isinstance(v, torch.Tensor) for v in params.values()):
        raise ArtifactError(f"The weights in {label} are not a set of named arrays.", hint=_HINT)
    return {str(name): tensor.detach().cpu().numpy() for name, tensor in params.items()}


def _is_legacy(members: dict[str, bytes]) -> bool:
    return SYMBOL_MEMBER not in members and LEGACY_INFO_MEMBER in members


def read_info(path: str | os.PathLike, *, class_names: Sequence[str] | None = None) -> ModelInfo:
    """What the model in the archive at ``path`` is, without reading its weights. ``class_names``
    (the run's, when the caller knows the run) win over the archive's own. Raises ArtifactError
    or ModelFileError."""
    path = Path(path)
    members = _members(path, with_weights=False)
    if _is_legacy(members):
        return _legacy_info(members[LEGACY_INFO_MEMBER], path.name, class_names)
    return _sagemaker_info(members, path.name, class_names)


def read_archive(path: str | os.PathLike, *, class_names: Sequence[str] | None = None
                 ) -> tuple[ModelInfo, dict[str, np.ndarray]]:
    """The model in the archive at ``path``, either kind: its description (as :func:`read_info`)
    and its ``.params`` arrays keyed by MXNet name (``arg:fc1_weight``), of the highest epoch
    when SageMaker kept several. Raises ArtifactError or ModelFileError."""
    path = Path(path)
    members = _members(path, with_weights=True)
    if _is_legacy(members):
        info = _legacy_info(members[LEGACY_INFO_MEMBER], path.name, class_names)
        if LEGACY_PARAMS_MEMBER not in members:
            raise ArtifactError(f"{path.name} has a description but no weights (no {LEGACY_PARAMS_MEMBER}).", hint=_HINT)
        return info, _legacy_params(members[LEGACY_PARAMS_MEMBER], path.name)
    info = _sagemaker_info(members, path.name, class_names)
    weights = params_member(info.epochs_trained)
    return info, read_params(members[weights], source=f"The {weights} in {path.name}")

"""The local backend's side of a model archive: the PyTorch network written into one and rebuilt
from one. The archive itself — SageMaker's layout, either kind read, hostile ones refused — is
:mod:`sagewiz.core.model.archive`, shared by both backends.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from sagewiz.core.model.archive import ModelInfo, read_archive, write_archive

if TYPE_CHECKING:  # torch is imported where tensors are actually made
    from torch import nn


def write_artifact(path: str | os.PathLike, model: nn.Module, info: ModelInfo) -> Path:
    """Write ``model`` and ``info`` as a model archive in SageMaker's layout at ``path``
    (atomically). Returns the path."""
    from sagewiz.core.model.weights import checkpoint_params

    return write_archive(path, checkpoint_params(model), info)


def load_model(path: str | os.PathLike, *, class_names: Sequence[str] | None = None,
               channels_last: bool = True) -> tuple[ModelInfo, nn.Module]:
    """Rebuild the trained network of a model archive (SageMaker's, this computer's, or an earlier
    sagewiz's), in eval mode; ``class_names`` (the run's) win over the archive's own. Raises
    ArtifactError or ModelFileError."""
    from sagewiz.core.local.resnet import build_resnet
    from sagewiz.core.model.archive import ArtifactError
    from sagewiz.core.model.weights import load_checkpoint_params

    info, params = read_archive(path, class_names=class_names)
    try:
        model = build_resnet(info.num_layers, info.num_classes, info.image_shape, channels_last=channels_last)
    except ValueError as error:
        raise ArtifactError(f"{Path(path).name} describes a network sagewiz can't build: {error}") from None
    load_checkpoint_params(model, params, source=f"The weights in {Path(path).name}")
    return info, model.eval()

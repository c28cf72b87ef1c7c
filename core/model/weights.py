"""The PyTorch network's weights as MXNet's ``.params`` arrays, and back.

:mod:`sagewiz.core.local.resnet` names its submodules so that a state_dict key with dots turned
into underscores is MXNet's parameter name (``stage2_unit1.sc.weight`` ↔ ``arg:stage2_unit1_sc_weight``;
BatchNorm moving statistics are ``aux:``). This module adds what a ``.params`` file needs on top
of those names: numpy arrays in the order ``mx.model.save_checkpoint`` writes them — every
``arg:`` in the symbol's argument order, then every ``aux:`` — which is the state_dict's order
within each group, because the network registers its layers in the order get_symbol creates them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import numpy as np

from sagewiz.core.errors import ModelFileError

if TYPE_CHECKING:  # torch is imported where tensors are actually converted
    from torch import nn

_HINT = ("Choose the model.tar.gz of a training job that completed (sagewiz resources lists them); "
         "its network file and weights file must come from the same training job.")


def mxnet_names(model: nn.Module) -> dict[str, str]:
    """Each state_dict key → its ``.params`` name, in the order a checkpoint holds them."""
    from sagewiz.core.local.resnet import mxnet_param_names

    names = mxnet_param_names(model)
    return {key: names[key] for prefix in ("arg:", "aux:") for key in names if names[key].startswith(prefix)}


def state_dict_keys(model: nn.Module) -> dict[str, str]:
    """Each ``.params`` name (``arg:fc1_weight``) → the model's state_dict key (``fc1.weight``)."""
    return {name: key for key, name in mxnet_names(model).items()}


def checkpoint_params(model: nn.Module) -> dict[str, np.ndarray]:
    """The model's weights as ``.params`` arrays (float32, C order), named and ordered as
    ``mx.model.save_checkpoint`` writes them, so :func:`params.write_params` gives MXNet's bytes."""
    state = model.state_dict()
    return {
        name: np.ascontiguousarray(state[key].detach().to("cpu").float().contiguous().numpy())
        for key, name in mxnet_names(model).items()
    }


def load_checkpoint_params(model: nn.Module, params: Mapping[str, np.ndarray], *,
                           source: str = "The weights file") -> None:
    """Copy ``.params`` arrays (names with or without ``arg:``/``aux:``) into ``model`` in place.

    All or nothing: raises :class:`ModelFileError` naming every missing, unexpected and
    mis-shaped array, or one that is not a floating-point array, before anything is copied.
    """
    import torch

    from sagewiz.core.local.resnet import load_mxnet_params

    not_float = sorted(name for name, array in params.items() if not np.issubdtype(array.dtype, np.floating))
    if not_float:
        raise ModelFileError(f"{source} holds {', '.join(not_float)} as whole numbers, not weights.", hint=_HINT)
    tensors = {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in params.items()}
    try:
        load_mxnet_params(model, tensors)
    except ValueError as error:
        raise ModelFileError(f"{source} doesn't fit the network: {error}", hint=_HINT) from None

"""A SageMaker checkpoint runs in sagewiz's PyTorch network and sagewiz's weights become a
SageMaker checkpoint: the ResNet-20 checkpoint MXNet 1.9.1 saved (tests/fixtures/mxnet_model,
with MXNet's own probabilities for four pictures) answers the same here, and written back it is
the very file MXNet wrote."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from sagewiz.core.errors import ModelFileError
from sagewiz.core.local.resnet import build_resnet
from sagewiz.core.model.params import read_params, write_params
from sagewiz.core.model.symbol import resnet_symbol
from sagewiz.core.model.weights import checkpoint_params, load_checkpoint_params, mxnet_names, state_dict_keys

CHECKPOINT = Path(__file__).parent / "fixtures" / "mxnet_model" / "checkpoint"


def mxnet_checkpoint() -> bytes:
    return gzip.decompress((CHECKPOINT / "resnet20-0003.params.gz").read_bytes())


def probabilities(model: torch.nn.Module, pictures: np.ndarray) -> np.ndarray:
    batch = torch.from_numpy(pictures.astype(np.float32)).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        return torch.softmax(model.eval()(batch), dim=1).numpy()


def test_an_mxnet_checkpoint_answers_mxnets_probabilities_in_sagewiz():
    model = build_resnet(20, 2, (3, 28, 28))
    load_checkpoint_params(model, read_params(mxnet_checkpoint()), source="resnet20-0003.params")
    probe = read_params((CHECKPOINT / "resnet20-probe.params").read_bytes())
    ours = probabilities(model, probe["data"])
    assert np.abs(ours - probe["prob"]).max() <= 1e-4
    assert 0.005 < ours.min()  # the probe means something: no probability is 0 or 1


def test_sagewiz_writes_back_the_checkpoint_mxnet_saved_byte_for_byte():
    model = build_resnet(20, 2, (3, 28, 28))
    load_checkpoint_params(model, read_params(mxnet_checkpoint()))
    assert write_params(checkpoint_params(model)) == mxnet_checkpoint()


def symbol_order(num_layers, shape) -> list[str]:
    """The .params names in the order save_checkpoint writes them: the symbol's arguments, then
    its auxiliary states (the BatchNorm moving statistics)."""
    names = [node["name"] for node in resnet_symbol(num_layers, 3, shape)["nodes"]
             if node["op"] == "null" and node["name"] not in ("data", "softmax_label")]
    return [f"arg:{n}" for n in names if "_moving_" not in n] + [f"aux:{n}" for n in names if "_moving_" in n]


@pytest.mark.parametrize("num_layers, shape", [(20, (3, 28, 28)), (18, (3, 32, 32)), (50, (1, 224, 224))])
def test_every_weight_has_the_name_and_place_the_symbol_gives_it(num_layers, shape):
    model = build_resnet(num_layers, 3, shape)
    assert list(checkpoint_params(model)) == symbol_order(num_layers, shape)
    keys = state_dict_keys(model)
    assert {keys[name] for name in mxnet_names(model).values()} == set(model.state_dict())
    assert keys["arg:stage1_unit1_sc_weight"] == "stage1_unit1.sc.weight"
    assert keys["aux:bn_data_moving_var"] == "bn_data.moving_var"


def test_weights_leave_as_float32_in_c_order_from_a_channels_last_network():
    model = build_resnet(20, 2, (3, 28, 28), channels_last=True)
    weight = checkpoint_params(model)["arg:conv0_weight"]
    assert weight.dtype == np.float32 and weight.flags.c_contiguous and weight.shape == (16, 3, 3, 3)
    np.testing.assert_array_equal(weight, model.conv0.weight.detach().contiguous().numpy())


def test_weights_of_another_network_are_refused_naming_what_does_not_fit():
    params = read_params(mxnet_checkpoint())
    with pytest.raises(ModelFileError, match="wrong shape: fc1_bias"):
        load_checkpoint_params(build_resnet(20, 5, (3, 28, 28)), params)
    del params["aux:bn1_moving_var"]
    with pytest.raises(ModelFileError, match="missing: bn1_moving_var") as caught:
        load_checkpoint_params(build_resnet(20, 2, (3, 28, 28)), params, source="image-classification-0003.params")
    assert "image-classification-0003.params doesn't fit" in caught.value.message and caught.value.hint


def test_whole_numbers_are_not_weights():
    params = read_params(mxnet_checkpoint())
    params["arg:fc1_bias"] = np.array([1, 2], dtype=np.int64)
    model = build_resnet(20, 2, (3, 28, 28))
    before = model.fc1.bias.detach().clone()
    with pytest.raises(ModelFileError, match="arg:fc1_bias as whole numbers"):
        load_checkpoint_params(model, params)
    assert torch.equal(model.fc1.bias.detach(), before)  # nothing was copied

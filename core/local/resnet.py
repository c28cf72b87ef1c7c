"""The Image Classification algorithm's network, in plain PyTorch.

SageMaker's built-in Image Classification algorithm trains MXNet's pre-activation ResNet (v2,
"Identity Mappings in Deep Residual Networks"). This module mirrors that symbol layer for layer
— apache/mxnet ``example/image-classification/symbols/resnet.py`` (``residual_unit``,
``resnet``, ``get_symbol``) — so that a model trained here and one trained on SageMaker are the
same network, with the same parameter names (``mxnet_param_names``) and the same tensors
(``load_mxnet_params`` runs a SageMaker-trained model locally).

Input is raw 0–255 RGB as float32, N×C×H×W: the symbol begins with the ``bn_data`` BatchNorm,
which learns the input's mean and scale itself (see ``transforms.batch_to_float``).
"""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from sagewiz.core.local import stem
from sagewiz.core.model.architecture import (  # noqa: F401  (re-exported: callers import them from here)
    LARGE_IMAGE_LAYERS,
    SMALL_IMAGE_LAYERS,
    SMALL_IMAGE_MAX_HEIGHT,
    SMALL_STEM_MAX_HEIGHT,
    architecture,
    supported_num_layers,
)

# Every BatchNorm in the symbol: eps=2e-5, momentum (MXNet's bn_mom) 0.9. MXNet keeps
# ``moving = moving * 0.9 + batch * 0.1``; torch's momentum is the weight of the batch: 0.1.
BN_EPS = 2e-5
BN_MOMENTUM = 0.1


class BatchNorm(nn.Module):
    """MXNet's ``BatchNorm`` op with its parameter names: ``gamma``/``beta`` (args) and
    ``moving_mean``/``moving_var`` (aux states).

    ``fix_gamma=True`` (only ``bn_data``) keeps ``gamma`` as a frozen parameter — MXNet saves it
    — but normalises as if it were 1, which is what MXNet does with a fixed gamma.
    MXNet updates moving_var with the biased batch variance, torch with the unbiased one: a
    factor N/(N-1) over N = batch×H×W values, far below anything training can notice.
    """

    def __init__(self, channels: int, *, fix_gamma: bool = False):
        super().__init__()
        self.fix_gamma = fix_gamma
        self.gamma = nn.Parameter(torch.ones(channels), requires_grad=not fix_gamma)
        self.beta = nn.Parameter(torch.zeros(channels))
        self.register_buffer("moving_mean", torch.zeros(channels))
        self.register_buffer("moving_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(
            x, self.moving_mean, self.moving_var, None if self.fix_gamma else self.gamma, self.beta,
            training=self.training, momentum=BN_MOMENTUM, eps=BN_EPS,
        )


def _conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    # Every convolution in the symbol is no_bias=True with "same" padding for its kernel.
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False)


class ResidualUnit(nn.Module):
    """``residual_unit``: BN-ReLU-conv ×2 (basic) or ×3 (bottleneck, 1×1 → 3×3 → 1×1 at a
    quarter of the width), plus the input — or, when ``dim_match`` is False, a strided 1×1
    ``sc`` conv of the *activated* input (act1, not the raw input, as in MXNet)."""

    def __init__(self, in_ch: int, num_filter: int, stride: int, dim_match: bool, bottle_neck: bool):
        super().__init__()
        self.bottle_neck = bottle_neck
        self.bn1 = BatchNorm(in_ch)
        if bottle_neck:
            mid = int(num_filter * 0.25)
            self.conv1 = _conv(in_ch, mid, 1)
            self.bn2 = BatchNorm(mid)
            self.conv2 = _conv(mid, mid, 3, stride)  # the stride sits on the 3×3, as fb.resnet.torch
            self.bn3 = BatchNorm(mid)
            self.conv3 = _conv(mid, num_filter, 1)
        else:
            self.conv1 = _conv(in_ch, num_filter, 3, stride)
            self.bn2 = BatchNorm(num_filter)
            self.conv2 = _conv(num_filter, num_filter, 3)
        self.sc = None if dim_match else _conv(in_ch, num_filter, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act1 = F.relu(self.bn1(x))
        body = self.conv1(act1)
        body = self.conv2(F.relu(self.bn2(body)))
        if self.bottle_neck:
            body = self.conv3(F.relu(self.bn3(body)))
        shortcut = x if self.sc is None else self.sc(act1)
        return body + shortcut


class ResNetV2(nn.Module):
    """``resnet()``: bn_data → stem → stages of residual units → bn1 → relu → global average
    pool → fc1. Submodules are named so that a state_dict key with dots turned into
    underscores is MXNet's parameter name (``stage2_unit1.sc.weight`` → ``stage2_unit1_sc_weight``).
    Returns logits; the symbol's SoftmaxOutput is the loss, not part of the network."""

    def __init__(self, units: tuple[int, ...], filter_list: tuple[int, ...], num_classes: int,
                 image_shape: tuple[int, int, int], bottle_neck: bool):
        super().__init__()
        channels, height, _width = image_shape
        self.bn_data = BatchNorm(channels, fix_gamma=True)
        self.small_stem = height <= SMALL_STEM_MAX_HEIGHT
        if self.small_stem:
            self.conv0 = _conv(channels, filter_list[0], 3)
        else:
            self.conv0 = _conv(channels, filter_list[0], 7, stride=2)
            self.bn0 = BatchNorm(filter_list[0])
        self.unit_names: list[str] = []
        in_ch = filter_list[0]
        for i, count in enumerate(units):
            for j in range(count):
                # The first unit of every stage (stage 1 included) has dim_match=False, so it
                # always gets an `sc` conv; stages after the first halve the size there.
                first = j == 0
                stride = 2 if first and i > 0 else 1
                name = f"stage{i + 1}_unit{j + 1}"
                self.add_module(name, ResidualUnit(in_ch, filter_list[i + 1], stride, not first, bottle_neck))
                self.unit_names.append(name)
                in_ch = filter_list[i + 1]
        self.bn1 = BatchNorm(in_ch)
        self.fc1 = nn.Linear(in_ch, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """MXNet's initialisation for this network (example/image-classification/common/fit.py):
        ``Xavier(rnd_type='gaussian', factor_type='in', magnitude=2)`` — N(0, 2/fan_in) — for
        every weight, zeros for biases and betas, ones for gammas (BatchNorm sets those)."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if stem.applies(self.bn_data, x, self.training):
            x = stem.input_stem(self.bn_data, self.conv0, x)  # the same gradients, without the pictures' own
        else:
            x = self.conv0(self.bn_data(x))
        if not self.small_stem:
            x = F.max_pool2d(F.relu(self.bn0(x)), kernel_size=3, stride=2, padding=1)
        for name in self.unit_names:
            x = getattr(self, name)(x)
        x = F.relu(self.bn1(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # pool1 (global avg) + Flatten
        return self.fc1(x)


def build_resnet(num_layers: int, num_classes: int, image_shape: tuple[int, int, int], *,
                 channels_last: bool = True) -> nn.Module:
    """The network SageMaker's Image Classification algorithm trains for these hyperparameters.

    ``image_shape`` is (channels, height, width) like the ``image_shape`` hyperparameter.
    ``channels_last`` stores the conv weights NHWC: on CPU (oneDNN) that made inference ~25%
    and training a few % faster for ResNet-18/50 at 224 px; feed it
    ``batch_to_float(..., channels_last=True)`` batches to avoid a conversion per step.
    Raises ValueError, with the allowed values, for a depth the algorithm does not offer at
    that image height, a non-positive ``num_classes`` or a malformed ``image_shape``.
    """
    if len(tuple(image_shape)) != 3 or any(int(d) != d or d < 1 for d in image_shape):
        raise ValueError(f"image_shape must be three positive integers (channels, height, width), got {image_shape!r}.")
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}.")
    shape = tuple(int(d) for d in image_shape)
    units, filter_list, bottle_neck = architecture(int(num_layers), shape[1])
    model = ResNetV2(units, filter_list, int(num_classes), shape, bottle_neck)  # type: ignore[arg-type]
    return model.to(memory_format=torch.channels_last) if channels_last else model


def mxnet_param_names(model: nn.Module) -> dict[str, str]:
    """Each ``model.state_dict()`` key → its MXNet name in a ``.params`` file: ``arg:<name>`` for
    learned parameters, ``aux:<name>`` for BatchNorm moving statistics."""
    buffers = {name for name, _ in model.named_buffers()}
    return {
        key: ("aux:" if key in buffers else "arg:") + key.replace(".", "_")
        for key in model.state_dict()
    }


def load_mxnet_params(model: nn.Module, params: Mapping[str, torch.Tensor]) -> None:
    """Load tensors keyed by MXNet names (``arg:fc1_weight``; the prefix may be omitted) into
    ``model``, in place, casting to the model's dtype.

    All or nothing: raises ValueError naming every missing, unexpected and mis-shaped name
    before any tensor is copied.
    """
    def bare(name: str) -> str:
        return name.split(":", 1)[1] if name.startswith(("arg:", "aux:")) else name

    given = {bare(name): tensor for name, tensor in params.items()}
    if len(given) != len(params):
        raise ValueError("the same parameter appears twice (with and without its arg:/aux: prefix).")
    state = model.state_dict()
    wanted = {bare(mx_name): key for key, mx_name in mxnet_param_names(model).items()}
    missing = sorted(set(wanted) - set(given))
    unexpected = sorted(set(given) - set(wanted))
    misshaped = sorted(
        f"{name} {tuple(given[name].shape)} (model has {tuple(state[key].shape)})"
        for name, key in wanted.items()
        if name in given and tuple(given[name].shape) != tuple(state[key].shape)
    )
    problems = [
        f"{label}: {', '.join(names)}"
        for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", misshaped))
        if names
    ]
    if problems:
        raise ValueError("the parameters don't fit this network — " + "; ".join(problems) + ".")
    with torch.no_grad():
        for name, key in wanted.items():
            state[key].copy_(given[name].to(dtype=state[key].dtype))

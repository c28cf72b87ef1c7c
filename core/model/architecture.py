"""The Image Classification algorithm's ResNet layouts: which depths it offers at which image
height, and how many units, filters and which kind of unit each has.

This is ``get_symbol``'s table in apache/mxnet ``example/image-classification/symbols/resnet.py``
(1.9.1), shared by the PyTorch network (:mod:`sagewiz.core.local.resnet`) and the MXNet symbol
writer (:mod:`sagewiz.core.model.symbol`), which must agree layer for layer. Plain Python: no torch.
"""

from __future__ import annotations

# The depths the algorithm's ``num_layers`` hyperparameter accepts (SageMaker IC docs). MXNet's
# get_symbol also builds 269 and bottleneck CIFAR nets of ≥164 layers; SageMaker does not offer them.
SMALL_IMAGE_LAYERS = (20, 32, 44, 56, 110)
LARGE_IMAGE_LAYERS = (18, 34, 50, 101, 152, 200)

# get_symbol: images at most this tall get the 3-stage CIFAR-style network.
SMALL_IMAGE_MAX_HEIGHT = 28
# resnet(): images at most this tall get the 3×3 stride-1 stem (no bn0, no max-pool). Note the
# gap: a 29–32 px image gets the 4-stage ImageNet layout with the small stem, as in MXNet.
SMALL_STEM_MAX_HEIGHT = 32

# Units per stage of the 4-stage (ImageNet-style) nets: get_symbol's table.
_LARGE_UNITS = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 24, 36, 3),
}


def supported_num_layers(image_height: int) -> tuple[int, ...]:
    """The ``num_layers`` values the algorithm accepts for images ``image_height`` pixels tall."""
    return SMALL_IMAGE_LAYERS if image_height <= SMALL_IMAGE_MAX_HEIGHT else LARGE_IMAGE_LAYERS


def architecture(num_layers: int, height: int) -> tuple[tuple[int, ...], tuple[int, ...], bool]:
    """get_symbol's choice of (units per stage, filter_list, bottle_neck) for ``num_layers`` at
    ``height`` pixels; ValueError, with the allowed values, if the algorithm does not offer it."""
    allowed = supported_num_layers(height)
    if num_layers not in allowed:
        kind = f"images {SMALL_IMAGE_MAX_HEIGHT} pixels tall or smaller" if height <= SMALL_IMAGE_MAX_HEIGHT \
            else f"images taller than {SMALL_IMAGE_MAX_HEIGHT} pixels"
        other = LARGE_IMAGE_LAYERS if allowed is SMALL_IMAGE_LAYERS else SMALL_IMAGE_LAYERS
        hint = ""
        if num_layers in other:
            side = f"taller than {SMALL_IMAGE_MAX_HEIGHT}" if allowed is SMALL_IMAGE_LAYERS \
                else f"at most {SMALL_IMAGE_MAX_HEIGHT}"
            hint = f" ({num_layers} layers is for images {side} pixels)"
        raise ValueError(
            f"num_layers={num_layers} is not available for {kind} (image height {height}); "
            f"choose one of {', '.join(map(str, allowed))}{hint}."
        )
    if height <= SMALL_IMAGE_MAX_HEIGHT:
        # CIFAR-style: 3 stages of (n-2)/6 basic units. (MXNet's (n-2)/9 bottleneck branch is
        # only for n >= 164, which the algorithm does not offer.)
        return ((num_layers - 2) // 6,) * 3, (16, 16, 32, 64), False
    if num_layers >= 50:
        return _LARGE_UNITS[num_layers], (64, 256, 512, 1024, 2048), True
    return _LARGE_UNITS[num_layers], (64, 64, 128, 256, 512), False

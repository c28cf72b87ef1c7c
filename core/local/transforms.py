"""The Image Classification algorithm's preprocessing and augmentation, in Pillow and torch.

SageMaker's algorithm reads images through MXNet's ``ImageRecordIter``, whose augmenter is
apache/mxnet ``src/io/image_aug_default.cc``; the ``augmentation_type`` hyperparameter picks
one of the levels of ``set_data_aug_level`` in ``example/image-classification/common/data.py``
(the values the SageMaker docs quote). This module mirrors both, in the augmenter's order:
resize the short edge → random affine (rotate, shear, aspect) → crop → HSL shift → mirror.

Transforms take a PIL image and return a ``torch.uint8`` C×H×W tensor: uint8 is 4× cheaper to
hand from worker processes to the trainer; :func:`batch_to_float` makes the float batch.

Pixel values stay raw 0–255 — no mean subtraction, no scaling. MXNet's example scripts
subtract an RGB mean, but the network (``resnet.py``) starts with the ``bn_data`` BatchNorm,
which normalises its input itself, and what SageMaker's own pipeline does is not published;
raw pixels are what the network's first layer is built to absorb, so that is what we feed it.
"""

from __future__ import annotations

import io
import math
import os
import random
from dataclasses import dataclass

import torch
from PIL import Image
from torch.utils.data import get_worker_info

AUGMENTATION_TYPES = ("crop", "crop_color", "crop_color_transform")

# data.py passes fill_value=127 to ImageRecordIter: the grey that fills the corners a rotation
# or shear uncovers (the augmenter's own default would be white, 255).
FILL_VALUE = 127

# inter_method=1 (the default): bilinear, for every resize and warp.
_RESAMPLE = Image.Resampling.BILINEAR


@dataclass(frozen=True)
class Augmentation:
    """The ImageRecordIter augmentation settings one ``augmentation_type`` turns on."""

    rand_crop: bool = False
    rand_mirror: bool = False
    random_h: int = 0  # max hue shift, OpenCV 8-bit units (0–180 = 0–360°)
    random_s: int = 0  # max saturation shift, 0–255
    random_l: int = 0  # max lightness shift, 0–255
    max_rotate_angle: int = 0  # degrees
    max_shear_ratio: float = 0.0
    max_aspect_ratio: float = 0.0

    @property
    def warps(self) -> bool:
        return bool(self.max_rotate_angle or self.max_shear_ratio or self.max_aspect_ratio)

    @property
    def shifts_color(self) -> bool:
        return bool(self.random_h or self.random_s or self.random_l)


def augmentation_settings(augmentation_type: str | None) -> Augmentation:
    """The settings for ``augmentation_type`` (None or "" = no augmentation), mirroring
    ``set_data_aug_level`` levels 1–3. Raises ValueError for an unknown type."""
    if not augmentation_type:
        return Augmentation()
    if augmentation_type not in AUGMENTATION_TYPES:
        raise ValueError(
            f"augmentation_type {augmentation_type!r} is not one of {', '.join(AUGMENTATION_TYPES)}."
        )
    level = AUGMENTATION_TYPES.index(augmentation_type) + 1
    settings = Augmentation(rand_crop=True, rand_mirror=True)
    if level >= 2:
        settings = Augmentation(True, True, random_h=36, random_s=50, random_l=50)
    if level >= 3:
        settings = Augmentation(True, True, 36, 50, 50, max_rotate_angle=10, max_shear_ratio=0.1,
                                max_aspect_ratio=0.25)
    return settings


def _check_shape(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    shape = tuple(image_shape)
    if len(shape) != 3 or shape[0] != 3 or any(int(d) != d or d < 1 for d in shape):
        raise ValueError(f"image_shape must be (3, height, width) with positive sizes, got {image_shape!r}.")
    return int(shape[1]), int(shape[2])


def _target_size(width: int, height: int, out_h: int, out_w: int, resize: int | None) -> tuple[int, int]:
    """The (width, height) to resize to before cropping out_h×out_w.

    ``resize`` set: the hyperparameter's meaning — the short edge becomes ``resize``, with the
    augmenter's integer arithmetic. Unset: the smallest size that still covers the crop, so the
    crop sees the whole short side of the photo. (MXNet with no ``resize`` crops at the file's
    own size and fails on images smaller than the crop; here those are scaled up instead.)
    """
    if resize:
        if height > width:
            width, height = resize, resize * height // width
        else:
            width, height = resize * width // height, resize
        if width >= out_w and height >= out_h:
            return width, height
    scale = max(out_w / width, out_h / height)
    return max(out_w, round(width * scale)), max(out_h, round(height * scale))


def _check_resize(resize: int | None) -> int | None:
    if resize is not None and (int(resize) != resize or resize < 1):
        raise ValueError(f"resize must be a positive number of pixels, got {resize!r}.")
    return None if resize is None else int(resize)


def eval_size(width: int, height: int, out_h: int, out_w: int, resize: int | None) -> tuple[int, int]:
    """The (width, height) a picture is resized to before the centre crop, for validation and
    inference: a picture already at the crop's size is kept as it is, ``resize`` or not (scaling
    it up to ``resize`` only to cut its middle back out would blur it and lose its edges; a user
    who made their pictures the model's size means them as they are). Any other picture as
    :func:`_target_size` says."""
    if (width, height) == (out_w, out_h):
        return width, height
    return _target_size(width, height, out_h, out_w, resize)


def _fit(image: Image.Image, out_h: int, out_w: int, resize: int | None, sizing=_target_size) -> Image.Image:
    if image.mode != "RGB":
        image = image.convert("RGB")
    size = sizing(image.width, image.height, out_h, out_w, resize)
    if size == image.size:
        return image
    # reducing_gap: shrink big photos by whole factors first (fast box filter), then bilinear.
    return image.resize(size, _RESAMPLE, reducing_gap=3.0)


def decode_image(data: bytes, image_shape: tuple[int, int, int], resize: int | None = None) -> Image.Image:
    """Decode image bytes (JPEG, PNG, …) to an RGB PIL image, letting the JPEG decoder skip
    detail the transforms would throw away (DCT scaling by 1/2–1/8, never below what
    ``image_shape``/``resize`` need). Raises PIL's errors for bytes that are not an image."""
    out_h, out_w = _check_shape(image_shape)
    resize = _check_resize(resize)
    image = Image.open(io.BytesIO(data))
    if image.format == "JPEG":
        need = (resize, resize) if resize else (out_w, out_h)
        image.draft("RGB", need)
    image.load()  # decode now, so damaged bytes fail here and not inside a transform
    return image.convert("RGB") if image.mode != "RGB" else image


def _to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image → contiguous uint8 C×H×W tensor, without numpy."""
    width, height = image.size
    hwc = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).view(height, width, 3)
    return hwc.permute(2, 0, 1).contiguous()


def hsl_shift(image: torch.Tensor, hue: float, saturation: float, lightness: float) -> torch.Tensor:
    """Add offsets to every pixel's hue, saturation and lightness, the way the augmenter does
    (image_aug_default.cc: BGR→HLS, add, clamp, back): ``hue`` in OpenCV 8-bit units
    (2° each, the channel clamped — not wrapped — to 0–180), ``saturation`` and ``lightness``
    in 0–255 units, clamped to 0–255. ``image`` is uint8 C×H×W RGB; returns the same.

    Vectorised in float over the whole image, so it skips OpenCV's 8-bit rounding of the
    HLS values: zero offsets return the image unchanged. A grey pixel (no saturation) has hue
    0, so a saturation increase tints grey red-ish — as in MXNet.
    """
    rgb = image.to(torch.float32).div_(255.0)
    r, g, b = rgb.unbind(0)
    vmax, vmin = rgb.amax(0), rgb.amin(0)
    total, diff = vmax + vmin, vmax - vmin
    light = total / 2
    grey = diff <= torch.finfo(torch.float32).eps
    safe = torch.where(grey, torch.ones_like(diff), diff)
    sat = torch.where(light < 0.5, diff / total.clamp_min(1e-12), diff / (2 - total).clamp_min(1e-12))
    # OpenCV's hue: which channel is the max decides the sector (r first, then g).
    h = torch.where(vmax == r, (g - b) / safe * 60,
                    torch.where(vmax == g, (b - r) / safe * 60 + 120, (r - g) / safe * 60 + 240))
    h = torch.where(h < 0, h + 360, h)
    h = torch.where(grey, torch.zeros_like(h), h)
    sat = torch.where(grey, torch.zeros_like(sat), sat)

    h = (h + 2.0 * hue).clamp_(0, 360)
    sat = (sat + saturation / 255.0).clamp_(0, 1)
    light = (light + lightness / 255.0).clamp_(0, 1)

    # HLS → RGB in closed form: channel n ∈ {R:0, G:8, B:4}, k = (n + h/30) mod 12.
    a = sat * torch.minimum(light, 1 - light)
    sector = h / 30
    out = torch.stack([
        light - a * torch.clamp(torch.minimum((n + sector) % 12 - 3, 9 - (n + sector) % 12), -1, 1)
        for n in (0.0, 8.0, 4.0)
    ])
    return out.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)


def _random_affine(image: Image.Image, rng: random.Random, aug: Augmentation) -> Image.Image:
    """The augmenter's "normal augmentation by affine transformation" (scale fixed at 1, as
    the IC levels leave min/max_random_scale at 1): same output size, corners filled grey."""
    shear = rng.random() * aug.max_shear_ratio * 2 - aug.max_shear_ratio
    angle = rng.randint(-aug.max_rotate_angle, aug.max_rotate_angle)
    ratio = rng.random() * aug.max_aspect_ratio * 2 - aug.max_aspect_ratio + 1
    a, b = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    hs = 2 / (1 + ratio)
    ws = ratio * hs
    cols, rows = image.size
    # OpenCV's forward matrix M, (x=col, y=row) → output, centred on the output image.
    m00, m01 = hs * a - shear * b * ws, hs * b + shear * a * ws
    m10, m11 = -b * ws, a * ws
    m02 = (cols - (m00 * cols + m01 * rows)) / 2
    m12 = (rows - (m10 * cols + m11 * rows)) / 2
    # Pillow wants the inverse: output pixel → input pixel.
    det = m00 * m11 - m01 * m10
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
    inverse = (i00, i01, -(i00 * m02 + i01 * m12), i10, i11, -(i10 * m02 + i11 * m12))
    return image.transform(image.size, Image.Transform.AFFINE, inverse, resample=_RESAMPLE,
                           fillcolor=(FILL_VALUE,) * 3)


class TrainTransform:
    """The training-time pipeline for one ``augmentation_type`` (None: no augmentation, just a
    centre crop; or an :class:`Augmentation` of one's own), callable on a PIL image → uint8
    C×H×W tensor. ``resize`` is the hyperparameter of that name (see :class:`EvalTransform`).

    Random choices come from its own ``random.Random(seed)``: the same seed gives the same
    sequence of outputs. In a DataLoader worker it reseeds itself on first use from the
    worker's seed (and ``seed``), so workers don't repeat each other's augmentations and a run
    is repeatable under ``torch.manual_seed``.
    """

    def __init__(self, image_shape: tuple[int, int, int], augmentation_type: str | Augmentation | None = None,
                 seed: int | None = None, *, resize: int | None = None):
        self.height, self.width = _check_shape(image_shape)
        self.augmentation = augmentation_type if isinstance(augmentation_type, Augmentation) \
            else augmentation_settings(augmentation_type)
        self.resize = _check_resize(resize)
        self.seed = seed
        self._rng = random.Random(seed)
        self._pid = os.getpid()

    def reseed(self, seed: int | str | None) -> None:
        """Restart the random sequence from ``seed``."""
        self._rng = random.Random(seed)

    def _rng_for_this_process(self) -> random.Random:
        if os.getpid() != self._pid:  # copied into a worker process: don't replay the parent's draws
            self._pid = os.getpid()
            info = get_worker_info()
            self.reseed(f"{self.seed}/{info.seed}" if info is not None else None)
        return self._rng

    def __call__(self, image: Image.Image) -> torch.Tensor:
        rng, aug = self._rng_for_this_process(), self.augmentation
        image = _fit(image, self.height, self.width, self.resize)
        if aug.warps:
            image = _random_affine(image, rng, aug)
        y, x = image.height - self.height, image.width - self.width
        if aug.rand_crop:
            y, x = rng.randint(0, y), rng.randint(0, x)
        else:
            y, x = y // 2, x // 2
        image = image.crop((x, y, x + self.width, y + self.height))
        tensor = None
        if aug.shifts_color:
            # int(): the augmenter truncates each uniform draw to an integer offset.
            h = int(rng.random() * aug.random_h * 2 - aug.random_h)
            s = int(rng.random() * aug.random_s * 2 - aug.random_s)
            l_ = int(rng.random() * aug.random_l * 2 - aug.random_l)
            if h or s or l_:
                tensor = hsl_shift(_to_tensor(image), h, s, l_)
        if aug.rand_mirror and rng.random() < 0.5:
            return (tensor if tensor is not None else _to_tensor(image)).flip(-1)
        return tensor if tensor is not None else _to_tensor(image)


class EvalTransform:
    """Validation and inference preprocessing: resize (the ``resize`` hyperparameter's short
    edge, or just enough to cover the crop), then the centre ``image_shape`` crop — the
    augmenter with ``rand_crop=False``; a picture already at ``image_shape`` goes through
    unchanged (:func:`eval_size`). Deterministic; callable like :class:`TrainTransform`."""

    def __init__(self, image_shape: tuple[int, int, int], resize: int | None = None):
        self.height, self.width = _check_shape(image_shape)
        self.resize = _check_resize(resize)

    def fit_and_crop(self, image: Image.Image) -> Image.Image:
        """The preprocessed picture before it becomes a tensor (the endpoint batches raw pixels)."""
        image = _fit(image, self.height, self.width, self.resize, eval_size)
        y, x = (image.height - self.height) // 2, (image.width - self.width) // 2
        return image.crop((x, y, x + self.width, y + self.height))

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return _to_tensor(self.fit_and_crop(image))


def batch_to_float(batch_uint8: torch.Tensor, *, channels_last: bool = True) -> torch.Tensor:
    """A uint8 N×C×H×W batch (or one C×H×W image) as float32 0–255, the network's input.

    ``channels_last`` lays it out NHWC in memory, matching ``build_resnet``'s default."""
    batch = batch_uint8 if batch_uint8.dim() == 4 else batch_uint8.unsqueeze(0)
    if channels_last:
        return batch.to(dtype=torch.float32, memory_format=torch.channels_last)
    return batch.to(dtype=torch.float32, memory_format=torch.contiguous_format)

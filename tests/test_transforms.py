"""Images reach the local network the way the Image Classification algorithm prepares them:
resized and cropped to image_shape, augmented per augmentation_type like MXNet's augmenter
(apache/mxnet src/io/image_aug_default.cc), and handed over as uint8 until batched."""

from __future__ import annotations

import colorsys
import io

import pytest
import torch
from PIL import Image

from sagewiz.core.local.transforms import (
    AUGMENTATION_TYPES,
    Augmentation,
    EvalTransform,
    TrainTransform,
    batch_to_float,
    decode_image,
    hsl_shift,
)


def image_of(tensor: torch.Tensor) -> Image.Image:
    """uint8 C×H×W → PIL RGB (no numpy)."""
    _, h, w = tensor.shape
    return Image.frombytes("RGB", (w, h), bytes(tensor.permute(1, 2, 0).flatten().tolist()))


def noise(width: int, height: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def photo(width: int, height: int) -> Image.Image:
    return image_of(noise(width, height))


@pytest.mark.parametrize("augmentation_type", [None, *AUGMENTATION_TYPES])
@pytest.mark.parametrize(("size", "shape"), [((100, 75), (3, 64, 64)), ((75, 100), (3, 64, 48)),
                                             ((20, 12), (3, 32, 32)), ((32, 32), (3, 32, 32))])
def test_every_augmentation_gives_uint8_channels_first_at_image_shape(augmentation_type, size, shape):
    transform = TrainTransform(shape, augmentation_type, seed=0)
    for _ in range(3):
        out = transform(photo(*size))
        assert out.dtype == torch.uint8 and out.shape == shape and out.is_contiguous()


@pytest.mark.parametrize("shape", [(3, 64, 64), (3, 32, 32)])
def test_eval_transform_gives_uint8_at_image_shape_for_any_photo(shape):
    for size in [(100, 75), (75, 100), (10, 10), (64, 64)]:
        out = EvalTransform(shape)(photo(*size))
        assert out.dtype == torch.uint8 and out.shape == shape


def test_eval_transform_takes_the_centre_and_is_the_same_every_time():
    pixels = noise(100, 60)
    transform = EvalTransform((3, 60, 60))  # the short edge already fits: no resize, just the crop
    first = transform(image_of(pixels))
    assert torch.equal(first, pixels[:, :, 20:80])
    assert all(torch.equal(transform(image_of(pixels)), first) for _ in range(3))


def test_resize_sets_the_short_edge_before_the_centre_crop():
    img = photo(90, 60)
    # resize=80: short edge 60 → 80, long edge 90·80/60 = 120 (integer maths, as the augmenter).
    expected = img.resize((120, 80), Image.Resampling.BILINEAR).crop((30, 10, 90, 70))
    assert torch.equal(EvalTransform((3, 60, 60), resize=80)(img), EvalTransform((3, 60, 60))(expected))


def test_without_resize_the_whole_short_side_is_kept():
    img = photo(200, 100)  # → 100×50 covers a 50×50 crop exactly
    expected = img.resize((100, 50), Image.Resampling.BILINEAR).crop((25, 0, 75, 50))
    assert torch.equal(EvalTransform((3, 50, 50))(img), EvalTransform((3, 50, 50))(expected))


def test_no_augmentation_is_the_eval_crop():
    img = photo(100, 75)
    assert torch.equal(TrainTransform((3, 64, 64), None, seed=3)(img), EvalTransform((3, 64, 64))(img))


def test_crop_mirrors_about_half_the_images():
    pixels = noise(32, 32)
    transform = TrainTransform((3, 32, 32), "crop", seed=1)  # image = crop size: only the flip varies
    outs = [transform(image_of(pixels)) for _ in range(40)]
    flipped = sum(torch.equal(o, pixels.flip(-1)) for o in outs)
    assert all(torch.equal(o, pixels) or torch.equal(o, pixels.flip(-1)) for o in outs)
    assert 5 < flipped < 35


def test_crop_picks_different_windows():
    pixels = noise(64, 64)
    transform = TrainTransform((3, 48, 48), Augmentation(rand_crop=True), seed=2, resize=64)
    windows = {tuple(transform(image_of(pixels))[:, 0, 0].tolist()) for _ in range(20)}
    assert len(windows) > 5


def test_same_seed_same_augmentations():
    img = photo(100, 75)
    a = TrainTransform((3, 64, 64), "crop_color_transform", seed=7)
    b = TrainTransform((3, 64, 64), "crop_color_transform", seed=7)
    c = TrainTransform((3, 64, 64), "crop_color_transform", seed=8)
    outs_a, outs_b, outs_c = ([t(img) for _ in range(5)] for t in (a, b, c))
    assert all(torch.equal(x, y) for x, y in zip(outs_a, outs_b))
    assert not all(torch.equal(x, y) for x, y in zip(outs_a, outs_c))
    a.reseed(7)
    assert torch.equal(a(img), outs_a[0])


def test_unknown_augmentation_type_is_refused():
    with pytest.raises(ValueError, match="crop, crop_color, crop_color_transform"):
        TrainTransform((3, 32, 32), "crop_color_transformation")


@pytest.mark.parametrize("bad", [dict(image_shape=(1, 32, 32)), dict(image_shape=(3, 32)), dict(resize=0)])
def test_malformed_shapes_and_resize_are_refused(bad):
    args = dict(image_shape=(3, 32, 32), resize=None) | bad
    with pytest.raises(ValueError):
        EvalTransform(**args)


def test_hsl_shift_without_offsets_changes_nothing():
    pixels = noise(50, 40)
    assert torch.equal(hsl_shift(pixels, 0, 0, 0), pixels)


@pytest.mark.parametrize("hue", [-36, -7, 15, 36])
def test_hue_jitter_keeps_a_grey_image_grey(hue):
    grey = torch.arange(0, 256, dtype=torch.uint8).repeat(3, 4, 1)  # every grey level
    assert torch.equal(hsl_shift(grey, hue, 0, 0), grey)
    lighter = hsl_shift(grey, hue, 0, 30)
    assert torch.equal(lighter[0], lighter[1]) and torch.equal(lighter[1], lighter[2])


def solid(r: int, g: int, b: int) -> torch.Tensor:
    return torch.tensor([r, g, b], dtype=torch.uint8).view(3, 1, 1).expand(3, 2, 2).contiguous()


def test_hsl_offsets_are_in_opencv_8_bit_units():
    assert torch.equal(hsl_shift(solid(255, 0, 0), 60, 0, 0), solid(0, 255, 0))  # 60 units = 120°
    assert torch.equal(hsl_shift(solid(255, 0, 0), 0, 0, 255), solid(255, 255, 255))
    assert torch.equal(hsl_shift(solid(200, 100, 50), 0, -255, 0), solid(125, 125, 125))


@pytest.mark.parametrize(("hue", "saturation", "lightness"), [(36, 0, 0), (-20, 50, -50), (5, -50, 50)])
def test_hsl_shift_matches_a_per_pixel_reference(hue, saturation, lightness):
    pixels = noise(12, 10, seed=hue)
    expected = []
    for r, g, b in pixels.flatten(1).t().tolist():
        h, light, sat = colorsys.rgb_to_hls(r / 255, g / 255, b / 255)
        h = min(max(h * 360 + 2 * hue, 0), 360) / 360
        sat = min(max(sat + saturation / 255, 0), 1)
        light = min(max(light + lightness / 255, 0), 1)
        expected.append([round(c * 255) for c in colorsys.hls_to_rgb(h, light, sat)])
    reference = torch.tensor(expected, dtype=torch.int16).t().reshape(3, 10, 12)
    assert (hsl_shift(pixels, hue, saturation, lightness).to(torch.int16) - reference).abs().max() <= 1


def test_hue_is_clamped_not_wrapped_like_mxnet():
    # blue is 240° (120 units); +72 units would wrap to 24° (orange) but MXNet clamps at 180 units = red
    assert torch.equal(hsl_shift(solid(0, 0, 255), 72, 0, 0), solid(255, 0, 0))


def test_crop_color_shifts_colour():
    img = photo(64, 64)
    transform = TrainTransform((3, 64, 64), "crop_color", seed=4)
    plain = EvalTransform((3, 64, 64))(img)
    outs = [transform(img) for _ in range(6)]
    assert not any(torch.equal(o, plain) or torch.equal(o, plain.flip(-1)) for o in outs)


def test_rotation_fills_the_uncovered_corners_grey():
    white = image_of(torch.full((3, 64, 64), 255, dtype=torch.uint8))
    transform = TrainTransform((3, 64, 64), Augmentation(max_rotate_angle=10), seed=0)
    for _ in range(5):
        out = transform(white)
        if not torch.equal(out, torch.full_like(out, 255)):  # angle 0 is possible
            break
    assert out[:, 32, 32].tolist() == [255, 255, 255]
    assert out[:, 0, 0].tolist() == [127, 127, 127] or out[:, 0, 63].tolist() == [127, 127, 127]


class Repeated(torch.utils.data.Dataset):
    def __init__(self, transform):
        self.transform, self.image = transform, photo(64, 64)

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return self.transform(self.image)


def loader_outputs(seed: int) -> list[torch.Tensor]:
    torch.manual_seed(seed)
    transform = TrainTransform((3, 40, 40), "crop", seed=5)
    loader = torch.utils.data.DataLoader(Repeated(transform), batch_size=1, num_workers=2)
    return [batch[0] for batch in loader]


def test_dataloader_workers_do_not_repeat_each_others_augmentations_and_runs_repeat():
    outs = loader_outputs(0)
    worker0, worker1 = outs[0::2], outs[1::2]  # items go to the two workers in turn
    assert not all(torch.equal(a, b) for a, b in zip(worker0, worker1))
    assert all(torch.equal(a, b) for a, b in zip(outs, loader_outputs(0)))


def test_batch_to_float_keeps_raw_pixel_values():
    batch = torch.stack([noise(8, 6, seed) for seed in range(4)])
    out = batch_to_float(batch)
    assert out.dtype == torch.float32 and out.shape == (4, 3, 6, 8)
    assert torch.equal(out, batch.float())  # 0–255: bn_data normalises inside the network
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert batch_to_float(batch, channels_last=False).is_contiguous()
    assert batch_to_float(batch[0]).shape == (1, 3, 6, 8)


def test_decode_image_reads_jpeg_and_png_as_rgb():
    for fmt, mode in [("JPEG", "RGB"), ("PNG", "RGBA"), ("PNG", "L")]:
        buf = io.BytesIO()
        photo(400, 300).convert(mode).save(buf, fmt)
        img = decode_image(buf.getvalue(), (3, 64, 64))
        assert img.mode == "RGB" and img.width >= 64 and img.height >= 64
        assert EvalTransform((3, 64, 64))(img).shape == (3, 64, 64)


def test_decode_image_decodes_big_jpegs_at_a_reduced_size_that_still_covers_the_crop():
    buf = io.BytesIO()
    photo(1000, 800).save(buf, "JPEG")
    img = decode_image(buf.getvalue(), (3, 224, 224))
    assert img.size == (500, 400)  # 1/2 scale; 1/4 (250×200) would be smaller than the crop


@pytest.mark.parametrize("resize", [None, 28, 32, 40])
def test_a_picture_already_at_image_shape_goes_into_the_network_unchanged(resize):
    # sagewiz suggests resize=32 for 3,28,28: a 28-px picture must not be blown up to 32 and cropped back
    pixels = noise(28, 28, seed=5)
    assert torch.equal(EvalTransform((3, 28, 28), resize=resize)(image_of(pixels)), pixels)
    wide = noise(40, 28, seed=6)  # not the model's size: resize still applies as in training
    resized = EvalTransform((3, 28, 28), resize=resize)(image_of(wide))
    assert resized.shape == (3, 28, 28) and (resize in (None, 28)) == torch.equal(resized, wide[:, :, 6:34])


@pytest.mark.parametrize("fmt, mode", [("PNG", "RGB"), ("PNG", "L"), ("JPEG", "RGB"), ("JPEG", "L")])
def test_the_endpoints_preprocessing_keeps_a_picture_at_image_shape_as_decoded(fmt, mode):
    from sagewiz.core.local.pictures import make_preprocess

    buffer = io.BytesIO()
    image_of(noise(28, 28, seed=7)).convert(mode).save(buffer, fmt)
    decoded = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").tobytes()  # what the file holds
    for resize in (None, 32):
        assert make_preprocess((3, 28, 28), resize)(buffer.getvalue()) == decoded

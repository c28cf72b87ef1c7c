"""Re-encoding one image for a record file: decode, orient, convert, crop, resize, encode.

Kept apart from :mod:`packer` so that pass-through packing, which only copies bytes, never
loads Pillow (start-up time is part of every ``sagewiz im2rec`` run).
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from sagewiz.core.dataset.images import CONVERTED_FORMATS, MAX_IMAGE_PIXELS, ORIENTATION, stored_on_its_side, to_rgb
from sagewiz.core.dataset.packer import PackOptions, UnusableImage

_ORIENTATION = ORIENTATION


def _draft_size(width: int, height: int, options: PackOptions) -> tuple[int, int] | None:
    """The smallest decode size that still leaves the short edge >= the target (for JPEG draft)."""
    if not options.resize:
        return None
    short = min(width, height)
    if options.center_crop:
        width = height = short
    return (max(1, -(-width * options.resize // short)), max(1, -(-height * options.resize // short)))


def _convert_mode(img: Image.Image, options: PackOptions) -> Image.Image:
    if options.color == 1:
        return img if img.mode == "RGB" else to_rgb(img)
    if options.color == 0:
        return img if img.mode == "L" else to_rgb(img).convert("L")
    # -1: as stored, but the chosen encoding must be able to hold it
    if options.encoding == ".jpg" and img.mode not in ("RGB", "L", "CMYK"):
        return to_rgb(img)
    if options.encoding == ".png" and img.mode not in ("RGB", "RGBA", "L", "LA", "I;16", "P", "1"):
        return to_rgb(img)
    return img


def _center_crop(img: Image.Image) -> Image.Image:
    width, height = img.size
    if height > width:
        margin = (height - width) // 2
        return img.crop((0, margin, width, margin + width))
    margin = (width - height) // 2
    return img.crop((margin, 0, margin + height, height))


def _resized_size(width: int, height: int, short_edge: int) -> tuple[int, int]:
    # the same integer arithmetic as im2rec, so output sizes match it exactly
    if height > width:
        return short_edge, height * short_edge // width
    return width * short_edge // height, short_edge


def reencode_image(data: bytes, options: PackOptions) -> bytes:
    """Decode, orient, convert, crop, resize and encode one image; raise UnusableImage when it can't be."""
    return reencode(data, options)[0]


def convert_to_jpeg(data: bytes, options: PackOptions) -> tuple[bytes, str]:
    """A WebP, HEIC, AVIF, BMP, TIFF or GIF (its first frame) as a JPEG of the same size, upright,
    for pass-through packing (the algorithm reads only JPEG and PNG): (bytes, the format's name).
    Raise UnusableImage for anything else, or a picture that can't be read."""
    image, name = reencode(data, PackOptions(quality=options.quality, color=options.color, encoding=".jpg"), only_converted=True)
    return image, name or ""


def reencode(data: bytes, options: PackOptions, *, only_converted: bool = False) -> tuple[bytes, str | None]:
    """:func:`reencode_image`, also saying which of CONVERTED_FORMATS the picture was (None for
    JPEG, PNG or another format Pillow reads); ``only_converted`` refuses all but those formats."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            converted = CONVERTED_FORMATS.get(img.format or "")
            if only_converted and converted is None:
                raise UnusableImage(f"a {img.format or 'unknown'} image, not a JPEG or PNG file nor a picture sagewiz converts")
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise UnusableImage(f"{img.width}×{img.height} pixels is over the {MAX_IMAGE_PIXELS:,}-pixel safety limit")
            # sizes are computed from the full-size picture, as im2rec sees it, even when the
            # JPEG is decoded at 1/2, 1/4 or 1/8 scale (draft mode) to save most of the decoding
            width, height = img.size
            orientation = img.getexif().get(_ORIENTATION, 1)
            if stored_on_its_side(img):
                width, height = height, width
            draft = _draft_size(width, height, options)
            if img.format == "JPEG" and draft:
                img.draft("L" if options.color == 0 else "RGB", draft if (width, height) == img.size else draft[::-1])
            img.load()
            if orientation != 1:  # exif_transpose copies the whole image even when there's nothing to do
                img = ImageOps.exif_transpose(img)
            img = _convert_mode(img, options)
            if options.center_crop:
                img = _center_crop(img)
                width = height = min(width, height)
            if options.resize:
                size = _resized_size(width, height, options.resize)
                if size != img.size:
                    img = img.resize(size, Image.BILINEAR)
            out = io.BytesIO()
            if options.encoding == ".jpg":
                img.save(out, "JPEG", quality=options.quality)
            else:
                img.save(out, "PNG", compress_level=min(max(options.quality, 0), 9))
            return out.getvalue(), converted
    except UnusableImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise UnusableImage("not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise UnusableImage(f"damaged image ({error})") from None

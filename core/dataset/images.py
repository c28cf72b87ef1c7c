"""One image file at a time: is it usable, what is it, and how it becomes 8-bit RGB.

JPEG and PNG go into records as they are; WebP, HEIC/HEIF, AVIF, BMP, TIFF and GIF (its first
frame) are read too and become JPEG when packed, because the algorithm reads only those two.

:func:`inspect_image` never raises for what a file holds: an empty, cut-off, damaged or fake
image, or a decompression bomb, comes back as an :class:`ImageInfo` whose ``problem`` says why
in a few words. :func:`to_rgb` is the one conversion that scanning promises and packing and
training apply, so "converted to RGB" in a report means exactly what the model will see.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

try:  # HEIC/HEIF, what iPhones take by default: Pillow reads it through pillow-heif
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # a dependency, but a missing one must not stop JPEG and PNG
    pillow_heif = None

# Decompression-bomb guard: a picture with more pixels than this is refused, never decoded.
# 50 megapixels is above every phone and most camera photos, and far below what would exhaust
# memory on a laptop (about 150 MB per decoded RGB copy).
MAX_IMAGE_PIXELS: int = 50_000_000

# Formats SageMaker's image classification algorithm and im2rec's pass-through mode accept.
# Pillow calls some camera JPEGs (with extra preview pictures) "MPO"; their bytes are JPEG.
_ACCEPTED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG"}
# Formats people's folders hold that the algorithm can't read: converted to JPEG when packed
# (Pillow's format name → the name people know). AVIF only where Pillow was built to read it.
CONVERTED_FORMATS = {"WEBP": "WebP", "HEIF": "HEIC", "AVIF": "AVIF", "BMP": "BMP", "TIFF": "TIFF", "GIF": "GIF"}
_HEIF_EXTENSIONS = (".heic", ".heif")
ORIENTATION = 0x0112  # the EXIF tag: 5-8 mean the stored picture is turned a quarter
_JPEG_END = b"\xff\xd9"
_PNG_END = b"IEND\xaeB`\x82"
# Some cameras write a few bytes after a JPEG's end marker, so look for it near the end, the
# same window the packer's pass-through check uses.
_TAIL_BYTES = 4096
_HASH_BLOCK = 1 << 20

_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N"}
_WITH_ALPHA = {"RGBA", "RGBa", "LA", "La", "PA"}


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What one image file is. ``problem`` is why it can't be used (None when it can);
    ``conversion`` says how it becomes 8-bit RGB (None when it already is)."""

    format: str | None
    width: int  # as shown, upright (EXIF orientation applied), as it is packed
    height: int
    mode: str
    problem: str | None = None
    conversion: str | None = None
    frames: int = 1  # an animated GIF or WebP has more; only the first is used

    @property
    def usable(self) -> bool:
        """True when the picture can go into training (maybe after ``conversion``)."""
        return self.problem is None

    @property
    def converted_to_jpeg(self) -> bool:
        """True for a format the algorithm can't read (WebP, HEIC…): packing makes it a JPEG."""
        return self.format in CONVERTED_FORMATS


def conversion_for(mode: str, has_transparency: bool = False) -> str | None:
    """How :func:`to_rgb` changes a picture of this Pillow ``mode`` (``has_transparency``: a
    PNG transparent colour, Pillow's ``"transparency" in img.info``), in the user's words."""
    # the same order of cases as to_rgb
    if mode in _SIXTEEN_BIT:
        return "16-bit → 8-bit RGB"
    if mode in ("I", "F"):
        return {"I": "32-bit integer → 8-bit RGB", "F": "floating-point → 8-bit RGB"}[mode]
    if mode in _WITH_ALPHA or has_transparency:
        kind = {"P": "palette → RGB, ", "PA": "palette → RGB, ", "L": "grayscale → RGB, ", "LA": "grayscale → RGB, ",
                "La": "grayscale → RGB, ", "1": "black-and-white → RGB, "}.get(mode, "")
        return kind + "alpha dropped (composited on white)"
    if mode == "RGB":
        return None
    return {"CMYK": "CMYK → RGB", "P": "palette → RGB", "L": "grayscale → RGB", "1": "black-and-white → RGB"}.get(mode, f"{mode} → RGB")


def to_rgb(img: Image.Image) -> Image.Image:
    """Return ``img`` as 8-bit RGB: 16-bit values scaled (not clipped) to 8 bits, transparent
    areas composited on white, CMYK/palette/grayscale/black-and-white converted. An image
    that is already RGB without transparency is returned as is (not copied)."""
    mode = img.mode
    if mode in _SIXTEEN_BIT or mode == "I":
        # convert("L") would clip every value above 255 to white; scale 0-65535 to 0-255 instead.
        # 32-bit "I" pictures from PNG hold 16-bit values; only scale when values need it.
        # (A transparent colour in a 16-bit grayscale PNG is ignored: rare, and nothing to
        # composite it against would be better than the grey it already is.)
        wide = img.convert("I")
        if mode == "I" and wide.getextrema()[1] <= 255:
            return wide.convert("L").convert("RGB")
        return wide.point(lambda v: v * (1 / 256)).convert("L").convert("RGB")
    if mode == "F":
        return img.convert("L").convert("RGB")
    if mode in _WITH_ALPHA or "transparency" in img.info:
        # Pillow's plain convert("RGB") drops alpha and shows what was under it, often black.
        rgba = img.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
        return white
    if mode == "RGB":
        return img
    return img.convert("RGB")


def stored_on_its_side(img: Image.Image) -> bool:
    """Whether an opened, not yet loaded ``img`` is shown a quarter turned from its ``size``
    (EXIF orientation 5-8). Pillow already gives a TIFF's size upright (and turns it on load),
    and pillow-heif a HEIC's, so only the others are turned by their orientation."""
    return img.format not in ("TIFF", "HEIF") and img.getexif().get(ORIENTATION, 1) in (5, 6, 7, 8)


def upright(img: Image.Image) -> Image.Image:
    """``img`` turned the way its EXIF orientation says it is shown (a phone photo stored on its
    side), as packing turns it; ``img`` itself when there is nothing to turn (no copy). Loads
    ``img`` first: Pillow turns a TIFF itself while loading it, and must not turn it twice."""
    img.load()
    if img.getexif().get(ORIENTATION, 1) == 1:
        return img
    return ImageOps.exif_transpose(img)


def content_hash(path: str | os.PathLike) -> str:
    """A fast fingerprint of the file's bytes (BLAKE2b), to find the same picture twice."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def inspect_image(path: str | os.PathLike) -> ImageInfo:
    """Open and fully decode one image file and say what it is and whether it can be used.

    Never raises for the file's content or for a file that can't be read: the reason is in
    ``problem``. The pixel count is checked from the header before anything is decoded.
    """
    try:
        if os.path.getsize(path) == 0:
            return _bad("empty file (0 bytes)")
        return _inspect(path)
    except PermissionError:
        return _bad("can't read it: permission denied")
    except FileNotFoundError:
        return _bad("the file is gone, or a link to nothing")
    except IsADirectoryError:
        return _bad("it is a folder, not a file")
    except OSError as error:
        return _bad(f"can't read it: {error.strerror or error}")
    except Exception as error:  # noqa: BLE001 - no file content may ever become a traceback
        return _bad(f"damaged image ({str(error) or type(error).__name__})")


def _bad(problem: str, fmt: str | None = None, width: int = 0, height: int = 0, mode: str = "") -> ImageInfo:
    return ImageInfo(fmt, width, height, mode, problem=problem)


def _inspect(path: str | os.PathLike) -> ImageInfo:
    # Refuse a bomb from its header before Pillow sees it: Pillow's own guard warns (a global
    # side effect we'd have to silence, and warning filters aren't thread-safe) or raises.
    size = _header_size(path)
    if size and size[0] * size[1] > MAX_IMAGE_PIXELS:
        return _bad(_too_many_pixels(*size), None, *size)
    try:
        img = Image.open(path)
    except Image.DecompressionBombError:  # a format header_size doesn't read
        return _bad(f"more than {MAX_IMAGE_PIXELS:,} pixels (decompression-bomb guard)")
    except UnidentifiedImageError:
        if pillow_heif is None and os.fspath(path).lower().endswith(_HEIF_EXTENSIONS):
            return _bad("a HEIC picture, and pillow-heif (which reads them) is not installed: pip install pillow-heif")
        return _bad("not an image, despite its name")
    except (PermissionError, FileNotFoundError, IsADirectoryError):
        raise
    except OSError as error:  # Pillow words damaged headers as OSError too
        return _bad(f"damaged image ({error})")
    with img:
        fmt = _ACCEPTED_FORMATS.get(img.format or "") or (img.format if img.format in CONVERTED_FORMATS else None)
        width, height, mode = img.width, img.height, img.mode
        if fmt is None:
            readable = "JPEG, PNG, " + ", ".join(CONVERTED_FORMATS.values())
            return _bad(f"a {img.format or 'unknown'} image; only {readable} pictures can be used", img.format, width, height, mode)
        if width * height > MAX_IMAGE_PIXELS:
            return _bad(_too_many_pixels(width, height), fmt, width, height, mode)
        try:
            frames = getattr(img, "n_frames", 1)  # counting a GIF's frames reads through them
        except Exception:  # noqa: BLE001 - a damaged later frame: the first may still be whole
            frames = 1
        conversion = conversion_for(mode, "transparency" in img.info)
        if fmt == "JPEG":
            # Decode at 1/8 scale: every byte is still read and entropy-decoded, so a cut-off or
            # damaged file fails the same way, but most of the decoding work is skipped.
            img.draft(mode, (max(1, width // 8), max(1, height // 8)))
        if stored_on_its_side(img):
            width, height = height, width  # stored on its side: the sizes it is shown and packed at
        if frames > 1:
            img.seek(0)  # the first frame is the one packed
        problem = _decode(img) or _missing_end(path, fmt)
    return ImageInfo(fmt, width, height, mode, problem=problem, conversion=None if problem else conversion, frames=frames)


def _decode(img: Image.Image) -> str | None:
    """Decode every byte of the picture (a header alone proves little); the reason when that fails.

    Pillow raises "image file is truncated" for a cut-off file unless someone turned on its
    global LOAD_TRUNCATED_IMAGES; we leave that global alone, and :func:`_missing_end` still
    catches cut-off files when it is on.
    """
    try:
        img.load()
    except OSError as error:
        if "truncated" in str(error):
            return "truncated: the file ends before the picture does"
        return f"damaged image ({error})"
    except Exception as error:  # noqa: BLE001 - a decoder can fail many ways on damaged bytes
        return f"damaged image ({str(error) or type(error).__name__})"
    return None


def _missing_end(path: str | os.PathLike, fmt: str) -> str | None:
    """A PNG that lost its last chunk decodes fine in Pillow but is refused when packed as is;
    look for the format's end marker near the end of the file, as the packer does."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - _TAIL_BYTES))
        tail = f.read()
    if fmt == "JPEG" and _JPEG_END not in tail:
        return "truncated: the JPEG has no end-of-image marker"
    if fmt == "PNG" and _PNG_END not in tail[-64:]:
        return "truncated: the PNG has no end (IEND) chunk"
    return None


def _too_many_pixels(width: int, height: int) -> str:
    return f"{width}×{height} pixels is over the {MAX_IMAGE_PIXELS:,}-pixel safety limit (decompression-bomb guard)"


def _header_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) read from a PNG or JPEG header without Pillow (whose own guard refuses
    the biggest files before saying their size); None when the header can't be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
            if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
                return struct.unpack(">II", head[16:24])
            if head.startswith(b"\xff\xd8"):
                f.seek(2)
                return _jpeg_frame_size(f)
    except (OSError, struct.error):
        pass
    return None


def _jpeg_frame_size(f) -> tuple[int, int] | None:
    # Walk the marker segments up to the first start-of-frame (SOF0-SOF15 but DHT/JPG/DAC).
    while True:
        byte = f.read(1)
        if not byte:
            return None
        if byte != b"\xff":
            continue
        marker = f.read(1)
        while marker == b"\xff":
            marker = f.read(1)
        if not marker:
            return None
        code = marker[0]
        if code in (0x01, 0xD8) or 0xD0 <= code <= 0xD7:
            continue  # markers without a length
        (length,) = struct.unpack(">H", f.read(2))
        if 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">xHH", f.read(5))
            return width, height
        f.seek(length - 2, os.SEEK_CUR)

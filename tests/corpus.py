"""A small image folder with one of every kind of file people really have in their datasets.

:func:`make_malformed_corpus` writes ``cat/`` and ``dog/`` class folders holding good JPEGs and
PNGs next to damaged files, odd colour modes, a decompression bomb and a text file, and says
what sagewiz should do with each. Scanning and packing tests both use it; everything is
generated here, seeded, so the files are the same on every run.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

from PIL import Image

# What sagewiz should do with a file: use it as is, convert it (to 8-bit RGB, or to JPEG), skip
# it (it can't be used), or ignore it (not an image file at all); a link that leads to what is
# counted already is not followed; a copy in its own class is used and said (it weighs double);
# a copy in another class is a label conflict (an error naming both files).
OK, CONVERTED, SKIPPED, IGNORED = "ok", "converted", "skipped", "ignored"
NOT_FOLLOWED, DUPLICATE, CONFLICT = "not followed", "duplicate", "conflict"


def noise_image(rng: random.Random, size: tuple[int, int] = (48, 32), mode: str = "RGB") -> Image.Image:
    """A picture of seeded noise over a gradient: every call gives different content."""
    bands = len(mode)
    noise = Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * bands))
    gradient = Image.linear_gradient("L").resize(size).convert(mode)
    return Image.blend(noise, gradient, 0.5)


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    """The bytes of ``img`` saved as ``fmt``."""
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def png_claiming_size(width: int, height: int) -> bytes:
    """A real 1×1 PNG whose header claims ``width``×``height``: Pillow sees the huge size
    without this test ever allocating it (a decompression bomb in miniature)."""
    data = bytearray(encode(Image.new("RGB", (1, 1)), "PNG"))
    # IHDR is the first chunk: 8-byte signature, 4-byte length, b"IHDR", then width, height
    assert data[12:16] == b"IHDR"
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def sixteen_bit_png(rng: random.Random, size: tuple[int, int] = (40, 30)) -> bytes:
    """A 16-bit grayscale PNG (Pillow mode ``I;16``) using the whole 0-65535 range."""
    values = [rng.randrange(65536) for _ in range(size[0] * size[1])]
    img = Image.frombytes("I;16", size, struct.pack(f"<{len(values)}H", *values))
    return encode(img, "PNG")


def animated_gif(rng: random.Random, frames: int = 3) -> bytes:
    first, *rest = (noise_image(rng, (40, 30)) for _ in range(frames))
    return encode(first, "GIF", save_all=True, append_images=rest, duration=100)


def make_malformed_corpus(root: Path, seed: int = 7, *, label_conflict: bool = True) -> dict[str, str]:
    """Write the corpus under ``root`` (``root/cat``, ``root/dog``) and return
    ``{path relative to root (posix): expected outcome}``, the outcome being one of
    ``"ok"``, ``"converted"``, ``"skipped"`` (an image file that can't be used),
    ``"ignored"`` (not an image file), ``"not followed"`` (a link), ``"duplicate"`` or
    ``"conflict"``. Without ``label_conflict`` the corpus can be trained on."""
    import pillow_heif

    pillow_heif.register_heif_opener()  # to write the iPhone picture
    rng = random.Random(seed)
    files: dict[str, tuple[bytes, str]] = {}
    for animal in ("cat", "dog"):
        for n in range(4):
            files[f"{animal}/good{n}.jpg"] = (encode(noise_image(rng), "JPEG", quality=90), OK)
        files[f"{animal}/good.png"] = (encode(noise_image(rng), "PNG"), OK)
    files["cat/UPPER.JPG"] = (encode(noise_image(rng), "JPEG"), OK)
    files["dog/Mixed.Png"] = (encode(noise_image(rng), "PNG"), OK)
    files["dog/long.jpeg"] = (encode(noise_image(rng, (30, 60)), "JPEG"), OK)

    whole_jpeg = encode(noise_image(rng, (64, 48)), "JPEG")
    whole_png = encode(noise_image(rng, (64, 48)), "PNG")
    files["cat/empty.jpg"] = (b"", SKIPPED)
    files["cat/truncated.jpg"] = (whole_jpeg[: len(whole_jpeg) // 2], SKIPPED)
    files["dog/truncated.png"] = (whole_png[: len(whole_png) // 2], SKIPPED)
    files["dog/random-bytes.jpg"] = (rng.randbytes(2000), SKIPPED)
    files["cat/text.png"] = (b"This is not a picture, just text with a .png name.\n", SKIPPED)
    files["cat/bomb.png"] = (png_claiming_size(20000, 20000), SKIPPED)

    files["cat/cmyk.jpg"] = (encode(noise_image(rng).convert("CMYK"), "JPEG"), CONVERTED)
    files["dog/sixteen-bit.png"] = (sixteen_bit_png(rng), CONVERTED)
    files["dog/palette.png"] = (encode(noise_image(rng).convert("P"), "PNG"), CONVERTED)
    files["cat/rgba.png"] = (encode(noise_image(rng, mode="RGBA"), "PNG"), CONVERTED)
    files["dog/la.png"] = (encode(noise_image(rng, mode="LA"), "PNG"), CONVERTED)
    files["dog/gray.jpg"] = (encode(noise_image(rng, mode="L"), "JPEG"), CONVERTED)

    files["cat/notes.txt"] = (b"cats photographed in 2024\n", IGNORED)

    # what browsers save, what iPhones take, what scanners and old cameras write: all become JPEG
    files["cat/browser.webp"] = (encode(noise_image(rng), "WEBP"), CONVERTED)
    files["dog/iphone.heic"] = (encode(noise_image(rng), "HEIF"), CONVERTED)
    files["cat/scanner.bmp"] = (encode(noise_image(rng), "BMP"), CONVERTED)
    files["dog/camera.tiff"] = (encode(noise_image(rng), "TIFF"), CONVERTED)
    files["cat/still.gif"] = (encode(noise_image(rng).convert("P"), "GIF"), CONVERTED)
    files["dog/wave.gif"] = (animated_gif(rng), CONVERTED)

    files["cat/twice.jpg"] = (files["cat/good0.jpg"][0], DUPLICATE)  # weighs double
    if label_conflict:
        files["dog/which.jpg"] = (files["cat/good1.jpg"][0], CONFLICT)  # a cat, or a dog?

    for relative, (data, _) in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    outcomes = {relative: outcome for relative, (_, outcome) in files.items()}
    links = {"cat/loop": "..", "cat/dogs": "../dog", "dog/again.png": "good.png"}  # parent, sibling class, a picture
    for relative, target in links.items():
        (root / relative).symlink_to(target)
        outcomes[relative] = NOT_FOLLOWED
    return outcomes

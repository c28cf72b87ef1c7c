"""Packing images into records: every listed image is packed or reported, in the same bytes
with any number of threads, and re-encoding resizes, crops and converts the way im2rec does."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from sagewiz.core.dataset.im2rec import Im2recRequest, make_lists, pack_lists
from sagewiz.core.dataset.listing import ListEntry
from sagewiz.core.dataset.packer import PackOptions, pack_images
from sagewiz.core.dataset.recordio import iter_records, unpack_image_record
from sagewiz.tui.cli import main


def photo(path: Path, size=(60, 40), fmt="JPEG", mode="RGB", **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.linear_gradient("L").resize(size).convert(mode) if mode != "RGB" else Image.merge(
        "RGB", [Image.linear_gradient("L").resize(size)] * 2 + [Image.radial_gradient("L").resize(size)]
    )
    img.save(path, fmt, **save)
    return path


def packed_images(rec: Path) -> list[Image.Image]:
    return [Image.open(io.BytesIO(unpack_image_record(payload).image)) for payload in iter_records(rec)]


def pack(tmp_path: Path, names: list[str], options: PackOptions, workers: int = 1):
    entries = [ListEntry(i, name, (float(i % 2),)) for i, name in enumerate(names)]
    return pack_images(entries, tmp_path, tmp_path / "out.rec", tmp_path / "out.idx", options, workers=workers)


def test_resize_sets_the_short_edge_and_keeps_the_aspect_like_im2rec(tmp_path):
    photo(tmp_path / "wide.jpg", (500, 375))
    photo(tmp_path / "tall.png", (375, 500), "PNG")
    result = pack(tmp_path, ["wide.jpg", "tall.png"], PackOptions(resize=224))
    assert result.packed == 2
    # im2rec: long edge = long * 224 // short
    assert [img.size for img in packed_images(result.rec_path)] == [(298, 224), (224, 298)]
    assert {img.format for img in packed_images(result.rec_path)} == {"JPEG"}


def test_a_big_jpeg_decoded_in_draft_mode_still_gets_the_exact_size(tmp_path):
    photo(tmp_path / "big.jpg", (2000, 1500), quality=80)
    result = pack(tmp_path, ["big.jpg"], PackOptions(resize=100))
    assert [img.size for img in packed_images(result.rec_path)] == [(133, 100)]


def test_center_crop_then_resize_gives_a_square(tmp_path):
    photo(tmp_path / "wide.jpg", (90, 60))
    result = pack(tmp_path, ["wide.jpg"], PackOptions(center_crop=True, resize=32))
    assert [img.size for img in packed_images(result.rec_path)] == [(32, 32)]


def test_color_0_packs_grayscale_and_png_encoding_packs_png(tmp_path):
    photo(tmp_path / "a.jpg")
    gray = pack(tmp_path, ["a.jpg"], PackOptions(color=0))
    assert [img.mode for img in packed_images(gray.rec_path)] == ["L"]
    png = pack(tmp_path, ["a.jpg"], PackOptions(encoding=".png", quality=6))
    assert [(img.format, img.mode) for img in packed_images(png.rec_path)] == [("PNG", "RGB")]


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise: stored landscape, shown portrait
    photo(tmp_path / "phone.jpg", (80, 40), exif=exif)
    result = pack(tmp_path, ["phone.jpg"], PackOptions())
    assert [img.size for img in packed_images(result.rec_path)] == [(40, 80)]


@pytest.mark.parametrize("mode, fmt", [("CMYK", "JPEG"), ("I;16", "PNG"), ("P", "PNG"), ("RGBA", "PNG"), ("LA", "PNG"), ("L", "JPEG")])
def test_unusual_colour_modes_are_converted_to_rgb(tmp_path, mode, fmt):
    photo(tmp_path / f"x.{fmt.lower()}", mode=mode, fmt=fmt)
    result = pack(tmp_path, [f"x.{fmt.lower()}"], PackOptions())
    assert [img.mode for img in packed_images(result.rec_path)] == ["RGB"]


@pytest.mark.parametrize("pass_through", [True, False])
def test_reencoded_and_passed_through_records_are_the_same_bytes_with_any_thread_count(tmp_path, pass_through):
    names = [photo(tmp_path / f"{i:02d}.jpg", (40 + i, 30 + 2 * i)).name for i in range(40)]
    options = PackOptions(pass_through=pass_through, resize=0 if pass_through else 24)
    one = pack(tmp_path, names, options, workers=1).rec_path.read_bytes()
    three = pack(tmp_path, names, options, workers=3).rec_path.read_bytes()
    assert one == three and len(list(iter_records(tmp_path / "out.rec"))) == 40


def test_a_file_deleted_after_listing_is_reported_not_fatal(tmp_path):
    photo(tmp_path / "a.jpg")
    result = pack(tmp_path, ["a.jpg", "gone.jpg"], PackOptions(pass_through=True))
    assert result.packed == 1
    assert [(s.path, s.reason) for s in result.skipped] == [("gone.jpg", "the file is gone (moved or deleted after listing)")]


def test_an_interrupted_pack_leaves_no_half_written_record_file(tmp_path):
    names = [photo(tmp_path / f"{i}.jpg").name for i in range(5)]
    entries = [ListEntry(i, name, (0.0,)) for i, name in enumerate(names)]

    def interrupt(_n):  # Ctrl-C while the progress bar is drawing, after some records are written
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pack_images(entries, tmp_path, tmp_path / "out.rec", tmp_path / "out.idx", PackOptions(), progress=interrupt)
    assert not list(tmp_path.glob("out.*"))


def test_progress_adds_up_to_every_listed_image(tmp_path):
    names = [photo(tmp_path / f"{i}.jpg").name for i in range(70)] + ["missing.jpg"]
    entries = [ListEntry(i, name, (0.0,)) for i, name in enumerate(names)]
    reported = []
    for pass_through in (True, False):
        reported.clear()
        result = pack_images(entries, tmp_path, tmp_path / "out.rec", tmp_path / "out.idx",
                             PackOptions(pass_through=pass_through), workers=2, progress=reported.append)
        assert sum(reported) == len(entries) == result.packed + len(result.skipped)


def test_packing_without_lists_says_to_make_them_first(tmp_path, capsys):
    assert main(["im2rec", str(tmp_path / "data"), str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "sagewiz im2rec --list" in err and "Traceback" not in err


def test_exts_may_come_before_prefix_and_root_unlike_im2rec(tmp_path):
    photo(tmp_path / "imgs" / "a.jpg")
    photo(tmp_path / "imgs" / "b.png", fmt="PNG")
    assert main(["im2rec", "--list", "--exts", ".png", str(tmp_path / "data"), str(tmp_path / "imgs")]) == 0
    assert (tmp_path / "data.lst").read_text() == "0\t0.000000\tb.png\n"


def test_a_list_with_damaged_lines_packs_the_rest_and_names_the_lines(tmp_path, capsys):
    photo(tmp_path / "a.jpg")
    (tmp_path / "data.lst").write_text("0\t0.000000\ta.jpg\nthis line is not a list line\n1\tcat\tb.jpg\n")
    assert main(["im2rec", "--pass-through", str(tmp_path / "data"), str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "Skipped line 2" in err and "Skipped line 3" in err and "Packed 1 of 1" in err


def test_every_image_of_the_malformed_corpus_is_packed_converted_or_reported_and_none_twice(tmp_path):
    from corpus import CONVERTED, NOT_FOLLOWED, SKIPPED, make_malformed_corpus
    from sagewiz.core.dataset.walk import IMAGE_EXTENSIONS

    expected = make_malformed_corpus(tmp_path / "photos")
    unusable = {path for path, outcome in expected.items() if outcome == SKIPPED}
    listing = make_lists(Im2recRequest(tmp_path / "data", tmp_path / "photos", recursive=True, exts=IMAGE_EXTENSIONS))
    assert sorted(left.path for left in listing.left_out) == sorted(p for p, o in expected.items() if o == NOT_FOLLOWED)
    listed = [line.split("\t")[-1] for line in (tmp_path / "data.lst").read_text().splitlines()]
    assert len(listed) == len(set(listed)) and listing.classes == {"cat": 0, "dog": 1}  # the links added no class
    assert set(listed) == {p for p, o in expected.items() if o not in ("ignored", NOT_FOLLOWED)}
    to_jpeg = {p for p, o in expected.items() if o == CONVERTED and not p.endswith((".png", ".jpg"))}
    for pass_through in (True, False):
        [report] = pack_lists(Im2recRequest(tmp_path / "data", tmp_path / "photos", pass_through=pass_through, num_thread=2))
        result = report.result
        # nothing is silently dropped: every listed image is either in the .rec or reported
        assert result.listed == len(listed) == result.packed + len(result.skipped)
        assert result.packed == sum(1 for _ in iter_records(result.rec_path))
        assert sum(result.converted.values()) == len(to_jpeg)  # WebP, HEIC, BMP, TIFF, two GIFs: in either mode
        skipped = {s.path for s in result.skipped}  # as written in the .lst
        if pass_through:
            # pass-through never decodes, so it catches broken framing (empty, truncated, not an
            # image) but copies a well-formed PNG whose header claims a huge size
            assert skipped == unusable - {"cat/bomb.png"}
        else:
            assert skipped == unusable
        assert all(s.reason for s in result.skipped)
        images = [unpack_image_record(p).image for p in iter_records(result.rec_path)]
        assert all(image.startswith((b"\xff\xd8", b"\x89PNG")) for image in images)  # all the algorithm can read


# --- pictures in the formats people have -------------------------------------------------------

FORMATS = {"webp": ("WEBP", "WebP"), "heic": ("HEIF", "HEIC"), "avif": ("AVIF", "AVIF"), "bmp": ("BMP", "BMP"),
           "tiff": ("TIFF", "TIFF"), "gif": ("GIF", "GIF")}


def every_format(folder: Path) -> list[str]:
    import pillow_heif  # noqa: F401 - HEIC is written through pillow-heif, read through sagewiz

    pillow_heif.register_heif_opener()
    names = []
    for suffix, (fmt, _) in FORMATS.items():
        photo(folder / f"pic.{suffix}", (60, 40), fmt, mode="P" if fmt == "GIF" else "RGB")
        names.append(f"pic.{suffix}")
    return names


@pytest.mark.parametrize("pass_through", [True, False])
def test_webp_heic_avif_bmp_tiff_and_gif_are_packed_as_jpeg_in_every_mode(tmp_path, pass_through):
    names = every_format(tmp_path) + [photo(tmp_path / "plain.jpg").name, photo(tmp_path / "plain.png", fmt="PNG").name]
    result = pack(tmp_path, names, PackOptions(pass_through=pass_through), workers=2)
    assert result.packed == len(names) and not result.skipped
    assert result.converted == {name: 1 for _, name in FORMATS.values()}  # JPEG and PNG are not conversions
    packed = packed_images(result.rec_path)
    assert [img.format for img in packed[:len(FORMATS)]] == ["JPEG"] * len(FORMATS)
    assert all(img.size == (60, 40) and img.mode == "RGB" for img in packed[:len(FORMATS)])
    if pass_through:  # what the algorithm reads already is still copied byte for byte, as im2rec does
        records = [unpack_image_record(p).image for p in iter_records(result.rec_path)]
        assert records[-2:] == [(tmp_path / "plain.jpg").read_bytes(), (tmp_path / "plain.png").read_bytes()]


def test_an_animated_gif_is_packed_as_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (30, 20), colour) for colour in ((250, 0, 0), (0, 250, 0), (0, 0, 250))]
    frames[0].save(tmp_path / "wave.gif", save_all=True, append_images=frames[1:], duration=100)
    for pass_through in (True, False):
        [img] = packed_images(pack(tmp_path, ["wave.gif"], PackOptions(pass_through=pass_through)).rec_path)
        red, green, blue = img.convert("RGB").getpixel((15, 10))
        assert red > 200 and green < 60 and blue < 60


def test_a_picture_of_a_format_sagewiz_does_not_convert_is_still_skipped_in_pass_through(tmp_path):
    photo(tmp_path / "old.jpg", fmt="PCX")
    result = pack(tmp_path, ["old.jpg"], PackOptions(pass_through=True))
    assert result.packed == 0 and "PCX" in result.skipped[0].reason


def test_im2rec_says_how_many_of_each_format_it_converted(tmp_path, capsys):
    every_format(tmp_path / "imgs" / "cat")
    exts = ["--exts", *(f".{suffix}" for suffix in FORMATS)]
    assert main(["im2rec", "--list", "--recursive", *exts, str(tmp_path / "data"), str(tmp_path / "imgs")]) == 0
    assert main(["im2rec", "--pass-through", str(tmp_path / "data"), str(tmp_path / "imgs")]) == 0
    said = " ".join(capsys.readouterr().err.split())
    assert "6 converted to JPEG (AVIF 1, BMP 1, GIF 1, HEIC 1, TIFF 1, WebP 1)" in said

"""Checking an image folder before anything is packed or uploaded: the user learns what
sagewiz found, what it will skip or convert, and what to fix, before spending any money."""

from __future__ import annotations

import json
import os
import random
import struct
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from corpus import encode, make_malformed_corpus, noise_image, png_claiming_size
from sagewiz.core.dataset.images import MAX_IMAGE_PIXELS, content_hash, inspect_image, to_rgb
from sagewiz.core.dataset.listing import list_images
from sagewiz.core.dataset.scan import LAYOUT_POOL, LAYOUT_SPLITS, count_images, scan_dataset, split_files
from sagewiz.core.errors import InputError

_rng = random.Random(1)


def photo(path: Path, size=(32, 24), fmt="JPEG", data: bytes | None = None) -> Path:
    """Write a small, unique picture (or the given bytes) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if data is not None else encode(noise_image(_rng, size), fmt))
    return path


def photos(folder: Path, n: int, prefix: str = "img") -> list[Path]:
    return [photo(folder / f"{prefix}{i:03d}.jpg") for i in range(n)]


def problems_about(report, path: str):
    return [p for p in report.problems if p.path == path]


# --- layouts -------------------------------------------------------------------------------------


def test_train_test_layout_reports_classes_and_counts(tmp_path):
    photos(tmp_path / "train" / "cat", 3)
    photos(tmp_path / "train" / "dog", 4)
    photos(tmp_path / "test" / "cat", 2)
    photo(tmp_path / "test" / "dog" / "a.png", fmt="PNG", size=(50, 10))

    report = scan_dataset(tmp_path, mini_batch_size=2)

    assert report.layout == LAYOUT_SPLITS
    assert [(c.name, c.label) for c in report.classes] == [("cat", 0), ("dog", 1)]
    assert report.counts == {"train": {"cat": 3, "dog": 4}, "test": {"cat": 2, "dog": 1}}
    assert report.formats == {"JPEG": 9, "PNG": 1}
    assert report.width_range == (32, 50) and report.height_range == (10, 24)
    assert report.total_images == report.usable_images == 10
    assert report.usable, report.problems
    assert [p for p in report.problems if p.severity != "info"] == []


def test_a_val_folder_is_the_validation_split(tmp_path):
    for split in ("train", "val"):
        for animal in ("cat", "dog"):
            photos(tmp_path / split / animal, 2)
    report = scan_dataset(tmp_path, mini_batch_size=2)
    assert set(report.counts) == {"train", "validation"}
    assert report.counts["validation"] == {"cat": 2, "dog": 2}


def test_one_folder_per_class_reports_the_split_it_would_make(tmp_path):
    photos(tmp_path / "cat", 10)
    photos(tmp_path / "dog", 5)
    report = scan_dataset(tmp_path, split_ratio=0.8, mini_batch_size=4)
    assert report.layout == LAYOUT_POOL
    assert report.counts == {"train": {"cat": 8, "dog": 4}, "test": {"cat": 2, "dog": 1}}
    train, test = (set(path for path, _ in report.images[s]) for s in ("train", "test"))
    assert not train & test and len(train | test) == 15


def test_class_labels_are_sorted_folder_names_like_im2rec(tmp_path):
    for name in ("ant", "Zebra", "bee", "Bee"):
        photos(tmp_path / name, 2)
    report = scan_dataset(tmp_path, mini_batch_size=1)
    assert [c.name for c in report.classes] == ["Bee", "Zebra", "ant", "bee"]
    im2rec_labels = list_images(tmp_path, recursive=True).classes
    assert {c.name: c.label for c in report.classes} == im2rec_labels


def test_pictures_in_subfolders_of_a_class_count_for_that_class(tmp_path):
    photos(tmp_path / "cat" / "indoor", 2)
    photos(tmp_path / "cat" / "outdoor" / "garden", 3)
    photos(tmp_path / "dog", 5)
    report = scan_dataset(tmp_path, mini_batch_size=1)
    assert [c.name for c in report.classes] == ["cat", "dog"]
    assert report.counts["train"]["cat"] + report.counts["test"]["cat"] == 5


def test_hidden_files_are_ignored_and_other_files_are_only_noted(tmp_path):
    photos(tmp_path / "cat", 3)
    photos(tmp_path / "dog", 3)
    photo(tmp_path / "dog" / ".hidden.jpg", data=b"junk")
    photo(tmp_path / ".thumbnails" / "x.jpg", data=b"junk")
    (tmp_path / "dog" / "labels.csv").write_text("a,b\n")
    report = scan_dataset(tmp_path, mini_batch_size=1)
    assert report.usable and report.total_images == 6 and report.ignored_files == 1
    [note] = problems_about(report, "dog/labels.csv")
    assert note.severity == "info" and note.action == "ignored"
    assert not any(".hidden" in p.path or ".thumbnails" in p.path for p in report.problems)


def test_pictures_outside_any_class_folder_are_skipped_with_a_reason(tmp_path):
    photos(tmp_path / "train" / "cat", 2)
    photos(tmp_path / "train" / "dog", 2)
    photos(tmp_path / "test" / "cat", 1)
    photos(tmp_path / "test" / "dog", 1)
    photo(tmp_path / "train" / "stray.jpg")
    report = scan_dataset(tmp_path, mini_batch_size=1)
    [problem] = problems_about(report, "train/stray.jpg")
    assert problem.action == "skipped" and "class folder" in problem.reason


# --- damaged and unusual files ------------------------------------------------------------------


def test_truncated_jpeg_is_reported_and_skipped(tmp_path):
    photos(tmp_path / "cat", 3)
    photos(tmp_path / "dog", 3)
    whole = encode(noise_image(_rng, (64, 64)), "JPEG")
    photo(tmp_path / "dog" / "cut.jpg", data=whole[: len(whole) // 2])
    report = scan_dataset(tmp_path, mini_batch_size=1)
    [problem] = problems_about(report, "dog/cut.jpg")
    assert "truncated" in problem.reason and problem.action == "skipped"
    assert report.total_images == 7 and report.usable_images == 6 and report.usable


@pytest.mark.parametrize("cut", [2, 12])
def test_inspect_image_catches_files_missing_their_last_bytes(tmp_path, cut):
    for fmt in ("JPEG", "PNG"):
        data = encode(noise_image(_rng, (64, 48)), fmt)
        path = photo(tmp_path / f"x.{fmt}", data=data[:-cut])
        assert "truncated" in inspect_image(path).problem


def test_a_decompression_bomb_is_refused_without_decoding(tmp_path):
    path = photo(tmp_path / "bomb.png", data=png_claiming_size(20000, 20000))
    info = inspect_image(path)
    assert info.problem and "pixel" in info.problem and (info.width, info.height) == (20000, 20000)
    # just above our own limit, though below Pillow's own guard
    side = int(MAX_IMAGE_PIXELS**0.5) + 1
    info = inspect_image(photo(tmp_path / "big.png", data=png_claiming_size(side, side)))
    assert info.problem and "pixel" in info.problem


def test_a_jpeg_claiming_a_huge_size_is_refused_from_its_header(tmp_path):
    data = bytearray(encode(noise_image(_rng, (8, 8)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 30000, 40000)  # height, width
    info = inspect_image(photo(tmp_path / "huge.jpg", data=bytes(data)))
    assert (info.width, info.height) == (40000, 30000) and "pixel" in info.problem


def test_files_that_are_not_pictures_get_a_plain_reason(tmp_path):
    reasons = {
        name: inspect_image(photo(tmp_path / name, data=data)).problem
        for name, data in {"empty.jpg": b"", "text.png": b"hello", "noise.jpg": _rng.randbytes(500)}.items()
    }
    assert "empty" in reasons["empty.jpg"]
    assert all(reason and "Traceback" not in reason for reason in reasons.values())
    pcx = photo(tmp_path / "old.jpg", data=encode(noise_image(_rng), "PCX"))
    assert "a PCX image; only JPEG, PNG, WebP" in inspect_image(pcx).problem
    gif = inspect_image(photo(tmp_path / "anim.jpg", data=encode(noise_image(_rng), "GIF")))
    assert gif.usable and gif.format == "GIF" and gif.converted_to_jpeg  # what it is, not what it is called


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_an_unreadable_picture_is_reported_not_raised(tmp_path):
    path = photo(tmp_path / "secret.jpg")
    path.chmod(0)
    assert "permission" in inspect_image(path).problem.lower()


def test_a_picture_the_os_refuses_to_open_is_reported_even_when_running_as_root(tmp_path, monkeypatch):
    path = photo(tmp_path / "secret.jpg")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Image, "open", refuse)
    assert "permission" in inspect_image(path).problem.lower()


@pytest.mark.parametrize(
    "mode, expected",
    [("CMYK", "CMYK"), ("P", "palette"), ("RGBA", "alpha"), ("LA", "alpha"), ("L", "grayscale"), ("1", "RGB")],
)
def test_unusual_colour_modes_are_converted_and_say_how(tmp_path, mode, expected):
    fmt = "JPEG" if mode in ("CMYK", "L") else "PNG"
    img = noise_image(_rng, mode="RGBA" if mode in ("RGBA",) else "RGB").convert(mode)
    info = inspect_image(photo(tmp_path / f"x.{fmt.lower()}", data=encode(img, fmt)))
    assert info.problem is None and expected in info.conversion
    converted = to_rgb(Image.open(tmp_path / f"x.{fmt.lower()}"))
    assert converted.mode == "RGB" and converted.size == img.size


def test_pictures_in_every_common_format_are_checked_and_will_become_jpeg(tmp_path):
    import pillow_heif

    pillow_heif.register_heif_opener()  # to write the HEIC; sagewiz reads it by itself
    kinds = {"webp": "WEBP", "heic": "HEIF", "avif": "AVIF", "bmp": "BMP", "tif": "TIFF", "gif": "GIF"}
    for animal in ("cat", "dog"):
        photos(tmp_path / animal, 2)
        for suffix, fmt in kinds.items():
            photo(tmp_path / animal / f"{animal}.{suffix}", fmt=fmt, size=(40, 30))
    report = scan_dataset(tmp_path, mini_batch_size=1)
    assert report.usable and report.usable_images == 16
    assert report.formats == {"AVIF": 2, "BMP": 2, "GIF": 2, "HEIF": 2, "JPEG": 4, "TIFF": 2, "WEBP": 2}
    assert report.converted == {"AVIF": 2, "BMP": 2, "GIF": 2, "HEIC": 2, "TIFF": 2, "WebP": 2}
    [webp] = problems_about(report, "cat/cat.webp")
    assert (webp.severity, webp.action) == ("info", "converted to JPEG") and "only JPEG and PNG" in webp.reason
    assert "12 pictures will be converted to JPEG when packed (AVIF 2, BMP 2, GIF 2, HEIC 2, TIFF 2, WebP 2)." in report.summary


def test_an_animated_gif_is_said_only_its_first_frame_is_used(tmp_path):
    photos(tmp_path / "cat", 2)
    photos(tmp_path / "dog", 2)
    frames = [noise_image(_rng, (30, 20)) for _ in range(4)]
    frames[0].save(tmp_path / "cat" / "wave.gif", save_all=True, append_images=frames[1:], duration=100)
    report = scan_dataset(tmp_path, mini_batch_size=1)
    [gif] = problems_about(report, "cat/wave.gif")
    assert gif.severity == "warning" and gif.action == "converted to JPEG"
    assert "animation of 4 frames" in gif.reason and "only the first" in gif.reason
    assert report.counts["train"]["cat"] + report.counts["test"]["cat"] == 3


def test_a_phone_photo_stored_on_its_side_is_measured_upright_as_it_is_packed(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 80×40, shown (and packed) 40×80
    photo(tmp_path / "phone.jpg", data=encode(noise_image(_rng, (80, 40)), "JPEG", exif=exif))
    info = inspect_image(tmp_path / "phone.jpg")
    assert (info.width, info.height) == (40, 80)


def test_plain_rgb_needs_no_conversion(tmp_path):
    info = inspect_image(photo(tmp_path / "x.jpg"))
    assert (info.format, info.mode, info.problem, info.conversion) == ("JPEG", "RGB", None, None)


def test_sixteen_bit_pictures_are_scaled_not_clipped_to_white():
    values = [0, 256, 32768, 65535]
    img = Image.frombytes("I;16", (4, 1), struct.pack("<4H", *values))
    assert list(to_rgb(img).convert("L").tobytes()) == [0, 1, 128, 255]
    assert list(to_rgb(img.convert("I")).convert("L").tobytes()) == [0, 1, 128, 255]


def test_transparent_areas_become_white_not_black():
    img = Image.new("RGBA", (2, 1), (10, 20, 30, 255))
    img.putpixel((1, 0), (0, 0, 0, 0))
    rgb = to_rgb(img)
    assert rgb.getpixel((0, 0)) == (10, 20, 30) and rgb.getpixel((1, 0)) == (255, 255, 255)
    palette = img.convert("P")
    assert to_rgb(palette).mode == "RGB"


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LA", "PA", "I", "F", "I;16", "I;16B", "HSV", "LAB"])
def test_every_mode_becomes_8_bit_rgb(mode):
    img = Image.new(mode, (3, 2))
    out = to_rgb(img)
    assert out.mode == "RGB" and out.size == (3, 2)


def test_same_bytes_same_hash(tmp_path):
    data = encode(noise_image(_rng), "PNG")
    a, b = photo(tmp_path / "a.png", data=data), photo(tmp_path / "b.png", data=data)
    assert content_hash(a) == content_hash(b) != content_hash(photo(tmp_path / "c.png", fmt="PNG"))


# --- what the dataset as a whole needs ----------------------------------------------------------


def test_same_photo_in_train_and_test_is_flagged_as_leakage(tmp_path):
    photos(tmp_path / "train" / "cat", 3)
    photos(tmp_path / "train" / "dog", 3)
    photos(tmp_path / "test" / "dog", 2)
    leaked = (tmp_path / "train" / "cat" / "img001.jpg").read_bytes()
    photo(tmp_path / "test" / "cat" / "copy.jpg", data=leaked)
    report = scan_dataset(tmp_path, mini_batch_size=1)
    [problem] = [p for p in report.problems if "train/cat/img001.jpg" in p.path + p.reason and "test/cat/copy.jpg" in p.path + p.reason]
    assert problem.severity == "warning" and "test" in problem.reason


def test_the_same_picture_twice_in_a_class_weighs_double_and_in_two_classes_is_a_label_conflict(tmp_path):
    for animal in ("cat", "dog"):
        photos(tmp_path / "train" / animal, 3)
        photos(tmp_path / "test" / animal, 1, prefix="t")
    train = tmp_path / "train"
    photo(train / "cat" / "again.jpg", data=(train / "cat" / "img000.jpg").read_bytes())
    report = scan_dataset(tmp_path, mini_batch_size=1)
    [same_class] = problems_about(report, "train/cat/img000.jpg")  # the first by name is kept as the original
    assert same_class.severity == "warning" and "train/cat/again.jpg" in same_class.reason and "weighs double" in same_class.reason
    assert report.usable  # a copy in its own class is the user's choice to make

    photo(train / "dog" / "which.jpg", data=(train / "cat" / "img001.jpg").read_bytes())
    report = scan_dataset(tmp_path, mini_batch_size=1)
    [conflict] = problems_about(report, "train/dog/which.jpg")
    assert conflict.severity == "error" and "train/cat/img001.jpg" in conflict.reason and "label conflict" in conflict.reason
    assert not report.usable
    assert any("train/cat/img001.jpg" in fix and "train/dog/which.jpg" in fix for fix in report.summary)


def test_a_picture_in_train_of_one_class_and_test_of_another_is_a_label_conflict_too(tmp_path):
    for animal in ("cat", "dog"):
        photos(tmp_path / "train" / animal, 3)
        photos(tmp_path / "test" / animal, 1, prefix="t")
    photo(tmp_path / "test" / "dog" / "cat-really.jpg", data=(tmp_path / "train" / "cat" / "img002.jpg").read_bytes())
    report = scan_dataset(tmp_path, mini_batch_size=1)
    [conflict] = problems_about(report, "test/dog/cat-really.jpg")
    assert conflict.severity == "error" and "train/cat/img002.jpg" in conflict.reason


def test_copies_in_a_folder_to_be_split_are_flagged_if_the_split_separates_them(tmp_path):
    photos(tmp_path / "cat", 10)
    photos(tmp_path / "dog", 10)
    for i in range(10):
        photo(tmp_path / "cat" / f"copy{i}.jpg", data=(tmp_path / "cat" / f"img{i:03d}.jpg").read_bytes())
    report = scan_dataset(tmp_path, mini_batch_size=1)
    side = {path: split for split, pairs in report.images.items() for path, _ in pairs}
    separated = [i for i in range(10) if side[f"cat/copy{i}.jpg"] != side[f"cat/img{i:03d}.jpg"]]
    leaks = [p for p in report.problems if "after the split" in p.reason]
    assert separated and len(leaks) == len(separated)


def test_single_class_folder_is_not_usable_and_says_why(tmp_path):
    photos(tmp_path / "cat", 5)
    report = scan_dataset(tmp_path, mini_batch_size=1)
    assert not report.usable
    assert any(p.severity == "error" and "class" in p.reason for p in report.problems)
    assert "two" in " ".join(report.summary) or "2" in " ".join(report.summary)


def test_class_smaller_than_batch_names_largest_batch_that_fits(tmp_path):
    photos(tmp_path / "train" / "cat", 40)
    photos(tmp_path / "train" / "dog", 12)
    for animal in ("cat", "dog"):
        photos(tmp_path / "test" / animal, 3)
    report = scan_dataset(tmp_path, mini_batch_size=32)
    [small] = [p for p in report.problems if p.path == "train/dog" and "mini_batch_size" in p.reason]
    assert small.severity == "warning" and "12" in small.reason
    assert report.usable


def test_fewer_training_images_than_one_batch_is_not_usable(tmp_path):
    for animal in ("cat", "dog"):
        photos(tmp_path / "train" / animal, 3)
        photos(tmp_path / "test" / animal, 1)
    report = scan_dataset(tmp_path, mini_batch_size=32)
    assert not report.usable
    assert any("mini_batch_size" in s and "6" in s for s in report.summary)


def test_strong_imbalance_is_a_warning(tmp_path):
    photos(tmp_path / "cat", 20)
    photos(tmp_path / "dog", 4)
    report = scan_dataset(tmp_path, mini_batch_size=1)
    assert any(p.severity == "warning" and "imbalance" in p.reason.lower() for p in report.problems)


def test_class_only_in_test_is_an_error_and_class_only_in_train_a_warning(tmp_path):
    for animal in ("cat", "dog", "fox"):
        photos(tmp_path / "train" / animal, 2)
    for animal in ("cat", "dog", "owl"):
        photos(tmp_path / "test" / animal, 2)
    report = scan_dataset(tmp_path, mini_batch_size=1)
    [owl] = problems_about(report, "test/owl")
    [fox] = [p for p in report.problems if p.path == "train/fox" and "test" in p.reason]
    assert owl.severity == "error" and fox.severity == "warning" and not report.usable


def test_every_file_in_the_malformed_corpus_is_counted_or_reported_and_none_twice(tmp_path):
    expected = make_malformed_corpus(tmp_path)
    report = scan_dataset(tmp_path, mini_batch_size=1)
    by_path = {p.path: p for p in report.problems}
    pairs = [pair for split in report.images.values() for pair in split]
    scanned = {path for path, _ in pairs}
    assert len(pairs) == len(scanned) == report.usable_images  # no picture in two splits or two classes
    for path, outcome in expected.items():
        if outcome == "ok":
            assert path in scanned and path not in by_path, path
        elif outcome == "converted":
            assert path in scanned and by_path[path].action.startswith("converted"), path
        elif outcome == "skipped":
            assert path not in scanned and by_path[path].action == "skipped", path
        elif outcome == "not followed":
            assert path not in scanned and by_path[path].action == "not followed", path
        elif outcome in ("duplicate", "conflict"):
            assert path in scanned, path
        else:
            assert by_path[path].action == "ignored" and by_path[path].severity == "info", path
    counted = {path: outcome for path, outcome in expected.items() if outcome not in ("ignored", "not followed")}
    assert report.total_images == len(counted)
    assert report.usable_images == sum(outcome not in ("skipped",) for outcome in counted.values())
    for animal in ("cat", "dog"):  # the links to dog/ and back to the top added nothing to cat
        usable = sum(path.startswith(f"{animal}/") and outcome != "skipped" for path, outcome in counted.items())
        assert sum(report.counts[split][animal] for split in report.counts) == usable, animal
    assert "a link back to the top folder" in by_path["cat/loop"].reason and "dog/" in by_path["cat/dogs"].reason
    assert "dog/good.png" in by_path["dog/again.png"].reason
    assert report.converted == {"BMP": 1, "GIF": 2, "HEIC": 1, "TIFF": 1, "WebP": 1}
    assert "animation of 3 frames" in by_path["dog/wave.gif"].reason
    twins = {"cat/good0.jpg", "cat/twice.jpg"}
    [double] = [p for p in report.problems if p.path in twins and (twins - {p.path}).pop() in p.reason]
    assert double.severity == "warning"  # weighs double, or is in train and test after the split
    [conflict] = [p for p in report.problems if p.severity == "error"]
    assert conflict.path == "dog/which.jpg" and "cat/good1.jpg" in conflict.reason and "label conflict" in conflict.reason
    assert not report.usable
    json.dumps(report.to_dict())


def test_the_malformed_corpus_without_its_label_conflict_can_be_trained_on(tmp_path):
    make_malformed_corpus(tmp_path, label_conflict=False)
    assert scan_dataset(tmp_path, mini_batch_size=1).usable


def test_missing_folder_raises_input_error_with_hint(tmp_path):
    with pytest.raises(InputError) as raised:
        scan_dataset(tmp_path / "nope")
    assert "nope" in raised.value.message and raised.value.hint
    (tmp_path / "file.jpg").write_bytes(b"x")
    with pytest.raises(InputError) as raised:
        scan_dataset(tmp_path / "file.jpg")
    assert raised.value.hint


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any folder")
def test_unreadable_folder_raises_input_error_with_hint(tmp_path):
    (tmp_path / "locked").mkdir(mode=0)
    try:
        with pytest.raises(InputError) as raised:
            scan_dataset(tmp_path / "locked")
        assert raised.value.hint
    finally:
        (tmp_path / "locked").chmod(0o755)


def test_a_folder_the_os_refuses_to_list_raises_input_error_even_as_root(tmp_path, monkeypatch):
    import sagewiz.core.dataset.scan as scan

    real_scandir = os.scandir

    def refuse(path):
        if os.fspath(path) == str(tmp_path):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(scan.os, "scandir", refuse)
    with pytest.raises(InputError) as raised:
        scan_dataset(tmp_path)
    assert "Permission denied" in raised.value.message and "permission" in raised.value.hint


def test_a_class_subfolder_that_cant_be_listed_is_reported_and_the_rest_checked(tmp_path, monkeypatch):
    import sagewiz.core.dataset.scan as scan

    photos(tmp_path / "cat", 3)
    photos(tmp_path / "dog", 3)
    photos(tmp_path / "dog" / "private", 2)
    real_scandir = os.scandir

    def refuse(path):
        if os.fspath(path).endswith("private"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(scan.os, "scandir", refuse)
    report = scan_dataset(tmp_path, mini_batch_size=1)
    [problem] = problems_about(report, "dog/private")
    assert problem.action == "skipped" and report.usable_images == 6


def test_a_folder_that_links_to_itself_is_walked_once(tmp_path):
    photos(tmp_path / "cat", 2)
    photos(tmp_path / "dog", 2)
    (tmp_path / "dog" / "loop").symlink_to(tmp_path / "dog")
    report = scan_dataset(tmp_path, mini_batch_size=1)
    assert report.total_images == 4  # the link leads back to a folder already walked


def test_a_link_back_to_the_parent_is_said_and_no_picture_counts_in_two_classes(tmp_path):
    """The issue's folder: train/cats/loop -> .. made the check count 17 cats for 11."""
    photos(tmp_path / "train" / "cats", 11)
    photos(tmp_path / "train" / "dogs", 6)
    for animal in ("cats", "dogs"):
        photos(tmp_path / "test" / animal, 2, prefix="t")
    (tmp_path / "train" / "cats" / "loop").symlink_to("..")
    report = scan_dataset(tmp_path, mini_batch_size=1)
    assert report.counts["train"] == {"cats": 11, "dogs": 6} and report.total_images == 21
    [loop] = problems_about(report, "train/cats/loop")
    assert loop.severity == "warning" and loop.action == "not followed"
    assert "a link back to train/, which holds it" in loop.reason


def test_a_link_to_a_sibling_class_is_said_and_its_pictures_stay_in_their_own_class(tmp_path):
    photos(tmp_path / "cats", 4)
    photos(tmp_path / "dogs", 3)
    (tmp_path / "cats" / "more").symlink_to(tmp_path / "dogs")  # met before dogs/ itself is walked
    (tmp_path / "kittens").symlink_to("cats")  # a class folder that is a link to another
    report = scan_dataset(tmp_path, mini_batch_size=1)
    assert [c.name for c in report.classes] == ["cats", "dogs"]
    assert report.total_images == 7 and {n: report.counts["train"][n] + report.counts["test"][n] for n in ("cats", "dogs")} == {"cats": 4, "dogs": 3}
    [more] = problems_about(report, "cats/more")
    assert "a link to dogs/, which is listed already" in more.reason and more.action == "not followed"
    [kittens] = problems_about(report, "kittens")
    assert "a link to cats/" in kittens.reason


def test_a_folder_outside_linked_in_twice_is_walked_once(tmp_path):
    photos(tmp_path / "elsewhere", 3)
    photos(tmp_path / "data" / "dogs", 3)
    (tmp_path / "data" / "cats").symlink_to(tmp_path / "elsewhere")  # the usual reason for a link: followed
    (tmp_path / "data" / "dogs" / "oops").symlink_to(tmp_path / "elsewhere")
    report = scan_dataset(tmp_path / "data", mini_batch_size=1)
    assert report.total_images == 6 and report.usable
    [oops] = problems_about(report, "dogs/oops")
    assert "a link to cats/" in oops.reason


def test_a_link_to_a_single_picture_counts_it_once_where_it_really_is(tmp_path):
    photos(tmp_path / "cats", 3)
    photos(tmp_path / "dogs", 3)
    (tmp_path / "cats" / "a-dog.jpg").symlink_to(tmp_path / "dogs" / "img001.jpg")  # sorted before the real one
    (tmp_path / "dogs" / "same.jpg").symlink_to("img002.jpg")
    (tmp_path / "elsewhere.jpg").write_bytes((tmp_path / "cats" / "img000.jpg").read_bytes())
    (tmp_path / "cats" / "outside.jpg").symlink_to(tmp_path / "elsewhere.jpg")  # the only way to it: a picture
    report = scan_dataset(tmp_path, mini_batch_size=1)
    scanned = {path for split in report.images.values() for path, _ in split}
    assert "dogs/img001.jpg" in scanned and "cats/a-dog.jpg" not in scanned and "dogs/same.jpg" not in scanned
    [linked] = problems_about(report, "cats/a-dog.jpg")
    assert linked.severity == "warning" and "a link to dogs/img001.jpg, which is counted already" in linked.reason
    [same] = problems_about(report, "dogs/same.jpg")
    assert same.severity == "info" and same.action == "not followed"
    assert "cats/outside.jpg" in scanned  # a link to a picture outside is that picture (here, a copy of img000)
    assert report.total_images == 3 + 3 + 1 + 1  # and elsewhere.jpg itself, a picture outside any class folder


def test_empty_folder_is_not_usable_and_says_where_images_go(tmp_path):
    (tmp_path / "cat").mkdir()
    report = scan_dataset(tmp_path)
    assert not report.usable and report.total_images == 0
    assert any("cat/" in s or "folder" in s for s in report.summary)


def test_bad_settings_are_input_errors(tmp_path):
    photos(tmp_path / "cat", 2)
    with pytest.raises(InputError):
        scan_dataset(tmp_path, split_ratio=1.0)
    with pytest.raises(InputError):
        scan_dataset(tmp_path, mini_batch_size=0)


# --- the split ----------------------------------------------------------------------------------


def test_split_is_seeded_and_stratified():
    files = [(f"cat/{i}.jpg", "cat") for i in range(50)] + [(f"dog/{i}.jpg", "dog") for i in range(10)]
    train, test = split_files(files, 0.8, seed=100)
    assert (train, test) == split_files(list(reversed(files)), 0.8, seed=100)
    assert Counter(c for _, c in train) == {"cat": 40, "dog": 8}
    assert Counter(c for _, c in test) == {"cat": 10, "dog": 2}
    other_train, _ = split_files(files, 0.8, seed=101)
    assert set(other_train) != set(train)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from("abc"), max_size=40), st.floats(0.05, 0.95), st.integers(0, 10**6))
def test_split_puts_every_file_in_exactly_one_side(classes, ratio, seed):
    files = [(f"{c}/{i}.jpg", c) for i, c in enumerate(classes)]
    train, test = split_files(files, ratio, seed)
    assert sorted(train + test) == sorted(files)
    for c in set(classes):
        n = classes.count(c)
        in_test = sum(1 for _, k in test if k == c)
        # every class with two or more pictures is both learned and measured
        assert (n < 2 and in_test == 0) or 1 <= in_test <= n - 1


# --- speed ---------------------------------------------------------------------------------------


def test_many_files_are_inspected_in_parallel_with_progress(tmp_path):
    tiny = [encode(noise_image(_rng, (8, 8)), "PNG") for _ in range(2)]
    for i in range(230):
        photo(tmp_path / ("cat" if i % 2 else "dog") / f"{i}.png", data=tiny[i % 2][:-20] if i == 7 else encode(noise_image(_rng, (8, 8)), "PNG"))
    assert count_images(tmp_path) == 230
    done = []
    parallel = scan_dataset(tmp_path, mini_batch_size=8, workers=2, progress=done.append)
    assert sum(done) == 230
    serial = scan_dataset(tmp_path, mini_batch_size=8, workers=1)
    assert parallel.to_dict() == serial.to_dict()
    assert parallel.usable_images == 229

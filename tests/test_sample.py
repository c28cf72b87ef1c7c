"""`sagewiz sample DIR`: a new user gets a small real dataset to try every step with."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from PIL import Image

from sagewiz.core.dataset import sample
from sagewiz.core.dataset.sample import MARKER_NAME, load_digits, write_sample_dataset
from sagewiz.core.errors import InputError


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".sagewiz-" in p.name]


def _folder_counts(root: Path, split: str) -> dict[int, int]:
    return {int(d.name.removeprefix("digit_")): len(list(d.glob("*.png"))) for d in sorted((root / split).iterdir())}


def test_the_vendored_digits_come_with_their_license_notice():
    digits = load_digits()
    assert len(digits) == 1797
    assert {digit for digit, _ in digits} == set(range(10))
    assert all(len(pixels) == 64 and max(pixels) <= 16 for _, pixels in digits)
    notice = resources.files("sagewiz.core.dataset").joinpath("data", "NOTICE.md").read_text()
    for credit in ("scikit-learn 1.9.1", "BSD 3-Clause", "The scikit-learn developers", "Alpaydin", "Kaynak", "CC BY 4.0"):
        assert credit in notice


def test_sample_writes_train_and_test_folders_of_rgb_pngs(tmp_path):
    target = tmp_path / "digits"
    summary = write_sample_dataset(target)

    assert summary.path == target.resolve()
    assert summary.classes == tuple(range(10))
    assert summary.train_total + summary.test_total == 1797
    assert _folder_counts(target, "train") == summary.train_counts
    assert _folder_counts(target, "test") == summary.test_counts
    # Stratified: every digit keeps about a fifth of its images for testing.
    for digit in range(10):
        share = summary.test_counts[digit] / (summary.test_counts[digit] + summary.train_counts[digit])
        assert share == pytest.approx(0.2, abs=0.01)
    for path in [*target.glob("train/digit_3/*.png")][:5] + [*target.glob("test/digit_9/*.png")][:5]:
        with Image.open(path) as image:
            assert (image.format, image.mode, image.size) == ("PNG", "RGB", (32, 32))
    marker = json.loads((target / MARKER_NAME).read_text())
    assert marker["classes"] == list(range(10)) and marker["size"] == 32 and marker["seed"] == 0


def test_the_images_look_like_dark_ink_on_light_paper(tmp_path):
    write_sample_dataset(tmp_path / "d", classes=[0, 1], size=48)
    with Image.open(next((tmp_path / "d/train/digit_0").glob("*.png"))) as image:
        gray = image.convert("L")
        corners = [gray.getpixel(xy) for xy in [(0, 0), (47, 0), (0, 47), (47, 47)]]
        assert min(corners) > 200  # a light page
        assert gray.getextrema()[0] < 60  # with dark strokes on it


def test_sample_is_byte_for_byte_reproducible(tmp_path):
    first = write_sample_dataset(tmp_path / "a", size=20, classes=[2, 7, 4], seed=5)
    second = write_sample_dataset(tmp_path / "b", size=20, classes=[2, 7, 4], seed=5)
    write_sample_dataset(tmp_path / "c", size=20, classes=[2, 7, 4], seed=6)

    assert first.to_dict() | {"path": ""} == second.to_dict() | {"path": ""}
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert sorted(_files(tmp_path / "a")) != sorted(_files(tmp_path / "c"))  # another split


def test_large_images_are_the_same_whether_written_by_one_thread_or_many(tmp_path, monkeypatch):
    write_sample_dataset(tmp_path / "threads", size=72, classes=[0, 1])
    monkeypatch.setattr(sample, "_THREADS_FROM_SIZE", 10_000)
    write_sample_dataset(tmp_path / "serial", size=72, classes=[0, 1])
    assert _files(tmp_path / "threads") == _files(tmp_path / "serial")


def test_two_class_sample_for_a_quick_try(tmp_path):
    summary = write_sample_dataset(tmp_path / "zero-or-one", classes=[1, 0], test_fraction=0.25)

    assert summary.classes == (0, 1)
    for split in ("train", "test"):
        assert sorted(p.name for p in (tmp_path / "zero-or-one" / split).iterdir()) == ["digit_0", "digit_1"]
    assert summary.train_total + summary.test_total == 178 + 182
    assert summary.to_dict()["labels"] == ["digit_0", "digit_1"]


def test_progress_reports_every_image_written(tmp_path):
    reported = []
    summary = write_sample_dataset(tmp_path / "d", classes=[5, 6], progress=reported.append)
    assert sum(reported) == summary.train_total + summary.test_total
    assert len(reported) > 1  # a moving bar, not one jump at the end


def test_sample_refuses_to_overwrite_a_folder_with_user_files(tmp_path):
    photos = tmp_path / "my-photos"
    (photos / "cats").mkdir(parents=True)
    (photos / "cats" / "tom.jpg").write_bytes(b"precious")

    with pytest.raises(InputError) as caught:
        write_sample_dataset(photos)

    assert "did not write" in caught.value.message and "new or empty folder" in caught.value.hint
    assert _files(photos) == {"cats/tom.jpg": b"precious"}
    assert _leftovers(tmp_path) == []


def test_sample_refuses_an_earlier_sample_the_user_added_files_to(tmp_path):
    target = tmp_path / "digits"
    write_sample_dataset(target, classes=[0, 1])
    (target / "train" / "digit_0" / "my_own_zero.png").write_bytes(b"mine")

    with pytest.raises(InputError):
        write_sample_dataset(target, classes=[3, 4])
    assert (target / "train" / "digit_0" / "my_own_zero.png").read_bytes() == b"mine"


def test_sample_writes_into_an_empty_folder_and_refuses_a_file(tmp_path):
    (tmp_path / "empty").mkdir()
    assert write_sample_dataset(tmp_path / "empty", classes=[0, 1]).test_total == 72
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="not a folder"):
        write_sample_dataset(tmp_path / "notes.txt")


def test_sample_replaces_an_earlier_sample(tmp_path):
    target = tmp_path / "digits"
    write_sample_dataset(target)
    summary = write_sample_dataset(target, classes=[8, 9], size=16)

    assert sorted(p.name for p in (target / "train").iterdir()) == ["digit_8", "digit_9"]
    assert json.loads((target / MARKER_NAME).read_text())["classes"] == [8, 9]
    assert len(list(target.rglob("*.png"))) == summary.train_total + summary.test_total
    assert _leftovers(tmp_path) == []


def test_an_interrupted_sample_leaves_no_half_dataset(tmp_path):
    def interrupt(_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_sample_dataset(tmp_path / "new", progress=interrupt)
    assert not (tmp_path / "new").exists()

    write_sample_dataset(tmp_path / "old", classes=[0, 1])
    before = _files(tmp_path / "old")
    with pytest.raises(KeyboardInterrupt):
        write_sample_dataset(tmp_path / "old", classes=[2, 3], progress=interrupt)
    assert _files(tmp_path / "old") == before
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"size": 7}, "size"),
        ({"size": 513}, "size"),
        ({"classes": [3]}, "two classes"),
        ({"classes": [0, 10]}, "no digit 10"),
        ({"test_fraction": 0}, "Test fraction"),
        ({"test_fraction": 0.9}, "Test fraction"),
    ],
)
def test_out_of_range_arguments_are_refused_before_anything_is_written(tmp_path, arguments, words):
    with pytest.raises(InputError, match=words) as caught:
        write_sample_dataset(tmp_path / "d", **arguments)
    assert caught.value.hint
    assert list(tmp_path.iterdir()) == []


def test_bad_size_gets_a_clear_message(tmp_path, capsys):
    from sagewiz.tui.cli import main

    assert main(["sample", str(tmp_path / "d"), "--size", "4"]) == 1
    err = capsys.readouterr().err
    assert "Image size 4 is out of range" in err and "8 to 512" in err and "Traceback" not in err
    assert main(["sample", str(tmp_path / "d"), "--classes", "zero,one"]) == 1
    assert "--classes" in capsys.readouterr().err


def test_json_summary_goes_to_stdout(tmp_path, capsys):
    from sagewiz.tui.cli import main

    assert main(["sample", str(tmp_path / "d"), "--classes", "0,1", "--seed", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["labels"] == ["digit_0", "digit_1"] and summary["train_total"] + summary["test_total"] == 360


def test_the_console_script_writes_a_sample_and_names_the_next_step(tmp_path):
    target = tmp_path / "my digits"
    done = subprocess.run(
        [sys.executable, "-m", "sagewiz.tui.cli", "sample", str(target), "--classes", "0,1,2", "--size", "24"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # stdout stays clean for pipes; people read stderr
    assert "Wrote 537 images" in done.stderr
    assert "sagewiz check" in done.stderr and "my digits" in done.stderr
    with Image.open(next(target.glob("test/digit_2/*.png"))) as image:
        assert image.size == (24, 24)

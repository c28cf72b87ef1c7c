"""A second check of the same pictures opens only what changed: the cache of what checking found.

The user's story: a folder of thousands of photos is checked by the wizard, then again by
`sagewiz run`; or a check is stopped with Ctrl-C and started again. Neither starts over.
"""

from __future__ import annotations

import os
import sqlite3

import pytest
from PIL import Image

from sagewiz.core.dataset import check_cache, scan
from sagewiz.core.dataset.check_cache import CheckCache
from sagewiz.core.dataset.images import ImageInfo, inspect_image

WAIT_FOR_FRESH_PICTURES = check_cache.RECENT_NS


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A sagewiz home of its own; pictures count as remembered as soon as they are checked (the
    two-second wait for freshly written pictures is tested on its own below)."""
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(check_cache, "RECENT_NS", 0)
    return tmp_path / "home"


@pytest.fixture
def opened(monkeypatch):
    """The paths the check really opened, in order."""
    paths: list[str] = []

    def counting(path):
        paths.append(os.fspath(path))
        return inspect_image(path)

    monkeypatch.setattr(scan, "inspect_image", counting)
    return paths


def folder_of_photos(root, per_class=6):
    for name, colour in (("cats", (200, 90, 40)), ("dogs", (40, 90, 200))):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (40 + i, 30), (colour[0], colour[1] + i, colour[2])).save(root / name / f"{name}{i}.jpg")
    return root


def test_a_second_check_of_unchanged_pictures_opens_none_of_them_and_says_the_same(tmp_path, home, opened):
    data = folder_of_photos(tmp_path / "pets")
    first = scan.scan_dataset(data)
    assert len(opened) == 12
    opened.clear()
    second = scan.scan_dataset(data)
    assert opened == []
    assert second.to_dict() == first.to_dict()
    assert (home / "cache" / check_cache.FILE_NAME).exists()


def test_a_picture_changed_or_replaced_since_is_checked_again(tmp_path, home, opened):
    data = folder_of_photos(tmp_path / "pets")
    scan.scan_dataset(data)
    opened.clear()
    (data / "cats" / "cats0.jpg").write_bytes(b"not a picture any more")  # rewritten in place
    replacement = tmp_path / "new.jpg"
    Image.new("RGB", (41, 30), (1, 2, 3)).save(replacement)
    os.replace(replacement, data / "dogs" / "dogs1.jpg")  # another file under the same name
    report = scan.scan_dataset(data)
    assert sorted(os.path.basename(p) for p in opened) == ["cats0.jpg", "dogs1.jpg"]
    assert any(p.path == "cats/cats0.jpg" and p.action == "skipped" for p in report.problems)


def test_a_check_stopped_with_ctrl_c_goes_on_where_it_stopped(tmp_path, home, opened, monkeypatch):
    data = folder_of_photos(tmp_path / "pets", per_class=150)  # 300: checked on worker threads
    monkeypatch.setattr(scan, "_REPORT_EVERY_S", 0)  # a progress report per picture, to stop at a known one

    checked = 0

    def ctrl_c_after_100(n):
        nonlocal checked
        checked += n
        if checked >= 100:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scan.scan_dataset(data, progress=ctrl_c_after_100, workers=2)
    before = len(opened)
    assert 100 <= before < 300  # the pictures queued behind the window were never opened
    opened.clear()
    report = scan.scan_dataset(data, workers=2)
    assert len(opened) == 300 - before  # only those not checked before the interruption
    assert report.usable and report.usable_images == 300


def test_a_picture_written_in_the_last_seconds_is_not_remembered_yet(tmp_path, home, opened, monkeypatch):
    monkeypatch.setattr(check_cache, "RECENT_NS", WAIT_FOR_FRESH_PICTURES)
    data = folder_of_photos(tmp_path / "pets", per_class=2)
    scan.scan_dataset(data)
    opened.clear()
    scan.scan_dataset(data)
    assert len(opened) == 4  # same size and times could still hide other bytes: opened again
    old = 1_600_000_000
    for picture in (data / "cats").iterdir():  # an old photo (ctime stays new: still opened again)
        os.utime(picture, (old, old))
    opened.clear()
    scan.scan_dataset(data)
    assert len(opened) == 4


def test_answers_of_the_moment_are_not_remembered(tmp_path, home):
    picture = tmp_path / "a.jpg"
    Image.new("RGB", (8, 8)).save(picture)
    key = check_cache.stat_key(str(picture))
    with CheckCache() as cache:
        cache.keep(str(picture), key, ImageInfo(None, 0, 0, "", problem="can't read it: permission denied"), None)
    with CheckCache() as cache:
        assert cache.lookup(str(picture), key) is None


def test_another_pillow_or_sagewiz_starts_the_cache_afresh(tmp_path, home, opened, monkeypatch):
    data = folder_of_photos(tmp_path / "pets", per_class=2)
    scan.scan_dataset(data)
    monkeypatch.setattr(check_cache, "checker_version", lambda: "sagewiz next; Pillow 99")
    opened.clear()
    scan.scan_dataset(data)
    assert len(opened) == 4


def test_a_damaged_cache_file_only_costs_the_time_it_would_have_saved(tmp_path, home, opened):
    data = folder_of_photos(tmp_path / "pets", per_class=2)
    cache_file = home / "cache" / check_cache.FILE_NAME
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"this is not a database" * 100)
    report = scan.scan_dataset(data)
    assert report.usable_images == 4 and len(opened) == 4
    opened.clear()
    scan.scan_dataset(data)
    assert opened == []  # started afresh, and remembering again


def test_a_cache_that_cant_be_written_is_left_out(tmp_path, home, opened):
    home.mkdir()
    (home / "cache").write_text("a file where the cache folder would be")
    data = folder_of_photos(tmp_path / "pets", per_class=2)
    assert scan.scan_dataset(data).usable_images == 4
    assert CheckCache().broken  # said why, for whoever asks


def test_the_cache_can_be_left_out(tmp_path, home, opened):
    data = folder_of_photos(tmp_path / "pets", per_class=2)
    scan.scan_dataset(data, remember=False)
    assert not (home / "cache" / check_cache.FILE_NAME).exists()


def test_pictures_not_seen_for_months_are_forgotten(tmp_path, home):
    picture = tmp_path / "a.jpg"
    Image.new("RGB", (8, 8)).save(picture)
    key = check_cache.stat_key(str(picture))
    with CheckCache() as cache:
        cache.keep(str(picture), key, inspect_image(picture), "digest")
    with sqlite3.connect(home / "cache" / check_cache.FILE_NAME) as db:
        db.execute("UPDATE pictures SET seen = seen - ?", (check_cache.FORGET_AFTER_DAYS + 1,))
    with CheckCache() as cache:
        assert cache.lookup(str(picture), key) is None


def test_sagewiz_check_stopped_with_ctrl_c_says_the_next_check_goes_on_from_there(tmp_path, home, opened, monkeypatch, capsys):
    from sagewiz.tui.cli import main

    data = folder_of_photos(tmp_path / "pets", per_class=150)
    real, calls = scan._examine, []

    def ctrl_c_at_the_120th(path, cache):
        calls.append(path)
        if len(calls) == 120:
            raise KeyboardInterrupt
        return real(path, cache)

    monkeypatch.setattr(scan, "_examine", ctrl_c_at_the_120th)
    assert main(["check", str(data)]) == 130
    said = " ".join(capsys.readouterr().err.split())
    assert "Stopped after checking 119 of 300 pictures" in said and "of 300 pictures" in said and "again goes on from there" in said
    monkeypatch.setattr(scan, "_examine", real)
    opened.clear()
    assert main(["check", str(data)]) == 0
    assert 0 < len(opened) <= 300 - 100  # about a hundred were remembered

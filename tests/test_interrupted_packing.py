"""Packing stopped with Ctrl-C goes on where it stopped: 50,000 pictures are not packed twice.

The user's story: `sagewiz run` on a big folder is packing when the user presses Ctrl-C (a
meeting, a train to catch). Run again, it packs only what was left, and the records are the same
bytes an uninterrupted pack writes.
"""

from __future__ import annotations

import pytest

from sagewiz.core.dataset import packer
from sagewiz.core.dataset.listing import ListEntry
from sagewiz.core.dataset.packer import PackOptions, pack_images
from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.dataset.scan import scan_dataset
from sagewiz.core.prepare import prepare_dataset

OPTIONS = PackOptions(resize=20, quality=90)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    write_sample_dataset(root, size=30, classes=[1, 7], seed=3)
    return root


@pytest.fixture
def read(monkeypatch):
    """The pictures the packer read, in order."""
    paths: list[str] = []
    real = packer._read_file

    def counting(path):
        paths.append(path)
        return real(path)

    monkeypatch.setattr(packer, "_read_file", counting)
    return paths


def entries_of(root):
    pictures = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    return [ListEntry(i, path, (float("digit_7" in path),)) for i, path in enumerate(pictures)]


def ctrl_c_after(count):
    done = 0

    def progress(n):
        nonlocal done
        done += n
        if done >= count:
            raise KeyboardInterrupt

    return progress


def test_a_pack_stopped_with_ctrl_c_goes_on_after_what_it_finished(digits, tmp_path, read):
    entries = entries_of(digits)
    pack_images(entries, digits, tmp_path / "whole.rec", tmp_path / "whole.idx", OPTIONS, workers=2)
    read.clear()

    with pytest.raises(KeyboardInterrupt):
        pack_images(entries, digits, tmp_path / "x.rec", tmp_path / "x.idx", OPTIONS, workers=2,
                    progress=ctrl_c_after(32), resume_key="these pictures")
    assert not (tmp_path / "x.rec").exists()  # never a half-written file under the real name
    before = len(read)
    read.clear()
    seen = []
    result = pack_images(entries, digits, tmp_path / "x.rec", tmp_path / "x.idx", OPTIONS, workers=2,
                         progress=seen.append, resume_key="these pictures")
    assert 32 <= len(entries) - len(read) <= before  # the pictures finished before Ctrl-C were not read again
    assert seen[0] == len(entries) - len(read)  # the bar starts where the last pack stopped
    assert result.packed == len(entries) and not result.skipped
    assert (tmp_path / "x.rec").read_bytes() == (tmp_path / "whole.rec").read_bytes()
    assert (tmp_path / "x.idx").read_bytes() == (tmp_path / "whole.idx").read_bytes()
    assert not list(tmp_path.glob("*.partial*"))


def test_pictures_skipped_before_the_stop_are_still_reported_after_it(digits, tmp_path):
    entries = entries_of(digits)
    broken = digits / "broken.png"
    broken.write_bytes(b"not a picture")
    entries = [ListEntry(0, "broken.png", (0.0,))] + [ListEntry(i + 1, e.path, e.labels) for i, e in enumerate(entries)]
    try:
        with pytest.raises(KeyboardInterrupt):
            pack_images(entries, digits, tmp_path / "x.rec", tmp_path / "x.idx", OPTIONS, progress=ctrl_c_after(40), resume_key="k")
        result = pack_images(entries, digits, tmp_path / "x.rec", tmp_path / "x.idx", OPTIONS, resume_key="k")
    finally:
        broken.unlink()
    assert [s.path for s in result.skipped] == ["broken.png"]
    assert result.packed == len(entries) - 1


def test_other_pictures_or_settings_start_the_pack_afresh(digits, tmp_path, read):
    entries = entries_of(digits)
    with pytest.raises(KeyboardInterrupt):
        pack_images(entries, digits, tmp_path / "x.rec", tmp_path / "x.idx", OPTIONS, progress=ctrl_c_after(32), resume_key="before")
    read.clear()
    result = pack_images(entries, digits, tmp_path / "x.rec", tmp_path / "x.idx", OPTIONS, resume_key="after")
    assert len(read) == len(entries) and result.packed == len(entries)


def test_without_a_key_a_stopped_pack_leaves_nothing(digits, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        pack_images(entries_of(digits), digits, tmp_path / "x.rec", tmp_path / "x.idx", OPTIONS, progress=ctrl_c_after(32))
    assert list(tmp_path.iterdir()) == []


def test_a_run_stopped_while_packing_validation_keeps_the_packed_training_set(digits, tmp_path, read):
    report = scan_dataset(digits, remember=False)

    def stop_in_validation(split, done, total):
        if split == "validation":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare_dataset(report, tmp_path / "data", resize=20, progress=stop_in_validation)
    packed_before = (tmp_path / "data" / "train.rec").stat().st_mtime_ns
    read.clear()
    prepared = prepare_dataset(report, tmp_path / "data", resize=20)
    assert len(read) <= prepared.counts["validation"]  # train was not packed again
    assert (tmp_path / "data" / "train.rec").stat().st_mtime_ns == packed_before
    fresh = prepare_dataset(report, tmp_path / "fresh", resize=20)
    assert (tmp_path / "data" / "train.rec").read_bytes() == (tmp_path / "fresh" / "train.rec").read_bytes()
    assert (tmp_path / "data" / "validation.rec").read_bytes() == (tmp_path / "fresh" / "validation.rec").read_bytes()
    assert prepared.counts == fresh.counts

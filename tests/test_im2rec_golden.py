"""`sagewiz im2rec` writes the very bytes MXNet's im2rec.py wrote for the golden fixtures.

The fixtures under tests/fixtures/im2rec/ were made by MXNet 1.9.1 (make_fixtures.py there says
how). Each case replays im2rec's command lines with sagewiz and compares every output file.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from sagewiz.core.dataset.recordio import IndexedRecordReader, iter_records, unpack_image_record
from sagewiz.tui.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "im2rec"
TREE = FIXTURES / "tree"
CASES = sorted(path.name for path in (FIXTURES / "expected").iterdir())
BYTE_IDENTICAL = [case for case in CASES if case != "resize-reference"]


def replay(case: str, workdir: Path, *extra: str) -> Path:
    """Run the case's commands with sagewiz into ``workdir``; returns it."""
    expected = FIXTURES / "expected" / case
    lines = (expected / "command.txt").read_text().splitlines()
    if lines[0] == "given data.lst":
        shutil.copy(expected / "data.lst", workdir / "data.lst")
        lines = lines[1:]
    for line in lines:
        flags = line.split()[3:]  # "im2rec data tree FLAGS…"
        assert main(["im2rec", str(workdir / "data"), str(TREE), *flags, *extra]) == 0
    return workdir


@pytest.mark.parametrize("threads", ["1", "3"])
@pytest.mark.parametrize("case", BYTE_IDENTICAL)
def test_outputs_are_byte_identical_to_mxnet_im2rec(case, threads, tmp_path):
    replay(case, tmp_path, "--num-thread", threads)
    expected = sorted(p.name for p in (FIXTURES / "expected" / case).iterdir() if p.name != "command.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == expected
    for name in expected:
        assert (tmp_path / name).read_bytes() == (FIXTURES / "expected" / case / name).read_bytes(), name


def test_the_fixtures_exercise_what_they_claim():
    # one record is split because its image holds the magic; root-level images and nesting are listed
    rec = FIXTURES / "expected" / "list-recursive" / "data.rec"
    assert rec.read_bytes().count(b"\x0a\x23\xd7\xce") > len(list(iter_records(rec)))
    listed = (FIXTURES / "expected" / "list-no-shuffle" / "data.lst").read_text()
    assert "root1.jpg" in listed and "dog/puppies/f.jpg" in listed and "cat/B.JPG" in listed and "notes.txt" not in listed
    packed = (FIXTURES / "expected" / "pack-label" / "data.rec").read_bytes()
    assert unpack_image_record(next(iter_records(FIXTURES / "expected" / "pack-label" / "data.rec"))).flag == 2 and packed


def test_resized_records_hold_the_same_images_as_mxnet_at_the_same_sizes(tmp_path):
    replay("resize-reference", tmp_path)
    expected = FIXTURES / "expected" / "resize-reference"
    assert (tmp_path / "data.lst").read_bytes() == (expected / "data.lst").read_bytes()
    with IndexedRecordReader(expected / "data.rec", expected / "data.idx") as theirs, IndexedRecordReader(
        tmp_path / "data.rec", tmp_path / "data.idx"
    ) as ours:
        assert ours.keys() == theirs.keys()
        for key in ours.keys():
            mine, reference = unpack_image_record(ours.read(key)), unpack_image_record(theirs.read(key))
            assert mine.labels == reference.labels
            a = Image.open(io.BytesIO(mine.image)).convert("RGB")
            b = Image.open(io.BytesIO(reference.image)).convert("RGB")
            assert a.size == b.size
            # different resamplers and encoders, same picture: mean absolute difference per channel
            diff = sum(abs(x - y) for x, y in zip(a.tobytes(), b.tobytes()))
            assert diff / len(a.tobytes()) < 12, key


# --- links: where sagewiz differs from im2rec.py on purpose ------------------------------------

def linked_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    (tree / "cat" / "loop").symlink_to("..")  # im2rec.py walks this 40 levels deep
    (tree / "dog" / "zebras").symlink_to("../Zebra")  # and lists the zebras again under a second label
    (tree / "dog" / "again.png").symlink_to("e.png")  # and this picture twice
    return tree


@pytest.mark.parametrize("case", ["list-no-shuffle", "list-recursive"])
def test_with_links_each_real_folder_and_picture_is_listed_once_and_the_links_are_said(case, tmp_path, capsys):
    tree = linked_tree(tmp_path)
    flags = (FIXTURES / "expected" / case / "command.txt").read_text().splitlines()[0].split()[3:]  # the --list line
    assert main(["im2rec", str(tmp_path / "data"), str(tree), *flags]) == 0
    # the very list MXNet wrote for the tree without the links
    assert (tmp_path / "data.lst").read_bytes() == (FIXTURES / "expected" / case / "data.lst").read_bytes()
    said = " ".join(capsys.readouterr().err.split())
    assert "Left out cat/loop: a link back to the top folder, which holds it" in said
    assert "Left out dog/zebras: a link to Zebra/, which is listed already" in said
    assert "Left out dog/again.png: a link to dog/e.png, which is counted already" in said


def test_a_link_to_a_folder_outside_is_followed_as_im2rec_does(tmp_path):
    outside = tmp_path / "outside"
    shutil.copytree(TREE / "cat", outside)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "cat").symlink_to(outside)
    assert main(["im2rec", str(tmp_path / "data"), str(tree), "--list", "--recursive", "--no-shuffle"]) == 0
    listed = [line.split("\t")[-1] for line in (tmp_path / "data.lst").read_text().splitlines()]
    assert listed == ["cat/B.JPG", "cat/a.jpg", "cat/c.png"]

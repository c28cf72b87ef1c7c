"""Live cross-check against the real MXNet im2rec.py, on a random tree made for this run.

Runs when SAGEWIZ_MXNET_PYTHON names a Python with mxnet installed (.ci/run builds one with
../shared/tools/make-mxnet-venv); skipped otherwise, and the skip says so.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from sagewiz.tui.cli import main

MXNET_PYTHON = os.environ.get("SAGEWIZ_MXNET_PYTHON")
pytestmark = pytest.mark.skipif(
    not MXNET_PYTHON, reason="SAGEWIZ_MXNET_PYTHON is not set: no MXNet to cross-check against (see tests/fixtures/im2rec/make_fixtures.py)"
)

FLAG_SETS = [
    (["--list", "--recursive"], ["--pass-through"]),
    (["--list", "--recursive", "--train-ratio", "0.6", "--test-ratio", "0.3", "--chunks", "3"], ["--pass-through"]),
    (["--list", "--recursive", "--no-shuffle", "--exts", ".jpg", ".png"], ["--pass-through"]),
    (["--list"], ["--pass-through"]),
]


def make_random_tree(root: Path, seed: int) -> None:
    rnd = random.Random(seed)
    folders = ["", "ant", "bee", "bee/queen", "Cat", "cat", "dog/x/y"]
    for number in range(60):
        folder = root / rnd.choice(folders)
        folder.mkdir(parents=True, exist_ok=True)
        ext = rnd.choice([".jpg", ".JPG", ".jpeg", ".png", ".Png", ".txt"])
        size = (rnd.randrange(8, 40), rnd.randrange(8, 40))
        img = Image.new("RGB", size, tuple(rnd.randrange(256) for _ in range(3)))
        name = folder / f"img {number:03d}{ext}"  # spaces in names, like real photo folders
        if ext == ".txt":
            name.write_text("not an image")
        else:
            img.save(name, "PNG" if ext.lower() == ".png" else "JPEG")


def im2rec_path() -> str:
    code = "import mxnet, os; print(os.path.join(os.path.dirname(mxnet.__file__), 'tools', 'im2rec.py'))"
    return subprocess.run([MXNET_PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def outputs(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("list_flags, pack_flags", FLAG_SETS)
def test_sagewiz_matches_mxnet_on_a_random_tree(list_flags, pack_flags, tmp_path):
    tree, theirs, ours = tmp_path / "tree", tmp_path / "mxnet", tmp_path / "sagewiz"
    for folder in (tree, theirs, ours):
        folder.mkdir()
    make_random_tree(tree, seed=len(list_flags))
    script = im2rec_path()
    for flags in (list_flags, pack_flags + ["--num-thread", "2"]):
        subprocess.run([MXNET_PYTHON, script, str(theirs / "set"), str(tree), *flags], check=True, capture_output=True)
    for flags in (list_flags, pack_flags + ["--num-thread", "1"]):
        assert main(["im2rec", str(ours / "set"), str(tree), *flags]) == 0
    assert outputs(ours) == outputs(theirs)

"""How the wizard looks, at the smallest supported terminal (80×24) and a roomy one (120×40).

Each picture is compared with an accepted SVG in tests/__snapshots__/. After changing a screen on
purpose, look at the new pictures (pytest writes snapshot_report.html on failure) and accept them
with ``pytest tests/test_tui_snapshots.py --snapshot-update``. The scenes are shared with
screenshots/make_screenshots.py (tests/tui_scenes.py).
"""

from __future__ import annotations

import pytest

from tui_scenes import BY_NAME, SCENES

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
# Every screen, in scenes that show nothing that changes between runs: after training, a recorded
# run (tests/tui_scenes.py). Left out: the screens of a real training run (its timings and accuracy
# differ run to run), which the recorded scenes show instead.
SNAPSHOT_SCENES = [scene.name for scene in SCENES if not scene.slow]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """The user's folder: the scene's files are named relative to it, so paths on screen are fixed."""
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", SNAPSHOT_SCENES)
def test_the_screen_looks_as_accepted(snap_compare, workdir, name, size):
    scene = BY_NAME[name]
    assert snap_compare(scene.app(workdir), terminal_size=SIZES[size], run_before=scene.drive)

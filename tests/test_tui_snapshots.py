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


@pytest.mark.parametrize("name", SNAPSHOT_SCENES)
def test_no_table_runs_off_the_edge_at_80_columns(workdir, name):
    """At the smallest supported terminal every table fits across: long cells wrap instead of
    hiding the last columns (a region's verdict, a model's accuracy) behind a sideways scrollbar."""
    import asyncio

    from textual.widgets import DataTable

    scene = BY_NAME[name]

    async def story():
        app = scene.app(workdir)
        async with app.run_test(size=(80, 24)) as pilot:
            await scene.drive(pilot)
            await pilot.pause(0.2)
            return {table.id: table.max_scroll_x for table in app.screen.query(DataTable) if table.display and table.max_scroll_x}

    assert asyncio.run(story()) == {}

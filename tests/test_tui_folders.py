"""Finding the pictures' folder: the field completes folder names, ctrl+o browses folders."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pilot_steps import click, screen_lines, wait_for
from sagewiz.tui.screens.folders import complete_folder
from sagewiz.tui.words import shown_path


@pytest.fixture(autouse=True)
def home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path_factory.mktemp("home")))  # not among the user's folders


@pytest.fixture
def photos(tmp_path, monkeypatch):
    """A user's folder: two datasets, a hidden folder and a file, with sagewiz started there."""
    for folder in ("cats-and-dogs/train/cat", "cats-and-dogs/test/cat", "cars", ".cache"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "cat-notes.txt").write_text("not a folder")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_typing_the_start_of_a_folder_name_suggests_the_folder(photos):
    assert complete_folder("ca") == "cars/"  # the first folder, alphabetically
    assert complete_folder("cat") == "cats-and-dogs/"  # files are never suggested
    assert complete_folder("cats-and-dogs/") == "cats-and-dogs/test/"  # and inside a folder
    assert complete_folder("cats-and-dogs/tr") == "cats-and-dogs/train/"
    assert complete_folder(str(photos / "car")) == str(photos / "cars") + "/"  # whole paths too
    assert complete_folder("cars") == "cars/"  # a folder named whole: into it
    assert complete_folder("/tm") == "/tmp/"  # from the root
    home_folders = sorted(p.name for p in Path.home().iterdir() if p.is_dir() and not p.name.startswith("."))
    assert complete_folder("~/") == (f"~/{home_folders[0]}/" if home_folders else None)  # from ~


def test_nothing_is_suggested_where_no_folder_fits_or_the_folder_cannot_be_read(photos):
    assert complete_folder("dogs") is None
    assert complete_folder("") is None
    assert complete_folder("no-such-folder/x") is None
    assert complete_folder(".") == ".cache/"  # hidden folders only when asked for


def test_paths_are_shown_as_the_user_would_write_them(photos):
    assert shown_path(photos / "cars") == "cars"
    assert shown_path(photos) == "."
    assert shown_path(Path.home() / "Pictures") == "~/Pictures"
    assert shown_path("/") == "/"


def test_the_folder_browser_shows_folders_only_and_its_choice_is_checked(photos):
    from sagewiz.core.dataset.sample import write_sample_dataset
    from sagewiz.tui.app import SagewizApp
    from sagewiz.tui.state import WizardState

    write_sample_dataset(photos / "digits", classes=[0, 1], seed=1)

    async def story():
        app = SagewizApp(WizardState(), unfinished_runs=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await click(pilot, "#next")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "DatasetScreen")
            field = app.screen.query_one("#folder")
            field.value = ""
            field.focus()
            await pilot.press("d", "i", "g")
            await wait_for(pilot, lambda: field._suggestion == "digits/", what="the suggestion")
            await pilot.press("right")  # takes it, as in a shell
            assert field.value == "digits/"
            field.value = ""

            await pilot.press("ctrl+o")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "FolderPicker")
            tree = app.screen.query_one("#tree")
            await wait_for(pilot, lambda: tree.root.children)
            assert str(tree.root.label) == "."
            assert [str(n.label) for n in tree.root.children] == ["cars", "cats-and-dogs", "digits"]  # no file, no .cache
            await pilot.press("down", "down", "down")  # onto digits
            await wait_for(pilot, lambda: "digits" in str(app.screen.query_one("#highlighted").render()))
            assert "train/ and test/ inside" in str(app.screen.query_one("#highlighted").render())
            await click(pilot, "#use")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "DatasetScreen")
            assert app.screen.query_one("#folder").value == "digits"
            await wait_for(pilot, lambda: app.state.report is not None, what="the check of the folder picked")
            assert [c.name for c in app.state.report.classes] == ["digit_0", "digit_1"]

            await pilot.press("ctrl+o")  # again: it opens where the field points, and goes up from there
            await wait_for(pilot, lambda: type(app.screen).__name__ == "FolderPicker")
            assert str(app.screen.query_one("#tree").root.label) == "digits"
            await click(pilot, "#up")
            await wait_for(pilot, lambda: str(app.screen.query_one("#tree").root.label) == ".")
            await pilot.press("escape")  # cancelled: the field keeps what it had
            await wait_for(pilot, lambda: type(app.screen).__name__ == "DatasetScreen")
            assert app.screen.query_one("#folder").value == "digits"

    asyncio.run(story())



def test_a_long_path_in_the_folder_field_reads_whole_at_80_by_24(photos):
    """A field shows only as much of a path as it is wide: a longer one is also written whole under
    it, wrapped. Empty, the field's example and how it completes folder names are whole too."""
    from sagewiz.tui.app import SagewizApp
    from sagewiz.tui.state import WizardState

    from sagewiz.core.dataset.sample import write_sample_dataset

    long = photos / "holiday-photos-2026" / "the-cats-and-the-dogs-of-the-summer" / "sorted-by-hand"
    write_sample_dataset(long, classes=[0, 1], seed=1)  # ready to train: what is said under it names no folder

    async def story():
        app = SagewizApp(WizardState(data_dir=str(long)), unfinished_runs=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await click(pilot, "#next")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "DatasetScreen" and app.state.report is not None
                           and not app.screen.packing, what="the folder to be checked and packed")
            await pilot.pause(0.2)
            field = app.screen.query_one("#folder")
            assert len(str(long)) > field.content_size.width  # the field alone can't show it
            assert str(long) in "".join(line.strip() for line in screen_lines(app))
            field.value = "digits"  # short: the line under it goes
            await pilot.pause(0.2)
            assert "In full" not in "".join(screen_lines(app))
            field.value = ""
            await pilot.pause(0.2)
            lines = screen_lines(app)
            assert any("~/Pictures/cats-and-dogs" in line for line in lines), "\n".join(lines)
            assert any("→ completes a folder name" in line for line in lines), "\n".join(lines)

    asyncio.run(story())

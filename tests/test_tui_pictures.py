"""The Pictures step while its background work runs: the check of the remembered folder and the
packing answer for the folder they were given, which need not be the one in the field any more.
Each gate below holds that work until the user has done what the story says."""

from __future__ import annotations

import threading

import pytest

from pilot_steps import click, wait_for
from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.tui.app import SagewizApp
from sagewiz.tui.state import WizardState
from test_tui import run_async, screen_name, text_of


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def two_folders(tmp_path):
    """The folder the wizard remembers, and the one the user means this time."""
    write_sample_dataset(tmp_path / "old-digits", size=12, classes=[0, 1], seed=1)
    write_sample_dataset(tmp_path / "new-digits", size=12, classes=[2, 3, 4], seed=2)
    return tmp_path / "old-digits", tmp_path / "new-digits"


def held(monkeypatch, where: str) -> threading.Event:
    """``where`` (module.function) waits for the returned event before it works, the first time only."""
    module, name = where.rsplit(".", 1)
    original = getattr(__import__(module, fromlist=[name]), name)
    gate, calls = threading.Event(), []

    def waiting(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            gate.wait(60)
        return original(*args, **kwargs)

    monkeypatch.setattr(where, waiting)
    return gate


async def on_the_pictures_step(pilot) -> None:
    await wait_for(pilot, lambda: screen_name(pilot.app) == "WelcomeScreen")
    await pilot.click("#next")
    await wait_for(pilot, lambda: screen_name(pilot.app) == "DatasetScreen")


@run_async
async def test_a_new_folder_typed_while_the_old_one_is_packed_keeps_the_keys_and_the_focus(monkeypatch, two_folders):
    old, new = two_folders
    gate = held(monkeypatch, "sagewiz.core.journey.pack_ahead")
    app = SagewizApp(WizardState(data_dir=str(old)), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_the_pictures_step(pilot)
        field = app.screen.query_one("#folder")
        await wait_for(pilot, lambda: app.screen.packing, what="the remembered folder to be packed")
        await pilot.press("ctrl+u")  # the field cleared to type the new folder …
        gate.set()  # … when the old one's packing ends
        await wait_for(pilot, lambda: not app.screen.packing, what="the packing to end")
        await pilot.pause(0.2)
        assert app.focused is field  # the focus stays where the user types
        await pilot.press(*str(new))
        assert field.value == str(new)  # no key lost
        assert app.screen.query_one("#next").disabled  # Next would go on with the old folder
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.screen.query_one("#next").disabled, what="the new folder checked and packed")
        assert app.state.data_dir == str(new) and [c.name for c in app.state.report.classes] == ["digit_2", "digit_3", "digit_4"]


@run_async
async def test_the_report_of_a_folder_no_longer_in_the_field_does_not_enable_next(monkeypatch, two_folders):
    old, new = two_folders
    gate = held(monkeypatch, "sagewiz.core.dataset.scan.scan_dataset")
    app = SagewizApp(WizardState(data_dir=str(old)), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_the_pictures_step(pilot)
        await wait_for(pilot, lambda: "Checking" in text_of(app, "#summary"), what="the remembered folder's check")
        await pilot.press("ctrl+u", *str(new))  # cleared as a terminal user does, then typed
        gate.set()
        await wait_for(pilot, lambda: "Checking" not in text_of(app, "#summary"), what="the old folder's check to end")
        await pilot.pause(0.3)
        assert not app.screen.packing and app.screen.query_one("#next").disabled
        assert "digit_0" not in text_of(app, "#summary") and app.state.report is None
        assert app.focused is app.screen.query_one("#folder")


@run_async
async def test_an_emptied_field_and_enter_clear_the_last_report_and_next(two_folders):
    old, _ = two_folders
    app = SagewizApp(WizardState(data_dir=str(old)), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_the_pictures_step(pilot)
        await wait_for(pilot, lambda: not app.screen.query_one("#next").disabled, what="the remembered folder checked and packed")
        app.screen.query_one("#folder").focus()
        await pilot.press("ctrl+u", "enter")
        await pilot.pause()
        assert "Type the folder's path first." in text_of(app, "#summary")
        assert app.screen.query_one("#next").disabled
        assert not app.screen.query_one("#classes").display and text_of(app, "#packed") == ""


@run_async
async def test_file_names_are_used_as_labels_only_once_the_user_says_yes(tmp_path):
    from test_labels import kaggle_train

    folder = kaggle_train(tmp_path / "train", n=20)  # 32 to train on: a whole mini-batch
    app = SagewizApp(WizardState(data_dir=str(folder)), unfinished_runs=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await on_the_pictures_step(pilot)
        question = app.screen.query_one("#names-question")
        await wait_for(pilot, lambda: question.display, timeout=60, what="the question about the file names")
        said = " ".join(text_of(app, "#packed").split())
        assert "cat: 20 pictures, dog: 20, read from names like cat.0.jpg" in said
        await pilot.pause(0.3)
        assert app.screen.query_one("#next").disabled and not app.screen.packing and app.state.packed is None
        await click(pilot, "#use-names")
        await wait_for(pilot, lambda: not app.screen.query_one("#next").disabled, what="the pictures packed by their names")
        assert not question.display and app.state.packed.class_names == ("cat", "dog")

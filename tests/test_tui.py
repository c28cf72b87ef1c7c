"""The wizard as a beginner uses it: Pilot drives the real screens on the local backend."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pilot_steps import click, screen_lines, wait_for
from sagewiz.core.ledger import Ledger
from sagewiz.tui.app import SagewizApp
from sagewiz.tui.state import WizardState
from sagewiz.tui.words import shown_path


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def run_async(test):
    """Run an async Pilot test on its own event loop (no pytest async plugin needed)."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return run


def screen_name(app) -> str:
    return type(app.screen).__name__


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


@run_async
async def test_the_whole_journey_from_the_sample_to_clean_up(home):
    app = SagewizApp(WizardState(), unfinished_runs=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
        await click(pilot, "#sample")
        await wait_for(pilot, lambda: screen_name(app) == "SampleFolderScreen", what="the question where the sample goes")
        assert app.screen.query_one("#sample-folder").value.endswith("sample-digits")
        await click(pilot, "#write")
        await wait_for(pilot, lambda: screen_name(app) == "DatasetScreen", what="the dataset step")
        await wait_for(pilot, lambda: not app.screen.query_one("#next").disabled, what="the sample to be checked")
        assert "1,797 pictures in 10 classes" in text_of(app, "#summary")
        assert "Packed for training" in text_of(app, "#packed")  # packed here, with a progress bar, not during training
        await click(pilot, "#next")

        await through_the_where_step(pilot)
        await wait_for(pilot, lambda: screen_name(app) == "SettingsScreen" and app.screen.query("#epochs"))
        epochs = app.screen.query_one("#epochs")
        epochs.value = "2"
        await pilot.pause()
        assert "of training on this computer" in text_of(app, "#verdict")
        await click(pilot, "#next")

        await until_trained(pilot)
        assert len(app.screen.accuracy) == 2 and app.screen.query_one("#chart").validation  # one bar pair per epoch
        assert "validation accuracy" in text_of(app, "#outcome")
        assert "already packed" in "\n".join(line.text for line in app.screen.query_one("#log").lines)
        await click(pilot, "#next")

        await wait_for(pilot, lambda: screen_name(app) == "DeployScreen")
        assert app.screen.query_one("#instance").value == "local-cpu"
        assert "local-cpu — this computer, free" in str(app.screen.query_one("#instance SelectCurrent Static").render())
        await wait_for(pilot, lambda: "Free" in text_of(app, "#cost"), timeout=10, what="the cost line")  # written a refresh after the screen
        assert not app.screen.query_one("#keep").value
        await deploy_and_test(pilot)
        assert app.state.summary["test_accuracy"] > 0.5 and app.state.summary["endpoint"]["deleted"]
        assert "✓ Delete the endpoint" in text_of(app, "#steps")
        said = " ".join(text_of(app, "#cost").split())  # how it went, in view at 80x24 (the log has no room there)
        assert f"right: accuracy {app.state.summary['test_accuracy']:.3f}" in said and "deleted" in said
        assert app.screen.query_one("#cost").region.bottom <= app.screen.query_one("#next").region.y
        await click(pilot, "#next")

        await wait_for(pilot, lambda: screen_name(app) == "EvaluateScreen")
        assert app.screen.query_one("#results").row_count == 10  # a row per class: precision, recall, confusion
        assert f"Test accuracy {app.state.summary['test_accuracy']:.3f}" in text_of(app, "#outcome")
        wrong = app.state.summary["evaluation"]["misclassified"]
        assert app.screen.query_one("#wrong").row_count == len(wrong)
        if wrong:  # each wrong picture is drawn beside the list
            await wait_for(pilot, lambda: "▀" in app.screen.query_one("#wrong-picture").text, timeout=30, what="the wrong picture")
        await click(pilot, "#next")

        await wait_for(pilot, lambda: screen_name(app) == "CleanupScreen")
        await wait_for(pilot, lambda: app.screen.resources, what="the resource list")
        # the endpoint is gone already; the packed copy of the pictures is offered, with the space it takes
        assert {r.kind for r in app.screen.resources} == {"storage", "training-job", "packed-pictures"}
        table = app.screen.query_one("#resources")
        [packed] = [table.get_row_at(i) for i in range(table.row_count) if table.get_row_at(i)[1] == "packed-pictures"]
        assert packed[2] == "sagewiz's packed copy of sample-digits/" and packed[4].startswith("free, ") and "MB" in packed[4]
        [storage] = [table.get_row_at(i) for i in range(table.row_count) if table.get_row_at(i)[1] == "storage"]
        assert storage[2] == shown_path(home / "storage") and "MB" in storage[4]  # which folder, and the space it takes
        pictures = sorted(Path(app.state.data_dir).rglob("*.png"))
        await delete_what_is_ticked(pilot)
        await wait_for(pilot, lambda: "Nothing left" in text_of(app, "#verdict"), what="clean-up")
        assert sorted(Path(app.state.data_dir).rglob("*.png")) == pictures  # only sagewiz's copy went
        await click(pilot, "#done")
    saved = WizardState.load()  # the answers are next run's defaults
    assert saved.overrides == {"epochs": "2"} and saved.data_dir.endswith("sample-digits")
    assert saved.endpoint_instance == "local-cpu"
    with Ledger() as ledger:
        assert ledger.unfinished_runs() == []  # tested: nothing is offered for resuming next time


@run_async
async def test_a_folder_that_is_not_there_gets_a_message_and_can_be_fixed(home, tmp_path):
    app = SagewizApp(WizardState(), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await click(pilot, "#next")
        await wait_for(pilot, lambda: screen_name(app) == "DatasetScreen")
        field = app.screen.query_one("#folder")
        field.value = str(tmp_path / "no-such-folder")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "not found" in text_of(app, "#summary").lower() or "no folder" in text_of(app, "#summary"))
        assert "What to do" in text_of(app, "#summary")
        assert app.screen.query_one("#next").disabled

        (tmp_path / "one" / "cat").mkdir(parents=True)  # one class, no pictures: checked, not usable
        field.value = str(tmp_path / "one")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "✗" in text_of(app, "#summary"))
        assert app.screen.query_one("#next").disabled


async def delete_what_is_ticked(pilot) -> None:
    """Clean-up's Delete selected, and yes to the question that names what goes."""
    await click(pilot, "#delete")
    await wait_for(pilot, lambda: screen_name(pilot.app) == "ConfirmScreen", what="the question before deleting")
    await click(pilot, "#yes")


def two_digits_app(tmp_path) -> SagewizApp:
    """The wizard with a two-class digits folder already chosen, as a returning user has it."""
    from sagewiz.core.dataset.sample import write_sample_dataset

    write_sample_dataset(tmp_path / "digits", classes=[0, 1], seed=1)
    return SagewizApp(WizardState(data_dir=str(tmp_path / "digits")), unfinished_runs=False)


async def through_the_where_step(pilot) -> None:
    """On the local backend the Where step shows this computer, ready, with a time estimate."""
    app = pilot.app
    await wait_for(pilot, lambda: screen_name(app) == "RegionScreen" and not app.screen.query_one("#next").disabled,
                   what="the Where step")
    assert "local" in text_of(app, "#verdict") and "should take about" in text_of(app, "#status")
    await click(pilot, "#next")


async def until_trained(pilot) -> None:
    """Wait on the training step until the model is there (or say why not, with the log)."""
    app = pilot.app
    await wait_for(pilot, lambda: screen_name(app) == "TrainingScreen")
    await wait_for(pilot, lambda: app.state.trained is not None or not app.screen.query_one("#back").disabled,
                   timeout=600, what="training")
    assert app.state.trained is not None, "\n".join(line.text for line in app.screen.query_one("#log").lines)


async def deploy_and_test(pilot) -> None:
    """On the deploy step: start the endpoint, wait for the test (or say why not, with the log)."""
    app = pilot.app
    await click(pilot, "#deploy")
    await wait_for(pilot, lambda: not app.screen.query_one("#next").disabled or not app.screen.query_one("#deploy").disabled,
                   timeout=300, what="the endpoint and the test")
    assert app.state.summary is not None, "\n".join(line.text for line in app.screen.query_one("#log").lines)


async def to_settings(pilot) -> None:
    app = pilot.app
    await click(pilot, "#next")
    await wait_for(pilot, lambda: screen_name(app) == "DatasetScreen" and not app.screen.query_one("#next").disabled)
    await click(pilot, "#next")
    await through_the_where_step(pilot)
    await wait_for(pilot, lambda: screen_name(app) == "SettingsScreen" and app.screen.query("#epochs"))


async def start_training(pilot, epochs: int, tune_jobs: int = 0) -> None:
    """From the welcome screen to a training of ``epochs`` (then ``tune_jobs`` tuning jobs) just started."""
    app = pilot.app
    await to_settings(pilot)
    app.screen.query_one("#epochs").value = str(epochs)
    if tune_jobs:
        app.screen.query_one("#tune_jobs").value = str(tune_jobs)
    await pilot.pause()
    await click(pilot, "#next")
    await wait_for(pilot, lambda: screen_name(app) == "TrainingScreen")


async def resume_the_unfinished_run(pilot) -> None:
    """In the next `sagewiz`: the welcome screen offers the interrupted run; take it."""
    await wait_for(pilot, lambda: screen_name(pilot.app) == "WelcomeScreen" and pilot.app.screen.query("#resume"))
    await click(pilot, "#resume")


@run_async
async def test_every_problem_found_is_readable_whole_without_scrolling_sideways(home, tmp_path, monkeypatch):
    """The reason is what tells a user what to fix: it wraps in the table, at 80 columns and after
    the terminal is resized, rather than running off the edge."""
    from tui_scenes import sample_with_problems

    monkeypatch.chdir(tmp_path)
    app = SagewizApp(sample_with_problems(tmp_path), unfinished_runs=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await click(pilot, "#next")
        await wait_for(pilot, lambda: screen_name(app) == "DatasetScreen" and app.screen.query_one("#problems").row_count == 3,
                       what="the problems found")
        for size in ((80, 24), (100, 30)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.3)
            table = app.screen.query_one("#problems")
            assert table.max_scroll_x == 0, f"the problems table scrolls sideways at {size}"
            rows = [table.get_row_at(index) for index in range(table.row_count)]
            copy = next(row for row in rows if row[0] == "train/digit_2/copy.png")
            assert "which is in class 'digit_1'" in str(copy[3])  # the whole reason, to its last words
            assert max(row.height for row in table.ordered_rows) > 1  # ... on more than one line
            assert table.region.right <= app.screen.region.right


@run_async
async def test_a_problem_with_the_whole_folder_names_the_folder(home, tmp_path, monkeypatch):
    from tui_scenes import one_class

    monkeypatch.chdir(tmp_path)
    app = SagewizApp(one_class(tmp_path), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await click(pilot, "#next")
        await wait_for(pilot, lambda: screen_name(app) == "DatasetScreen" and app.screen.query_one("#problems").row_count,
                       what="the problems found")
        [row] = [app.screen.query_one("#problems").get_row_at(0)]
        assert row[0] == "only-sevens/ (the folder)" and "a classifier needs at least two" in str(row[3])
        assert app.screen.query_one("#next").disabled


@run_async
async def test_a_keyboard_user_goes_on_with_enter_once_each_step_is_ready(home, tmp_path):
    """No mouse: Tab to 'Choose my pictures' and Enter; the folder is checked and packed, and then
    Enter goes on; Enter takes the highlighted place to train; the settings have the cursor."""
    app = two_digits_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: screen_name(app) == "DatasetScreen" and not app.screen.query_one("#next").disabled,
                       what="the folder checked and packed")
        await pilot.pause(0.2)
        assert app.focused.id == "next"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "RegionScreen" and not app.screen.query_one("#next").disabled,
                       what="the Where step")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "SettingsScreen" and app.focused is not None
                       and app.focused.id == "epochs", what="the settings, the first one with the cursor")


@run_async
async def test_going_back_keeps_the_answers(home, tmp_path):
    app = two_digits_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_settings(pilot)
        app.screen.query_one("#learning_rate").value = "0.02"
        await pilot.pause()
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "RegionScreen")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "DatasetScreen")
        assert app.screen.query_one("#folder").value == str(tmp_path / "digits")
        assert not app.screen.query_one("#next").disabled  # the report is kept, not redone
        await click(pilot, "#next")
        await through_the_where_step(pilot)
        await wait_for(pilot, lambda: screen_name(app) == "SettingsScreen" and app.screen.query("#epochs"))
        assert app.screen.query_one("#learning_rate").value == "0.05"  # unsaved edits go; the suggestion stays


@run_async
async def test_settings_sagemaker_would_refuse_are_named_and_block_the_start(home, tmp_path):
    app = two_digits_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_settings(pilot)
        app.screen.query_one("#learning_rate").value = "7"
        await pilot.pause()
        assert "learning_rate" in text_of(app, "#verdict") and app.screen.query_one("#next").disabled
        app.screen.query_one("#learning_rate").value = "0.01"
        await pilot.pause()
        assert not app.screen.query_one("#next").disabled


@run_async
async def test_f1_explains_the_field_the_user_is_on_from_the_moment_the_settings_appear(home, tmp_path):
    """The first field has the cursor when the step opens, so typing changes it and F1 explains it;
    Tab goes to the next field and F1 explains that one. Away from the fields F1 says how to use it."""
    from textual.widgets._toast import Toast

    from sagewiz.core.hyperparams import Hyperparameters

    def said() -> str:
        return " ".join(" ".join(str(t.render()) for t in app.screen.query(Toast)).split())

    app = two_digits_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await to_settings(pilot)
        await pilot.pause(0.2)
        assert app.focused.id == "epochs"
        await pilot.press("f1")
        await wait_for(pilot, lambda: "epochs" in said(), what="the explanation of epochs")
        assert " ".join(Hyperparameters.model_fields["epochs"].description.split()) in said()
        app.clear_notifications()
        await pilot.press("tab", "f1")
        await wait_for(pilot, lambda: "learning_rate" in said(), what="the explanation of learning_rate")
        app.clear_notifications()
        app.screen.query_one("#next").focus()
        await pilot.press("f1")
        await wait_for(pilot, lambda: said(), what="a word on F1")
        assert "Tab to a field" in said()


@run_async
async def test_an_interrupted_run_is_offered_for_resuming(home, clock_in_india):
    with Ledger() as ledger:
        run = ledger.start_run("local", {"data_dir": "/somewhere"})
    started = datetime.fromisoformat(run.started_at)  # the ledger keeps UTC
    app = SagewizApp(WizardState())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
        assert app.screen.query_one("#resume") is not None
        note = text_of(app, "#resume-note")
        assert f"interrupted run ({run.id[:8]}, started " in note
        # the time the user started it, on their own clock
        assert (started + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%d %H:%M") in note.replace("\n", " ")


@run_async
async def test_every_choice_on_the_welcome_fits_at_80_by_24(home):
    """With a run to resume and an earlier model to continue there are four choices: none is cut
    off, and the note about the interrupted run is above them, not hidden behind them."""
    from textual.widgets import Button

    from sagewiz.tui.screens.welcome import WelcomeScreen

    with Ledger() as ledger:
        run = ledger.start_run("local", {"data_dir": "/somewhere"})
    app = SagewizApp(WizardState(), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
        app.push_screen(WelcomeScreen(app.state, run, has_models=True))
        await wait_for(pilot, lambda: app.screen.query("#resume"))
        await pilot.pause(0.2)
        buttons = list(app.screen.query(Button))
        assert {b.id for b in buttons} == {"next", "sample", "continue", "resume"}
        body = app.screen.query_one(".body").region
        for button in buttons:
            assert body.contains_region(button.region), f"{button.label} is cut off: {button.region} outside {body}"
        assert app.screen.query_one("#resume-note").region.bottom <= min(b.region.y for b in buttons)
        await click(pilot, "#resume")
    assert app.state.resume_run == run.id


@run_async
async def test_nothing_on_the_welcome_is_cut_at_80_by_24(home):
    """Both ways to train read whole at 80x24, with and without a run to resume beside them:
    nothing on the screen ends in the '…' of a line cut short."""
    from textual.widgets import RadioButton

    from sagewiz.tui.screens.welcome import WelcomeScreen

    with Ledger() as ledger:
        run = ledger.start_run("local", {"data_dir": "/somewhere"})
    app = SagewizApp(WizardState(), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        for welcome in (None, WelcomeScreen(app.state, run, has_models=True)):
            if welcome is not None:
                app.push_screen(welcome)
            await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen" and app.screen.query(RadioButton))
            await pilot.pause(0.2)
            lines = screen_lines(app)
            assert not [line for line in lines if "…" in line], "\n".join(lines)
            for choice in app.screen.query(RadioButton):
                assert any(str(choice.label) in line for line in lines), f"{choice.label} is not whole on the screen"


async def the_tune_step_showing(pilot, report: dict):
    """The Tune step showing one report of its tuning job (a "trials" event's data), no backend asked; its table."""
    from sagewiz.core.journey import JourneyEvent
    from sagewiz.tui.screens.tuning import TuningScreen
    from tui_scenes import TUNE_JOB, _trained

    class Reported(TuningScreen):
        def tune(self) -> None:
            self.show_event(JourneyEvent("step", "tune", f"Tuning {TUNE_JOB}", {"job": TUNE_JOB}))
            self.show_event(JourneyEvent("trials", "tune", "", report))

    app = pilot.app
    await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
    app.state.tune_jobs, app.state.trained = 3, _trained()
    app.push_screen(Reported(app.state))
    await wait_for(pilot, lambda: screen_name(app) == "Reported" and app.screen.query("#trials")
                   and app.screen.query_one("#trials").row_count == len(report["trials"]))
    await pilot.pause(0.3)
    return app.screen.query_one("#trials")


@run_async
async def test_the_trials_of_a_real_tuning_job_fit_the_terminal_with_every_setting_tried(home, tmp_path, monkeypatch):
    """A tuning job tunes eight settings: a column each fits a wide terminal; at 80 columns they go
    in one column, wrapped, rather than off the edge."""
    from sagewiz.core.tuning_ranges import SEED_TUNING_RANGES
    from tui_scenes import TRIALS, sample

    monkeypatch.chdir(tmp_path)
    sample(tmp_path)  # the first training's test pictures
    names = [r.name for r in SEED_TUNING_RANGES]
    tried = {trial[0]: {name: f"{0.1 * n + k:.6g}" for k, name in enumerate(names)} for n, trial in enumerate(TRIALS)}
    tried[TRIALS[0][0]]["learning_rate"] = "0.00025965458369801755"  # as the tuner draws it
    fixed = {"epochs": "1", "num_classes": "3"}  # the same in every trial: not what tuning tried
    reported = {name: {**settings, **fixed} for name, settings in tried.items()}

    app = SagewizApp(WizardState(), unfinished_runs=False)
    async with app.run_test(size=(200, 40)) as pilot:
        table = await the_tune_step_showing(pilot, {"trials": [t[:4] for t in TRIALS], "best": TRIALS[0][0],
                                                    "hyperparameters": reported, "tuned": names})
        assert [str(c.label) for c in table.columns.values()][4:] == names  # wide: a column per setting
        for size in ((80, 24), (120, 40)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.3)
            assert table.max_scroll_x == 0, f"the trials scroll sideways at {size}"
            assert str(list(table.columns.values())[-1].label) == "settings tried"
            first = " ".join(str(table.get_row_at(0)[-1]).split())  # the cell wraps
            shown = {**tried[TRIALS[0][0]], "learning_rate": "0.00026"}  # read at three significant digits
            assert all(f"{name}={value}" in first for name, value in shown.items())
            assert "epochs" not in first and "num_classes" not in first


@run_async
async def test_the_first_trial_still_running_is_shown_with_what_it_tries_at_80_columns(home, tmp_path, monkeypatch):
    """The first report of a tuning job: one trial, running, no accuracy and no best yet (empty
    cells) beside settings that wrap. It used to crash the table (a column of width 0)."""
    from sagewiz.core.tuning_ranges import SEED_TUNING_RANGES
    from tui_scenes import TRIALS, sample

    monkeypatch.chdir(tmp_path)
    sample(tmp_path)
    names = [r.name for r in SEED_TUNING_RANGES]
    first = TRIALS[0][0]

    app = SagewizApp(WizardState(), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await the_tune_step_showing(pilot, {"trials": [(first, "InProgress", None, False)], "best": None,
                                                    "hyperparameters": {first: {n: "0.5" for n in names}}, "tuned": names})
        assert app._exception is None
        assert str(table.get_row_at(0)[2]) == "InProgress" and table.max_scroll_x == 0
        assert all(f"{n}=0.5" in " ".join(str(table.get_row_at(0)[-1]).split()) for n in names)


def ten_classes_tested(tmp_path) -> WizardState:
    """The test results of the ten-digit sample: a few 3s and a 9 taken for other digits."""
    names = [f"digit_{n}" for n in range(10)]
    confusion = [[36 if i == j else 0 for j in range(10)] for i in range(10)]
    confusion[3][3], confusion[3][5], confusion[3][8] = 33, 2, 1
    confusion[9][9], confusion[9][8] = 35, 1
    wrong = [{"path": str(tmp_path / "test" / true / f"{n}.png"), "true_class": true, "predicted_class": said, "confidence": 0.6}
             for n, (true, said) in enumerate([("digit_3", "digit_5"), ("digit_3", "digit_5"), ("digit_3", "digit_8"),
                                               ("digit_9", "digit_8")])]
    evaluation = {"accuracy": 0.989, "evaluated": 360, "top_k": 5, "top_k_accuracy": 1.0, "class_names": names,
                  "per_class": [{"name": n, "precision": 1.0, "recall": 1.0, "support": 36} for n in names],
                  "confusion": confusion, "misclassified": wrong}
    state = WizardState()
    state.summary = {"evaluation": evaluation, "endpoint": {"name": "sagewiz-endpoint", "deleted": True}}
    return state


async def the_results_showing(pilot) -> None:
    from sagewiz.tui.screens.evaluate import EvaluateScreen

    app = pilot.app
    await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
    app.push_screen(EvaluateScreen(app.state))
    await wait_for(pilot, lambda: screen_name(app) == "EvaluateScreen" and app.screen.query("#results")
                   and app.screen.query_one("#results").row_count == len(app.state.summary["evaluation"]["class_names"]))
    await pilot.pause(0.3)


@run_async
async def test_the_results_of_ten_classes_fit_80_by_24_with_the_wrong_pictures_in_view(home, tmp_path):
    """Ten classes: a confusion matrix of ten columns can't fit 80 columns, so each class says what
    it was taken for instead, and the text above says how wide the terminal must be for the matrix;
    the list of wrong pictures keeps room to be read. Wider, the matrix."""
    app = SagewizApp(ten_classes_tested(tmp_path), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await the_results_showing(pilot)
        results = app.screen.query_one("#results")
        assert results.max_scroll_x == 0
        assert str(results.get_row_at(3)[-1]) == "digit_5 ×2, digit_8 ×1" and str(results.get_row_at(0)[-1]) == "—"
        assert app.screen.query_one("#wrong").region.height >= 4, "the wrong pictures have no room"  # a header and 3 rows
        said = " ".join(text_of(app, "#outcome").split())
        assert "Taken for: what the model said instead" in said and "Widen the terminal to 91 columns to see the confusion matrix" in said
        await pilot.resize_terminal(91, 24)
        await pilot.pause(0.3)
        assert [str(c.label) for c in results.columns.values()][-1] == "→9" and results.max_scroll_x == 0
        await pilot.resize_terminal(160, 40)
        await pilot.pause(0.3)
        assert [str(c.label) for c in results.columns.values()][-1] == "→digit_9"  # room for the whole matrix
        assert results.max_scroll_x == 0 and "Rows: the true class" in text_of(app, "#outcome")


@run_async
async def test_pictures_with_long_names_taken_wrong_still_show_what_the_model_said_at_80_by_24(home, tmp_path):
    """Real folders have long file names (application-x-executable.png): the name wraps, so what the
    model said and how sure it was stay in view beside the picture instead of behind a sideways scroll."""
    state = ten_classes_tested(tmp_path)
    for n, item in enumerate(state.summary["evaluation"]["misclassified"]):
        item["path"] = str(tmp_path / "test" / "mimetypes" / f"application-x-executable-{n}-from-a-real-folder.png")
        item["true_class"], item["predicted_class"] = "mimetypes", "devices-and-drives"
    app = SagewizApp(state, unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await the_results_showing(pilot)
        wrong = app.screen.query_one("#wrong")
        assert wrong.max_scroll_x == 0, "the wrong pictures scroll sideways"
        assert [str(c.label) for c in wrong.columns.values()] == ["picture", "is", "model said", "sure"]
        assert "devices-and-drives" in " ".join(str(wrong.get_row_at(0)[2]).split())
        await pilot.resize_terminal(120, 40)
        await pilot.pause(0.3)
        assert wrong.max_scroll_x == 0 and wrong.get_row_at(0)[0].endswith("from-a-real-folder.png")


@run_async
async def test_the_results_of_ten_classes_show_the_confusion_matrix_at_120_by_40(home, tmp_path):
    """Each class a row, what the model said a column per label (the class names would need 140
    columns): the matrix the README promises, whole, beside each class's precision and recall."""
    app = SagewizApp(ten_classes_tested(tmp_path), unfinished_runs=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await the_results_showing(pilot)
        results = app.screen.query_one("#results")
        assert [str(c.label) for c in results.columns.values()] == (
            ["label", "class", "precision", "recall", "pictures"] + [f"→{n}" for n in range(10)])
        assert [str(cell) for cell in results.get_row_at(3)] == ["3", "digit_3", "1.000", "1.000", "36"] + "0 0 0 33 0 2 0 0 1 0".split()
        assert results.max_scroll_x == 0 and "→ columns: what the model said, by label" in text_of(app, "#outcome")


@run_async
async def test_an_endpoint_that_fails_says_why_in_view_at_80_by_24(home, tmp_path, monkeypatch):
    """The log has no room at 80x24: what went wrong is said above the steps, and the step can be tried again."""
    from sagewiz.core.errors import WizardError
    from sagewiz.tui.screens.deploy import DeployScreen
    from tui_scenes import _trained, sample

    def refused(*args, **kwargs):
        raise WizardError("The endpoint sagewiz-run-endpoint did not start: port 8080 is taken.", title="Endpoint failed",
                          hint="Close the program using port 8080, then press Try again.")

    monkeypatch.setattr("sagewiz.core.journey.deploy_and_test", refused)
    monkeypatch.chdir(tmp_path)
    sample(tmp_path)
    app = SagewizApp(WizardState(), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
        app.state.trained = _trained()
        app.push_screen(DeployScreen(app.state))
        await wait_for(pilot, lambda: screen_name(app) == "DeployScreen" and app.screen.query("#deploy"))
        await click(pilot, "#deploy")
        await wait_for(pilot, lambda: str(app.screen.query_one("#deploy").label) == "Try again", what="the failure")
        said = " ".join(text_of(app, "#cost").split())
        assert "Endpoint failed" in said and "port 8080 is taken" in said and "press Try again" in said
        note = app.screen.query_one("#cost").region
        assert note.height >= 2 and note.bottom <= app.screen.query_one("#deploy").region.y


@run_async
async def test_the_endpoint_choice_and_the_log_of_its_test_fit_80_by_24(home, tmp_path, monkeypatch):
    """The choice of endpoint is whole on the screen; once the test runs, the log has lines in view
    above the buttons (the choice, fixed by then, folds into the line that says what it costs)."""
    from sagewiz.core.journey import JourneyEvent
    from sagewiz.tui.screens.deploy import DeployScreen
    from tui_scenes import _tested, _trained, sample

    def tested(backend, trained, listen, **chosen):
        listen(JourneyEvent("step", "deploy", "Starting the endpoint sagewiz-run-endpoint"))
        listen(JourneyEvent("done", "deploy", "sagewiz-run-endpoint answers on 127.0.0.1"))
        listen(JourneyEvent("step", "evaluate", "Testing on 107 test pictures"))
        return _tested(trained)

    monkeypatch.setattr("sagewiz.core.journey.deploy_and_test", tested)
    monkeypatch.chdir(tmp_path)
    sample(tmp_path)
    app = SagewizApp(WizardState(), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
        app.state.trained = _trained()
        app.push_screen(DeployScreen(app.state))
        await wait_for(pilot, lambda: screen_name(app) == "DeployScreen" and app.screen.query("#deploy"))
        await pilot.pause(0.2)
        body = app.screen.query_one(".body").content_region
        assert body.contains_region(app.screen.query_one("#instance").region), "the endpoint choice runs off the edge"
        await click(pilot, "#deploy")
        await wait_for(pilot, lambda: not app.screen.query_one("#next").disabled, what="the test")
        await pilot.pause(0.2)
        log = app.screen.query_one("#log")
        assert log.region.height - 2 >= 3, f"the log shows {log.region.height - 2} lines"  # less its border
        assert log.region.bottom <= app.screen.query_one("#back").region.y, "the buttons cover the log"
        assert "Starting the endpoint" in " ".join(str(line.text) for line in log.lines)


@pytest.fixture
def clock_in_india():
    """The user's clock is India's (UTC+5:30, no summer time; a POSIX TZ string needs no zone files)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "IST-5:30"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@run_async
async def test_the_theme_toggles_between_dark_and_light(home):
    app = SagewizApp(WizardState(), unfinished_runs=False)
    async with app.run_test() as pilot:
        before = app.theme
        await pilot.press("ctrl+t")
        assert app.theme != before


def test_opening_the_wizard_loads_neither_torch_nor_boto3():
    code = "import sys, sagewiz.tui.app; print(sorted(m for m in ('torch', 'boto3') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_without_a_terminal_sagewiz_says_to_use_sagewiz_run(home):
    result = subprocess.run([str(Path(sys.executable).with_name("sagewiz"))], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, env={**os.environ, "SAGEWIZ_HOME": str(home)})
    assert result.returncode == 2 and "sagewiz run --data DIR --yes" in result.stderr


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_real_console_script_draws_the_welcome_screen_in_tmux(home):
    session = f"sagewiz-test-{os.getpid()}"
    command = f"SAGEWIZ_HOME={home} {Path(sys.executable).with_name('sagewiz')}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", command], check=True)
    try:
        deadline, screen = time.monotonic() + 30, ""
        while time.monotonic() < deadline and "Where should it train?" not in screen:
            time.sleep(0.3)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
        assert "Where should it train?" in screen and "On this computer" in screen
        subprocess.run(["tmux", "send-keys", "-t", session, "C-q"], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode == 0
            if not alive:
                break
            time.sleep(0.2)
        assert not alive, "ctrl+q did not quit"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


@run_async
async def test_a_kept_endpoint_is_asked_about_pictures_and_kept_at_clean_up_and_the_wizard_says_it_runs(home, tmp_path):
    from sagewiz.core.dataset.sample import write_sample_dataset

    write_sample_dataset(tmp_path / "digits", size=28, classes=[3, 8], seed=2)
    app = SagewizApp(WizardState(data_dir=str(tmp_path / "digits"), keep_endpoint=True, overrides={"epochs": "2"}),
                     unfinished_runs=False)
    async with app.run_test(size=(100, 32)) as pilot:
        await to_settings(pilot)
        await click(pilot, "#next")
        await until_trained(pilot)
        await click(pilot, "#next")
        await wait_for(pilot, lambda: screen_name(app) == "DeployScreen")
        assert app.screen.query_one("#keep").value  # remembered from last time
        await deploy_and_test(pilot)
        assert "Delete the endpoint" not in text_of(app, "#steps")
        await click(pilot, "#next")
        await wait_for(pilot, lambda: screen_name(app) == "EvaluateScreen")
        assert "ask it about a picture" in str(app.screen.query_one("#next").label)
        await click(pilot, "#next")
        await wait_for(pilot, lambda: screen_name(app) == "PredictScreen")
        app.screen.query_one("#picture").value = str(next((tmp_path / "digits" / "test" / "digit_8").iterdir()))
        await click(pilot, "#predict")
        await wait_for(pilot, lambda: app.screen.answer, what="the endpoint's answer")
        assert {name for name, _ in app.screen.answer} == {"digit_3", "digit_8"}
        assert sum(p for _, p in app.screen.answer) == pytest.approx(1, abs=1e-3)
        await wait_for(pilot, lambda: "▀" in app.screen.query_one("#preview").text, timeout=30, what="the picture beside its answer")
        field = app.screen.query_one("#picture")
        field.value = str(tmp_path / "nothing.png")
        field.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Can't read" in text_of(app, "#answer"), timeout=30,
                       what=f"the message about the missing picture, not {text_of(app, '#answer')!r}")
        assert app.screen.query_one("#preview").text == ""  # not the last picture, beside the error, as if it were refused
        await click(pilot, "#browse")  # or browse for one: only folders and pictures are listed
        await wait_for(pilot, lambda: screen_name(app) == "PickPicture")
        tree = app.screen.query_one("#tree")
        await wait_for(pilot, lambda: tree.root.children, what="the dataset folder's listing")
        assert sorted(str(child.label) for child in tree.root.children) == ["test", "train"]
        picture = next((tmp_path / "digits" / "test" / "digit_3").iterdir())
        tree.post_message(tree.FileSelected(tree.root, picture))
        await wait_for(pilot, lambda: screen_name(app) == "PredictScreen" and app.screen.answer, what="the picked picture's answer")
        assert app.screen.query_one("#picture").value == str(picture)
        await click(pilot, "#next")
        await wait_for(pilot, lambda: screen_name(app) == "CleanupScreen" and app.screen.resources)
        [endpoint] = [row for row, r in enumerate(app.screen.resources) if r.kind == "endpoint"]
        table = app.screen.query_one("#resources")
        table.focus()
        table.move_cursor(row=endpoint)
        await pilot.press("space")  # kept, to try it again tomorrow; the rest goes
        await delete_what_is_ticked(pilot)
        await wait_for(pilot, lambda: screen_name(app) == "CleanupScreen" and len(app.screen.resources) == 1, what="clean-up")
        await click(pilot, "#done")
        # the wizard closes saying what still runs and how to delete it, as plain mode ends
        await wait_for(pilot, lambda: app._exit_renderables, what="the words the wizard closes with")
        said = " ".join(str(message) for message in app._exit_renderables)
        assert f"The endpoint {app.state.summary['endpoint']['name']} is still running on this computer" in said
        assert "`sagewiz cleanup` deletes it" in said and "sagewiz keeps 1 thing it made (endpoint)" in said
    from sagewiz.core.backends import delete_resources, live_resources

    with Ledger() as ledger:  # the endpoint's server stops with the test
        assert [error for _, error in delete_resources(ledger, live_resources(ledger))] == [None]


@run_async
async def test_an_earlier_model_learns_on_from_new_pictures(home, tmp_path):
    from sagewiz.tui.cli import main

    app = two_digits_app(tmp_path)  # writes the digits folder
    assert main(["run", "--data", app.state.data_dir, "--hp", "epochs=1", "--yes"]) == 0  # yesterday's model
    app.look_for_unfinished = True
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen" and app.screen.query("#continue"))
        await click(pilot, "#continue")
        await wait_for(pilot, lambda: screen_name(app) == "IncrementalScreen" and app.screen.jobs, what="the earlier jobs")
        job = app.screen.jobs[0].name
        await click(pilot, "#next")
        await wait_for(pilot, lambda: screen_name(app) == "DatasetScreen" and not app.screen.query_one("#next").disabled)
        await click(pilot, "#next")
        await through_the_where_step(pilot)
        await wait_for(pilot, lambda: screen_name(app) == "SettingsScreen" and app.screen.query("#epochs"))
        assert f"Continuing the model of {job}" in text_of(app, ".lead") and app.screen.query_one("#num_layers").disabled
        app.screen.query_one("#epochs").value = "1"
        await pilot.pause()
        await click(pilot, "#next")
        await until_trained(pilot)
        assert app.state.trained.summary["continued_from"] == job


@run_async
async def test_training_can_be_stopped_after_a_confirmation_and_says_how_it_ended(home, tmp_path):
    app = two_digits_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await start_training(pilot, epochs=200)
        await wait_for(pilot, lambda: app.screen.query("#stop"))
        await wait_for(pilot, lambda: app.screen.accuracy, timeout=300, what="the first epoch")
        assert "free" in text_of(app, "#outcome") and not app.screen.query_one("#stop").disabled
        assert "s stops it; the journey then ends at clean-up" in text_of(app, "#outcome")  # as it does, below
        await pilot.press("s")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmScreen")
        await click(pilot, "#yes")
        await wait_for(pilot, lambda: screen_name(app) == "TrainingScreen" and not app.screen.query_one("#back").disabled,
                       timeout=120, what="the job to stop")
        log = "\n".join(line.text for line in app.screen.query_one("#log").lines)
        assert "ended Stopped" in log and "sagewiz monitor" in log
        assert app.screen.query_one("#stop").disabled and not app.screen.query_one("#stop").display
        assert app.state.trained is None and str(app.screen.query_one("#next").label) == "Next: clean up"
        await click(pilot, "#next")  # no model to deploy: what was made so far is offered for deleting
        await wait_for(pilot, lambda: screen_name(app) == "CleanupScreen" and app.screen.resources)
        assert {r.kind for r in app.screen.resources} == {"storage", "training-job", "packed-pictures"}


@run_async
async def test_advanced_settings_are_checked_like_the_basic_ones(home, tmp_path):
    app = two_digits_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_settings(pilot)
        assert app.screen.query_one("#advanced").collapsed and app.screen.query_one("#momentum").value == "0.9"
        app.screen.query_one("#momentum").value = "1.5"
        await pilot.pause()
        assert "momentum" in text_of(app, "#verdict") and app.screen.query_one("#next").disabled
        app.screen.query_one("#momentum").value = "0.8"
        app.screen.query_one("#lr_scheduler_step").value = "2,3"
        await pilot.pause()
        assert not app.screen.query_one("#next").disabled
        assert {"momentum": "0.8", "lr_scheduler_step": "2,3"}.items() <= app.screen._overrides().items()


@run_async
async def test_quitting_mid_training_leaves_the_job_running_and_the_next_wizard_reattaches(home, tmp_path):

    app = two_digits_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await start_training(pilot, epochs=12)
        await wait_for(pilot, lambda: app.screen.accuracy or not app.screen.query_one("#back").disabled, timeout=300,
                       what="the first epoch")
        assert app.screen.accuracy, "\n".join(line.text for line in app.screen.query_one("#log").lines)
        await pilot.press("ctrl+q")  # the wizard goes; the training process doesn't
    with Ledger() as ledger:
        [job] = [r for r in ledger.resources() if r.kind == "training-job"]
        assert job.state == "running"

    again = SagewizApp(WizardState.load())  # the next `sagewiz`
    async with again.run_test(size=(100, 30)) as pilot:
        await resume_the_unfinished_run(pilot)
        await until_trained(pilot)
        training = again.state.trained.summary["training"]
        assert training["job_name"] == job.name and len(training["epochs"]) == 12
    with Ledger() as ledger:
        assert [r.name for r in ledger.resources() if r.kind == "training-job"] == [job.name]  # reattached, not started again


@run_async
async def test_the_sample_goes_where_the_user_says_and_a_folder_that_cannot_take_it_is_named(home, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.docx").write_text("mine")
    app = SagewizApp(WizardState(), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await click(pilot, "#sample")
        await wait_for(pilot, lambda: screen_name(app) == "SampleFolderScreen")
        app.screen.query_one("#sample-folder").value = str(tmp_path / "busy")
        await click(pilot, "#write")
        await wait_for(pilot, lambda: "What to do" in text_of(app, "#sample-error"), what="the message")
        assert (tmp_path / "busy" / "thesis.docx").read_text() == "mine"  # nothing of the user's is touched
        field = app.screen.query_one("#sample-folder")
        field.value = str(tmp_path / "my-digits")
        field.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "DatasetScreen", what="the dataset step")
        assert app.state.data_dir == str(tmp_path / "my-digits") and (tmp_path / "my-digits" / "train").is_dir()


@run_async
async def test_a_model_trained_but_not_deployed_is_picked_up_at_the_deploy_step_next_time(home, tmp_path):
    app = two_digits_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await start_training(pilot, epochs=1)
        await until_trained(pilot)
        await click(pilot, "#next")
        await wait_for(pilot, lambda: screen_name(app) == "DeployScreen")
        await pilot.press("ctrl+q")  # gone before choosing where the endpoint runs
    with Ledger() as ledger:
        assert len(ledger.unfinished_runs()) == 1
        [job] = [r.name for r in ledger.resources() if r.kind == "training-job"]

    again = SagewizApp(WizardState.load())  # the next `sagewiz`
    async with again.run_test(size=(100, 30)) as pilot:
        await resume_the_unfinished_run(pilot)
        await until_trained(pilot)  # the job is found completed: nothing is trained again
        assert again.state.trained.summary["training"]["job_name"] == job
        await click(pilot, "#next")
        await wait_for(pilot, lambda: screen_name(again) == "DeployScreen")
        await deploy_and_test(pilot)
    with Ledger() as ledger:
        assert ledger.unfinished_runs() == []
        assert [r.name for r in ledger.resources(include_deleted=True) if r.kind == "training-job"] == [job]


async def until_tuned(pilot) -> None:
    """Wait on the tuning step until it ended (the outcome says how)."""
    app = pilot.app
    await wait_for(pilot, lambda: screen_name(app) == "TuningScreen")
    await wait_for(pilot, lambda: not app.screen.query_one("#next").disabled, timeout=600, what="tuning")


async def to_training_with_tuning(pilot, tune_jobs: int) -> None:
    app = pilot.app
    await start_training(pilot, epochs=1, tune_jobs=tune_jobs)
    await until_trained(pilot)
    assert f"Next: tuning, {tune_jobs} more trainings" in text_of(app, "#outcome") and str(app.screen.query_one("#next").label) == "Next: tune"
    await click(pilot, "#next")


@run_async
async def test_tuning_comes_after_the_first_training_on_its_own_step_and_the_better_model_goes_on(home, tmp_path):
    app = two_digits_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_training_with_tuning(pilot, 2)
        first = app.state.trained
        await until_tuned(pilot)

        tuned = app.state.trained
        trials = app.screen.query_one("#trials")
        assert trials.display and trials.row_count == 2  # the trials as a table, the best starred
        assert [str(trials.get_row_at(i)[0]) for i in range(2)].count("★") == 1
        chart = app.screen.query_one("#chart")
        assert len(chart.trials) == 2 and chart.first == first.validation_accuracy  # and as bars against the first training
        best = max(t["objective"] for t in tuned.summary["tuning"]["trials"])
        outcome = text_of(app, "#outcome")
        if best > first.validation_accuracy:
            assert "beat the first training" in outcome and tuned.summary["model_from"] == tuned.summary["tuning"]["best"]
        else:
            assert "No trial beat the first training" in outcome and tuned.model_uri == first.model_uri
        await click(pilot, "#next")
        await wait_for(pilot, lambda: screen_name(app) == "DeployScreen")
        assert app.state.trained is tuned


@run_async
async def test_tuning_stopped_before_a_trial_finished_leaves_the_first_model_to_go_on(home, tmp_path):
    app = two_digits_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_training_with_tuning(pilot, 2)
        first = app.state.trained
        await wait_for(pilot, lambda: screen_name(app) == "TuningScreen" and app.screen.job, what="the tuning job")
        assert "Tuning sagewiz-" in text_of(app, "#outcome") and "free" in text_of(app, "#outcome")
        await pilot.press("s")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmScreen")
        assert "the first training's, if no trial beat it" in text_of(app, "ConfirmScreen Static")
        await click(pilot, "#yes")
        await until_tuned(pilot)
        outcome = text_of(app, "#outcome")
        trials = [t for t in app.screen.trials if t[1] == "Completed"]
        if trials:  # a trial was quicker than the stop: the tuning ended Stopped with what it had
            assert "Tuned." in outcome
        else:
            assert "Tuning stopped before a trial finished" in outcome and "first training's model goes on" in outcome
            assert app.state.trained is first
        assert not app.screen.query_one("#stop").display
        await click(pilot, "#next")
        await wait_for(pilot, lambda: screen_name(app) == "DeployScreen")  # a model goes on either way


@run_async
async def test_quitting_mid_tuning_and_resuming_finds_the_same_tuning_job(home, tmp_path):
    app = two_digits_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_training_with_tuning(pilot, 2)
        await wait_for(pilot, lambda: screen_name(app) == "TuningScreen" and app.screen.job, what="the tuning job")
        await pilot.press("ctrl+q")  # the wizard goes; the tuning process doesn't
    with Ledger() as ledger:
        [tuning] = [r.name for r in ledger.resources() if r.kind == "tuning-job"]
        assert ledger.unfinished_runs()[0].step == "tune"

    again = SagewizApp(WizardState.load())  # the next `sagewiz`
    async with again.run_test(size=(100, 30)) as pilot:
        await resume_the_unfinished_run(pilot)
        await until_trained(pilot)  # the first training is found completed
        await click(pilot, "#next")
        await until_tuned(pilot)
        assert again.state.trained.summary["tuning"]["name"] == tuning and again.screen.query_one("#trials").row_count == 2
    with Ledger() as ledger:
        assert [r.name for r in ledger.resources(include_deleted=True) if r.kind == "tuning-job"] == [tuning]
        jobs = [r.name for r in ledger.resources(include_deleted=True) if r.kind == "training-job"]
        assert len(jobs) == len(set(jobs)) == 3  # the first training and the two trials, none started twice


@run_async
async def test_quitting_while_an_aws_endpoint_runs_says_what_it_costs_and_how_to_delete_it(home, tmp_path):
    """ctrl+q is how many people leave a terminal program: an endpoint kept for later must not be
    forgotten there (on AWS it bills every hour), so quitting says what Done says."""
    with Ledger() as ledger:
        endpoint = ledger.intend("aws", "endpoint", "sagewiz-cats-endpoint", region="us-east-1", cost_per_hour=0.115,
                                 details={"instance_type": "ml.c5.xlarge"})
        ledger.update(endpoint.id, state="active")
    app = SagewizApp(WizardState(), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app._exit_renderables, what="the words the wizard closes with")
        said = " ".join(" ".join(str(message) for message in app._exit_renderables).split())
    assert "The endpoint sagewiz-cats-endpoint is still running on AWS (ml.c5.xlarge), $0.115 per hour" in said
    assert "`sagewiz cleanup` deletes it" in said


@run_async
async def test_quitting_with_nothing_running_says_nothing(home, tmp_path):
    app = SagewizApp(WizardState(), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
        assert not app._exit_renderables
    assert app.return_code in (0, None)

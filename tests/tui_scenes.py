"""The wizard in the states a user sees, built the same way for snapshot tests and screenshots.

A scene is: the files the user has (written into a work folder, fixed seed, relative names so
nothing in the picture depends on where the folder is), the app as the user starts it, and the
keys and clicks that bring it to one screen. ``tests/test_tui_snapshots.py`` compares some of them
with accepted SVGs; ``screenshots/make_screenshots.py`` turns all of them into PNGs for README.md.
Run both with the current directory set to the scene's work folder and ``SAGEWIZ_HOME`` inside it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sagewiz.tui.app import SagewizApp
from sagewiz.tui.state import WizardState

SAMPLE = "digits"  # relative to the work folder: the same text on screen wherever that is


@dataclass(frozen=True)
class Scene:
    name: str  # file name of its snapshot and screenshot
    caption: str  # what the picture shows, for README.md
    prepare: Callable[[Path], WizardState]  # writes the user's files, returns the saved answers
    drive: Callable[[object], Awaitable[None]]  # pilot → the screen to show
    slow: bool = False  # trains a model: screenshots only, not snapshot tests
    look_for_unfinished: bool = False
    continues: str | None = None  # drive picks up where that scene left off, in the same app

    def app(self, workdir: Path) -> SagewizApp:
        return SagewizApp(self.prepare(workdir), unfinished_runs=self.look_for_unfinished)


async def wait_until(pilot, condition: Callable[[], bool], timeout: float = 60.0, what: str = "the screen") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


def on_screen(pilot, name: str) -> bool:
    return type(pilot.app.screen).__name__ == name


def shown(pilot, selector: str) -> str:
    return str(pilot.app.screen.query_one(selector).render())


def pictures_being_drawn(pilot) -> bool:
    from sagewiz.tui.thumbnails import ClassThumbnails

    return any(thumbs.is_drawing for thumbs in pilot.app.screen.query(ClassThumbnails))


async def settle(pilot) -> None:
    """Let the last layout and any animation finish, so the picture is the one a user would see.
    A blinking cursor is caught on or off by chance: hold it on, or pictures differ run to run."""
    from textual.widgets import Input

    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.2)


# What the user has --------------------------------------------------------------------------

def nothing(workdir: Path) -> WizardState:
    return WizardState()


def sample(workdir: Path, classes=(0, 1, 2)) -> WizardState:
    from sagewiz.core.dataset.sample import write_sample_dataset

    write_sample_dataset(workdir / SAMPLE, classes=list(classes), seed=1)
    return WizardState(data_dir=SAMPLE)


def sample_with_problems(workdir: Path) -> WizardState:
    """The sample as people's folders really are: a broken download, a note, one picture twice."""
    state = sample(workdir)
    train = workdir / SAMPLE / "train"
    (train / "digit_0" / "download.jpg").write_bytes(b"<html>404 Not Found</html>")
    (train / "notes.txt").write_text("from the scanner, batch 3\n")
    first = sorted((train / "digit_1").iterdir())[0]
    (train / "digit_2" / "copy.png").write_bytes(first.read_bytes())
    return state


def a_folder_that_is_not_there(workdir: Path) -> WizardState:
    return WizardState(data_dir="holiday-photos")


def one_class(workdir: Path) -> WizardState:
    from sagewiz.core.dataset.sample import write_sample_dataset

    import shutil

    write_sample_dataset(workdir / "only-sevens", classes=[1, 7], seed=1)  # the sample insists on two
    for split in ("train", "test"):
        shutil.rmtree(workdir / "only-sevens" / split / "digit_1")
    return WizardState(data_dir="only-sevens")


def an_interrupted_run(workdir: Path) -> WizardState:
    from sagewiz.core.ledger import Ledger

    state = sample(workdir)
    with Ledger() as ledger:
        run = ledger.start_run("local", {"data_dir": str(workdir / SAMPLE)})
        ledger.save_progress(run.id, "train", run.answers)
    return state


# How the user gets there ----------------------------------------------------------------------

async def to_welcome(pilot) -> None:
    await wait_until(pilot, lambda: on_screen(pilot, "WelcomeScreen"))
    await settle(pilot)


async def to_welcome_in_light(pilot) -> None:
    await to_welcome(pilot)
    await pilot.press("ctrl+t")
    await settle(pilot)


async def to_dataset_checked(pilot) -> None:
    """Welcome → the dataset step, which checks the remembered folder; wait for its verdict."""
    await to_welcome(pilot)
    await pilot.click("#next")
    await wait_until(pilot, lambda: on_screen(pilot, "DatasetScreen"))
    await wait_until(pilot, lambda: any(mark in shown(pilot, "#summary") for mark in ("✓", "✗", "What to do")),
                     what="the folder to be checked")
    await wait_until(pilot, lambda: not pictures_being_drawn(pilot), what="the pictures of each class")
    await settle(pilot)


async def to_where(pilot) -> None:
    """The Where step on the local backend: this computer, ready, with the time estimate."""
    await to_dataset_checked(pilot)
    await pilot.click("#next")
    await wait_until(pilot, lambda: on_screen(pilot, "RegionScreen") and "should take about" in shown(pilot, "#status"))
    await settle(pilot)


async def to_settings(pilot) -> None:
    await to_where(pilot)
    await pilot.click("#next")
    await wait_until(pilot, lambda: on_screen(pilot, "SettingsScreen") and "of training on this computer" in shown(pilot, "#verdict"))
    await settle(pilot)


async def to_training(pilot) -> None:
    """Mid-way: two epochs' accuracy on the chart, the third running (of five: a model worth testing)."""
    await to_settings(pilot)
    pilot.app.screen.query_one("#epochs").value = "5"
    await pilot.pause()
    await pilot.click("#next")
    await wait_until(pilot, lambda: on_screen(pilot, "TrainingScreen"))
    await wait_until(pilot, lambda: len(pilot.app.screen.accuracy) >= 2, timeout=600, what="two epochs")
    await settle(pilot)


def _option(kind, gpus, quota, price):
    from sagewiz.core.backend import InstanceOption

    return InstanceOption(kind, gpus, 16.0 if gpus else None, quota, price, "bundled table (2026-11)")


def aws_regions() -> list:
    """What a new account sees: GPU quota in one region, 0 in most, the algorithm missing in one."""
    from sagewiz.core.backend import RegionReport

    def report(region, training, hosting, verdict, notes=()):
        best = [o for o in training if o.quota]
        return RegionReport(region, verdict != "algorithm missing", tuple(training), tuple(hosting), verdict,
                            min(best, key=lambda o: o.price_per_hour).instance_type if best else None,
                            hosting[0].instance_type if hosting and hosting[0].quota else None, tuple(notes))

    zero = "Quota is 0 for every GPU training type here: press q to request an increase."
    return [
        report("us-east-1", [_option("ml.g4dn.xlarge", 1, 1, 0.736), _option("ml.p3.2xlarge", 1, 0, 3.825)],
               [_option("ml.m5.large", 0, 2, 0.115)], "ready"),
        report("us-east-2", [_option("ml.g4dn.xlarge", 1, 0, 0.736), _option("ml.p3.2xlarge", 1, 0, 3.825)],
               [_option("ml.m5.large", 0, 0, 0.115)], "no quota", [zero]),
        report("eu-west-1", [_option("ml.g4dn.xlarge", 1, 0, 0.795), _option("ml.p3.2xlarge", 1, 0, 4.131)],
               [_option("ml.m5.large", 0, 0, 0.124)], "no quota", [zero]),
        report("ap-northeast-3", [], [_option("ml.m5.large", 0, 1, None)], "no capacity",
               ["No GPU type the algorithm trains on is offered here."]),
        report("mx-central-1", [], [], "algorithm missing", ["The Image Classification algorithm isn't published here."]),
    ]


async def to_aws_regions(pilot) -> None:
    """The Where step on AWS (the regions as a new account sees them; no AWS is asked)."""
    from sagewiz.tui.screens.region import RegionScreen

    await to_welcome(pilot)
    pilot.app.state.backend = "aws"
    pilot.app.push_screen(RegionScreen(pilot.app.state, aws_regions()))
    await wait_until(pilot, lambda: on_screen(pilot, "RegionScreen") and pilot.app.screen.reports)
    await settle(pilot)


async def to_aws_storage(pilot) -> None:
    """The storage step on AWS: what will be created and how it is protected (no AWS is asked)."""
    from sagewiz.core.aws.session import Identity
    from sagewiz.tui.screens.storage import StorageScreen

    await to_welcome(pilot)
    pilot.app.state.backend, pilot.app.state.region = "aws", "us-east-1"
    pilot.app.push_screen(StorageScreen(pilot.app.state, Identity("123456789012", "arn:aws:iam::123456789012:user/ada")))
    await wait_until(pilot, lambda: on_screen(pilot, "StorageScreen") and pilot.app.screen.query("#plan")
                     and "sagewiz will create" in shown(pilot, "#plan"))
    await settle(pilot)


def a_trained_model(workdir: Path) -> WizardState:
    """Yesterday's run: the sample trained for one epoch on this computer (takes a few seconds)."""
    from sagewiz.tui.cli import main

    state = sample(workdir)
    if main(["run", "--data", state.data_dir, "--hp", "epochs=1", "--yes"]) != 0:
        raise RuntimeError("the scene's training run failed")
    return state


async def to_incremental(pilot) -> None:
    await wait_until(pilot, lambda: on_screen(pilot, "WelcomeScreen") and pilot.app.screen.query("#continue"))
    await pilot.click("#continue")
    await wait_until(pilot, lambda: on_screen(pilot, "IncrementalScreen") and pilot.app.screen.jobs, what="the earlier jobs")
    await settle(pilot)


async def then_results(pilot) -> None:
    """(After to_training) deployed, tested, the endpoint deleted: the results are shown."""
    await wait_until(pilot, lambda: not pilot.app.screen.query_one("#next").disabled, timeout=900,
                     what="training, deployment and testing")
    await settle(pilot)


async def then_cleanup(pilot) -> None:
    await pilot.click("#next")
    await wait_until(pilot, lambda: on_screen(pilot, "CleanupScreen") and pilot.app.screen.resources,
                     what="the list of what sagewiz created")
    await settle(pilot)


SCENES = [
    Scene("welcome", "Welcome: where to train, or make a sample dataset", nothing, to_welcome),
    Scene("welcome-light", "Welcome in the light theme (ctrl+t)", nothing, to_welcome_in_light),
    Scene("welcome-resume", "Welcome with an interrupted run to resume", an_interrupted_run, to_welcome,
          look_for_unfinished=True),
    Scene("dataset", "Pictures: the checked folder, classes and counts per split", sample, to_dataset_checked),
    Scene("dataset-problems", "Pictures: every problem found, with what sagewiz does about it",
          sample_with_problems, to_dataset_checked),
    Scene("dataset-missing", "Pictures: a folder that isn't there, and what to do", a_folder_that_is_not_there,
          to_dataset_checked),
    Scene("dataset-one-class", "Pictures: a folder that can't be trained on yet", one_class, to_dataset_checked),
    Scene("where", "Where: this computer, and how long the suggested settings take", sample, to_where),
    Scene("where-aws", "Where on AWS: regions with the algorithm, GPU types, quota and price; the cheapest ready one first",
          nothing, to_aws_regions),
    Scene("storage-aws", "Storage on AWS: the private bucket and the role, every protection spelled out, one confirmation",
          nothing, to_aws_storage),
    Scene("incremental", "Continue an earlier model: the jobs that completed, with their accuracy", a_trained_model,
          to_incremental, slow=True, look_for_unfinished=True),
    Scene("settings", "Settings: suggested for the pictures, checked as you type", sample, to_settings),
    Scene("training", "Training: steps, accuracy per epoch and the algorithm's log", sample, to_training, slow=True),
    Scene("results", "Tested: accuracy, per-class precision and recall, confusion matrix", sample, then_results,
          slow=True, continues="training"),
    Scene("cleanup", "Clean up: what sagewiz created, and deleting it", sample, then_cleanup, slow=True,
          continues="results"),
]
BY_NAME = {scene.name: scene for scene in SCENES}

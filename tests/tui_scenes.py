"""The wizard in the states a user sees, built the same way for snapshot tests and screenshots.

A scene is: the files the user has (written into a work folder, fixed seed, relative names so
nothing in the picture depends on where the folder is), the app as the user starts it, and the
keys and clicks that bring it to one screen. ``tests/test_tui_snapshots.py`` compares some of them
with accepted SVGs; ``screenshots/make_screenshots.py`` turns all of them into PNGs for README.md.
Run both with the current directory set to the scene's work folder and ``SAGEWIZ_HOME`` inside it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from pilot_steps import click, wait_for
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
    make_app: Callable[[Path], object] | None = None  # another app than the wizard (the monitor's scenes)

    def app(self, workdir: Path):
        state = self.prepare(workdir)
        if self.make_app is not None:
            return self.make_app(workdir)
        return SagewizApp(state, unfinished_runs=self.look_for_unfinished)


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


def sample_and_last_times_epochs(workdir: Path) -> WizardState:
    """The sample, and the answers kept from last time: epochs 3 (the suggestion for it is 20)."""
    sample(workdir)
    return WizardState(data_dir=SAMPLE, overrides={"epochs": "3"})


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
    """The folder remembered from last time is on a USB stick that isn't plugged in (a fixed path,
    so the message reads the same wherever the scene runs)."""
    return WizardState(data_dir="/media/usb-stick/holiday-photos")


def one_class(workdir: Path) -> WizardState:
    from sagewiz.core.dataset.sample import write_sample_dataset

    import shutil

    write_sample_dataset(workdir / "only-sevens", classes=[1, 7], seed=1)  # the sample insists on two
    for split in ("train", "test"):
        shutil.rmtree(workdir / "only-sevens" / split / "digit_1")
    return WizardState(data_dir="only-sevens")


def an_interrupted_run(workdir: Path) -> WizardState:
    """A run that stopped at the Train step, started this morning at 09:12 on the user's clock
    (its id and time fixed, so the picture is the same on every run and in every time zone)."""
    import sqlite3
    from datetime import datetime, timezone

    from sagewiz.core.ledger import Ledger, default_ledger_path

    state = sample(workdir)
    with Ledger() as ledger:
        run = ledger.start_run("local", {"data_dir": str(workdir / SAMPLE)})
        ledger.save_progress(run.id, "train", run.answers)
    started = datetime(2026, 11, 25, 9, 12).astimezone().astimezone(timezone.utc).isoformat(timespec="seconds")
    with sqlite3.connect(default_ledger_path()) as db:  # nothing refers to the run yet: its id can change
        db.execute("UPDATE runs SET id = ?, started_at = ? WHERE id = ?", (RUN + "9c0d7e21a4b6f80312ab45cd", started, run.id))
    db.close()
    return state


# How the user gets there ----------------------------------------------------------------------

async def to_welcome(pilot) -> None:
    await wait_for(pilot, lambda: on_screen(pilot, "WelcomeScreen"))
    await settle(pilot)


async def to_welcome_in_light(pilot) -> None:
    await to_welcome(pilot)
    await pilot.press("ctrl+t")
    await settle(pilot)


async def to_dataset_checked(pilot) -> None:
    """Welcome → the dataset step, which checks the remembered folder; wait for its verdict."""
    await to_welcome(pilot)
    await click(pilot, "#next")
    await wait_for(pilot, lambda: on_screen(pilot, "DatasetScreen"))
    await wait_for(pilot, lambda: any(mark in shown(pilot, "#summary") for mark in ("✓", "✗", "What to do")),
                     what="the folder to be checked")
    await wait_for(pilot, lambda: not pictures_being_drawn(pilot), what="the pictures of each class")
    await wait_for(pilot, lambda: not pilot.app.screen.packing, what="the pictures to be packed")
    await settle(pilot)


async def to_folder_browser(pilot) -> None:
    """The dataset step's folder browser (ctrl+o), opened at the remembered folder, its first folder highlighted."""
    await to_dataset_checked(pilot)
    # The mouse is still where Welcome's Next was clicked, over Back: whether Back is drawn hovered
    # under the browser depended on which refresh came first (a CI run caught it so). Away from it:
    await pilot.hover("#summary")
    await pilot.pause()
    await pilot.press("ctrl+o")
    await wait_for(pilot, lambda: on_screen(pilot, "FolderPicker") and pilot.app.screen.query_one("#tree").root.children)
    await pilot.press("down")
    await wait_for(pilot, lambda: "/test" in shown(pilot, "#highlighted"))
    await settle(pilot)


async def to_where(pilot) -> None:
    """The Where step on the local backend: this computer, ready, with the time estimate."""
    await to_dataset_checked(pilot)
    await click(pilot, "#next")
    await wait_for(pilot, lambda: on_screen(pilot, "RegionScreen") and "should take about" in shown(pilot, "#status"))
    await settle(pilot)


async def to_settings(pilot) -> None:
    await to_where(pilot)
    await click(pilot, "#next")
    await wait_for(pilot, lambda: on_screen(pilot, "SettingsScreen") and "of training on this computer" in shown(pilot, "#verdict"))
    await settle(pilot)


async def to_training(pilot) -> None:
    """Mid-way: two epochs' accuracy on the chart, the third running (of five: a model worth testing)."""
    await to_settings(pilot)
    pilot.app.screen.query_one("#epochs").value = "5"
    await pilot.pause()
    await click(pilot, "#next")
    await wait_for(pilot, lambda: on_screen(pilot, "TrainingScreen"))
    await wait_for(pilot, lambda: len(pilot.app.screen.accuracy) >= 2, timeout=600, what="two epochs")
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
    await wait_for(pilot, lambda: on_screen(pilot, "RegionScreen") and pilot.app.screen.reports)
    await settle(pilot)


async def to_aws_storage(pilot) -> None:
    """The storage step on AWS: what will be created and how it is protected (no AWS is asked)."""
    from sagewiz.core.aws.session import Identity
    from sagewiz.tui.screens.storage import StorageScreen

    await to_welcome(pilot)
    pilot.app.state.backend, pilot.app.state.region = "aws", "us-east-1"
    pilot.app.push_screen(StorageScreen(pilot.app.state, Identity("123456789012", "arn:aws:iam::123456789012:user/ada")))
    await wait_for(pilot, lambda: on_screen(pilot, "StorageScreen") and pilot.app.screen.query("#plan")
                     and "sagewiz will create" in shown(pilot, "#plan"))
    await settle(pilot)


# Recorded runs --------------------------------------------------------------------------------
# After training, screens show accuracies and timings that differ run to run. So that those screens
# can be compared picture by picture too, these scenes hand the real screens a run as the journey
# reports it (the events the training step hears, the trained model, the test results), made here
# from fixed numbers on the sample's own pictures. The same screens run for real in test_tui.py.

RUN = "5e1f2a3b"
TRAIN_JOB, TUNE_JOB, ENDPOINT = f"sagewiz-{RUN}-train", f"sagewiz-{RUN}-tune", f"sagewiz-{RUN}-endpoint"
EPOCHS = ((0.512, 0.631), (0.803, 0.842), (0.921, 0.905), (0.957, 0.937), (0.974, 0.958))  # (train, validation)
TRIALS = (("sagewiz-5e1f2a3b-tune-001", "Completed", 0.971, False, {"learning_rate": "0.0132", "mini_batch_size": "32"}),
          ("sagewiz-5e1f2a3b-tune-002", "Stopped", 0.874, True, {"learning_rate": "0.0009", "mini_batch_size": "64"}),
          ("sagewiz-5e1f2a3b-tune-003", "Completed", 0.949, False, {"learning_rate": "0.0410", "mini_batch_size": "16"}))


def _test_pictures() -> list[tuple[str, int]]:
    """The sample's test pictures, named relative to the work folder as the journey would list them."""
    root = Path(SAMPLE) / "test"
    classes = sorted(p.name for p in root.iterdir())
    return [(str(path), label) for label, name in enumerate(classes) for path in sorted((root / name).iterdir())]


def _recorded_events() -> list:
    from sagewiz.core.journey import JourneyEvent as Event

    pictures = len(_test_pictures()) * 5
    events = [Event("step", "check", f"Checking the pictures in {SAMPLE}"),
              Event("progress", "check", "", {"done": pictures, "total": pictures}),
              Event("done", "check", f"{pictures} pictures in 3 classes."),
              Event("step", "prepare", "Packing the pictures into RecordIO files"),
              Event("step", "upload", "Copying the training data to private storage"),
              Event("step", "train", f"Training {TRAIN_JOB} on local-cpu", {"job": TRAIN_JOB})]
    for epoch, (train, validation) in enumerate(EPOCHS):
        for name, value in (("Train", train), ("Validation", validation)):
            events.append(Event("log", "train", f"[11/25/2026 09:0{epoch}:1{epoch} INFO 140] Epoch[{epoch}] {name}-accuracy={value:.6f}"))
            events.append(Event("metric", "train", "", {"epoch": epoch, "name": f"{name.lower()}:accuracy", "value": value}))
    events.append(Event("done", "train", f"{TRAIN_JOB} completed"))
    return events


def _recorded_tuning() -> list:
    """The tuning step's events: the trials as they start and end, the first one best throughout."""
    from sagewiz.core.journey import JourneyEvent as Event

    events = [Event("step", "tune", f"Tuning {TUNE_JOB}: 3 training jobs, keeping the best", {"job": TUNE_JOB})]
    for done in range(1, len(TRIALS) + 1):
        rows = [t[:4] if n < done else (t[0], "InProgress", None, False) for n, t in enumerate(TRIALS[:done], 1)]
        events.append(Event("trials", "tune", "", {"trials": rows, "best": TRIALS[0][0] if done > 1 else None,
                                                   "hyperparameters": {t[0]: t[4] for t in TRIALS[:done]}}))
    events.append(Event("trials", "tune", "", {"trials": [t[:4] for t in TRIALS], "best": TRIALS[0][0],
                                               "hyperparameters": {t[0]: t[4] for t in TRIALS}}))
    return events


def _trained(backend: str = "local", tuned: bool = False):
    from sagewiz.core.backend import InstanceOption
    from sagewiz.core.journey import TrainedModel

    epochs = [{"epoch": e, "train:accuracy": t, "validation:accuracy": v} for e, (t, v) in enumerate(EPOCHS)]
    summary = {"run_id": RUN, "backend": backend, "dataset": {"classes": ["digit_0", "digit_1", "digit_2"]},
               "training": {"job_name": TRAIN_JOB, "status": "Completed", "epochs": epochs}, "model_from": TRAIN_JOB}
    if tuned:  # the best trial beat the first training: its model goes on
        summary["tuning"] = {"name": TUNE_JOB, "status": "Completed", "best": TRIALS[0][0],
                             "trials": [{"job_name": n, "status": st, "objective": o, "pruned": pr, "hyperparameters": hp}
                                        for n, st, o, pr, hp in TRIALS]}
        summary["model_from"] = TRIALS[0][0]
    if backend == "aws":
        hosting = (_option("ml.c5.xlarge", 0, 1, 0.204), _option("ml.m5.large", 0, 2, 0.115),
                   _option("ml.g4dn.xlarge", 1, 0, 0.736), _option("ml.m5.xlarge", 0, None, None))
        return TrainedModel(RUN, summary, "s3://sagewiz-123456789012-us-east-1/5e1f2a3b/output/model.tar.gz", "us-east-1",
                            hosting, "ml.m5.large", tuple(_test_pictures()), ("digit_0", "digit_1", "digit_2"), 1)
    return TrainedModel(RUN, summary, "file:///models/model.tar.gz", "local", (InstanceOption("local-cpu", 0, None, None, 0.0, "free"),),
                        "local-cpu", tuple(_test_pictures()), ("digit_0", "digit_1", "digit_2"), 1)


def _tested(trained, kept: bool = False) -> dict:
    """The test, as the endpoint would answer it: a model right on most pictures, sure of itself,
    and wrong on every seventh (the answers are a fixed rule, not a model)."""
    from sagewiz.core.backend import Prediction
    from sagewiz.core.evaluate import evaluate

    answers = {}
    for index, (path, label) in enumerate(trained.test_images):
        said = (label + 1) % 3 if index % 7 == 3 else label
        sure = 0.55 + (index % 5) * 0.09
        answers[Path(path).read_bytes()] = tuple(sure if c == said else (1 - sure) / 2 for c in range(3))
    evaluation = evaluate(trained.test_images, lambda image, _: Prediction(answers[image]), trained.class_names,
                          top_k=trained.top_k, workers=1)
    endpoint = {"name": ENDPOINT, "url": None, "instance_type": trained.recommended_hosting}
    return {**trained.summary, "endpoint": endpoint if kept else {**endpoint, "deleted": True},
            "evaluation": evaluation.to_dict(), "test_accuracy": evaluation.accuracy}


def _replayed(screen_class):
    """``screen_class`` drawing the recorded run instead of asking a backend."""
    from dataclasses import replace

    from sagewiz.tui.screens.cleanup import CleanupScreen
    from sagewiz.tui.screens.deploy import DeployScreen
    from sagewiz.tui.screens.incremental import IncrementalScreen
    from sagewiz.tui.screens.predict import PredictScreen
    from sagewiz.tui.screens.training import TrainingScreen
    from sagewiz.tui.screens.tuning import TuningScreen

    def training(self) -> None:
        for event in _recorded_events():
            self.show_event(event)
        self.finished(_trained(self.state.backend))

    def tuning(self) -> None:
        for event in _recorded_tuning():
            self.show_event(event)
        self.finished(_trained(self.state.backend, tuned=True))

    def prediction(self, path: str) -> None:
        self.show(path, (0.062, 0.871, 0.067))

    def resources(self) -> None:
        self.show(_aws_resources())

    def model_size(self) -> None:
        self.know_model_size(MODEL_BYTES)  # what S3 would say of the archive

    def earlier_jobs(self) -> None:
        made = _aws_resources()
        local = replace(made[1], backend="local", region="local", name="sagewiz-0c4d9e71-train", updated_at="2026-11-24T17:42:00Z")
        self.show([(made[1], "0.971", "18"), (local, "0.958", "18")])

    # the screen's own name, so wait_for and the pictures know it
    override = {TrainingScreen: {"journey": training}, TuningScreen: {"tune": tuning}, PredictScreen: {"predict": prediction},
                CleanupScreen: {"load": resources}, IncrementalScreen: {"load": earlier_jobs},
                DeployScreen: {"look_up_model_size": model_size}}[screen_class]
    return type(screen_class.__name__, (screen_class,), override)


def _aws_resources() -> list:
    from sagewiz.core.ledger import Resource

    def made(index, kind, name, state, cost):
        return Resource(index, RUN, "aws", kind, name, "us-east-1", None, state, cost, None, {}, "2026-11-25T09:00:00Z", "2026-11-25T09:20:00Z")

    return [made(1, "endpoint", ENDPOINT, "active", 0.115), made(2, "training-job", TRAIN_JOB, "completed", 0.0),
            made(3, "bucket", "sagewiz-123456789012-us-east-1", "active", 0.0),
            made(4, "role", "sagewiz-sagemaker-us-east-1", "active", 0.0)]


async def _show(pilot, screen, ready: Callable[[], bool]) -> None:
    await to_welcome(pilot)
    pilot.app.push_screen(screen)
    await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == type(screen).__name__ and ready())
    await settle(pilot)


async def to_trained(pilot) -> None:
    """The training step once the model is there: every step done, the chart, the epochs' log."""
    from sagewiz.tui.screens.training import TrainingScreen

    await _show(pilot, _replayed(TrainingScreen)(pilot.app.state), lambda: pilot.app.state.trained is not None)


async def to_tuned_on_aws(pilot) -> None:
    """On SageMaker, after the first training, a tuning job of three: the trials as a live table
    and a chart against the first training, the best starred."""
    from sagewiz.tui.screens.tuning import TuningScreen

    state = pilot.app.state
    state.backend, state.region, state.tune_jobs, state.training_price = "aws", "us-east-1", 3, 0.736
    state.trained = _trained("aws")
    await _show(pilot, _replayed(TuningScreen)(state), lambda: "tuning" in state.trained.summary)


async def to_deploy(pilot) -> None:
    from sagewiz.tui.screens.deploy import DeployScreen

    pilot.app.state.trained = _trained()
    await _show(pilot, DeployScreen(pilot.app.state), lambda: pilot.app.screen.query("#cost"))


MODEL_BYTES = 2_843_117  # the recorded model's archive in S3


async def to_deploy_on_aws(pilot) -> None:
    from sagewiz.tui.screens.deploy import DeployScreen

    state = pilot.app.state
    state.backend, state.region, state.trained = "aws", "us-east-1", _trained("aws")
    await _show(pilot, _replayed(DeployScreen)(state), lambda: pilot.app.screen.query("#cost") and pilot.app.screen.model_size)


async def to_deploy_here_on_aws(pilot) -> None:
    """The model SageMaker trained, to be tested on this computer instead: free, the download and
    what the recommended endpoint would cost said."""
    await to_deploy_on_aws(pilot)
    pilot.app.screen.query_one("#instance").value = "local-cpu"
    await wait_for(pilot, lambda: "Download the model" in shown(pilot, "#steps"))
    await settle(pilot)


async def to_evaluate(pilot) -> None:
    """The test results, the first wrong picture drawn beside the list."""
    from sagewiz.tui.screens.evaluate import EvaluateScreen

    state = pilot.app.state
    state.summary = _tested(_trained())
    await _show(pilot, EvaluateScreen(state), lambda: pilot.app.screen.query("#wrong-picture") and "▀" in pilot.app.screen.query_one("#wrong-picture").text)


async def to_predict(pilot) -> None:
    """The endpoint kept: a picture it got wrong in the test, asked again, the answer as bars."""
    from sagewiz.tui.screens.predict import PredictScreen

    state = pilot.app.state
    state.summary = _tested(_trained(), kept=True)
    await _show(pilot, _replayed(PredictScreen)(state), lambda: pilot.app.screen.query("#predict"))
    await click(pilot, "#predict")
    await wait_for(pilot, lambda: pilot.app.screen.answer and "▀" in pilot.app.screen.query_one("#preview").text, what="the answer")
    await settle(pilot)


async def to_cleanup_on_aws(pilot) -> None:
    from sagewiz.tui.screens.cleanup import CleanupScreen

    state = pilot.app.state
    state.backend, state.region = "aws", "us-east-1"
    await _show(pilot, _replayed(CleanupScreen)(state), lambda: pilot.app.screen.resources)


async def to_cleanup_question_on_aws(pilot) -> None:
    """Delete selected: the question names each thing that goes before anything does."""
    await to_cleanup_on_aws(pilot)
    await click(pilot, "#delete")
    await wait_for(pilot, lambda: on_screen(pilot, "ConfirmScreen"), what="the question before deleting")
    await settle(pilot)


async def to_incremental(pilot) -> None:
    """Continue an earlier model: the completed jobs, here and on SageMaker, with their accuracy."""
    from sagewiz.tui.screens.incremental import IncrementalScreen

    await _show(pilot, _replayed(IncrementalScreen)(pilot.app.state), lambda: pilot.app.screen.jobs)


async def then_trained(pilot) -> None:
    """(After to_training) the model is there: on to its endpoint."""
    await wait_for(pilot, lambda: pilot.app.state.trained is not None, timeout=900, what="training")
    await click(pilot, "#next")
    await wait_for(pilot, lambda: on_screen(pilot, "DeployScreen"))
    await settle(pilot)


async def then_tested(pilot) -> None:
    """(After to_training) trained, deployed, tested, the endpoint deleted: the results."""
    await then_trained(pilot)
    await click(pilot, "#deploy")
    await wait_for(pilot, lambda: not pilot.app.screen.query_one("#next").disabled, timeout=300, what="the endpoint and the test")
    await click(pilot, "#next")
    await wait_for(pilot, lambda: on_screen(pilot, "EvaluateScreen"))
    await settle(pilot)


async def then_cleanup(pilot) -> None:
    await click(pilot, "#next")
    await wait_for(pilot, lambda: on_screen(pilot, "CleanupScreen") and pilot.app.screen.resources,
                     what="the list of what sagewiz created")
    await settle(pilot)


def _monitor_scenes() -> list[Scene]:
    from monitor_scenes import (monitor_app, something_running, to_monitor, to_monitor_job, to_monitor_stop_question,
                                to_monitor_tuning)

    return [
        Scene("monitor", "Monitor: everything the account runs and what it costs now",
              nothing, to_monitor, make_app=monitor_app()),
        Scene("monitor-stale", "Monitor while AWS throttles: a stale section says so",
              nothing, to_monitor, make_app=monitor_app(throttled="notebook-instance")),
        Scene("monitor-job", "Monitor: a job started from a notebook, followed live", nothing, to_monitor_job, make_app=monitor_app()),
        Scene("monitor-tuning", "Monitor: a tuning job's trials live, the best starred", nothing, to_monitor_tuning,
              make_app=monitor_app()),
        Scene("monitor-stop-question", "Monitor: stopping the forgotten notebook asks first",
              nothing, to_monitor_stop_question, make_app=monitor_app()),
        Scene("monitor-offered", "Welcome, while something runs: the monitor offered",
              something_running, to_welcome, look_for_unfinished=True),
    ]


MONITOR_SCENES = _monitor_scenes()

SCENES = [
    Scene("welcome", "Welcome: where to train, or make a sample dataset", nothing, to_welcome),
    Scene("welcome-light", "Welcome in the light theme (ctrl+t)", nothing, to_welcome_in_light),
    Scene("welcome-resume", "Welcome with an interrupted run to resume", an_interrupted_run, to_welcome,
          look_for_unfinished=True),
    Scene("dataset", "Pictures: the checked folder, classes and counts per split", sample, to_dataset_checked),
    Scene("dataset-problems", "Pictures: every problem found, with what sagewiz does about it",
          sample_with_problems, to_dataset_checked),
    Scene("dataset-missing", "Pictures: a folder that isn't there (on a USB stick not plugged in), and what to do", a_folder_that_is_not_there,
          to_dataset_checked),
    Scene("dataset-browse", "Pictures: browsing for the folder (ctrl+o), folders only, what each holds", sample,
          to_folder_browser),
    Scene("dataset-one-class", "Pictures: a folder that can't be trained on yet", one_class, to_dataset_checked),
    Scene("where", "Where: this computer, and how long the suggested settings take", sample, to_where),
    Scene("where-aws", "Where on AWS: regions with the algorithm, GPU types, quota and price; the cheapest ready one first",
          nothing, to_aws_regions),
    Scene("storage-aws", "Storage on AWS: the private bucket and the role, every protection spelled out, one confirmation",
          nothing, to_aws_storage),
    Scene("incremental", "Continue an earlier model: the jobs that completed, with their accuracy", nothing, to_incremental),
    Scene("settings", "Settings: suggested for the pictures, checked as you type", sample, to_settings),
    Scene("settings-last-time", "Settings: a value kept from last time is marked as yours, beside the suggestion ctrl+r puts back",
          sample_and_last_times_epochs, to_settings),
    Scene("trained", "Trained: every step done, accuracy per epoch, the algorithm's log", sample, to_trained),
    Scene("tuning-aws", "Tuning on SageMaker: the trials as a live table and a chart against the first training, the best starred",
          sample, to_tuned_on_aws),
    Scene("deploy", "Deploy: the endpoint on this computer, free; kept or deleted after the test", sample, to_deploy),
    Scene("deploy-aws", "Deploy on AWS: endpoint types with their price and quota, the cost spelled out", sample,
          to_deploy_on_aws),
    Scene("deploy-aws-here", "Deploy on AWS, tested on this computer instead: free, the difference said",
          sample, to_deploy_here_on_aws),
    Scene("evaluate", "Tested: accuracy, per-class precision and recall, confusion matrix, each wrong picture shown",
          sample, to_evaluate),
    Scene("predict", "With the endpoint kept: ask it about any picture, the classes as bars", sample, to_predict),
    Scene("cleanup-aws", "Clean up: what sagewiz created, what it costs per hour, and deleting it", nothing,
          to_cleanup_on_aws),
    Scene("cleanup-aws-question", "Clean up: every deletion names what goes and waits for a yes", nothing,
          to_cleanup_question_on_aws),
    *MONITOR_SCENES,
    Scene("training", "Training for real: steps, accuracy per epoch and the algorithm's log", sample, to_training, slow=True),
    Scene("results", "Tested for real through the endpoint", sample, then_tested, slow=True, continues="training"),
    Scene("cleanup", "Clean up after a real run", sample, then_cleanup, slow=True, continues="results"),
]
BY_NAME = {scene.name: scene for scene in SCENES}

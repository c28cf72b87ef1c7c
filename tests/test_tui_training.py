"""The Train step while a job runs: quitting, coming back, how the time and the epochs read."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pilot_steps import wait_for
from sagewiz.core.journey import JourneyEvent
from sagewiz.tui.app import SagewizApp
from sagewiz.tui.state import WizardState

JOB = "sagewiz-5e1f2a3b-train"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


class Job:
    """A training job as the journey reports it: it started and has written its log up to
    ``events``; then it is between two log lines (``follow_logs`` waiting) until ``next_line``."""

    def __init__(self, monkeypatch, events=(), started_at: float | None = None):
        self.events = list(events)
        self.started_at = started_at
        self.next_line = threading.Event()
        self.waiting = threading.Event()
        self.left = threading.Event()
        monkeypatch.setattr("sagewiz.core.journey.train_model", self.train_model)

    def train_model(self, backend, options, run_id, listen, **_):
        listen(JourneyEvent("step", "train", f"Training {JOB} on local-cpu", {"job": JOB, "hyperparameters": {"epochs": "5"}}))
        if self.started_at is not None:
            listen(JourneyEvent("started", "train", "", {"job": JOB, "started_at": self.started_at}))
        for event in self.events:
            listen(event)
        self.waiting.set()
        try:
            self.next_line.wait(20)
            listen(JourneyEvent("log", "train", "Epoch[1] Batch [10]\tSpeed: 40.2 samples/sec"))
        finally:
            self.left.set()
        raise AssertionError("the watcher went on after the screen had gone")


async def on_the_train_step(pilot, job: Job) -> None:
    from sagewiz.tui.screens.training import TrainingScreen

    app = pilot.app
    await wait_for(pilot, lambda: type(app.screen).__name__ == "WelcomeScreen")
    app.push_screen(TrainingScreen(app.state))
    await wait_for(pilot, lambda: getattr(app.screen, "job", "") == JOB and job.waiting.is_set(), timeout=30,
                   what="the job watched")


def test_quitting_mid_training_closes_at_once_says_the_job_goes_on_and_logs_nothing(home, tmp_path, monkeypatch):
    job = Job(monkeypatch)
    app = SagewizApp(WizardState(data_dir=str(tmp_path)), unfinished_runs=False)

    async def story():
        async with app.run_test(size=(80, 24)) as pilot:
            await on_the_train_step(pilot, job)
            await pilot.press("ctrl+q")

    asyncio.run(story())  # returns once the app and every thread the exit waits for have ended
    assert not job.left.is_set(), "the exit waited for the watcher's next log line"
    assert f"The training job {JOB} goes on without the wizard" in app.farewell
    assert f"`sagewiz monitor {JOB}`" in app.farewell and "run `sagewiz` again" in app.farewell

    job.next_line.set()  # the job writes its next line: the watcher, with nobody to tell, ends there
    for thread in threading.enumerate():
        if thread.name.endswith(" watching"):
            thread.join(10)
    assert job.left.is_set() and not (home / "errors.log").exists()


def test_a_run_another_wizard_is_watching_is_not_offered_for_resuming(home):
    from sagewiz.core.ledger import Ledger
    from test_watching import another_wizard_watching

    with Ledger() as ledger:
        run = ledger.start_run("local", {"data_dir": "/somewhere"})
        ledger.save_progress(run.id, "train", run.answers)

    async def story():
        app = SagewizApp(WizardState())  # a second sagewiz
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: type(app.screen).__name__ == "WelcomeScreen" and app.screen.query("#resume-note"))
            return not app.screen.query("#resume"), " ".join(str(app.screen.query_one("#resume-note").render()).split())

    with another_wizard_watching(run.id) as other:
        no_resume, note = asyncio.run(story())
        assert no_resume and f"being watched by another sagewiz (process {other.pid})" in note and "sagewiz monitor" in note
    no_resume, note = asyncio.run(story())  # that wizard has gone: the run is this one's to resume
    assert not no_resume and "can be continued" in note


def the_clock_line(app, job) -> str:
    """What the Train step says of the job's time while it waits between two log lines."""
    async def story():
        async with app.run_test(size=(80, 24)) as pilot:
            await on_the_train_step(pilot, job)
            await pilot.pause()
            return " ".join(str(app.screen.query_one("#outcome").render()).split())

    try:
        return asyncio.run(story())
    finally:
        job.next_line.set()


def test_a_resumed_job_five_minutes_old_is_clocked_from_its_own_start(home, tmp_path, monkeypatch):
    import time

    job = Job(monkeypatch, started_at=time.time() - 300)
    app = SagewizApp(WizardState(data_dir=str(tmp_path)), unfinished_runs=False)

    clock = the_clock_line(app, job)
    assert f"Training {JOB}: 5m " in clock


def epochs_done(count: int) -> list:
    """The metric events of ``count`` epochs, accuracy rising."""
    return [JourneyEvent("metric", "train", "", {"epoch": epoch, "name": f"{split}:accuracy", "value": min(0.99, 0.3 + epoch / 40)})
            for epoch in range(count) for split in ("train", "validation")]


def test_at_80_by_24_the_log_has_room_and_twenty_epochs_stay_in_view_over_a_labelled_epoch_axis(home, tmp_path, monkeypatch):
    job = Job(monkeypatch, events=[JourneyEvent("log", "train", f"Epoch[{e}] Validation-accuracy=0.9") for e in range(20)]
              + epochs_done(20))
    app = SagewizApp(WizardState(data_dir=str(tmp_path)), unfinished_runs=False)

    async def story():
        async with app.run_test(size=(80, 24)) as pilot:
            await on_the_train_step(pilot, job)
            await pilot.pause()
            chart = app.screen.query_one("#chart")
            return app.screen.query_one("#log").content_region.height, str(chart.render()).splitlines(), chart.content_region.width

    try:
        log_lines, chart, width = asyncio.run(story())
    finally:
        job.next_line.set()
    assert log_lines >= 5
    [axis] = [line for line in chart if line.startswith("epoch ")]
    assert axis.split()[1] == "0" and axis.split()[-1] == "19"  # the first epoch and the last, both in view
    assert max(len(line) for line in chart) <= width  # nothing cut at the right


def test_a_training_far_slower_than_estimated_says_the_computer_is_busy_and_how_long_is_left(home, tmp_path, monkeypatch):
    import time

    # estimated at about 14 seconds (five epochs of 500 small pictures), and one epoch took ten minutes
    job = Job(monkeypatch, events=epochs_done(1), started_at=time.time() - 600)
    settings = {"num_classes": "3", "num_training_samples": "500", "epochs": "5", "image_shape": "3,28,28", "num_layers": "20"}
    real = job.train_model

    def train_model(backend, options, run_id, listen, **kwargs):
        listen(JourneyEvent("step", "train", f"Training {JOB} on local-cpu", {"job": JOB, "hyperparameters": settings}))
        return real(backend, options, run_id, listen, **kwargs)

    monkeypatch.setattr("sagewiz.core.journey.train_model", train_model)
    app = SagewizApp(WizardState(data_dir=str(tmp_path)), unfinished_runs=False)

    clock = the_clock_line(app, job)
    assert "Slower than estimated: the computer is busy — about 40 min left at this pace." in clock

"""Step 5: train, watched live: the steps, the algorithm's log, accuracy per epoch. The work is
:func:`sagewiz.core.journey.train_model`, the first half of what ``sagewiz run`` does; the
training itself is a separate process (or a SageMaker job), so quitting doesn't stop it, and the
next ``sagewiz`` offers to pick it up. Tuning, when asked for, comes next on its own step
(tuning.py); the endpoint after that (deploy.py), once the user has seen the model."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, ProgressBar, RichLog, Static

from sagewiz.tui.background import tell, watching_in_background
from sagewiz.tui.screens.chart import AccuracyChart
from sagewiz.tui.screens.common import StepBar, StepList, journey_listener, ready_to_go_on
from sagewiz.tui.screens.watching import JobScreen
from sagewiz.tui.words import Pace, error_text

SLOWER = 2.0  # how many times the estimate a training may take before the screen says it is slow


def pace_note(seconds: float, done: int, epochs: int, estimate: float) -> str:
    """What to say when a training of ``epochs`` epochs, ``done`` of them in ``seconds``, is far
    slower than the ``estimate`` (seconds) shown before it started: the estimate is for this kind
    of computer doing nothing else, so the likely cause is other work on it ("" while on pace)."""
    if not estimate or not epochs or done >= epochs:
        return ""
    if not done:
        return "Slower than estimated: the computer is busy (no epoch done yet)" if seconds > SLOWER * estimate else ""
    if seconds / done * epochs <= SLOWER * estimate:
        return ""
    left = seconds / done * (epochs - done)
    return (f"Slower than estimated: the computer is busy — about {f'{left / 60:.0f} min' if left >= 90 else f'{left:.0f} s'}"
            " left at this pace")


STEP_NAMES = {"check": "Check pictures", "prepare": "Pack RecordIO", "upload": "Copy to storage", "train": "Train",
              "tune": "Tune"}


class TrainingScreen(JobScreen):
    """Dismisses with "next" (to tuning or deploy: ``state.trained`` holds the model) once
    training ended, or "back" (to settings)."""

    BINDINGS = [("ctrl+l", "toggle_log", "Every log line"), ("s", "stop", "Stop training")]
    doing = "Training"
    stop_hint = "s stops it; the journey then ends at clean-up"  # as the confirmation says

    def __init__(self, state):
        super().__init__(state)
        self.accuracy: list[float] = []
        self.epochs, self.estimate = 0, 0.0  # the training's epochs, and the seconds the settings step estimated for them
        self.verbose = False
        self.count_pace, self.counting = Pace(), ("", "")  # the rate and time left of checking and packing
        state.trained = None  # a new training: the model comes when it ends

    def compose(self) -> ComposeResult:
        yield StepBar("Train")
        with Vertical(classes="body"):
            with Horizontal(id="top"):
                yield StepList(STEP_NAMES, id="steps")
                yield AccuracyChart(id="chart")
            yield ProgressBar(id="progress", show_eta=False)
            yield Static("", id="outcome")
            yield RichLog(id="log", max_lines=2000, wrap=False, markup=True)
            with Horizontal(classes="buttons"):
                yield Button("Back to settings", id="back", disabled=True)
                yield Button("Stop training (s)", variant="warning", id="stop", disabled=True)
                yield Button("Next: deploy", variant="primary", id="next", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(self._start)  # nested widgets mount a moment after the screen

    def _start(self) -> None:
        self.query_one("#stop").display = False
        self.query_one("#progress").display = False
        self.query_one(StepList).restart(hidden=() if self.state.tune_jobs else ("tune",))  # tuning comes next, on its own step
        self.journey()

    @watching_in_background  # quitting mid-training doesn't wait for it: the job goes on without the wizard
    def journey(self) -> None:
        from sagewiz.core.backends import open_backend
        from sagewiz.core.errors import WizardError
        from sagewiz.core.journey import JourneyOptions, train_model
        from sagewiz.core.ledger import Ledger
        from sagewiz.core.watchers import watch

        state = self.state
        try:
            with Ledger() as ledger:
                run = ledger.get_run(state.resume_run) if state.resume_run else None
                answers = {"data_dir": state.data_dir, "hp": state.overrides, "tune": state.tune_jobs,
                           "region": state.region if state.backend == "aws" else "", "continue_from": state.continue_from}
                run = run or ledger.start_run(state.backend, answers)
                watch(run.id)  # another sagewiz now says the run is watched here, instead of offering to resume it
                # resuming: the run's own backend, region and tuning (the next steps use them), not today's answers
                state.backend, state.region = run.backend, run.answers.get("region", "")
                state.tune_jobs = int(run.answers.get("tune", 0))
                backend = open_backend(run.backend, ledger=ledger, region=run.answers.get("region") or None)
                # where the endpoint runs is asked on the next step, once the model is there
                # packed on the Pictures step into the dataset's packed folder: found there, not packed again;
                # the tuning, if any, is the next step's (tuning.py): here the first training alone
                options = JourneyOptions(Path(run.answers["data_dir"]), run.answers.get("hp", {}), 0,
                                         region=run.answers.get("region", ""), continue_from=run.answers.get("continue_from", ""))
                state.run_id = run.id  # the deploy step finishes the run
                trained = train_model(backend, options, run.id, journey_listener(self, ledger, run))
        except WizardError as error:
            tell(self, self.failed, error)
            return
        tell(self, self.finished, trained)

    def show_event(self, event) -> None:
        log = self.query_one("#log", RichLog)
        if event.kind == "step":
            if event.step == "train" and self.state.backend != "aws":  # SageMaker's machines do nothing else
                self.expect(event.data.get("hyperparameters") or {})
            self.query_one(StepList).begin(event.step)
            self.follow_job(event.data.get("job", ""))
            log.write(f"[b cyan]▸ {escape(event.text)}[/]")
            self.query_one("#progress").display = False
            self.query_one("#outcome", Static).update("")
        elif event.kind == "started":  # the job's own start: a resumed one has been running a while
            self.follow_job(event.data["job"], since=event.data["started_at"])
        elif event.kind == "progress":
            bar = self.query_one("#progress", ProgressBar)
            bar.display = True
            bar.update(total=max(event.data["total"], 1), progress=event.data["done"])
            if self.counting != (event.step, event.text):  # checking, then packing each split: a pace each
                self.counting = (event.step, event.text)
                self.count_pace.restart()
            pace = self.count_pace(event.data["done"], event.data["total"])
            what = {"check": "Checking pictures", "prepare": f"Packing {event.text}"}.get(event.step, "")
            self.query_one("#outcome", Static).update(f"[dim]{escape(what)}: {event.data['done']:,} of {event.data['total']:,}"
                                                      + (f" ({pace})" if pace else "") + "[/]" if what else "")
        elif event.kind == "log":
            line = event.text if self.verbose else event.text.split("] ", 1)[-1]
            if self.verbose or "Epoch[" in line and "Batch" not in line or "Error" in line:
                log.write(f"[dim]{escape(line)}[/]")
        elif event.kind == "metric" and event.data["name"] in ("train:accuracy", "validation:accuracy"):
            self.query_one("#chart", AccuracyChart).add(event.data["name"], event.data["epoch"], event.data["value"])
            if event.data["name"] == "validation:accuracy":
                self.accuracy.append(event.data["value"])
                if self.job:
                    self._show_clock()  # an epoch ended: the pace with it
        elif event.kind in ("note", "done") and event.text:
            log.write(("[yellow]•[/] " if event.kind == "note" else "[green]✓[/] ") + escape(event.text))

    def expect(self, hyperparameters: dict) -> None:
        """The estimate the Where and Settings steps showed for these settings, to compare the pace with."""
        from sagewiz.core.errors import WizardError
        from sagewiz.core.hyperparams import Hyperparameters
        from sagewiz.core.estimates import estimate_minutes

        try:
            hp = Hyperparameters.from_sagemaker(hyperparameters)
        except WizardError:  # settings the journey took: nothing to estimate from
            return
        self.epochs, self.estimate = hp.epochs, estimate_minutes(hp) * 60 + 10  # as settings.duration says it

    def pace(self, seconds: float) -> str:
        return pace_note(seconds, len(self.accuracy), self.epochs, self.estimate)

    def stop_question(self, job: str) -> str:
        return f"Stop the training job {job}? It ends Stopped and keeps its last checkpoint; the journey ends there."

    def stop(self, backend, job: str) -> None:
        backend.stop_training(job)

    def how_to_come_back(self, job: str) -> str:
        backend = " --backend aws" if self.state.backend == "aws" else ""
        return f"Follow it with `sagewiz monitor {job}{backend}`, or run `sagewiz` again to pick the run up where it is."

    def failed(self, error) -> None:
        """Training didn't finish: say why. What was created so far is there to clean up."""
        self.follow_job("")
        self.query_one("#log", RichLog).write(error_text(error))
        self.query_one("#back", Button).disabled = False
        self.query_one("#next", Button).label = "Next: clean up"
        self.query_one("#next", Button).disabled = False

    def finished(self, trained) -> None:
        self.follow_job("")
        self.state.trained = trained
        self.query_one(StepList).begin("")
        accuracy = trained.validation_accuracy
        model = trained.summary.get("model_from", "")
        text = f"[b green]Trained.[/] The model of [b]{escape(model)}[/]"
        text += f" has validation accuracy [b]{accuracy:.3f}[/]." if accuracy is not None else " is ready."
        if self.state.tune_jobs:
            text += f" Next: tuning, {self.state.tune_jobs} more trainings with other settings; the better model goes on."
            self.query_one("#next", Button).label = "Next: tune"
        else:
            text += " Next: where its endpoint runs, and the test."
        self.query_one("#outcome", Static).update(text)
        self.query_one("#back", Button).disabled = False
        ready_to_go_on(self)

    def action_toggle_log(self) -> None:
        self.verbose = not self.verbose
        self.notify("Showing every log line" if self.verbose else "Showing epoch results only")

"""Step 5: train (and tune), watched live: the steps, the algorithm's log, accuracy per epoch, the
tuning trials. The work is :func:`sagewiz.core.journey.train_model`, the first half of what
``sagewiz run`` does; the training itself is a separate process (or a SageMaker job), so quitting
doesn't stop it, and the next ``sagewiz`` offers to pick it up. The endpoint comes on the next
step (deploy.py), once the user has seen the model."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, ProgressBar, RichLog, Static

from sagewiz.tui.screens.chart import AccuracyChart
from sagewiz.tui.screens.common import StepBar, StepList, error_text

STEP_NAMES = {"check": "Check pictures", "prepare": "Pack RecordIO", "upload": "Copy to storage", "train": "Train",
              "tune": "Tune"}


class TrainingScreen(Screen[str]):
    """Dismisses with "next" (to deploy: ``state.trained`` holds the model) once training ended,
    or "back" (to settings)."""

    BINDINGS = [("ctrl+l", "toggle_log", "Every log line"), ("s", "stop", "Stop training")]

    def __init__(self, state):
        super().__init__()
        self.state = state
        self.accuracy: list[float] = []
        self.trial_status: dict[str, str] = {}
        self.verbose = False
        self.job = ""  # the training job while it runs: what "Stop" stops
        self.started = 0.0
        state.trained = None  # a new training: the model comes when it ends

    def compose(self) -> ComposeResult:
        yield StepBar("Train")
        with Vertical(classes="body"):
            with Horizontal(id="top"):
                yield StepList(STEP_NAMES, id="steps")
                yield AccuracyChart(id="chart")
            yield ProgressBar(id="progress", show_eta=False)
            yield Static("", id="outcome")
            yield DataTable(id="trials", cursor_type="none", zebra_stripes=True)
            yield RichLog(id="log", max_lines=2000, wrap=False, markup=True)
            with Horizontal(classes="buttons"):
                yield Button("Back to settings", id="back", disabled=True)
                yield Button("Stop training (s)", variant="warning", id="stop", disabled=True)
                yield Button("Next: deploy", variant="primary", id="next", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(self._start)  # nested widgets mount a moment after the screen

    def _start(self) -> None:
        self.query_one("#trials").display = False
        self.query_one("#stop").display = False
        self.query_one("#progress").display = False
        self.query_one(StepList).restart(hidden=() if self.state.tune_jobs else ("tune",))
        self.journey()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def journey(self) -> None:
        from sagewiz.core.backends import open_backend
        from sagewiz.core.errors import WizardError
        from sagewiz.core.journey import JourneyOptions, default_work_dir, packed_folder, train_model
        from sagewiz.core.ledger import Ledger

        state = self.state
        try:
            with Ledger() as ledger:
                run = ledger.get_run(state.resume_run) if state.resume_run else None
                answers = {"data_dir": state.data_dir, "hp": state.overrides, "tune": state.tune_jobs,
                           "region": state.region if state.backend == "aws" else "", "continue_from": state.continue_from}
                run = run or ledger.start_run(state.backend, answers)
                # resuming: the run's own backend and region (the deploy step uses them), not today's answers
                state.backend, state.region = run.backend, run.answers.get("region", "")
                backend = open_backend(run.backend, ledger=ledger, region=run.answers.get("region") or None)
                # where the endpoint runs is asked on the next step, once the model is there
                # packed on the Pictures step into the dataset's packed folder: found there, not packed again
                options = JourneyOptions(Path(run.answers["data_dir"]), run.answers.get("hp", {}), int(run.answers.get("tune", 0)),
                                         region=run.answers.get("region", ""), continue_from=run.answers.get("continue_from", ""),
                                         packed_dir=packed_folder(run.answers["data_dir"]))

                def listen(event) -> None:
                    if event.kind == "step":
                        ledger.save_progress(run.id, event.step, run.answers)
                    self.app.call_from_thread(self.show_event, event)

                state.run_id = run.id  # the deploy step finishes the run
                trained = train_model(backend, options, run.id, default_work_dir(run.id), listen)
        except WizardError as error:
            self.app.call_from_thread(self.failed, error)
            return
        self.app.call_from_thread(self.finished, trained)

    def show_event(self, event) -> None:
        log = self.query_one("#log", RichLog)
        if event.kind == "step":
            self.query_one(StepList).begin(event.step)
            self._training(event.data.get("job", ""))
            log.write(f"[b cyan]▸ {escape(event.text)}[/]")
            self.query_one("#progress").display = False
        elif event.kind == "progress":
            bar = self.query_one("#progress", ProgressBar)
            bar.display = True
            bar.update(total=max(event.data["total"], 1), progress=event.data["done"])
        elif event.kind == "log":
            line = event.text if self.verbose else event.text.split("] ", 1)[-1]
            if self.verbose or "Epoch[" in line and "Batch" not in line or "Error" in line:
                log.write(f"[dim]{escape(line)}[/]")
        elif event.kind == "metric" and event.data["name"] in ("train:accuracy", "validation:accuracy"):
            self.query_one("#chart", AccuracyChart).add(event.data["name"], event.data["epoch"], event.data["value"])
            if event.data["name"] == "validation:accuracy":
                self.accuracy.append(event.data["value"])
        elif event.kind in ("note", "done") and event.text:
            log.write(("[yellow]•[/] " if event.kind == "note" else "[green]✓[/] ") + escape(event.text))
        elif event.kind == "trials":
            self.show_trials(event.data)

    def show_trials(self, data: dict) -> None:
        """The tuning job's trials as a live table: status, tuned values, and the objective as a bar,
        the best one starred."""
        table = self.query_one("#trials", DataTable)
        best = data.get("best")
        tuned = data.get("hyperparameters", {})
        names = sorted({k for values in tuned.values() for k in values})
        table.clear(columns=True)
        table.add_columns("", "trial", "status", "validation accuracy", *names)
        for name, status, objective, pruned in data["trials"]:
            bar = "" if objective is None else "█" * round(objective * 20) + f" {objective:.3f}"
            label = "stopped early" if pruned else status
            style = "b green" if name == best else ""
            cells = [f"[{style}]{escape(str(c))}[/]" if style else escape(str(c))
                     for c in (name, label, bar, *[tuned.get(name, {}).get(k, "") for k in names])]
            table.add_row("★" if name == best else "", *cells)
            if status != "InProgress" and self.trial_status.get(name) != status:
                self.query_one("#log", RichLog).write(
                    f"trial {escape(name)}: {label}" + (f", validation accuracy {objective:.3f}" if objective is not None else ""))
            self.trial_status[name] = status
        table.display = True

    def _training(self, job: str) -> None:
        """A training job started (``job``) or the training step ended (""): the stop button and
        the elapsed-time line follow it."""
        import time

        self.job = job
        self.refresh_bindings()
        stop = self.query_one("#stop", Button)
        stop.disabled = not job
        stop.display = bool(job)  # only while a job runs: nothing to stop before or after
        if job:
            self.started = time.monotonic()
            self._tick()

    def _tick(self) -> None:
        import time

        if not self.job:
            return
        seconds = time.monotonic() - self.started
        text = f"Training {self.job}: {int(seconds // 60)}m {int(seconds % 60):02d}s"
        if self.state.backend == "aws" and self.state.training_price is not None:
            text += f", about ${seconds / 3600 * self.state.training_price:.2f} so far"
        elif self.state.backend != "aws":
            text += ", free"
        self.query_one("#outcome", Static).update(f"{text}.  [dim](s stops it; the best model so far is kept)[/]")
        self.set_timer(1.0, self._tick)

    def check_action(self, action: str, parameters) -> bool | None:
        # "s" is in the footer only while there is a job to stop
        return bool(self.job) if action == "stop" else True

    def action_stop(self) -> None:
        if not self.job:
            return
        from sagewiz.tui.screens.common import ConfirmScreen

        job = self.job
        self.app.push_screen(ConfirmScreen(f"Stop the training job {job}? It ends Stopped and keeps its last checkpoint; "
                                           "the journey ends there.", "Stop it"),
                             lambda yes: self.stop_job(job) if yes else None)

    @work(thread=True, exit_on_error=False)
    def stop_job(self, job: str) -> None:
        from sagewiz.core.backends import open_backend
        from sagewiz.core.errors import WizardError
        from sagewiz.core.ledger import Ledger

        self.app.call_from_thread(self.notify, f"Stopping {job} …")
        try:
            with Ledger() as ledger:
                open_backend(self.state.backend, ledger=ledger, region=self.state.region or None).stop_training(job)
        except WizardError as error:
            self.app.call_from_thread(self.query_one("#log", RichLog).write, error_text(error))

    def failed(self, error) -> None:
        """Training didn't finish: say why. What was created so far is there to clean up."""
        self._training("")
        self.query_one("#log", RichLog).write(error_text(error))
        self.query_one("#back", Button).disabled = False
        self.query_one("#next", Button).label = "Next: clean up"
        self.query_one("#next", Button).disabled = False

    def finished(self, trained) -> None:
        self._training("")
        self.state.trained = trained
        self.query_one(StepList).begin("")
        accuracy = trained.validation_accuracy
        model = trained.summary.get("model_from", "")
        text = f"[b green]Trained.[/] The model of [b]{escape(model)}[/]"
        text += f" has validation accuracy [b]{accuracy:.3f}[/]." if accuracy is not None else " is ready."
        self.query_one("#outcome", Static).update(text + " Next: where its endpoint runs, and the test.")
        self.query_one("#back", Button).disabled = False
        self.query_one("#next", Button).disabled = False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "stop":
            self.action_stop()
        else:
            self.dismiss(event.button.id)

    def action_toggle_log(self) -> None:
        self.verbose = not self.verbose
        self.notify("Showing every log line" if self.verbose else "Showing epoch results only")

"""Step 5b: tune, after the first training, when the Settings step asked for tuning jobs. More
trainings with other settings (the seed ranges: learning rate, batch size, …) run one after
another; the screen shows them as a live table with their validation accuracy, the best starred,
and as a chart against the first training. The better of the best trial and the first training
goes on to the endpoint. The work is :func:`sagewiz.core.journey.tune_model`; the tuning job
runs in its own process (or on SageMaker), so quitting doesn't stop it, and a resumed run finds
it again instead of starting another."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Footer, Static

from sagewiz.tui.background import tell, watching_in_background
from sagewiz.tui.screens.chart import TrialChart
from sagewiz.tui.screens.common import StepBar, fill_table, fits, journey_listener, ready_to_go_on, room_for
from sagewiz.tui.screens.watching import JobScreen
from sagewiz.tui.words import error_text


class TuningScreen(JobScreen):
    """Dismisses with "next" (to deploy: ``state.trained`` holds the better model) once tuning
    ended, or "back" (to settings). Tuning that ends without a finished trial leaves the first
    training's model in ``state.trained``: it still goes on."""

    BINDINGS = [("s", "stop", "Stop tuning")]
    doing = "Tuning"
    stop_hint = "s stops it; the best model so far goes on"

    def __init__(self, state):
        super().__init__(state)
        self.first = state.trained  # the first training's model: what the trials have to beat
        self.trials: list[tuple] = []  # (name, status, objective, pruned) as the tuning job last reported them
        self.tuning_name = ""
        self.shown_trials: dict | None = None  # the last trials event shown: laid out again on a resize

    def compose(self) -> ComposeResult:
        yield StepBar("Train")
        with Vertical(classes="body"):
            with Horizontal(id="top"):
                yield Static(self._about(), id="about")
                yield TrialChart(id="chart")
            yield Static("", id="outcome")
            yield DataTable(id="trials", cursor_type="none", zebra_stripes=True)
            with Horizontal(classes="buttons"):
                yield Button("Back to settings", id="back", disabled=True)
                yield Button("Stop tuning (s)", variant="warning", id="stop", disabled=True)
                yield Button("Next: deploy", variant="primary", id="next", disabled=True)
        yield Footer()

    def _about(self) -> str:
        text = (f"[b]Tuning[/]: {self.state.tune_jobs} more trainings, each with other settings "
                "(learning rate, batch size, …). The best model goes on.")
        first = self.first.validation_accuracy if self.first else None
        if first is not None:
            text += f"\n\nThe first training reached [b]{first:.3f}[/]: the dotted line to beat."
        return text

    def on_mount(self) -> None:
        self.query_one("#stop").display = False
        self.query_one("#trials").display = False
        self.tune()

    @watching_in_background  # as training's: quitting doesn't wait for the tuning's next change
    def tune(self) -> None:
        from sagewiz.core.backends import open_backend
        from sagewiz.core.errors import WizardError
        from sagewiz.core.journey import tune_model
        from sagewiz.core.ledger import Ledger

        state = self.state
        try:
            with Ledger() as ledger:
                run = ledger.get_run(state.run_id) if state.run_id else None
                backend = open_backend(state.backend, ledger=ledger, region=state.region or None)
                tuned = tune_model(backend, self.first, state.tune_jobs, journey_listener(self, ledger, run))
        except WizardError as error:
            tell(self, self.failed, error)
            return
        tell(self, self.finished, tuned)

    def show_event(self, event) -> None:
        if event.kind == "step":
            self.tuning_name = event.data.get("job", "")
            self.follow_job(self.tuning_name)
        elif event.kind == "trials":
            self.show_trials(event.data)

    def show_trials(self, data: dict) -> None:
        """The tuning job's trials as a live table (status, validation accuracy as a bar, the
        settings it tried; the best starred) and as the chart."""
        self.trials = list(data["trials"])
        table = self.query_one("#trials", DataTable)
        best = data.get("best")
        tuned = data.get("hyperparameters", {})
        names = data.get("tuned") or sorted({k for values in tuned.values() for k in values})  # not the fixed ones
        rows, tried = [], []
        for number, (name, status, objective, pruned) in enumerate(self.trials, 1):
            bar = "" if objective is None else "█" * round(objective * 10) + f" {objective:.3f}"
            label = "stopped early" if pruned else status
            style = "b green" if name == best else ""
            cells = [f"[{style}]{escape(str(c))}[/]" if style else escape(str(c)) for c in (f"{number}  {self._short(name)}", label, bar)]
            rows.append(["★" if name == best else "", *cells])
            tried.append([escape(_setting(tuned.get(name, {}).get(k, ""))) for k in names])
        headers = ["", "trial", "status", "validation accuracy"]
        room, each_apart = room_for(table), [row + values for row, values in zip(rows, tried)]
        if fits(headers + names, each_apart, room):
            fill_table(table, headers + names, each_apart, room)
        else:  # a setting per column would scroll sideways: the settings tried go in one column, wrapped
            settings = [", ".join(f"{k}={v}" for k, v in zip(names, values) if v) for values in tried]
            fill_table(table, headers + ["settings tried"], [r + [s] for r, s in zip(rows, settings)], room,
                       give_way=[(len(headers), 20)])
        self.shown_trials = data
        table.display = True
        first = self.first.validation_accuracy if self.first else None
        self.query_one("#chart", TrialChart).show([(objective, name == best, pruned) for name, _, objective, pruned in self.trials], first)

    def on_resize(self) -> None:
        if self.shown_trials is not None:
            self.show_trials(self.shown_trials)  # the columns fit anew in the new width

    def _short(self, trial: str) -> str:
        """A trial's name without its tuning job's (the table has no room; the log names it whole)."""
        prefix = f"{self.tuning_name}-"
        return trial[len(prefix):] if self.tuning_name and trial.startswith(prefix) else trial

    def so_far(self) -> str:
        done = sum(1 for _, status, _, _ in self.trials if status != "InProgress")
        return f", {done} of {self.state.tune_jobs} trials done"

    def stop_question(self, job: str) -> str:
        return (f"Stop the tuning job {job}? The trial that runs now stops; the best model so far goes on "
                "(the first training's, if no trial beat it).")

    def stop(self, backend, job: str) -> None:
        backend.stop_tuning(job)

    def show_error(self, error) -> None:
        self.notify(error_text(error), severity="error", timeout=30)  # the clock line is busy while the job runs

    def failed(self, error) -> None:
        """Tuning ended without a finished trial: say why. The first training's model is still
        there, and goes on."""
        self.follow_job("")
        first = self.first.validation_accuracy if self.first else None
        why = "[b yellow]Tuning stopped before a trial finished.[/]" if self.stop_asked else error_text(error) + "\n"
        self.query_one("#outcome", Static).update(
            why + " The first training's model goes on" + (f" (validation accuracy [b]{first:.3f}[/])." if first is not None else "."))
        self._done()

    def finished(self, tuned) -> None:
        self.follow_job("")
        self.state.trained = tuned
        model = tuned.summary.get("model_from", "")
        accuracy = tuned.validation_accuracy
        first = self.first.validation_accuracy
        trials = tuned.summary["tuning"]["trials"]
        number = next((n for n, t in enumerate(trials, 1) if t["job_name"] == model), 0)
        if number:
            text = (f"[b green]Tuned.[/] Trial {number} beat the first training: validation accuracy "
                    f"[b]{accuracy:.3f}[/]" + (f" against {first:.3f}." if first is not None else ".") + " Its model goes on.")
        else:
            best = max((t["objective"] for t in trials if t["objective"] is not None), default=None)
            text = "[b green]Tuned.[/] No trial beat the first training" + (
                f" ({best:.3f} against {first:.3f})" if best is not None and first is not None else "") + ": its model goes on."
        self.query_one("#outcome", Static).update(text + " Next: its endpoint.")
        self._done()

    def _done(self) -> None:
        self.query_one("#back", Button).disabled = False
        ready_to_go_on(self)


def _setting(value) -> str:
    """A tried value as people read it: three significant digits (the tuner's 0.00025965458369801755
    is 0.00026); whole numbers and words as they are."""
    text = str(value)
    if any(c in text for c in ".eE"):
        try:
            return f"{float(text):.3g}"
        except ValueError:
            pass
    return text

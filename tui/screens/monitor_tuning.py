"""One tuning job, picked in the monitor: its trials live (read again with every snapshot the
monitor takes, until the tuning job ends), the best one starred, their objective as bars; Enter
opens a trial's own detail (its log, its chart), ``s`` stops the whole tuning job."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from sagewiz.core.monitor.model import TRAINING, Item
from sagewiz.tui.background import in_background, tell
from sagewiz.tui.screens.chart import TrialChart
from sagewiz.tui.screens.common import fill_table, room_for
from sagewiz.tui.screens.monitor_actions import ActsOnItems, allowed
from sagewiz.tui.screens.monitor_rows import item_key, summary
from sagewiz.tui.words import error_text

HEADERS = ("", "trial", "status", "objective", "settings tried")


def trial_rows(tuning) -> list[tuple[str, ...]]:
    """A row per trial, oldest first; the best one starred."""
    best = tuning.best.job_name if tuning.best else None
    rows = []
    for trial in tuning.trials:
        objective = "—" if trial.objective is None else f"{trial.objective:.4f}"
        status = trial.status.value + (" (early)" if trial.pruned else "")
        tried = ", ".join(f"{k}={v}" for k, v in sorted(trial.hyperparameters.items()))
        star = "[b yellow]★[/]" if trial.job_name == best else ""
        rows.append((star, escape(trial.job_name), status, f"[b]{objective}[/]" if star else objective, escape(tried)))
    return rows


class TrialTable(DataTable):
    BINDINGS = [Binding("enter", "select_cursor", "Open the trial")]


class MonitorTuningScreen(ActsOnItems, Screen[None]):
    """Dismisses (None) on Esc, back to the monitor's list."""

    BINDINGS = [("s", "stop", "Stop the tuning job"), ("escape", "back", "Back to the list"),
                Binding("q", "back", "Back", show=False)]

    def __init__(self, home, item: Item):
        super().__init__()
        self.home, self.item = home, item
        self.tuning = None

    def compose(self) -> ComposeResult:
        where = "on this computer" if self.item.backend == "local" else f"SageMaker in {self.item.region}"
        who = "sagewiz's" if self.item.made_by_sagewiz else "not made by sagewiz"
        yield Static(f"[b]Tuning job {escape(self.item.name)}[/] · {where} · {who}", classes="steps")
        with Vertical(classes="body", id="tuning-body"):
            yield Static(summary(self.item), id="job-summary")
            yield Static("[dim]Reading its trials …[/]", id="outcome")
            yield TrialTable(id="trials", cursor_type="row")
            yield TrialChart(id="chart")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TrialTable).focus()
        self.read_trials()

    def snapshot_taken(self, snapshot) -> None:
        mine = next((i for i in snapshot.items if item_key(i) == item_key(self.item)), None)
        if mine is not None:
            self.item = mine
            self.query_one("#job-summary", Static).update(summary(self.item))
        if self.tuning is None or not self.tuning.status.finished:
            self.read_trials()

    @in_background(exclusive=True, group="trials")
    def read_trials(self) -> None:
        from sagewiz.core.errors import WizardError
        from sagewiz.core.monitor.detail import backend_for

        try:
            tuning = backend_for(self.item, self.home.monitor).describe_tuning(self.item.name)
        except WizardError as error:
            tell(self, self.trials_failed, error)
            return
        tell(self, self.show_trials, tuning)

    def trials_failed(self, error) -> None:
        self.query_one("#outcome", Static).update(error_text(error))

    def show_trials(self, tuning) -> None:
        self.tuning = tuning
        table = self.query_one(TrialTable)
        row = table.cursor_row
        fill_table(table, HEADERS, trial_rows(tuning), room_for(table), give_way=[(4, 20), (1, 16)],
                   keys=[t.job_name for t in tuning.trials])
        if tuning.trials:
            table.move_cursor(row=min(max(row, 0), len(tuning.trials) - 1), animate=False)
        best = tuning.best
        said = f"[b]{tuning.status.value}[/] · {len(tuning.trials)} trials"
        if best is not None and best.objective is not None:
            said += f" · best so far [b yellow]★[/] {escape(best.job_name)}: {best.objective:.4f}"
        self.query_one("#outcome", Static).update(said)
        best_name = best.job_name if best else None
        self.query_one(TrialChart).show([(t.objective, t.job_name == best_name, t.pruned) for t in tuning.trials], None)
        self.refresh_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from sagewiz.tui.screens.monitor_job import MonitorJobScreen

        name = str(event.row_key.value)
        snapshot = self.home.snapshot
        trial = next((i for i in (snapshot.items if snapshot else []) if i.kind == TRAINING and i.name == name), None)
        trial = trial or Item(name=name, kind=TRAINING, status="", region=self.item.region, backend=self.item.backend,
                              parent=self.item.name, made_by_sagewiz=self.item.made_by_sagewiz)
        self.app.push_screen(MonitorJobScreen(self.home, trial))

    def check_action(self, action: str, parameters) -> bool | None:
        return allowed("stop", self.item) if action == "stop" else True

    def action_stop(self) -> None:
        if allowed("stop", self.item):
            self.act_on(self.item)

    def action_back(self) -> None:
        self.dismiss(None)

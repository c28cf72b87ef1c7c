"""One tuning job, picked in the monitor: its trials live (read again with every snapshot the
monitor takes, until the tuning job ends), the best one starred, their objective as bars; Enter
opens a trial's own detail (its log, its chart), ``s`` stops the whole tuning job."""

from __future__ import annotations

from dataclasses import replace

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from sagewiz.core.monitor.model import TRAINING, Item
from sagewiz.tui.background import in_background, tell
from sagewiz.tui.screens.chart import TrialChart
from sagewiz.tui.screens.common import fill_table, fits, room_for
from sagewiz.tui.screens.monitor_actions import ActsOnItems, allowed
from sagewiz.tui.screens.monitor_rows import item_key, summary
from sagewiz.tui.screens.tuning import _setting as setting_said
from sagewiz.tui.words import error_text

HEADERS = ["", "trial", "status", "objective"]


def trial_rows(tuning) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """(the tuned settings' names, a row per trial, the values each tried), oldest first; the best
    one starred, a trial's name without its tuning job's (as the Tune step shows them)."""
    best = tuning.best.job_name if tuning.best else None
    names = sorted({k for trial in tuning.trials for k in trial.hyperparameters})
    prefix = f"{tuning.tuning_job_name}-"
    rows, tried = [], []
    for trial in tuning.trials:
        objective = "—" if trial.objective is None else f"{trial.objective:.4f}"
        star = trial.job_name == best
        cells = [trial.job_name.removeprefix(prefix), "stopped early" if trial.pruned else trial.status.value, objective]
        rows.append(["[b yellow]★[/]" if star else "", *(f"[b green]{escape(c)}[/]" if star else escape(c) for c in cells)])
        tried.append([escape(setting_said(trial.hyperparameters.get(k, ""))) for k in names])
    return names, rows, tried


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
        where = "on this computer" if self.item.backend == "local" else self.item.region
        who = "sagewiz's" if self.item.made_by_sagewiz else "not sagewiz's"
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
        names, rows, tried = trial_rows(tuning)
        keys, room = [t.job_name for t in tuning.trials], room_for(table)
        each_apart = [row + values for row, values in zip(rows, tried)]
        if fits(HEADERS + names, each_apart, room):
            fill_table(table, HEADERS + names, each_apart, room, keys=keys)
        else:  # a setting per column would scroll sideways: the settings tried go in one column, wrapped
            settings = [", ".join(f"{k}={v}" for k, v in zip(names, values) if v) for values in tried]
            fill_table(table, HEADERS + ["settings tried"], [r + [s] for r, s in zip(rows, settings)], room,
                       give_way=[(len(HEADERS), 20)], keys=keys)
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

    def on_resize(self) -> None:
        if self.tuning is not None:
            self.call_after_refresh(self.show_trials, self.tuning)  # the columns fit anew in the new width

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from sagewiz.tui.screens.monitor_job import MonitorJobScreen

        name = str(event.row_key.value)
        snapshot = self.home.snapshot
        trial = next((i for i in (snapshot.items if snapshot else []) if i.kind == TRAINING and i.name == name), None)
        trial = trial or Item(name=name, kind=TRAINING, status="", region=self.item.region, backend=self.item.backend,
                              made_by_sagewiz=self.item.made_by_sagewiz)
        trial = replace(trial, parent=trial.parent or self.item.name)  # the tuning job lists it: its trial, whatever its record says
        self.app.push_screen(MonitorJobScreen(self.home, trial))

    def check_action(self, action: str, parameters) -> bool | None:
        return allowed("stop", self.item) if action == "stop" else True

    def action_stop(self) -> None:
        if allowed("stop", self.item):
            self.act_on(self.item)

    def action_back(self) -> None:
        self.dismiss(None)

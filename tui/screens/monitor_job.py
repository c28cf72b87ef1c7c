"""One training job, picked in the monitor (or named: ``sagewiz monitor JOB``): its status
transitions, its live log (every stream, as the Train step follows it), accuracy per epoch from
the algorithm's log lines, what SageMaker reports at the end (``FinalMetricDataList``), its
hyperparameters and channels. Any job the account runs, sagewiz's or not, followed to its end;
then its model can be asked about a picture (``p``).

The log is followed in a thread of its own that leaving the screen abandons (the job goes on); the
job's description is read again with every snapshot the monitor takes, at the monitor's pace.
"""

from __future__ import annotations

from dataclasses import replace

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from sagewiz.core.monitor.model import Item
from sagewiz.tui.background import in_background, tell, watching_in_background
from sagewiz.tui.screens.chart import AccuracyChart
from sagewiz.tui.screens.monitor_actions import ActsOnItems, allowed
from sagewiz.tui.screens.monitor_rows import item_key, summary
from sagewiz.tui.words import error_text

CHARTED = ("train:accuracy", "validation:accuracy")


def when(seconds: float) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(seconds)) if seconds else "--:--:--"


def history_text(detail) -> str:
    """The status transitions, each with its time; the last one running (▸) until the job ends,
    then done (✓) or failed (✗). (SageMaker's word on the last one is the outcome line's.)"""
    lines = ["[b]Status[/]"]
    for number, change in enumerate(detail.history):
        last = number == len(detail.history) - 1
        mark = "[b yellow]▸[/]" if last and not detail.finished else \
            "[red]✗[/]" if last and detail.status in ("Failed", "Stopped") else "[green]✓[/]"
        lines.append(f"{mark} {when(change.started_at)} {escape(change.status)}")
    if not detail.history:
        lines.append(f"[b yellow]▸[/] {escape(detail.secondary_status or detail.status)}")
    return "\n".join(lines)


def settings_text(detail) -> str:
    """The hyperparameters as SageMaker received them, then the channels it reads."""
    lines = ["[b]Hyperparameters[/]"]
    lines += [f"{escape(k)} = {escape(str(v))}" for k, v in sorted(detail.hyperparameters.items())] or ["[dim]none[/]"]
    lines.append("[b]Channels[/]")
    lines += [f"{escape(c.name)}: {escape(c.uri)}" + (f" [dim]({escape(c.content_type)})[/]" if c.content_type else "")
              for c in detail.channels] or ["[dim]none[/]"]
    if detail.algorithm:
        lines += ["[b]Algorithm[/]", escape(detail.algorithm)]
    return "\n".join(lines)


class MonitorJobScreen(ActsOnItems, Screen[None]):
    """Dismisses (None) on Esc, back to the monitor's list."""

    BINDINGS = [("s", "stop", "Stop the job"), ("p", "ask", "Ask its model about a picture"),
                ("escape", "back", "Back to the list"), Binding("q", "back", "Back", show=False)]

    def __init__(self, home, item: Item):
        super().__init__()
        self.home, self.item = home, item
        self.detail = None
        self.streams: set[str] = set()
        self.log_over = False

    def compose(self) -> ComposeResult:
        yield Static(self.title_text(), classes="steps", id="title")
        with Vertical(classes="body", id="job-body"):
            yield Static(summary(self.item), id="job-summary")
            with Horizontal(id="job-top"):
                with VerticalScroll(id="facts"):
                    yield Static("[b]Status[/]\n[dim]reading …[/]", id="history")
                    yield Static("", id="settings")
                with Vertical(id="chart-side"):
                    yield AccuracyChart(id="chart")
                    yield Static("", id="final")
            yield Static("", id="outcome")
            yield RichLog(id="log", max_lines=5000, wrap=True, min_width=20, markup=True)
        yield Footer()

    def title_text(self) -> str:
        where = "on this computer" if self.item.backend == "local" else self.item.region
        who = "sagewiz's" if self.item.made_by_sagewiz else "not sagewiz's"
        return f"[b]Training job {escape(self.item.name)}[/] · {where} · {who}"

    def on_mount(self) -> None:
        self.query_one("#log", RichLog).write(f"[dim]Following the log of {escape(self.item.name)} …[/]")
        self.read_detail()
        self.follow()

    # ---- what the monitor and the job say --------------------------------------------------------
    def snapshot_taken(self, snapshot) -> None:
        mine = next((i for i in snapshot.items if item_key(i) == item_key(self.item)), None)
        if mine is not None:  # (a trial opened from its tuning job stays one, whatever its record says)
            self.item = replace(mine, parent=mine.parent or self.item.parent)
            self.query_one("#title", Static).update(self.title_text())
        self.show_summary()
        if self.detail is None or not self.detail.finished:
            self.read_detail()

    @in_background(exclusive=True, group="detail")
    def read_detail(self) -> None:
        from sagewiz.core.errors import WizardError
        from sagewiz.core.monitor.detail import training_detail

        try:
            detail = training_detail(self.item, self.home.monitor)
        except WizardError as error:
            tell(self, self.detail_failed, error)
            return
        tell(self, self.show_detail, detail)

    def detail_failed(self, error) -> None:
        self.query_one("#history", Static).update(error_text(error))

    def show_detail(self, detail) -> None:
        first = self.detail is None
        self.detail = detail
        self.query_one("#history", Static).update(history_text(detail))
        self.query_one("#settings", Static).update(settings_text(detail))
        if first:  # the local engine keeps its metrics: the chart starts with them, the log adds on
            for metric in detail.metrics:
                self.chart(metric.name, metric.epoch, metric.value)
        final = ", ".join(f"{escape(name)} {value:.4f}" for name, value in detail.final_metrics)
        self.query_one("#final", Static).update(f"[b]Final metrics[/]: {final}" if final else "")
        self.show_summary()
        self.show_outcome()
        self.refresh_bindings()

    def show_summary(self) -> None:
        self.query_one("#job-summary", Static).update(summary(self.item, self.detail.status if self.detail else ""))

    def show_outcome(self) -> None:
        detail, said = self.detail, ""
        if detail is not None and detail.finished:
            style = "green" if detail.status == "Completed" else "red" if detail.status == "Failed" else "yellow"
            said = f"[b {style}]{detail.status}.[/]"
            if detail.failure_reason:
                said += f" {escape(detail.failure_reason)}"
            if detail.model_uri:
                said += f" Its model: {escape(detail.model_uri)}."
            if allowed("ask", self.now()) and detail.image_classification:
                said += " [b]p[/] asks it about a picture."
            if detail.status == "Completed" and detail.model_uri and detail.image_classification:
                said += "\n" + next_steps(self.item)
        elif detail is not None:
            latest = detail.history[-1].message if detail.history else ""
            said = (f"{escape(latest)} " if latest else "") + "[dim](the log follows it to its end; s stops it)[/]"
        self.query_one("#outcome", Static).update(said)

    def now(self) -> Item:
        """The job as its latest word says: the description is read more often than the list."""
        return replace(self.item, status=self.detail.status) if self.detail is not None else self.item

    # ---- the log ------------------------------------------------------------------------------------
    @watching_in_background  # leaving the screen (or the app) never waits for the next log line
    def follow(self) -> None:
        from sagewiz.core.errors import WizardError
        from sagewiz.core.monitor.detail import backend_for

        try:
            backend = backend_for(self.item, self.home.monitor, poll_seconds=self.home.log_poll_s)
            for event in backend.follow_logs(self.item.name, follow=True):
                tell(self, self.show_line, event)
        except WizardError as error:
            tell(self, self.log_failed, error)
            return
        tell(self, self.log_ended)

    def show_line(self, event) -> None:
        from sagewiz.core.metrics import metrics_from_log_line

        for epoch, name, value in metrics_from_log_line(event.message):
            self.chart(name, epoch, value)
        self.streams.add(event.stream)
        stream = f"[dim]{escape(event.stream.rsplit('/', 1)[-1])}[/] " if len(self.streams) > 1 else ""
        self.query_one("#log", RichLog).write(stream + escape(event.message))

    def chart(self, name: str, epoch: int, value: float) -> None:
        if name in CHARTED:
            self.query_one("#chart", AccuracyChart).add(name, epoch, value)

    def log_ended(self) -> None:
        self.log_over = True
        self.query_one("#log", RichLog).write("[dim]The job ended: that is the whole log.[/]")
        self.read_detail()  # its last status, final metrics and model

    def log_failed(self, error) -> None:
        self.query_one("#log", RichLog).write(error_text(error))

    # ---- keys ------------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters) -> bool | None:
        if action == "stop":
            return allowed("stop", self.now())
        if action == "ask":
            return allowed("ask", self.now()) and (self.detail is None or self.detail.image_classification)
        return True

    def action_stop(self) -> None:
        if allowed("stop", self.now()):
            self.act_on(self.now())

    def action_ask(self) -> None:
        if self.check_action("ask", ()):
            self.ask_about_a_picture(self.now())

    def action_back(self) -> None:
        self.dismiss(None)


def next_steps(item: Item) -> str:
    """The journey's next steps for a finished job's model, as the commands that take them (the
    model is found by the job's name on either backend, whoever trained it)."""
    name = escape(item.name)
    if item.backend != "aws":
        return (f"[dim]Next:[/] [b]sagewiz deploy {name}[/] puts it on an endpoint here, free; "
                f"[b]sagewiz run --data DIR --continue-from {name}[/] trains it on with more pictures.")
    region = escape(item.region)
    return (f"[dim]Next:[/] [b]sagewiz deploy {name} --region {region}[/] puts it on an endpoint on this computer, free "
            "(with --backend aws on a SageMaker endpoint, billed per hour); "
            f"[b]sagewiz run --backend aws --region {region} --data DIR --continue-from {name}[/] trains it on with more pictures.")

"""Step 2: which pictures. The folder is checked (every picture opened) before anything is trained,
and every problem is shown with what sagewiz will do about it."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, ProgressBar, Static

from sagewiz.tui.screens.common import StepBar, error_text
from sagewiz.tui.thumbnails import ClassThumbnails

_SEVERITY = {"error": "[b red]error[/]", "warning": "[yellow]warning[/]", "info": "[dim]info[/]"}


class DatasetScreen(Screen[str]):
    """Dismisses with "next" (the folder is usable; ``state.report`` holds its report) or "back"."""

    BINDINGS = [("escape", "back", "Back")]

    def __init__(self, state):
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        yield StepBar("Pictures")
        with Vertical(classes="body"):
            yield Static("The folder with your pictures: [b]train/[/] and [b]test/[/] with one folder per class inside, "
                         "or just one folder per class (sagewiz keeps 20% for testing).", classes="lead")
            with Horizontal(classes="row"):
                yield Input(self.state.data_dir, placeholder="~/Pictures/cats-and-dogs", id="folder")
                yield Button("Check", id="check")
            yield ProgressBar(id="progress", show_eta=False)
            with VerticalScroll(id="report"):
                yield Static("", id="summary")
                yield DataTable(id="classes", cursor_type="none", zebra_stripes=True)
                yield DataTable(id="problems", cursor_type="row", zebra_stripes=True)
                yield ClassThumbnails(id="thumbnails")
            with Horizontal(classes="buttons"):
                yield Button("Back", id="back")
                yield Button("Next: settings", variant="primary", id="next", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#progress").display = False
        self.query_one("#classes").display = self.query_one("#problems").display = False
        if self.state.report is not None and self.state.data_dir:
            self.show_report(self.state.report)  # came back to this step: keep what was found
        elif self.state.data_dir:
            self.check(self.state.data_dir)
        self.query_one("#folder", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.check(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "check":
            self.check(self.query_one("#folder", Input).value)
        elif event.button.id == "next":
            self.dismiss("next")
        elif event.button.id == "back":
            self.action_back()

    def action_back(self) -> None:
        self.dismiss("back")

    def check(self, folder: str) -> None:
        folder = folder.strip()
        if not folder:
            self.query_one("#summary", Static).update("[yellow]Type the folder's path first.[/]")
            return
        self.state.report = None
        self.query_one("#next", Button).disabled = True
        self.query_one("#summary", Static).update(f"Checking {escape(folder)} …")
        self.scan(folder)

    @work(thread=True, exclusive=True, exit_on_error=False)
    def scan(self, folder: str) -> None:
        from sagewiz.core.dataset.scan import count_images, scan_dataset
        from sagewiz.core.errors import WizardError

        path = str(Path(folder).expanduser())
        try:
            total = count_images(path)
            self.app.call_from_thread(self._start_progress, total)
            report = scan_dataset(path, progress=lambda n: self.app.call_from_thread(self._advance, n))
        except WizardError as error:
            self.app.call_from_thread(self._failed, error)
            return
        self.app.call_from_thread(self._scanned, path, report)

    def _start_progress(self, total: int) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.display = True
        bar.update(total=max(total, 1), progress=0)

    def _advance(self, n: int) -> None:
        self.query_one("#progress", ProgressBar).advance(n)

    def _failed(self, error) -> None:
        self.query_one("#progress").display = False
        self.query_one("#classes").display = self.query_one("#problems").display = False
        self.query_one("#summary", Static).update(error_text(error))
        self.query_one(ClassThumbnails).update("")

    def _scanned(self, path: str, report) -> None:
        self.query_one("#progress").display = False
        self.state.data_dir, self.state.report = path, report
        self.show_report(report)

    def show_report(self, report) -> None:
        splits = [s for s in ("train", "validation", "test") if s in report.counts]
        classes = self.query_one("#classes", DataTable)
        classes.clear(columns=True)
        classes.add_columns("label", "class", *splits, "")
        most = max((sum(report.counts[s].get(c.name, 0) for s in splits) for c in report.classes), default=1) or 1
        for info in report.classes:
            counts = [report.counts[s].get(info.name, 0) for s in splits]
            bar = "█" * max(1, round(20 * sum(counts) / most)) if sum(counts) else ""
            classes.add_row(str(info.label), escape(info.name), *(f"{n:,}" for n in counts), f"[green]{bar}[/]")
        classes.display = bool(report.classes)
        problems = self.query_one("#problems", DataTable)
        problems.clear(columns=True)
        problems.add_columns("file", "severity", "what sagewiz does", "why")
        for problem in report.problems[:500]:  # the action before the reason: the reason is the long one
            problems.add_row(escape(problem.path), _SEVERITY.get(problem.severity, problem.severity),
                             escape(problem.action), escape(problem.reason))
        problems.display = bool(report.problems)
        verdict = "[b green]✓[/] " if report.usable else "[b red]✗[/] "
        self.query_one("#summary", Static).update(verdict + "\n".join(escape(line) for line in report.summary))
        self.query_one("#next", Button).disabled = not report.usable
        self.query_one(ClassThumbnails).show(report)

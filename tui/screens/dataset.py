"""Step 2: which pictures. The folder is checked (every picture opened) before anything is trained,
and every problem is shown with what sagewiz will do about it. A usable folder is then packed into
RecordIO files right here, with a progress bar, so training starts on packed data (core/journey.py
``pack_ahead``: the same files the Train step would make, found there already)."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, ProgressBar, Static

from sagewiz.tui.background import in_background
from sagewiz.tui.screens.common import StepBar, fill_table, ready_to_go_on, room_for
from sagewiz.tui.screens.folders import PathField
from sagewiz.tui.screens.tables import RowsTable
from sagewiz.tui.thumbnails import ClassThumbnails
from sagewiz.tui.words import Pace, error_text

_SEVERITY = {"error": "[b red]error[/]", "warning": "[yellow]warning[/]", "info": "[dim]info[/]"}


def _where(path: str, root) -> str:
    """A problem's file as the table names it: the folder itself (a problem with the whole dataset)
    by its own name, not as "."."""
    return f"{Path(root).name}/ (the folder)" if path == "." else path


class DatasetScreen(Screen[str]):
    """Dismisses with "next" (the folder is usable; ``state.report`` holds its report, ``state.packed``
    its packed files) or "back"."""

    BINDINGS = [("escape", "back", "Back"), ("ctrl+o", "browse", "Browse folders")]

    def __init__(self, state):
        super().__init__()
        self.state = state
        self.packing = False
        # Background work answers for the folder it was given, which need not be the field's any more:
        # the user may have cleared it and be typing another. Only the field's folder enables Next, and
        # the focus stays in a field the user has typed in since the check began.
        self.scanning = ""  # the folder being checked (expanded): an older check's answers are dropped
        self.checked_text = ""  # the field's text when the check began
        self.typed = False  # the field changed since
        self.ready_for = ""  # the folder Next goes on with, once checked (and packed)
        self.waiting = ""  # a folder to check once the packing ends
        self.count_pace = Pace()  # "1,234 pictures/s, about 2 minutes left" for checking and packing
        self.packing_split = ""
        self.names_taken = ""  # the folder whose file names the user agreed to use as labels

    def compose(self) -> ComposeResult:
        yield StepBar("Pictures")
        with Vertical(classes="body"):
            yield Static("The folder with your pictures: [b]train/[/] and [b]test/[/] with one folder per class inside, "
                         "or just one folder per class (sagewiz keeps 20% for testing).", classes="lead")
            yield PathField(self.state.data_dir, Button("Browse…", id="browse"), Button("Check", id="check"), field_id="folder")
            yield ProgressBar(id="progress", show_eta=False)
            with VerticalScroll(id="report"):
                yield Static("", id="summary")
                yield RowsTable(id="classes", cursor_type="none", zebra_stripes=True)
                yield RowsTable(id="problems", cursor_type="row", zebra_stripes=True)
                yield ClassThumbnails(id="thumbnails")
            yield Static("", id="packed")
            with Horizontal(id="names-question"):
                yield Button("Use the file names as labels", variant="success", id="use-names")
            with Horizontal(classes="buttons"):
                yield Button("Back", id="back")
                yield Button("Next: where to train", variant="primary", id="next", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#progress").display = False
        self.query_one("#classes").display = self.query_one("#problems").display = False
        self.query_one("#names-question").display = False
        if self.state.report is not None and self.state.data_dir:
            self.show_report(self.state.report)  # came back to this step: keep what was found
        elif self.state.data_dir:
            self.check(self.state.data_dir)
        self.query_one("#folder", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.check(event.value)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.value.strip() != self.checked_text:
            self.typed = True
        # Next goes on with the folder checked: not while the field names another
        self.query_one("#next", Button).disabled = not (self.ready_for and self._in_field(self.ready_for))

    def _in_field(self, folder: str) -> bool:
        """Whether ``folder`` is the one the field names now."""
        typed = self.query_one("#folder", Input).value.strip()
        return bool(typed) and Path(typed).expanduser() == Path(folder).expanduser()

    def _ready(self, folder: str) -> None:
        """``folder`` is checked (and packed): Next goes on with it, if the field still names it."""
        self.ready_for = folder
        self.query_one("#next", Button).disabled = not self._in_field(folder)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "check":
            self.check(self.query_one("#folder", Input).value)
        elif event.button.id == "browse":
            self.action_browse()
        elif event.button.id == "use-names" and self.state.report is not None:
            self.names_taken = self.state.report.root
            self.query_one("#names-question").display = False
            self._go_on(self.state.report)
        elif event.button.id == "next":
            self.dismiss("next")
        elif event.button.id == "back":
            self.action_back()

    def action_browse(self) -> None:
        """Pick the folder from a browser of folders; the one picked goes into the field and is checked."""
        from sagewiz.tui.screens.folders import FolderPicker

        def picked(folder: str | None) -> None:
            if folder is not None:
                self.query_one("#folder", Input).value = folder
                self.check(folder)

        self.app.push_screen(FolderPicker(self.query_one("#folder", Input).value), picked)

    def action_back(self) -> None:
        if self.packing:  # the packer is writing this folder's files: leaving now would leave half of them
            self.notify("The pictures are being packed; this step can be left once that ends.")
        else:
            self.dismiss("back")

    def check(self, folder: str) -> None:
        folder = folder.strip()
        if not folder:  # no folder, no report of one: the last folder's would be taken for it
            self._clear_report()
            self.query_one("#summary", Static).update("[yellow]Type the folder's path first.[/]")
            return
        if self.packing:  # the packer is still writing the last folder's files: one at a time
            self.waiting = folder
            self.notify(f"The last folder's pictures are being packed; {folder} is checked once that ends.")
            return
        self._clear_report()
        self.scanning, self.checked_text, self.typed = str(Path(folder).expanduser()), folder, False
        self.query_one("#summary", Static).update(f"Checking {escape(folder)} …")
        self.scan(folder)

    def _clear_report(self) -> None:
        self.ready_for = self.scanning = ""
        self.query_one("#next", Button).disabled = True
        self.query_one("#classes").display = self.query_one("#problems").display = False
        self.query_one("#names-question").display = False
        self.query_one(ClassThumbnails).update("")
        if not self.packing:  # the packing's progress stays in view until it ends
            self.state.report = self.state.packed = None
            self.query_one("#progress").display = False
            self.query_one("#packed", Static).update("")

    @in_background(exclusive=True)
    def scan(self, folder: str) -> None:
        from sagewiz.core.dataset.scan import count_images, scan_dataset
        from sagewiz.core.errors import WizardError

        path = str(Path(folder).expanduser())
        try:
            total = count_images(path)
            self.app.call_from_thread(self._start_progress, path, total)
            report = scan_dataset(path, progress=lambda n: self.app.call_from_thread(self._advance, path, n))
        except WizardError as error:
            self.app.call_from_thread(self._failed, path, error)
            return
        self.app.call_from_thread(self._scanned, path, report)

    def _start_progress(self, path: str, total: int) -> None:
        if path == self.scanning:
            bar = self.query_one("#progress", ProgressBar)
            bar.display = True
            bar.update(total=max(total, 1), progress=0)
            self.count_pace.restart()
            self.count_pace(0, total)

    def _advance(self, path: str, n: int) -> None:
        if path == self.scanning:
            bar = self.query_one("#progress", ProgressBar)
            bar.advance(n)
            done, total = int(bar.progress), int(bar.total or 0)
            pace = self.count_pace(done, total)
            self.query_one("#summary", Static).update(f"Checking {escape(self.checked_text)}: {done:,} of {total:,} pictures"
                                                      + (f" ({pace})" if pace else "") + " …")

    def _failed(self, path: str, error) -> None:
        if path != self.scanning:  # a check since, or the field cleared: this answer is for nobody
            return
        self.scanning = ""
        self._clear_report()
        self.query_one("#summary", Static).update(error_text(error) + "\n[dim]Browse… (ctrl+o) finds the folder among yours.[/]")

    def _scanned(self, path: str, report) -> None:
        if path != self.scanning:
            return
        self.scanning = ""
        self.query_one("#progress").display = False
        if not self._in_field(path):  # the user is typing another folder: its report, when they ask, not this one's
            self.query_one("#summary", Static).update("[dim]Enter checks the folder typed.[/]")
            return
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
        self.show_problems(report)
        verdict = "[b green]✓[/] " if report.usable else "[b red]✗[/] "
        self.query_one("#summary", Static).update(verdict + "\n".join(escape(line) for line in report.summary))
        self.query_one("#next", Button).disabled = True
        self.query_one(ClassThumbnails).show(report)
        if not report.usable:
            return
        from sagewiz.core.dataset.report import LAYOUT_NAMES
        from sagewiz.core.journey import packed_folder

        packed_already = self.state.packed is not None and self.state.packed.folder == packed_folder(report.root)
        if report.layout == LAYOUT_NAMES and self.names_taken != report.root and not packed_already:
            self._ask_about_names(report)
            return
        self._go_on(report)

    def _ask_about_names(self, report) -> None:
        """File names as labels are a guess: nothing is packed, and Next stays off, until the user says yes."""
        from sagewiz.core.dataset.labels import what_names_say

        self.query_one("#packed", Static).update(
            f"[b]No class folders:[/] the labels come from the file names. {escape(what_names_say(report))}. "
            "Are these the classes you mean?")
        self.query_one("#names-question").display = True

    def _go_on(self, report) -> None:
        """A usable report (its labels agreed to): pack it, unless packed already or packed later."""
        from sagewiz.core.journey import packed_folder

        if self.state.continue_from:  # the earlier model decides the picture size: packed when training starts
            self.query_one("#packed", Static).update("[dim]The pictures are packed when training starts, at the earlier model's size.[/]")
            self._ready(self.state.data_dir)
        elif self.state.packed is not None and self.state.packed.folder == packed_folder(report.root):
            self._show_packed(self.state.packed)  # came back to this step: packed already
            self._ready(self.state.data_dir)
        else:
            self.start_packing(report)

    def show_problems(self, report) -> None:
        """Every problem with the whole of its reason: the reason wraps in the room the other columns
        leave, so nobody has to scroll sideways to learn why a picture was skipped."""
        problems = self.query_one("#problems", DataTable)
        problems.display = bool(report.problems)
        if not report.problems:
            problems.clear(columns=True)
            return
        rows = [(escape(_where(p.path, report.root)), _SEVERITY.get(p.severity, p.severity), escape(p.action), escape(p.reason))
                for p in report.problems[:500]]  # the action before the reason: the reason is the long one
        fill_table(problems, ("file", "severity", "what sagewiz does", "why"), rows, room_for(problems, scrollbar=True),
                   give_way=[(3, 20), (0, 10)])  # the reason wraps first; the file names only if it would be too narrow

    def on_resize(self) -> None:
        if self.state.report is not None and self.query_one("#problems").display:
            self.show_problems(self.state.report)  # the reasons wrap anew in the new width

    # ---- packing ------------------------------------------------------------------------
    def start_packing(self, report) -> None:
        self.packing, self.packing_split = True, ""
        self.query_one("#next", Button).disabled = True
        self.query_one("#packed", Static).update("Packing the pictures into RecordIO files for training …")
        self.pack(report, self.state.data_dir)

    @in_background(group="pack")
    def pack(self, report, folder: str) -> None:
        from sagewiz.core.errors import WizardError
        from sagewiz.core.journey import pack_ahead

        device = "cuda" if self.state.backend == "aws" else "cpu"  # the size training will ask for there
        try:
            prepared = pack_ahead(report, device, backend=self.state.backend, progress=lambda split, done, total: self.app.call_from_thread(
                self._packing, split, done, total))
        except WizardError as error:
            self.app.call_from_thread(self._pack_failed, error)
            return
        self.app.call_from_thread(self._packed, folder, prepared)

    def _packing(self, split: str, done: int, total: int) -> None:
        bar = self.query_one("#progress", ProgressBar)
        if self.packing_split != split:
            self.packing_split = split
            self.count_pace.restart()
        bar.display = True
        bar.update(total=max(total, 1), progress=done)
        pace = self.count_pace(done, total)
        self.query_one("#packed", Static).update(f"Packing the {split} pictures into RecordIO: {done:,} of {total:,}"
                                                 + (f" ({pace})" if pace else ""))

    def _pack_failed(self, error) -> None:
        self.packing = False
        self.query_one("#progress").display = False
        self.query_one("#packed", Static).update(error_text(error))
        self._check_the_waiting()

    def _packed(self, folder: str, prepared) -> None:
        self.packing = False
        self.query_one("#progress").display = False
        if not self._in_field(folder):  # packed for a folder the field no longer names: Next isn't for it
            self.query_one("#packed", Static).update("")
            self._check_the_waiting()
            return
        self.state.packed = prepared
        self._show_packed(prepared)
        self.ready_for = folder
        # Enter goes on, unless the user has typed in the field since: the focus isn't taken from them
        ready_to_go_on(self, busy=self.focused is self.query_one("#folder") and self.typed)

    def _check_the_waiting(self) -> None:
        folder, self.waiting = self.waiting, ""
        if folder and self._in_field(folder):
            self.check(folder)

    def _show_packed(self, prepared) -> None:
        counts = prepared.counts
        text = (f"[b green]✓[/] Packed for training: {counts.get('train', 0):,} training and {counts.get('validation', 0):,} "
                f"validation pictures (RecordIO); {counts.get('test', 0):,} test pictures kept apart for the end.")
        if prepared.skipped:
            text += f" [yellow]{len(prepared.skipped)} couldn't be packed and are left out.[/]"
        self.query_one("#packed", Static).update(text)


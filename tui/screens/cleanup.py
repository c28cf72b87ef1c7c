"""Step 5: everything sagewiz created, with what it costs per hour; delete what you choose."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Static

from sagewiz.core.journey import PACKED_KIND
from sagewiz.tui.background import in_background
from sagewiz.tui.screens.common import ConfirmScreen, StepBar, fill_table, lay_out_again, room_for
from sagewiz.tui.words import counted, error_text, resource_name, resource_said, these

CHECKED, UNCHECKED = "☑", "☐"


class CleanupScreen(Screen[str]):
    """Dismisses with "done" (quit) or "back"."""

    BINDINGS = [("space", "toggle", "Select"), ("escape", "back", "Back")]

    def __init__(self, state):
        super().__init__()
        self.state = state
        self.resources: list = []
        self.cells: list[tuple] = []  # each resource's row but its tick (a folder's size is read once, not on every resize)
        self.chosen: set[int] = set()  # the rows ticked
        # what the user unticked, by what it is: kept unticked when the list comes back after a deletion
        # (re-ticked, one more Delete took what they chose to keep)
        self.kept: set[tuple] = set()

    def compose(self) -> ComposeResult:
        yield StepBar("Clean up")
        with Vertical(classes="body"):
            yield Static("What sagewiz created and has not deleted. [dim]Space selects; everything is selected to start with.[/]",
                         classes="lead")
            yield DataTable(id="resources", cursor_type="row", zebra_stripes=True)
            yield Static("", id="verdict")
            with Horizontal(classes="buttons"):
                yield Button("Back", id="back")
                yield Button("Delete selected", variant="error", id="delete")
                yield Button("Done", variant="primary", id="done")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @in_background(exclusive=True)
    def load(self) -> None:
        from sagewiz.core.backends import NAMES, live_resources, open_backend
        from sagewiz.core.errors import WizardError
        from sagewiz.core.ledger import Ledger

        try:
            with Ledger() as ledger:
                # the backend of this run is asked (on aws it also finds what the ledger lost; an error is shown);
                # what the others hold too (the packed pictures are on this computer even for a SageMaker run)
                resources = open_backend(self.state.backend, ledger=ledger, region=self.state.region or None).resources()
                for other in NAMES:
                    if other != self.state.backend:
                        resources += live_resources(ledger, other)
        except WizardError as error:
            self.app.call_from_thread(self.query_one("#verdict", Static).update, error_text(error))
            return
        self.app.call_from_thread(self.show, resources)

    def show(self, resources: list) -> None:
        self.resources = resources
        self.cells = [(self._kind(r), escape(resource_name(r)), r.state, _cost(r)) for r in resources]
        self.chosen = {index for index, r in enumerate(resources) if _identity(r) not in self.kept}
        self._fill(self.query_one("#resources", DataTable))
        per_hour = sum(r.cost_per_hour or 0 for r in resources if r.state in ("active", "running"))
        count = counted(len(resources), "resource")
        if not resources:
            verdict = "[green]Nothing left: sagewiz has nothing running or stored.[/]"
        elif all(r.backend == "local" for r in resources):
            verdict = f"{count} on this computer: free, but deleting them gives back the disk space."
        else:
            verdict = (f"{count}, costing ${per_hour:.3f} per hour while they exist"
                       + (" (and the bucket a few cents per GB a month)." if any(r.kind == "bucket" for r in resources) else "."))
        self.query_one("#verdict", Static).update(verdict)
        self.query_one("#delete", Button).disabled = not resources

    def _kind(self, resource) -> str:
        """What a resource is; on an AWS run, an endpoint on this computer (a SageMaker model tested
        here) says so, not to be taken for a SageMaker one."""
        if resource.kind == "endpoint" and resource.backend == "local" and self.state.backend != "local":
            return "endpoint (this computer)"
        return resource.kind

    def _fill(self, table: DataTable) -> None:
        """A row per resource, ticked if chosen; in 80 columns long names wrap rather than push the
        cost off the edge."""
        rows = [(CHECKED if index in self.chosen else UNCHECKED, *cells) for index, cells in enumerate(self.cells)]
        fill_table(table, ("", "kind", "name", "state", "cost/hour"), rows, room_for(table), give_way=[(2, 16), (1, 8)],
                   keys=[str(index) for index in range(len(rows))])

    def on_resize(self) -> None:
        if self.resources:
            lay_out_again(self.query_one("#resources", DataTable), self._fill)

    def action_toggle(self) -> None:
        table = self.query_one("#resources", DataTable)
        if not self.resources:
            return
        index = table.cursor_row
        self.chosen ^= {index}
        self.kept ^= {_identity(self.resources[index])}
        table.update_cell_at((index, 0), CHECKED if index in self.chosen else UNCHECKED)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "delete":
            self.ask_to_delete([self.resources[i] for i in sorted(self.chosen)])
        else:
            self.dismiss(event.button.id)

    def action_back(self) -> None:
        self.dismiss("back")

    def ask_to_delete(self, chosen: list) -> None:
        """Every deletion names what goes and waits for a yes: nothing deleted can be brought back."""
        if not chosen:
            self.notify("Nothing is selected: Space selects what to delete.")
            return
        listed = "\n".join(f"  • {escape(resource_said(r))}" for r in chosen)
        question = f"Delete {these(len(chosen), 'thing')}? It can't be undone.\n{listed}"

        def answered(yes: bool | None) -> None:
            if yes:
                self.query_one("#delete", Button).disabled = True
                self.query_one("#verdict", Static).update("Deleting …")
                self.delete(chosen)

        self.app.push_screen(ConfirmScreen(question, "Delete"), answered)

    @in_background(exclusive=True)
    def delete(self, chosen: list) -> None:
        from sagewiz.core.backends import delete_resources
        from sagewiz.core.errors import WizardError
        from sagewiz.core.ledger import Ledger

        try:
            with Ledger() as ledger:
                for _, error in delete_resources(ledger, chosen):  # what bills first
                    if error is not None:
                        self.app.call_from_thread(self.notify, error.message, title=error.title, severity="error")
        except WizardError as error:  # the ledger itself can't be read
            self.app.call_from_thread(self.query_one("#verdict", Static).update, error_text(error))
            return
        self.load()
        # the Delete button was disabled meanwhile and the focus went on to Back: back to the list
        self.app.call_from_thread(self.query_one("#resources", DataTable).focus)


# S3 Standard in us-east-1, per GB-month; a bucket costs by what it holds, not by the hour
BUCKET_PER_GB_MONTH = 0.023


def _identity(resource) -> tuple:
    """What a resource is, the same in every listing of it (a row's place changes as others go)."""
    return resource.backend, resource.kind, resource.name, resource.region


def _cost(resource) -> str:
    """What a resource costs while it exists, as the table shows it."""
    folder = _folder(resource)
    if folder:
        return f"free, {_size(folder)}"  # what deleting it gives back
    if resource.backend == "local":
        return "free"
    if resource.kind == "bucket":
        return f"${BUCKET_PER_GB_MONTH}/GB-month"
    if resource.cost_per_hour is None:
        return "unknown"
    return "free" if resource.cost_per_hour == 0 else f"${resource.cost_per_hour:.3f}"


def _folder(resource) -> str:
    """The folder on this computer a resource is (the packed pictures, the local storage), or ""."""
    if resource.kind == PACKED_KIND:
        return resource.details.get("dir", "")
    if resource.backend == "local" and resource.kind == "storage":
        return resource.details.get("path", "")
    return ""


def _size(folder: str) -> str:
    """The disk space a folder's files take, in MB or GB."""
    import os

    total = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(parent, name))
            except OSError:
                pass
    return f"{total / 1e9:.1f} GB" if total >= 1e9 else f"{total / 1e6:.1f} MB"

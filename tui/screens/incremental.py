"""Continue an earlier model (incremental training): pick a training job that completed, on this
computer or on SageMaker, and let its model learn on from new pictures or with other settings —
where it was trained, or on the other side: a model trained here for free can learn on on a
SageMaker GPU, and a SageMaker model on this computer (it is downloaded once). The network
(num_layers, image_shape) stays the earlier model's; the classes must be the same."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Label, Select, Static

from sagewiz.core.earlier import completed_jobs
from sagewiz.tui.background import in_background
from sagewiz.tui.screens.common import StepBar, fill_table, lay_out_again, room_for
from sagewiz.tui.words import error_text, local_time


# Where the chosen model learns on: where it was trained (the row's), or the other side.
WHERE = [("this computer (free)", "local"), ("SageMaker (a GPU, billed per second)", "aws")]
CROSSING = {("local", "aws"): "It is uploaded to SageMaker when training starts.",
            ("aws", "local"): "It is downloaded to this computer (once) when training starts."}


class IncrementalScreen(Screen[str]):
    """Dismisses with "next" (``state.continue_from``, ``backend`` and ``region`` set) or "back"."""

    BINDINGS = [("enter", "choose", "Continue this model"), ("escape", "back", "Back")]

    def __init__(self, state):
        super().__init__()
        self.state = state
        self.jobs: list = []
        self.rows: list = []  # (record, accuracy, layers) of each model shown

    def compose(self) -> ComposeResult:
        yield StepBar("Welcome")
        with Vertical(classes="body"):
            yield Static("Which model should learn more? It keeps what it learned and its network; you choose new "
                         "pictures (of the same classes) and settings next. Accuracy: on its validation pictures.",
                         classes="lead")
            yield DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
            with Horizontal(classes="field", id="where-row"):
                yield Label("learns on", classes="name")
                yield Select(WHERE, value="local", allow_blank=False, id="learns-on")
            yield Static("", id="verdict")
            with Horizontal(classes="buttons"):
                yield Button("Back", id="back")
                yield Button("Continue this model", variant="primary", id="next", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @in_background(exclusive=True)
    def load(self) -> None:
        from sagewiz.core.backends import open_backend
        from sagewiz.core.errors import WizardError
        from sagewiz.core.ledger import Ledger

        rows = []
        try:
            with Ledger() as ledger:
                for record in completed_jobs(ledger):
                    accuracy, layers = "", ""
                    try:  # the last validation accuracy and the network, from the backend
                        job = open_backend(record.backend, ledger=ledger, region=record.region or None).describe_training(record.name)
                        values = [m for m in job.metrics if m.name == "validation:accuracy"]
                        accuracy = f"{max(values, key=lambda m: m.epoch).value:.3f}" if values else ""
                        layers = job.hyperparameters.get("num_layers", "")
                        if not job.model_uri:
                            continue
                    except WizardError:
                        continue  # gone (deleted on AWS, folder removed): nothing to continue from
                    rows.append((record, accuracy, layers))
        except WizardError as error:
            self.app.call_from_thread(self.query_one("#verdict", Static).update, error_text(error))
            return
        self.app.call_from_thread(self.show, rows)

    def show(self, rows: list) -> None:
        self.jobs = [record for record, _, _ in rows]
        self.rows = rows
        table = self.query_one("#jobs", DataTable)
        self._fill(table)
        if not rows:
            self.query_one("#verdict", Static).update(
                "No completed training job with a model is left. Train one first (Back, then Choose my pictures).")
            return
        self.query_one("#next", Button).disabled = False
        table.focus()

    def _fill(self, table: DataTable) -> None:
        """A row per model; in 80 columns the time and the place wrap rather than run off the edge."""
        cells = [(escape(record.name), "this computer" if record.backend == "local" else f"AWS {record.region}",
                  local_time(record.updated_at), accuracy, str(layers)) for record, accuracy, layers in self.rows]
        fill_table(table, ("training job", "where", "finished", "accuracy", "layers"), cells, room_for(table),
                   give_way=[(2, 10), (1, 8)])

    def on_resize(self) -> None:
        if self.rows:
            lay_out_again(self.query_one("#jobs", DataTable), self._fill)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """A model learns on where it was trained unless the user says otherwise."""
        if 0 <= event.cursor_row < len(self.jobs):
            self.query_one("#learns-on", Select).value = self.jobs[event.cursor_row].backend

    def on_select_changed(self, event: Select.Changed) -> None:
        """Crossing over is said before it is chosen: what happens to the model, and what it costs."""
        table = self.query_one("#jobs", DataTable)
        if not self.jobs or table.cursor_row is None or not 0 <= table.cursor_row < len(self.jobs):
            return
        crossing = CROSSING.get((self.jobs[table.cursor_row].backend, str(event.value)), "")
        self.query_one("#verdict", Static).update(f"[dim]{crossing}[/]" if crossing else "")

    def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        self.action_choose()

    def action_choose(self) -> None:
        table = self.query_one("#jobs", DataTable)
        if not self.jobs or table.cursor_row is None:
            return
        record = self.jobs[table.cursor_row]
        where = str(self.query_one("#learns-on", Select).value)
        self.state.continue_from = record.name
        self.state.backend = where
        self.state.region = record.region if where == record.backend else ""  # crossing over: the Where step asks
        crossing = CROSSING.get((record.backend, where), "")
        self.notify(f"Continuing {escape(record.name)}: choose the pictures it should learn from. {crossing}".rstrip())
        self.dismiss("next")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "back":
            self.dismiss("back")
        else:
            self.action_choose()

    def action_back(self) -> None:
        self.dismiss("back")

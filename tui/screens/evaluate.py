"""Step 6, the results: how the endpoint did on the test pictures it never trained on. Accuracy,
each class's precision and recall, the confusion matrix, and the pictures it got wrong, each one
shown beside the list so the user can see why."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Static

from sagewiz.tui.screens.common import StepBar, fill_table, fits, lay_out_again, room_for, table_width
from sagewiz.tui.screens.tables import RowsTable
from sagewiz.tui.thumbnails import PictureView


class EvaluateScreen(Screen[str]):
    """Dismisses with "next" (to trying the endpoint, or clean-up) or "back" (to deploy)."""

    BINDINGS = [("escape", "back", "Back")]

    def __init__(self, state):
        super().__init__()
        self.state = state
        self.evaluation = (state.summary or {}).get("evaluation") or {}
        self.wrong = self.evaluation.get("misclassified", [])
        endpoint = (state.summary or {}).get("endpoint")
        self.kept = bool(endpoint) and not endpoint.get("deleted")  # still up: it can be asked about a picture

    def compose(self) -> ComposeResult:
        yield StepBar("Deploy & test")
        with Vertical(classes="body"):
            yield Static(self._outcome(""), id="outcome")
            yield RowsTable(id="results", cursor_type="none", zebra_stripes=True)
            yield Static("", id="wrong-title")
            with Horizontal(id="wrong-row"):
                yield DataTable(id="wrong", cursor_type="row", zebra_stripes=True)
                yield PictureView(20, 10, id="wrong-picture")
            with Horizontal(classes="buttons"):
                yield Button("Back", id="back")
                yield Button("Next: ask it about a picture" if self.kept else "Next: clean up", variant="primary", id="next")
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(self._fill)  # nested widgets mount a moment after the screen

    def _outcome(self, how: str) -> str:
        e = self.evaluation
        return (f"[b green]Test accuracy {e.get('accuracy', 0):.3f}[/] on {e.get('evaluated', 0)} test pictures "
                f"(top-{e.get('top_k', 1)}: {e.get('top_k_accuracy', 0):.3f}). [dim]{how}[/]")

    def _fill_results(self) -> None:
        """Per class: precision, recall, and the confusion matrix's row where it fits across: its
        columns named by class where that fits, else by label (a few cells each: ten classes fit
        120 columns). Where neither fits (ten classes in 80 columns), what the class was taken for,
        most often first, and how wide the terminal must be for the matrix."""
        names = self.evaluation.get("class_names", [])
        table = self.query_one("#results", DataTable)
        stats, confusion = [], self.evaluation.get("confusion", [])
        for score in self.evaluation.get("per_class", []):
            stats.append([escape(score["name"]), f"{score['precision']:.3f}", f"{score['recall']:.3f}", str(score["support"])])
        headers, room = ["class", "precision", "recall", "pictures"], room_for(table)
        counts = [[str(v) for v in row] for row in confusion]
        by_name = (headers + [escape(f"→{n}"[:10]) for n in names], [row + c for row, c in zip(stats, counts)])
        by_label = (["label"] + headers + [f"→{label}" for label in range(len(names))],
                    [[str(label)] + row + c for label, (row, c) in enumerate(zip(stats, counts))])
        if fits(*by_name, room):
            fill_table(table, *by_name, room)
            how = "Rows: the true class; → columns: what the model said."
        elif fits(*by_label, room):
            fill_table(table, *by_label, room)
            how = "Rows: the true class; → columns: what the model said, by label."
        else:
            taken = [", ".join(f"{escape(names[j])} ×{v}" for j, v in sorted(enumerate(row), key=lambda c: -c[1])
                               if v and j != i) or "—" for i, row in enumerate(confusion)]
            fill_table(table, headers + ["taken for"], [row + [t] for row, t in zip(stats, taken)], room, give_way=[(4, 16)])
            wider = self.app.size.width + table_width(*by_label) - room
            how = (f"Taken for: what the model said instead, and how often. Widen the terminal to {wider} columns "
                   "to see the confusion matrix.")
        self.query_one("#outcome", Static).update(self._outcome(how))

    def on_resize(self) -> None:
        if self.query("#results") and self.query_one("#results", DataTable).columns:
            self._fill_results()
        if self.wrong and self.query("#wrong") and self.query_one("#wrong", DataTable).columns:
            lay_out_again(self.query_one("#wrong", DataTable), self._fill_wrong)

    def _fill(self) -> None:
        self._fill_results()
        wrong = self.query_one("#wrong", DataTable)
        title = self.query_one("#wrong-title", Static)
        if not self.wrong:
            title.update("[green]Every test picture was classified right.[/]")
            self.query_one("#wrong-row").display = False
            return
        title.update(f"{len(self.wrong)} picture{'s' if len(self.wrong) != 1 else ''} classified wrong "
                     "[dim](↑↓ shows each one)[/]:")
        self._fill_wrong(wrong)

    def _fill_wrong(self, table: DataTable) -> None:
        """The pictures it got wrong beside the picture shown: a long file name wraps (then long class
        names) so that what the model said, and how sure, stay in view."""
        rows = [[escape(_short(item["path"])), escape(item["true_class"]), escape(item["predicted_class"]),
                 f"{item['confidence']:.0%}"] for item in self.wrong]
        beside = self.query_one("#wrong-picture").outer_size.width or 22  # the picture (wizard.tcss), before layout too
        fill_table(table, ["picture", "is", "model said", "sure"], rows, room_for(table) - beside,
                   give_way=[(0, 14), (1, 8), (2, 10)])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "wrong" and 0 <= event.cursor_row < len(self.wrong):
            self.query_one("#wrong-picture", PictureView).show(self.wrong[event.cursor_row]["path"])

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def action_back(self) -> None:
        self.dismiss("back")


def _short(path: str) -> str:
    """The picture's class folder and name: the rest of the path is the same for every row."""
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-2:])

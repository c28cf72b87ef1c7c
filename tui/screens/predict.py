"""Try the endpoint: pick a picture, see it, and see the classes the model gives it, most likely first.

Shown after the test when the endpoint was kept running. The answer comes from the endpoint
itself (``Backend.predict``), the same call an application would make.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DirectoryTree, Footer, Input, Static

from sagewiz.tui.background import in_background
from sagewiz.tui.screens.common import StepBar
from sagewiz.tui.thumbnails import PictureView
from sagewiz.tui.words import error_text

TOP = 5


def answer_table(class_names: list[str], probabilities: tuple[float, ...], top: int = TOP) -> Table:
    """The ``top`` most likely classes as bars, most likely first."""
    table = Table.grid(padding=(0, 1))
    ranked = sorted(enumerate(probabilities), key=lambda pair: pair[1], reverse=True)[:top]
    for rank, (label, probability) in enumerate(ranked):
        name = class_names[label] if label < len(class_names) else str(label)
        bar = proportional_bar(probability, 30)
        table.add_row(Text(name, style="bold" if rank == 0 else ""), Text(bar, style="green" if rank == 0 else "dim"),
                      f"{probability:6.1%}")
    return table


def proportional_bar(fraction: float, width: int) -> str:
    """``fraction`` of ``width`` cells, to an eighth of a cell: 0.6% is a sliver, 0% nothing at all
    (a whole block for every class, however unlikely, said they all had some chance)."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    return "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]


class PictureTree(DirectoryTree):
    """Folders and the pictures in them (JPEG, PNG), nothing else."""

    def filter_paths(self, paths):
        from sagewiz.core.dataset.walk import IMAGE_EXTENSIONS

        return [p for p in paths if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() in IMAGE_EXTENSIONS)]


class PickPicture(ModalScreen[str | None]):
    """Browse for a picture, starting in the dataset's folder; dismisses with its path, or None."""

    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, root: Path):
        super().__init__()
        self.root = root

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(f"Choose a picture in {escape(str(self.root))} (Enter opens a folder or picks a picture; Esc cancels)")
            yield PictureTree(self.root, id="tree")

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(str(event.path))

    def action_cancel(self) -> None:
        self.dismiss(None)


class PredictScreen(Screen[str]):
    """Dismisses with "next" (to clean-up) or "back"."""

    BINDINGS = [("escape", "back", "Back"), ("ctrl+o", "browse", "Browse pictures")]

    def __init__(self, state):
        super().__init__()
        self.state = state
        summary = state.summary or {}
        self.endpoint = summary.get("endpoint", {}).get("name", "")
        # the backend the endpoint is on: a SageMaker model tested on this computer has a local one
        self.endpoint_backend = summary.get("endpoint", {}).get("backend") or state.backend
        self.class_names = summary.get("dataset", {}).get("classes", [])
        evaluation = summary.get("evaluation") or {}
        wrong = evaluation.get("misclassified") or []
        # start with a picture the model got wrong, if any: the interesting one to look at
        self.example = wrong[0]["path"] if wrong else ""
        self.answer: list[tuple[str, float]] = []  # (class, probability), most likely first
        self.asked = ""  # the picture asked about last: an earlier one's answer, coming late, is not for it

    def compose(self) -> ComposeResult:
        yield StepBar("Deploy & test")
        with Vertical(classes="body"):
            where = " on this computer" if self.endpoint_backend == "local" and self.state.backend != "local" else ""
            yield Static(f"Ask the endpoint [b]{escape(self.endpoint)}[/]{where} about a picture (JPEG or PNG).", classes="lead")
            with Horizontal(classes="row"):
                yield Input(self.example, placeholder="path of a picture", id="picture")
                yield Button("Browse…", id="browse")
                yield Button("Predict", variant="primary", id="predict")
            with Horizontal(id="answer-row"):
                yield PictureView(24, 12, id="preview")
                yield Static("", id="answer")
            with Horizontal(classes="buttons"):
                yield Button("Back", id="back")
                yield Button("Next: clean up", variant="primary", id="next")
        yield Footer()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.ask(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "predict":
            self.ask(self.query_one("#picture", Input).value)
        elif event.button.id == "browse":
            self.action_browse()
        else:
            self.dismiss(event.button.id)

    def action_back(self) -> None:
        self.dismiss("back")

    def action_browse(self) -> None:
        root = Path(self.state.data_dir or ".").expanduser()
        self.app.push_screen(PickPicture(root if root.is_dir() else Path.cwd()), self._picked)

    def _picked(self, path: str | None) -> None:
        if path:
            self.query_one("#picture", Input).value = path
            self.ask(path)

    def ask(self, path: str) -> None:
        self.answer = []
        self.asked = str(Path(path.strip()).expanduser())
        # the last picture goes with its answer: beside this one's answer, or its error, it would be taken for this one
        self.query_one("#preview", PictureView).clear()
        self.query_one("#answer", Static).update("Asking the endpoint …")
        self.predict(self.asked)

    @in_background(exclusive=True)
    def predict(self, path: str) -> None:
        from sagewiz.core.backends import open_backend
        from sagewiz.core.errors import InputError, WizardError
        from sagewiz.core.evaluate import content_type_of
        from sagewiz.core.ledger import Ledger

        try:
            try:
                image = Path(path).read_bytes()
            except OSError as error:
                raise InputError(f"Can't read {path}: {error.strerror}.", hint="Give the path of a JPEG or PNG file.") from None
            with Ledger() as ledger:
                region = self.state.region if self.endpoint_backend == "aws" else None
                backend = open_backend(self.endpoint_backend, ledger=ledger, region=region or None)
                prediction = backend.predict(self.endpoint, image, content_type_of(image))
        except WizardError as error:
            self.app.call_from_thread(self.refused, path, error)
            return
        self.app.call_from_thread(self.show, path, prediction.probabilities)

    def refused(self, path: str, error) -> None:
        if path == self.asked:
            self.query_one("#answer", Static).update(error_text(error))

    def show(self, path: str, probabilities) -> None:
        if path != self.asked:
            return
        ranked = sorted(range(len(probabilities)), key=lambda label: probabilities[label], reverse=True)
        self.answer = [(self.class_names[label] if label < len(self.class_names) else str(label), probabilities[label])
                       for label in ranked]
        self.query_one("#preview", PictureView).show(path)
        self.query_one("#answer", Static).update(answer_table(self.class_names, probabilities))

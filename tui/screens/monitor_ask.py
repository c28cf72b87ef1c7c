"""Ask a model the monitor shows about a picture: an Image Classification endpoint, or the model of
a training job that completed (downloaded once, answered on this computer). A path field, the
answer as bars (the classes by name when sagewiz knows them, ``class 0``… when it doesn't)."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from sagewiz.core.monitor.model import ENDPOINT, Item
from sagewiz.tui.background import in_background, tell
from sagewiz.tui.screens.predict import answer_table
from sagewiz.tui.words import error_text


class AskScreen(ModalScreen[None]):
    """Dismisses (None) on Esc or Close."""

    BINDINGS = [("escape", "close", "Close"), ("ctrl+o", "browse", "Browse pictures")]

    def __init__(self, item: Item, monitor, picture: str = ""):
        super().__init__()
        self.item, self.monitor, self.picture = item, monitor, picture
        self.found = None  # the model, once found (a job's is downloaded once)
        self.asked = ""
        self.answer: list[tuple[str, float]] = []  # (class, probability), most likely first

    def compose(self) -> ComposeResult:
        what = f"the endpoint {self.item.name}" if self.item.kind == ENDPOINT else f"the model of {self.item.name}"
        where = " (on this computer)" if self.item.kind != ENDPOINT else ""
        with Vertical(id="ask"):
            yield Static(f"Ask [b]{escape(what)}[/]{where} about a picture (JPEG or PNG):")
            with Horizontal(classes="row"):
                yield Input(self.picture, placeholder="path of a picture", id="picture")
                yield Button("Browse…", id="browse")
            yield Static("", id="answer")
            with Horizontal(classes="row"):
                yield Button("Ask", variant="primary", id="ask-button")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query_one("#picture", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.ask_about(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ask-button":
            self.ask_about(self.query_one("#picture", Input).value)
        elif event.button.id == "browse":
            self.action_browse()
        else:
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_browse(self) -> None:
        from sagewiz.tui.screens.predict import PickPicture

        self.app.push_screen(PickPicture(Path.cwd()), self._picked)

    def _picked(self, path: str | None) -> None:
        if path:
            self.query_one("#picture", Input).value = path
            self.ask_about(path)

    def ask_about(self, path: str) -> None:
        path = path.strip()
        if not path:
            self.query_one("#answer", Static).update("[yellow]Type the path of a picture first.[/]")
            return
        self.asked, self.answer = str(Path(path).expanduser()), []
        said = "Asking the endpoint …" if self.item.kind == ENDPOINT or self.found else "Fetching the model and asking it …"
        self.query_one("#answer", Static).update(said)
        self.predict(self.asked)

    @in_background(exclusive=True)
    def predict(self, path: str) -> None:
        from sagewiz.core.errors import WizardError
        from sagewiz.core.monitor.ask import ask, model_to_ask

        try:
            if self.found is None:
                self.found = model_to_ask(self.item, self.monitor)
            result, answer = ask(self.found, path)
        except WizardError as error:
            tell(self, self.refused, path, error)
            return
        tell(self, self.show, path, list(result.class_names), answer.probabilities)

    def refused(self, path: str, error) -> None:
        if path == self.asked:
            self.query_one("#answer", Static).update(error_text(error))

    def show(self, path: str, class_names: list[str], probabilities) -> None:
        if path != self.asked:  # an earlier picture's answer, come late
            return
        ranked = sorted(range(len(probabilities)), key=lambda label: probabilities[label], reverse=True)
        self.answer = [(class_names[label] if label < len(class_names) else str(label), probabilities[label]) for label in ranked]
        self.query_one("#answer", Static).update(answer_table(class_names, probabilities))

"""Step 1: where to train (this computer or AWS), an interrupted run to resume, or a sample dataset."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, RadioButton, RadioSet, Static

from sagewiz.core.watchers import watcher_of
from sagewiz.tui.background import in_background
from sagewiz.tui.screens.common import StepBar
from sagewiz.tui.screens.folders import PathField
from sagewiz.tui.words import error_text, local_time

LOCAL = "On this computer — free, no account needed"
# short enough for one line at 80 columns beside the scrollbar; the explanation below says the rest
AWS = "On AWS SageMaker — needs an AWS account; billed per second"
EXPLAIN = ("[b]This computer[/] trains SageMaker's Image Classification algorithm (a ResNet) with PyTorch: the same "
           "settings, logs and model file, and nothing leaves this machine. The sample digits train {sample}.\n"
           "[b]AWS SageMaker[/] needs an AWS account (signed in with `aws configure` or `aws sso login`) and bills each "
           "second of training and hosting; sagewiz checks regions, quotas and prices first, keeps your data in a "
           "private bucket and cleans up for you.")


class WelcomeScreen(Screen[str]):
    """Dismisses with "next" (pick pictures), "sample" (make the sample dataset), "resume",
    "continue" (incremental training from an earlier model) or "monitor" (watch what runs, when
    ``running`` names where something does: (backend, region))."""

    BINDINGS = [("enter", "next", "Next"), ("s", "sample", "Sample data"), ("m", "monitor", "Watch what runs")]

    def __init__(self, state, unfinished=None, has_models: bool = False, running: tuple[str, str] | None = None):
        super().__init__()
        self.state, self.unfinished, self.has_models, self.running = state, unfinished, has_models, running
        # a run another sagewiz is watching is that one's: resuming it here too would follow it twice
        self.watcher = watcher_of(unfinished.id) if unfinished else None

    def compose(self) -> ComposeResult:
        yield StepBar("Welcome")
        # at 80×24 the explanation may run below the choices: it scrolls (mouse), the choices keep the keys
        with VerticalScroll(classes="body", can_focus=False):
            yield Static("[b]sagewiz[/] takes a folder of labelled pictures to a trained image classifier "
                         "answering on an endpoint, and cleans up after itself.", classes="lead")
            yield Static("Where should it train?", classes="question")
            with RadioSet(id="backend"):
                yield RadioButton(LOCAL, value=self.state.backend != "aws", id="local")
                yield RadioButton(AWS, value=self.state.backend == "aws", id="aws")
            if self.running:  # first of the notes: it may be costing money now (one line, to fit beside five choices)
                said = "still runs on this computer: m shows it" if self.running[0] == "local" else \
                    "still bills on SageMaker: m shows what it costs"
                yield Static(f"Something sagewiz started {said}.", classes="note", id="running-note")
            if self.unfinished:  # before the explanation: it is what this user came back for
                run = self.unfinished
                about = f"({run.id[:8]}, started {local_time(run.started_at)}, reached: {run.step or 'the start'})"
                if self.watcher:
                    said = (f"The latest run {about} is being watched by another sagewiz (process {self.watcher}): "
                            "go on there, or follow its job here with `sagewiz monitor`.")
                else:
                    said = f"An interrupted run {about} can be continued without redoing what it finished."
                yield Static(said, classes="note", id="resume-note")
            yield Static(EXPLAIN.format(sample=_sample_time()), classes="explain")
            with Horizontal(classes="buttons", id="choices"):
                yield Button("Choose my pictures", variant="primary", id="next")
                yield Button("No pictures yet? Make a sample", id="sample")
                if self.has_models:
                    yield Button("Continue an earlier model", id="continue")
                if self.unfinished and not self.watcher:
                    yield Button("Resume the interrupted run", id="resume")
                if self.running:
                    yield Button("Watch what is running (monitor)", id="monitor")
        yield Footer()

    def on_mount(self) -> None:
        # focusing the choice of backend scrolls it into view; the first lines say what sagewiz is: keep them
        self.call_after_refresh(self.query_one(".body").scroll_home, animate=False)

    def on_resize(self, event) -> None:
        """Up to four choices: in one row where they fit, else two to a row, so none is cut off."""
        choices = self.query_one("#choices")
        # a button is its label, a cell of padding and of border each side, at least 16 wide; 2 between
        needed = sum(max(16, len(str(button.label)) + 4) + 2 for button in choices.query(Button))
        choices.set_class(needed > event.size.width - 4, "two-by-two")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "resume":
            self.state.resume_run = self.unfinished.id
            self.state.backend = self.unfinished.backend
            self.dismiss("resume")
            return
        if event.button.id == "monitor":
            self.dismiss("monitor")
            return
        if event.button.id == "continue":
            self.dismiss("continue")  # the backend is the earlier model's
            return
        self._leave(event.button.id)

    def _leave(self, answer: str) -> None:
        pressed = self.query_one("#backend", RadioSet).pressed_button
        self.state.backend = "aws" if pressed is not None and pressed.id == "aws" else "local"
        self.state.continue_from = ""  # a new model
        self.dismiss(answer)

    def action_next(self) -> None:
        self._leave("next")

    def action_sample(self) -> None:
        self._leave("sample")

    def action_monitor(self) -> None:
        if self.running:
            self.dismiss("monitor")

    def check_action(self, action: str, parameters) -> bool | None:
        return bool(self.running) if action == "monitor" else True


class SampleFolderScreen(ModalScreen[str | None]):
    """Where to write the sample dataset: a folder the user confirms (or changes). Writes it, then
    dismisses with the folder; None when cancelled. A folder that can't take it gets a message."""

    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, default: str):
        super().__init__()
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static("Where should sagewiz write the sample (1,797 handwritten digits in 10 classes, about 2 MB)?")
            yield PathField(self.default, field_id="sample-folder", placeholder="~/sample-digits")
            yield Static("", id="sample-error")
            with Horizontal(classes="row"):
                yield Button("Write the sample", variant="primary", id="write")
                yield Button("Cancel", id="cancel")

    def on_input_submitted(self, _: Input.Submitted) -> None:
        self._write()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "write":
            self._write()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _write(self) -> None:
        folder = str(Path(self.query_one("#sample-folder", Input).value.strip() or self.default).expanduser())
        self.query_one("#sample-error", Static).update(f"Writing the sample to {escape(folder)} …")
        self.query_one("#write", Button).disabled = True
        self.write(folder)

    @in_background(exclusive=True)
    def write(self, folder: str) -> None:
        from sagewiz.core.dataset.sample import write_sample_dataset
        from sagewiz.core.errors import WizardError

        try:
            write_sample_dataset(Path(folder))
        except WizardError as error:
            self.app.call_from_thread(self._failed, error)
            return
        except OSError as error:
            from sagewiz.core.errors import InputError

            self.app.call_from_thread(self._failed, InputError(f"Can't write to {folder}: {error.strerror}.",
                                                               hint="Choose a folder you can write to."))
            return
        self.app.call_from_thread(self.dismiss, folder)

    def _failed(self, error) -> None:
        self.query_one("#sample-error", Static).update(error_text(error))
        self.query_one("#write", Button).disabled = False


def _sample_time() -> str:
    """How long the digits sample trains here, once this computer's pace is known (core/local/pace.py)."""
    from sagewiz.core.estimates import sample_training_time

    said = sample_training_time()
    return f"here in {said}" if said else "in a minute or two"

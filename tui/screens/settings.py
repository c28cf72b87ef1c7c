"""Step 3: the training settings, suggested from the dataset, checked as they are typed.

The values are the Image Classification algorithm's hyperparameters: what is valid here is what
SageMaker accepts. F1 explains the field under the cursor.
"""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Collapsible, Footer, Input, Label, ProgressBar, Select, Static

from sagewiz.core.estimates import MEASURING, duration, estimate_aws_minutes, estimate_minutes, pace_unknown
from sagewiz.tui.background import in_background
from sagewiz.tui.screens.common import StepBar

BASIC = ("epochs", "learning_rate", "mini_batch_size")
# Under "Advanced": the optimizer's and the schedule's finer settings; empty means SageMaker's default.
ADVANCED = ("momentum", "weight_decay", "lr_scheduler_step", "lr_scheduler_factor", "top_k",
            "beta_1", "beta_2", "eps", "gamma", "checkpoint_frequency")
CHOICES = {
    "use_pretrained_model": ("0", "1"),  # the first is what an unset setting means
    "optimizer": ("sgd", "nag", "adam", "rmsprop"),
    "augmentation_type": ("none", "crop", "crop_color", "crop_color_transform"),
}
CHOICE_LABELS = {"use_pretrained_model": {"0": "0: learn from nothing", "1": "1: start from ImageNet"}}


def _default_text(name: str) -> str:
    """A hyperparameter's default as the form shows it ("" when SageMaker decides)."""
    from sagewiz.core.hyperparams import Hyperparameters

    default = Hyperparameters.model_fields[name].default
    return "" if default is None else repr(default) if isinstance(default, float) else str(default)


class SettingsScreen(Screen[str]):
    """Dismisses with "next" (``state.overrides`` hold the changed settings) or "back"."""

    BINDINGS = [("escape", "back", "Back"), ("f1", "explain", "Explain field"),
                ("ctrl+r", "use_suggestion", "Suggestion")]

    def __init__(self, state):
        super().__init__()
        self.state = state
        # the suggested lr_scheduler_step for the epochs in the form: it follows epochs (core's
        # with_overrides) until the user types a schedule of their own
        self.step_suggestion = self._schedule_for(state.overrides.get("epochs", str(state.suggested.epochs)))

    def compose(self) -> ComposeResult:
        from sagewiz.core.local.resnet import supported_num_layers

        hp = self.state.suggested
        values = {**self._suggestions(), **self.state.overrides, "tune_jobs": str(self.state.tune_jobs)}
        yield StepBar("Settings")
        with Vertical(classes="body"):
            lead = "Suggested for your pictures; change what you like. [dim]F1 explains the field you are on.[/]"
            suggested = self._suggestions()
            if any(values[name] != suggested[name] and self.state.last_time.get(name) == values[name] for name in suggested):
                lead = ("Suggested for your pictures, with yours from last time where marked; ctrl+r puts the suggestion "
                        "back in the field you are on. [dim]F1 explains it.[/]")
            if self.state.continue_from:
                lead = (f"Continuing the model of [b]{escape(self.state.continue_from)}[/]: it keeps its network "
                        "(num_layers, image shape). " + lead)
            yield Static(lead, classes="lead")
            with VerticalScroll(id="form", can_focus=False):  # the fields take the focus; the form scrolls to them
                yield Static(self._why(), id="why")
                if self._could_transfer():  # photos on this computer, no pretrained network: offered here
                    with Horizontal(id="pretrained-offer"):
                        yield Button(f"Install ImageNet weights ({self._download_size()})", id="get-pretrained")
                        yield ProgressBar(id="pretrained-progress", show_eta=False)
                for name in BASIC:
                    with Horizontal(classes="field"):
                        yield Label(name, classes="name")
                        yield Input(values[name], id=name)
                        yield Static("", id=f"{name}-yours", classes="yours")
                with Horizontal(classes="field"):
                    yield Label("num_layers", classes="name")
                    # a model that learns on keeps its network: the earlier job's, chosen by the journey
                    depths = [str(n) for n in supported_num_layers(hp.image_shape_tuple[1])]
                    # last time's depth may be for pictures of another size: then the suggested one
                    yield Select([(f"{n} layers", n) for n in depths], allow_blank=False, id="num_layers",
                                 value=values["num_layers"] if values["num_layers"] in depths else str(hp.num_layers),
                                 disabled=bool(self.state.continue_from))
                    yield Static("", id="num_layers-yours", classes="yours")
                for name, options in CHOICES.items():
                    with Horizontal(classes="field"):
                        yield Label(name, classes="name")
                        labels = CHOICE_LABELS.get(name, {})
                        yield Select([(labels.get(o, o), o) for o in options], value=values[name], allow_blank=False, id=name)
                        yield Static("", id=f"{name}-yours", classes="yours")
                with Collapsible(title="Advanced (F1 explains each)", collapsed=True, id="advanced"):
                    for name in ADVANCED:
                        with Horizontal(classes="field"):
                            yield Label(name, classes="name")
                            yield Input(values[name], id=name)
                            yield Static("", id=f"{name}-yours", classes="yours")
                with Horizontal(classes="field"):
                    yield Label("tuning jobs", classes="name")
                    yield Input(values["tune_jobs"], id="tune_jobs")
                    yield Static("", id="tune_jobs-yours", classes="yours")
            yield Static("", id="verdict")
            with Horizontal(classes="buttons"):
                yield Button("Back", id="back")
                yield Button("Start training", variant="primary", id="next")
        yield Footer()

    def on_mount(self) -> None:
        # the fields inside the scrolling form are mounted a moment after the screen itself
        self.call_after_refresh(self._start_checking)

    def _start_checking(self) -> None:
        self._hide_progress()
        self.ready = True
        self.validate_form()
        self.query_one(f"#{BASIC[0]}", Input).focus()  # typing changes the first setting; F1 explains it

    def on_input_changed(self, event: Input.Changed) -> None:
        if not getattr(self, "ready", False):  # fields announce their first value while the form is still being built
            return
        if event.input.id == "epochs":
            self._follow_epochs(event.value)
        self.validate_form()

    def on_select_changed(self, _: Select.Changed) -> None:
        if getattr(self, "ready", False):
            self.validate_form()

    def _schedule_for(self, epochs: str) -> str:
        from sagewiz.core.errors import WizardError
        from sagewiz.core.hyperparams import with_overrides

        waiting = getattr(self, "step_suggestion", self.state.suggested.lr_scheduler_step or "")
        if not epochs.strip():
            return waiting  # epochs is being typed: the schedule waits for a number
        try:
            return with_overrides(self.state.suggested, {"epochs": epochs.strip()}).lr_scheduler_step or ""
        except WizardError:  # not a number of epochs: the schedule waits for one
            return waiting

    def _follow_epochs(self, epochs: str) -> None:
        """An lr_scheduler_step the user has not touched shows the schedule that follows the new epochs."""
        schedule = self._schedule_for(epochs)
        field = self.query_one("#lr_scheduler_step", Input)
        if field.value.strip() == self.step_suggestion:
            field.value = schedule
        self.step_suggestion = schedule

    def _why(self) -> str:
        """Why the suggested settings suit these pictures, above the fields (it scrolls with them)."""
        from sagewiz.core.suggestions import suggestion_reasons

        if self.state.report is None or self.state.continue_from:  # an earlier model's network was not chosen for these
            return ""
        device = "cuda" if self.state.backend == "aws" else "cpu"
        said = suggestion_reasons(self.state.report, self.state.suggested, device, backend=self.state.backend)
        return "[dim]" + escape(" ".join(said)) + "[/]"

    def _could_transfer(self) -> bool:
        """Photographs, on this computer, with no pretrained network for the suggested depth installed."""
        from sagewiz.core.suggestions import pretrained_at_hand
        from sagewiz.core.suggestions import photographs

        report = self.state.report
        size = (report.width_range[0], report.height_range[0]) if report and report.width_range and report.height_range else None
        return (self.state.backend == "local" and not self.state.continue_from and photographs(size)
                and not pretrained_at_hand("local"))

    @staticmethod
    def _download_size() -> str:
        from sagewiz.core.disk import size_text
        from sagewiz.core.model.download import zoo_file
        from sagewiz.core.suggestions import TRANSFER_DEPTH

        return size_text(zoo_file(TRANSFER_DEPTH).size)

    def _hide_progress(self) -> None:
        if self.query("#pretrained-progress"):
            self.query_one("#pretrained-progress").display = False

    @in_background(exclusive=True)
    def install_pretrained(self) -> None:
        """Download ImageNet's ResNet-18 into the pretrained store; then the suggestion is made again."""
        from sagewiz.core.errors import WizardError
        from sagewiz.core.model.pretrained import download_pretrained
        from sagewiz.core.suggestions import TRANSFER_DEPTH

        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self.query_one("#pretrained-progress", ProgressBar).update, total=max(total, 1), progress=done)

        try:
            network = download_pretrained(TRANSFER_DEPTH, progress=progress)
        except WizardError as error:
            self.app.call_from_thread(self._install_failed, error)
            return
        self.app.call_from_thread(self._installed, network)

    def _install_failed(self, error) -> None:
        from sagewiz.tui.words import error_text

        self.query_one("#pretrained-progress").display = False
        self.query_one("#get-pretrained", Button).disabled = False
        self.query_one("#why", Static).update(error_text(error) + "\n[dim]Or add a file you have: "
                                              "`sagewiz pretrained add resnet18-v2-7.onnx`, then come back to this step.[/]")

    async def _installed(self, network) -> None:
        """The suggestion again, now with transfer learning; what the user typed stays theirs."""
        from sagewiz.core.suggestions import suggest_for

        self.state.suggested = suggest_for(self.state.report, prepared=self.state.packed, backend=self.state.backend)
        self.step_suggestion = self._schedule_for(str(self.state.suggested.epochs))
        self.ready = False
        await self.recompose()
        self.call_after_refresh(self._start_checking)
        self.notify(f"Installed: {network.source}. The suggested settings now start from it (use_pretrained_model=1).",
                    title="Transfer learning", timeout=10)

    def _suggestions(self) -> dict[str, str]:
        """What each field holds when it is left as suggested (the Advanced ones: SageMaker's default, "" when it decides)."""
        hp = self.state.suggested
        suggested = {**{name: _default_text(name) for name in ADVANCED}, **hp.to_sagemaker()}
        fields = {name: suggested.get(name, "") for name in BASIC + ADVANCED}
        fields["lr_scheduler_step"] = self.step_suggestion
        fields["num_layers"] = str(hp.num_layers)
        fields.update({name: suggested.get(name, options[0]) for name, options in CHOICES.items()})
        return {**fields, "tune_jobs": "0"}

    def _typed(self) -> dict[str, str]:
        values = {name: self.query_one(f"#{name}", Input).value.strip() for name in (*BASIC, *ADVANCED, "tune_jobs")}
        for name in ("num_layers", *CHOICES):
            values[name] = str(self.query_one(f"#{name}", Select).value)
        return values

    def _overrides(self) -> dict[str, str]:
        suggested = self._suggestions()
        values = self._typed()
        del values["tune_jobs"]
        if self.state.continue_from:
            del values["num_layers"]
        changed = {k: v for k, v in values.items() if v != suggested[k]}
        if changed.get("augmentation_type") == "none":
            changed.pop("augmentation_type")
        return changed  # an emptied field: SageMaker's default (core's with_overrides), not the suggestion

    def _mark_yours(self) -> None:
        """Beside each field that isn't the suggestion: whose value it is, and what was suggested."""
        suggested = self._suggestions()
        for name, value in self._typed().items():
            note = "" if value == suggested[name] else self.state.yours(name, value, suggested[name])
            self.query_one(f"#{name}-yours", Static).update(note)

    def validate_form(self) -> bool:
        from sagewiz.core.errors import WizardError
        from sagewiz.core.hyperparams import allowed, warnings, with_overrides

        verdict = self.query_one("#verdict", Static)
        self._mark_yours()
        overrides = self._overrides()
        blank = next((name for name in BASIC if overrides.get(name) == ""), None)
        if blank:  # only an Advanced setting may be left to SageMaker's default
            verdict.update(f"[b red]{blank} needs a value: {allowed(blank)} (suggested {self._suggestions()[blank]}).[/]")
            self.query_one("#next", Button).disabled = True
            return False
        try:
            hp = with_overrides(self.state.suggested, overrides)
            tune = int(self.query_one("#tune_jobs", Input).value or 0)
            if not 0 <= tune <= 50:
                raise ValueError
        except WizardError as error:
            verdict.update(f"[b red]{escape(error.message)}[/]")
            self.query_one("#next", Button).disabled = True
            return False
        except ValueError:
            verdict.update("[b red]tuning jobs must be a whole number from 0 (no tuning) to 50.[/]")
            self.query_one("#next", Button).disabled = True
            return False
        from sagewiz.core.backends import refused_settings

        refused = refused_settings(hp, self.state.backend)
        if refused:  # accepted by the algorithm's rules, refused where it would run: said before anything starts
            verdict.update("\n".join(f"[b red]{escape(message)}[/]" for _, message in refused))
            self.query_one("#next", Button).disabled = True
            return False
        if self.state.backend == "aws":
            notes = [self._aws_estimate(hp, tune)]
            device = "cuda"
        elif pace_unknown(hp):  # pictures of another size than the Where step measured: this computer's pace first
            notes = [f"[dim]{MEASURING}[/]"]
            device = "cpu"
            self._measure(hp)
        else:
            notes = [f"About {duration(estimate_minutes(hp) * (1 + tune))} of training on this computer, free."]
            device = "cpu"
        notes += [f"[yellow]•[/] {escape(w)}" for w in warnings(hp, device=device)]
        verdict.update("\n".join(notes))
        self.query_one("#next", Button).disabled = False
        return True

    def _measure(self, hp) -> None:
        if not getattr(self, "measuring", False):
            self.measuring = True
            self._measure_in_background(hp)

    @in_background(group="pace")
    def _measure_in_background(self, hp) -> None:
        from sagewiz.core.estimates import measure_pace

        measure_pace(hp)
        self.app.call_from_thread(self._measured)

    def _measured(self) -> None:
        self.measuring = False
        if self.is_attached:  # not if the user went back or on meanwhile
            self.validate_form()  # the estimate, now at this computer's pace

    def _aws_estimate(self, hp, tune: int) -> str:
        instance = self.state.training_instance or "a GPU instance"
        minutes = estimate_aws_minutes(hp, instance) * (1 + tune)
        text = f"Roughly {duration(minutes)} of training on {instance} in {self.state.region}"
        if self.state.training_price is not None:
            text += f", about ${minutes / 60 * self.state.training_price:.2f} at ${self.state.training_price:.3f}/h"
        return text + " (billed per second; the endpoint for the test is chosen, and priced, after training)."

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "get-pretrained":
            event.button.disabled = True
            self.query_one("#pretrained-progress").display = True
            self.query_one("#why", Static).update("[dim]Downloading ImageNet's ResNet-18 (the ONNX model zoo's, checked by "
                                                  "its SHA-256) …[/]")
            self.install_pretrained()
        elif event.button.id == "back":
            self.action_back()
        elif event.button.id == "next" and self.validate_form():
            self.state.overrides = self._overrides()
            self.state.tune_jobs = int(self.query_one("#tune_jobs", Input).value or 0)
            self.dismiss("next")

    def action_back(self) -> None:
        self.dismiss("back")

    def action_use_suggestion(self) -> None:
        """Put the suggested value back in the field under the cursor (a value from last time, or one typed now)."""
        name = getattr(self.focused, "id", None) or ""
        suggestion = self._suggestions().get(name)
        if suggestion is None:
            self.notify("Tab to a field (or click it), then press ctrl+r to put its suggested value back.", timeout=8)
        else:
            self.focused.value = suggestion  # an Input's text or a Select's choice: the form checks it again

    def action_explain(self) -> None:
        from sagewiz.core.hyperparams import Hyperparameters

        focused = self.focused
        name = getattr(focused, "id", None)
        field = Hyperparameters.model_fields.get(name or "")
        if field is not None:
            self.notify(field.description or name, title=name, timeout=12)
        elif name == "tune_jobs":
            self.notify("Also run a tuning job of this many training jobs, each with other settings, and keep the best model.",
                        title="tuning jobs", timeout=12)
        else:
            self.notify("Tab to a field (or click it), then press F1 to learn what it does.", timeout=8)

"""Step 6: the trained model gets an endpoint. Choose where it runs (with its price), whether it
stays up after the test, then watch it come up (to InService on SageMaker) and answer every test
picture. The work is :func:`sagewiz.core.journey.deploy_and_test`, the second half of what
``sagewiz run`` does; for a model trained on SageMaker, "this computer (free)" is
:func:`sagewiz.core.journey.test_here` instead: the model is downloaded and its endpoint runs here."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Label, ProgressBar, RichLog, Select, Static

from sagewiz.tui.background import in_background, tell
from sagewiz.tui.hosting import endpoint_choices, here_cost, hosting_label, tested_here
from sagewiz.tui.screens.common import StepBar, StepList, journey_listener, ready_to_go_on
from sagewiz.tui.words import error_text

STEP_NAMES = {"download": "Download the model", "deploy": "Start the endpoint", "evaluate": "Test on the test pictures", "clean up": "Delete the endpoint"}


class DeployScreen(Screen[str]):
    """Dismisses with "next" (``state.summary`` holds the test results) or "back" (to settings)."""

    BINDINGS = [("escape", "back", "Back")]

    def __init__(self, state):
        super().__init__()
        self.state = state
        self.trained = state.trained
        self.options = endpoint_choices(self.trained, state.backend)
        self.model_size: int | None = None  # bytes the model is to download to be tested here, once S3 said
        self.running = False
        self.ready = False

    def compose(self) -> ComposeResult:
        accuracy = self.trained.validation_accuracy
        model = escape(self.trained.summary.get("model_from", ""))
        yield StepBar("Deploy & test")
        with Vertical(classes="body"):
            yield Static(f"The model of [b]{model}[/]"
                         + (f" (validation accuracy [b]{accuracy:.3f}[/])" if accuracy is not None else "")
                         + f" is ready. An endpoint will answer the {len(self.trained.test_images)} test pictures;"
                           " you can keep it to ask it about your own.", classes="lead")
            chosen = self.state.endpoint_instance if self.state.endpoint_instance in [o.instance_type for o in self.options] else None
            with Horizontal(classes="field", id="where"):
                yield Label("endpoint on", classes="name")
                yield Select([(hosting_label(o, self.state.backend), o.instance_type) for o in self.options],
                             value=chosen or self.options[0].instance_type, allow_blank=False, id="instance")
            yield Checkbox("Keep the endpoint running after the test (to try your own pictures)", self.state.keep_endpoint, id="keep")
            yield Static("", id="cost")
            with Horizontal(id="deploy-top"):
                yield StepList(STEP_NAMES, id="steps")
                yield ProgressBar(id="progress", show_eta=False)
            yield RichLog(id="log", max_lines=500, wrap=True, markup=True)
            with Horizontal(classes="buttons"):
                yield Button("Back to settings", id="back")
                yield Button("Deploy and test", variant="primary", id="deploy")
                yield Button("Next: results", variant="primary", id="next", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(self._start)  # nested widgets mount a moment after the screen

    def _start(self) -> None:
        self.query_one("#progress").display = False
        self.query_one("#log").display = False
        self.show_cost()
        self.render_steps()
        self.ready = True
        if any(tested_here(o.instance_type, self.state.backend) for o in self.options):
            self.look_up_model_size()

    @in_background(group="model-size")  # beside the deploy worker, which must not cancel it or be cancelled
    def look_up_model_size(self) -> None:
        """The size of the SageMaker model, for the cost line of testing it here: known before anything is downloaded."""
        from sagewiz.core.aws.download import model_size
        from sagewiz.core.backends import open_backend
        from sagewiz.core.errors import WizardError

        try:
            size = model_size(open_backend("aws", region=self.state.region or None).session, self.trained.model_uri)
        except WizardError:
            return  # the line says "downloaded once" without a size; the download itself says what is wrong
        tell(self, self.know_model_size, size)  # unless the step was left meanwhile

    def know_model_size(self, size: int) -> None:
        self.model_size = size
        if not self.running:
            self.show_cost()

    def on_select_changed(self, _: Select.Changed) -> None:
        if self.ready:  # the list announces its first value while the screen is still being built
            self.show_cost()
            self.render_steps()

    def on_checkbox_changed(self, _: Checkbox.Changed) -> None:
        if self.ready:
            self.show_cost()
            self.render_steps()

    def _chosen(self):
        kind = self.query_one("#instance", Select).value
        return next(o for o in self.options if o.instance_type == kind)

    def show_cost(self) -> None:
        option, keep = self._chosen(), self.query_one("#keep", Checkbox).value
        here = tested_here(option.instance_type, self.state.backend)
        self.query_one("#deploy", Button).label = "Test here" if here else "Deploy and test"
        if here:
            text = here_cost(self.trained, self.model_size)  # kept or not: the box above and the steps below say
        elif self.state.backend != "aws":
            text = "Free: the endpoint is a small web server on this computer (127.0.0.1 only)."
        elif option.price_per_hour is None:
            text = "The price of this type is unknown here: look it up on the SageMaker pricing page."
        else:
            text = f"${option.price_per_hour:.3f} per hour while the endpoint runs (billed per second)"
            text += (": until you delete it on the clean-up step." if keep else
                     "; it is deleted right after the test, a few minutes in all.")
            if self.query_one("#keep").display and any(tested_here(o.instance_type, self.state.backend) for o in self.options):
                text += " [dim]Or test it free on this computer (last in the list).[/]"
        if self.state.backend == "aws" and not here and not self.query_one("#keep").display:  # folded away: say what was chosen
            text = f"On [b]{escape(option.instance_type)}[/]: {text[0].lower()}{text[1:]}"
        self.query_one("#cost", Static).update(text)

    def show_choices(self, shown: bool) -> None:
        """The choice of endpoint while it can be made; folded away while the endpoint is started and
        tested (it can't be changed then), so that the log has room at 80x24."""
        self.query_one("#where").display = self.query_one("#keep").display = shown

    def render_steps(self) -> None:
        """Afresh: with the clean-up step unless the endpoint is to be kept, with the download when tested here."""
        hidden = {"clean up"} if self.query_one("#keep", Checkbox).value else set()
        if not tested_here(self._chosen().instance_type, self.state.backend):
            hidden.add("download")
        self.query_one(StepList).restart(hidden=hidden)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "deploy":
            self.start()
        elif event.button.id == "back":
            self.action_back()
        else:
            self.dismiss("next")

    def action_back(self) -> None:
        if self.running:  # leaving now would leave an endpoint the user never saw the end of
            self.notify("The endpoint is being started and tested; this step can be left once that ends.")
        else:
            self.dismiss("back")

    def start(self) -> None:
        instance, keep = self._chosen().instance_type, self.query_one("#keep", Checkbox).value
        self.state.endpoint_instance, self.state.keep_endpoint = instance, keep
        self.running = True
        self.show_choices(False)
        self.render_steps()
        self.show_cost()  # in place of what went wrong the last time
        for widget in ("#deploy", "#back", "#instance", "#keep"):
            self.query_one(widget).disabled = True
        self.query_one("#log").display = True
        self.deploy(instance, keep)

    @in_background(exclusive=True)
    def deploy(self, instance: str, keep: bool) -> None:
        from sagewiz.core.backends import open_backend
        from sagewiz.core.errors import WizardError
        from sagewiz.core.journey import deploy_and_test, test_here
        from sagewiz.core.ledger import Ledger

        state = self.state
        here = tested_here(instance, state.backend)
        try:
            with Ledger() as ledger:
                run = ledger.get_run(state.run_id) if state.run_id else None
                # "test_here" as `sagewiz run --test-here` keeps it, so a resumed run stays free
                answers = {**run.answers, "endpoint_instance": instance, "keep_endpoint": keep, "test_here": here} if run else None
                backend = open_backend(state.backend, ledger=ledger, region=state.region or None)
                listen = journey_listener(self, ledger, run, answers)
                if here:
                    summary = test_here(backend, self.trained, listen, keep_endpoint=keep, local=open_backend("local", ledger=ledger))
                else:
                    summary = deploy_and_test(backend, self.trained, listen, endpoint_instance=instance, keep_endpoint=keep)
                if run:
                    ledger.finish_run(run.id)
        except WizardError as error:
            self.app.call_from_thread(self.failed, error)
            return
        self.app.call_from_thread(self.finished, summary)

    def show_event(self, event) -> None:
        log = self.query_one("#log", RichLog)
        if event.kind == "step":
            self.query_one(StepList).begin(event.step)
            self.query_one("#progress").display = False
            log.write(f"[b cyan]▸ {escape(event.text)}[/]")
        elif event.kind == "progress":
            bar = self.query_one("#progress", ProgressBar)
            bar.display = True
            bar.update(total=max(event.data["total"], 1), progress=event.data["done"])
        elif event.kind == "note" and event.text:  # the endpoint's way to InService
            log.write(f"[yellow]•[/] {escape(event.text)}")
        elif event.kind == "done" and event.text:
            log.write(f"[green]✓[/] {escape(event.text)}")

    def failed(self, error) -> None:
        """Say why; the choice can be changed and tried again (what exists is reused, not duplicated)."""
        self.running = False
        self.query_one("#log", RichLog).write(error_text(error))
        self.show_choices(True)  # to be changed before trying again
        self.query_one("#cost", Static).update(error_text(error))  # in view however small the terminal (the log may not be)
        for widget in ("#deploy", "#back", "#instance", "#keep"):
            self.query_one(widget).disabled = False
        self.query_one("#deploy", Button).label = "Try again"

    def finished(self, summary: dict) -> None:
        self.running = False
        self.state.summary = summary
        self.state.save()  # the endpoint choice is next run's default
        self.query_one(StepList).begin("")
        self.query_one("#cost", Static).update(_outcome(summary))
        self.query_one("#back", Button).disabled = False
        ready_to_go_on(self)


def _outcome(summary: dict) -> str:
    """How the test went and where the endpoint is now, in a line or two."""
    evaluation, endpoint = summary.get("evaluation") or {}, summary.get("endpoint") or {}
    right = round(evaluation.get("accuracy", 0) * evaluation.get("evaluated", 0))
    text = (f"[b green]Tested.[/] {right:,} of {evaluation.get('evaluated', 0):,} test pictures right: "
            f"accuracy {evaluation.get('accuracy', 0):.3f}. ")
    if endpoint.get("deleted"):
        return text + "The endpoint was deleted. Next: the results."
    where = " on this computer (free)" if endpoint.get("backend") == "local" and summary.get("backend") == "aws" else ""
    return text + f"The endpoint [b]{escape(endpoint.get('name', ''))}[/] is still running{where}, to ask about your pictures."

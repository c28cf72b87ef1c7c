"""Step 3b (AWS): what sagewiz will create in the account — a private bucket and a role for
SageMaker — with every protection spelled out, and one confirmation. Creating is idempotent:
coming back here later finds both and changes nothing."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from sagewiz.tui.background import in_background
from sagewiz.tui.screens.common import StepBar
from sagewiz.tui.words import error_text


class StorageScreen(Screen[str]):
    """Dismisses with "next" once the bucket and role exist, or "back"."""

    BINDINGS = [("escape", "back", "Back")]

    def __init__(self, state, identity=None):
        super().__init__()
        self.state = state
        self.ready = False
        self.identity = identity  # already known (screenshots): not asked of AWS again

    def compose(self) -> ComposeResult:
        yield StepBar("Where")
        with Vertical(classes="body"):
            yield Static(f"Private storage in [b]{escape(self.state.region)}[/]", classes="lead")
            yield Static("Finding out who you are signed in as …", id="identity")
            yield Static("", id="plan")
            yield Static("", id="verdict")
            with Horizontal(classes="buttons"):
                yield Button("Back", id="back")
                yield Button("Create them", variant="primary", id="create", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        if self.identity is not None:
            self.call_after_refresh(lambda: self._planned(*self._plan(self.identity)))
        else:
            self.who()

    @in_background(exclusive=True)
    def who(self) -> None:
        from sagewiz.core.backends import open_backend
        from sagewiz.core.errors import WizardError

        try:
            identity = open_backend("aws", region=self.state.region).session.identity
        except WizardError as error:
            self.app.call_from_thread(self.query_one("#identity", Static).update, error_text(error))
            return
        self.app.call_from_thread(self._planned, *self._plan(identity))

    def _plan(self, identity) -> tuple[str, str]:
        from sagewiz.core.aws.bucket import PROTECTIONS, bucket_name
        from sagewiz.core.aws.role import role_name

        bucket, role = bucket_name(identity.account, self.state.region), role_name(self.state.region)
        plan = "\n".join(["sagewiz will create (or reuse):",
                          f"  • the S3 bucket [b]{bucket}[/], for your pictures and models:",
                          *[f"      – {p}" for p in PROTECTIONS],
                          f"  • the IAM role [b]{role}[/], which SageMaker uses to read that bucket, write its logs and "
                          "pull the algorithm's image — nothing else.",
                          "Both are free; training and endpoints are billed only while they run."])
        return f"Signed in to account [b]{identity.account}[/] as {escape(identity.arn)}", plan

    def _planned(self, who: str, plan: str) -> None:
        self.query_one("#identity", Static).update(who)
        self.query_one("#plan", Static).update(plan)
        button = self.query_one("#create", Button)
        button.disabled = False
        button.focus()

    @in_background(exclusive=True)
    def create(self) -> None:
        from sagewiz.core.backends import open_backend
        from sagewiz.core.errors import WizardError
        from sagewiz.core.ledger import Ledger

        try:
            with Ledger() as ledger:
                backend = open_backend("aws", ledger=ledger, region=self.state.region)
                storage = backend.ensure_storage(self.state.region)
        except WizardError as error:
            self.app.call_from_thread(self._done, error_text(error), False)
            return
        lines = [f"[green]✓[/] {escape(storage.uri)}", *[f"    • {escape(p)}" for p in storage.protections],
                 f"[green]✓[/] {escape(backend.role_arn or '')}"]
        self.app.call_from_thread(self._done, "\n".join(lines), True)

    def _done(self, text: str, ok: bool) -> None:
        self.query_one("#verdict", Static).update(text)
        button = self.query_one("#create", Button)
        self.ready = ok
        button.label = "Next" if ok else "Try again"
        button.disabled = False
        button.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "back":
            self.dismiss("back")
        elif self.ready:
            self.dismiss("next")
        else:
            event.button.disabled = True
            self.query_one("#verdict", Static).update("Creating …")
            self.create()

    def action_back(self) -> None:
        self.dismiss("back")

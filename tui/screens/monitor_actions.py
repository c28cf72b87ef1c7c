"""What the monitor's keys do to a thing that bills: stop a job (s), delete an endpoint (d), stop a
notebook instance (n). Each is planned first (core/monitor/actions.py: it may read, never changes
anything), then asked in a confirmation that names what stops billing, then carried out; the
monitor refreshes at once after, so the row shows it stopping.

Shared by the list and the detail screens through :class:`ActsOnItems`."""

from __future__ import annotations

from sagewiz.core.monitor.actions import STOPPABLE_JOBS, STOPPABLE_NOTEBOOKS
from sagewiz.core.monitor.model import ENDPOINT, NOTEBOOK, TRAINING, TUNING, Item
from sagewiz.tui.background import in_background, tell


def allowed(action: str, item: Item | None) -> bool:
    """Whether the key for ``action`` applies to ``item`` (it is in the footer only then)."""
    if item is None:
        return False
    if action == "stop":
        return item.kind in (TRAINING, TUNING) and item.status in STOPPABLE_JOBS
    if action == "delete":
        return item.kind == ENDPOINT and item.status != "Deleting"
    if action == "stop_notebook":
        return item.kind == NOTEBOOK and item.status in STOPPABLE_NOTEBOOKS
    if action == "ask":
        from sagewiz.core.monitor.ask import can_be_asked

        return can_be_asked(item)
    return True


class ActsOnItems:
    """For a screen whose ``home`` is the monitor's list screen (it owns the Monitor and its
    refreshes): :meth:`act_on` plans, asks, carries out and says what was done."""

    home = None

    def act_on(self, item: Item) -> None:
        self.notify(f"Looking at what that means for {item.name} …", timeout=3)
        self._plan_action(item)

    @in_background(group="monitor-action")
    def _plan_action(self, item: Item) -> None:
        from sagewiz.core.errors import WizardError
        from sagewiz.core.monitor import plan

        try:
            action = plan(item, self.home.monitor)
        except WizardError as error:
            tell(self, self.action_refused, error)
            return
        tell(self, self._confirm_action, action)

    def _confirm_action(self, action) -> None:
        from sagewiz.tui.screens.common import ConfirmScreen

        label = "Delete it" if action.verb == "delete" else "Stop it"
        self.app.push_screen(ConfirmScreen(action.question, label), lambda yes: self._carry_out_action(action) if yes else None)

    @in_background(group="monitor-action")
    def _carry_out_action(self, action) -> None:
        from sagewiz.core.errors import WizardError
        from sagewiz.core.monitor import carry_out

        try:
            said = carry_out(action, self.home.monitor)
        except WizardError as error:
            tell(self, self.action_refused, error)
            return
        tell(self, self._action_done, said)

    def action_refused(self, error) -> None:
        from sagewiz.tui.words import error_text

        self.notify(error_text(error), severity="warning", timeout=15)

    def _action_done(self, said: str) -> None:
        self.notify(said, timeout=10)
        self.home.refresh_now()

    def ask_about_a_picture(self, item: Item) -> None:
        from sagewiz.tui.screens.monitor_ask import AskScreen

        self.app.push_screen(AskScreen(item, self.home.monitor))

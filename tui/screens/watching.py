"""What the Train and Tune steps share: a job that runs for minutes while the screen watches it.
The ``#outcome`` line counts the time (and, on AWS, the money) while it runs; ``s`` stops it
after a confirmation, and is in the footer only while there is a job to stop. Leaving the screen
or the app doesn't stop the job: it runs in its own process (or on SageMaker)."""

from __future__ import annotations

import time

from textual.screen import Screen
from textual.widgets import Button, RichLog, Static

from sagewiz.tui.background import in_background
from sagewiz.tui.screens.common import ConfirmScreen
from sagewiz.tui.words import error_text


class JobScreen(Screen[str]):
    """A screen with a ``#stop`` button, an ``#outcome`` line (and a ``#log`` for
    :meth:`show_error`, unless it is overridden); subclasses say what
    the job is and how it stops."""

    doing = "Running"  # "Training", "Tuning": the clock line's first word
    stop_hint = "s stops it"

    def __init__(self, state):
        super().__init__()
        self.state = state
        self.job = ""  # the job while it runs: what "Stop" stops
        self.stop_asked = False  # the user stopped it: its end is no surprise
        self.started = 0.0

    def follow_job(self, job: str, since: float | None = None) -> None:
        """``job`` started (at ``since``, epoch seconds, when it is known: a resumed job is older
        than this screen), or ("") the step ended: the stop button and the clock follow it, and
        what the terminal says if the wizard closes meanwhile (the app prints ``farewell``)."""
        previous, self.job = self.job, job
        self.app.farewell = f"The {self.doing.lower()} job {job} goes on without the wizard. {self.how_to_come_back(job)}" if job else ""
        self.refresh_bindings()
        stop = self.query_one("#stop", Button)
        stop.disabled = not job
        stop.display = bool(job)  # only while a job runs: nothing to stop before or after
        if job:
            self.started = since or (self.started if previous == job else time.time())
            if previous != job:
                self._tick()
            else:  # the clock is going already for this one: it reads the new start at once
                self._show_clock()

    def how_to_come_back(self, job: str) -> str:
        """What the terminal says after the wizard closed while ``job`` ran."""
        return "Run `sagewiz` again to pick the run up where it is."

    def so_far(self) -> str:
        """What the clock line adds after the time (the trials done, …)."""
        return ""

    def _tick(self) -> None:
        if not self.job:
            return
        self._show_clock()
        self.set_timer(1.0, self._tick)

    def _show_clock(self) -> None:
        seconds = max(0.0, time.time() - self.started)
        text = f"{self.doing} {self.job}: {int(seconds // 60)}m {int(seconds % 60):02d}s{self.so_far()}"
        if self.state.backend == "aws" and self.state.training_price is not None:
            # one machine at a time (tuning runs its trials one after another): elapsed × price
            text += f", about ${seconds / 3600 * self.state.training_price:.2f} so far"
        elif self.state.backend != "aws":
            text += ", free"
        pace = self.pace(seconds)
        self.query_one("#outcome", Static).update(f"{text}.{' ' + pace + '.' if pace else ''}  [dim]({self.stop_hint})[/]")

    def pace(self, seconds: float) -> str:
        """After the clock: how the job keeps up with what was estimated, if worth saying ("" if not)."""
        return ""

    def check_action(self, action: str, parameters) -> bool | None:
        # "s" is in the footer only while there is a job to stop
        return bool(self.job) if action == "stop" else True

    def stop_question(self, job: str) -> str:
        return f"Stop {job}?"

    def action_stop(self) -> None:
        if not self.job:
            return
        job = self.job
        self.app.push_screen(ConfirmScreen(self.stop_question(job), "Stop it"), lambda yes: self.stop_job(job) if yes else None)

    @in_background()
    def stop_job(self, job: str) -> None:
        from sagewiz.core.backends import open_backend
        from sagewiz.core.errors import WizardError
        from sagewiz.core.ledger import Ledger

        self.stop_asked = True
        self.app.call_from_thread(self.notify, f"Stopping {job} …")
        try:
            with Ledger() as ledger:
                self.stop(open_backend(self.state.backend, ledger=ledger, region=self.state.region or None), job)
        except WizardError as error:
            self.app.call_from_thread(self.show_error, error)

    def show_error(self, error) -> None:
        """A stop that failed: what happened and what to do."""
        self.query_one("#log", RichLog).write(error_text(error))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "stop":
            self.action_stop()
        else:  # back, next
            self.dismiss(event.button.id)

    def stop(self, backend, job: str) -> None:
        """Ask ``backend`` to stop ``job``; the watching worker sees it end."""
        raise NotImplementedError

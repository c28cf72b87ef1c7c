"""``sagewiz monitor`` on a terminal: the full-screen monitor. Everything SageMaker (or the local
backend) runs and what it costs, live (tui/screens/monitor.py); ``sagewiz monitor JOB`` opens on
that job's detail, with the list a key away (Esc).

The same factory builds the app for the console script and for the tests: it is handed a
:class:`Monitor` (and, for pictures that don't change, a clock).
"""

from __future__ import annotations

import time
from typing import Callable

from textual.app import App

from sagewiz.core.monitor.model import TRAINING, Item


class MonitorApp(App[None]):
    CSS_PATH = "wizard.tcss"
    TITLE = "sagewiz monitor"
    BINDINGS = [("ctrl+q", "quit", "Quit"), ("ctrl+t", "toggle_theme", "Light/dark")]

    def __init__(self, monitor, *, job: str | None = None, job_region: str | None = None,
                 clock: Callable[[], float] = time.time, log_poll_s: float | None = None):
        super().__init__()
        self.monitor, self.job, self.job_region = monitor, job, job_region
        self.clock, self.log_poll_s = clock, log_poll_s

    def on_mount(self) -> None:
        from sagewiz.tui.screens.monitor import MonitorScreen

        home = MonitorScreen(self.monitor, clock=self.clock, log_poll_s=self.log_poll_s)
        self.push_screen(home, lambda _: self.exit())
        if self.job:
            from sagewiz.tui.screens.monitor_job import MonitorJobScreen

            self.push_screen(MonitorJobScreen(home, self.job_item()))

    def job_item(self) -> Item:
        """The job named on the command line, until the monitor's first snapshot says more of it
        (one finished long ago is described all the same)."""
        region = "local" if self.monitor.backend == "local" else self.job_region or self.monitor.session.region
        return Item(name=self.job, kind=TRAINING, status="", region=region, backend=self.monitor.backend)

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def _fatal_error(self) -> None:
        from sagewiz.tui.background import say_fatal

        if not say_fatal(self, "the monitor", "Run `sagewiz monitor` again; nothing it watched was changed by this."):
            super()._fatal_error()


def run_monitor(backend: str, *, region: str | None = None, profile: str | None = None, all_regions: bool = False,
                live_prices: bool = True, job: str | None = None) -> int:
    """Open the monitor full-screen until the person quits; its exit status."""
    from sagewiz.core.ledger import Ledger
    from sagewiz.core.monitor import Monitor

    with Ledger() as ledger, Monitor(backend, region=region, profile=profile, all_regions=all_regions, ledger=ledger,
                                     live_prices=live_prices) as monitor:
        app = MonitorApp(monitor, job=job, job_region=region)
        app.run()
    return app.return_code or 0

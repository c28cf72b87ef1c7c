"""The wizard: ``sagewiz`` with no arguments. One Textual app walks the steps of the journey.

The app owns the flow (one async worker awaiting each screen in turn); the screens only ask and
show, and hand the work to core/ in thread workers. Importing this module loads neither torch
nor boto3: they come with the step that needs them, so the first screen paints at once.
"""

from __future__ import annotations

import sys

from textual import work
from textual.app import App

from sagewiz.tui.state import WizardState


class SagewizApp(App[None]):
    CSS_PATH = "wizard.tcss"
    TITLE = "sagewiz"
    BINDINGS = [("ctrl+q", "quit", "Quit"), ("ctrl+t", "toggle_theme", "Light/dark")]

    def __init__(self, state: WizardState | None = None, *, unfinished_runs: bool = True):
        super().__init__()
        self.state = state or WizardState.load()
        self.look_for_unfinished = unfinished_runs
        self.farewell = ""  # said on the terminal once the wizard has closed: a job that goes on (tui/screens/watching.py)

    def on_mount(self) -> None:
        self.flow()

    def _fatal_error(self) -> None:
        """A bug in a step's own code (its background work is guarded: tui/background.py). The
        wizard can't go on, and Textual would end on a page of traceback with every local variable;
        a beginner gets what every bug gets instead: the error in a line, that it isn't their fault,
        what to do, and where the traceback went (errors.log). The exit status stays 1."""
        from sagewiz.tui.background import say_fatal

        if not say_fatal(self, "the wizard", "Run sagewiz again: it offers to pick up a run where it stopped."):
            super()._fatal_error()

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def _unfinished(self):
        if not self.look_for_unfinished:
            return None
        from sagewiz.core.errors import WizardError
        from sagewiz.core.ledger import Ledger

        try:
            with Ledger() as ledger:
                runs = ledger.unfinished_runs()
        except WizardError:
            return None
        return runs[0] if runs else None

    def _has_models(self) -> bool:
        """Whether some training job completed: then the welcome offers to continue its model."""
        if not self.look_for_unfinished:
            return False
        from sagewiz.core.errors import WizardError
        from sagewiz.core.ledger import Ledger
        from sagewiz.core.earlier import completed_jobs

        try:
            with Ledger() as ledger:
                return bool(completed_jobs(ledger))
        except WizardError:
            return False

    def _what_runs(self) -> tuple[str, str] | None:
        """(backend, region) of the newest job or endpoint the ledger says still runs, for the
        welcome's offer of the monitor; None when nothing does. Only the ledger is read: the
        welcome paints at once, and the monitor itself asks the backend what is true."""
        if not self.look_for_unfinished:
            return None
        from sagewiz.core.errors import WizardError
        from sagewiz.core.ledger import Ledger

        try:
            with Ledger() as ledger:
                live = ledger.live_resources()
        except WizardError:
            return None
        running = [r for r in live if r.kind in ("training-job", "tuning-job", "endpoint")
                   and r.state in ("creating", "running", "active")]
        return (running[-1].backend, running[-1].region) if running else None

    async def watch_what_runs(self, where: tuple[str, str]) -> None:
        """The monitor, over the welcome, on the backend (and region) where something runs."""
        from sagewiz.core.errors import WizardError
        from sagewiz.core.ledger import Ledger
        from sagewiz.core.monitor import Monitor
        from sagewiz.tui.screens.monitor import MonitorScreen
        from sagewiz.tui.words import error_text

        backend, region = where
        try:
            with Ledger() as ledger, Monitor(backend, region=region or None, ledger=ledger) as monitor:
                await self.push_screen_wait(MonitorScreen(monitor))
        except WizardError as error:
            self.notify(error_text(error), severity="error", timeout=30)

    @work(exclusive=True)
    async def flow(self) -> None:
        from sagewiz.tui.screens.cleanup import CleanupScreen
        from sagewiz.tui.screens.dataset import DatasetScreen
        from sagewiz.tui.screens.deploy import DeployScreen
        from sagewiz.tui.screens.evaluate import EvaluateScreen
        from sagewiz.tui.screens.incremental import IncrementalScreen
        from sagewiz.tui.screens.predict import PredictScreen
        from sagewiz.tui.screens.region import RegionScreen
        from sagewiz.tui.screens.settings import SettingsScreen
        from sagewiz.tui.screens.storage import StorageScreen
        from sagewiz.tui.screens.training import TrainingScreen
        from sagewiz.tui.screens.tuning import TuningScreen
        from sagewiz.tui.screens.welcome import WelcomeScreen

        step = "welcome"
        while step != "done":
            if step == "welcome":
                running = self._what_runs()
                answer = await self.push_screen_wait(WelcomeScreen(self.state, self._unfinished(), self._has_models(), running))
                if answer == "monitor":
                    await self.watch_what_runs(running)
                    continue  # back from the monitor: the welcome again
                if answer == "sample":
                    from sagewiz.core.ledger import default_ledger_path
                    from sagewiz.tui.screens.welcome import SampleFolderScreen

                    folder = await self.push_screen_wait(SampleFolderScreen(str(default_ledger_path().parent / "sample-digits")))
                    if folder is None:
                        continue  # cancelled: the welcome again
                    self.state.data_dir, self.state.report = folder, None
                step = {"resume": "training", "continue": "incremental"}.get(answer, "dataset")
            elif step == "incremental":
                answer = await self.push_screen_wait(IncrementalScreen(self.state))
                step = "dataset" if answer == "next" else "welcome"
            elif step == "dataset":
                answer = await self.push_screen_wait(DatasetScreen(self.state))
                if answer == "next":
                    from sagewiz.core.suggestions import suggest_for

                    # counting the pictures packed on that step: the number the training job gets
                    self.state.suggested = suggest_for(self.state.report, prepared=self.state.packed, backend=self.state.backend)
                    self.state.save()
                step = "region" if answer == "next" else "welcome"
            elif step == "region":
                answer = await self.push_screen_wait(RegionScreen(self.state))
                if answer == "next":
                    from sagewiz.core.suggestions import suggest_for

                    # SageMaker trains on a GPU: the suggestions for it differ from a CPU's
                    self.state.suggested = suggest_for(self.state.report, "cuda" if self.state.backend == "aws" else "cpu",
                                                       prepared=self.state.packed, backend=self.state.backend)
                    self.state.save()
                step = ("storage" if self.state.backend == "aws" else "settings") if answer == "next" else "dataset"
            elif step == "storage":
                answer = await self.push_screen_wait(StorageScreen(self.state))
                step = "settings" if answer == "next" else "region"
            elif step == "settings":
                answer = await self.push_screen_wait(SettingsScreen(self.state))
                if answer == "next":
                    self.state.save()
                step = "training" if answer == "next" else "region"
            elif step == "training":
                self.state.summary = None
                answer = await self.push_screen_wait(TrainingScreen(self.state))
                self.state.resume_run = None
                if answer == "next":  # trained: tuning or its endpoint next; failed or stopped: clean up what was made
                    step = ("tuning" if self.state.tune_jobs else "deploy") if self.state.trained else "cleanup"
                else:
                    step = "settings" if self.state.suggested else "dataset"
            elif step == "tuning":
                answer = await self.push_screen_wait(TuningScreen(self.state))
                step = "deploy" if answer == "next" else "settings" if self.state.suggested else "dataset"
            elif step == "deploy":
                answer = await self.push_screen_wait(DeployScreen(self.state))
                step = "evaluate" if answer == "next" else "settings" if self.state.suggested else "dataset"
            elif step == "evaluate":
                answer = await self.push_screen_wait(EvaluateScreen(self.state))
                kept = not self.state.summary["endpoint"].get("deleted")
                step = ("predict" if kept else "cleanup") if answer == "next" else "deploy"
            elif step == "predict":  # the endpoint was kept: try it before cleaning up
                answer = await self.push_screen_wait(PredictScreen(self.state))
                step = "cleanup" if answer == "next" else "evaluate"
            elif step == "cleanup":
                cleanup = CleanupScreen(self.state)
                answer = await self.push_screen_wait(cleanup)
                step = "done" if answer == "done" else "settings" if self.state.suggested else "welcome"
        self._close(cleanup.resources if step == "done" else [])

    async def action_quit(self) -> None:
        """ctrl+q closes at once, saying (as Done does) what still runs: an endpoint kept for later is
        easily forgotten, and on AWS it bills by the hour. Only the ledger is read (no network), so
        quitting stays immediate."""
        from sagewiz.core.errors import WizardError
        from sagewiz.core.ledger import Ledger

        try:
            with Ledger() as ledger:
                left = ledger.live_resources()
        except WizardError:  # nothing to read it from: quitting is no time to say so
            left = []
        running = any(r.kind == "endpoint" and r.state in ("creating", "active", "running") for r in left)
        self._close(left if running else [])

    def _close(self, left: list) -> None:
        """Close the wizard, saying in the terminal, as plain mode ends, what still runs (an endpoint
        on AWS bills by the hour) and how to delete it: "Done" closed silently while it ran."""
        from rich.text import Text

        from sagewiz.tui.words import left_behind

        lines = left_behind(left)
        self.exit(message=Text.from_markup("\n".join(lines)) if lines else None)


def run_wizard(plain: bool = False) -> int:
    """Open the wizard (``plain``: as questions, tui/plain.py), or say what to do instead where
    there is no terminal to ask in."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("sagewiz's wizard needs a terminal. Without one, run the whole journey with:\n"
              "  sagewiz run --data DIR --yes [--json]\n(see sagewiz run --help)", file=sys.stderr)
        return 2
    if plain:
        from sagewiz.tui.plain import run_plain

        return run_plain()
    from sagewiz.tui.thumbnails import detect_terminal_graphics

    detect_terminal_graphics()  # before the app: once it runs, Textual reads the terminal's answers itself
    app = SagewizApp()
    try:
        app.run()
    finally:
        from sagewiz.core.watchers import stop_watching

        stop_watching()  # the run this wizard walked can be resumed by the next one
    if app.farewell:
        print(app.farewell)
    return app.return_code or 0  # 1 after a bug (said as it closed)


if __name__ == "__main__":
    sys.exit(run_wizard())

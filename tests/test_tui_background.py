"""A step's background work that meets a bug says so: the user is not left before a screen that waits forever."""

from __future__ import annotations

import asyncio

import pytest
from textual.app import App
from textual.widgets._toast import Toast

from pilot_steps import click, wait_for
from sagewiz.core.errors import WizardError
from sagewiz.tui.screens.cleanup import CleanupScreen
from sagewiz.tui.words import shown_path
from sagewiz.tui.state import WizardState


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


class OneStep(App[str]):
    """The wizard's Clean-up step on its own."""

    def __init__(self):
        super().__init__()
        self.answer = None

    def on_mount(self) -> None:
        self.push_screen(CleanupScreen(WizardState(backend="local")), callback=self.answered)

    def answered(self, answer: str) -> None:
        self.answer = answer


def toasts(app) -> str:
    return "\n".join(str(toast.render()) for toast in app.screen.query(Toast))


def test_a_bug_while_listing_what_to_clean_up_is_said_with_where_its_details_are(home, monkeypatch):
    def broken(ledger, backend):
        raise RuntimeError("the list of resources came back as None")

    monkeypatch.setattr("sagewiz.core.backends.live_resources", broken)

    async def story():
        app = OneStep()
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await wait_for(pilot, lambda: "did not expect" in toasts(app), timeout=30, what="the message")
            said = " ".join(toasts(app).split())  # the toast wraps its lines
            assert "RuntimeError: the list of resources came back as None" in said
            assert "not in what you did" in said and "your pictures are untouched" in said
            assert shown_path(home / "errors.log") in said  # as the user writes it: from ~ when under it
            log = (home / "errors.log").read_text()
            assert "in the wizard's CleanupScreen" in log and "Traceback" in log and "came back as None" in log
            await click(pilot, "#back")  # the screen still answers
            await wait_for(pilot, lambda: app.answer == "back", timeout=10)

    asyncio.run(story())


def test_a_wizard_error_a_step_let_through_is_said_with_what_to_do(home, monkeypatch):
    def refused(ledger, backend):
        raise WizardError("The ledger is busy.", title="Ledger busy", hint="Close the other sagewiz and try again.")

    monkeypatch.setattr("sagewiz.core.backends.live_resources", refused)
    monkeypatch.setattr(CleanupScreen, "load", _load_without_catching)

    async def story():
        app = OneStep()
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await wait_for(pilot, lambda: "Ledger busy" in toasts(app), timeout=30, what="the message")
            said = " ".join(toasts(app).split())
            assert "The ledger is busy." in said and "Close the other sagewiz and try again." in said
            assert "did not expect" not in said and not (home / "errors.log").exists()

    asyncio.run(story())


def _load_without_catching(self) -> None:
    """A Clean-up list that forgot to catch WizardError: the guard still shows it as the error it is."""
    from sagewiz.core.backends import live_resources
    from sagewiz.tui.background import in_background

    in_background(exclusive=True)(lambda screen: live_resources(None, "local"))(self)


def test_a_bug_in_a_step_itself_closes_the_wizard_with_a_message_not_a_traceback(home, monkeypatch, capsys):
    """Not in a step's background work but in its own code (here a button's handler): the wizard can't
    go on, so it closes, and says what every bug says instead of Textual's page of traceback and
    local variables; the traceback goes to errors.log and the exit status is 1."""
    from sagewiz.tui.app import SagewizApp
    from sagewiz.tui.screens.welcome import WelcomeScreen

    def broken(screen, event):
        raise KeyError("backend")

    monkeypatch.setattr(WelcomeScreen, "on_button_pressed", broken)

    async def story():
        app = SagewizApp(WizardState(), unfinished_runs=False)
        with pytest.raises(KeyError):  # Pilot hands the app's error on to the test
            async with app.run_test(size=(100, 30)) as pilot:
                await wait_for(pilot, lambda: type(app.screen).__name__ == "WelcomeScreen")
                await pilot.click("#next")
                await pilot.pause(0.5)
        return app

    app = asyncio.run(story())
    said = " ".join(capsys.readouterr().err.split())
    assert app.return_code == 1
    assert "Something sagewiz did not expect" in said and "KeyError: 'backend'" in said
    assert "not in what you did" in said and "Run sagewiz again" in said
    assert shown_path(home / "errors.log") in said
    assert "Traceback" not in said and "locals" not in said and "in broken" not in said
    log = (home / "errors.log").read_text()
    assert "in the wizard's WelcomeScreen" in log and "Traceback" in log and "in broken" in log

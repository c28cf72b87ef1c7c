"""Where `sagewiz monitor` starts: the wizard's welcome offers it while something sagewiz started
still runs; without a terminal plain `sagewiz monitor` prints the snapshot; and the real console
script, full-screen at 80x24 in tmux, against moto holding the tutorial's leftovers."""

from __future__ import annotations

import pytest

from monitor_account import sagemaker, tutorial_account
from pilot_steps import click, wait_for
from sagewiz.core.ledger import Ledger
from test_tui_monitor import aws_env, home  # noqa: F401 - fixtures, shared
from test_tui import run_async, screen_name, text_of
from test_tui_monitor import listed, shown


@run_async
async def test_the_welcome_offers_the_monitor_while_something_sagewiz_started_runs(home):
    from sagewiz.tui.app import SagewizApp
    from sagewiz.tui.state import WizardState

    with Ledger() as ledger:
        job = ledger.intend("local", "training-job", "digits-train", details={"instance_type": "local-cpu"})
        ledger.update(job.id, state="completed")
    quiet = SagewizApp(WizardState(), unfinished_runs=True)
    async with quiet.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: screen_name(quiet) == "WelcomeScreen")
        assert not quiet.screen.query("#monitor")  # nothing runs: nothing to offer
    with Ledger() as ledger:
        endpoint = ledger.intend("local", "endpoint", "digits-endpoint")
        ledger.update(endpoint.id, state="active")
    app = SagewizApp(WizardState(), unfinished_runs=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
        assert "still runs on this computer: m shows it" in text_of(app, "#running-note")
        await click(pilot, "#monitor")
        await listed(pilot)
        assert "digits-train" in shown(app) and "Endpoints (1)" in shown(app)
        await pilot.press("q")
        await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen", what="the welcome again")


def test_without_a_terminal_plain_monitor_prints_the_snapshot_instead(home):
    import subprocess
    import sys
    from pathlib import Path

    with Ledger() as ledger:
        job = ledger.intend("local", "training-job", "digits-train", details={"instance_type": "local-cpu"})
        ledger.update(job.id, state="completed")
    result = subprocess.run([str(Path(sys.executable).with_name("sagewiz")), "monitor"], capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("On this computer: 0 billing now") and "digits-train" in result.stdout


@pytest.mark.skipif(__import__("shutil").which("tmux") is None, reason="tmux is not installed")
def test_the_real_console_script_shows_the_account_full_screen_at_80x24_in_tmux(aws_env, home):
    import os
    import shlex
    import subprocess
    import sys
    import time
    from pathlib import Path

    tutorial_account(sagemaker(aws_env), tuning=False)
    env = {name: os.environ[name] for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                               "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")}
    env["SAGEWIZ_HOME"] = str(home)
    command = " ".join(["env", *(f"{k}={shlex.quote(v)}" for k, v in env.items()),
                        shlex.quote(str(Path(sys.executable).with_name("sagewiz"))), "monitor", "--backend", "aws",
                        "--bundled-prices"])
    session = f"sagewiz-monitor-{os.getpid()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command], check=True)

    def screen_until(words: str, seconds: float = 30) -> str:
        deadline, screen = time.monotonic() + seconds, ""
        while time.monotonic() < deadline and words not in screen:
            time.sleep(0.3)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
        assert words in screen, screen
        return screen

    try:
        screen = screen_until("tutorial-notebook")
        assert "SageMaker in us-east-1" in screen and "$1.52/hour now (4 billing)" in screen
        notebook = next(line for line in screen.splitlines() if "tutorial-notebook" in line).split()
        assert notebook[:2] == ["tutorial-notebook", "InService"] and "$0.046" in notebook
        assert "Endpoints (2)" in screen and "Notebook instances (1)" in screen  # all of it in 24 lines
        subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)  # the first row: the job that bills
        screen_until("Training job notebook-started-training")
        subprocess.run(["tmux", "send-keys", "-t", session, "Escape"], check=True)
        screen_until("Notebook instances (1)")
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        deadline, alive = time.monotonic() + 10, True
        while time.monotonic() < deadline and alive:
            alive = subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode == 0
            time.sleep(0.2)
        assert not alive, "q did not close the monitor"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


@run_async
async def test_all_five_choices_of_the_welcome_fit_at_80_by_24_with_the_monitor_among_them(home):
    """A run to resume, an earlier model to continue and something running: five choices, none cut off."""
    from textual.widgets import Button

    from sagewiz.tui.app import SagewizApp
    from sagewiz.tui.screens.welcome import WelcomeScreen
    from sagewiz.tui.state import WizardState

    with Ledger() as ledger:
        run = ledger.start_run("local", {"data_dir": "/somewhere"})
    app = SagewizApp(WizardState(), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
        app.push_screen(WelcomeScreen(app.state, run, has_models=True, running=("aws", "us-east-1")))
        await wait_for(pilot, lambda: app.screen.query("#monitor"))
        await pilot.pause(0.2)
        buttons = list(app.screen.query(Button))
        assert {b.id for b in buttons} == {"next", "sample", "continue", "resume", "monitor"}
        body = app.screen.query_one(".body").region
        for button in buttons:
            assert body.contains_region(button.region), f"{button.label} is cut off: {button.region} outside {body}"
        assert app.screen.query_one("#running-note").region.bottom <= min(b.region.y for b in buttons)

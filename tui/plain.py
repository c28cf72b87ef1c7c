"""``sagewiz --plain``: the wizard's questions one after another, for terminals where a full-screen
app doesn't fit (screen readers, dumb terminals, narrow ssh windows).

The same steps and the same core calls as the Textual wizard: pick the pictures (or make the
sample), see the check report, accept or change the suggested settings, then train, deploy, test
and clean up with progress printed by rich. Questions go through an :class:`Asker`, so the flow
can be tested without a keyboard.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Protocol

from sagewiz.tui.state import WizardState

BASIC = ("epochs", "learning_rate", "mini_batch_size")


class Asker(Protocol):
    """The three kinds of question the plain mode asks; each returns None when the user gives up (Ctrl-C)."""

    def text(self, message: str, default: str, validate: Callable[[str], bool | str]) -> str | None: ...

    def confirm(self, message: str, default: bool) -> bool | None: ...

    def path(self, message: str, default: str) -> str | None: ...


class QuestionaryAsker:
    """Real questions in the terminal."""

    def text(self, message, default, validate):
        import questionary

        return questionary.text(message, default=default, validate=validate).ask()

    def confirm(self, message, default):
        import questionary

        return questionary.confirm(message, default=default).ask()

    def path(self, message, default):
        import questionary

        return questionary.path(message, default=default, only_directories=True).ask()


def _check(folder: str):
    from sagewiz.core.dataset.scan import count_images, scan_dataset
    from sagewiz.tui.commands.check import print_report
    from sagewiz.tui.console import progress_bar

    with progress_bar("Checking pictures", count_images(folder)) as advance:
        report = scan_dataset(folder, progress=advance)
    print_report(report)
    return report


def _valid_setting(name: str, suggested: dict[str, str]) -> Callable[[str], bool | str]:
    def check(value: str) -> bool | str:
        from sagewiz.core.errors import WizardError
        from sagewiz.core.hyperparams import Hyperparameters

        try:
            Hyperparameters.from_sagemaker({**suggested, name: value.strip()})
        except WizardError as error:
            return error.message
        return True

    return check


def _whole_number(value: str) -> bool | str:
    return value.strip().isdigit() or "a whole number, 0 for no tuning"


def run_plain(ask: Asker | None = None, state: WizardState | None = None) -> int:
    """Ask, then run the journey. Returns the exit code: 0 done, 1 failed, 130 given up."""
    from sagewiz.core.errors import WizardError
    from sagewiz.core.journey import suggest_for
    from sagewiz.tui.console import err_console, print_error

    ask = ask or QuestionaryAsker()
    state = state or WizardState.load()
    err_console.print("[b]sagewiz[/] — from a folder of labelled pictures to a tested classifier, on this computer (free).")
    while True:
        folder = ask.path("Folder with your pictures (leave empty to make a sample of handwritten digits):", state.data_dir)
        if folder is None:
            return 130
        if not folder.strip():
            folder = str(_make_sample())
        folder = str(Path(folder.strip()).expanduser())
        try:
            report = _check(folder)
        except WizardError as error:
            print_error(error)
            continue
        if report.usable:
            break
        err_console.print("[yellow]Fix the problems above, or choose another folder.[/]")
    state.data_dir, state.report = folder, report
    suggested = suggest_for(report).to_sagemaker()
    err_console.print("Suggested settings: " + ", ".join(f"{k}={v}" for k, v in suggested.items()))
    change = ask.confirm("Change any of them?", False)
    if change is None:
        return 130
    overrides: dict[str, str] = {}
    if change:
        for name in BASIC:
            value = ask.text(f"{name}:", state.overrides.get(name, suggested.get(name, "")), _valid_setting(name, suggested))
            if value is None:
                return 130
            if value.strip() != suggested.get(name):
                overrides[name] = value.strip()
    tune = ask.text("Tuning jobs to run after training (0: none):", str(state.tune_jobs), _whole_number)
    if tune is None:
        return 130
    keep = ask.confirm("Keep the endpoint running afterwards?", state.keep_endpoint)
    if keep is None:
        return 130
    state.overrides, state.tune_jobs, state.keep_endpoint = overrides, int(tune), keep
    state.save()
    go = ask.confirm("Train, deploy and test now?", True)
    if not go:
        err_console.print("Nothing was started. Your answers are kept for next time.")
        return 0 if go is not None else 130
    try:
        return _journey(state)
    except WizardError as error:
        print_error(error)
        return 1


def _journey(state: WizardState) -> int:
    from sagewiz.core.backends import open_backend
    from sagewiz.core.journey import JourneyOptions, default_work_dir, run_journey
    from sagewiz.core.ledger import Ledger
    from sagewiz.tui.commands.run import Printer
    from sagewiz.tui.console import err_console

    with Ledger() as ledger:
        run = ledger.start_run(state.backend, {"data_dir": state.data_dir, "hp": state.overrides, "tune": state.tune_jobs,
                                               "keep_endpoint": state.keep_endpoint, "region": ""})
        printer = Printer(err_console, verbose=False)

        def listen(event) -> None:
            printer(event)
            if event.kind == "step":
                ledger.save_progress(run.id, event.step, run.answers)

        summary = run_journey(open_backend(state.backend, ledger=ledger),
                              JourneyOptions(Path(state.data_dir), state.overrides, state.tune_jobs, state.keep_endpoint),
                              run.id, default_work_dir(run.id), listen)
        ledger.finish_run(run.id)
    err_console.print(f"[b green]Test accuracy {summary['test_accuracy']:.3f}[/] on {summary['dataset']['test']} test pictures.")
    if not summary["endpoint"].get("deleted"):
        err_console.print(f"The endpoint is still running at {summary['endpoint']['url']}; `sagewiz cleanup` deletes it.")
    return 0


def _make_sample() -> Path:
    from sagewiz.core.dataset.sample import write_sample_dataset
    from sagewiz.core.ledger import default_ledger_path
    from sagewiz.tui.console import err_console

    folder = default_ledger_path().parent / "sample-digits"
    write_sample_dataset(folder)
    err_console.print(f"Wrote the sample to {folder}")
    return folder


if __name__ == "__main__":
    sys.exit(run_plain())

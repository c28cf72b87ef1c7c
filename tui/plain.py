"""``sagewiz --plain``: the wizard's questions one after another, for terminals where a full-screen
app doesn't fit (screen readers, dumb terminals, narrow ssh windows).

The same steps and the same core calls as the Textual wizard: this computer or AWS (then a checked
region and the private storage), pick the pictures (or make the sample), see the check report,
accept or change the suggested settings, train; then choose where the endpoint runs (with its
price; on AWS also this computer, free) and whether it stays up, test it, and clean up, with
progress printed by rich. Questions go through an :class:`Asker`, so the flow can be tested
without a keyboard.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Protocol

from sagewiz.tui.state import WizardState

BASIC = ("epochs", "learning_rate", "mini_batch_size")


class Asker(Protocol):
    """The kinds of question the plain mode asks; each returns None when the user gives up (Ctrl-C)."""

    def text(self, message: str, default: str, validate: Callable[[str], bool | str]) -> str | None: ...

    def confirm(self, message: str, default: bool) -> bool | None: ...

    def path(self, message: str, default: str) -> str | None: ...

    def select(self, message: str, choices: list[str], default: str) -> str | None: ...


class QuestionaryAsker:
    """Real questions in the terminal."""

    def text(self, message, default, validate):
        import questionary

        return questionary.text(wrapped(message), default=default, validate=validate).ask()

    def confirm(self, message, default):
        import questionary

        return questionary.confirm(wrapped(message), default=default).ask()

    def path(self, message, default):
        import questionary

        return questionary.path(wrapped(message), default=default, only_directories=True).ask()

    def select(self, message, choices, default):
        import questionary

        return questionary.select(wrapped(message), choices=choices, default=default).ask()


def wrapped(message: str, columns: int | None = None) -> str:
    """A question broken between words to fit the terminal. The terminal would break it anywhere
    ('this c' / 'omputer'); room is left for the '? ' before it and the '(y/N)' or answer after."""
    import shutil
    import textwrap

    columns = columns or shutil.get_terminal_size().columns
    return textwrap.fill(message, width=max(30, columns - 12), subsequent_indent="  ")


def _check(folder: str):
    from sagewiz.core.dataset.scan import count_images, scan_dataset
    from sagewiz.tui.commands.check import print_report
    from sagewiz.tui.console import progress_bar

    with progress_bar("Checking pictures", count_images(folder)) as advance:
        report = scan_dataset(folder, progress=advance)
    print_report(report)
    return report


def _names_taken(ask: Asker, report) -> bool | None:
    """Whether the labels may be what the report read (asked only when they come from file names,
    a guess; None: the user gave up)."""
    from sagewiz.core.dataset.labels import what_names_say
    from sagewiz.core.dataset.report import LAYOUT_NAMES

    if report.layout != LAYOUT_NAMES:
        return True
    return ask.confirm(f"There are no class folders: {what_names_say(report)}. Use the file names as labels?", True)


def _valid_setting(name: str, suggested, overrides: dict[str, str]) -> Callable[[str], bool | str]:
    """Checks an answer as training would take it, with the answers before it (empty: the suggestion)."""
    def check(value: str) -> bool | str:
        from sagewiz.core.errors import WizardError
        from sagewiz.core.hyperparams import with_overrides

        try:
            with_overrides(suggested, {**overrides, **({name: value.strip()} if value.strip() else {})})
        except WizardError as error:
            return error.message
        return True

    return check


def _whole_number(value: str) -> bool | str:
    return value.strip().isdigit() or "a whole number, 0 for no tuning"


def run_plain(ask: Asker | None = None, state: WizardState | None = None) -> int:
    """Ask, then run the journey. Returns the exit code: 0 done, 1 failed, 130 given up."""
    from sagewiz.core.errors import WizardError
    from rich.markup import escape

    from sagewiz.core.estimates import MEASURING, measure_pace, pace_unknown
    from sagewiz.core.suggestions import suggest_for, suggestion_reasons
    from sagewiz.tui.console import err_console, print_error

    ask = ask or QuestionaryAsker()
    state = state or WizardState.load()
    err_console.print("[b]sagewiz[/] — from a folder of labelled pictures to a tested classifier, on this computer "
                      "(free) or on AWS SageMaker.")
    resumed = _offer_to_resume(ask)
    if resumed is not None:
        return resumed
    on_aws = ask.confirm("Train on AWS SageMaker (your AWS account, billed per second) instead of this computer?",
                         state.backend == "aws")
    if on_aws is None:
        return 130
    state.backend = "aws" if on_aws else "local"
    if on_aws:
        try:
            answer = _aws_region_and_storage(ask, state)
        except WizardError as error:
            print_error(error)
            return 1
        if answer is not None:
            return answer
    if not _new_or_earlier_model(ask, state):
        return 130
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
            taken = _names_taken(ask, report)
            if taken is None:
                return 130
            if taken:
                break
            err_console.print("[yellow]Then put the pictures in one folder per class (or list them in a labels.csv of "
                              "file,label), or choose another folder.[/]")
            continue
        err_console.print("[yellow]Fix the problems above, or choose another folder.[/]")
    state.data_dir, state.report = folder, report
    device = "cuda" if state.backend == "aws" else "cpu"
    hyperparameters = suggest_for(report, device, backend=state.backend)
    if state.continue_from:  # the earlier model's network, as the journey keeps it (core/earlier.py)
        from sagewiz.core.earlier import KEPT_FROM_EARLIER
        from sagewiz.core.hyperparams import with_overrides

        try:
            network = _kept_network(state, report)
        except WizardError as error:
            print_error(error)
            return 1
        hyperparameters = with_overrides(hyperparameters, network)
        state.overrides = {name: value for name, value in state.overrides.items() if name not in KEPT_FROM_EARLIER}
    if state.backend == "local" and pace_unknown(hyperparameters):  # the time said below is then this computer's
        with err_console.status(MEASURING):
            measure_pace(hyperparameters)
        if not state.continue_from:  # what was measured can make mixed precision the faster choice
            hyperparameters = suggest_for(report, device, backend=state.backend)
    suggested = hyperparameters.to_sagemaker()
    err_console.print("Suggested settings: " + ", ".join(f"{k}={v}" for k, v in suggested.items()))
    if state.continue_from:
        err_console.print(f"  [dim]•[/] The network ({', '.join(f'{k}={v}' for k, v in network.items())}) stays that of "
                          f"{escape(state.continue_from)}'s model, which learns on from these pictures.")
    else:
        for reason in suggestion_reasons(report, hyperparameters, device, backend=state.backend,
                                         instance=(state.training_instance or None) if state.backend == "aws" else ""):
            err_console.print(f"  [dim]•[/] {escape(reason)}")
    # last time's answers are the user's own, not suggestions: said so, and offered question by question
    kept = {name: value for name, value in state.overrides.items() if name in BASIC and value != suggested.get(name)}
    question = "Change any of them?"
    if kept:
        question = (f"Change any of them? Yours from last time: {', '.join(f'{k}={v}' for k, v in kept.items())} "
                    "(No trains with the suggested ones).")
    change = ask.confirm(question, bool(kept))
    if change is None:
        return 130
    overrides: dict[str, str] = {}
    if change:
        for name in BASIC:
            default = state.overrides.get(name, suggested.get(name, ""))
            question = f"{name}:"
            if default != suggested.get(name, ""):
                question = f"{name} ({state.yours(name, default, suggested.get(name, ''))}; leave empty for the suggestion):"
            value = ask.text(question, default, _valid_setting(name, hyperparameters, overrides))
            if value is None:
                return 130
            if value.strip() and value.strip() != suggested.get(name):
                overrides[name] = value.strip()
    question = "Tuning jobs to run after training (0: none):"
    if state.tune_jobs:
        question = f"Tuning jobs to run after training (0: none; {state.yours('tune_jobs', str(state.tune_jobs), '0')}):"
    tune = ask.text(question, str(state.tune_jobs), _whole_number)
    if tune is None:
        return 130
    state.overrides, state.tune_jobs = overrides, int(tune)
    state.save()
    go = ask.confirm("Train now? (Where the endpoint runs is asked once the model is there.)", True)
    if not go:
        err_console.print("Nothing was started. Your answers are kept for next time.")
        return 0 if go is not None else 130
    try:
        return _journey(ask, state)
    except WizardError as error:
        print_error(error)
        return 1


def _offer_to_resume(ask: Asker) -> int | None:
    """The latest interrupted run, offered as the wizard's welcome offers it, and continued (as
    `sagewiz run --resume` does) on a yes: its exit code; None to start a new run instead."""
    from sagewiz.core.errors import WizardError
    from sagewiz.core.ledger import Ledger
    from sagewiz.core.watchers import watcher_of
    from sagewiz.tui.console import err_console
    from sagewiz.tui.words import local_time

    try:
        with Ledger() as ledger:
            runs = ledger.unfinished_runs()
    except WizardError:
        return None
    if not runs:
        return None
    run = runs[0]
    about = f"({run.id[:8]}, started {local_time(run.started_at)}, reached: {run.step or 'the start'})"
    watcher = watcher_of(run.id)
    if watcher:  # a run another sagewiz is watching is that one's: resuming it here too would follow it twice
        err_console.print(f"The latest run {about} is being watched by another sagewiz (process {watcher}): go on there, "
                          "or follow its job with `sagewiz monitor`.")
        return None
    answer = ask.confirm(f"An interrupted run {about} can be continued without redoing what it finished. Continue it?", True)
    if answer is None:
        return 130
    if not answer:
        return None
    from sagewiz.tui.cli import main

    return main(["run", "--resume", run.id, "--yes"])


NEW_MODEL = "A new model"
CHOICES_SHOWN = 9  # the newest models offered to learn on; `sagewiz run --continue-from JOB` takes any


def _new_or_earlier_model(ask: Asker, state: WizardState) -> bool:
    """With models trained before, whether one of them learns more (incremental training, as the
    wizard's "Continue an earlier model"): ``state.continue_from`` names it, or is "" for a new
    model. False when the question was given up."""
    from sagewiz.core.earlier import completed_jobs
    from sagewiz.core.errors import WizardError
    from sagewiz.core.ledger import Ledger
    from sagewiz.tui.words import local_time

    try:
        with Ledger() as ledger:
            jobs = completed_jobs(ledger)[:CHOICES_SHOWN]
    except WizardError:
        jobs = []
    if not jobs:
        state.continue_from = ""
        return True
    where = {"local": "this computer", "aws": "SageMaker"}
    labels = {NEW_MODEL: ""}
    labels.update({f"{job.name} (trained on {where.get(job.backend, job.backend)}, {local_time(job.updated_at)})": job.name
                   for job in jobs})
    default = next((label for label, name in labels.items() if name == state.continue_from), next(iter(labels)))
    chosen = ask.select("Train a new model, or let an earlier one learn more (same classes; new pictures or settings)?",
                        list(labels), default)
    if chosen is None:
        return False
    state.continue_from = labels[chosen]
    return True


def _kept_network(state: WizardState, report) -> dict[str, str]:
    """The settings the earlier model fixes (its num_layers and image_shape), checked against the
    pictures as the journey will (the same classes). Raises WizardError."""
    from sagewiz.core.backends import open_backend
    from sagewiz.core.earlier import earlier_model
    from sagewiz.core.ledger import Ledger

    with Ledger() as ledger:
        backend = open_backend(state.backend, ledger=ledger, region=state.region or None)
        return earlier_model(backend, state.continue_from, report).kept


def _aws_region_and_storage(ask: Asker, state: WizardState) -> int | None:
    """Which region (checked: algorithm, GPU types, quota, price), then the private bucket and role,
    created after one confirmation. Returns an exit code to stop with, or None to go on."""
    from sagewiz.core.backends import open_backend
    from sagewiz.core.ledger import Ledger
    from sagewiz.tui.console import err_console

    backend = open_backend("aws", region=state.region or None)
    identity = backend.session.identity
    err_console.print(f"Signed in to AWS account {identity.account} as {identity.arn}")
    while True:
        region = ask.text("AWS region (`sagewiz regions` compares them all):", state.region or backend.default_region,
                          lambda value: bool(value.strip()) or "a region such as us-east-1")
        if region is None:
            return 130
        report = backend.region_report(region.strip())
        for option in report.training:
            price = "price unknown" if option.price_per_hour is None else f"${option.price_per_hour:.3f}/h"
            quota = "quota unknown" if option.quota is None else f"quota {option.quota}"
            err_console.print(f"  {option.instance_type}: {quota}, {price}")
        for note in report.notes:
            err_console.print(f"  [yellow]•[/] {note}")
        if report.verdict == "ready":
            err_console.print(f"{report.region} is ready: training on {report.recommended_training}, "
                              f"endpoint on {report.recommended_hosting}.")
            break
        err_console.print(f"[yellow]{report.region} can't train yet ({report.verdict}).[/] Choose another region, or "
                          f"request a quota increase with `sagewiz regions --request-quota TYPE --region {report.region}`.")
    state.region, state.training_instance = report.region, report.recommended_training or ""
    from sagewiz.core.aws.bucket import bucket_name
    from sagewiz.core.aws.role import role_name

    create = ask.confirm(f"Create (or reuse) the private bucket {bucket_name(identity.account, state.region)} and the role "
                         f"{role_name(state.region)} that SageMaker may use for it only?", True)
    if not create:
        err_console.print("Nothing was created.")
        return 0 if create is not None else 130
    with Ledger() as ledger:
        storage = open_backend("aws", ledger=ledger, region=state.region).ensure_storage(state.region)
    err_console.print(f"[green]✓[/] {storage.uri}: " + "; ".join(storage.protections))
    return None


def _journey(ask: Asker, state: WizardState) -> int:
    """Train, then ask where the endpoint runs and whether it stays, then test it (the same two
    halves as the wizard's Train and Deploy steps)."""
    from sagewiz.core.backends import open_backend
    from sagewiz.core.journey import JourneyOptions, deploy_and_test, test_here, train_model
    from sagewiz.core.ledger import Ledger
    from sagewiz.tui.commands.run import Printer
    from sagewiz.tui.console import err_console
    from sagewiz.tui.hosting import HERE_LABEL, endpoint_choices, here_cost, hosting_label, tested_here
    from sagewiz.tui.words import left_behind

    with Ledger() as ledger:
        region = state.region if state.backend == "aws" else ""
        run = ledger.start_run(state.backend, {"data_dir": state.data_dir, "hp": state.overrides, "tune": state.tune_jobs,
                                               "region": region, "continue_from": state.continue_from})
        printer = Printer(err_console, verbose=False)

        def listen(event) -> None:
            printer(event)
            if event.kind == "step":
                ledger.save_progress(run.id, event.step, run.answers)

        backend = open_backend(state.backend, ledger=ledger, region=region or None)
        trained = train_model(backend, JourneyOptions(Path(state.data_dir), state.overrides, state.tune_jobs, region=region,
                                                      continue_from=state.continue_from), run.id, listen)
        accuracy = trained.validation_accuracy
        err_console.print(f"[b green]Trained:[/] the model of {trained.summary['model_from']}"
                          + (f" has validation accuracy {accuracy:.3f}." if accuracy is not None else " is ready."))
        options = endpoint_choices(trained, state.backend)
        if state.backend == "aws":  # the difference, before the choice
            err_console.print(f"[b]{HERE_LABEL}[/]: {here_cost(trained, _model_size(backend, trained.model_uri))}")
        labels = {hosting_label(o, state.backend): o.instance_type for o in options}
        chosen = next((label for label, kind in labels.items() if kind == state.endpoint_instance), next(iter(labels)))
        if len(labels) > 1:
            chosen = ask.select("Where should its endpoint run?", list(labels), chosen)
            if chosen is None:
                return 130
        keep = ask.confirm("Keep the endpoint running after the test (to try your own pictures)?", state.keep_endpoint)
        if keep is None:
            return 130
        state.endpoint_instance, state.keep_endpoint = labels[chosen], keep
        state.save()
        if tested_here(labels[chosen], state.backend):
            here = open_backend("local", ledger=ledger)
            summary = test_here(backend, trained, listen, keep_endpoint=keep, local=here)
        else:
            here, summary = None, deploy_and_test(backend, trained, listen, endpoint_instance=labels[chosen], keep_endpoint=keep)
        ledger.finish_run(run.id)
        kept = backend.resources()  # what the wizard's Clean-up step would offer to delete
        if here is not None:  # the endpoint on this computer, kept or not, and what else sagewiz keeps here
            kept += here.resources()
    err_console.print(f"[b green]Test accuracy {summary['test_accuracy']:.3f}[/] on {summary['dataset']['test']} test pictures.")
    for line in left_behind(kept):  # the same words as the wizard's closing ones
        err_console.print(line)
    return 0


def _model_size(backend, model_uri: str) -> int | None:
    """The SageMaker model's size in bytes (what testing it here downloads), or None when S3 can't say."""
    from sagewiz.core.aws.download import model_size
    from sagewiz.core.errors import WizardError

    try:
        return model_size(backend.session, model_uri)
    except WizardError:
        return None


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

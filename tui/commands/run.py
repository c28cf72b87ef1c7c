"""``sagewiz run``: the whole journey without questions, for scripts and impatient people.

Check → pack → train → (tune) → deploy → evaluate → clean up, on the chosen backend. Progress
goes to stderr; with ``--json`` the summary (job names, per-epoch metrics, test accuracy, endpoint
URL) goes to stdout. A run that was interrupted continues with ``--resume`` (the last unfinished
run, or the one named): nothing that already exists is created again.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="train, deploy and test a classifier from a folder of images, without questions",
        description="Check the images in DIR, pack them, train the Image Classification algorithm, optionally tune it, "
        "deploy the model to an endpoint, evaluate it on the test pictures and delete the endpoint again.",
    )
    parser.add_argument("--backend", default="local", help="local (free, this computer; the default) or aws")
    parser.add_argument("--data", metavar="DIR", help="the folder of images (train/ and test/ class folders, or class folders)")
    parser.add_argument("--hp", action="append", default=[], metavar="KEY=VALUE",
                        help="set a hyperparameter, e.g. --hp epochs=10 --hp learning_rate=0.05 (repeatable)")
    parser.add_argument("--tune", default="0", metavar="N", help="also run a tuning job of N training jobs and keep the best model")
    parser.add_argument("--keep-endpoint", action="store_true", help="leave the endpoint running at the end (sagewiz cleanup deletes it)")
    parser.add_argument("--region", default="", help="AWS region (aws backend; default: your AWS profile's region)")
    parser.add_argument("--profile", default=None, help="AWS profile (aws backend; default: AWS_PROFILE or 'default')")
    parser.add_argument("--continue-from", default="", metavar="MODEL",
                        help="incremental training: start from an earlier model (same classes): a training job of either "
                        "backend (one trained on this computer continues on SageMaker) or a model.tar.gz")
    parser.add_argument("--endpoint-instance", default="", metavar="TYPE",
                        help="aws: where the endpoint runs, e.g. ml.m5.large (default: the region's cheapest usable type)")
    parser.add_argument("--test-here", action="store_true",
                        help="aws: test the trained model on this computer (free) instead of on a SageMaker endpoint")
    parser.add_argument("--spot", action="store_true", help="aws: managed spot training (cheaper; may wait for capacity)")
    parser.add_argument("--instances", default="1", metavar="N", help="aws: train on N GPU machines at once (default 1)")
    parser.add_argument("--resume", nargs="?", const="last", metavar="RUN", help="continue an interrupted run (the last one, or RUN)")
    parser.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parser.add_argument("--verbose", "-v", action="store_true", help="show every line of the training log")
    parser.set_defaults(run=run)


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``["epochs=10", "top_k=2"]`` → ``{"epochs": "10", "top_k": "2"}``; InputError for a bad item."""
    from sagewiz.core.errors import InputError

    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"--hp {item!r} is not KEY=VALUE.", hint="For example: --hp epochs=10 --hp mini_batch_size=32")
        overrides[key.strip()] = value.strip()
    return overrides


def run(args: argparse.Namespace) -> int:
    from sagewiz.core.backends import open_backend
    from sagewiz.core.errors import InputError
    from sagewiz.core.journey import JourneyOptions, run_journey
    from sagewiz.core.ledger import Ledger
    from sagewiz.core.locks import holding_run
    from sagewiz.tui.console import err_console
    from sagewiz.tui.words import local_time

    args.step = None  # no step started yet: a failure here is in the arguments
    try:
        tune = int(args.tune)
        if tune < 0:
            raise ValueError
    except ValueError:
        raise InputError(f"--tune {args.tune!r} is not a number of training jobs.", hint="For example: --tune 6") from None
    overrides = parse_overrides(args.hp)
    with Ledger() as ledger, ExitStack() as held:
        run_record = _find_run(ledger, args.resume) if args.resume else None
        if run_record:
            # one sagewiz per run: a second resume would act on the same endpoint and jobs
            held.enter_context(holding_run(ledger.path.parent, run_record.id))
            answers = run_record.answers
            err_console.print(f"Resuming run {run_record.id[:8]} (started {local_time(run_record.started_at)}, reached: {run_record.step or 'start'})")
        else:
            if not args.data:
                raise InputError("Which images? Give the folder with --data DIR.",
                                 hint="No images yet? `sagewiz sample digits` writes a small dataset; then: sagewiz run --data digits --yes")
            try:
                instances = int(args.instances)
            except ValueError:
                raise InputError(f"--instances {args.instances!r} is not a number of machines.", hint="For example: --instances 2") from None
            answers = {"data_dir": str(Path(args.data).expanduser().resolve()), "hp": overrides, "tune": tune,
                       "keep_endpoint": args.keep_endpoint, "region": args.region, "spot": args.spot, "instances": instances,
                       "continue_from": args.continue_from, "endpoint_instance": args.endpoint_instance,
                       "test_here": args.test_here}
        backend_name = run_record.backend if run_record else args.backend
        backend = open_backend(backend_name, ledger=ledger, region=answers.get("region") or None,
                               profile=getattr(args, "profile", None))
        if not args.yes and not _confirmed(answers, backend_name):
            return 1
        if run_record is None:
            run_record = ledger.start_run(backend_name, answers)
            held.enter_context(holding_run(ledger.path.parent, run_record.id))  # a --resume of it meanwhile is refused
        options = JourneyOptions(Path(answers["data_dir"]), answers.get("hp", {}), int(answers.get("tune", 0)),
                                 bool(answers.get("keep_endpoint")), answers.get("region", ""),
                                 spot=bool(answers.get("spot")), instance_count=int(answers.get("instances", 1)),
                                 continue_from=answers.get("continue_from", ""),
                                 endpoint_instance=answers.get("endpoint_instance", ""),
                                 test_here=bool(answers.get("test_here")))
        printer = Printer(err_console, args.verbose)

        def listen(event) -> None:
            printer(event)
            if event.kind == "step":
                args.step = event.step  # the step a failure happens in, for --json's error object (cli.main)
                ledger.save_progress(run_record.id, event.step, answers)

        try:
            summary = run_journey(backend, options, run_record.id, listen)
        except KeyboardInterrupt:
            if args.step not in ("check", "prepare"):
                raise
            printer.close()
            doing = "checking" if args.step == "check" else "packing"
            err_console.print(f"Stopped while {doing} the pictures; what was {'checked' if doing == 'checking' else 'packed'} "
                              f"is kept. `sagewiz run --resume {run_record.id[:8]}` goes on from there.")
            return 130
        finally:
            printer.close()
        ledger.finish_run(run_record.id)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        accuracy = summary.get("test_accuracy")
        err_console.print(f"[bold green]Done.[/] Test accuracy {accuracy:.3f} on {summary['dataset']['test']} pictures."
                          if accuracy is not None else "[bold green]Done.[/]")
        if summary.get("tested_here"):
            err_console.print(f"Tested on this computer, free: no SageMaker endpoint was made. The model is kept at "
                              f"{summary['tested_here']['model']} (`sagewiz predict {summary['model_from']} PICTURES` asks it more).")
        if summary.get("endpoint", {}).get("deleted"):
            err_console.print("The endpoint was deleted; nothing is left running. `sagewiz resources` lists what was kept.")
        else:
            where = summary["endpoint"]["url"] or f"on {summary['endpoint']['instance_type']} (billed per hour)"
            err_console.print(f"The endpoint {summary['endpoint']['name']} is still running {'at ' if summary['endpoint']['url'] else ''}{where}; "
                              "`sagewiz cleanup` deletes it.")
    return 0


def _find_run(ledger, wanted: str):
    from sagewiz.core.errors import InputError

    runs = ledger.unfinished_runs()
    if wanted == "last":
        if not runs:
            raise InputError("There is no interrupted run to resume.", hint="Start one: sagewiz run --data DIR --yes")
        return runs[0]
    matches = [r for r in runs if r.id.startswith(wanted)]
    if len(matches) != 1:
        known = ", ".join(r.id[:8] for r in runs) or "none"
        raise InputError(f"No single unfinished run starts with {wanted!r}.", hint=f"Unfinished runs: {known}.")
    return matches[0]


def _confirmed(answers: dict, backend: str) -> bool:
    from sagewiz.tui.console import err_console, go_ahead

    what = f"train, deploy and test a classifier from {answers['data_dir']} on the {backend} backend"
    if backend == "aws":
        what += (" (this costs money: the training instances are billed per second; the model is tested on this computer, free)"
                 if answers.get("test_here") else " (this costs money: training and endpoint instances are billed per second)")
    if sys.stdin.isatty():
        err_console.print(f"sagewiz will {what}.")
    return go_ahead(f"sagewiz run would {what}, and needs your go-ahead.", "Go ahead?", hint="Add --yes to run it without asking.")


class Printer:
    """Journey events as readable lines on stderr: steps, epoch results, notes, trials."""

    def __init__(self, console, verbose: bool):
        self.console, self.verbose = console, verbose
        self.trial_status: dict[str, str] = {}
        self._bar = None  # (rich Progress, its task, what it counts) while pictures are checked or packed

    def __call__(self, event) -> None:
        from rich.markup import escape

        if event.kind == "progress":
            self._progress(event)
            return
        if event.kind in ("step", "done"):
            self.close()
        if event.kind == "step":
            self.console.print(f"[bold cyan]▸ {escape(event.text)}[/]")
        elif event.kind == "done" and event.text:
            self.console.print(f"  [green]✓[/] {escape(event.text)}")
        elif event.kind == "note":
            self.console.print(f"  [yellow]•[/] {escape(event.text)}")
        elif event.kind == "log" and self.verbose:
            self.console.print(f"  [dim]{escape(event.text)}[/]", soft_wrap=True)
        elif event.kind == "log" and _worth_showing(event.text):
            # the epoch results, without the algorithm's "[date INFO pid]" prefix
            self.console.print(f"  [dim]{escape(event.text.split('] ', 1)[-1])}[/]", soft_wrap=True)
        elif event.kind == "trials":
            for name, status, objective, pruned in event.data["trials"]:
                if self.trial_status.get(name) == status:
                    continue
                self.trial_status[name] = status
                result = f", validation accuracy {objective:.3f}" if objective is not None else ""
                label = "stopped early (pruned)" if pruned else status
                self.console.print(f"  trial {escape(name)}: {label}{result}")


    def _progress(self, event) -> None:
        """A bar with the rate and the time left for checking and packing: 50,000 pictures take minutes."""
        from sagewiz.tui.console import counting_progress

        what = {"check": "Checking pictures", "prepare": f"Packing {event.text}"}.get(event.step)
        if what is None or "total" not in event.data:
            return
        if self._bar is None or self._bar[2] != what:
            self.close()
            bar = counting_progress(console=self.console)
            bar.start()
            self._bar = (bar, bar.add_task(what, total=event.data["total"]), what)
        self._bar[0].update(self._bar[1], completed=event.data["done"], total=event.data["total"])

    def close(self) -> None:
        """Take the bar away (the journey moved on, or ended)."""
        if self._bar is not None:
            self._bar[0].stop()
            self._bar = None


def _worth_showing(line: str) -> bool:
    # the per-epoch results, not the per-batch speed lines
    return "Train-" in line or "Validation-" in line or "Time cost" in line or "Error" in line or "error" in line

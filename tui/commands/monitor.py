"""``sagewiz monitor``: on a terminal, the full-screen monitor (tui/monitor_app.py) of everything
that runs and what it costs; ``sagewiz monitor JOB`` opens it on that training job, followed live.
Without a terminal: ``sagewiz monitor JOB`` (or ``--no-follow``) prints a training job's log from the
start, followed until it ends, then its status and last metrics; plain ``sagewiz monitor`` prints
the snapshot as ``--plain`` does. Closing the wizard never stops a job; this is how to watch it again.

``sagewiz monitor --json`` / ``--plain``: one snapshot of everything SageMaker runs in the region
(or every region, ``--all-regions``) or the local backend runs — jobs, tuning jobs, batch
transform jobs, endpoints, notebook instances, sagewiz's own and any other — with what each costs
now and so far (:mod:`sagewiz.core.monitor`); as JSON for scripts, or as tables in 80 columns."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("monitor", help="watch everything that runs and what it costs, full-screen (or a "
                                   "training job's log; --plain, --json for one snapshot)",
                                   description="On a terminal: a full-screen, live view of every training, tuning and batch "
                                   "transform job, endpoint and notebook instance (sagewiz's and any other), with what each "
                                   "costs per hour and so far; Enter opens a job (its log, chart, settings), s stops it, "
                                   "d deletes an endpoint, n stops a notebook instance, each after a confirmation. With "
                                   "JOB, it opens on that training job. Without a terminal (or with --no-follow): a "
                                   "training job's log printed from the start, followed until it ends. With --plain or "
                                   "--json: one snapshot of everything, as text or JSON.")
    parser.add_argument("job", nargs="?", help="training job name: the monitor opens on it (without a terminal, or with --no-follow, its log "
                        "is printed; default there: the most recent job)")
    parser.add_argument("--backend", default="local", help="local (the default) or aws")
    parser.add_argument("--region", default="", help="AWS region (default: where the ledger says the job runs; "
                        "for a snapshot, the profile's region)")
    parser.add_argument("--profile", default=None, help="AWS profile (aws backend)")
    parser.add_argument("--no-follow", dest="follow", action="store_false", help="print the log so far and return")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print one snapshot of everything that runs as JSON on stdout")
    shown.add_argument("--plain", action="store_true", help="print one snapshot of everything that runs as text tables")
    parser.add_argument("--all-regions", action="store_true", help="the snapshot covers every region enabled for the account")
    parser.add_argument("--bundled-prices", action="store_true",
                        help="price from sagewiz's bundled table only, without asking the AWS Pricing API")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.json or args.plain:
        return run_snapshot(args)
    if args.follow and on_a_terminal():
        return open_full_screen(args)
    if args.job or not args.follow:
        return follow_job(args)
    args.plain = True  # no terminal to draw on: the same snapshot as text
    return run_snapshot(args)


def on_a_terminal() -> bool:
    import sys

    return sys.stdin.isatty() and sys.stdout.isatty()


def open_full_screen(args: argparse.Namespace) -> int:
    """The full-screen monitor (tui/monitor_app.py), on the job when one is named."""
    from sagewiz.core.errors import InputError
    from sagewiz.tui.monitor_app import run_monitor

    if args.backend != "aws" and (args.all_regions or args.region):
        raise InputError("--region and --all-regions are for the aws backend.", hint="Add --backend aws.")
    region = args.region or (_recorded_region(args.backend, args.job) if args.job else "") or None
    return run_monitor(args.backend, region=region, profile=args.profile, all_regions=args.all_regions,
                       live_prices=not args.bundled_prices, job=args.job)


def _recorded_region(backend: str, job: str) -> str:
    """Where the ledger says sagewiz started ``job`` ("" when it didn't)."""
    from sagewiz.core.ledger import Ledger

    with Ledger() as ledger:
        recorded = [r for r in ledger.resources(backend=backend) if r.kind == "training-job" and r.name == job]
    return recorded[-1].region if recorded else ""


def run_snapshot(args: argparse.Namespace) -> int:
    import json

    from sagewiz.core.errors import InputError
    from sagewiz.core.ledger import Ledger
    from sagewiz.core.monitor import Monitor

    if args.job:
        raise InputError(f"--json and --plain show everything that runs, not the job {args.job}.",
                         hint=f"Drop {args.job} for the snapshot, or drop the flag to follow its log: "
                              f"sagewiz monitor {args.job} --backend {args.backend}")
    if args.backend != "aws" and (args.all_regions or args.region):
        raise InputError("--region and --all-regions are for the aws backend.", hint="Add --backend aws.")
    with Ledger() as ledger, Monitor(args.backend, region=args.region or None, profile=args.profile,
                                     all_regions=args.all_regions, ledger=ledger,
                                     live_prices=not args.bundled_prices) as monitor:
        snapshot = monitor.settled()
    if args.json:
        print(json.dumps(snapshot.to_dict(), indent=2), flush=True)
    else:
        from sagewiz.tui.commands.monitor_text import print_snapshot

        print_snapshot(snapshot)
    return 0


def follow_job(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from sagewiz.core.backends import open_backend
    from sagewiz.core.errors import InputError
    from sagewiz.core.ledger import Ledger
    from sagewiz.tui.console import err_console

    with Ledger() as ledger:
        name = args.job
        if name is None:
            jobs = [r for r in ledger.resources(backend=args.backend, include_deleted=False) if r.kind == "training-job"]
            if not jobs:
                raise InputError("There is no training job to watch.", hint="Start one: sagewiz run --data DIR --yes")
            running = [r for r in jobs if r.state in ("planned", "running")]
            name = (running or jobs)[-1].name
        recorded = [r for r in ledger.resources(backend=args.backend) if r.kind == "training-job" and r.name == name]
        region = args.region or (recorded[-1].region if recorded else "") or None
        backend = open_backend(args.backend, ledger=ledger, region=region, profile=args.profile)
        job = backend.describe_training(name)  # an unknown name is named in the error
        err_console.print(f"[b]{escape(name)}[/]: {job.status.value} ({job.secondary_status})")
        for event in backend.follow_logs(name, follow=args.follow):
            print(event.message, flush=True)
        job = backend.describe_training(name)
    err_console.print(f"[b]{escape(name)}[/]: {job.status.value}" + (f" — {escape(job.failure_reason)}" if job.failure_reason else ""))
    last = {}
    for metric in job.metrics:
        last[metric.name] = metric
    if last:
        err_console.print("  " + ", ".join(f"{m.name} {m.value:.4f} (epoch {m.epoch})" for m in last.values()))
    if job.model_uri:
        err_console.print(f"  model: {job.model_uri}")
    return 0 if job.status.value in ("Completed", "InProgress") else 1

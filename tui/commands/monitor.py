"""``sagewiz monitor [JOB]``: reattach to a training job — its log from the start, followed live
until it ends, then its status and last metrics. Closing the wizard never stops a job; this is how
to watch it again (``--no-follow`` prints what is there and returns).

``sagewiz monitor --json`` / ``--plain``: one snapshot of everything SageMaker runs in the region
(or every region, ``--all-regions``) or the local backend runs — jobs, tuning jobs, batch
transform jobs, endpoints, notebook instances, sagewiz's own and any other — with what each costs
now and so far (:mod:`sagewiz.core.monitor`); as JSON for scripts, or as tables in 80 columns."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("monitor", help="watch a training job's log (the latest by default), or list everything "
                                   "that runs and what it costs (--plain, --json)",
                                   description="Print a training job's log from the start and follow it until the job ends; "
                                   "then show its status, failure reason or metrics. With --plain or --json: one snapshot "
                                   "of every training, tuning and batch transform job, endpoint and notebook instance in "
                                   "the region (sagewiz's and any other), with what each costs per hour and so far.")
    parser.add_argument("job", nargs="?", help="training job name (default: the most recent one)")
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
    return follow_job(args)


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

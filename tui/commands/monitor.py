"""``sagewiz monitor [JOB]``: reattach to a training job — its log from the start, followed live
until it ends, then its status and last metrics. Closing the wizard never stops a job; this is how
to watch it again (``--no-follow`` prints what is there and returns)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("monitor", help="watch a training job's log and status (the latest one by default)",
                                   description="Print a training job's log from the start and follow it until the job ends; "
                                   "then show its status, failure reason or metrics.")
    parser.add_argument("job", nargs="?", help="training job name (default: the most recent one)")
    parser.add_argument("--backend", default="local", help="local (the default) or aws")
    parser.add_argument("--region", default="", help="AWS region of the job (default: where the ledger says it runs)")
    parser.add_argument("--profile", default=None, help="AWS profile (aws backend)")
    parser.add_argument("--no-follow", dest="follow", action="store_false", help="print the log so far and return")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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

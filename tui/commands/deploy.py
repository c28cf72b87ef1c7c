"""``sagewiz deploy MODEL``: an endpoint for any model, outside a run — one trained on this
computer on SageMaker, one trained on SageMaker here (free), or a model.tar.gz on either. It says
what the endpoint costs, asks first on AWS (unless ``--yes``), and the endpoint stays until
``sagewiz cleanup`` deletes it."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "deploy", help="start an endpoint for a model (a training job of either backend, or a model.tar.gz)",
        description="Start an endpoint that answers for MODEL: a model.tar.gz (SageMaker's or sagewiz's), or the name "
        "of a training job, on this computer or on SageMaker. A model trained here is uploaded into sagewiz's private "
        "bucket and served by the algorithm's own inference image; one trained on SageMaker is downloaded once and "
        "served here for free. The endpoint keeps running until `sagewiz cleanup` deletes it.")
    parser.add_argument("model", metavar="MODEL", help="a model.tar.gz, or a training job's name (`sagewiz resources` lists them)")
    parser.add_argument("--backend", choices=("local", "aws"), default="local",
                        help="where the endpoint runs: local (free, this computer; the default) or aws")
    parser.add_argument("--region", default="", help="AWS region (default: your AWS profile's region)")
    parser.add_argument("--profile", default=None, help="AWS profile to use (default: AWS_PROFILE or 'default')")
    parser.add_argument("--instance", default="", metavar="TYPE", help="aws: the endpoint's instance type (default: the region's cheapest usable one)")
    parser.add_argument("--name", default="", help="the endpoint's name (default: after the training job)")
    parser.add_argument("--yes", "-y", action="store_true", help="start it without asking")
    parser.add_argument("--json", action="store_true", help="print the endpoint's name, where it runs and its cost as JSON on stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from sagewiz.core.backends import open_backend
    from sagewiz.core.deploy import deploy_model
    from sagewiz.core.errors import InputError
    from sagewiz.core.ledger import Ledger
    from sagewiz.core.model.find import find_model
    from sagewiz.tui.console import err_console, go_ahead, transfer_bar

    with Ledger() as ledger:
        backend = open_backend(args.backend, ledger=ledger, region=args.region or None, profile=args.profile)
        with transfer_bar("Downloading the model") as downloaded:
            found = find_model(args.model, ledger=ledger, region=args.region or None, profile=args.profile,
                               endpoints=False, progress=downloaded)
        if found.path is None:
            raise InputError(f"{args.model} is an endpoint already.", hint="Name a training job or a model.tar.gz to deploy.")
        if backend.name == "aws" and not args.yes:
            what = f"start a SageMaker endpoint for {found.described}, billed per hour until `sagewiz cleanup` deletes it"
            if sys.stdin.isatty():
                err_console.print(f"sagewiz will {escape(what)}.")
            if not go_ahead(f"sagewiz deploy would {what}, and needs your go-ahead.", "Go ahead?",
                            hint="Add --yes to start it without asking.", declined="No endpoint was started."):
                return 1
        with transfer_bar("Uploading the model") as uploaded:
            deployed = deploy_model(backend, found, instance_type=args.instance, name=args.name, region=args.region,
                                    progress=uploaded, say=lambda text: err_console.print(f"  [yellow]•[/] {escape(text)}"))
    endpoint, info = deployed.endpoint, deployed.info
    result = {"endpoint": endpoint.endpoint_name, "backend": backend.name, "status": endpoint.status.value,
              "url": endpoint.url, "instance_type": endpoint.instance_type, "price_per_hour": endpoint.price_per_hour,
              "model_uri": deployed.model_uri, "classes": list(info.class_names), "class_names_known": info.class_names_known}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    where = f"at {endpoint.url}" if endpoint.url else f"on {endpoint.instance_type}"
    cost = ("free" if not endpoint.price_per_hour and backend.name == "local" else
            f"${endpoint.price_per_hour:.3f} per hour" if endpoint.price_per_hour else "billed per hour (price unknown here)")
    err_console.print(f"[bold green]✓[/] The endpoint [b]{escape(endpoint.endpoint_name)}[/] is in service {escape(where)} ({cost}).")
    if not info.class_names_known:
        err_console.print(f"  Its answers are {info.num_classes} classes whose names this model doesn't hold (class 0, class 1…).")
    err_console.print(f"Ask it: sagewiz predict {escape(endpoint.endpoint_name)} PICTURE.jpg    Delete it: sagewiz cleanup")
    return 0

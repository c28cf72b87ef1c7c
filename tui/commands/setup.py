"""``sagewiz setup``: prepare an account once — the private bucket and the SageMaker role.

It says what it will create and how the bucket is protected, asks (unless ``--yes``), and then
creates only what is missing: running it again changes nothing and prints the same names.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "setup", help="create sagewiz's private storage (and, on AWS, its SageMaker role)",
        description="Create (or find) the private S3 bucket sagewiz-<account>-<region> and the IAM role "
        "SageMaker uses, and print their names. Safe to run again: nothing is created twice.")
    parser.add_argument("--backend", choices=("local", "aws"), default="aws", help="aws (the default here) or local")
    parser.add_argument("--region", default="", help="AWS region (default: your AWS profile's region)")
    parser.add_argument("--profile", default=None, help="AWS profile to use (default: AWS_PROFILE or 'default')")
    parser.add_argument("--yes", "-y", action="store_true", help="create without asking")
    parser.add_argument("--json", action="store_true", help="print the names and ARNs as JSON on stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from sagewiz.core.backends import open_backend
    from sagewiz.core.ledger import Ledger
    from sagewiz.tui.console import err_console, go_ahead

    with Ledger() as ledger:
        backend = open_backend(args.backend, ledger=ledger, region=args.region or None, profile=args.profile)
        region = args.region or backend.default_region
        result: dict = {"backend": backend.name, "region": region}
        if backend.name == "aws":
            from sagewiz.core.aws.bucket import bucket_name
            from sagewiz.core.aws.role import role_name

            identity = backend.session.identity
            result.update(account=identity.account, identity_arn=identity.arn)
            err_console.print(f"Signed in to AWS account {identity.account} as {escape(identity.arn)}")
            plan = (f"the S3 bucket {bucket_name(identity.account, region)} (private: public access blocked, encrypted, "
                    f"HTTPS only, owned by this account) and the IAM role {role_name(region)} "
                    "(SageMaker may use it for this bucket, its logs and the algorithm's image, nothing else)")
            if not args.yes:
                if sys.stdin.isatty():
                    err_console.print(f"sagewiz will create (or reuse) {escape(plan)}.")
                if not go_ahead(f"sagewiz setup would create {plan}, and needs your go-ahead.", "Go ahead?",
                                hint="Add --yes to create them without asking.", declined="Nothing was created."):
                    return 1
        storage = backend.ensure_storage(region)
        result.update(storage=storage.uri, protections=list(storage.protections))
        if backend.name == "aws":
            result["role_arn"] = backend.role_arn
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    err_console.print(f"[green]✓[/] Storage: {escape(storage.uri)}")
    for protection in storage.protections:
        err_console.print(f"    • {escape(protection)}")
    if result.get("role_arn"):
        err_console.print(f"[green]✓[/] Role: {escape(result['role_arn'])}")
    err_console.print(f"Ready. Next: sagewiz run --backend {backend.name} --region {region} --data DIR")
    return 0

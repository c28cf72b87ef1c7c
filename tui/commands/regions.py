"""``sagewiz regions``: where this AWS account can train and host, on what, at what price.

For every region the algorithm is published in (or only those named with ``--region``) it shows whether
the algorithm is there, the GPU training types the account has quota for, the cheapest price
per hour and a verdict, with the best choice highlighted. ``--request-quota TYPE`` asks AWS for
a higher quota in one region, after saying what it will ask (and asking, unless ``--yes``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

_VERDICT_STYLE = {"ready": "green", "no quota": "yellow", "no capacity": "red", "algorithm missing": "red"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "regions", help="check AWS regions: algorithm, GPU quota and price (and request quota)",
        description="Check, for each AWS region, whether the SageMaker Image Classification algorithm is there, "
        "which GPU instance types your account has quota for, and what they cost per hour. "
        "With --request-quota, ask AWS for a higher quota (asks first, unless --yes).")
    parser.add_argument("--region", action="append", default=[], metavar="REGION",
                        help="only this region (repeat for more; default: every region the algorithm is in)")
    parser.add_argument("--profile", default=None, help="AWS profile to use (default: AWS_PROFILE or the default one)")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON on stdout")
    parser.add_argument("--bundled-prices", action="store_true",
                        help="don't ask the AWS Pricing API; use sagewiz's bundled, dated price table")
    parser.add_argument("--request-quota", metavar="TYPE", default=None,
                        help="ask AWS to raise your quota for this instance type (e.g. ml.g4dn.xlarge) in --region")
    parser.add_argument("--usage", choices=("training", "hosting"), default="training",
                        help="which quota --request-quota raises (default: training)")
    parser.add_argument("--desired", type=int, default=1, metavar="N",
                        help="how many instances at once to ask for (default: 1)")
    parser.add_argument("--yes", "-y", action="store_true", help="send the quota request without asking")
    parser.set_defaults(run=run_regions)


def _session(args: argparse.Namespace):
    from sagewiz.core.aws.session import AwsSession

    return AwsSession(region=args.region[0] if args.region else None, profile=args.profile)


def _price(report) -> str:
    chosen = next((o for o in report.training if o.instance_type == report.recommended_training), None)
    if chosen is None or chosen.price_per_hour is None:
        return "–" if chosen is None else "unknown"
    star = "" if chosen.price_source == "pricing-api" else "*"
    return f"${chosen.price_per_hour:.3f}{star}"


def _types_with_quota(report, limit: int = 4) -> str:
    usable = [o for o in report.training if o.quota is None or o.quota > 0]
    if not report.training:
        return "–"
    if not usable:
        return f"none ({len(report.training)} types, quota 0)"
    shown = [f"{o.instance_type} ×{'?' if o.quota is None else o.quota}" for o in usable[:limit]]
    if len(usable) > limit:
        shown.append(f"+{len(usable) - limit} more")
    return ", ".join(shown)


def _best(reports: list):
    """The ready region whose recommended training type is cheapest (unknown prices last)."""
    def price(report):
        chosen = next(o for o in report.training if o.instance_type == report.recommended_training)
        return (chosen.price_per_hour is None, chosen.price_per_hour or 0.0)

    ready = [r for r in reports if r.verdict == "ready" and r.recommended_training]
    return min(ready, key=price) if ready else None


def _table(reports: list, best):
    """Region, where to train and host, the price and the verdict; the GPU types with quota beneath
    (in 80 columns a list of them would squeeze the rest). Whether the algorithm is there is the
    verdict "algorithm missing"."""
    from sagewiz.tui.console import fitted_table

    rows = []
    for report in reports:
        is_best = best is not None and report.region == best.region
        style = "bold green" if is_best else _VERDICT_STYLE.get(report.verdict, "white")
        rows.append(((f"[bold green]★ {report.region}[/]" if is_best else report.region), report.recommended_training or "–",
                     _price(report), report.recommended_hosting or "–", f"[{style}]{report.verdict}[/]", _types_with_quota(report)))
    return fitted_table(("region", "train on", "price/hour", "host on", "verdict", "GPU types with quota"), rows,
                        beneath={5: 0}, give_way=[(4, 9)], justify={2: "right"})


def _as_dicts(reports: list) -> list[dict]:
    return [dataclasses.asdict(report) for report in reports]


def run_regions(args: argparse.Namespace) -> int:
    if args.request_quota:
        return _request_quota(args)
    from sagewiz.core.aws import preflight
    from sagewiz.tui.console import err_console

    session = _session(args)
    identity = session.identity
    err_console.print(f"Signed in as [bold]{identity.arn}[/] (account {identity.account}).")
    with err_console.status("Checking regions: algorithm, quotas, prices…"):
        reports = preflight.all_region_reports(session, args.region or None, use_pricing=not args.bundled_prices)
    if args.json:
        print(json.dumps(_as_dicts(reports), indent=2))
        return 0
    best = _best(reports)
    err_console.print(_table(reports, best))
    if any(o.price_source != "pricing-api" for r in reports for o in r.training if o.instance_type == r.recommended_training):
        from sagewiz.core.aws.catalog import PRICE_SOURCE_BUNDLED

        err_console.print(f"* approximate: from sagewiz's {PRICE_SOURCE_BUNDLED}, not the AWS Pricing API.")
    detailed = reports if len(reports) <= 5 else [r for r in reports if best is not None and r.region == best.region]
    for report in detailed:
        for note in report.notes:
            err_console.print(f"[bold]{report.region}[/]: {note}")
    if best is not None:
        err_console.print(f"[green]Best choice:[/] train in {best.region} on {best.recommended_training}. "
                          f"Next: sagewiz setup --backend aws --region {best.region}")
    else:
        no_quota = [r.region for r in reports if r.verdict == "no quota"]
        if no_quota:
            err_console.print(f"[yellow]No region is ready yet.[/] Request GPU quota in one of them, e.g. "
                              f"sagewiz regions --request-quota ml.g4dn.xlarge --region {no_quota[0]}")
        else:
            err_console.print("[yellow]No region is ready.[/] The local backend needs no account: sagewiz run --backend local")
    if len(reports) > 5:
        err_console.print("`sagewiz regions --region REGION` explains one region in detail.")
    return 0


def _request_quota(args: argparse.Namespace) -> int:
    from sagewiz.core.aws import catalog, preflight
    from sagewiz.core.errors import InputError
    from sagewiz.tui.console import err_console

    if len(args.region) > 1:
        raise InputError("--request-quota asks in one region at a time.", hint="Name a single --region.")
    instance_type = args.request_quota.strip()
    if not instance_type.startswith("ml."):
        instance_type = f"ml.{instance_type}"
    wanted = catalog.is_training_type if args.usage == "training" else catalog.is_hosting_type
    if not wanted(instance_type):
        raise InputError(f"{instance_type} isn't an instance type the Image Classification algorithm uses for {args.usage}.",
                         hint="Pick one of the types `sagewiz regions` lists (e.g. ml.g4dn.xlarge).")
    session = _session(args)
    region = args.region[0] if args.region else session.region
    identity = session.identity
    quota = preflight.find_quota(session, region, instance_type, args.usage)
    current = quota.get("Value")
    current_text = "unknown" if current is None else str(int(current))
    err_console.print(f"Signed in as [bold]{identity.arn}[/] (account {identity.account}).")
    err_console.print(f"sagewiz will ask AWS Service Quotas to raise [bold]{quota['QuotaName']}[/] in [bold]{region}[/] "
                      f"from {current_text} to {args.desired} (quota code {quota.get('QuotaCode', '?')}).")
    err_console.print("Asking costs nothing; AWS reviews the request, which can take from minutes to a few days. "
                      "You pay only for instances you run.")
    if not args.yes:
        if not sys.stdin or not sys.stdin.isatty():
            raise InputError("sagewiz regions --request-quota needs your go-ahead before it asks AWS.",
                             hint="Add --yes to send the request without asking.")
        from rich.prompt import Confirm

        if not Confirm.ask("Send this request?", default=False, console=err_console):
            err_console.print("Nothing was requested.")
            return 1
    request = preflight.request_quota_increase(session, region, instance_type, args.usage, args.desired)
    if args.json:
        print(json.dumps({"region": region, "instance_type": instance_type, "usage": args.usage,
                          "desired": args.desired, "request": request}, indent=2))
    err_console.print(f"[green]Requested[/] {quota['QuotaName']} = {args.desired} in {region}: {request}. "
                      f"Follow it in the Service Quotas console; `sagewiz regions --region {region}` shows the new "
                      "quota once AWS grants it.")
    return 0

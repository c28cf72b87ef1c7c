"""Endpoints and notebook instances of one region, as monitor items.

An endpoint's List answer has no instance type: DescribeEndpoint gives its configuration and
current instance counts (asked again only when the endpoint's LastModifiedTime changes), and
DescribeEndpointConfig the instance types (asked once: a configuration never changes).
ListNotebookInstances says everything a notebook instance's row needs, so nothing is described.
"""

from __future__ import annotations

from typing import Any

from sagewiz.core.monitor.calls import Reader, version_of
from sagewiz.core.monitor.costs import as_utc, figures
from sagewiz.core.monitor.model import ENDPOINT, NOTEBOOK, Item

# An endpoint's instances are up (and billed) in every status but these. Creating counts as
# billing: the instances are being provisioned for it, and a monitor errs on the side of the bill.
ENDPOINT_IDLE = ("Failed", "Deleting")
NOTEBOOK_BILLING = ("Pending", "InService", "Updating")
"""A notebook instance bills while it runs; stopped, only its storage volume does (per GB-month)."""


def endpoints(reader: Reader) -> list[Item]:
    """Every endpoint in the region, whenever it was created: an endpoint bills until deleted."""
    listed = list(reader.pages("list_endpoints", "Endpoints", SortBy="CreationTime", SortOrder="Descending"))
    ours = reader.marks.ours(reader, ENDPOINT, [(e["EndpointName"], e.get("EndpointArn", "")) for e in listed])

    def item(summary: dict[str, Any]) -> Item:
        name = summary["EndpointName"]
        described = reader.describe(ENDPOINT, name, version_of(summary), "describe_endpoint", EndpointName=name)
        config_name = described.get("EndpointConfigName", "")
        config = reader.describe("endpoint-config", config_name, "final", "describe_endpoint_config",
                                 EndpointConfigName=config_name) if config_name else {}
        return endpoint_item(described, config, reader, name in ours)

    return reader.each(item, listed)


def _variants(described: dict[str, Any], config: dict[str, Any]) -> list[tuple[str, int, bool, str]]:
    """(instance type, instances now, serverless, model) per production variant."""
    now = {v.get("VariantName"): v for v in described.get("ProductionVariants", [])}
    found = []
    for variant in config.get("ProductionVariants", []):
        live = now.get(variant.get("VariantName"), {})
        serverless = bool(variant.get("ServerlessConfig") or live.get("CurrentServerlessConfig"))
        count = live.get("CurrentInstanceCount", live.get("DesiredInstanceCount", variant.get("InitialInstanceCount", 0)))
        found.append((variant.get("InstanceType", ""), 0 if serverless else int(count or 0), serverless, variant.get("ModelName", "")))
    return found


def endpoint_item(described: dict[str, Any], config: dict[str, Any], reader: Reader, ours: bool) -> Item:
    status = described.get("EndpointStatus", "")
    variants = _variants(described, config)
    billing = status not in ENDPOINT_IDLE
    started = as_utc(described.get("CreationTime"))
    per_hour, so_far, today, duration, source = 0.0, 0.0, 0.0, None, ""
    for instance_type, count, serverless, _ in variants:
        if serverless:
            continue
        price, source = reader.prices.price(reader.region, instance_type, ENDPOINT)
        money = figures(price, count, started=started, ended=None, billing=billing, now=reader.now)
        duration = money.duration_s
        per_hour = None if per_hour is None or money.cost_per_hour is None else per_hour + money.cost_per_hour
        so_far = None if so_far is None or money.cost_so_far is None else so_far + money.cost_so_far
        today = None if today is None or money.cost_today is None else today + money.cost_today
    if duration is None and started is not None:
        duration = max(reader.now - started.timestamp(), 0.0)
    # so far = since it was created at today's instance count: an endpoint that scaled is approximate
    serverless = [v for v in variants if v[2]]
    note = "serverless: billed per request, not per hour" if serverless and len(serverless) == len(variants) else \
        "" if variants else "its configuration couldn't be read"
    types = ", ".join(dict.fromkeys(v[0] for v in variants if v[0])) or ("serverless" if serverless else "")
    return Item(name=described["EndpointName"], kind=ENDPOINT, status=status, region=reader.region,
                instance_type=types, instance_count=sum(v[1] for v in variants), started=started, duration_s=duration,
                cost_per_hour=per_hour if billing else 0.0, cost_so_far=so_far, cost_today=today, price_source=source,
                made_by_sagewiz=ours, note=note, arn=described.get("EndpointArn", ""),
                details={"endpoint_config": described.get("EndpointConfigName"),
                         "models": list(dict.fromkeys(v[3] for v in variants if v[3]))})


def notebook_instances(reader: Reader) -> list[Item]:
    """Every notebook instance in the region. One that runs is costed since it last started (its
    LastModifiedTime); one that is stopped costs nothing per hour but its storage volume."""
    recorded = reader.marks.recorded(reader.region, NOTEBOOK)
    items = []
    for summary in reader.pages("list_notebook_instances", "NotebookInstances", SortBy="CreationTime", SortOrder="Descending"):
        status = summary.get("NotebookInstanceStatus", "")
        billing = status in NOTEBOOK_BILLING
        instance_type = summary.get("InstanceType", "")
        price, source = reader.prices.price(reader.region, instance_type, NOTEBOOK)
        started = as_utc(summary.get("LastModifiedTime")) if billing else None
        money = figures(price, 1, started=started, ended=None, billing=billing, now=reader.now)
        note = "cost since it last started" if billing else "stopped: only its storage volume bills (per GB-month)"
        items.append(Item(name=summary["NotebookInstanceName"], kind=NOTEBOOK, status=status, region=reader.region,
                          instance_type=instance_type, instance_count=1 if billing else 0, started=started,
                          duration_s=money.duration_s, cost_per_hour=money.cost_per_hour,
                          cost_so_far=money.cost_so_far if billing else None,
                          cost_today=money.cost_today if billing else None, price_source=source,
                          made_by_sagewiz=summary["NotebookInstanceName"] in recorded, note=note,
                          arn=summary.get("NotebookInstanceArn", ""), details={"url": summary.get("Url")}))
    return items

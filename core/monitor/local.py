"""The local backend's jobs and endpoints as monitor items: the same rows as SageMaker's, free.

They come from the ledger, refreshed by the local backend itself (:meth:`LocalBackend.resources`
finds jobs that ended and servers that died since they were recorded), in SageMaker's words
(InProgress, Completed, InService…) so one screen reads both.
"""

from __future__ import annotations

from datetime import datetime

from sagewiz.core.ledger import Ledger, Resource
from sagewiz.core.monitor.model import ENDPOINT, TRAINING, TUNING, Item

REGION = "local"
FREE = "free"
_JOB_STATUS = {"planned": "InProgress", "creating": "InProgress", "running": "InProgress", "completed": "Completed",
               "failed": "Failed", "stopped": "Stopped", "deleting": "Stopping"}
_ENDPOINT_STATUS = {"planned": "Creating", "creating": "Creating", "active": "InService", "stopped": "OutOfService",
                    "failed": "Failed", "deleting": "Deleting"}
_FINISHED = ("completed", "failed", "stopped")


def local_items(ledger: Ledger, now: float) -> dict[str, list[Item]]:
    """Kind → items of the local backend's training jobs, tuning jobs and endpoints that are not
    deleted. Raises LedgerError when the ledger can't be read."""
    from sagewiz.core.local.backend import LocalBackend

    found: dict[str, list[Item]] = {TRAINING: [], TUNING: [], ENDPOINT: []}
    for resource in LocalBackend(ledger=ledger).resources():
        if resource.kind in found:
            found[resource.kind].append(local_item(resource, now))
    return found


def local_item(resource: Resource, now: float) -> Item:
    statuses = _ENDPOINT_STATUS if resource.kind == ENDPOINT else _JOB_STATUS
    started = _moment(resource.created_at)
    ended = _moment(resource.updated_at) if resource.state in _FINISHED else None
    end = ended.timestamp() if ended else now
    instance_type = str(resource.details.get("instance_type") or "local-cpu")
    return Item(name=resource.name, kind=resource.kind, status=statuses.get(resource.state, resource.state),
                region=REGION, backend="local", instance_type=instance_type, instance_count=1,
                started=started, ended=ended,
                duration_s=None if started is None else max(end - started.timestamp(), 0.0),
                cost_per_hour=0.0, cost_so_far=0.0, cost_today=0.0, price_source=FREE, made_by_sagewiz=True,
                arn=resource.arn_or_url or "", details={"ledger_id": resource.id})


def _moment(stamp: str | None) -> datetime | None:
    from sagewiz.core.monitor.costs import as_utc

    try:
        return as_utc(stamp) if stamp else None
    except ValueError:
        return None

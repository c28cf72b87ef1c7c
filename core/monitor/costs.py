"""The money arithmetic of the monitor: what a thing bills per hour now, what it has cost so far
and how much of that fell on today (UTC), from its price, instance count and times.

Pure functions: no clock is read here (``now`` is passed in), so the figures are tested exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sagewiz.core.monitor.model import day_start


@dataclass(frozen=True)
class Figures:
    cost_per_hour: float | None
    cost_so_far: float | None
    cost_today: float | None
    duration_s: float | None


def as_utc(value: Any) -> datetime | None:
    """A time from an AWS answer (a datetime, aware or not, or an ISO string) in UTC; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    return value.replace(tzinfo=value.tzinfo or timezone.utc).astimezone(timezone.utc)


def figures(price_each: float | None, count: int, *, started: datetime | None, ended: datetime | None,
            billing: bool, now: float, billable_s: float | None = None) -> Figures:
    """The cost figures of something that ran ``count`` instances at ``price_each`` USD/hour from
    ``started`` to ``ended`` (still running when None). ``billing`` says whether it bills now;
    ``billable_s`` is SageMaker's own billable time (a training job's BillableTimeInSeconds),
    used instead of the wall time when given. A price of None makes every money figure None
    ("price unknown"), except that a thing that doesn't bill now costs 0.0 per hour regardless."""
    total = None if price_each is None else price_each * max(count, 0)
    end = ended.timestamp() if ended else now
    duration = None if started is None else max(end - started.timestamp(), 0.0)
    per_hour = (total if billing else 0.0)
    if total is None:
        return Figures(None if billing else 0.0, None, None, duration)
    if billable_s is not None:
        so_far = billable_s / 3600 * total
    elif duration is not None:
        so_far = duration / 3600 * total
    else:
        so_far = 0.0  # never started: nothing billed yet
    return Figures(per_hour, so_far, _share_of_today(so_far, started, end, duration, now), duration)


def _share_of_today(so_far: float, started: datetime | None, end: float, duration: float | None, now: float) -> float:
    """The part of ``so_far`` spent since midnight UTC, pro rata of the running time."""
    midnight = day_start(now).timestamp()
    if not so_far or started is None:
        return 0.0
    if not duration:  # no running time to share out (billed, yet started and ended at once): its end's day
        return so_far if end >= midnight else 0.0
    overlap = end - max(started.timestamp(), midnight)
    return so_far * min(max(overlap, 0.0), duration) / duration

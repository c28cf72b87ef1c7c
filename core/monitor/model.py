"""What the monitor shows, as plain data: one :class:`Item` per thing SageMaker (or this computer)
runs, grouped in a :class:`Section` per region and kind, and the :class:`Snapshot` of them all.

Nothing here calls anything; :mod:`sagewiz.core.monitor.monitor` fills these in. A section keeps
the time it was last updated *successfully*, so a screen can say "updated 40 s ago" and never show
what it kept from an earlier refresh as if it were fresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

TRAINING, TUNING, TRANSFORM, ENDPOINT, NOTEBOOK = "training-job", "tuning-job", "transform-job", "endpoint", "notebook-instance"
KINDS = (TRAINING, TUNING, TRANSFORM, ENDPOINT, NOTEBOOK)
"""Every kind of thing the monitor lists, in the order it shows them (the ledger's words where it has them)."""

KIND_TITLES = {TRAINING: "Training jobs", TUNING: "Tuning jobs", TRANSFORM: "Batch transform jobs",
               ENDPOINT: "Endpoints", NOTEBOOK: "Notebook instances"}


@dataclass(frozen=True)
class Item:
    """One training, tuning or batch transform job, endpoint or notebook instance.

    ``cost_per_hour`` is what it bills now in USD (0.0 once stopped or finished; None while it bills
    at a price nobody knows: "price unknown"); ``cost_so_far`` is instance-hours × price (from
    SageMaker's BillableTimeInSeconds for a finished training job), None when unknown;
    ``cost_today`` the part of it since midnight UTC. ``parent`` names the tuning job a training
    job is a trial of: the tuning job's figures include it, so the totals count it once."""

    name: str
    kind: str
    status: str
    region: str  # "local" on the local backend
    backend: str = "aws"
    instance_type: str = ""
    instance_count: int = 0
    started: datetime | None = None
    ended: datetime | None = None
    duration_s: float | None = None
    cost_per_hour: float | None = 0.0
    cost_so_far: float | None = None
    cost_today: float | None = None
    price_source: str = ""
    made_by_sagewiz: bool = False
    parent: str | None = None
    note: str = ""
    arn: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def billing(self) -> bool:
        """Whether it costs money now (or would, at a price unknown)."""
        return self.cost_per_hour is None or self.cost_per_hour > 0

    def to_dict(self) -> dict[str, Any]:
        """The item as JSON-ready data (times as ISO 8601 in UTC)."""
        return {"name": self.name, "kind": self.kind, "status": self.status, "region": self.region,
                "backend": self.backend, "instance_type": self.instance_type or None,
                "instance_count": self.instance_count, "started": _iso(self.started), "ended": _iso(self.ended),
                "duration_s": None if self.duration_s is None else round(self.duration_s, 1),
                "cost_per_hour": _money(self.cost_per_hour), "cost_so_far": _money(self.cost_so_far),
                "cost_today": _money(self.cost_today), "price_known": self.cost_per_hour is not None,
                "price_source": self.price_source or None, "made_by_sagewiz": self.made_by_sagewiz,
                "tuning_job": self.parent, "note": self.note or None, "arn": self.arn or None}


@dataclass(frozen=True)
class Section:
    """The items of one kind in one region, and how current they are.

    ``updated_at`` is when this section was last read completely (epoch seconds; None: never);
    ``fresh`` is True only when the latest refresh did that. When a refresh fails (throttled,
    refused, unreachable) the section keeps the items of its last good refresh, with ``fresh``
    False and ``problem`` saying why; ``missing_right`` names the IAM action that was refused
    (``sagemaker:ListNotebookInstances``); ``slowed_down`` says AWS throttled this refresh, even
    when retrying got through."""

    region: str
    kind: str
    items: tuple[Item, ...] = ()
    updated_at: float | None = None
    fresh: bool = False
    slowed_down: bool = False
    problem: str | None = None
    missing_right: str | None = None
    notes: tuple[str, ...] = ()

    def age_s(self, now: float) -> float | None:
        """Seconds since the section was last updated (None: never)."""
        return None if self.updated_at is None else max(now - self.updated_at, 0.0)

    def to_dict(self, now: float) -> dict[str, Any]:
        return {"region": self.region, "kind": self.kind, "fresh": self.fresh,
                "updated_at": None if self.updated_at is None else _iso(datetime.fromtimestamp(self.updated_at, timezone.utc)),
                "age_s": None if self.updated_at is None else round(self.age_s(now), 1),
                "slowed_down": self.slowed_down, "problem": self.problem, "missing_right": self.missing_right,
                "notes": list(self.notes), "count": len(self.items)}


@dataclass(frozen=True)
class Snapshot:
    """Everything the monitor saw in one refresh: the sections, the header figures, how many API
    calls it took and when the next refresh should be (longer after throttling)."""

    backend: str
    regions: tuple[str, ...]
    sections: tuple[Section, ...]
    taken_at: float
    api_calls: int = 0
    next_refresh_s: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def items(self) -> list[Item]:
        return [item for section in self.sections for item in section.items]

    def counted(self) -> list[Item]:
        """Every item once: a tuning trial is in its tuning job's figures when that job is listed."""
        tuning = {(i.region, i.name) for i in self.items if i.kind == TUNING}
        return [i for i in self.items if not (i.parent and (i.region, i.parent) in tuning)]

    @property
    def billing(self) -> list[Item]:
        """What bills now (each tuning trial inside its tuning job)."""
        return [i for i in self.counted() if i.billing]

    @property
    def cost_per_hour(self) -> float:
        """USD per hour of everything billing now whose price is known."""
        return sum(i.cost_per_hour or 0.0 for i in self.counted())

    @property
    def unpriced(self) -> list[Item]:
        """What bills now at a price sagewiz doesn't know (not in cost_per_hour)."""
        return [i for i in self.counted() if i.cost_per_hour is None]

    @property
    def cost_today(self) -> float:
        """USD spent since midnight UTC by what is listed, as far as prices are known."""
        return sum(i.cost_today or 0.0 for i in self.counted())

    @property
    def slowed_down(self) -> bool:
        return any(s.slowed_down for s in self.sections)

    @property
    def stale(self) -> list[Section]:
        """The sections this refresh couldn't update (they show what an earlier one read)."""
        return [s for s in self.sections if not s.fresh]

    def section(self, region: str, kind: str) -> Section | None:
        return next((s for s in self.sections if s.region == region and s.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        """The snapshot as one JSON-ready object, for ``sagewiz monitor --json``."""
        return {"backend": self.backend, "regions": list(self.regions),
                "taken_at": _iso(datetime.fromtimestamp(self.taken_at, timezone.utc)),
                "cost_per_hour": _money(self.cost_per_hour), "cost_today": _money(self.cost_today),
                "today_starts": _iso(day_start(self.taken_at)),
                "unpriced": [i.name for i in self.unpriced], "slowed_down": self.slowed_down,
                "api_calls": self.api_calls, "next_refresh_s": round(self.next_refresh_s, 1),
                "notes": list(self.notes), "sections": [s.to_dict(self.taken_at) for s in self.sections],
                "resources": [i.to_dict() for i in self.items]}


def day_start(now: float) -> datetime:
    """Midnight UTC of the day ``now`` is in: AWS bills by the UTC day."""
    moment = datetime.fromtimestamp(now, timezone.utc)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 4)

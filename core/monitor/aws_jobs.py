"""Training, tuning and batch transform jobs of one region, as monitor items.

Each kind is listed twice, both paginated: what was created since the monitor's window began, and
what is still in progress whenever it was created (a job started last month and still running bills
now). The List answers don't say the instance type, so each job is described, and the answer kept
until the job's LastModifiedTime changes: a finished job is described once, a running one when its
status moves on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

from sagewiz.core.monitor.calls import Reader, version_of
from sagewiz.core.monitor.costs import as_utc, figures
from sagewiz.core.monitor.model import TRAINING, TRANSFORM, TUNING, Item

RUNNING = ("InProgress", "Stopping")
"""The job statuses that bill: its instances are up."""


def _listed(reader: Reader, method: str, key: str, name_key: str) -> dict[str, dict[str, Any]]:
    """The jobs created inside the window, then the running ones from before it."""
    found: dict[str, dict[str, Any]] = {}
    for summary in reader.pages(method, key, CreationTimeAfter=reader.since, SortBy="CreationTime", SortOrder="Descending"):
        found[summary[name_key]] = summary
    for summary in reader.pages(method, key, StatusEquals="InProgress"):
        found.setdefault(summary[name_key], summary)
    return found


def _resources(config: dict[str, Any]) -> tuple[str, int]:
    """(instance type, instances) of a ResourceConfig, heterogeneous clusters included."""
    groups = config.get("InstanceGroups") or []
    if groups:
        types = ", ".join(dict.fromkeys(g.get("InstanceType", "") for g in groups))
        return types, sum(int(g.get("InstanceCount", 0)) for g in groups)
    return config.get("InstanceType", ""), int(config.get("InstanceCount", 1) or 1)


def _price(reader: Reader, instance_type: str, kind: str) -> tuple[float | None, str]:
    if "," in instance_type:  # a heterogeneous cluster: one price can't say what it bills
        return None, ""
    return reader.prices.price(reader.region, instance_type, kind)


def training_jobs(reader: Reader) -> list[Item]:
    """Every training job in the window (tuning trials included: they name their tuning job)."""
    listed = _listed(reader, "list_training_jobs", "TrainingJobSummaries", "TrainingJobName")
    ours = reader.marks.ours(reader, TRAINING, [(n, s.get("TrainingJobArn", "")) for n, s in listed.items()])

    def describe(summary: dict[str, Any]) -> dict[str, Any]:
        described = reader.describe(TRAINING, summary["TrainingJobName"], version_of(summary), "describe_training_job",
                                    TrainingJobName=summary["TrainingJobName"])
        return {**described, "TrainingJobStatus": summary.get("TrainingJobStatus") or described.get("TrainingJobStatus")}

    return [training_item(d, reader, d["TrainingJobName"] in ours) for d in reader.each(describe, listed.values())]


def training_item(described: dict[str, Any], reader: Reader, ours: bool) -> Item:
    """The item of a DescribeTrainingJob answer (its status the List answer's: the latest)."""
    status = described.get("TrainingJobStatus", "")
    instance_type, count = _resources(described.get("ResourceConfig", {}))
    price, source = _price(reader, instance_type, TRAINING)
    finished = status not in RUNNING
    billable = described.get("BillableTimeInSeconds") if finished else None
    money = figures(price, count, started=as_utc(described.get("TrainingStartTime")),
                    ended=as_utc(described.get("TrainingEndTime")) if finished else None,
                    billing=not finished, now=reader.now, billable_s=billable)
    parent = str(described.get("TuningJobArn") or "").rsplit("/", 1)[-1] or None
    note = "spot: billed at a discount, shown at the on-demand price" if described.get("EnableManagedSpotTraining") else ""
    return Item(name=described["TrainingJobName"], kind=TRAINING, status=status, region=reader.region,
                instance_type=instance_type, instance_count=count, started=as_utc(described.get("TrainingStartTime")),
                ended=as_utc(described.get("TrainingEndTime")) if finished else None, duration_s=money.duration_s,
                cost_per_hour=money.cost_per_hour, cost_so_far=money.cost_so_far, cost_today=money.cost_today,
                price_source=source, made_by_sagewiz=ours, parent=parent, note=note,
                arn=described.get("TrainingJobArn", ""),
                details={"secondary_status": described.get("SecondaryStatus", ""),
                         "billable_s": described.get("BillableTimeInSeconds")})


def tuning_jobs(reader: Reader) -> list[Item]:
    """Every tuning job in the window. Its figures are first those of its running trials by
    SageMaker's counters; :func:`with_trials` replaces them with the sum of its listed trials."""
    listed = _listed(reader, "list_hyper_parameter_tuning_jobs", "HyperParameterTuningJobSummaries",
                     "HyperParameterTuningJobName")
    ours = reader.marks.ours(reader, TUNING, [(n, s.get("HyperParameterTuningJobArn", "")) for n, s in listed.items()])

    def item(summary: dict[str, Any]) -> Item:
        name = summary["HyperParameterTuningJobName"]
        described = reader.describe(TUNING, name, version_of(summary), "describe_hyper_parameter_tuning_job",
                                    HyperParameterTuningJobName=name)
        return tuning_item(summary, described, reader, name in ours)

    return reader.each(item, listed.values())


def tuning_item(summary: dict[str, Any], described: dict[str, Any], reader: Reader, ours: bool) -> Item:
    status = summary.get("HyperParameterTuningJobStatus", "")
    definition = described.get("TrainingJobDefinition") or next(iter(described.get("TrainingJobDefinitions") or []), {})
    instance_type, per_trial = _resources(definition.get("ResourceConfig", {}))
    price, source = _price(reader, instance_type, TUNING)
    counters = summary.get("TrainingJobStatusCounters", {})
    running = int(counters.get("InProgress", 0)) if status in RUNNING else 0
    per_hour = 0.0 if not running else None if price is None else price * per_trial * running
    trials = sum(int(v or 0) for v in counters.values())
    limits = summary.get("ResourceLimits") or described.get("HyperParameterTuningJobConfig", {}).get("ResourceLimits", {})
    return Item(name=summary["HyperParameterTuningJobName"], kind=TUNING, status=status, region=reader.region,
                instance_type=instance_type, instance_count=per_trial * running, started=as_utc(summary.get("CreationTime")),
                ended=as_utc(summary.get("HyperParameterTuningEndTime")) if status not in RUNNING else None,
                duration_s=_duration(summary, reader.now, status not in RUNNING), cost_per_hour=per_hour,
                cost_so_far=None, cost_today=None, price_source=source, made_by_sagewiz=ours,
                note=f"{running} of {trials} trials running" if running else f"{trials} trials",
                arn=summary.get("HyperParameterTuningJobArn", ""),
                details={"trials": trials, "running_trials": running, "per_trial_instances": per_trial,
                         "max_trials": limits.get("MaxNumberOfTrainingJobs"), "max_parallel": limits.get("MaxParallelTrainingJobs")})


def with_trials(tuning: Item, trials: Iterable[Item]) -> Item:
    """The tuning job with the figures of its trials that are listed: what it bills now and has
    cost is theirs (the totals then count each trial once, inside its tuning job)."""
    trials = list(trials)
    if not trials:
        return replace(tuning, note=f"{tuning.note}; cost so far: its trials aren't listed")
    known = [t for t in trials if t.cost_so_far is not None]
    per_hour = [t.cost_per_hour for t in trials]
    return replace(tuning, cost_per_hour=None if None in per_hour else sum(per_hour),
                   cost_so_far=sum(t.cost_so_far for t in known) if known else None,
                   cost_today=sum(t.cost_today or 0.0 for t in known) if known else None)


def transform_jobs(reader: Reader) -> list[Item]:
    """Every batch transform job in the window."""
    listed = _listed(reader, "list_transform_jobs", "TransformJobSummaries", "TransformJobName")
    recorded = reader.marks.recorded(reader.region, TRANSFORM)

    def item(summary: dict[str, Any]) -> Item:
        name = summary["TransformJobName"]
        described = reader.describe(TRANSFORM, name, version_of(summary), "describe_transform_job", TransformJobName=name)
        status = described.get("TransformJobStatus", summary.get("TransformJobStatus", ""))
        resources = described.get("TransformResources", {})
        instance_type, count = resources.get("InstanceType", ""), int(resources.get("InstanceCount", 1) or 1)
        price, source = _price(reader, instance_type, TRANSFORM)
        finished = status not in RUNNING
        started, ended = as_utc(described.get("TransformStartTime")), as_utc(described.get("TransformEndTime")) if finished else None
        money = figures(price, count, started=started, ended=ended, billing=not finished, now=reader.now)
        return Item(name=name, kind=TRANSFORM, status=status, region=reader.region, instance_type=instance_type,
                    instance_count=count, started=started, ended=ended, duration_s=money.duration_s,
                    cost_per_hour=money.cost_per_hour, cost_so_far=money.cost_so_far, cost_today=money.cost_today,
                    price_source=source, made_by_sagewiz=name in recorded,
                    arn=summary.get("TransformJobArn", ""), details={"model": described.get("ModelName")})

    return reader.each(item, listed.values())


def _duration(summary: dict[str, Any], now: float, finished: bool) -> float | None:
    started = as_utc(summary.get("CreationTime"))
    ended = as_utc(summary.get("HyperParameterTuningEndTime")) if finished else None
    if started is None:
        return None
    return max((ended.timestamp() if ended else now) - started.timestamp(), 0.0)

"""What the monitor shows of one training job when the person picks it: its status transitions,
hyperparameters and channels, the metrics SageMaker reports (``FinalMetricDataList``), where its
model is; and the Backend that follows its log and describes its tuning trials.

Any training job the account runs is described, sagewiz's or not: on AWS with one
DescribeTrainingJob (the List answers the snapshot is made of don't carry any of this), on this
computer from the job's own folder. Nothing here changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sagewiz.core.backend import Backend, Channel, EpochMetric, StatusChange
from sagewiz.core.errors import NotFoundError
from sagewiz.core.monitor.model import Item


@dataclass(frozen=True)
class TrainingDetail:
    """One training job as the detail view shows it. ``history`` is SageMaker's secondary status
    transitions (Starting, Downloading, Training…); ``final_metrics`` (name, value) what the job
    reported at its end; ``metrics`` the per-epoch values known so far; ``algorithm`` its training
    image (``…/image-classification:1``); ``model_uri`` its model once it completed or stopped."""

    name: str
    status: str
    secondary_status: str
    finished: bool
    history: tuple[StatusChange, ...] = ()
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    channels: tuple[Channel, ...] = ()
    final_metrics: tuple[tuple[str, float], ...] = ()
    metrics: tuple[EpochMetric, ...] = ()
    model_uri: str | None = None
    failure_reason: str | None = None
    algorithm: str = ""

    @property
    def image_classification(self) -> bool:
        """Whether it is SageMaker's Image Classification algorithm (or the local engine that plays
        it): its log lines hold the per-epoch accuracy, and its model can be asked about a picture."""
        return not self.algorithm or "image-classification" in self.algorithm


def backend_for(item: Item, monitor, *, poll_seconds: float | None = None) -> Backend:
    """The Backend of ``item``'s backend and region, sharing the monitor's ledger (and, in the
    monitor's own region, its AWS session). Calls nothing remote."""
    if item.backend == "local":
        from sagewiz.core.local.backend import LocalBackend

        return LocalBackend(ledger=monitor.ledger) if monitor.ledger is not None else LocalBackend()
    from sagewiz.core.aws.backend import AwsBackend

    session = monitor.session if monitor.session is not None and monitor.session.region == item.region else None
    profile = getattr(monitor.session, "profile", None)
    return AwsBackend(ledger=monitor.ledger, region=item.region, profile=profile, session=session, poll_seconds=poll_seconds)


def training_detail(item: Item, monitor) -> TrainingDetail:
    """The detail of the training job ``item``. Raises NotFoundError when it no longer exists,
    WizardError when it can't be read (a refused DescribeTrainingJob names the right)."""
    if item.backend == "local":
        return _local_detail(item, monitor)
    from sagewiz.core.aws.errors import error_code, translated

    client = monitor.session.client("sagemaker", item.region)
    with translated(f"look up the training job {item.name}", profile=getattr(monitor.session, "profile", None)):
        try:
            described = client.describe_training_job(TrainingJobName=item.name)
        except Exception as error:
            if error_code(error) in ("ValidationException", "ResourceNotFound"):
                raise NotFoundError(f"There is no training job called {item.name} in {item.region} any more.",
                                    hint="It may have been deleted; the monitor's list shows what there is.") from error
            raise
    return aws_detail(described)


def aws_detail(described: Mapping[str, Any]) -> TrainingDetail:
    """The detail of a DescribeTrainingJob answer."""
    from sagewiz.core.aws.training import training_job_from

    job = training_job_from(described)
    channels = tuple(Channel(c.get("ChannelName", ""), _uri(c), c.get("ContentType", ""))
                     for c in described.get("InputDataConfig", []))
    final = tuple((m["MetricName"], float(m["Value"])) for m in described.get("FinalMetricDataList", [])
                  if "MetricName" in m and "Value" in m)
    return TrainingDetail(name=job.job_name, status=job.status.value, secondary_status=job.secondary_status,
                          finished=job.status.finished, history=job.history, hyperparameters=dict(job.hyperparameters),
                          channels=channels, final_metrics=final, model_uri=job.model_uri, failure_reason=job.failure_reason,
                          algorithm=str(described.get("AlgorithmSpecification", {}).get("TrainingImage", "")))


def _uri(channel: Mapping[str, Any]) -> str:
    source = channel.get("DataSource", {})
    return str(source.get("S3DataSource", {}).get("S3Uri") or source.get("FileSystemDataSource", {}).get("DirectoryPath") or "")


def _local_detail(item: Item, monitor) -> TrainingDetail:
    from sagewiz.core.local import job as jobs

    backend = backend_for(item, monitor)
    job = backend.describe_training(item.name)
    spec = jobs.read_spec_or_none(backend.job_dir(item.name)) or {}
    channels = tuple(Channel(name, str(c.get("path", "")), str(c.get("content_type", "")))
                     for name, c in (spec.get("channels") or {}).items())
    last: dict[str, float] = {}
    for metric in job.metrics:
        last[metric.name] = metric.value
    return TrainingDetail(name=item.name, status=job.status.value, secondary_status=job.secondary_status,
                          finished=job.status.finished, history=job.history, hyperparameters=dict(job.hyperparameters),
                          channels=channels, final_metrics=tuple(last.items()) if job.status.finished else (),
                          metrics=job.metrics, model_uri=job.model_uri, failure_reason=job.failure_reason)

"""Training jobs on SageMaker: the CreateTrainingJob request and what DescribeTrainingJob means.

Both functions here are pure (no AWS calls) so the request sagewiz sends and the way it reads
the answer are tested without a network; :mod:`sagewiz.core.aws.backend` makes the calls.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from sagewiz.core.backend import Channel, EpochMetric, JobStatus, StatusChange, TrainingJob, TrainingSpec
from sagewiz.core.errors import InputError

MANAGED_TAG = ("sagewiz:managed", "true")
VOLUME_GIB = 50  # the algorithm copies the .rec files onto the volume; 50 GiB covers a large dataset
# Spot capacity can make a job wait; give it up to twice its running time before giving up.
SPOT_WAIT_FACTOR = 2


def aws_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """sagewiz's tags in AWS's shape, always with ``sagewiz:managed=true`` so clean-up can find
    resources the ledger lost."""
    return [{"Key": k, "Value": str(v)} for k, v in {MANAGED_TAG[0]: MANAGED_TAG[1], **tags}.items()]


def _channel(channel: Channel) -> dict[str, Any]:
    if not channel.uri.startswith("s3://"):
        raise InputError(f"The {channel.name} channel must be in S3 for SageMaker; got {channel.uri}.",
                         hint="Upload the data to sagewiz's bucket first (the wizard and `sagewiz run` do).")
    entry: dict[str, Any] = {
        "ChannelName": channel.name,
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": channel.uri,
                                        "S3DataDistributionType": "FullyReplicated"}},
        "ContentType": channel.content_type,
        "CompressionType": "None",
    }
    if channel.content_type == "application/x-recordio":
        entry["RecordWrapperType"] = "None"  # the .rec files are already RecordIO
    return entry


def training_request(spec: TrainingSpec, *, image_uri: str, role_arn: str) -> dict[str, Any]:
    """The keyword arguments of CreateTrainingJob for ``spec``. With more than one instance the
    algorithm needs ``kv_store`` (dist_sync unless the user chose); spot training gets a wait
    limit and a checkpoint location so an interrupted job resumes instead of starting over."""
    hyperparameters = dict(spec.hyperparameters.to_sagemaker())
    if spec.instance_count > 1:
        hyperparameters.setdefault("kv_store", "dist_sync")
    else:
        hyperparameters.pop("kv_store", None)  # the algorithm refuses kv_store on one machine
    request: dict[str, Any] = {
        "TrainingJobName": spec.job_name,
        "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File"},
        "RoleArn": role_arn,
        "HyperParameters": hyperparameters,
        "InputDataConfig": [_channel(c) for c in spec.channels],
        "OutputDataConfig": {"S3OutputPath": spec.output_uri},
        "ResourceConfig": {"InstanceType": spec.instance_type, "InstanceCount": spec.instance_count,
                           "VolumeSizeInGB": VOLUME_GIB},
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_runtime_seconds},
        "Tags": aws_tags(spec.tags),
    }
    if spec.spot:
        request["EnableManagedSpotTraining"] = True
        request["StoppingCondition"]["MaxWaitTimeInSeconds"] = spec.max_runtime_seconds * SPOT_WAIT_FACTOR
        checkpoint = spec.checkpoint_uri or f"{spec.output_uri.rstrip('/')}/{spec.job_name}/checkpoints"
        request["CheckpointConfig"] = {"S3Uri": checkpoint}
    return request


def _seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.replace(tzinfo=value.tzinfo or timezone.utc).timestamp()
    return float(value or 0)


def training_job_from(described: Mapping[str, Any], *, metrics: tuple[EpochMetric, ...] = (),
                      price_per_hour: float | None = None, now: float | None = None) -> TrainingJob:
    """A TrainingJob from DescribeTrainingJob's answer. Cost is billable seconds × instances ×
    price once SageMaker reports them, and the running time so far while it doesn't."""
    status = JobStatus(described["TrainingJobStatus"])
    history = tuple(StatusChange(t["Status"], _seconds(t.get("StartTime")), t.get("StatusMessage", ""))
                    for t in described.get("SecondaryStatusTransitions", []))
    model_uri = None
    if status in (JobStatus.COMPLETED, JobStatus.STOPPED):
        model_uri = described.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    billable = described.get("BillableTimeInSeconds")
    count = described.get("ResourceConfig", {}).get("InstanceCount", 1) or 1
    cost = None
    if price_per_hour is not None:
        if billable is not None:
            cost = billable / 3600 * price_per_hour * count
        elif described.get("TrainingStartTime"):
            end = described.get("TrainingEndTime")
            running = (_seconds(end) if end else (now if now is not None else datetime.now(timezone.utc).timestamp())) \
                - _seconds(described["TrainingStartTime"])
            cost = max(running, 0) / 3600 * price_per_hour * count
    return TrainingJob(job_name=described["TrainingJobName"], status=status,
                       secondary_status=described.get("SecondaryStatus", status.value), history=history,
                       failure_reason=described.get("FailureReason"), model_uri=model_uri, metrics=metrics,
                       billable_seconds=billable, cost=cost, hyperparameters=dict(described.get("HyperParameters", {})))

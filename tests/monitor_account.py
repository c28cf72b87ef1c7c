"""An AWS account as the classic SageMaker tutorial leaves it, built in moto for the monitor's tests
and benchmark: jobs, a tuning job, a batch transform job, endpoints and a notebook instance nobody
cleaned up, next to what sagewiz made.

moto stores SageMaker records but finishes every job the moment it is created (DESIGN.md), so the
life a test needs (a job still training, a tuning job with trials running, a notebook started
yesterday) is set on moto's own objects, in this process, where its server runs. Where moto lacks
a call the monitor makes, :func:`stub_missing_calls` answers it at the boto3 level (a before-send
hook), and says which.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
from aws_faults import _Raw
from botocore.awsrequest import AWSResponse
from moto.core.utils import utcnow
from moto.sagemaker.models import sagemaker_backends

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/AmazonSageMaker-ExecutionRole-tutorial"
SAGEWIZ_TAG = [{"Key": "sagewiz:managed", "Value": "true"}]


def sagemaker(endpoint_url: str, region: str = REGION) -> Any:
    return boto3.client("sagemaker", region_name=region, endpoint_url=endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def moto_backend(region: str = REGION) -> Any:
    return sagemaker_backends[ACCOUNT][region]


def wipe_sagemaker() -> None:
    """Forget every SageMaker record (every account and region), and nothing else of moto's
    (``sagemaker_backends.reset()`` would reset every service: it is a class method)."""
    for account in list(sagemaker_backends.values()):
        account.reset()


def training_job(sm: Any, name: str, instance_type: str = "ml.p2.xlarge", count: int = 1, *, tags=()) -> None:
    sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE, Tags=list(tags),
        AlgorithmSpecification={"TrainingImage": "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1",
                                "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://tutorial-bucket/output"},
        ResourceConfig={"InstanceType": instance_type, "InstanceCount": count, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 360000})


def finished(name: str, billable_s: int, region: str = REGION) -> None:
    """The job ran and SageMaker billed ``billable_s`` seconds of it."""
    job = moto_backend(region).training_jobs[name]
    job.billable_time_in_seconds = billable_s
    job.training_start_time = utcnow() - timedelta(seconds=billable_s + 60)
    job.training_end_time = utcnow() - timedelta(seconds=60)


def running(name: str, hours: float, *, tuning_job: str | None = None, region: str = REGION) -> None:
    """The job has been training for ``hours`` (a trial of ``tuning_job`` when given)."""
    job = moto_backend(region).training_jobs[name]
    job.training_job_status, job.secondary_status = "InProgress", "Training"
    job.training_start_time = utcnow() - timedelta(hours=hours)
    job.training_end_time = None
    job.last_modified_time = utcnow()
    if tuning_job:
        job.tuning_job_arn = f"arn:aws:sagemaker:{region}:{ACCOUNT}:hyper-parameter-tuning-job/{tuning_job}"


def tuning_job(sm: Any, name: str, instance_type: str = "ml.p3.2xlarge", *, trials_running: int = 0, tags=()) -> None:
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, Tags=list(tags),
        HyperParameterTuningJobConfig={"Strategy": "Bayesian",
                                       "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:accuracy"},
                                       "ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}},
        TrainingJobDefinition={"AlgorithmSpecification": {"TrainingImage": "image-classification:1", "TrainingInputMode": "File"},
                               "RoleArn": ROLE, "OutputDataConfig": {"S3OutputPath": "s3://tutorial-bucket/tuning"},
                               "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 50},
                               "StoppingCondition": {"MaxRuntimeInSeconds": 360000}})
    if trials_running:
        tuning = moto_backend().hyper_parameter_tuning_jobs[name]
        tuning.hyper_parameter_tuning_job_status = "InProgress"
        tuning.hyper_parameter_tuning_end_time = None
        tuning.training_job_status_counters = {"Completed": 1, "InProgress": trials_running, "RetryableError": 0,
                                               "NonRetryableError": 0, "Stopped": 0}
        tuning.last_modified_time = utcnow()


def endpoint(sm: Any, name: str, instance_type: str = "ml.m5.xlarge", count: int = 1, *, config: str | None = None,
             model: str | None = None, tags=()) -> None:
    """An endpoint on its own configuration and model (named like the tutorial's unless given);
    a configuration or model that already exists is shared."""
    config, model = config or f"{name}-config", model or f"{name}-model"
    if model not in moto_backend()._models:
        sm.create_model(ModelName=model, ExecutionRoleArn=ROLE, Tags=list(tags),
                        PrimaryContainer={"Image": "image-classification:1", "ModelDataUrl": "s3://tutorial-bucket/model.tar.gz"})
    if config not in moto_backend().endpoint_configs:
        sm.create_endpoint_config(EndpointConfigName=config, Tags=list(tags), ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": model, "InstanceType": instance_type, "InitialInstanceCount": count}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config, Tags=list(tags))


def up_for(name: str, hours: float) -> None:
    """The endpoint was created ``hours`` ago."""
    moto_backend().endpoints[name].creation_time = utcnow() - timedelta(hours=hours)


def notebook(sm: Any, name: str, instance_type: str = "ml.t2.medium", *, started_hours_ago: float = 0) -> None:
    sm.create_notebook_instance(NotebookInstanceName=name, InstanceType=instance_type, RoleArn=ROLE)
    instance = moto_backend().notebook_instances[name]
    instance.last_modified_time = utcnow() - timedelta(hours=started_hours_ago)


def transform_job(sm: Any, name: str, model: str) -> None:
    sm.create_transform_job(TransformJobName=name, ModelName=model,
                            TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://tutorial-bucket/in"}}},
                            TransformOutput={"S3OutputPath": "s3://tutorial-bucket/out"},
                            TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1})


def tutorial_account(sm: Any, *, tuning: bool = True) -> None:
    """What a person who followed the tutorial (and then tried sagewiz) has in us-east-1; without
    ``tuning`` no tuning job (whose tags only the stub of :class:`MissingCalls` can answer)."""
    training_job(sm, "ic-tutorial-2026-11-30", "ml.p3.2xlarge")
    finished("ic-tutorial-2026-11-30", billable_s=1800)                 # 0.5 h × $3.825
    training_job(sm, "notebook-started-training")
    running("notebook-started-training", hours=2)                      # ml.p2.xlarge, $1.125/h
    if tuning:
        tuning_job(sm, "ic-tuning", trials_running=2)
        for n in (1, 2):
            training_job(sm, f"ic-tuning-00{n}-abcdef0{n}", "ml.p3.2xlarge")
            running(f"ic-tuning-00{n}-abcdef0{n}", hours=1, tuning_job="ic-tuning")
    endpoint(sm, "image-classification-ep", "ml.m5.xlarge")           # $0.23/h
    up_for("image-classification-ep", hours=3)
    notebook(sm, "tutorial-notebook", "ml.t2.medium", started_hours_ago=5)
    transform_job(sm, "batch-predictions", model="image-classification-ep-model")
    endpoint(sm, "sagewiz-1a2b3c4d-endpoint", "ml.m5.large", tags=SAGEWIZ_TAG)  # sagewiz's: found by its tag


def _json(body: dict) -> AWSResponse:
    return AWSResponse("https://stub.invalid", 200, {"content-type": "application/x-amz-json-1.1"}, _Raw(json.dumps(body).encode()))


class MissingCalls:
    """Answers, in place of moto, what moto 5.2.5 lacks (or gets wrong) of the monitor's calls:
    StopTrainingJob and StopHyperParameterTuningJob (not implemented: they are recorded and the
    job set to Stopping in moto's state, as SageMaker would), and ListTags on a tuning job (moto
    answers 500: it doesn't look tuning jobs up). ``stopped`` lists what was stopped."""

    def __init__(self, tuning_tags: dict[str, list[dict[str, str]]] | None = None):
        self.tuning_tags = tuning_tags or {}
        self.stopped: list[str] = []

    def attach(self, events: Any) -> "MissingCalls":
        events.register("before-send.sagemaker", self)
        return self

    def __call__(self, request: Any, event_name: str, **_: Any):
        operation = event_name.rsplit(".", 1)[-1]
        body = json.loads(request.body or b"{}")
        if operation == "StopTrainingJob":
            job = moto_backend().training_jobs[body["TrainingJobName"]]
            job.training_job_status = job.secondary_status = "Stopping"
            job.last_modified_time = utcnow()
            self.stopped.append(body["TrainingJobName"])
            return _json({})
        if operation == "StopHyperParameterTuningJob":
            tuning = moto_backend().hyper_parameter_tuning_jobs[body["HyperParameterTuningJobName"]]
            tuning.hyper_parameter_tuning_job_status, tuning.last_modified_time = "Stopping", utcnow()
            self.stopped.append(body["HyperParameterTuningJobName"])
            return _json({})
        if operation == "ListTags" and ":hyper-parameter-tuning-job/" in body.get("ResourceArn", ""):
            return _json({"Tags": self.tuning_tags.get(body["ResourceArn"].rsplit("/", 1)[-1], [])})
        return None

"""Hyperparameter tuning on SageMaker: the CreateHyperParameterTuningJob request and its answers.

Pure functions, like :mod:`sagewiz.core.aws.training`: the backend makes the calls.
"""

from __future__ import annotations

from typing import Any, Mapping

from sagewiz.core.aws.training import aws_tags, training_request
from sagewiz.core.backend import JobStatus, Trial, TuningJob, TuningSpec
from sagewiz.core.errors import InputError
from sagewiz.core.tuning_ranges import parameter_ranges_to_sagemaker

MAX_NAME = 32  # SageMaker's limit for tuning job names (training jobs may have 63)


def tuning_request(spec: TuningSpec, *, image_uri: str, role_arn: str) -> dict[str, Any]:
    """The keyword arguments of CreateHyperParameterTuningJob. The tuned hyperparameters are
    left out of the static ones (SageMaker refuses a name in both)."""
    if len(spec.tuning_job_name) > MAX_NAME:
        raise InputError(f"A tuning job name can have at most {MAX_NAME} characters; {spec.tuning_job_name!r} has "
                         f"{len(spec.tuning_job_name)}.", hint="Choose a shorter name.")
    if spec.objective != "validation:accuracy":
        raise InputError(f"The Image Classification algorithm reports validation:accuracy, not {spec.objective}.",
                         hint="Tune for validation:accuracy.")
    job = training_request(spec.base, image_uri=image_uri, role_arn=role_arn)
    tuned = {r.name for r in spec.ranges}
    definition: dict[str, Any] = {
        "StaticHyperParameters": {k: v for k, v in job["HyperParameters"].items() if k not in tuned},
        "AlgorithmSpecification": job["AlgorithmSpecification"],
        "RoleArn": role_arn,
        "InputDataConfig": job["InputDataConfig"],
        "OutputDataConfig": job["OutputDataConfig"],
        "ResourceConfig": job["ResourceConfig"],
        "StoppingCondition": job["StoppingCondition"],
    }
    for key in ("EnableManagedSpotTraining", "CheckpointConfig"):
        if key in job:
            definition[key] = job[key]
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": spec.tuning_job_name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize" if spec.maximize else "Minimize",
                                                 "MetricName": spec.objective},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": spec.max_jobs,
                               "MaxParallelTrainingJobs": spec.max_parallel_jobs},
            "ParameterRanges": parameter_ranges_to_sagemaker(spec.ranges),
            "TrainingJobEarlyStoppingType": "Auto" if spec.early_stopping else "Off",
        },
        "TrainingJobDefinition": definition,
        "Tags": aws_tags(spec.base.tags),
    }
    if spec.warm_start_from:
        request["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": n} for n in spec.warm_start_from],
            "WarmStartType": "IdenticalDataAndAlgorithm",
        }
    return request


def _trial(summary: Mapping[str, Any], tuning_stopped: bool) -> Trial:
    status = JobStatus(summary["TrainingJobStatus"])
    objective = summary.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
    return Trial(job_name=summary["TrainingJobName"], status=status,
                 hyperparameters={k: str(v).strip('"') for k, v in summary.get("TunedHyperParameters", {}).items()},
                 objective=float(objective) if objective is not None else None,
                 # a trial stopped while the tuning job runs on was stopped by early stopping
                 pruned=status == JobStatus.STOPPED and not tuning_stopped)


def tuning_job_from(described: Mapping[str, Any], summaries: list[Mapping[str, Any]]) -> TuningJob:
    """A TuningJob from DescribeHyperParameterTuningJob and the trials' summaries
    (ListTrainingJobsForHyperParameterTuningJob), oldest trial first."""
    status = JobStatus(described["HyperParameterTuningJobStatus"])
    stopped = status in (JobStatus.STOPPING, JobStatus.STOPPED)
    trials = tuple(_trial(s, stopped) for s in sorted(summaries, key=lambda s: str(s.get("CreationTime", ""))))
    best = None
    if described.get("BestTrainingJob"):
        name = described["BestTrainingJob"]["TrainingJobName"]
        best = next((t for t in trials if t.job_name == name), None) or _trial(described["BestTrainingJob"], stopped)
    return TuningJob(tuning_job_name=described["HyperParameterTuningJobName"], status=status, trials=trials, best=best)

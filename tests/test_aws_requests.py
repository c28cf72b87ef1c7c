"""What sagewiz asks SageMaker for, and how it reads the answers — without a network."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from botocore import exceptions as boto

from sagewiz.core.aws.errors import translate
from sagewiz.core.aws.training import training_job_from, training_request
from sagewiz.core.aws.tuning import tuning_job_from, tuning_request
from sagewiz.core.backend import Channel, JobStatus, TrainingSpec, TuningSpec
from sagewiz.core.errors import CloudError, CredentialsError, InputError, NotFoundError, PermissionDeniedError, QuotaError
from sagewiz.core.hyperparams import parse_hyperparameters
from sagewiz.core.tuning_ranges import SEED_TUNING_RANGES

IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
ROLE = "arn:aws:iam::123456789012:role/sagewiz-sagemaker-us-east-1"


def spec(**changes):
    hp = parse_hyperparameters(num_classes=2, num_training_samples=1000, num_layers=18, epochs=5, mini_batch_size=64,
                               learning_rate=0.01, top_k=2)
    base = dict(job_name="cats-dogs", hyperparameters=hp,
                channels=(Channel("train", "s3://b/d/train.rec", "application/x-recordio"),
                          Channel("validation", "s3://b/d/validation.rec", "application/x-recordio")),
                output_uri="s3://b/output", instance_type="ml.p3.2xlarge", tags={"sagewiz:run": "abc"})
    return TrainingSpec(**{**base, **changes})


def test_the_seed_tutorials_job_becomes_one_create_training_job_request():
    request = training_request(spec(), image_uri=IMAGE, role_arn=ROLE)
    assert request["AlgorithmSpecification"] == {"TrainingImage": IMAGE, "TrainingInputMode": "File"}
    assert request["HyperParameters"]["num_layers"] == "18" and request["HyperParameters"]["top_k"] == "2"
    assert request["InputDataConfig"][0]["RecordWrapperType"] == "None"
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://b/d/train.rec"
    assert request["ResourceConfig"] == {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50}
    assert {"Key": "sagewiz:managed", "Value": "true"} in request["Tags"]
    assert "EnableManagedSpotTraining" not in request and "kv_store" not in request["HyperParameters"]


def test_images_and_lst_channels_keep_their_content_type():
    channels = (Channel("train", "s3://b/train/", "application/x-image"), Channel("train_lst", "s3://b/train.lst", "application/x-image"))
    request = training_request(spec(channels=channels), image_uri=IMAGE, role_arn=ROLE)
    assert [(c["ChannelName"], c["ContentType"]) for c in request["InputDataConfig"]] == [
        ("train", "application/x-image"), ("train_lst", "application/x-image")]
    assert "RecordWrapperType" not in request["InputDataConfig"][0]


def test_several_instances_train_together_with_dist_sync():
    request = training_request(spec(instance_count=3), image_uri=IMAGE, role_arn=ROLE)
    assert request["ResourceConfig"]["InstanceCount"] == 3 and request["HyperParameters"]["kv_store"] == "dist_sync"


def test_spot_training_waits_for_capacity_and_checkpoints_to_s3():
    request = training_request(spec(spot=True, max_runtime_seconds=3600), image_uri=IMAGE, role_arn=ROLE)
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert request["CheckpointConfig"]["S3Uri"] == "s3://b/output/cats-dogs/checkpoints"


def test_data_that_is_not_in_s3_is_refused_before_anything_is_sent():
    with pytest.raises(InputError, match="must be in S3"):
        training_request(spec(channels=(Channel("train", "/home/me/train.rec", "application/x-recordio"),)), image_uri=IMAGE, role_arn=ROLE)


def test_a_running_jobs_cost_grows_with_its_running_time_and_ends_with_the_billable_seconds():
    start = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
    described = {"TrainingJobName": "j", "TrainingJobStatus": "InProgress", "SecondaryStatus": "Training",
                 "TrainingStartTime": start, "ResourceConfig": {"InstanceCount": 2},
                 "SecondaryStatusTransitions": [{"Status": "Starting", "StartTime": start}]}
    running = training_job_from(described, price_per_hour=3.0, now=(start + timedelta(minutes=30)).timestamp())
    assert running.cost == pytest.approx(3.0) and running.model_uri is None and running.history[0].status == "Starting"
    done = training_job_from({**described, "TrainingJobStatus": "Completed", "BillableTimeInSeconds": 1200,
                              "ModelArtifacts": {"S3ModelArtifacts": "s3://b/o/j/output/model.tar.gz"}}, price_per_hour=3.0)
    assert done.cost == pytest.approx(1200 / 3600 * 3.0 * 2) and done.model_uri.endswith("model.tar.gz")


def test_a_tuning_request_keeps_the_tuned_hyperparameters_out_of_the_static_ones():
    request = tuning_request(TuningSpec("cats-dogs-tune", spec(), SEED_TUNING_RANGES, max_jobs=6, max_parallel_jobs=2,
                                        warm_start_from=("cats-dogs-tune-0",)), image_uri=IMAGE, role_arn=ROLE)
    config = request["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:accuracy"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    static = request["TrainingJobDefinition"]["StaticHyperParameters"]
    assert "learning_rate" not in static and "mini_batch_size" not in static and static["num_classes"] == "2"
    assert request["WarmStartConfig"]["ParentHyperParameterTuningJobs"] == [{"HyperParameterTuningJobName": "cats-dogs-tune-0"}]


def test_a_tuning_job_name_longer_than_sagemaker_allows_is_refused():
    with pytest.raises(InputError, match="at most 32"):
        tuning_request(TuningSpec("x" * 33, spec(), SEED_TUNING_RANGES, max_jobs=2), image_uri=IMAGE, role_arn=ROLE)


def test_trials_read_in_order_with_early_stopped_ones_marked_pruned():
    summaries = [
        {"TrainingJobName": "t-002", "TrainingJobStatus": "Stopped", "CreationTime": "2", "TunedHyperParameters": {"learning_rate": "0.5"}},
        {"TrainingJobName": "t-001", "TrainingJobStatus": "Completed", "CreationTime": "1",
         "TunedHyperParameters": {"learning_rate": "0.01"}, "FinalHyperParameterTuningJobObjectiveMetric": {"Value": 0.93}},
    ]
    tuning = tuning_job_from({"HyperParameterTuningJobName": "t", "HyperParameterTuningJobStatus": "InProgress",
                              "BestTrainingJob": {"TrainingJobName": "t-001", "TrainingJobStatus": "Completed"}}, summaries)
    assert [t.job_name for t in tuning.trials] == ["t-001", "t-002"]
    assert tuning.trials[1].pruned and not tuning.trials[0].pruned
    assert tuning.best.objective == 0.93 and tuning.status == JobStatus.IN_PROGRESS


def client_error(code, message="", status=400):
    return boto.ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(("error", "kind", "hint_has"), [
    (boto.NoCredentialsError(), CredentialsError, "aws configure"),
    (boto.UnauthorizedSSOTokenError(), CredentialsError, "aws sso login"),
    (client_error("ExpiredTokenException", "The security token included in the request is expired"), CredentialsError, "aws sso login"),
    (client_error("InvalidClientTokenId", "The security token is invalid"), CredentialsError, "aws configure"),
    (client_error("AccessDeniedException", "User is not authorized to perform sagemaker:CreateTrainingJob"), PermissionDeniedError, "administrator"),
    (client_error("ResourceLimitExceeded", "ml.p3.2xlarge for training job usage is 0"), QuotaError, "Service Quotas"),
    (client_error("ThrottlingException", "Rate exceeded"), CloudError, "Wait a minute"),
    (client_error("InternalFailure", "", 500), CloudError, "Wait a minute"),
    (client_error("ValidationException", "Could not find training job 'x'"), NotFoundError, "sagewiz resources"),
    (client_error("ValidationException", "num_classes must be > 1"), InputError, "Change the value"),
    (boto.EndpointConnectionError(endpoint_url="https://sagemaker.eu-west-1.amazonaws.com"), CloudError, "network"),
])
def test_every_aws_failure_becomes_a_message_with_what_to_do(error, kind, hint_has):
    translated = translate(error, "start the training job", profile="work")
    assert type(translated) is kind
    assert translated.message.startswith("Couldn't start the training job")
    assert hint_has in translated.hint
    if kind is CredentialsError and "aws" in translated.hint:
        assert "--profile work" in translated.hint

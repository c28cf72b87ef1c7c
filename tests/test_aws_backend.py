"""The aws backend as a beginner meets it: private storage, a training job they can watch, a
quota that is too small, a run that was killed and resumed, an endpoint that bills until it is
deleted — against moto's server, with the simulated algorithm (tests/sagemaker_sim.py) playing
SageMaker's part."""

from __future__ import annotations

import json
import time

import pytest

from aws_faults import Faults, count_calls, json_error, xml_error
from sagemaker_sim import SageMakerSimulator
from sagewiz.core.backend import (
    Channel,
    EndpointSpec,
    EndpointStatus,
    InstanceOption,
    JobStatus,
    RegionReport,
    TrainingSpec,
    TuningSpec,
)
from sagewiz.core.errors import CredentialsError, QuotaError, WizardError
from sagewiz.core.hyperparams import parse_hyperparameters
from sagewiz.core.ledger import Ledger
from sagewiz.core.tuning_ranges import SEED_TUNING_RANGES

REGION = "us-east-1"
READY = RegionReport(REGION, True,
                     (InstanceOption("ml.g4dn.xlarge", 1, 16.0, 1, 0.736, "bundled table (2026-11)"),),
                     (InstanceOption("ml.m5.large", 0, None, 2, 0.115, "bundled table (2026-11)"),),
                     "ready", "ml.g4dn.xlarge", "ml.m5.large")


@pytest.fixture
def sim(aws_env, fake_aws):  # fake_aws: the Pricing API and Service Quotas, which moto lacks
    with SageMakerSimulator(aws_env, REGION, tick=0.02) as simulator:
        yield simulator


@pytest.fixture
def ledger(tmp_path):
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        yield ledger


def make_backend(ledger):
    from sagewiz.core.aws.backend import AwsBackend

    backend = AwsBackend(ledger=ledger, region=REGION, role_propagation_seconds=0, poll_seconds=0.02)
    backend.region_report = lambda region: READY  # preflight has its own tests (Service Quotas isn't in moto)
    return backend


@pytest.fixture
def backend(sim, ledger):
    return make_backend(ledger)


def data_channels(backend, tmp_path):
    storage = backend.ensure_storage(REGION)
    train, validation = tmp_path / "train.rec", tmp_path / "validation.rec"
    train.write_bytes(b"train records")
    validation.write_bytes(b"validation records")
    return storage, tuple(Channel(name, backend.upload(storage, path, f"run1/data/{path.name}"), "application/x-recordio")
                          for name, path in (("train", train), ("validation", validation)))


def spec(backend, tmp_path, name="cats-dogs-train", **hp):
    storage, channels = data_channels(backend, tmp_path)
    values = {**dict(num_classes=2, num_training_samples=100, num_layers=18, epochs=3, mini_batch_size=16), **hp}
    return TrainingSpec(name, parse_hyperparameters(**values), channels, f"{storage.uri}/run1/output",
                        "ml.g4dn.xlarge", tags={"sagewiz:run": "run1"})


def finished(describe, name, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = describe(name)
        if job.status.finished:
            return job
        time.sleep(0.02)
    raise AssertionError(f"{name} did not finish")


def test_a_training_job_runs_with_live_logs_metrics_and_its_cost(backend, tmp_path):
    job = backend.start_training(spec(backend, tmp_path))
    assert job.status == JobStatus.IN_PROGRESS
    lines = [event.message for event in backend.follow_logs("cats-dogs-train")]
    assert "Epoch[2] Validation-accuracy=" in "\n".join(lines)
    assert all(event.stream.startswith("cats-dogs-train/algo-1-") for event in backend.follow_logs("cats-dogs-train", follow=False))

    job = backend.describe_training("cats-dogs-train")
    assert job.status == JobStatus.COMPLETED
    assert [h.status for h in job.history] == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert job.model_uri.endswith("/run1/output/cats-dogs-train/output/model.tar.gz")
    assert sorted({m.epoch for m in job.metrics}) == [0, 1, 2]
    assert job.cost == pytest.approx(job.billable_seconds / 3600 * 0.736, rel=0.01) or job.cost is None
    [record] = [r for r in backend.ledger.resources(backend="aws") if r.kind == "training-job"]
    assert record.state == "completed" and record.arn_or_url.endswith(":training-job/cats-dogs-train")


def test_what_sagemaker_receives_is_the_algorithm_with_recordio_channels_and_tags(backend, tmp_path, sim):
    backend.start_training(spec(backend, tmp_path))
    described = backend.session.client("sagemaker").describe_training_job(TrainingJobName="cats-dogs-train")
    assert described["AlgorithmSpecification"]["TrainingImage"] == "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
    assert [(c["ChannelName"], c["ContentType"]) for c in described["InputDataConfig"]] == [
        ("train", "application/x-recordio"), ("validation", "application/x-recordio")]
    assert described["HyperParameters"]["num_classes"] == "2" and "kv_store" not in described["HyperParameters"]
    assert described["RoleArn"].endswith(":role/sagewiz-sagemaker-us-east-1")
    tags = backend.session.client("sagemaker").list_tags(ResourceArn=described["TrainingJobArn"])["Tags"]
    assert {"Key": "sagewiz:managed", "Value": "true"} in tags and {"Key": "sagewiz:run", "Value": "run1"} in tags


def test_asking_twice_starts_one_job(backend, tmp_path):
    the_spec = spec(backend, tmp_path)
    creates = count_calls(backend.session.client("sagemaker"), "CreateTrainingJob")
    backend.start_training(the_spec)
    backend.start_training(the_spec)
    assert creates[0] == 1


def test_a_job_the_algorithm_refuses_fails_with_its_one_line_reason(backend, tmp_path):
    backend.start_training(spec(backend, tmp_path, name="too-big-batch", mini_batch_size=64, num_training_samples=40))
    job = finished(backend.describe_training, "too-big-batch")
    assert job.status == JobStatus.FAILED and "mini_batch_size" in job.failure_reason
    assert job.model_uri is None
    assert backend.ledger.find("aws", "training-job", "too-big-batch", REGION).state == "failed"


def test_stopping_keeps_the_model_and_stopping_again_is_harmless(backend, tmp_path):
    backend.start_training(spec(backend, tmp_path, name="long-one", epochs=500))
    while not backend.describe_training("long-one").metrics:
        time.sleep(0.02)
    job = backend.stop_training("long-one")
    assert job.status == JobStatus.STOPPED and job.model_uri
    assert backend.stop_training("long-one").status == JobStatus.STOPPED


def test_zero_gpu_quota_is_a_message_with_what_to_do(backend, tmp_path):
    the_spec = spec(backend, tmp_path, name="no-quota")
    Faults(backend.session.client("sagemaker"), "CreateTrainingJob", [json_error(
        400, "ResourceLimitExceeded",
        "The account-level service limit 'ml.p3.2xlarge for training job usage' is 0 Instances.")])
    with pytest.raises(QuotaError) as caught:
        backend.start_training(the_spec)
    assert "ml.p3.2xlarge for training job usage" in caught.value.message
    assert "Service Quotas" in caught.value.hint and "sagewiz regions" in caught.value.hint
    assert backend.ledger.find("aws", "training-job", "no-quota", REGION).state == "failed"


def test_throttling_and_server_errors_are_retried_without_the_user_noticing(backend, tmp_path):
    backend.start_training(spec(backend, tmp_path))
    client = backend.session.client("sagemaker")
    faults = Faults(client, "DescribeTrainingJob", [json_error(400, "ThrottlingException", "Rate exceeded"),
                                                    json_error(500, "InternalFailure", "oops"),
                                                    json_error(503, "ServiceUnavailable", "busy")])
    assert backend.describe_training("cats-dogs-train").job_name == "cats-dogs-train"
    assert faults.calls == 4  # three failures, then the real answer


def test_expired_credentials_say_how_to_sign_in_again(fake_aws, ledger):
    backend = make_backend(ledger)
    Faults(backend.session.client("sts"), "GetCallerIdentity",
           [xml_error(403, "ExpiredToken", "The security token included in the request is expired")])
    with pytest.raises(CredentialsError) as caught:
        backend.ensure_storage(REGION)
    assert "expired" in caught.value.message and "aws sso login" in caught.value.hint
    assert "testing" not in caught.value.message + caught.value.hint  # never a secret


def test_no_credentials_at_all_is_a_message_not_a_traceback(fake_aws, ledger, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    backend = make_backend(ledger)
    with pytest.raises(CredentialsError) as caught:
        backend.ensure_storage(REGION)
    assert "no AWS credentials" in caught.value.message and "aws configure" in caught.value.hint


def test_a_run_killed_after_the_bucket_and_resumed_creates_nothing_twice(sim, ledger, tmp_path):
    first = make_backend(ledger)
    the_spec = spec(first, tmp_path)  # storage and upload done; then the computer died
    ledger.intend("aws", "training-job", the_spec.job_name, region=REGION)  # recorded, never created

    again = make_backend(ledger)  # a new process reading the same ledger
    s3, iam, sagemaker = (again.session.client(name) for name in ("s3", "iam", "sagemaker"))
    made = {op: count_calls(client, op) for client, op in ((s3, "CreateBucket"), (iam, "CreateRole"), (sagemaker, "CreateTrainingJob"))}
    again.ensure_storage(REGION)
    again.start_training(the_spec)
    again.start_training(the_spec)
    assert {op: n[0] for op, n in made.items()} == {"CreateBucket": 0, "CreateRole": 0, "CreateTrainingJob": 1}
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["sagewiz-123456789012-us-east-1"]
    assert len(sagemaker.list_training_jobs()["TrainingJobSummaries"]) == 1
    kinds = sorted(r.kind for r in ledger.resources(backend="aws"))
    assert kinds == ["bucket", "role", "training-job"]


def test_an_endpoint_answers_until_it_is_deleted_and_then_nothing_is_left(backend, tmp_path):
    backend.start_training(spec(backend, tmp_path))
    job = finished(backend.describe_training, "cats-dogs-train")
    stages = []
    endpoint = backend.deploy(EndpointSpec("cats-dogs-endpoint", job.model_uri, "ml.m5.large"), progress=stages.append)
    assert endpoint.status == EndpointStatus.IN_SERVICE
    assert any("Creating" in s for s in stages) and any("InService" in s for s in stages)
    prediction = backend.predict("cats-dogs-endpoint", b"\xff\xd8 a jpeg", "image/jpeg")
    assert prediction.top(1)[0][0] == 0 and len(prediction.probabilities) == 2

    [record] = [r for r in backend.resources() if r.kind == "endpoint"]
    assert record.cost_per_hour == pytest.approx(0.115)
    backend.delete(record)
    client = backend.session.client("sagemaker")
    assert client.list_endpoints()["Endpoints"] == [] and client.list_models()["Models"] == []
    assert client.list_endpoint_configs()["EndpointConfigs"] == []
    with pytest.raises(WizardError):
        backend.predict("cats-dogs-endpoint", b"\xff\xd8", "image/jpeg")


def test_endpoints_the_ledger_lost_are_found_by_their_tag(backend, tmp_path):
    backend.start_training(spec(backend, tmp_path))
    job = finished(backend.describe_training, "cats-dogs-train")
    backend.deploy(EndpointSpec("forgotten", job.model_uri, "ml.m5.large"))
    client = backend.session.client("sagemaker")
    client.create_endpoint_config(EndpointConfigName="someone-elses", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "forgotten", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    client.create_endpoint(EndpointName="someone-elses", EndpointConfigName="someone-elses")  # no sagewiz tag

    with Ledger(tmp_path / "new-ledger.sqlite3") as fresh:  # the old ledger is gone
        found = make_backend(fresh).resources()
    assert [(r.kind, r.name) for r in found] == [("endpoint", "forgotten")]


def test_tuning_runs_the_trials_and_names_the_best(backend, tmp_path):
    base = spec(backend, tmp_path, epochs=1)
    backend.start_tuning(TuningSpec("cats-dogs-tune", base, SEED_TUNING_RANGES, max_jobs=3, max_parallel_jobs=2))
    tuning = finished(backend.describe_tuning, "cats-dogs-tune")
    assert tuning.status == JobStatus.COMPLETED and len(tuning.trials) == 3
    assert all(t.job_name.startswith("cats-dogs-tune-") and t.objective is not None for t in tuning.trials)
    assert tuning.best.objective == max(t.objective for t in tuning.trials)
    assert set(tuning.trials[0].hyperparameters) == {r.name for r in SEED_TUNING_RANGES}
    described = backend.session.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="cats-dogs-tune")
    static = described["TrainingJobDefinition"]["StaticHyperParameters"]
    assert "learning_rate" not in static and static["num_classes"] == "2"


def test_incremental_training_sends_the_earlier_model_as_the_model_channel(backend, tmp_path):
    first = spec(backend, tmp_path)
    backend.start_training(first)
    model = finished(backend.describe_training, first.job_name).model_uri
    more = TrainingSpec("cats-dogs-more", first.hyperparameters, first.channels + (Channel("model", model, "application/x-sagemaker-model"),),
                        first.output_uri, first.instance_type)
    backend.start_training(more)
    described = backend.session.client("sagemaker").describe_training_job(TrainingJobName="cats-dogs-more")
    assert described["InputDataConfig"][-1]["ChannelName"] == "model"
    assert described["InputDataConfig"][-1]["ContentType"] == "application/x-sagemaker-model"
    assert finished(backend.describe_training, "cats-dogs-more").status == JobStatus.COMPLETED


def test_clean_up_deletes_the_bucket_and_role_too(backend, tmp_path):
    spec(backend, tmp_path)
    for resource in backend.resources():
        backend.delete(resource)
    assert backend.resources() == []
    assert backend.session.client("s3").list_buckets()["Buckets"] == []
    assert "sagewiz-sagemaker-us-east-1" not in json.dumps(backend.session.client("iam").list_roles()["Roles"])


def test_an_account_that_may_not_create_roles_uses_its_existing_sagemaker_role(sim, ledger):
    backend = make_backend(ledger)
    iam = backend.session.client("iam")
    iam.create_role(RoleName="AmazonSageMaker-ExecutionRole-2026", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    Faults(iam, "CreateRole", [xml_error(403, "AccessDenied", "User is not authorized to perform: iam:CreateRole")])
    storage = backend.ensure_storage(REGION)
    assert backend.role_arn.endswith(":role/AmazonSageMaker-ExecutionRole-2026")
    assert "existing role AmazonSageMaker-ExecutionRole-2026" in storage.protections[-1]
    assert [r.kind for r in backend.ledger.resources(backend="aws")] == ["bucket"]  # no role of sagewiz's to clean up


def test_an_account_that_may_not_create_roles_and_has_none_is_told_what_to_ask_for(sim, ledger):
    backend = make_backend(ledger)
    Faults(backend.session.client("iam"), "CreateRole", [xml_error(403, "AccessDenied", "not authorized: iam:CreateRole")])
    with pytest.raises(WizardError) as caught:
        backend.ensure_storage(REGION)
    assert "no existing role" in caught.value.message and "administrator" in caught.value.hint

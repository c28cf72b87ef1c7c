"""One model, both worlds: a model trained on SageMaker tested on this computer for free, and one
trained here continued on SageMaker — as a user types it (`sagewiz run`), against moto with the
simulated algorithm leaving real SageMaker-layout archives (only SageMaker's three members)."""

from __future__ import annotations

import json
import tarfile

import pytest
from sagemaker_sim import SageMakerSimulator
from test_aws_cli import account, home  # noqa: F401 - fixtures: a sagewiz home, an account with GPU quota

from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.ledger import Ledger
from sagewiz.core.model.archive import SAGEWIZ_MEMBER, read_archive
from sagewiz.tui.cli import main

FAST = ["--hp", "epochs=2", "--hp", "mini_batch_size=16"]


@pytest.fixture
def digits(tmp_path):
    write_sample_dataset(tmp_path / "digits", size=28, classes=[0, 1, 7], seed=3)
    return tmp_path / "digits"


def run_json(capsys, *args) -> dict:
    code = main(["run", *args, "--yes", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_a_model_trained_on_sagemaker_is_tested_on_this_computer_with_no_endpoint_made(account, aws_env, digits, home, capsys):
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02, real_models=True) as sim:
        summary = run_json(capsys, "--backend", "aws", "--region", "us-east-1", "--data", str(digits), *FAST, "--test-here")
        # every test picture was answered here, by sagewiz's engine on the SageMaker archive
        assert summary["evaluation"]["evaluated"] == summary["dataset"]["test"] > 0
        assert summary["endpoint"]["backend"] == "local" and summary["endpoint"]["deleted"]
        assert summary["endpoint"]["url"].startswith("http://127.0.0.1:")
        assert not sim.endpoints_seen and not sim.invocations and sim.backend.endpoints == {}
        assert not sim.backend.endpoint_configs and not sim.backend._models
    with Ledger(home / "ledger.sqlite3") as ledger:
        kinds = {(r.backend, r.kind) for r in ledger.resources(include_deleted=True)}
    assert ("aws", "endpoint") not in kinds and ("local", "endpoint") in kinds
    # what was downloaded is SageMaker's archive, kept in the sagewiz home for the next use
    kept = summary["tested_here"]["model"]
    assert kept.startswith(str(home / "models" / "aws")) and kept.endswith("model.tar.gz")
    with tarfile.open(kept) as tar:
        assert SAGEWIZ_MEMBER not in tar.getnames()


def test_test_here_is_refused_where_it_means_nothing(digits, capsys):
    assert main(["run", "--data", str(digits), "--test-here", "--yes"]) == 1
    assert "--test-here is for --backend aws" in capsys.readouterr().err


def test_a_model_trained_here_learns_on_on_sagemaker_from_its_own_weights(account, aws_env, digits, capsys):
    local = run_json(capsys, "--data", str(digits), *FAST, "--hp", "num_layers=20")
    local_job = local["training"]["job_name"]
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02, real_models=True) as sim:
        summary = run_json(capsys, "--backend", "aws", "--region", "us-east-1", "--data", str(digits), *FAST,
                           "--continue-from", local_job)
        assert summary["continued_from"] == local_job and summary["training"]["status"] == "Completed"
        job = sim.backend.training_jobs[summary["training"]["job_name"]]
        [channel] = [c for c in job.input_data_config if c["ChannelName"] == "model"]
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        assert uri.startswith("s3://sagewiz-123456789012-us-east-1/") and uri.endswith("/model/model.tar.gz")
        assert channel["ContentType"] == "application/x-sagemaker-model"
        # the algorithm read the local archive as its own and went on from its weights
        assert job.hyper_parameters["num_layers"] == "20" and job.hyper_parameters["image_shape"] == "3,28,28"
        bucket, key = summary["training"]["model_uri"][len("s3://"):].split("/", 1)
        continued = sim.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        # deployed to a SageMaker endpoint and tested there, then deleted
        assert summary["endpoint"]["instance_type"] == "ml.m5.large" and summary["endpoint"]["deleted"]
        assert len(sim.invocations) == summary["dataset"]["test"]
    path = local["training"]["model_uri"][len("file://"):]
    _, mine = read_archive(path)
    out = digits.parent / "continued.tar.gz"
    out.write_bytes(continued)
    _, theirs = read_archive(out)
    assert mine.keys() == theirs.keys() and all((mine[k] == theirs[k]).all() for k in mine)


def test_a_sagemaker_model_learns_on_on_this_computer(account, aws_env, digits, capsys):
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02, real_models=True):
        aws = run_json(capsys, "--backend", "aws", "--region", "us-east-1", "--data", str(digits), *FAST, "--test-here")
        summary = run_json(capsys, "--data", str(digits), *FAST, "--continue-from", aws["training"]["job_name"])
    assert summary["continued_from"] == aws["training"]["job_name"] and summary["training"]["status"] == "Completed"
    assert summary["evaluation"]["evaluated"] == summary["dataset"]["test"]


def test_a_model_of_other_classes_is_refused_before_anything_is_trained(account, aws_env, digits, tmp_path, capsys):
    write_sample_dataset(tmp_path / "two", size=28, classes=[3, 5], seed=3)
    local = run_json(capsys, "--data", str(tmp_path / "two"), *FAST)
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02, real_models=True) as sim:
        assert main(["run", "--backend", "aws", "--region", "us-east-1", "--data", str(digits), *FAST,
                     "--continue-from", local["training"]["job_name"], "--yes"]) == 1
        err = " ".join(capsys.readouterr().err.split())  # as read, not as the terminal wrapped it
        assert "tells 2 classes apart, but these pictures have 3" in err and "Traceback" not in err
        assert sim.backend.training_jobs == {}


def test_a_model_trained_here_is_deployed_to_a_sagemaker_endpoint_and_cleaned_up(account, aws_env, digits, capsys):
    from sagewiz.core.aws.catalog import image_uri

    local = run_json(capsys, "--data", str(digits), *FAST)
    job = local["training"]["job_name"]
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02, real_models=True) as sim:
        assert main(["deploy", job, "--backend", "aws", "--region", "us-east-1", "--yes", "--json"]) == 0
        deployed = json.loads(capsys.readouterr().out)
        assert deployed["status"] == "InService" and deployed["instance_type"] == "ml.m5.large"
        assert deployed["classes"] == ["digit_0", "digit_1", "digit_7"] and deployed["price_per_hour"] > 0
        [model] = sim.backend._models.values()
        # the algorithm's own inference image serves the archive sagewiz wrote, uploaded into the private bucket
        assert model.primary_container["Image"] == image_uri("us-east-1")
        assert model.primary_container["ModelDataUrl"] == deployed["model_uri"]
        assert deployed["model_uri"].startswith("s3://sagewiz-123456789012-us-east-1/models/")
        assert len(sim.answer_for(deployed["endpoint"])) == 3  # the endpoint knows the archive's three classes
        assert main(["cleanup", "--backend", "aws", "--yes"]) == 0
        assert sim.backend.endpoints == {} and sim.backend._models == {}


def test_a_file_that_is_no_model_is_refused_before_anything_is_uploaded(account, aws_env, tmp_path, capsys):
    fake = tmp_path / "model.tar.gz"
    fake.write_bytes(b"not a tar at all")
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02) as sim:
        assert main(["deploy", str(fake), "--backend", "aws", "--region", "us-east-1", "--yes"]) == 1
        err = " ".join(capsys.readouterr().err.split())
        assert "is not a readable model archive" in err and "Traceback" not in err
        assert sim.s3.list_buckets()["Buckets"] == [] and sim.backend.endpoints == {}


def test_deploying_to_sagemaker_asks_first(account, aws_env, digits, tmp_path, capsys, monkeypatch):
    local = run_json(capsys, "--data", str(digits), *FAST)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["deploy", local["training"]["job_name"], "--backend", "aws", "--region", "us-east-1"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "billed per hour until `sagewiz cleanup` deletes it, and needs your go-ahead" in err and "--yes" in err

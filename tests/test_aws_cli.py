"""The scriptable commands on AWS: `sagewiz setup`, `sagewiz run --backend aws` and
`sagewiz cleanup`, exactly as a user types them — against moto with the simulated algorithm."""

from __future__ import annotations

import json

import pytest

from sagemaker_sim import SageMakerSimulator
from sagewiz.tui.cli import main


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("sagewiz.core.aws.logs.POLL_SECONDS", 0.05)  # the simulated jobs take a second, not an hour
    monkeypatch.setattr("sagewiz.core.aws.backend.ROLE_PROPAGATION_SECONDS", 0.0)
    return tmp_path / "home"


@pytest.fixture
def account(fake_aws):
    """A new account with GPU quota in us-east-1 only."""
    fake_aws.quotas["us-east-1"] = {"ml.g4dn.xlarge for training job usage": 1.0, "ml.m5.large for endpoint usage": 1.0}
    return fake_aws


def test_setup_creates_the_bucket_and_role_once_and_prints_their_names(account, capsys):
    assert main(["setup", "--backend", "aws", "--region", "eu-west-1", "--yes", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["storage"] == "s3://sagewiz-123456789012-eu-west-1"
    assert first["role_arn"] == "arn:aws:iam::123456789012:role/sagewiz-sagemaker-eu-west-1"
    assert first["account"] == "123456789012" and len(first["protections"]) >= 4
    assert main(["setup", "--backend", "aws", "--region", "eu-west-1", "--yes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == first


def test_setup_without_yes_and_without_a_terminal_asks_for_yes(account, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["setup", "--backend", "aws", "--region", "eu-west-1"]) == 1
    err = capsys.readouterr().err
    assert "needs your go-ahead" in err and "--yes" in err and "Traceback" not in err


def test_setup_without_credentials_says_how_to_sign_in(aws_env, capsys, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert main(["setup", "--backend", "aws", "--region", "eu-west-1", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "AWS sign-in needed" in err and "aws configure" in err and "Traceback" not in err


def test_the_whole_journey_runs_on_sagemaker_and_cleans_up(account, aws_env, tmp_path, capsys):
    from sagewiz.core.dataset.sample import write_sample_dataset

    write_sample_dataset(tmp_path / "digits", size=28, classes=[0, 1, 7], seed=3)
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02) as sim:
        code = main(["run", "--backend", "aws", "--region", "us-east-1", "--data", str(tmp_path / "digits"),
                     "--hp", "epochs=3", "--yes", "--json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        summary = json.loads(out)
        assert summary["backend"] == "aws" and summary["training"]["status"] == "Completed"
        assert [e["epoch"] for e in summary["training"]["epochs"]] == [0, 1, 2]
        assert summary["training"]["model_uri"].startswith("s3://sagewiz-123456789012-us-east-1/")
        assert summary["endpoint"]["instance_type"] == "ml.m5.large" and summary["endpoint"]["deleted"]
        # the simulated endpoint always answers "the first class": a third of the test pictures
        assert 0.2 < summary["test_accuracy"] < 0.5
        assert len(sim.invocations) == summary["dataset"]["test"]  # every test picture went to the endpoint
        assert {content for _, content, _ in sim.invocations} <= {"image/png", "image/jpeg", "application/x-image"}
        described = sim.backend.training_jobs[summary["training"]["job_name"]]
        assert described.resource_config["InstanceType"] == "ml.g4dn.xlarge"
        assert sim.backend.endpoints == {}


def test_a_kept_endpoint_is_listed_with_its_cost_and_cleanup_deletes_it(account, aws_env, tmp_path, capsys):
    from sagewiz.core.dataset.sample import write_sample_dataset

    write_sample_dataset(tmp_path / "digits", size=28, classes=[0, 1], seed=3)
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02) as sim:
        assert main(["run", "--backend", "aws", "--region", "us-east-1", "--data", str(tmp_path / "digits"),
                     "--hp", "epochs=2", "--keep-endpoint", "--yes"]) == 0
        assert "still running on ml.m5.large" in capsys.readouterr().err
        assert main(["resources", "--backend", "aws", "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        [endpoint] = [r for r in listed if r["kind"] == "endpoint"]
        assert endpoint["state"] == "active" and endpoint["cost_per_hour"] > 0
        assert main(["cleanup", "--backend", "aws", "--yes"]) == 0
        assert sim.backend.endpoints == {}
        assert main(["resources", "--backend", "aws", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == []


def test_spot_training_on_two_machines_is_asked_for_with_two_flags(account, aws_env, tmp_path, capsys):
    from sagewiz.core.dataset.sample import write_sample_dataset

    write_sample_dataset(tmp_path / "digits", size=28, classes=[0, 1], seed=3)
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02) as sim:
        assert main(["run", "--backend", "aws", "--region", "us-east-1", "--data", str(tmp_path / "digits"),
                     "--hp", "epochs=2", "--spot", "--instances", "2", "--yes", "--json"]) == 0
        job = sim.backend.training_jobs[json.loads(capsys.readouterr().out)["training"]["job_name"]]
        assert job.enable_managed_spot_training and job.resource_config["InstanceCount"] == 2
        assert job.hyper_parameters["kv_store"] == "dist_sync" and job.checkpoint_config["S3Uri"].startswith("s3://")


def test_spot_and_several_machines_are_refused_on_this_computer(tmp_path, capsys):
    from sagewiz.core.dataset.sample import write_sample_dataset

    write_sample_dataset(tmp_path / "digits", size=28, classes=[0, 1], seed=3)
    assert main(["run", "--data", str(tmp_path / "digits"), "--spot", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "Spot training and several instances are for AWS" in err and "Traceback" not in err


def test_an_endpoint_type_the_region_does_not_offer_is_refused_with_the_choices(account, aws_env, tmp_path, capsys):
    from sagewiz.core.dataset.sample import write_sample_dataset

    write_sample_dataset(tmp_path / "digits", size=28, classes=[0, 1], seed=3)
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02):
        assert main(["run", "--backend", "aws", "--region", "us-east-1", "--data", str(tmp_path / "digits"),
                     "--hp", "epochs=1", "--endpoint-instance", "ml.x9.huge", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "doesn't offer ml.x9.huge for endpoints" in err and "ml.m5.large" in err and "Traceback" not in err

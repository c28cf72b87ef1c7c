"""Resuming a run, as a user meets it after something went wrong: the training process was killed
(the run trains again instead of finding the failed job forever), on this computer and on
SageMaker; and two resumes of one run at once (the second is told another sagewiz is at it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.journey import JobFailedError, JourneyOptions, train_model
from sagewiz.core.ledger import Ledger
from sagewiz.core.local import job as jobs
from sagewiz.core.local.backend import LocalBackend
from sagewiz.tui.cli import main

FAST = {"epochs": "1", "mini_batch_size": "16"}
RUN = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("sagewiz.core.aws.logs.POLL_SECONDS", 0.05)  # the simulated jobs take a second, not an hour
    monkeypatch.setattr("sagewiz.core.aws.backend.ROLE_PROPAGATION_SECONDS", 0.0)
    return tmp_path / "home"


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    write_sample_dataset(root, size=28, classes=[3, 8], seed=5)
    return root


def trainings(ledger: Ledger) -> dict[str, str]:
    return {r.name: r.state for r in ledger.resources(include_deleted=True) if r.kind == "training-job"}


def test_a_run_whose_training_process_was_killed_trains_again_when_resumed(home, digits):
    with Ledger(home / "ledger.sqlite3") as ledger:
        backend = LocalBackend(home, ledger)
        killed = []

        def kill_the_engine(event):  # as the computer's out-of-memory killer would, once it trains
            if event.kind == "log" and not killed:
                pid = jobs.read_status(backend.job_dir("sagewiz-01234567-train"))["pid"]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        with pytest.raises(JobFailedError) as failed:
            train_model(backend, JourneyOptions(digits, FAST), RUN, kill_the_engine)
        assert "ended unexpectedly" in failed.value.message and "--resume" in failed.value.hint

        resumed = train_model(backend, JourneyOptions(digits, FAST), RUN)

        assert resumed.summary["training"]["job_name"] == "sagewiz-01234567-train-2"
        assert resumed.summary["training"]["status"] == "Completed" and resumed.model_uri
        assert trainings(ledger) == {"sagewiz-01234567-train": "failed", "sagewiz-01234567-train-2": "completed"}


@pytest.fixture
def account(fake_aws):
    """A new account with GPU quota in us-east-1 only."""
    fake_aws.quotas["us-east-1"] = {"ml.g4dn.xlarge for training job usage": 1.0, "ml.m5.large for endpoint usage": 1.0}
    return fake_aws


def test_on_sagemaker_a_run_whose_training_failed_trains_again_when_resumed(account, aws_env, home, tmp_path, capsys):
    from sagemaker_sim import SageMakerSimulator

    write_sample_dataset(tmp_path / "digits", size=28, classes=[0, 1], seed=3)
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02) as sim:
        sim.fail_next = "AlgorithmError: the training process was killed (out of memory)"
        assert main(["run", "--backend", "aws", "--region", "us-east-1", "--data", str(tmp_path / "digits"),
                     "--hp", "epochs=2", "--yes"]) == 1
        assert "ended Failed" in capsys.readouterr().err

        assert main(["run", "--resume", "--yes", "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)

        first = summary["training"]["job_name"].removesuffix("-2")
        assert summary["training"]["job_name"] == f"{first}-2" and summary["training"]["status"] == "Completed"
        assert sim.backend.training_jobs[first].training_job_status == "Failed"  # kept as it ended, not started twice
    with Ledger(home / "ledger.sqlite3") as ledger:
        assert trainings(ledger) == {first: "failed", f"{first}-2": "completed"}
        assert not ledger.unfinished_runs()

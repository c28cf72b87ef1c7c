"""Settings whose network can't be built stop `sagewiz run` before anything is packed, uploaded
or started, on this computer and on SageMaker (where the failed job would be billed), with the
same sentence the settings check says; `sagewiz resources` shows no job afterwards."""

from __future__ import annotations

import json

import pytest

from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.journey import packed_folder
from sagewiz.tui.cli import main

IMPOSSIBLE = ["--hp", "num_layers=20", "--hp", "image_shape=3,32,32"]  # a 28-px depth at 32 px
SAID = "num_layers 20 does not match image_shape 3,32,32"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def pictures(tmp_path):
    write_sample_dataset(tmp_path / "digits", size=32, classes=[0, 1], seed=3)
    return tmp_path / "digits"


def test_on_this_computer_the_run_stops_with_the_reason_and_nothing_is_packed_or_started(pictures, capsys):
    assert main(["run", "--data", str(pictures), *IMPOSSIBLE, "--yes"]) == 1
    err = capsys.readouterr().err
    assert SAID in " ".join(err.split()) and "can't be built" in " ".join(err.split()) and "Traceback" not in err
    assert not packed_folder(pictures).exists()
    assert main(["resources", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert not [r for r in listed if r["kind"] in ("training-job", "tuning-job", "packed-pictures")]


def test_on_sagemaker_no_training_job_is_created(fake_aws, aws_env, pictures, capsys):
    from sagemaker_sim import SageMakerSimulator

    fake_aws.quotas["us-east-1"] = {"ml.g4dn.xlarge for training job usage": 1.0, "ml.m5.large for endpoint usage": 1.0}
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02) as sim:
        code = main(["run", "--backend", "aws", "--region", "us-east-1", "--data", str(pictures), *IMPOSSIBLE, "--yes", "--json"])
        out, err = capsys.readouterr()
        assert code == 1 and SAID in " ".join((out + err).split()) and "Traceback" not in err
        assert sim.backend.training_jobs == {}
    assert not packed_folder(pictures).exists()  # nothing packed, so nothing uploaded either

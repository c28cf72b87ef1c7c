"""The wizard crosses between the backends: a model trained on this computer chosen on the
Incremental step learns on on SageMaker (moto + the simulated algorithm)."""

from __future__ import annotations

import pytest

from pilot_steps import click, wait_for
from test_tui import run_async, screen_name, text_of
from test_tui_aws import new_account, through_region_and_storage, until_trained_on_sagemaker  # noqa: F401 - new_account: a fixture

from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.tui.app import SagewizApp
from sagewiz.tui.state import WizardState


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("sagewiz.core.aws.logs.POLL_SECONDS", 0.05)
    monkeypatch.setattr("sagewiz.core.aws.backend.ROLE_PROPAGATION_SECONDS", 0.0)
    return tmp_path / "home"


@run_async
async def test_a_model_trained_here_learns_on_on_sagemaker_from_the_incremental_step(new_account, aws_env, tmp_path):  # noqa: F811
    from sagemaker_sim import SageMakerSimulator

    from sagewiz.tui.cli import main

    write_sample_dataset(tmp_path / "digits", size=28, classes=[0, 1], seed=1)
    assert main(["run", "--data", str(tmp_path / "digits"), "--hp", "epochs=1", "--yes"]) == 0  # yesterday's model, trained here
    app = SagewizApp(WizardState(data_dir=str(tmp_path / "digits")), unfinished_runs=True)
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02, real_models=True) as sim:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen" and app.screen.query("#continue"))
            await click(pilot, "#continue")
            await wait_for(pilot, lambda: screen_name(app) == "IncrementalScreen" and app.screen.jobs, what="the earlier jobs")
            job = app.screen.jobs[0].name
            where = app.screen.query_one("#learns-on")
            assert where.value == "local"  # where it was trained, unless the user says otherwise
            where.value = "aws"
            await pilot.pause()
            await click(pilot, "#next")
            assert app.state.backend == "aws" and app.state.continue_from == job

            await wait_for(pilot, lambda: screen_name(app) == "DatasetScreen" and not app.screen.query_one("#next").disabled)
            await click(pilot, "#next")
            await wait_for(pilot, lambda: screen_name(app) == "RegionScreen")
            await through_region_and_storage(pilot)
            await wait_for(pilot, lambda: screen_name(app) == "SettingsScreen" and app.screen.query("#epochs"))
            assert f"Continuing the model of {job}" in text_of(app, ".lead")
            app.screen.query_one("#epochs").value = "1"
            await pilot.pause()
            await click(pilot, "#next")
            await until_trained_on_sagemaker(pilot)
            assert app.state.trained.summary["continued_from"] == job
    [trained] = [j for name, j in sim.backend.training_jobs.items() if name == app.state.trained.summary["model_from"]]
    assert [c for c in trained.input_data_config if c["ChannelName"] == "model"]  # the local model went in as the model channel

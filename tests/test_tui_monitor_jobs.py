"""Following a job in `sagewiz monitor`, as someone whose training job was started from a notebook
meets it: picked in the list (or named: `sagewiz monitor JOB`), its status transitions, every log
line and the accuracy per epoch as the simulated algorithm writes them, its settings and channels,
followed to Completed; then its model asked about a picture. A tuning job's trials live, the best
starred; the local backend's jobs in the same screens; the wizard's welcome offering the monitor."""

from __future__ import annotations

import boto3
import pytest

from monitor_account import REGION, ROLE, sagemaker
from pilot_steps import click, wait_for
from sagemaker_sim import SageMakerSimulator
from sagewiz.core.monitor import Monitor
from sagewiz.tui.monitor_app import MonitorApp
from test_tui_monitor import aws_env, home, ledger  # noqa: F401 - fixtures, shared
from test_tui import run_async, screen_name, text_of
from test_tui_monitor import listed, pick, shown

SIZE = (120, 40)
BUCKET = "tutorial-bucket"
HYPERPARAMETERS = {"epochs": "3", "num_layers": "20", "num_classes": "2", "image_shape": "3,28,28",
                   "num_training_samples": "100", "mini_batch_size": "10"}


class SteppedSimulator(SageMakerSimulator):
    """The simulated algorithm, moved on one step at a time by the test: a job is seen running
    however slowly the test machine draws, and ends when the test lets it."""

    def start(self) -> "SteppedSimulator":
        self._install()
        return self

    def stop(self) -> None:
        self._uninstall()


@pytest.fixture
def bucket(aws_env):
    """Where the simulated algorithm writes its models."""
    s3 = boto3.client("s3", region_name=REGION)
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def sim(aws_env, bucket):
    with SteppedSimulator(aws_env, REGION, real_models=True) as simulator:
        yield simulator


def start_job(sm, name: str) -> None:
    """A training job started from a notebook (not by sagewiz): the tutorial's algorithm, settings, channel."""
    sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE, HyperParameters=HYPERPARAMETERS,
        AlgorithmSpecification={"TrainingImage": "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1",
                                "TrainingInputMode": "File"},
        InputDataConfig=[{"ChannelName": "train", "ContentType": "application/x-recordio",
                          "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/train/",
                                                          "S3DataDistributionType": "FullyReplicated"}}}],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.p2.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 3600})


def a_picture(path) -> str:
    from PIL import Image

    Image.new("RGB", (28, 28), (200, 30, 30)).save(path)
    return str(path)


async def until(pilot, sim, condition, what: str, steps: int = 40) -> None:
    """Let the simulated job move on, a step at a time, until ``condition`` holds on screen."""
    for _ in range(steps):
        if condition():
            return
        sim.step()
        await pilot.pause(0.3)
    await wait_for(pilot, condition, timeout=20, what=what)


@run_async
async def test_a_job_started_elsewhere_is_followed_live_to_completed_and_its_model_asked_about_a_picture(
        aws_env, sim, ledger, tmp_path):
    start_job(sagemaker(aws_env), "notebook-training")
    with Monitor("aws", region=REGION, ledger=ledger, live_prices=False, refresh_s=0.3) as monitor:
        app = MonitorApp(monitor, log_poll_s=0.05)
        async with app.run_test(size=SIZE) as pilot:
            await listed(pilot)
            await pick(pilot, "notebook-training")
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen_name(app) == "MonitorJobScreen" and app.screen.detail is not None)
            job = app.screen
            assert job.detail.status == "InProgress" and "Training job notebook-training" in text_of(app, "#title")
            assert "not sagewiz's" in text_of(app, "#title")
            await until(pilot, sim, lambda: len(job.query_one("#chart").validation) == 2, "two epochs on the chart")
            assert "▸" in text_of(app, "#history") and "Training" in text_of(app, "#history")  # still running
            await until(pilot, sim, lambda: job.log_over and job.detail.finished, "the job to end")
            assert job.detail.status == "Completed"
            history = text_of(app, "#history")
            assert [s for s in ("Starting", "Downloading", "Training", "Uploading", "Completed") if s in history] == \
                ["Starting", "Downloading", "Training", "Uploading", "Completed"]
            log = "\n".join(line.text for line in job.query_one("#log").lines)
            assert "Epoch[2] Validation-accuracy=" in log and "Reading the data from /opt/ml/input/data/train" in log
            assert len(job.query_one("#chart").validation) == 3
            settings = text_of(app, "#settings")
            assert "epochs = 3" in settings and f"train: s3://{BUCKET}/train/ (application/x-recordio)" in settings
            assert "Final metrics: validation:accuracy" in text_of(app, "#final")
            outcome = text_of(app, "#outcome")
            assert outcome.startswith("Completed.") and "model.tar.gz" in outcome and "p asks it about a picture" in outcome
            # the journey's next steps for a model trained elsewhere, as the commands that take them
            flat = " ".join(outcome.split())
            assert "sagewiz deploy notebook-training --region us-east-1" in flat
            assert "--continue-from notebook-training" in flat
            await pilot.press("p")
            await wait_for(pilot, lambda: screen_name(app) == "AskScreen")
            app.screen.query_one("#picture").value = a_picture(tmp_path / "red.png")
            await click(pilot, "#ask-button")
            await wait_for(pilot, lambda: app.screen.answer, timeout=120, what="the model's answer")
            assert {name for name, _ in app.screen.answer} == {"class 0", "class 1"}
            assert sum(p for _, p in app.screen.answer) == pytest.approx(1, abs=1e-3)
            await pilot.press("escape")
            await pilot.press("escape")
            await wait_for(pilot, lambda: screen_name(app) == "MonitorScreen")


@run_async
async def test_monitor_job_opens_on_that_job_and_esc_shows_everything_else(aws_env, sim, ledger):
    start_job(sagemaker(aws_env), "notebook-training")
    with Monitor("aws", region=REGION, ledger=ledger, live_prices=False, refresh_s=0.3) as monitor:
        app = MonitorApp(monitor, job="notebook-training", log_poll_s=0.05)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: screen_name(app) == "MonitorJobScreen" and app.screen.detail is not None)
            assert "epochs = 3" in text_of(app, "#settings")
            await until(pilot, sim, lambda: "ml.p2.xlarge ×1" in text_of(app, "#job-summary"), "the list's figures")
            assert "$1.125/hour" in text_of(app, "#job-summary")
            await pilot.press("escape")
            await listed(pilot)
            assert "Training jobs (1)" in shown(app) and "notebook-training" in shown(app)


@pytest.fixture
def tuning_sim(aws_env, bucket):
    with SteppedSimulator(aws_env, REGION) as simulator:
        yield simulator


def start_tuning(sm, name: str, trials: int = 3) -> None:
    """A tuning job started from a notebook, as the tutorial tunes: the learning rate, one trial at a time."""
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:accuracy"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": trials, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0.001", "MaxValue": "0.1"}]}},
        TrainingJobDefinition={
            "StaticHyperParameters": HYPERPARAMETERS, "RoleArn": ROLE,
            "AlgorithmSpecification": {"TrainingImage": "image-classification:1", "TrainingInputMode": "File"},
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/train/", "S3DataDistributionType": "FullyReplicated"}}}],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/tuning"},
            "ResourceConfig": {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600}})


@run_async
async def test_a_tuning_jobs_trials_come_in_live_and_the_best_is_starred(aws_env, tuning_sim, ledger):
    from monitor_account import MissingCalls

    start_tuning(sagemaker(aws_env), "notebook-tuning")
    with Monitor("aws", region=REGION, ledger=ledger, live_prices=False, refresh_s=0.3) as monitor:
        MissingCalls().attach(monitor.session.boto.events)  # moto can't read a tuning job's tags
        app = MonitorApp(monitor, log_poll_s=0.05)
        async with app.run_test(size=SIZE) as pilot:
            await listed(pilot)
            await pick(pilot, "notebook-tuning")
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen_name(app) == "MonitorTuningScreen" and app.screen.tuning is not None)
            tuning = app.screen
            await until(pilot, tuning_sim, lambda: any(t.status.value == "InProgress" for t in tuning.tuning.trials),
                        "a trial running")
            await until(pilot, tuning_sim, lambda: tuning.tuning.status.finished, "the tuning job to end", steps=120)
            trials = tuning.tuning.trials
            assert len(trials) == 3 and all(t.status.value == "Completed" for t in trials)
            best = max(trials, key=lambda t: t.objective)
            assert tuning.tuning.best.job_name == best.job_name
            table = tuning.query_one("#trials")
            starred = {t.job_name: "★" in str(table.get_row(t.job_name)[0]) for t in trials}
            assert starred == {t.job_name: t.job_name == best.job_name for t in trials}
            assert f"best so far ★ {best.job_name}: {best.objective:.4f}" in text_of(app, "#outcome")
            table.move_cursor(row=[t.job_name for t in trials].index(best.job_name))
            await pilot.press("enter")  # the best trial's own detail: its log and chart
            await wait_for(pilot, lambda: screen_name(app) == "MonitorJobScreen" and app.screen.log_over, timeout=30)
            assert len(app.screen.query_one("#chart").validation) == 3 and "a trial of notebook-tuning" in text_of(app, "#job-summary")


def a_local_job_that_ran(home, ledger, name: str) -> None:
    """A job the local engine trained (its folder as the engine leaves it), recorded in the ledger."""
    import json
    import time

    folder = home / "jobs" / name
    folder.mkdir(parents=True)
    began = time.time() - 120
    (folder / "spec.json").write_text(json.dumps({"job_name": name, "hyperparameters": HYPERPARAMETERS, "channels": {
        "train": {"path": str(home / "packed" / "train.rec"), "content_type": "application/x-recordio"}}}))
    history = [{"status": s, "started_at": began + n * 10, "message": ""} for n, s in
               enumerate(("Starting", "Downloading", "Training", "Uploading", "Completed"))]
    metrics = [{"epoch": e, "name": n, "value": v} for e in range(3) for n, v in
               (("train:accuracy", 0.6 + e / 10), ("validation:accuracy", 0.55 + e / 10))]
    (folder / "status.json").write_text(json.dumps({"status": "Completed", "secondary_status": "Completed", "history": history,
                                                    "metrics": metrics, "started_at": began, "ended_at": began + 60}))
    (folder / "training.log").write_text("".join(f"Epoch[{m['epoch']}] {m['name'].split(':')[0].capitalize()}-accuracy="
                                                 f"{m['value']:.6f}\n" for m in metrics))
    record = ledger.intend("local", "training-job", name, details={"instance_type": "local-cpu"})
    ledger.update(record.id, state="completed")


@run_async
async def test_the_local_backends_jobs_are_in_the_same_screens_free(home, ledger):
    a_local_job_that_ran(home, ledger, "digits-train")
    with Monitor("local", ledger=ledger) as monitor:
        app = MonitorApp(monitor)
        async with app.run_test(size=SIZE) as pilot:
            await listed(pilot)
            text = shown(app)
            assert "Free: everything here runs on this computer" in text and "Training jobs (1)" in text
            await pick(pilot, "digits-train")
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen_name(app) == "MonitorJobScreen" and app.screen.log_over
                           and app.screen.detail is not None and app.screen.detail.finished)
            job = app.screen
            assert "on this computer" in text_of(app, "#title") and "free (this computer)" in text_of(app, "#job-summary")
            assert job.query_one("#chart").validation == pytest.approx([0.55, 0.65, 0.75])
            assert f"train: {home / 'packed' / 'train.rec'}" in text_of(app, "#settings")
            assert "Completed" in text_of(app, "#history") and text_of(app, "#outcome").startswith("Completed.")

"""The wizard on AWS, as a beginner with a new account meets it: which regions can train, a quota
of 0 and the request for more, signing in first — against moto, with Service Quotas and the
Pricing API answered by tests/aws_fakes.py."""

from __future__ import annotations

import pytest

from sagewiz.tui.app import SagewizApp
from sagewiz.tui.state import WizardState
from pilot_steps import click, wait_for
from test_tui import delete_what_is_ticked, run_async, screen_name, text_of


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def new_account(fake_aws):
    """GPU quota in us-east-1 only; us-east-2 offers the types with quota 0 (a new account)."""
    fake_aws.quotas["us-east-1"] = {"ml.g4dn.xlarge for training job usage": 1.0, "ml.p3.2xlarge for training job usage": 0.0,
                                    "ml.m5.large for endpoint usage": 2.0, "ml.c5.xlarge for endpoint usage": 1.0}
    fake_aws.quotas["us-east-2"] = {"ml.g4dn.xlarge for training job usage": 0.0, "ml.p3.2xlarge for training job usage": 0.0,
                                    "ml.m5.large for endpoint usage": 0.0}
    fake_aws.pricing_error = None
    return fake_aws


def aws_app(tmp_path) -> SagewizApp:
    from sagewiz.core.dataset.sample import write_sample_dataset

    write_sample_dataset(tmp_path / "digits", classes=[0, 1], seed=1)
    return SagewizApp(WizardState(backend="aws", data_dir=str(tmp_path / "digits")), unfinished_runs=False)


async def to_regions(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
    await click(pilot, "#next")
    await wait_for(pilot, lambda: screen_name(app) == "DatasetScreen" and not app.screen.query_one("#next").disabled)
    await click(pilot, "#next")
    await wait_for(pilot, lambda: screen_name(app) == "RegionScreen")


async def through_region_and_storage(pilot) -> None:
    """On the Where step: the ready region, then the private storage created, to the Settings step."""
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.reports and not app.screen.query_one("#next").disabled, what="the AWS regions")
    await click(pilot, "#next")
    await wait_for(pilot, lambda: screen_name(app) == "StorageScreen" and app.screen.query("#create")
                   and not app.screen.query_one("#create").disabled)
    await click(pilot, "#create")
    await wait_for(pilot, lambda: "✓" in text_of(app, "#verdict"))
    await click(pilot, "#create")


async def until_trained_on_sagemaker(pilot) -> None:
    """On the Training step: wait for the model (or say why not, with the log)."""
    app = pilot.app
    await wait_for(pilot, lambda: screen_name(app) == "TrainingScreen")
    await wait_for(pilot, lambda: app.state.trained is not None or not app.screen.query_one("#back").disabled,
                   timeout=120, what="training on SageMaker")
    assert app.state.trained is not None, "\n".join(line.text for line in app.screen.query_one("#log").lines)


def row_of(app, region: str) -> int:
    return [r.region for r in app.screen.reports].index(region)


@run_async
async def test_the_ready_region_comes_first_and_a_zero_quota_one_offers_the_request(new_account, tmp_path):
    app = aws_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await to_regions(pilot)
        await wait_for(pilot, lambda: app.screen.reports, what="the regions to be checked")
        first = app.screen.reports[0]
        assert first.region == "us-east-1" and first.verdict == "ready" and first.recommended_training == "ml.g4dn.xlarge"
        assert "1 of" in text_of(app, "#status") and not app.screen.query_one("#next").disabled

        app.screen.query_one("#regions").move_cursor(row=row_of(app, "us-east-2"))
        await pilot.pause()
        assert "no quota" in text_of(app, "#verdict")
        assert app.screen.query_one("#next").disabled and not app.screen.query_one("#quota").disabled
        await pilot.press("q")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmScreen")
        assert "from 0 to 1" in str(app.screen.query_one("Static").render())
        await click(pilot, "#yes")
        await wait_for(pilot, lambda: new_account.requests, what="the quota request")
        assert new_account.requests[0]["DesiredValue"] == 1.0

        app.screen.query_one("#regions").move_cursor(row=row_of(app, "us-east-1"))
        await pilot.pause()
        await click(pilot, "#next")
        await wait_for(pilot, lambda: screen_name(app) == "StorageScreen")
        assert app.state.region == "us-east-1"


@run_async
async def test_without_aws_credentials_the_where_step_says_how_to_sign_in(aws_env, monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    app = aws_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_regions(pilot)
        await wait_for(pilot, lambda: "What to do" in text_of(app, "#status"), what="the message")
        assert "AWS sign-in needed" in text_of(app, "#status") and "aws configure" in text_of(app, "#status")
        assert app.screen.query_one("#next").disabled
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "DatasetScreen")


@run_async
async def test_the_storage_step_shows_every_protection_and_creates_them_once(new_account, tmp_path):
    app = aws_app(tmp_path)
    app.state.region = "us-east-1"
    async with app.run_test(size=(120, 40)) as pilot:
        from sagewiz.tui.screens.storage import StorageScreen

        answers = []
        app.push_screen(StorageScreen(app.state), answers.append)
        await wait_for(pilot, lambda: screen_name(app) == "StorageScreen" and app.screen.query("#create")
                       and not app.screen.query_one("#create").disabled, what="who is signed in")
        plan = text_of(app, "#plan")
        assert "sagewiz-123456789012-us-east-1" in plan and "sagewiz-sagemaker-us-east-1" in plan
        assert "Block Public Access: all four settings on" in plan and "HTTPS" in plan and "ACLs are off" in plan
        assert "123456789012" in text_of(app, "#identity")
        await click(pilot, "#create")
        await wait_for(pilot, lambda: "✓" in text_of(app, "#verdict") or "What to do" in text_of(app, "#verdict"))
        assert "s3://sagewiz-123456789012-us-east-1" in text_of(app, "#verdict"), text_of(app, "#verdict")
        await click(pilot, "#create")  # now "Next"
        await wait_for(pilot, lambda: answers == ["next"])


@run_async
async def test_the_whole_journey_on_sagemaker_from_region_to_clean_up(new_account, aws_env, tmp_path, monkeypatch):
    from sagemaker_sim import SageMakerSimulator

    monkeypatch.setattr("sagewiz.core.aws.logs.POLL_SECONDS", 0.05)
    monkeypatch.setattr("sagewiz.core.aws.backend.ROLE_PROPAGATION_SECONDS", 0.0)
    app = aws_app(tmp_path)
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02) as sim:
        async with app.run_test(size=(120, 40)) as pilot:
            await to_regions(pilot)
            await through_region_and_storage(pilot)

            await wait_for(pilot, lambda: screen_name(app) == "SettingsScreen" and app.screen.query("#epochs"))
            app.screen.query_one("#epochs").value = "3"
            app.screen.query_one("#tune_jobs").value = "2"  # and a tuning job of two trials
            await pilot.pause()
            verdict = text_of(app, "#verdict")
            assert "ml.g4dn.xlarge in us-east-1" in verdict and "$" in verdict  # time and cost before starting
            await click(pilot, "#next")

            await wait_for(pilot, lambda: screen_name(app) == "TrainingScreen")
            await wait_for(pilot, lambda: app.state.trained is not None or not app.screen.query_one("#back").disabled,
                           timeout=120, what="training on SageMaker")
            log = "\n".join(line.text for line in app.screen.query_one("#log").lines)
            assert app.state.trained is not None, log
            assert len(app.screen.accuracy) == 3
            await click(pilot, "#next")  # "Next: tune"

            await wait_for(pilot, lambda: screen_name(app) == "TuningScreen")
            await wait_for(pilot, lambda: not app.screen.query_one("#next").disabled, timeout=120, what="tuning on SageMaker")
            assert "tuning" in app.state.trained.summary, text_of(app, "#outcome")
            trials = app.screen.query_one("#trials")
            assert trials.display and trials.row_count == 2  # the tuning trials, live, as a table
            best = app.state.trained.summary["tuning"]["best"]
            assert [str(trials.get_row_at(i)[0]) for i in range(2)].count("★") == 1 and best
            assert len(app.screen.query_one("#chart").trials) == 2
            assert sim.backend.endpoints == {}  # nothing bills for hosting before the user chose where
            await click(pilot, "#next")

            await wait_for(pilot, lambda: screen_name(app) == "DeployScreen")
            choices = app.screen.query_one("#instance")
            assert choices.value == "ml.m5.large"  # the recommended type, with quota, comes first
            assert "ml.m5.large — $0.115/hour, quota 2" in str(choices.query_one("SelectCurrent Static").render())
            # the cost line is written once the step's widgets have mounted, a refresh after the screen shows
            await wait_for(pilot, lambda: "deleted right after the test" in text_of(app, "#cost"), timeout=10, what="the cost line")
            choices.value = "ml.c5.xlarge"  # the endpoint on another type
            await pilot.pause()
            await click(pilot, "#deploy")
            await wait_for(pilot, lambda: not app.screen.query_one("#next").disabled or not app.screen.query_one("#deploy").disabled,
                           timeout=120, what="the endpoint and the test")
            log = "\n".join(line.text for line in app.screen.query_one("#log").lines)
            assert app.state.summary is not None, log
            assert "InService" in log  # the endpoint's way up, shown as it happens
            assert app.state.summary["backend"] == "aws" and app.state.summary["endpoint"]["instance_type"] == "ml.c5.xlarge"
            assert sim.backend.endpoints == {}  # tested, then deleted
            await click(pilot, "#next")

            # the table is filled once the screen is laid out: a busy machine showed it empty a moment before
            await wait_for(pilot, lambda: screen_name(app) == "EvaluateScreen" and app.screen.query_one("#results").row_count)
            assert app.screen.query_one("#results").row_count == len(app.state.summary["dataset"]["classes"])
            await click(pilot, "#next")

            await wait_for(pilot, lambda: screen_name(app) == "CleanupScreen")
            await wait_for(pilot, lambda: app.screen.resources, what="the resource list")
            assert {r.kind for r in app.screen.resources} >= {"bucket", "role", "training-job"}
            await delete_what_is_ticked(pilot)
            await wait_for(pilot, lambda: "Nothing left" in text_of(app, "#verdict"), what="clean-up")
    assert WizardState.load().region == "us-east-1"


async def trained_on_sagemaker(pilot, epochs: str = "2") -> None:
    """Region, storage, settings and training on SageMaker, to the Deploy step (no tuning)."""
    app = pilot.app
    await to_regions(pilot)
    await through_region_and_storage(pilot)
    await wait_for(pilot, lambda: screen_name(app) == "SettingsScreen" and app.screen.query("#epochs"))
    app.screen.query_one("#epochs").value = epochs
    await pilot.pause()
    await click(pilot, "#next")
    await until_trained_on_sagemaker(pilot)
    await click(pilot, "#next")
    await wait_for(pilot, lambda: screen_name(app) == "DeployScreen")


@run_async
async def test_a_sagemaker_model_is_tested_on_this_computer_for_free_and_answers_pictures_there(new_account, aws_env, tmp_path,
                                                                                                monkeypatch):
    """The user trains on SageMaker, then tests the model here instead of paying for an endpoint: it is
    downloaded (its size said first, beside what an endpoint would cost), answers the test pictures and,
    kept, the user's own; no SageMaker endpoint ever exists; clean-up stops the one on this computer."""
    import boto3

    from sagemaker_sim import SageMakerSimulator
    from sagewiz.core.ledger import Ledger

    monkeypatch.setattr("sagewiz.core.aws.logs.POLL_SECONDS", 0.05)
    monkeypatch.setattr("sagewiz.core.aws.backend.ROLE_PROPAGATION_SECONDS", 0.0)
    app = aws_app(tmp_path)
    sagemaker = boto3.client("sagemaker", region_name="us-east-1", endpoint_url=aws_env)
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02, real_models=True) as sim:
        async with app.run_test(size=(120, 40)) as pilot:
            await trained_on_sagemaker(pilot)
            choices = app.screen.query_one("#instance")
            assert choices.value == "ml.m5.large"  # the recommended SageMaker type stays the first choice
            await wait_for(pilot, lambda: "Or test it free on this computer" in text_of(app, "#cost"), timeout=10, what="the cost line")
            assert [label for label, _ in choices._options][-1] == "this computer (free)"
            choices.value = "local-cpu"
            await wait_for(pilot, lambda: " MB, once" in text_of(app, "#cost"), what="the model's size")
            cost = text_of(app, "#cost")
            assert cost.startswith("Free: the model is downloaded (") and "answers on 127.0.0.1" in cost
            assert "a SageMaker endpoint on ml.m5.large would cost $0.115/hour" in cost
            assert "Download the model" in text_of(app, "#steps")
            assert str(app.screen.query_one("#deploy").label) == "Test here"
            app.screen.query_one("#keep").value = True  # kept, to ask it about a picture
            await pilot.pause()
            await click(pilot, "#deploy")
            await wait_for(pilot, lambda: not app.screen.query_one("#next").disabled or not app.screen.query_one("#deploy").disabled,
                           timeout=120, what="the download and the test")
            log = "\n".join(line.text for line in app.screen.query_one("#log").lines)
            summary = app.state.summary
            assert summary is not None, log
            assert "Bringing the model onto this computer" in log and "The model is at" in log
            assert summary["backend"] == "aws" and summary["endpoint"]["backend"] == "local"
            assert summary["tested_here"]["from"] == app.state.trained.model_uri
            assert summary["evaluation"]["evaluated"] == len(app.state.trained.test_images)
            assert "still running on this computer (free)" in text_of(app, "#cost")
            assert sagemaker.list_endpoints()["Endpoints"] == [] and sim.backend.endpoints == {}
            with Ledger() as ledger:
                assert not [r for r in ledger.live_resources(backend="aws") if r.kind == "endpoint"]
                assert [r.kind for r in ledger.live_resources(backend="local") if r.kind == "endpoint"] == ["endpoint"]
            assert app.state.endpoint_instance == "local-cpu"
            await click(pilot, "#next")

            await wait_for(pilot, lambda: screen_name(app) == "EvaluateScreen")
            await click(pilot, "#next")  # "Next: ask it about a picture"
            await wait_for(pilot, lambda: screen_name(app) == "PredictScreen")
            assert "on this computer" in text_of(app, ".lead")
            picture, label = app.state.trained.test_images[0]
            app.screen.query_one("#picture").value = picture
            await click(pilot, "#predict")
            await wait_for(pilot, lambda: app.screen.answer or "What to do" in text_of(app, "#answer"), timeout=60,
                           what="the endpoint's answer")
            assert len(app.screen.answer) == 2, text_of(app, "#answer")
            assert abs(sum(p for _, p in app.screen.answer) - 1) < 1e-3
            assert not sagemaker.list_endpoints()["Endpoints"]  # asked here, not on SageMaker
            await click(pilot, "#next")

            await wait_for(pilot, lambda: screen_name(app) == "CleanupScreen")
            await wait_for(pilot, lambda: app.screen.resources, what="the resource list")
            endpoint = next(i for i, r in enumerate(app.screen.resources) if r.kind == "endpoint")
            assert app.screen.resources[endpoint].backend == "local"
            row = [str(cell) for cell in app.screen.query_one("#resources").get_row_at(endpoint)]
            assert row[1] == "endpoint (this computer)" and row[4] == "free"
            await delete_what_is_ticked(pilot)
            await wait_for(pilot, lambda: "Nothing left" in text_of(app, "#verdict"), what="clean-up")
    assert WizardState.load().endpoint_instance == "local-cpu"  # offered first next time

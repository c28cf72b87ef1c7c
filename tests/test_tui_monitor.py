"""`sagewiz monitor`, full-screen, as the person who followed the SageMaker tutorial meets it:
everything their account runs in one screen with its cost (moto, tests/monitor_account.py), a job
followed live to Completed (tests/sagemaker_sim.py) and its model asked about a picture, a job
stopped, the forgotten endpoint deleted, the notebook instance stopped, a throttled refresh shown
as stale; and the local backend's jobs in the same screens."""

from __future__ import annotations

import pytest

from aws_faults import Faults, json_error
from monitor_account import REGION, MissingCalls, moto_backend, sagemaker, tutorial_account, wipe_sagemaker
from moto_env import point_at_moto
from pilot_steps import click, screen_lines, wait_for
from sagewiz.core.ledger import Ledger
from sagewiz.core.monitor import Monitor
from sagewiz.tui.monitor_app import MonitorApp
from test_tui import run_async, screen_name, text_of

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def no_waiting_between_retries(monkeypatch):
    """botocore's waits before a retry (seconds each) are not what these tests are about."""
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0.0)
    monkeypatch.setattr("botocore.retries.adaptive.ClientRateLimiter.on_sending_request", lambda self, **_: None)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def aws_env(moto_server, monkeypatch, tmp_path):
    """conftest's aws_env, wiping only SageMaker's records (see test_monitor_snapshot.py)."""
    wipe_sagemaker()
    return point_at_moto(moto_server, monkeypatch, tmp_path)


@pytest.fixture
def ledger(home):
    with Ledger() as opened:
        yield opened


@pytest.fixture
def account(aws_env, ledger):
    sm = sagemaker(aws_env)
    tutorial_account(sm)
    return sm


@pytest.fixture
def monitor(account, ledger):
    with Monitor("aws", region=REGION, ledger=ledger, live_prices=False, refresh_s=0.5) as opened:
        opened.missing = MissingCalls().attach(opened.session.boto.events)
        yield opened


def shown(app) -> str:
    return "\n".join(screen_lines(app))


def row_of(app, name: str) -> list[str]:
    return next(line.split() for line in screen_lines(app) if f" {name} " in line)


async def listed(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: screen_name(app) == "MonitorScreen" and app.screen.snapshot is not None, timeout=30,
                   what="the first snapshot")
    await pilot.pause(0.2)


async def pick(pilot, name: str) -> None:
    """Move the highlight onto ``name``'s row, as the arrow keys would."""
    screen = pilot.app.screen
    at = next(n for n, key in enumerate(screen.keys) if key.endswith(f":{name}"))
    screen.query_one("#resources").move_cursor(row=at)
    await pilot.pause(0.1)


async def confirmed(pilot, key: str, *, says: tuple[str, ...]) -> None:
    """Press ``key``; the confirmation names the cost; say yes."""
    app = pilot.app
    await pilot.press(key)
    await wait_for(pilot, lambda: screen_name(app) == "ConfirmScreen", timeout=20, what="the confirmation")
    question = app.screen.question
    for words in says:
        assert words in question, question
    await click(pilot, "#yes")
    await wait_for(pilot, lambda: screen_name(app) == "MonitorScreen")


@run_async
async def test_the_tutorials_leftovers_are_in_one_screen_with_what_they_cost(monitor):
    app = MonitorApp(monitor)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        text = shown(app)
        assert "SageMaker in us-east-1" in text
        assert "$9.17/hour now (5 billing)" in text  # p2 job + the tuning job's two p3 trials + two endpoints + notebook
        assert "updated" in text and "ago" in text or "updated just now" in text
        for title in ("Training jobs (4)", "Tuning jobs (1)", "Batch transform jobs (1)", "Endpoints (2)", "Notebook instances (1)"):
            assert title in text
        notebook = row_of(app, "tutorial-notebook")
        assert notebook[:3] == ["tutorial-notebook", "InService", "ml.t2.medium"] and notebook[-3:] == ["$0.23", "$0.046", "other"]
        assert row_of(app, "sagewiz-1a2b3c4d-endpoint")[-1] == "sagewiz"
        assert row_of(app, "ic-tutorial-2026-11-30")[-3:] == ["$1.91", "—", "other"]  # finished: billed 0.5 h
        await pick(pilot, "ic-tuning-001-abcdef01")
        assert "a trial of ic-tuning" in text_of(app, "#picked")


@run_async
async def test_stopping_a_job_asks_first_naming_its_cost_then_it_shows_stopping(monitor):
    app = MonitorApp(monitor)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        await pick(pilot, "notebook-started-training")
        await confirmed(pilot, "s", says=("Stop the training job notebook-started-training", "$1.125/hour"))
        await wait_for(pilot, lambda: monitor.missing.stopped == ["notebook-started-training"], timeout=20)
        await wait_for(pilot, lambda: row_of(app, "notebook-started-training")[1] == "Stopping", timeout=20,
                       what="the row to say Stopping")


@run_async
async def test_the_forgotten_endpoint_is_deleted_with_its_configuration_and_model(monitor):
    app = MonitorApp(monitor)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        await pick(pilot, "image-classification-ep")
        await pilot.press("s")  # not a job: nothing is asked
        assert screen_name(app) == "MonitorScreen"
        await confirmed(pilot, "d", says=("Delete the endpoint image-classification-ep", "$0.230/hour",
                                          "Also deletes its endpoint config image-classification-ep-config"))
        await wait_for(pilot, lambda: "image-classification-ep" not in moto_backend().endpoints, timeout=20)
        assert "image-classification-ep-model" not in moto_backend()._models
        await wait_for(pilot, lambda: "image-classification-ep " not in shown(app), timeout=20, what="the row to go")
        assert "Endpoints (1)" in shown(app)


@run_async
async def test_the_notebook_instance_is_stopped_and_stops_billing(monitor):
    app = MonitorApp(monitor)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        await pick(pilot, "tutorial-notebook")
        await confirmed(pilot, "n", says=("Stop the notebook instance tutorial-notebook", "$0.046/hour", "storage volume"))
        await wait_for(pilot, lambda: row_of(app, "tutorial-notebook")[1] == "Stopped", timeout=20, what="Stopped")
        assert row_of(app, "tutorial-notebook")[-2:] == ["—", "other"]
        assert "$9.12/hour now (4 billing)" in shown(app)


@run_async
async def test_a_throttled_refresh_is_shown_stale_never_as_fresh(monitor):
    app = MonitorApp(monitor)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        first = app.screen.snapshot
        Faults(monitor.session.client("sagemaker", REGION), "ListNotebookInstances",
               [json_error(400, "ThrottlingException", "Rate exceeded")] * 3)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.screen.snapshot is not first and app.screen.snapshot.stale, timeout=20,
                       what="a refresh AWS throttled")
        text = " ".join(shown(app).split())
        assert "Notebook instances (1) ⚠ stale" in text
        assert "⚠ Notebook instances not updated: AWS asked sagewiz to slow down" in text
        assert "showing what was read" in text and "slower: AWS asked sagewiz to slow down" in text
        assert "tutorial-notebook" in text  # what the last good refresh read, said to be that old


def a_picture(path) -> str:
    from PIL import Image

    Image.new("RGB", (32, 32), (30, 200, 30)).save(path)
    return str(path)


@run_async
async def test_the_tutorials_endpoint_is_asked_about_a_picture_and_another_algorithms_is_not(monitor, account, tmp_path):
    import io
    import json

    from botocore.awsrequest import AWSResponse
    from monitor_account import ROLE

    class Body(io.BytesIO):  # read whole (the headers) and streamed (the answer), as urllib3's body is
        def stream(self, **_):
            yield self.getvalue()

    asked = []

    def answer(request, **_):  # the endpoint's model, as SageMaker would run it (moto can't)
        asked.append(request.url.rsplit("/endpoints/", 1)[-1].split("/")[0])
        return AWSResponse(request.url, 200, {"content-type": "application/json"},
                           Body(json.dumps({"prediction": [0.25, 0.75]}).encode()))

    monitor.session.boto.events.register("before-send.sagemaker-runtime.InvokeEndpoint", answer)
    account.create_model(ModelName="churn-model", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", "ModelDataUrl": "s3://tutorial-bucket/xgb.tar.gz"})
    account.create_endpoint_config(EndpointConfigName="churn-config", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "churn-model", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    account.create_endpoint(EndpointName="churn-ep", EndpointConfigName="churn-config")
    picture = a_picture(tmp_path / "green.png")
    app = MonitorApp(monitor)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        await pick(pilot, "image-classification-ep")
        await pilot.press("p")
        await wait_for(pilot, lambda: screen_name(app) == "AskScreen")
        app.screen.query_one("#picture").value = picture
        await click(pilot, "#ask-button")
        await wait_for(pilot, lambda: app.screen.answer, timeout=30, what="the endpoint's answer")
        assert app.screen.answer == [("class 1", 0.75), ("class 0", 0.25)] and asked == ["image-classification-ep"]
        await pilot.press("escape")
        await pick(pilot, "churn-ep")
        await pilot.press("p")
        await wait_for(pilot, lambda: screen_name(app) == "AskScreen")
        app.screen.query_one("#picture").value = picture
        await click(pilot, "#ask-button")
        await wait_for(pilot, lambda: "Another algorithm" in text_of(app, "#answer"), timeout=30)
        assert "sagemaker-xgboost" in text_of(app, "#answer") and asked == ["image-classification-ep"]


@run_async
async def test_a_snapshot_that_comes_while_a_detail_opens_waits_for_it_to_be_drawn(monitor):
    """A refresh once landed between a detail screen's push and its first paint, and the monitor
    stopped with "No nodes match '#job-summary'" (CI): the screen reads its item itself once mounted."""
    from sagewiz.tui.screens.monitor_tuning import MonitorTuningScreen

    app = MonitorApp(monitor)
    async with app.run_test(size=(120, 40)) as pilot:
        await listed(pilot)
        home = app.screen
        item = next(i for i in home.snapshot.items if i.kind == "tuning-job")
        app.push_screen(MonitorTuningScreen(home, item))
        home.show_snapshot(home.snapshot)  # at once, before the new screen has its widgets
        await wait_for(pilot, lambda: screen_name(app) == "MonitorTuningScreen", what="the tuning job's screen")
        await pilot.pause(0.3)
        assert not app._notifications, [n.message for n in app._notifications]

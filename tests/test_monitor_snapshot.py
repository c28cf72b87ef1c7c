"""The monitor's snapshot of an account the SageMaker tutorial left behind (moto), and what it lets
a person do about it: every leftover listed with its kind, price and cost, sagewiz's own marked,
throttling slowing the refresh down without passing old rows off as fresh, a refused listing
leaving the rest, and stopping a job, deleting an endpoint, stopping a notebook instance."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from aws_faults import Faults, count_calls, json_error
from monitor_account import (
    REGION,
    MissingCalls,
    endpoint,
    moto_backend,
    running,
    sagemaker,
    training_job,
    tutorial_account,
    wipe_sagemaker,
)
from moto_env import point_at_moto
from sagewiz.core.errors import InputError
from sagewiz.core.ledger import Ledger
from sagewiz.core.monitor import Monitor, carry_out, plan
from sagewiz.core.monitor.costs import figures

P3, P2, M5_XL, M5_L, T2_MEDIUM = 3.825, 1.125, 0.23, 0.115, 0.0464  # bundled us-east-1 prices; T2 from the Pricing API


@pytest.fixture(autouse=True)
def no_waiting_between_retries(monkeypatch):
    """botocore waits before each retry, and its adaptive mode slows every request after a throttle:
    seconds each; the tests check what the monitor does about throttling, not botocore's waits."""
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0.0)
    monkeypatch.setattr("botocore.retries.adaptive.ClientRateLimiter.on_sending_request", lambda self, **_: None)


@pytest.fixture
def aws_env(moto_server, monkeypatch, tmp_path):
    """conftest's aws_env for tests that touch only SageMaker: only its records are wiped, not all of
    moto (after a full reset moto rebuilds IAM's managed policies on its next request: seconds a test)."""
    wipe_sagemaker()
    return point_at_moto(moto_server, monkeypatch, tmp_path)


@pytest.fixture
def ledger(tmp_path):
    with Ledger(tmp_path / "ledger.sqlite3") as opened:
        yield opened


@pytest.fixture
def account(fake_aws, aws_env, ledger):
    fake_aws.prices[(REGION, "Notebook")] = {"ml.t2.medium": T2_MEDIUM}  # the rest: the bundled table
    sm = sagemaker(aws_env)
    tutorial_account(sm)
    training_job(sm, "sagewiz-1a2b3c4d-train", "ml.g4dn.xlarge")  # sagewiz's, untagged: the ledger knows it
    ledger.intend("aws", "training-job", "sagewiz-1a2b3c4d-train", region=REGION)
    return sm


@pytest.fixture
def monitor(account, ledger):
    with Monitor("aws", region=REGION, ledger=ledger) as opened:
        opened.missing = MissingCalls().attach(opened.session.boto.events)
        yield opened


def by_name(snapshot):
    return {item.name: item for item in snapshot.items}


def test_the_tutorials_leftovers_are_listed_with_their_kind_status_and_cost(monitor):
    items = by_name(monitor.refresh())
    kinds = {name: item.kind for name, item in items.items()}
    assert kinds == {"ic-tutorial-2026-11-30": "training-job", "notebook-started-training": "training-job",
                     "ic-tuning-001-abcdef01": "training-job", "ic-tuning-002-abcdef02": "training-job",
                     "sagewiz-1a2b3c4d-train": "training-job", "ic-tuning": "tuning-job",
                     "batch-predictions": "transform-job", "image-classification-ep": "endpoint",
                     "sagewiz-1a2b3c4d-endpoint": "endpoint", "tutorial-notebook": "notebook-instance"}
    done = items["ic-tutorial-2026-11-30"]
    assert (done.status, done.instance_type, done.cost_per_hour) == ("Completed", "ml.p3.2xlarge", 0.0)
    assert done.cost_so_far == pytest.approx(0.5 * P3)  # SageMaker's BillableTimeInSeconds, not the wall time
    busy = items["notebook-started-training"]
    assert (busy.status, busy.cost_per_hour) == ("InProgress", P2)
    assert busy.cost_so_far == pytest.approx(busy.duration_s / 3600 * P2) and busy.duration_s == pytest.approx(7200, abs=60)
    notebook = items["tutorial-notebook"]
    assert (notebook.status, notebook.instance_type, notebook.cost_per_hour, notebook.price_source) == \
        ("InService", "ml.t2.medium", T2_MEDIUM, "pricing-api")
    assert notebook.cost_so_far == pytest.approx(5 * T2_MEDIUM, rel=0.01)
    forgotten = items["image-classification-ep"]
    assert (forgotten.status, forgotten.instance_type, forgotten.instance_count, forgotten.cost_per_hour) == \
        ("InService", "ml.m5.xlarge", 1, M5_XL)
    assert forgotten.cost_so_far == pytest.approx(3 * M5_XL, rel=0.01)
    batch = items["batch-predictions"]
    assert (batch.status, batch.instance_type, batch.cost_per_hour) == ("Completed", "ml.m5.xlarge", 0.0)


def test_sagewiz_own_things_are_marked_by_its_ledger_or_its_tag_and_the_rest_as_others(monitor):
    items = by_name(monitor.refresh())
    ours = {name for name, item in items.items() if item.made_by_sagewiz}
    assert ours == {"sagewiz-1a2b3c4d-train", "sagewiz-1a2b3c4d-endpoint"}


def test_a_tuning_job_costs_what_its_trials_cost_and_the_header_counts_each_once(monitor):
    snapshot = monitor.refresh()
    tuning = by_name(snapshot)["ic-tuning"]
    assert (tuning.status, tuning.instance_type, tuning.instance_count, tuning.cost_per_hour) == \
        ("InProgress", "ml.p3.2xlarge", 2, pytest.approx(2 * P3))
    assert tuning.cost_so_far == pytest.approx(2 * 1 * P3, rel=0.01)
    assert {i.parent for i in snapshot.items if i.name.startswith("ic-tuning-")} == {"ic-tuning"}
    sagewiz_job = P3 * 0  # moto finished it at once: it bills nothing now
    assert snapshot.cost_per_hour == pytest.approx(P2 + 2 * P3 + M5_XL + M5_L + T2_MEDIUM + sagewiz_job)
    assert snapshot.unpriced == []


def test_a_second_refresh_lists_again_but_describes_only_what_changed(monitor):
    describes = count_calls(monitor.session.client("sagemaker", REGION), "DescribeTrainingJob")
    first = monitor.refresh()
    assert describes[0] == 5  # every training job once: the list doesn't say its instance type
    second = monitor.refresh()
    assert describes[0] == 5
    assert second.api_calls == 8  # two lists each for training, tuning and transform jobs; endpoints; notebooks
    assert second.api_calls < first.api_calls
    running("notebook-started-training", hours=3)  # its LastModifiedTime moves on
    monitor.refresh()
    assert describes[0] == 6


def test_throttling_slows_the_refresh_down_and_marks_the_section_stale_not_fresh(monitor):
    first = monitor.refresh()
    assert first.next_refresh_s == 10
    throttle = json_error(400, "ThrottlingException", "Rate exceeded")
    faults = Faults(monitor.session.client("sagemaker", REGION), "ListNotebookInstances", [throttle] * 3)
    second = monitor.refresh()
    assert faults.calls == 3  # botocore's quick retries, then the section gives up until the next refresh
    notebooks = second.section(REGION, "notebook-instance")
    assert not notebooks.fresh and notebooks.slowed_down and "slow down" in notebooks.problem
    assert [i.name for i in notebooks.items] == ["tutorial-notebook"]  # what the last good refresh read…
    assert notebooks.updated_at == first.taken_at < second.taken_at  # …said to be that old
    assert all(s.fresh for s in second.sections if s.kind != "notebook-instance")
    assert second.next_refresh_s == 20 and second.to_dict()["slowed_down"] is True
    third = monitor.refresh()
    assert third.section(REGION, "notebook-instance").fresh and third.next_refresh_s == 10


def test_a_throttle_that_a_retry_got_through_still_slows_the_next_refresh(monitor):
    Faults(monitor.session.client("sagemaker", REGION), "ListEndpoints",
           [json_error(400, "ThrottlingException", "Rate exceeded")])
    snapshot = monitor.refresh()
    endpoints = snapshot.section(REGION, "endpoint")
    assert endpoints.fresh and endpoints.slowed_down and len(endpoints.items) == 2
    assert snapshot.next_refresh_s == 20


def test_one_snapshot_for_a_script_waits_and_asks_again_while_throttled(monitor):
    Faults(monitor.session.client("sagemaker", REGION), "ListNotebookInstances",
           [json_error(400, "ThrottlingException", "Rate exceeded")] * 3)
    waited = []
    snapshot = monitor.settled(sleep=waited.append)
    assert waited == [1.0]
    assert snapshot.section(REGION, "notebook-instance").fresh
    assert "tutorial-notebook" in by_name(snapshot)


def test_a_refused_listing_names_the_missing_right_and_the_other_sections_still_fill(monitor):
    Faults(monitor.session.client("sagemaker", REGION), "ListNotebookInstances", [json_error(
        400, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/reader is not authorized to perform: "
        "sagemaker:ListNotebookInstances")])
    snapshot = monitor.refresh()
    notebooks = snapshot.section(REGION, "notebook-instance")
    assert notebooks.missing_right == "sagemaker:ListNotebookInstances"
    assert "sagemaker:ListNotebookInstances" in notebooks.problem and not notebooks.fresh
    assert notebooks.items == () and notebooks.updated_at is None
    assert {s.kind for s in snapshot.sections if s.fresh} == {"training-job", "tuning-job", "transform-job", "endpoint"}
    assert "image-classification-ep" in by_name(snapshot)
    assert snapshot.to_dict()["sections"][-1]["missing_right"] == "sagemaker:ListNotebookInstances"


def test_without_the_right_to_read_tags_the_ledger_alone_marks_sagewiz_things(monitor):
    Faults(monitor.session.client("sagemaker", REGION), "Search",
           [json_error(400, "AccessDeniedException", "not authorized to perform: sagemaker:Search")] * 2)
    snapshot = monitor.refresh()
    assert {i.name for i in snapshot.items if i.made_by_sagewiz} == {"sagewiz-1a2b3c4d-train"}
    endpoints = snapshot.section(REGION, "endpoint")
    assert endpoints.fresh and any("sagemaker:Search is not allowed" in note for note in endpoints.notes)


def test_stopping_a_job_names_what_it_bills_and_asks_sagemaker_to_stop_it(monitor):
    job = by_name(monitor.refresh())["notebook-started-training"]
    action = plan(job, monitor)
    assert action.saves_per_hour == P2 and "$1.125/hour" in action.question and "ml.p2.xlarge × 1" in action.question
    assert "stopped" not in carry_out(action, monitor)[:5]
    assert monitor.missing.stopped == ["notebook-started-training"]  # moto lacks StopTrainingJob: see MissingCalls
    assert by_name(monitor.refresh())["notebook-started-training"].status == "Stopping"


def test_stopping_a_tuning_job_stops_its_trials_billing(monitor):
    tuning = by_name(monitor.refresh())["ic-tuning"]
    action = plan(tuning, monitor)
    assert action.saves_per_hour == pytest.approx(2 * P3)
    carry_out(action, monitor)
    assert monitor.missing.stopped == ["ic-tuning"]


def test_a_finished_job_has_nothing_to_stop(monitor):
    with pytest.raises(InputError) as refused:
        plan(by_name(monitor.refresh())["ic-tutorial-2026-11-30"], monitor)
    assert "Completed" in refused.value.message


def test_deleting_an_endpoint_deletes_its_configuration_and_model_when_nothing_else_uses_them(monitor):
    forgotten = by_name(monitor.refresh())["image-classification-ep"]
    action = plan(forgotten, monitor)
    assert action.also_deleted == (("endpoint-config", "image-classification-ep-config"),
                                   ("model", "image-classification-ep-model"))
    assert "$0.230/hour" in action.question and "Also deletes" in action.question
    carry_out(action, monitor)
    backend = moto_backend()
    assert "image-classification-ep" not in backend.endpoints
    assert "image-classification-ep-config" not in backend.endpoint_configs
    assert "image-classification-ep-model" not in backend._models
    assert "image-classification-ep" not in by_name(monitor.refresh())


def test_an_endpoint_configuration_or_model_something_else_uses_is_kept(monitor, account):
    endpoint(account, "twin-ep", config="image-classification-ep-config")  # shares the configuration
    endpoint(account, "cousin-ep", model="sagewiz-1a2b3c4d-endpoint-model")  # another configuration, same model
    items = by_name(monitor.refresh())
    shared = plan(items["image-classification-ep"], monitor)
    assert shared.also_deleted == () and "the endpoint twin-ep uses it" in shared.question
    carry_out(shared, monitor)
    assert "image-classification-ep-config" in moto_backend().endpoint_configs
    cousin = plan(items["sagewiz-1a2b3c4d-endpoint"], monitor)
    assert cousin.also_deleted == (("endpoint-config", "sagewiz-1a2b3c4d-endpoint-config"),)
    assert "its model sagewiz-1a2b3c4d-endpoint-model: the endpoint configuration cousin-ep-config uses it" in cousin.kept
    carry_out(cousin, monitor)
    assert "sagewiz-1a2b3c4d-endpoint-model" in moto_backend()._models


def test_deleting_sagewiz_endpoint_marks_it_deleted_in_the_ledger(monitor, ledger):
    ledger.intend("aws", "endpoint", "sagewiz-1a2b3c4d-endpoint", region=REGION)
    carry_out(plan(by_name(monitor.refresh())["sagewiz-1a2b3c4d-endpoint"], monitor), monitor)
    assert ledger.find("aws", "endpoint", "sagewiz-1a2b3c4d-endpoint", REGION).state == "deleted"


def test_stopping_the_forgotten_notebook_instance_stops_its_hourly_bill(monitor):
    notebook = by_name(monitor.refresh())["tutorial-notebook"]
    action = plan(notebook, monitor)
    assert "$0.046/hour" in action.question and "storage volume" in action.question
    carry_out(action, monitor)
    after = by_name(monitor.refresh())["tutorial-notebook"]
    assert after.status == "Stopped" and after.cost_per_hour == 0.0


def test_the_local_backends_jobs_and_endpoints_are_in_the_same_snapshot_for_free(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path))
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        job = ledger.intend("local", "training-job", "digits-train", details={"instance_type": "local-cpu"})
        ledger.update(job.id, state="completed")
        ledger.intend("local", "endpoint", "digits-endpoint")
        with Monitor("local", ledger=ledger) as monitor:
            snapshot = monitor.refresh()
    items = by_name(snapshot)
    assert (items["digits-train"].kind, items["digits-train"].status, items["digits-train"].cost_so_far) == \
        ("training-job", "Completed", 0.0)
    assert items["digits-endpoint"].kind == "endpoint" and items["digits-endpoint"].cost_per_hour == 0.0
    assert snapshot.regions == ("local",) and snapshot.cost_per_hour == 0.0


def test_today_counts_only_what_ran_since_midnight_utc():
    midnight = datetime(2026, 12, 2, tzinfo=timezone.utc)
    money = figures(2.0, 1, started=midnight - timedelta(hours=2), ended=midnight + timedelta(hours=2), billing=False,
                    now=(midnight + timedelta(hours=5)).timestamp())
    assert (money.cost_per_hour, money.cost_so_far, money.cost_today) == (0.0, pytest.approx(8.0), pytest.approx(4.0))
    unknown = figures(None, 1, started=midnight, ended=None, billing=True, now=midnight.timestamp() + 60)
    assert (unknown.cost_per_hour, unknown.cost_so_far) == (None, None)  # "price unknown", never 0


def test_all_regions_covers_every_region_the_account_has_enabled(account, ledger, aws_env):
    from aws_faults import _Raw
    from botocore.awsrequest import AWSResponse

    training_job(sagemaker(aws_env, "eu-west-1"), "dublin-job")
    running("dublin-job", hours=1, region="eu-west-1")
    enabled = "".join(f"<item><regionName>{name}</regionName><regionEndpoint>ec2.{name}.amazonaws.com</regionEndpoint>"
                      f"<optInStatus>opt-in-not-required</optInStatus></item>" for name in ("us-east-1", "eu-west-1"))
    answer = AWSResponse("https://stub.invalid", 200, {"content-type": "text/xml"}, _Raw(
        f'<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>1</requestId>'
        f"<regionInfo>{enabled}</regionInfo></DescribeRegionsResponse>".encode()))
    with Monitor("aws", all_regions=True, ledger=ledger) as monitor:
        MissingCalls().attach(monitor.session.boto.events)
        # an account with two regions enabled (moto enables every region it knows)
        monitor.session.boto.events.register("before-send.ec2.DescribeRegions", lambda **_: answer)
        snapshot = monitor.refresh()
    assert snapshot.regions == ("eu-west-1", "us-east-1")
    dublin = by_name(snapshot)["dublin-job"]
    assert (dublin.region, dublin.cost_per_hour) == ("eu-west-1", pytest.approx(1.215))  # eu-west-1's bundled ml.p2.xlarge
    assert snapshot.cost_per_hour == pytest.approx(P2 + 2 * P3 + M5_XL + M5_L + T2_MEDIUM + 1.215)

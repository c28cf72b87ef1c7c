"""`sagewiz monitor --json` and `--plain` exactly as a user (or a script) runs them: the real console
script, against moto holding what the SageMaker tutorial left behind; and `sagewiz monitor JOB`
still following one job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aws_faults import json_error
from monitor_account import REGION, SAGEWIZ_TAG, endpoint, sagemaker, tutorial_account, wipe_sagemaker
from moto_env import point_at_moto
from sagewiz.core.aws.session import AwsSession
from sagewiz.core.ledger import Ledger
from sagewiz.tui.cli import main

SAGEWIZ = str(Path(sys.executable).with_name("sagewiz"))


@pytest.fixture
def aws_env(moto_server, monkeypatch, tmp_path):
    """conftest's aws_env, wiping only SageMaker's records (see test_monitor_snapshot.py)."""
    wipe_sagemaker()
    return point_at_moto(moto_server, monkeypatch, tmp_path)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def account(aws_env, home):
    sm = sagemaker(aws_env)
    tutorial_account(sm, tuning=False)
    return sm


def sagewiz(*args: str, columns: int | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    if columns:
        env["COLUMNS"] = str(columns)
    return subprocess.run([SAGEWIZ, *args], capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)


def test_json_is_one_snapshot_of_every_resource_with_its_cost_and_who_made_it(account):
    result = sagewiz("monitor", "--json", "--backend", "aws", "--bundled-prices")
    assert result.returncode == 0, result.stderr
    snapshot = json.loads(result.stdout)
    resources = {r["name"]: r for r in snapshot["resources"]}
    notebook = resources["tutorial-notebook"]
    assert {key: notebook[key] for key in ("kind", "status", "instance_type", "instance_count", "cost_per_hour",
                                           "made_by_sagewiz", "region")} == \
        {"kind": "notebook-instance", "status": "InService", "instance_type": "ml.t2.medium", "instance_count": 1,
         "cost_per_hour": 0.0464, "made_by_sagewiz": False, "region": REGION}
    assert notebook["cost_so_far"] == pytest.approx(5 * 0.0464, rel=0.01) and notebook["started"]
    assert resources["ic-tutorial-2026-11-30"]["cost_so_far"] == pytest.approx(0.5 * 3.825)
    assert resources["sagewiz-1a2b3c4d-endpoint"]["made_by_sagewiz"] is True
    assert {r["kind"] for r in resources.values()} == {"training-job", "transform-job", "endpoint", "notebook-instance"}
    assert snapshot["cost_per_hour"] == pytest.approx(1.125 + 0.23 + 0.115 + 0.0464)
    assert all(s["fresh"] and s["missing_right"] is None for s in snapshot["sections"])
    assert snapshot["regions"] == [REGION] and snapshot["api_calls"] > 0


def test_plain_prints_the_costs_in_tables_that_fit_80_columns(account):
    result = sagewiz("monitor", "--plain", "--backend", "aws", "--bundled-prices")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert lines[0].startswith("SageMaker in us-east-1: 4 billing now, $1.52/hour; today so far $")
    text = result.stdout
    for title in ("Training jobs · in us-east-1 · updated", "Endpoints · in us-east-1", "Notebook instances · in us-east-1",
                  "Batch transform jobs · in us-east-1"):
        assert title in text
    at = next(i for i, line in enumerate(lines) if line.startswith("tutorial-notebook"))
    assert lines[at].split() == ["tutorial-notebook", "InService", f"${5 * 0.0464:.2f}", "$0.046", "other"]
    assert lines[at + 1].strip().startswith("instance: ml.t2.medium ×1 · started ")
    assert any(line.startswith("sagewiz-1a2b3c4d-endpoint ") and line.split()[-1] == "sagewiz" for line in lines)
    assert "No tuning jobs in us-east-1." in text


def test_plain_uses_a_wider_terminal_to_put_whole_notes_on_one_line(account):
    result = sagewiz("monitor", "--plain", "--backend", "aws", "--bundled-prices", columns=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) > 80
    assert any("cost since it last started" in line and "instance: ml.t2.medium" in line for line in lines)


def test_a_price_nobody_knows_is_said_so_not_shown_as_free(account):
    endpoint(account, "exotic-ep", "ml.inf1.xlarge", tags=SAGEWIZ_TAG)
    snapshot = json.loads(sagewiz("monitor", "--json", "--backend", "aws", "--bundled-prices").stdout)
    exotic = next(r for r in snapshot["resources"] if r["name"] == "exotic-ep")
    assert exotic["cost_per_hour"] is None and exotic["price_known"] is False and snapshot["unpriced"] == ["exotic-ep"]
    plain = sagewiz("monitor", "--plain", "--backend", "aws", "--bundled-prices").stdout
    assert "price unknown" in plain and "plus 1 at a price unknown" in plain


def test_plain_says_which_right_is_missing_and_still_shows_the_rest(account, monkeypatch, capsys):
    refused = json_error(400, "AccessDeniedException", "not authorized to perform: sagemaker:ListNotebookInstances")
    original = AwsSession.__init__

    def init(self, *args, **kwargs):  # every session the command opens is refused that one listing
        original(self, *args, **kwargs)
        self.boto.events.register("before-send.sagemaker.ListNotebookInstances", lambda **_: refused)

    monkeypatch.setattr(AwsSession, "__init__", init)
    assert main(["monitor", "--plain", "--backend", "aws", "--bundled-prices"]) == 0
    out = capsys.readouterr().out
    assert "Notebook instances · in us-east-1 · not updated: Not allowed to list the notebook instances" in " ".join(out.split())
    assert "sagemaker:ListNotebookInstances" in out and "image-classification" in out


def test_the_local_backend_snapshot_lists_its_jobs_free(home):
    with Ledger(home / "ledger.sqlite3") as ledger:
        job = ledger.intend("local", "training-job", "digits-train", details={"instance_type": "local-cpu"})
        ledger.update(job.id, state="completed")
    result = sagewiz("monitor", "--plain")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("On this computer: 0 billing now, $0.00/hour")
    row = next(line for line in result.stdout.splitlines() if line.startswith("digits-train"))
    assert "Completed" in row and "free" in row and "sagewiz" in row


def test_a_snapshot_and_a_job_name_together_are_refused_with_what_to_do(home):
    result = sagewiz("monitor", "some-job", "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert json.loads(result.stdout)["hint"].startswith("Drop some-job for the snapshot")


def test_monitor_job_still_follows_one_job_and_names_an_unknown_one(home):
    unknown = sagewiz("monitor", "no-such-job")
    assert unknown.returncode == 1 and "no-such-job" in unknown.stderr and "Traceback" not in unknown.stderr

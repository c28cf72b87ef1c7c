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


SAGEWIZ = str(Path(sys.executable).with_name("sagewiz"))


def test_a_second_resume_of_a_run_being_resumed_is_refused_and_says_why(home, digits):
    from test_run_cli import processes_of

    with Ledger(home / "ledger.sqlite3") as ledger:
        run = ledger.start_run("local", {"data_dir": str(digits), "hp": {"epochs": "3", "mini_batch_size": "16"}, "tune": 0})
    env = {**os.environ, "SAGEWIZ_HOME": str(home)}
    first = subprocess.Popen([SAGEWIZ, "run", "--resume", "--yes"], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert "Resuming run" in first.stderr.readline()  # it holds the run now
        second = subprocess.run([SAGEWIZ, "run", "--resume", run.id[:8], "--yes"], env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=120)
    finally:
        first.kill()
        first.wait()
        for pid in processes_of(home):  # an engine the first one may have started meanwhile
            os.kill(pid, signal.SIGKILL)

    said = " ".join(second.stderr.split())
    assert second.returncode == 1
    assert f"Another sagewiz (process {first.pid}) is resuming run {run.id[:8]}" in said and "Traceback" not in said
    with Ledger(home / "ledger.sqlite3") as ledger:
        assert not [r for r in ledger.resources() if r.kind == "endpoint"]


def test_a_change_to_something_deleted_meanwhile_is_explained_without_naming_code(home):
    from sagewiz.core.ledger import LedgerError

    with Ledger(home / "ledger.sqlite3") as ledger:
        endpoint = ledger.intend("local", "endpoint", "sagewiz-01234567-endpoint")
        ledger.update(endpoint.id, state="deleted")  # `sagewiz cleanup` in another terminal
        with pytest.raises(LedgerError) as refused:
            ledger.update(endpoint.id, state="failed")
    assert "endpoint sagewiz-01234567-endpoint was deleted meanwhile" in refused.value.message
    assert "sagewiz run --resume" in refused.value.hint


def test_no_message_or_hint_names_a_function_of_sagewiz():
    """Messages are for people: "Record it again with intend()" tells them nothing they can do."""
    import ast
    import re

    calls = re.compile(r"\b[A-Za-z_][\w.]*\(\)|\b[a-z_]+\.[a-z_]+\(")
    found = []
    root = Path(__file__).parents[1]
    for path in [*root.joinpath("core").rglob("*.py"), *root.joinpath("tui").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")).endswith(("Error", "Problem")):
                texts = [n.value for arg in [*node.args, *(k.value for k in node.keywords)] for n in ast.walk(arg)
                         if isinstance(n, ast.Constant) and isinstance(n.value, str)]
                found += [f"{path.relative_to(root)}:{node.lineno}: {t}" for t in texts if calls.search(t)]
    assert found == []

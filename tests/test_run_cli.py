"""`sagewiz run`, `sagewiz resources` and `sagewiz cleanup` as a user types them: the real console
script in a subprocess, with its own sagewiz home, on a small digits dataset."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.ledger import Ledger
from sagewiz.core.local import job as jobs

SAGEWIZ = str(Path(sys.executable).with_name("sagewiz"))
FAST = ["--hp", "epochs=2", "--hp", "mini_batch_size=16"]


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    write_sample_dataset(root, size=28, classes=[1, 4, 9], seed=3)
    return root


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


def sagewiz(home, *args, timeout=600):
    env = {**os.environ, "SAGEWIZ_HOME": str(home)}
    return subprocess.run([SAGEWIZ, *args], capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL)


def processes_of(home: Path) -> list[int]:
    """Engines and endpoints whose command line mentions this sagewiz home."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(home).encode() in cmdline and b"sagewiz.core.local" in cmdline:
                found.append(int(entry.name))
    return found


def test_run_trains_deploys_evaluates_and_cleans_up_its_endpoint(home, digits):
    result = sagewiz(home, "run", "--data", str(digits), "--yes", "--json", *FAST)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["dataset"]["classes"] == ["digit_1", "digit_4", "digit_9"]
    assert [e["epoch"] for e in summary["training"]["epochs"]] == [0, 1]
    assert 0.0 <= summary["test_accuracy"] <= 1.0 and len(summary["evaluation"]["confusion"]) == 3
    assert summary["endpoint"]["deleted"] and summary["endpoint"]["url"].startswith("http://127.0.0.1:")
    assert "Training sagewiz-" in result.stderr and "Validation-accuracy" in result.stderr
    assert not processes_of(home)  # nothing left running
    listed = json.loads(sagewiz(home, "resources", "--json").stdout)
    assert {r["kind"] for r in listed} == {"storage", "training-job", "packed-pictures"}  # the copy is offered for clean-up too

    watched = sagewiz(home, "monitor", "--no-follow")  # reattach to the latest job afterwards
    assert watched.returncode == 0, watched.stderr
    assert "Epoch[1] Validation-accuracy=" in watched.stdout and "Completed" in watched.stderr
    unknown = sagewiz(home, "monitor", "no-such-job")
    assert unknown.returncode == 1 and "no-such-job" in unknown.stderr and "Traceback" not in unknown.stderr

    # incremental training: the first model learns on, with its network kept
    job = summary["training"]["job_name"]
    more = sagewiz(home, "run", "--data", str(digits), "--continue-from", job, "--yes", "--json", "--hp", "epochs=1")
    assert more.returncode == 0, more.stderr
    continued = json.loads(more.stdout)
    assert continued["continued_from"] == job and continued["training"]["status"] == "Completed"
    assert continued["hyperparameters"]["num_layers"] == summary["hyperparameters"]["num_layers"]
    other = sagewiz(home, "run", "--data", str(digits), "--continue-from", job, "--yes", "--hp", "num_layers=56")
    assert other.returncode == 1 and "keeps its network: num_layers" in other.stderr and "Traceback" not in other.stderr


def test_continuing_a_model_with_other_classes_is_refused_with_the_reason(home, digits, tmp_path):
    first = json.loads(sagewiz(home, "run", "--data", str(digits), "--yes", "--json", *FAST).stdout)
    write_sample_dataset(tmp_path / "two", size=28, classes=[2, 3], seed=3)
    result = sagewiz(home, "run", "--data", str(tmp_path / "two"), "--continue-from", first["training"]["job_name"], "--yes")
    assert result.returncode == 1 and "tells 3 classes apart" in result.stderr and "Traceback" not in result.stderr


def test_keeping_the_endpoint_leaves_it_for_cleanup_which_stops_it(home, digits):
    result = sagewiz(home, "run", "--data", str(digits), "--yes", "--json", "--keep-endpoint", *FAST)
    assert result.returncode == 0, result.stderr
    url = json.loads(result.stdout)["endpoint"]["url"]
    assert processes_of(home)
    listed = json.loads(sagewiz(home, "resources", "--json").stdout)
    assert any(r["kind"] == "endpoint" and r["where"] == url for r in listed)

    refused = sagewiz(home, "cleanup")  # no terminal to ask on, no --yes: nothing is deleted
    assert refused.returncode == 1 and "--yes" in refused.stderr and processes_of(home)
    cleaned = sagewiz(home, "cleanup", "--yes")
    assert cleaned.returncode == 0, cleaned.stderr
    assert not processes_of(home)
    assert json.loads(sagewiz(home, "resources", "--json").stdout) == []


@pytest.mark.parametrize("args, says", [
    (["run", "--yes"], "--data DIR"),
    (["run", "--data", "{digits}"], "Add --yes"),
    (["run", "--data", "{digits}", "--yes", "--hp", "optimizer=momentum"], "optimizer"),
    (["run", "--data", "{digits}", "--yes", "--hp", "epochs"], "KEY=VALUE"),
    (["run", "--data", "/no/such/folder", "--yes"], "no folder"),
    (["run", "--data", "/no/such/[old] photos", "--yes"], "no folder /no/such/[old] photos"),  # said as written, brackets too
    (["run", "--data", "{digits}", "--yes", "--backend", "azure"], "no backend called"),
])
def test_bad_input_gets_a_message_and_what_to_do_never_a_traceback(home, digits, args, says):
    result = sagewiz(home, *[a.format(digits=digits) for a in args])
    assert result.returncode == 1
    assert says in result.stderr and "Traceback" not in result.stderr
    assert "What to do:" in result.stderr


def test_a_failed_run_with_json_prints_the_error_and_its_step_on_stdout(home):
    result = sagewiz(home, "run", "--data", "/no/such/folder", "--yes", "--json")
    assert result.returncode == 1
    error = json.loads(result.stdout)  # a script gets an object to read, not an empty stdout
    assert error["step"] == "check" and "/no/such/folder" in error["message"]
    assert error["title"] and error["hint"] and error["error"] == "InputError"
    assert "What to do:" in result.stderr  # and the person reads it as before

    bad_flag = sagewiz(home, "run", "--data", "/no/such/folder", "--yes", "--json", "--tune", "many")
    assert bad_flag.returncode == 1 and json.loads(bad_flag.stdout)["step"] is None  # before any step


def test_a_bug_in_a_run_with_json_is_still_a_json_error_naming_its_step(home, digits, monkeypatch, capsys):
    from sagewiz.tui.cli import main

    def broken(*args, **kwargs):
        raise RuntimeError("the packer lost its list")

    monkeypatch.setenv("SAGEWIZ_HOME", str(home))
    monkeypatch.setattr("sagewiz.core.prepare.prepare_dataset", broken)
    assert main(["run", "--data", str(digits), "--yes", "--json", *FAST]) == 1
    error = json.loads(capsys.readouterr().out)
    assert error["step"] == "prepare" and error["title"] == "Something sagewiz did not expect"
    assert "RuntimeError: the packer lost its list" in error["message"] and "errors.log" in error["hint"]


def test_a_bug_in_a_command_is_said_with_where_its_details_are_not_as_a_traceback(home, monkeypatch, capsys):
    from sagewiz.tui.cli import main
    from sagewiz.tui.words import shown_path

    def broken(ledger, backend):
        raise RuntimeError("the list of resources came back as None")

    monkeypatch.setenv("SAGEWIZ_HOME", str(home))
    monkeypatch.setattr("sagewiz.core.backends.live_resources", broken)
    assert main(["resources"]) == 1
    said = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "Something sagewiz did not expect" in said and "RuntimeError: the list of resources came back as None" in said
    assert "not in what you did" in said and shown_path(home / "errors.log") in said and "Traceback" not in said
    log = (home / "errors.log").read_text()
    assert "in sagewiz resources" in log and "Traceback" in log and "came back as None" in log


def test_a_command_says_what_went_wrong_without_loading_the_full_screen_app(tmp_path):
    code = ("import sys; from sagewiz.tui import cli, console, words; "
            "words.fault_report(RuntimeError('x'), 'a test', 'nothing'); print('textual' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "SAGEWIZ_HOME": str(tmp_path)})
    assert result.stdout.strip() == "False"


def test_a_killed_run_resumes_without_a_second_job_or_an_orphan_process(home, digits):
    env = {**os.environ, "SAGEWIZ_HOME": str(home)}
    wizard = subprocess.Popen([SAGEWIZ, "run", "--data", str(digits), "--yes", "--hp", "epochs=6", "--hp", "mini_batch_size=16"],
                              env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    job_folder = None
    while time.monotonic() < deadline:  # wait until the engine has finished an epoch
        folders = list((home / "jobs").glob("*")) if (home / "jobs").exists() else []
        status = jobs.read_status(folders[0]) if folders else None
        if status and status.get("metrics"):
            job_folder = folders[0]
            break
        time.sleep(0.2)
    assert job_folder is not None, "training never started"
    os.kill(wizard.pid, signal.SIGKILL)
    wizard.wait()
    assert jobs.is_running(job_folder)  # the engine runs in its own session: the kill didn't reach it

    resumed = sagewiz(home, "run", "--resume", "--yes", "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["training"]["job_name"] == job_folder.name
    with Ledger(home / "ledger.sqlite3") as ledger:
        trainings = [r for r in ledger.resources(backend="local", include_deleted=True) if r.kind == "training-job"]
        assert len(trainings) == 1 and not ledger.unfinished_runs()
    assert not processes_of(home)

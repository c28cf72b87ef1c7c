"""What the local backend leaves running or on disk stays findable and is only ever stopped by the
right hands: a lost ledger doesn't hide a running endpoint, and a stale record whose process id now
belongs to another endpoint doesn't get that endpoint stopped. Real endpoint servers, real ledgers."""

from __future__ import annotations

import json
import os
import shutil
import signal

import pytest

from sagewiz.core.backend import EndpointSpec
from sagewiz.core.ledger import Ledger
from sagewiz.core.local import job as jobs
from sagewiz.core.local.artifact import ModelInfo, write_artifact
from sagewiz.core.local.backend import LocalBackend, uri_of
from sagewiz.core.local.endpoint import start_endpoint
from sagewiz.core.processes import process_exists
from sagewiz.tui.cli import main
from test_local_endpoint import CLASSES, SHAPE, small_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    info = ModelInfo(num_layers=20, num_classes=len(CLASSES), image_shape=SHAPE, class_names=CLASSES,
                     hyperparameters={"num_layers": "20", "image_shape": "3,28,28"})
    return write_artifact(tmp_path_factory.mktemp("model") / "model.tar.gz", small_model(), info)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def listed(capsys) -> dict[str, dict]:
    assert main(["resources", "--json"]) == 0
    out, err = capsys.readouterr()
    return {r["name"]: r for r in json.loads(out)}, err


@pytest.mark.parametrize("lost", ["deleted", "emptied", "deleted with the endpoint's folder"])
def test_an_endpoint_serving_after_the_ledger_was_lost_is_listed_and_cleanup_stops_it(home, model, capsys, lost):
    with Ledger(home / "ledger.sqlite3") as ledger:
        backend = LocalBackend(home, ledger)
        backend.ensure_storage()
        endpoint = backend.deploy(EndpointSpec("sagewiz-0a1b2c3d-endpoint", uri_of(model), "local-cpu"))
        pid = ledger.find("local", "endpoint", "sagewiz-0a1b2c3d-endpoint").pid
    finished_job = home / "jobs" / "sagewiz-0a1b2c3d-train"  # a training job that completed earlier
    jobs.write_spec(finished_job, {"job_name": finished_job.name, "hyperparameters": {}})
    jobs.write_status(finished_job, {"status": "Completed", "secondary_status": "Completed", "pid": 0})
    if lost == "emptied":
        (home / "ledger.sqlite3").write_bytes(b"")
    else:
        (home / "ledger.sqlite3").unlink()
    if lost == "deleted with the endpoint's folder":
        shutil.rmtree(home / "endpoints")  # the server keeps running without it

    try:
        found, said = listed(capsys)
        assert "was missing or damaged and was started afresh" in said and "found on disk" in said
        serving = f"still serving as process {pid}" if "folder" in lost else f"still serving at {endpoint.url}"
        assert serving in " ".join(said.split())
        assert found["sagewiz-0a1b2c3d-endpoint"]["state"] == "active"
        assert found["sagewiz-0a1b2c3d-train"]["state"] == "completed" and found["storage"]["state"] == "active"
        assert process_exists(pid)

        assert main(["cleanup", "--yes"]) == 0
        assert not process_exists(pid)
        assert not (home / "endpoints" / "sagewiz-0a1b2c3d-endpoint").exists() and not finished_job.exists()
        assert listed(capsys)[0] == {}
    finally:  # a failed test must not leave the server running
        if process_exists(pid):
            os.kill(pid, signal.SIGKILL)


def test_cleanup_leaves_alone_the_endpoint_that_now_has_a_stale_records_process_id(home, model, tmp_path, capsys):
    theirs = start_endpoint(model, tmp_path / "another-home" / "endpoints" / "theirs")
    try:
        with Ledger(home / "ledger.sqlite3") as ledger:
            # this home's endpoint died long ago; its process id and port went to the other endpoint
            mine = ledger.intend("local", "endpoint", "mine", details={"model": uri_of(model)})
            ledger.update(mine.id, state="active", pid=theirs.pid, arn_or_url=theirs.url, cost_per_hour=0.0)
            (home / "endpoints" / "mine").mkdir(parents=True)

        assert listed(capsys)[0]["mine"]["state"] != "active"
        assert main(["cleanup", "--yes"]) == 0

        assert theirs.ping() and process_exists(theirs.pid)
        assert not (home / "endpoints" / "mine").exists()
        assert listed(capsys)[0] == {}
    finally:
        theirs.stop()


def test_two_deploys_of_one_endpoint_at_once_start_one_server_both_use(home, model):
    import threading

    from sagewiz.core.local.endpoint import server_in

    answers = []

    def deploy():  # as two sagewiz processes would: each with its own ledger connection
        with Ledger(home / "ledger.sqlite3") as ledger:
            answers.append(LocalBackend(home, ledger).deploy(EndpointSpec("shared", uri_of(model), "local-cpu")).url)

    threads = [threading.Thread(target=deploy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Ledger(home / "ledger.sqlite3") as ledger:
        backend = LocalBackend(home, ledger)
        servers = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                   if f"{home}/endpoints/shared/".encode() in _cmdline(pid)]
        try:
            [record] = [r for r in backend.resources() if r.kind == "endpoint"]
            assert len(answers) == 2 and answers[0] == answers[1] == record.arn_or_url
            assert servers == [record.pid] and server_in(home / "endpoints" / "shared").pid == record.pid
        finally:
            for pid in servers:
                os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read()
    except OSError:
        return b""

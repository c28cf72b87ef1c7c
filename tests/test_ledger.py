"""The resource ledger: everything sagewiz creates is written down before it exists, so a run
killed at any moment resumes without creating anything twice and can always be cleaned up."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sagewiz.core import ledger as ledger_module
from sagewiz.core.errors import WizardError
from sagewiz.core.ledger import Ledger, LedgerError, Resource, Run, default_ledger_path


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(tmp_path / "ledger.sqlite3") as opened:
        yield opened


def test_a_resource_is_recorded_before_it_is_created_and_found_on_resume(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as first:
        run = first.start_run("aws", {"region": "eu-west-1"})
        bucket = first.intend("aws", "bucket", "sagewiz-123", region="eu-west-1", run_id=run.id)
        assert bucket.state == "planned" and bucket.arn_or_url is None
        # …and here the process is killed before CreateBucket returns.
    with Ledger.open(path) as resumed:
        found = resumed.find("aws", "bucket", "sagewiz-123", region="eu-west-1")
        assert found == bucket
        assert found.run_id == run.id and found.is_live
        active = resumed.update(found.id, state="active", arn_or_url="arn:aws:s3:::sagewiz-123")
        assert resumed.get(found.id) == active
        assert active.arn_or_url == "arn:aws:s3:::sagewiz-123" and active.created_at == bucket.created_at


def test_intending_the_same_bucket_twice_returns_the_first_record(ledger):
    first = ledger.intend("aws", "bucket", "sagewiz-123", region="eu-west-1", details={"try": 1})
    ledger.update(first.id, state="active")
    again = ledger.intend("aws", "bucket", "sagewiz-123", region="eu-west-1", details={"try": 2})
    assert again.id == first.id and again.state == "active" and again.details == {"try": 1}
    # The same name elsewhere is a different resource.
    other_region = ledger.intend("aws", "bucket", "sagewiz-123", region="us-east-1")
    local_folder = ledger.intend("local", "folder", "sagewiz-123")
    assert len({first.id, other_region.id, local_folder.id}) == 3
    assert local_folder.region == ""


def test_a_run_killed_mid_way_is_offered_for_resume_with_its_answers(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        done = ledger.start_run("local", {"dataset": "/data/a"})
        ledger.finish_run(done.id)
        older = ledger.start_run("local", {"dataset": "/data/b"})
        killed = ledger.start_run("aws", {"dataset": "/data/c"})
        ledger.save_progress(killed.id, "training", {"dataset": "/data/c", "epochs": 5, "lr": 0.01})
    with Ledger.open(path) as ledger:
        offered = ledger.unfinished_runs()
        assert [run.id for run in offered] == [killed.id, older.id]
        assert offered[0].step == "training"
        assert offered[0].answers == {"dataset": "/data/c", "epochs": 5, "lr": 0.01}
        assert offered[0].finished_at is None and ledger.get_run(done.id).finished_at is not None
        assert isinstance(offered[0], Run) and ledger.get_run("nope") is None


def test_progress_on_an_unknown_run_is_an_error(ledger):
    with pytest.raises(LedgerError):
        ledger.save_progress("0" * 32, "training", {})
    with pytest.raises(LedgerError):
        ledger.intend("local", "process", "job-1", run_id="0" * 32)


def test_a_killed_process_shows_up_as_stale(ledger):
    alive = subprocess.Popen(["sleep", "30"])
    doomed = subprocess.Popen(["sleep", "30"])
    try:
        for proc, name in ((alive, "train-alive"), (doomed, "train-doomed")):
            resource = ledger.intend("local", "process", name)
            ledger.update(resource.id, state="running", pid=proc.pid)
        finished = ledger.intend("local", "process", "train-finished")
        ledger.update(finished.id, state="completed", pid=doomed.pid)  # done: its pid may be gone
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=5)  # reaped, so the pid no longer exists (not even as a zombie)
        assert [r.name for r in ledger.stale_processes()] == ["train-doomed"]
    finally:
        alive.kill()
        alive.wait(timeout=5)


def test_a_resource_being_deleted_stays_listed_until_deleted_and_a_deleted_one_is_not_revived(ledger):
    served = ledger.update(ledger.intend("local", "endpoint", "e").id, state="active", pid=12345)
    assert ledger.begin_deleting(served.id) and ledger.get(served.id).state == "deleting"
    assert [r.name for r in ledger.live_resources()] == ["e"]  # a cleanup cut short finds it again
    ledger.update(served.id, state="deleted")
    assert not ledger.begin_deleting(served.id)  # another cleanup finished first: nothing changes
    assert ledger.get(served.id).state == "deleted" and not ledger.live_resources()


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sagewiz.core.ledger import Ledger
    path, go, who = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    while not go.exists():
        time.sleep(0.005)
    with Ledger.open(path) as ledger:  # every writer opens (and migrates) the fresh file at once
        run = ledger.start_run("local", {"who": who})
        for i in range(50):
            r = ledger.intend("local", "folder", f"{who}-{i}", run_id=run.id)
            ledger.update(r.id, state="active", details={"i": i})
            ledger.save_progress(run.id, f"step-{i}", {"who": who, "i": i})
    """
)


def test_two_processes_write_at_once_without_losing_rows(tmp_path):
    path, go = tmp_path / "ledger.sqlite3", tmp_path / "go"
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(go), f"w{n}"], stderr=subprocess.PIPE)
        for n in range(4)
    ]
    time.sleep(0.5)  # let every interpreter start and wait for the same moment
    go.touch()
    for writer in writers:
        _, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err.decode()
    with Ledger.open(path) as ledger:
        rows = ledger.resources()
        assert len(rows) == 200 and {r.state for r in rows} == {"active"}
        assert {r.name for r in rows} == {f"w{n}-{i}" for n in range(4) for i in range(50)}
        assert sorted(run.step for run in ledger.unfinished_runs()) == ["step-49"] * 4


def test_a_ledger_from_a_newer_sagewiz_is_refused_untouched(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    Ledger.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(ledger_module.MIGRATIONS) + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(LedgerError) as raised:
        Ledger.open(path)
    assert "newer" in raised.value.message and "upgrade" in raised.value.hint.lower()
    assert path.read_bytes() == before


def test_a_corrupt_ledger_file_gets_a_clear_message_and_is_kept(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    garbage = b"definitely not sqlite " * 400
    path.write_bytes(garbage)
    with pytest.raises(LedgerError) as raised:
        Ledger.open(path)
    error = raised.value
    assert isinstance(error, WizardError) and error.title == "Resource ledger problem"
    assert str(path) in error.message + error.hint and "move" in error.hint.lower()
    assert path.read_bytes() == garbage


def test_migrations_run_in_order_from_version_zero(tmp_path, monkeypatch):
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as v1:
        kept = v1.intend("aws", "endpoint", "sagewiz-ep", region="eu-west-1", cost_per_hour=0.23)
    v2 = "ALTER TABLE resources ADD COLUMN note TEXT NOT NULL DEFAULT 'from v2';"
    v3 = "CREATE TABLE seen (v INTEGER); INSERT INTO seen SELECT count(*) FROM resources WHERE note = 'from v2';"
    monkeypatch.setattr(ledger_module, "MIGRATIONS", [*ledger_module.MIGRATIONS, v2, v3])
    with Ledger.open(path) as upgraded:
        assert upgraded.get(kept.id) == kept
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (3,)
    assert conn.execute("SELECT v FROM seen").fetchall() == [(1,)]  # v3 ran after v2
    conn.close()
    fresh = tmp_path / "fresh.sqlite3"
    Ledger.open(fresh).close()
    assert sqlite3.connect(fresh).execute("SELECT v FROM seen").fetchall() == [(0,)]


def test_a_failing_migration_leaves_the_ledger_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "ledger.sqlite3"
    Ledger.open(path).close()
    broken = "ALTER TABLE resources ADD COLUMN note TEXT; SELECT no_such_column FROM runs;"
    monkeypatch.setattr(ledger_module, "MIGRATIONS", [*ledger_module.MIGRATIONS, broken])
    with pytest.raises(LedgerError):
        Ledger.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (1,)
    assert "note" not in [row[1] for row in conn.execute("PRAGMA table_info(resources)")]
    conn.close()


def test_deleted_resources_leave_the_clean_up_list_but_stay_in_history(ledger):
    endpoint = ledger.intend("aws", "endpoint", "ep", region="eu-west-1")
    model = ledger.intend("aws", "model", "m", region="eu-west-1")
    ledger.update(endpoint.id, state="deleting")
    ledger.update(endpoint.id, state="deleted")
    assert ledger.update(endpoint.id, state="deleted").state == "deleted"  # deleting twice is fine
    assert [r.id for r in ledger.live_resources()] == [model.id]
    assert [r.id for r in ledger.resources(include_deleted=True)] == [endpoint.id, model.id]
    with pytest.raises(LedgerError):
        ledger.update(endpoint.id, state="active")  # only intend() brings it back
    revived = ledger.intend("aws", "endpoint", "ep", region="eu-west-1")
    assert revived.id == endpoint.id and revived.state == "planned" and revived.is_live


def test_updates_merge_details_and_reject_nonsense(ledger):
    job = ledger.intend("local", "training_job", "job-1", details={"epochs": 5})
    job = ledger.update(job.id, state="running", details={"log": "/tmp/job-1.log"})
    assert job.details == {"epochs": 5, "log": "/tmp/job-1.log"}
    with pytest.raises(LedgerError):
        ledger.update(job.id, state="exploded")
    with pytest.raises(LedgerError):
        ledger.update(123456, state="running")
    with pytest.raises(LedgerError):
        ledger.intend("gcp", "bucket", "b")
    with pytest.raises(LedgerError):
        ledger.update(job.id, details={"path": Path("/not/json")})
    assert ledger.get(job.id) == job and ledger.get(123456) is None


def test_running_cost_sums_what_is_still_billing(ledger):
    assert ledger.running_cost_per_hour() == 0.0
    endpoint = ledger.intend("aws", "endpoint", "ep", region="eu-west-1", cost_per_hour=0.23)
    job = ledger.intend("aws", "training_job", "job", region="eu-west-1", cost_per_hour=1.125)
    done = ledger.intend("aws", "training_job", "old", region="eu-west-1", cost_per_hour=3.0)
    ledger.intend("aws", "bucket", "b", region="eu-west-1")  # no hourly price
    assert ledger.running_cost_per_hour() == 0.0  # planned costs nothing yet
    ledger.update(endpoint.id, state="active")
    ledger.update(job.id, state="running")
    ledger.update(done.id, state="completed")
    assert ledger.running_cost_per_hour() == pytest.approx(1.355)
    ledger.update(endpoint.id, state="deleted")
    assert ledger.running_cost_per_hour() == pytest.approx(1.125)


def test_resources_filter_by_backend_and_run(ledger):
    run = ledger.start_run("local", {})
    mine = ledger.intend("local", "folder", "f", run_id=run.id)
    ledger.intend("aws", "bucket", "b", region="eu-west-1")
    assert [r.id for r in ledger.resources(run_id=run.id)] == [mine.id]
    assert [r.kind for r in ledger.resources(backend="aws")] == ["bucket"]
    assert isinstance(mine, Resource)


def test_sagewiz_home_moves_the_ledger(tmp_path, monkeypatch):
    home = tmp_path / "nested" / "home"
    monkeypatch.setenv("SAGEWIZ_HOME", str(home))
    assert default_ledger_path() == home / "ledger.sqlite3"
    with Ledger.open() as ledger:
        ledger.intend("local", "folder", "x")
        assert ledger.path == home / "ledger.sqlite3"
    assert (home / "ledger.sqlite3").is_file()
    monkeypatch.delenv("SAGEWIZ_HOME")
    assert default_ledger_path().name == "ledger.sqlite3" and default_ledger_path().parent != home


def test_a_write_waits_while_another_process_is_writing(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        other.execute("BEGIN IMMEDIATE")  # e.g. the training subprocess, mid-write
        threading.Timer(0.5, other.execute, ["COMMIT"]).start()
        started = time.monotonic()
        with ThreadPoolExecutor(1) as worker:  # the TUI calls from thread workers
            bucket = worker.submit(ledger.intend, "local", "folder", "data").result(timeout=10)
        assert time.monotonic() - started >= 0.4 and bucket.state == "planned"
        other.close()

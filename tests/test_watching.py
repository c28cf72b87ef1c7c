"""A training job runs in a process of its own while a wizard watches it: the wizard collects the
engine's end as soon as it comes, and other wizards can tell that this one is watching the run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sagewiz.core.local import job as jobs


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _state(pid: int) -> str:
    """The process's state as the kernel shows it ("Z" for a zombie, "" once it is gone), read
    without waiting on it (which would reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def _until(condition, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc (Linux)")
def test_a_finished_training_engine_is_not_left_defunct_under_the_wizard(tmp_path):
    folder = tmp_path / "job"
    jobs.write_spec(folder, {"job_name": "broken"})  # an engine that ends at once: its spec lacks everything
    process = jobs.launch(folder)

    assert _until(lambda: _state(process.pid) in ("", "Z")), "the engine never ended"
    # ended: its exit status is collected without anyone asking about the job again
    assert _until(lambda: _state(process.pid) == "", seconds=10), "the ended engine stays <defunct>"


def another_wizard_watching(run_id: str):
    """A second sagewiz process that watches ``run_id`` until it is ended (a context manager)."""
    import contextlib
    import subprocess
    import sys

    @contextlib.contextmanager
    def running():
        from sagewiz.core.watchers import watcher_of

        process = subprocess.Popen([sys.executable, "-c", "import sys, time; from sagewiz.core.watchers import watch; "
                                    "watch(sys.argv[1]); time.sleep(120)", run_id])
        try:
            assert _until(lambda: watcher_of(run_id) == process.pid, seconds=30), "the other wizard never said it watches"
            yield process
        finally:
            process.kill()
            process.wait()

    return running()


def test_a_run_another_wizard_watches_is_known_to_be_watched_until_that_wizard_is_gone():
    from sagewiz.core.watchers import stop_watching, watch, watcher_of

    with another_wizard_watching("run-on-the-other-screen") as other:
        assert watcher_of("run-on-the-other-screen") == other.pid
        assert watcher_of("another-run") is None
    assert watcher_of("run-on-the-other-screen") is None  # killed without a word: its marker is ignored

    watch("my-run")  # this wizard's own run is never watched "elsewhere"
    assert watcher_of("my-run") is None
    stop_watching()


def test_a_run_a_wizard_walks_is_not_resumed_by_sagewiz_run_meanwhile(home):
    from sagewiz.core.locks import RunBusyError, holding_run

    with another_wizard_watching("walked-run") as other:
        with pytest.raises(RunBusyError, match=f"process {other.pid}"):
            with holding_run(home, "walked-run"):
                pass
    with holding_run(home, "walked-run"):  # the wizard has gone: the run is free again
        pass


def test_a_run_resumed_after_its_job_finished_alone_shows_every_epoch_from_the_log_and_when_the_job_began(home, tmp_path):
    from sagewiz.core.dataset.sample import write_sample_dataset
    from sagewiz.core.journey import JourneyOptions, train_model
    from sagewiz.core.ledger import Ledger
    from sagewiz.core.local.backend import LocalBackend

    write_sample_dataset(tmp_path / "digits", size=28, classes=[3, 8], seed=5)
    began = time.time() - 300  # five minutes ago, by the wizard that was closed since
    folder = home / "jobs" / "sagewiz-run-fini-train"  # the run's job, which ended while no wizard watched
    folder.mkdir(parents=True)
    jobs.write_status(folder, {"status": "Completed", "secondary_status": "Completed", "started_at": began, "ended_at": began + 200,
                               "history": [{"status": "Starting", "started_at": began}], "metrics": [],
                               "model_path": str(folder / "output" / "model.tar.gz")})
    jobs.log_path(folder).write_text("".join(f"[11/25/2026 09:0{e}:10 INFO 140] Epoch[{e}] Train-accuracy={0.5 + e / 10:.6f}\n"
                                             f"[11/25/2026 09:0{e}:11 INFO 140] Epoch[{e}] Validation-accuracy={0.4 + e / 10:.6f}\n"
                                             for e in range(3)))
    events = []
    with Ledger(home / "ledger.sqlite3") as ledger:
        train_model(LocalBackend(home, ledger), JourneyOptions(tmp_path / "digits", {"epochs": "3"}), "run-finished-alone", events.append)

    assert [(e.data["epoch"], e.data["value"]) for e in events if e.kind == "metric" and e.data["name"] == "validation:accuracy"] == \
        [(0, 0.4), (1, 0.5), (2, 0.6)]
    assert [e.data for e in events if e.kind == "started"] == [{"job": "sagewiz-run-fini-train", "started_at": began}]

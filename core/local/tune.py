"""The local tuning job: a tuner process that runs :func:`tuning.run_tuning` over engine jobs.

``launch`` writes ``tuning-spec.json`` into the tuning job's folder and starts
``python -m sagewiz.core.local.tune FOLDER`` in its own session, so the wizard can close while
trials run. The tuner writes ``tuning-status.json`` (the trials and the best one) every time
something changes, and ends Stopped when a ``stop`` file appears. Each trial is an ordinary local
training job, recorded in the ledger like any other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Mapping

from sagewiz.core.backend import Channel, JobStatus, TrainingSpec, Trial, TuningJob, TuningSpec
from sagewiz.core.errors import WizardError
from sagewiz.core.local.tuning import TrialProgress, TuningPlan, run_tuning
from sagewiz.core.processes import reap_when_done
from sagewiz.core.tuning_ranges import ParameterRange

SPEC, STATE, STOP, ERRORS = "tuning-spec.json", "tuning-status.json", "stop", "tuner.err"


def _write_json(path: Path, data: dict) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=1))
    os.replace(partial, path)  # readers never see half a file


def launch(folder: Path, spec: TuningSpec, home: Path) -> subprocess.Popen:
    """Write the tuning job's spec and start its tuner process. Raises OSError."""
    folder.mkdir(parents=True, exist_ok=True)
    base = spec.base
    _write_json(folder / SPEC, {
        "name": spec.tuning_job_name, "home": str(home),
        "base": {"hyperparameters": base.hyperparameters.to_sagemaker(),
                 "channels": [asdict(c) for c in base.channels], "output_uri": base.output_uri,
                 "instance_type": base.instance_type, "class_names": list(base.class_names)},
        "ranges": [asdict(r) for r in spec.ranges], "max_jobs": spec.max_jobs,
        "max_parallel_jobs": spec.max_parallel_jobs, "objective": spec.objective, "early_stopping": spec.early_stopping,
    })
    with open(folder / ERRORS, "ab") as errors:
        process = subprocess.Popen([sys.executable, "-m", "sagewiz.core.local.tune", str(folder)], stdin=subprocess.DEVNULL,
                                   stdout=errors, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    reap_when_done(process)  # no <defunct> tuner under the wizard once it ends
    _write_json(folder / STATE, {"name": spec.tuning_job_name, "status": JobStatus.IN_PROGRESS.value, "trials": [],
                                 "best": None, "pid": process.pid})
    return process


def read_state(folder: Path) -> TuningJob | None:
    """The tuning job as its tuner last wrote it, or None before it was launched."""
    try:
        data = json.loads((folder / STATE).read_text())
    except (OSError, ValueError):
        return None
    trials = tuple(Trial(t["job_name"], JobStatus(t["status"]), t["hyperparameters"], t.get("objective"), t.get("pruned", False))
                   for t in data["trials"])
    best = next((t for t in trials if t.job_name == data.get("best")), None)
    return TuningJob(data["name"], JobStatus(data["status"]), trials, best)


def is_running(folder: Path) -> bool:
    from sagewiz.core.processes import process_exists

    try:
        pid = json.loads((folder / STATE).read_text()).get("pid")
    except (OSError, ValueError):
        return False
    return bool(pid) and process_exists(pid)


def request_stop(folder: Path) -> None:
    (folder / STOP).touch()


def mark_ended(folder: Path, status: JobStatus) -> None:
    """Record an end the tuner couldn't write itself (it was killed). An end the tuner did write
    stands: it may have come between the caller's look at the state and its look at the process."""
    data = json.loads((folder / STATE).read_text())
    if JobStatus(data["status"]).finished:
        return
    data["status"] = status.value
    for trial in data["trials"]:
        if trial["status"] == JobStatus.IN_PROGRESS.value:
            trial["status"] = JobStatus.STOPPED.value
    _write_json(folder / STATE, data)


class _Trials:
    """Runs each trial as a local training job through the backend."""

    def __init__(self, backend, base: dict):
        self.backend, self.base = backend, base
        self.refused: dict[str, str] = {}

    def start(self, name: str, hyperparameters: Mapping[str, str]) -> None:
        from sagewiz.core.hyperparams import Hyperparameters

        try:
            spec = TrainingSpec(name, Hyperparameters.from_sagemaker(hyperparameters),
                                tuple(Channel(**c) for c in self.base["channels"]), self.base["output_uri"],
                                self.base["instance_type"], class_names=tuple(self.base["class_names"]))
            self.backend.start_training(spec)
        except WizardError as error:  # SageMaker fails such a trial and goes on with the next
            self.refused[name] = error.message

    def poll(self, name: str) -> TrialProgress:
        if name in self.refused:
            return TrialProgress(JobStatus.FAILED, {}, self.refused[name])
        job = self.backend.describe_training(name)
        curve = {m.epoch: m.value for m in job.metrics if m.name == "validation:accuracy"}
        return TrialProgress(job.status, curve, job.failure_reason)

    def stop(self, name: str) -> None:
        from sagewiz.core.local.job import request_stop

        if name not in self.refused:
            request_stop(self.backend.job_dir(name))


def main(argv: list[str] | None = None) -> int:
    from sagewiz.core.local.backend import LocalBackend

    folder = Path((argv or sys.argv[1:])[0])
    spec = json.loads((folder / SPEC).read_text())
    state = json.loads((folder / STATE).read_text())
    pid = os.getpid()

    def publish(job: TuningJob) -> None:
        _write_json(folder / STATE, {
            "name": job.tuning_job_name, "status": job.status.value, "pid": pid,
            "trials": [{**asdict(t), "status": t.status.value, "hyperparameters": dict(t.hyperparameters)} for t in job.trials],
            "best": job.best.job_name if job.best else None,
        })

    plan = TuningPlan(spec["name"], spec["base"]["hyperparameters"], tuple(ParameterRange(**{**r, "values": tuple(r["values"])})
                                                                           for r in spec["ranges"]),
                      spec["max_jobs"], spec["max_parallel_jobs"], spec["objective"], spec["early_stopping"])
    try:
        run_tuning(plan, _Trials(LocalBackend(Path(spec["home"])), spec["base"]), on_update=publish,
                   stop_requested=(folder / STOP).exists)
        return 0
    except Exception as error:  # the tuner must leave a readable end, whatever happened
        traceback.print_exc()
        reason = error.message if isinstance(error, WizardError) else f"{type(error).__name__}: {error}"
        state.update(status=JobStatus.FAILED.value, failure_reason=reason, pid=pid)
        latest = read_state(folder)
        if latest is not None:
            state["trials"] = [{**asdict(t), "status": t.status.value, "hyperparameters": dict(t.hyperparameters)} for t in latest.trials]
        _write_json(folder / STATE, state)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""The local backend: SageMaker's journey on this computer, free and offline.

Training jobs are engine subprocesses (:mod:`sagewiz.core.local.train`) with a job folder each,
tuning jobs a tuner subprocess (:mod:`sagewiz.core.local.tune`) that starts trials the same way,
endpoints an HTTP server process (:mod:`sagewiz.core.local.serve`). All of them run in their own
session, so closing the wizard doesn't stop them; the ledger records each one *before* it is
started, with its process id, so a resumed wizard finds it and ``sagewiz cleanup`` can stop it.

Everything lives under the sagewiz home (``$SAGEWIZ_HOME`` or the user data folder):
``jobs/<name>/``, ``tuning/<name>/``, ``endpoints/<name>/`` and ``storage/`` (the local stand-in
for the S3 bucket, readable by this user only).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import unquote, urlsplit

from sagewiz.core.backend import (
    Backend,
    Endpoint,
    EndpointSpec,
    EndpointStatus,
    EpochMetric,
    InstanceOption,
    JobStatus,
    LogEvent,
    Prediction,
    Progress,
    RegionReport,
    StatusChange,
    Storage,
    TrainingJob,
    TrainingSpec,
    TuningJob,
    TuningSpec,
)
from sagewiz.core.disk import room_needed
from sagewiz.core.errors import InputError, NotFoundError, WizardError
from sagewiz.core.journey import PACKED_KIND
from sagewiz.core.ledger import Ledger, Resource, default_ledger_path
from sagewiz.core.local import job as jobs

REGION = "local"
CPU, CUDA = "local-cpu", "local-cuda"
_STATE_OF = {JobStatus.IN_PROGRESS: "running", JobStatus.STOPPING: "running", JobStatus.COMPLETED: "completed",
             JobStatus.FAILED: "failed", JobStatus.STOPPED: "stopped"}
_COPY_CHUNK = 8 << 20
STOP_WAIT_S = 60.0


# A job, tuning job or endpoint name this backend never created (the shared NotFoundError).
UnknownResourceError = NotFoundError


def path_of(uri: str) -> Path:
    """The local path a ``file://`` URI (or a plain path) names."""
    parts = urlsplit(uri)
    return Path(unquote(parts.path)) if parts.scheme == "file" else Path(uri)


def uri_of(path: Path) -> str:
    return path.resolve().as_uri()


class LocalBackend(Backend):
    """The Backend contract on this computer. ``home`` defaults to the sagewiz home folder."""

    name = "local"

    def __init__(self, home: Path | None = None, ledger: Ledger | None = None):
        self.home = Path(home) if home else default_ledger_path().parent
        self.ledger = ledger or Ledger(self.home / "ledger.sqlite3")
        self._clients: dict[str, object] = {}

    # ---- where to run -------------------------------------------------------------------
    def regions(self) -> list[RegionReport]:
        from sagewiz.core.local.cores import usable_cores

        cores = usable_cores()
        training = [InstanceOption(CPU, 0, None, 1, 0.0, "free")]
        notes = [f"{cores} CPU cores; training uses all of them"]
        gpu = _cuda_device()
        if gpu:
            training.insert(0, InstanceOption(CUDA, 1, gpu[1], 1, 0.0, "free"))
            notes.append(f"GPU: {gpu[0]}")
        return [RegionReport(REGION, True, tuple(training), (InstanceOption(CPU, 0, None, None, 0.0, "free"),), "ready",
                             recommended_training=training[0].instance_type, recommended_hosting=CPU, notes=tuple(notes))]

    # ---- storage ------------------------------------------------------------------------
    def ensure_storage(self, region: str = REGION) -> Storage:
        folder = self.home / "storage"
        record = self.ledger.intend(self.name, "storage", "storage", details={"path": str(folder)})
        try:
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o700)  # the local stand-in for Block Public Access
        except OSError as error:
            raise WizardError(f"Can't create sagewiz's storage folder {folder}: {error.strerror or error}.",
                              hint="Set SAGEWIZ_HOME to a folder you can write to.") from None
        self.ledger.update(record.id, state="active", arn_or_url=uri_of(folder))
        return Storage(uri_of(folder), ("readable by your user account only (folder mode 700)", "never leaves this computer"))

    def upload(self, storage: Storage, local_path: Path, key: str, progress: Progress | None = None) -> str:
        source, target = Path(local_path), path_of(storage.uri) / key
        if not source.is_file():
            raise InputError(f"There is no file {source} to copy into storage.", hint="Prepare the dataset again.")
        size = source.stat().st_size
        if target.exists() and target.stat().st_size == size and target.stat().st_mtime_ns >= source.stat().st_mtime_ns:
            if progress:
                progress(size, size)  # already there and unchanged
            return uri_of(target)
        partial = target.with_name(target.name + ".partial")
        done = 0
        with room_needed(target.parent, f"copy {source.name} into storage", needed=size):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(source, "rb") as reader, open(partial, "wb") as writer:
                    while chunk := reader.read(_COPY_CHUNK):
                        writer.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, size)
            except OSError:
                partial.unlink(missing_ok=True)  # half a copy only takes the room the next try needs
                raise
        os.replace(partial, target)
        return uri_of(target)

    # ---- training -----------------------------------------------------------------------
    def job_dir(self, job_name: str) -> Path:
        return self.home / "jobs" / job_name

    def start_training(self, spec: TrainingSpec, *, run_id: str | None = None) -> TrainingJob:
        folder = self.job_dir(spec.job_name)
        started = jobs.read_status(folder) is not None
        if not started:  # refused before it is recorded: a job that can't start leaves nothing to clean up
            from sagewiz.core.backends import check_settings

            check_settings(spec.hyperparameters, self.name)  # use_pretrained_model=1 needs installed weights
        record = self.ledger.intend(self.name, "training-job", spec.job_name, run_id=run_id,
                                    details={"job_dir": str(folder), "instance_type": spec.instance_type,
                                             "class_names": list(spec.class_names)})
        if started:
            return self.describe_training(spec.job_name)  # started before: never twice
        try:
            jobs.write_spec(folder, {
                "job_name": spec.job_name,
                "hyperparameters": spec.hyperparameters.to_sagemaker(),
                "channels": {c.name: {"path": str(path_of(c.uri)), "content_type": c.content_type} for c in spec.channels},
                "class_names": list(spec.class_names),
                "output_dir": str(path_of(spec.output_uri) / spec.job_name) if spec.output_uri else str(folder / "output"),
                "device": "cuda" if spec.instance_type == CUDA else "cpu" if spec.instance_type == CPU else "auto",
                "seed": 0,
                **_pretrained(spec.hyperparameters),
            })
            process = jobs.launch(folder)
        except OSError as error:
            self.ledger.update(record.id, state="failed")
            raise WizardError(f"Can't start the training job {spec.job_name}: {error.strerror or error}.",
                              hint=f"Check that {self.home} is writable and has free space.") from None
        self.ledger.update(record.id, state="running", pid=process.pid, arn_or_url=uri_of(folder))
        return self.describe_training(spec.job_name)

    def describe_training(self, job_name: str) -> TrainingJob:
        folder = self.job_dir(job_name)
        status = jobs.read_status(folder)
        if status is None:
            if jobs.read_spec_or_none(folder) is not None:  # launched, engine not up yet
                return TrainingJob(job_name, JobStatus.IN_PROGRESS, "Starting")
            raise UnknownResourceError(f"There is no local training job {job_name}.", hint="`sagewiz resources` lists the jobs.")
        job = _training_job(job_name, status)
        if not job.status.finished and not jobs.is_running(folder):
            # the engine died without writing its end (killed, out of memory): say so, once
            jobs.mark_failed(folder, "The training process ended unexpectedly (it was killed or ran out of memory).")
            job = _training_job(job_name, jobs.read_status(folder))
        self._record_state("training-job", job_name, job.status)
        spec = jobs.read_spec_or_none(folder) or {}
        return replace(job, hyperparameters=dict(spec.get("hyperparameters", {})),
                       class_names=tuple(str(n) for n in spec.get("class_names") or ()))

    def model_file(self, model_uri: str, progress: Progress | None = None) -> Path:
        path = path_of(model_uri)
        if not path.is_file():
            raise UnknownResourceError(f"There is no model archive at {path}.",
                                       hint="Choose the model of a training job that completed: `sagewiz resources` lists them.")
        if progress:
            progress(path.stat().st_size, path.stat().st_size)
        return path

    def follow_logs(self, job_name: str, *, follow: bool = True) -> Iterator[LogEvent]:
        folder = self.job_dir(job_name)
        if not folder.exists():
            raise UnknownResourceError(f"There is no local training job {job_name}.", hint="`sagewiz resources` lists the jobs.")
        yield from _tail(jobs.log_path(folder), lambda: self.describe_training(job_name).status.finished, follow, job_name)

    def stop_training(self, job_name: str) -> TrainingJob:
        job = self.describe_training(job_name)
        if job.status.finished:
            return job
        jobs.request_stop(self.job_dir(job_name))
        deadline = time.monotonic() + STOP_WAIT_S
        while not (job := self.describe_training(job_name)).status.finished and time.monotonic() < deadline:
            time.sleep(0.2)
        return job

    # ---- tuning -------------------------------------------------------------------------
    def tuning_dir(self, name: str) -> Path:
        return self.home / "tuning" / name

    def start_tuning(self, spec: TuningSpec, *, run_id: str | None = None) -> TuningJob:
        from sagewiz.core.local import tune

        folder = self.tuning_dir(spec.tuning_job_name)
        record = self.ledger.intend(self.name, "tuning-job", spec.tuning_job_name, run_id=run_id, details={"dir": str(folder)})
        if tune.read_state(folder) is None:
            process = tune.launch(folder, spec, self.home)
            self.ledger.update(record.id, state="running", pid=process.pid, arn_or_url=uri_of(folder))
        return self.describe_tuning(spec.tuning_job_name)

    def describe_tuning(self, tuning_job_name: str) -> TuningJob:
        from sagewiz.core.local import tune

        folder = self.tuning_dir(tuning_job_name)
        state = tune.read_state(folder)
        if state is None:
            if folder.exists():
                return TuningJob(tuning_job_name, JobStatus.IN_PROGRESS, ())
            raise UnknownResourceError(f"There is no local tuning job {tuning_job_name}.", hint="`sagewiz resources` lists them.")
        if not state.status.finished and not tune.is_running(folder):
            tune.mark_ended(folder, JobStatus.FAILED)
            state = tune.read_state(folder)
        self._record_state("tuning-job", tuning_job_name, state.status)
        return state

    def stop_tuning(self, tuning_job_name: str) -> TuningJob:
        from sagewiz.core.local import tune

        state = self.describe_tuning(tuning_job_name)
        if not state.status.finished:
            tune.request_stop(self.tuning_dir(tuning_job_name))
            deadline = time.monotonic() + STOP_WAIT_S
            while not (state := self.describe_tuning(tuning_job_name)).status.finished and time.monotonic() < deadline:
                time.sleep(0.2)
        return state

    # ---- hosting ------------------------------------------------------------------------
    def endpoint_dir(self, endpoint_name: str) -> Path:
        return self.home / "endpoints" / endpoint_name

    def deploy(self, spec: EndpointSpec, progress: Callable[[str], None] | None = None) -> Endpoint:
        from sagewiz.core.locks import exclusive

        # Two deploys of one endpoint at once (a wizard and a resumed run) would both find no server
        # and start one each, one of them recorded nowhere: the second waits, then finds the first's.
        with exclusive(self.home / "locks" / f"endpoint-{spec.endpoint_name}.lock", wait=True):
            return self._deploy(spec, progress)

    def _deploy(self, spec: EndpointSpec, progress: Callable[[str], None] | None) -> Endpoint:
        from sagewiz.core.local.endpoint import endpoint_alive, start_endpoint

        say = progress or (lambda stage: None)
        named = {"class_names": list(spec.class_names)} if spec.class_names else {}
        record = self.ledger.intend(self.name, "endpoint", spec.endpoint_name, details={"model": spec.model_uri, **named})
        if record.pid and record.arn_or_url and endpoint_alive(record.pid, record.arn_or_url, self._identity(record)):
            say("already running")
            return self.describe_endpoint(spec.endpoint_name)
        say("starting the server and loading the model")
        self.ledger.update(record.id, state="creating")
        try:
            server = start_endpoint(path_of(spec.model_uri), self.endpoint_dir(spec.endpoint_name), port=spec.port)
        except WizardError:
            self.ledger.update(record.id, state="failed")
            raise
        identity = server.identity
        try:  # what proves, later, that this pid is still this endpoint's server
            self.ledger.update(record.id, state="active", pid=server.pid, arn_or_url=server.url, cost_per_hour=0.0,
                               details={"model_path": identity.model, "started": identity.started})
        except WizardError:
            server.stop()  # deleted meanwhile (`sagewiz cleanup`): a server nobody can see must not stay
            raise
        say(f"in service at {server.url}")
        return Endpoint(spec.endpoint_name, EndpointStatus.IN_SERVICE, server.url, CPU, 0.0)

    def describe_endpoint(self, endpoint_name: str) -> Endpoint:
        from sagewiz.core.local.endpoint import endpoint_alive

        record = self._record("endpoint", endpoint_name)
        if record.state == "deleted":
            raise UnknownResourceError(f"The endpoint {endpoint_name} was deleted.", hint="Deploy the model again.")
        alive = bool(record.pid and record.arn_or_url and endpoint_alive(record.pid, record.arn_or_url, self._identity(record)))
        status = EndpointStatus.IN_SERVICE if alive else EndpointStatus.CREATING if record.state in ("planned", "creating") \
            else EndpointStatus.OUT_OF_SERVICE if record.state == "active" else EndpointStatus.FAILED
        reason = None if alive or status == EndpointStatus.CREATING else "its server process is not running"
        return Endpoint(endpoint_name, status, record.arn_or_url, CPU, 0.0, reason)

    def predict(self, endpoint_name: str, image: bytes, content_type: str = "application/x-image") -> Prediction:
        client = self._clients.get(endpoint_name)
        if client is None:  # one client per endpoint: it keeps a connection per thread alive
            record = self._record("endpoint", endpoint_name)
            if not record.pid or not record.arn_or_url or record.state != "active":
                raise WizardError(f"The endpoint {endpoint_name} is not in service.", hint="Deploy the model again.")
            client = self._clients[endpoint_name] = self._endpoint(record)
        return client.predict(image, content_type)

    def _identity(self, record: Resource):
        """What the endpoint's server was started with (its ready file in the endpoint's folder,
        its model) and when, as recorded: only a process that matches all of it is this endpoint."""
        from sagewiz.core.local.endpoint import EndpointIdentity

        model = record.details.get("model_path") or (path_of(record.details["model"]) if record.details.get("model") else "")
        return EndpointIdentity.of(self.endpoint_dir(record.name), model, record.details.get("started"))

    def _endpoint(self, record: Resource):
        from sagewiz.core.local.endpoint import LocalEndpoint

        return LocalEndpoint(record.arn_or_url or "", record.pid, identity=self._identity(record))

    def _serving(self, record: Resource) -> bool:
        """Whether the endpoint's own server process still runs (not whether it answers right now:
        a busy server is slow to, and is still running)."""
        from sagewiz.core.local.endpoint import is_server_of

        return bool(record.pid) and is_server_of(record.pid, record.arn_or_url or "", self._identity(record))

    # ---- what exists --------------------------------------------------------------------
    def resources(self) -> list[Resource]:
        from sagewiz.core.local import discover

        discover.record_what_is_on_disk(self)
        for resource in self.ledger.live_resources(backend=self.name):
            try:  # refresh what may have finished or died since it was recorded
                if resource.kind == "training-job" and resource.state in ("planned", "running"):
                    self.describe_training(resource.name)
                elif resource.kind == "tuning-job" and resource.state in ("planned", "running"):
                    self.describe_tuning(resource.name)
                elif resource.kind == "endpoint" and resource.state == "active" and not self._serving(resource):
                    self.ledger.update(resource.id, state="stopped")  # its server is gone: not serving, only its folder is left
                elif resource.kind == PACKED_KIND and not Path(resource.details.get("dir", "")).is_dir():
                    self.ledger.update(resource.id, state="deleted")  # removed by hand: nothing left to clean up
            except UnknownResourceError:
                self.ledger.update(resource.id, state="failed")
        return self.ledger.live_resources(backend=self.name)

    def delete(self, resource: Resource) -> None:
        if resource.kind == "endpoint":
            self._clients.pop(resource.name, None)
            # marked before its server stops: `sagewiz serve` watching it then knows who stopped it
            self.ledger.begin_deleting(resource.id)
            if resource.pid:
                self._endpoint(resource).stop()  # signals it only once it proved to be this endpoint's server
            shutil.rmtree(self.endpoint_dir(resource.name), ignore_errors=True)
        elif resource.kind == "training-job":
            if self.job_dir(resource.name).exists():
                self.stop_training(resource.name)
            shutil.rmtree(self.job_dir(resource.name), ignore_errors=True)
        elif resource.kind == "tuning-job":
            if self.tuning_dir(resource.name).exists():
                self.stop_tuning(resource.name)
            shutil.rmtree(self.tuning_dir(resource.name), ignore_errors=True)
        elif resource.kind == "storage":
            shutil.rmtree(self.home / "storage", ignore_errors=True)
        elif resource.kind == PACKED_KIND and resource.details.get("dir"):
            shutil.rmtree(resource.details["dir"], ignore_errors=True)  # a copy: the user's pictures are elsewhere, untouched
        self.ledger.update(resource.id, state="deleted")

    # ---- ledger helpers -----------------------------------------------------------------
    def _record(self, kind: str, name: str) -> Resource:
        record = self.ledger.find(self.name, kind, name)
        if record is None:
            raise UnknownResourceError(f"There is no local {kind.replace('-', ' ')} {name}.", hint="`sagewiz resources` lists them.")
        return record

    def _record_state(self, kind: str, name: str, status: JobStatus) -> None:
        record = self.ledger.find(self.name, kind, name)
        if record is not None and record.state not in ("deleted", _STATE_OF[status]):
            self.ledger.update(record.id, state=_STATE_OF[status])


def _pretrained(hyperparameters) -> dict:
    """The spec's word on the weights use_pretrained_model=1 starts from: the installed network's."""
    if not hyperparameters.use_pretrained_model:
        return {}
    from sagewiz.core.model.pretrained import find_pretrained

    network = find_pretrained(hyperparameters.num_layers, hyperparameters.image_shape_tuple)
    return {"pretrained_weights": str(network.path), "pretrained_source": network.source} if network else {}


def _training_job(job_name: str, status: dict) -> TrainingJob:
    ended = status.get("ended_at") or time.time()
    started = status.get("started_at")
    model = status.get("model_path")
    return TrainingJob(
        job_name=job_name,
        status=JobStatus(status.get("status", "InProgress")),
        secondary_status=status.get("secondary_status", ""),
        history=tuple(StatusChange(h["status"], h.get("started_at", 0.0), h.get("message", "")) for h in status.get("history", [])),
        failure_reason=status.get("failure_reason"),
        model_uri=uri_of(Path(model)) if model else None,
        metrics=tuple(EpochMetric(m["epoch"], m["name"], m["value"]) for m in status.get("metrics", [])),
        billable_seconds=int(ended - started) if started else None,
        cost=0.0,
    )


def _tail(path: Path, finished: Callable[[], bool], follow: bool, stream: str) -> Iterator[LogEvent]:
    """Every line of ``path``; with ``follow``, wait for more until ``finished()`` and the file is read."""
    position, pending, last_round = 0, b"", False
    while True:
        try:
            with open(path, "rb") as log:
                log.seek(position)
                data = log.read()
        except FileNotFoundError:
            data = b""
        position += len(data)
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            yield LogEvent(time.time(), line.decode("utf-8", "replace"), stream)
        if not follow or last_round:
            break
        if not data:
            if finished():
                last_round = True  # read once more: the engine may have written its last lines just before
            else:
                time.sleep(0.25)
    if pending:
        yield LogEvent(time.time(), pending.decode("utf-8", "replace"), stream)


def _cuda_device() -> tuple[str, float] | None:
    """(name, memory GiB) of the first CUDA GPU, if torch is installed and sees one."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    properties = torch.cuda.get_device_properties(0)
    return properties.name, round(properties.total_memory / 2**30, 1)

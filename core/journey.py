"""The whole journey without questions: check → pack → train → (tune) → deploy → evaluate → clean up.

``sagewiz run`` calls :func:`run_journey`; the wizard walks the same steps one screen at a time
through the same functions. Everything goes through the :class:`~sagewiz.core.backend.Backend`
contract, so the journey is the same on this computer and on SageMaker. Resources get names
derived from the run's id, and backends return what already exists for a name, so a run that is
started again with the same id (``--resume``) picks up where it stopped instead of creating
anything twice.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from sagewiz.core.backend import (Backend, Channel, EndpointSpec, InstanceOption, JobStatus, TrainingJob, TrainingSpec, TuningJob,
                                  TuningSpec)
from sagewiz.core.errors import DatasetError, WizardError

STEPS = ("check", "prepare", "upload", "train", "tune", "deploy", "evaluate", "clean up")


class JobFailedError(WizardError):
    """A training or tuning job ended Failed or Stopped."""

    default_title = "Training did not finish"


@dataclass(frozen=True)
class JourneyOptions:
    """What ``sagewiz run`` was asked for."""

    data_dir: Path
    hyperparameters: Mapping[str, str] = field(default_factory=dict)  # the user's --hp overrides
    tune_jobs: int = 0
    keep_endpoint: bool = False
    region: str = ""
    seed: int = 0
    continue_from: str = ""  # incremental training: an earlier training job whose model learns on
    endpoint_instance: str = ""  # where the endpoint runs (default: the region's cheapest usable choice)
    spot: bool = False  # aws: managed spot training, cheaper, resumed from checkpoints when interrupted
    instance_count: int = 1  # aws: train on several GPU machines at once (kv_store dist_sync)
    packed_dir: Path | None = None  # where the pictures are packed (default: the dataset's packed_folder, shared by its runs)
    test_here: bool = False  # aws: test the trained model on this computer (free) instead of on a SageMaker endpoint


@dataclass(frozen=True)
class JourneyEvent:
    """Something to show while the journey runs: a step starting or ending, a log line, a
    metric, a packing or evaluation count, a tuning trial."""

    kind: str  # "step", "done", "log", "metric", "progress", "trials", "note", "started" (a job, with its own start time)
    step: str
    text: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


Listener = Callable[[JourneyEvent], None]


def _names(run_id: str) -> dict[str, str]:
    short = run_id[:8]
    return {"train": f"sagewiz-{short}-train", "tune": f"sagewiz-{short}-tune", "endpoint": f"sagewiz-{short}-endpoint"}


@dataclass(frozen=True)
class TrainedModel:
    """What the training half of the journey hands to the deploying half: the model, where an
    endpoint for it can run, and the test pictures to try it on."""

    run_id: str
    summary: dict[str, Any]  # so far: dataset, hyperparameters, training (and tuning), model_from
    model_uri: str
    region: str
    hosting: tuple[InstanceOption, ...]  # what the region offers for endpoints, with prices
    recommended_hosting: str
    test_images: tuple[tuple[str, int], ...]  # (path, label)
    class_names: tuple[str, ...]
    top_k: int
    spec: TrainingSpec | None = None  # the first training's: tuning varies it (None: a model that can't be tuned further)

    @property
    def validation_accuracy(self) -> float | None:
        """The kept model's last validation accuracy (the best trial's when tuning won)."""
        tuning = self.summary.get("tuning") or {}
        for trial in tuning.get("trials", []):
            if trial["job_name"] == self.summary.get("model_from") and trial["objective"] is not None:
                return trial["objective"]
        epochs = [e for e in self.summary["training"]["epochs"] if "validation:accuracy" in e]
        return epochs[-1]["validation:accuracy"] if epochs else None


def run_journey(backend: Backend, options: JourneyOptions, run_id: str,
                listen: Listener = lambda event: None, *, poll_seconds: float = 1.0) -> dict[str, Any]:
    """Run every step and return the summary ``sagewiz run --json`` prints. Raises WizardError
    (DatasetError, HyperparameterError, JobFailedError, …) with the step's hint; whatever was
    created stays in the ledger for ``sagewiz cleanup``."""
    trained = train_model(backend, options, run_id, listen, poll_seconds=poll_seconds)
    if options.test_here:
        return test_here(backend, trained, listen, keep_endpoint=options.keep_endpoint)
    return deploy_and_test(backend, trained, listen, endpoint_instance=options.endpoint_instance,
                           keep_endpoint=options.keep_endpoint)


def train_model(backend: Backend, options: JourneyOptions, run_id: str,
                listen: Listener = lambda event: None, *, poll_seconds: float = 1.0) -> TrainedModel:
    """The first half: check → pack → upload → train → (tune). Nothing is left running; the
    wizard shows the model before asking where its endpoint should run. Raises WizardError."""
    from sagewiz.core.dataset.scan import count_images, scan_dataset
    from sagewiz.core.earlier import earlier_model
    from sagewiz.core.estimates import MEASURING, measure_pace, pace_unknown
    from sagewiz.core.suggestions import suggest_for, suggestion_reasons
    from sagewiz.core.hyperparams import warnings, with_overrides
    from sagewiz.core.prepare import packed_copy_lock, prepare_dataset

    if backend.name == "local" and (options.spot or options.instance_count != 1):
        from sagewiz.core.errors import InputError

        raise InputError("Spot training and several instances are for AWS; this computer trains as one machine.",
                         hint="Leave out --spot and --instances, or use --backend aws.")
    if options.instance_count < 1:
        from sagewiz.core.errors import InputError

        raise InputError(f"--instances must be 1 or more, not {options.instance_count}.", hint="For example: --instances 2")
    if options.test_here and (backend.name == "local" or options.endpoint_instance not in ("", HERE)):
        from sagewiz.core.errors import InputError

        raise InputError("--test-here tests a SageMaker-trained model on this computer instead of on an endpoint type."
                         if options.endpoint_instance else "--test-here is for --backend aws: on this computer the model is always tested here.",
                         hint="Leave out --endpoint-instance to test here, or --test-here to test on a SageMaker endpoint."
                         if options.endpoint_instance else "Leave out --test-here.")
    names = _names(run_id)
    summary: dict[str, Any] = {"run_id": run_id, "backend": backend.name}

    def step(name: str, text: str, **data: Any) -> None:
        listen(JourneyEvent("step", name, text, data))

    step("check", f"Checking the pictures in {options.data_dir}")
    total = count_images(options.data_dir)
    checked = 0

    def advance(n: int) -> None:
        nonlocal checked
        checked += n
        listen(JourneyEvent("progress", "check", "", {"done": checked, "total": total}))

    report = scan_dataset(options.data_dir, progress=advance)
    if not report.usable:
        raise DatasetError("The dataset can't be used yet: " + " ".join(report.summary[:2]),
                           hint=f"Run `sagewiz check {options.data_dir}` to see every problem and what to fix.")
    if not report.counts.get("test"):
        raise DatasetError("There are no test pictures to evaluate the model on.",
                           hint="Put some pictures in test/<class>/ folders (or use a folder of class folders, which sagewiz splits).")
    region = options.region or backend.default_region
    where = backend.region_report(region)
    device = "cuda" if any(o.gpus for o in where.training) else "cpu"
    # where training and the endpoint will run, checked now: before anything is packed, uploaded or billed
    instance = _recommended(where)
    hosting = _recommended(where, hosting=True)
    if options.endpoint_instance:
        _refuse_unless_offered(where.region, where.hosting, options.endpoint_instance)
    base = earlier_model(backend, options.continue_from, report, listen) if options.continue_from else None
    if base:
        changed = [f"{k} (the model has {v}, you asked for {options.hyperparameters[k]})"
                   for k, v in base.kept.items() if k in options.hyperparameters and options.hyperparameters[k] != v]
        if changed:
            from sagewiz.core.errors import InputError

            raise InputError(f"A model that learns on keeps its network: {'; '.join(changed)}.", title="Can't change the network",
                             hint="Leave those settings out to continue the earlier model, or train a new model without --continue-from.")
    def settings():
        return with_overrides(suggest_for(report, device, seed=options.seed, backend=backend.name),
                              {**(base.kept if base else {}), **options.hyperparameters})

    first = settings()
    from sagewiz.core.backends import check_settings

    check_settings(first, backend.name)  # what this backend refuses stops the run before anything is packed
    if not base:  # why these settings (an earlier model's network was chosen for other pictures)
        if backend.name == "local" and pace_unknown(first):  # the time said is then this computer's
            listen(JourneyEvent("note", "check", MEASURING))
            measure_pace(first)
            first = settings()  # what was measured can make mixed precision the faster choice
        for reason in suggestion_reasons(report, first, device, backend=backend.name, instance=instance):
            listen(JourneyEvent("note", "check", reason))
    listen(JourneyEvent("done", "check", " ".join(report.summary[:1]), {"classes": [c.name for c in report.classes]}))

    step("prepare", "Packing the pictures into RecordIO files")
    resize = _packing_size(first)
    packing = []

    def packed(split: str, done: int, n: int) -> None:
        packing.append(split)
        listen(JourneyEvent("progress", "prepare", split, {"done": done, "total": n}))

    folder = options.packed_dir or packed_folder(options.data_dir)
    # held until the records are uploaded: another run on the same pictures waits, then uses them as
    # they are, instead of packing into the same files at once or over the ones being copied
    with packed_copy_lock(folder, waiting=lambda text: listen(JourneyEvent("note", "prepare", text))):
        with recorded_packing(backend.ledger, options.data_dir, folder):
            prepared = prepare_dataset(report, folder, resize=resize, seed=options.seed, progress=packed)
        if not packing:
            listen(JourneyEvent("note", "prepare", f"The pictures were already packed at {resize} px: nothing to redo."))
        hyperparameters = with_overrides(first.replace(num_training_samples=prepared.counts["train"]),
                                         {**(base.kept if base else {}), **options.hyperparameters})
        for warning in warnings(hyperparameters, device=device):
            listen(JourneyEvent("note", "prepare", warning))
        # what the check refused (damaged files, ...) never reaches the packer: both are left out
        skipped = [f"{p.path}: {p.reason}" for p in report.problems if p.action == "skipped"] + list(prepared.skipped)
        if skipped:
            listen(JourneyEvent("note", "prepare", f"{len(skipped):,} file{'s' * (len(skipped) != 1)} left out (damaged, or not "
                                f"usable pictures): `sagewiz check {options.data_dir}` lists each with its reason.", {"skipped": skipped}))
        summary["dataset"] = {"classes": list(prepared.class_names), **prepared.counts, "skipped": skipped}
        summary["hyperparameters"] = hyperparameters.to_sagemaker()

        step("upload", "Copying the training data to private storage")
        storage = backend.ensure_storage(region)
        channels = tuple(
            Channel(split, backend.upload(storage, path, f"{run_id[:8]}/data/{path.name}",
                                          progress=lambda done, n, split=split: listen(JourneyEvent("progress", "upload", split, {"done": done, "total": n}))),
                    "application/x-recordio")
            for split, path in (("train", prepared.train_rec), ("validation", prepared.validation_rec))
        )
    if base:  # incremental training: the earlier model goes in as the "model" channel
        uri = base.uri or backend.upload(storage, base.path, f"{run_id[:8]}/model/model.tar.gz", progress=lambda done, n: listen(
            JourneyEvent("progress", "upload", "model", {"done": done, "total": n})))  # a model from elsewhere is brought in
        channels += (Channel("model", uri, "application/x-sagemaker-model"),)
        summary["continued_from"] = options.continue_from
    job_name = _attempt_name(names["train"], backend.describe_training, _training_failed)
    spec = TrainingSpec(job_name=job_name, hyperparameters=hyperparameters, channels=channels,
                        output_uri=f"{storage.uri}/{run_id[:8]}/output", instance_type=instance,
                        instance_count=options.instance_count, spot=options.spot,
                        class_names=prepared.class_names, tags={"sagewiz:run": run_id})

    step("train", f"Training {job_name} on {instance}", job=job_name, instance_type=instance,
         instance_count=options.instance_count, hyperparameters=hyperparameters.to_sagemaker())  # what its pace compares with
    job = _train(backend, spec, listen, poll_seconds)
    summary["training"] = _job_summary(job)
    summary["model_from"] = job.job_name
    trained = TrainedModel(run_id, summary, job.model_uri, where.region, tuple(where.hosting), hosting,
                           tuple(prepared.test_images), tuple(prepared.class_names), max(hyperparameters.top_k or 1, 1), spec)
    return tune_model(backend, trained, options.tune_jobs, listen, poll_seconds=poll_seconds) if options.tune_jobs else trained


def tune_model(backend: Backend, trained: TrainedModel, tune_jobs: int, listen: Listener = lambda event: None, *,
               poll_seconds: float = 1.0) -> TrainedModel:
    """After the first training: ``tune_jobs`` more trainings with other settings (the seed
    ranges), and the better of the best trial and the first training goes on. The wizard shows
    this on a step of its own; ``train_model`` with ``tune_jobs`` does it at once. The tuning job
    is named after the run, so a resumed run finds it instead of starting another. Raises WizardError."""
    from dataclasses import replace

    from sagewiz.core.tuning_ranges import SEED_TUNING_RANGES

    if trained.spec is None:
        raise ValueError("tune_model needs the TrainedModel that train_model returned (with its training spec)")
    name = _attempt_name(_names(trained.run_id)["tune"], backend.describe_tuning, _tuning_failed)
    listen(JourneyEvent("step", "tune", f"Tuning {name}: {tune_jobs} training jobs, keeping the best", {"job": name}))
    tuning = _tune(backend, TuningSpec(name, trained.spec, SEED_TUNING_RANGES, tune_jobs), listen, poll_seconds)
    summary = {**trained.summary,
               "tuning": {"name": tuning.tuning_job_name, "status": tuning.status.value,
                          "trials": [{"job_name": t.job_name, "status": t.status.value, "objective": t.objective,
                                      "pruned": t.pruned, "hyperparameters": dict(t.hyperparameters)} for t in tuning.trials],
                          "best": tuning.best.job_name if tuning.best else None}}
    first = trained.validation_accuracy
    if tuning.best and tuning.best.objective is not None and (first is None or tuning.best.objective > first):
        summary["model_from"] = tuning.best.job_name
        return replace(trained, summary=summary, model_uri=backend.describe_training(tuning.best.job_name).model_uri)
    return replace(trained, summary=summary)


def deploy_and_test(backend: Backend, trained: TrainedModel, listen: Listener = lambda event: None, *,
                    endpoint_instance: str = "", keep_endpoint: bool = False) -> dict[str, Any]:
    """The second half: an endpoint for the trained model on ``endpoint_instance`` (default: the
    region's recommendation), the test pictures sent to it, and the endpoint deleted again unless
    it is to be kept. Returns the journey's whole summary. Raises WizardError."""
    hosting = endpoint_instance or trained.recommended_hosting
    _refuse_unless_offered(trained.region, trained.hosting, hosting)
    summary = dict(trained.summary)
    name = _names(trained.run_id)["endpoint"]

    def step(step_name: str, text: str, **data: Any) -> None:
        listen(JourneyEvent("step", step_name, text, data))

    step("deploy", f"Starting the endpoint {name} on {hosting}", instance_type=hosting)
    endpoint = backend.deploy(EndpointSpec(name, trained.model_uri, hosting, tags={"sagewiz:run": trained.run_id}),
                              progress=lambda stage: listen(JourneyEvent("note", "deploy", stage)))
    summary["endpoint"] = {"name": endpoint.endpoint_name, "url": endpoint.url, "instance_type": endpoint.instance_type,
                           "backend": backend.name}  # test_here: this computer's, though the model is SageMaker's
    try:
        from sagewiz.core.evaluate import evaluate

        step("evaluate", f"Testing the endpoint on {len(trained.test_images)} test pictures")
        evaluation = evaluate(trained.test_images, lambda image, content_type: backend.predict(endpoint.endpoint_name, image, content_type),
                              trained.class_names, top_k=trained.top_k,
                              progress=lambda done, n: listen(JourneyEvent("progress", "evaluate", "", {"done": done, "total": n})))
        summary["evaluation"] = evaluation.to_dict()
        summary["test_accuracy"] = evaluation.accuracy
        listen(JourneyEvent("done", "evaluate", f"Test accuracy {evaluation.accuracy:.3f}", {"accuracy": evaluation.accuracy}))
    finally:
        if not keep_endpoint:
            step("clean up", f"Deleting the endpoint {endpoint.endpoint_name}")
            for resource in backend.resources():
                if resource.kind == "endpoint" and resource.name == endpoint.endpoint_name:
                    backend.delete(resource)
            summary["endpoint"]["deleted"] = True
    return summary


HERE = "local-cpu"  # what "test on this computer" deploys on: the local backend's endpoint, free


def test_here(backend: Backend, trained: TrainedModel, listen: Listener = lambda event: None, *,
              keep_endpoint: bool = False, local: Backend | None = None) -> dict[str, Any]:
    """The second half on this computer instead, free: the model ``backend`` trained (on
    SageMaker) is brought here (downloaded once, with progress, into the sagewiz home), served by
    a local endpoint and tested on the test pictures; no SageMaker endpoint is created. ``local``
    is the local backend (default: one on ``backend``'s ledger). Returns the journey's summary,
    with ``tested_here``. Raises WizardError."""
    from dataclasses import replace

    from sagewiz.core.backends import open_backend

    here = local or open_backend("local", ledger=backend.ledger)
    listen(JourneyEvent("step", "download", f"Bringing the model onto this computer from {trained.model_uri}"))
    path = backend.model_file(trained.model_uri, progress=lambda done, n: listen(
        JourneyEvent("progress", "download", "", {"done": done, "total": n})))
    listen(JourneyEvent("done", "download", f"The model is at {path}", {"path": str(path)}))
    report = here.region_report(here.default_region)
    moved = replace(trained, model_uri=path.resolve().as_uri(), region=report.region, hosting=tuple(report.hosting),
                    recommended_hosting=HERE if any(o.instance_type == HERE for o in report.hosting) else _recommended(report, hosting=True))
    summary = deploy_and_test(here, moved, listen, keep_endpoint=keep_endpoint)
    return {**summary, "tested_here": {"model": str(path), "from": trained.model_uri}}


def _refuse_unless_offered(region: str, hosting: tuple[InstanceOption, ...], instance_type: str) -> None:
    """Raise WizardError when the region offers endpoint types and ``instance_type`` isn't one of them."""
    offered = [o.instance_type for o in hosting]
    if offered and instance_type not in offered:
        raise WizardError(f"{region} doesn't offer {instance_type} for endpoints.", hint="Choose one of: " + ", ".join(offered) + ".")


def _recommended(report, hosting: bool = False) -> str:
    choice = report.recommended_hosting if hosting else report.recommended_training
    if not choice:
        raise WizardError(f"{report.region} has no {'hosting' if hosting else 'training'} instance this account can use ({report.verdict}).",
                          hint="Run `sagewiz regions` to find a region that is ready, or request a quota increase.")
    return choice


def _attempt_name(base: str, describe: Callable[[str], Any], failed: Callable[[Any], bool]) -> str:
    """The name of the run's job: ``base``, or, once a job of that name ended without a result
    (its process was killed, the algorithm failed), ``base-2``, ``base-3``…: resuming such a run
    starts a new job instead of finding the failed one again, which stays recorded as it ended.
    A job that is running or finished well is the one to go on with."""
    from sagewiz.core.errors import NotFoundError

    name, attempt = base, 1
    while True:
        try:
            if not failed(describe(name)):
                return name
        except NotFoundError:
            return name  # never started (or only recorded): this is the one to start
        attempt += 1
        name = f"{base}-{attempt}"


def _training_failed(job: TrainingJob) -> bool:
    """What ``_train`` refuses to go on with: ended, but not with a model."""
    return job.status.finished and (job.status != JobStatus.COMPLETED or not job.model_uri)


def _tuning_failed(tuning: TuningJob) -> bool:
    """What ``_tune`` refuses to go on with: ended without a single completed trial."""
    return tuning.status.finished and tuning.status != JobStatus.COMPLETED and tuning.best is None


def _train(backend: Backend, spec: TrainingSpec, listen: Listener, poll_seconds: float) -> TrainingJob:
    from sagewiz.core.metrics import metrics_from_log_line

    job = backend.start_training(spec)
    # resumed, the job may be minutes old: its own start, not the watcher's, is when it began
    listen(JourneyEvent("started", "train", "", {"job": spec.job_name,
                                                 "started_at": job.history[0].started_at if job.history else time.time()}))
    # from the start of its log: a job that ended while nobody watched still shows every epoch
    for event in backend.follow_logs(spec.job_name, follow=not job.status.finished):
        listen(JourneyEvent("log", "train", event.message))
        for epoch, name, value in metrics_from_log_line(event.message):
            listen(JourneyEvent("metric", "train", f"{name}={value:.4f}", {"epoch": epoch, "name": name, "value": value}))
    while not (job := backend.describe_training(spec.job_name)).status.finished:
        time.sleep(poll_seconds)
    if job.status != JobStatus.COMPLETED or not job.model_uri:
        raise JobFailedError(f"The training job {spec.job_name} ended {job.status.value}: {(job.failure_reason or 'no reason given').rstrip('.')}.",
                             hint=f"Read its log with `sagewiz monitor {spec.job_name} --no-follow`; fix the cause and run again with --resume.")
    listen(JourneyEvent("done", "train", f"{spec.job_name} completed", {"metrics": [m.__dict__ for m in job.metrics]}))
    return job


def _tune(backend: Backend, spec: TuningSpec, listen: Listener, poll_seconds: float) -> TuningJob:
    tuning = backend.start_tuning(spec)
    shown = None
    while True:
        rows = [(t.job_name, t.status.value, t.objective, t.pruned) for t in tuning.trials]
        if rows != shown:
            shown = rows
            listen(JourneyEvent("trials", "tune", "", {"trials": rows, "best": tuning.best.job_name if tuning.best else None,
                                                       "hyperparameters": {t.job_name: dict(t.hyperparameters) for t in tuning.trials},
                                                       "tuned": [r.name for r in spec.ranges]}))  # the settings the trials vary
        if tuning.status.finished:
            break
        time.sleep(poll_seconds)
        tuning = backend.describe_tuning(spec.tuning_job_name)
    if tuning.status != JobStatus.COMPLETED and tuning.best is None:
        raise JobFailedError(f"The tuning job {spec.tuning_job_name} ended {tuning.status.value} without a completed trial.",
                             hint="Check the trials' logs, then run again with --resume.")
    return tuning


def _job_summary(job: TrainingJob) -> dict[str, Any]:
    epochs: dict[int, dict[str, float]] = {}
    for metric in job.metrics:
        epochs.setdefault(metric.epoch, {})[metric.name] = metric.value
    return {"job_name": job.job_name, "status": job.status.value, "model_uri": job.model_uri,
            "billable_seconds": job.billable_seconds, "cost": job.cost,
            "epochs": [{"epoch": e, **values} for e, values in sorted(epochs.items())]}


def packed_folder(data_dir: str | Path) -> Path:
    """Where a dataset folder's pictures are packed ahead of training (one folder per dataset
    folder, in the sagewiz home): the wizard packs on its Pictures step, training reuses it."""
    import hashlib

    from sagewiz.core.ledger import default_ledger_path

    key = hashlib.sha256(str(Path(data_dir).expanduser().resolve()).encode()).hexdigest()[:16]
    return default_ledger_path().parent / "packed" / key


def pack_ahead(report, device: str, *, seed: int = 0, progress=None, ledger=None, backend: str = "local"):
    """Pack a checked dataset now, at the size training will ask for on ``device`` with the
    suggested settings, into :func:`packed_folder`, where ``train_model`` then finds it done.
    The packed copy goes into the ledger (``ledger``, default: the user's), so clean-up offers it.
    Returns the PreparedData. Raises DatasetError or LedgerError."""
    from contextlib import nullcontext

    from sagewiz.core.ledger import Ledger
    from sagewiz.core.prepare import prepare_dataset
    from sagewiz.core.suggestions import suggest_for

    folder = packed_folder(report.root)
    with Ledger() if ledger is None else nullcontext(ledger) as book, recorded_packing(book, report.root, folder):
        return prepare_dataset(report, folder, resize=_packing_size(suggest_for(report, device, seed=seed, backend=backend)), seed=seed, progress=progress)


@contextmanager
def recorded_packing(ledger, data_dir: str | Path, folder: Path) -> Iterator[None]:
    """Around packing ``data_dir`` into ``folder``: the packed copy stays on disk until clean-up
    deletes it, so the ledger lists it (on this computer, free, named after the dataset folder),
    recorded before it is written like every resource, so that half a copy is cleaned up too;
    active once the packing finished."""
    record = ledger.intend("local", PACKED_KIND, str(Path(data_dir).expanduser().resolve()), details={"dir": str(folder)},
                           cost_per_hour=0.0)
    yield
    if record.state != "active":
        ledger.update(record.id, state="active", arn_or_url=str(folder))


PACKED_KIND = "packed-pictures"


def _packing_size(hyperparameters) -> int:
    """The short edge pictures are packed at for these settings (pack_ahead and training must agree)."""
    return hyperparameters.resize or hyperparameters.image_shape_tuple[1]



"""The Backend contract: what the wizard, the plain mode and the CLI may ask of a backend.

Two backends implement all of it: ``local`` (PyTorch in a subprocess, an HTTP endpoint on
127.0.0.1, no account) and ``aws`` (boto3 against SageMaker, S3, IAM, CloudWatch Logs). The
screens only ever see the types below and :class:`~sagewiz.core.errors.WizardError`; each
backend translates its own errors (OS, torch, botocore) at this boundary.

Every method says what it raises. "Raises WizardError" always means one of its subclasses with
a message and a hint; nothing else escapes a backend.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Mapping

if TYPE_CHECKING:  # only for annotations: importing hyperparams is cheap, but keep the contract light
    from sagewiz.core.hyperparams import Hyperparameters
    from sagewiz.core.ledger import Ledger, Resource
    from sagewiz.core.tuning_ranges import ParameterRange

Progress = Callable[[int, int], None]
"""A progress callback: ``(done, total)`` in the unit the operation names (bytes, images…)."""


class JobStatus(str, Enum):
    """A training or tuning job's status, with SageMaker's names."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    @property
    def finished(self) -> bool:
        """True once the job will not change any more."""
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED)


class EndpointStatus(str, Enum):
    """An endpoint's status, with SageMaker's names."""

    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    FAILED = "Failed"
    DELETING = "Deleting"
    OUT_OF_SERVICE = "OutOfService"


@dataclass(frozen=True)
class InstanceOption:
    """One machine type a region (or this computer) offers, with what the account may use of it."""

    instance_type: str  # "ml.p3.2xlarge", or "local-cpu" / "local-cuda:0"
    gpus: int
    gpu_memory_gib: float | None
    quota: int | None  # how many the account may run at once; None when unknown
    price_per_hour: float | None  # USD; 0.0 on the local backend
    price_source: str  # "pricing-api", "bundled table (2026-11)", "free"


@dataclass(frozen=True)
class RegionReport:
    """Whether a region (or this computer) can run the journey, and the best choice in it."""

    region: str
    algorithm_available: bool
    training: tuple[InstanceOption, ...]
    hosting: tuple[InstanceOption, ...]
    verdict: str  # "ready", "no quota", "no capacity", "algorithm missing"
    recommended_training: str | None = None
    recommended_hosting: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Storage:
    """Where a backend keeps data and models: an S3 bucket or a local folder."""

    uri: str  # "s3://sagewiz-123456789012-eu-west-1" or "file:///home/me/.local/share/sagewiz/storage"
    protections: tuple[str, ...] = ()  # what makes it private, in words, for the confirmation screen


@dataclass(frozen=True)
class Channel:
    """One input channel of a training job, as SageMaker names them (train, validation,
    train_lst, validation_lst, model)."""

    name: str
    uri: str
    content_type: str  # application/x-recordio, application/x-image, application/x-sagemaker-model


@dataclass(frozen=True)
class TrainingSpec:
    """Everything a training job needs. ``channels`` holds RecordIO or images + .lst input, and a
    ``model`` channel for incremental training from an earlier job's artifact."""

    job_name: str
    hyperparameters: "Hyperparameters"
    channels: tuple[Channel, ...]
    output_uri: str
    instance_type: str
    instance_count: int = 1
    max_runtime_seconds: int = 24 * 3600
    spot: bool = False  # managed spot training (aws only): cheaper, may be interrupted and resumed
    checkpoint_uri: str | None = None
    class_names: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusChange:
    """One entry of a job's secondary-status history ("Starting", "Downloading", "Training"…)."""

    status: str
    started_at: float  # epoch seconds
    message: str = ""


@dataclass(frozen=True)
class EpochMetric:
    """A metric value parsed from the algorithm's log lines, e.g. ``Epoch[3] Validation-accuracy=0.91``."""

    epoch: int
    name: str  # "train:accuracy", "validation:accuracy", "train:top_k_accuracy_2"…
    value: float


@dataclass(frozen=True)
class TrainingJob:
    """What a backend knows about a training job right now."""

    job_name: str
    status: JobStatus
    secondary_status: str
    history: tuple[StatusChange, ...] = ()
    failure_reason: str | None = None
    model_uri: str | None = None  # model.tar.gz, once completed (or stopped with a checkpoint)
    metrics: tuple[EpochMetric, ...] = ()
    billable_seconds: int | None = None
    cost: float | None = None  # USD so far; 0.0 locally
    hyperparameters: Mapping[str, str] = field(default_factory=dict)  # as SageMaker received them
    class_names: tuple[str, ...] = ()  # the run's, in label order, when sagewiz started the job; () when unknown


@dataclass(frozen=True)
class LogEvent:
    """One log line of a job, with the stream it came from (``<job>/algo-1-<epoch-seconds>``)."""

    timestamp: float
    message: str
    stream: str = ""


@dataclass(frozen=True)
class TuningSpec:
    """A hyperparameter tuning job: a base training spec, the ranges to search and the limits."""

    tuning_job_name: str
    base: TrainingSpec
    ranges: tuple[ParameterRange, ...]
    max_jobs: int
    max_parallel_jobs: int = 1
    objective: str = "validation:accuracy"
    maximize: bool = True
    early_stopping: bool = True  # prune trials that can't win
    warm_start_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class Trial:
    """One training job of a tuning job, with its hyperparameters and objective so far."""

    job_name: str
    status: JobStatus
    hyperparameters: Mapping[str, str]
    objective: float | None = None
    pruned: bool = False


@dataclass(frozen=True)
class TuningJob:
    """What a backend knows about a tuning job right now."""

    tuning_job_name: str
    status: JobStatus
    trials: tuple[Trial, ...]
    best: Trial | None = None


@dataclass(frozen=True)
class EndpointSpec:
    """A model to serve: the artifact, where, on what."""

    endpoint_name: str
    model_uri: str
    instance_type: str
    instance_count: int = 1
    serverless_memory_mb: int | None = None  # aws: serverless inference instead of instances
    tags: Mapping[str, str] = field(default_factory=dict)
    port: int = 0  # local: the port on 127.0.0.1 to serve on (0: any free one); aws ignores it
    # local: the labels' names, recorded for a model whose archive has none (SageMaker's); aws ignores it
    class_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """A deployed model that answers predictions."""

    endpoint_name: str
    status: EndpointStatus
    url: str | None = None  # the local endpoint's http://127.0.0.1:PORT; None on aws
    instance_type: str = ""
    price_per_hour: float | None = None
    failure_reason: str | None = None


@dataclass(frozen=True)
class Prediction:
    """The endpoint's answer for one image: one probability per class, in label order."""

    probabilities: tuple[float, ...]

    def top(self, k: int = 1) -> list[tuple[int, float]]:
        """The k most likely labels with their probabilities, most likely first."""
        ranked = sorted(enumerate(self.probabilities), key=lambda pair: pair[1], reverse=True)
        return ranked[:k]


class Backend(abc.ABC):
    """The operations both backends offer. Long operations take a progress callback; nothing
    here prints or prompts."""

    name: str
    ledger: "Ledger"  # where everything it creates is recorded before it is created

    # ---- where to run -------------------------------------------------------------------
    @abc.abstractmethod
    def regions(self) -> list[RegionReport]:
        """Every region (aws) or this computer (local) with availability, quota and price.

        Raises WizardError (CredentialsError on aws) when it can't be found out."""

    @property
    def default_region(self) -> str:
        """The region used when the user names none ("local" on this computer; the AWS
        profile's region on aws). Raises nothing."""
        return self.regions()[0].region

    def region_report(self, region: str) -> RegionReport:
        """One region's report (what :meth:`regions` says about it); backends that can ask about
        one region alone override this. Raises InputError for a region the backend doesn't offer."""
        from sagewiz.core.errors import InputError

        for report in self.regions():
            if report.region == region:
                return report
        raise InputError(f"The {self.name} backend doesn't offer the region {region!r}.",
                         hint="Run `sagewiz regions` to see the choices.")

    # ---- storage ----------------------------------------------------------------------
    @abc.abstractmethod
    def ensure_storage(self, region: str) -> Storage:
        """Create (or find) sagewiz's private storage; idempotent, recorded in the ledger first.

        Raises WizardError when it can't be created or an existing one is not private."""

    @abc.abstractmethod
    def upload(self, storage: Storage, local_path: Path, key: str, progress: Progress | None = None) -> str:
        """Copy a file or folder into storage under ``key``; skips what is already there
        unchanged and resumes an interrupted copy. Returns the URI. Raises WizardError."""

    # ---- training -----------------------------------------------------------------------
    @abc.abstractmethod
    def start_training(self, spec: TrainingSpec) -> TrainingJob:
        """Start a training job (recorded in the ledger before it is created). A job of that name
        that already exists is returned, not started twice. Raises WizardError (a quota or an
        invalid hyperparameter is named in the message)."""

    @abc.abstractmethod
    def describe_training(self, job_name: str) -> TrainingJob:
        """The job's status, history, metrics and cost. Raises WizardError (unknown job)."""

    @abc.abstractmethod
    def follow_logs(self, job_name: str, *, follow: bool = True) -> Iterator[LogEvent]:
        """The job's log lines from the start; with ``follow`` keep waiting for new lines until
        the job has finished and every line is read. Raises WizardError."""

    @abc.abstractmethod
    def stop_training(self, job_name: str) -> TrainingJob:
        """Ask a running job to stop; it ends Stopped and keeps its last checkpoint.
        Stopping a finished job is a no-op. Raises WizardError."""

    @abc.abstractmethod
    def model_file(self, model_uri: str, progress: Progress | None = None) -> Path:
        """A training job's ``model.tar.gz`` (its ``model_uri``) as a file on this computer:
        where it is (local), or downloaded once into the sagewiz home and reused while the stored
        object is unchanged (aws), reporting bytes to ``progress``. Raises WizardError."""

    # ---- tuning -------------------------------------------------------------------------
    @abc.abstractmethod
    def start_tuning(self, spec: TuningSpec) -> TuningJob:
        """Start a hyperparameter tuning job; idempotent by name like start_training. Raises WizardError."""

    @abc.abstractmethod
    def describe_tuning(self, tuning_job_name: str) -> TuningJob:
        """The tuning job with every trial so far and the best one. Raises WizardError."""

    @abc.abstractmethod
    def stop_tuning(self, tuning_job_name: str) -> TuningJob:
        """Stop a tuning job and its running trials. Raises WizardError."""

    # ---- hosting ------------------------------------------------------------------------
    @abc.abstractmethod
    def deploy(self, spec: EndpointSpec, progress: Callable[[str], None] | None = None) -> Endpoint:
        """Create (or find) the model, endpoint config and endpoint, and wait until it is
        InService, reporting each stage to ``progress``. Raises WizardError."""

    @abc.abstractmethod
    def describe_endpoint(self, endpoint_name: str) -> Endpoint:
        """The endpoint's status now. Raises WizardError (unknown endpoint)."""

    @abc.abstractmethod
    def predict(self, endpoint_name: str, image: bytes, content_type: str = "application/x-image") -> Prediction:
        """Class probabilities for one encoded image. Raises WizardError (endpoint not in
        service, an image it can't read, a content type it doesn't take)."""

    # ---- what exists ----------------------------------------------------------------------
    @abc.abstractmethod
    def resources(self) -> list["Resource"]:
        """Everything this backend created that is not deleted yet, from the ledger (and, on aws,
        ``sagewiz:``-tagged resources the ledger lost). Raises WizardError."""

    @abc.abstractmethod
    def delete(self, resource: "Resource") -> None:
        """Delete one resource (stop a job, delete an endpoint, stop a process…) and mark it
        deleted in the ledger; deleting something already gone succeeds. Raises WizardError."""


"""The aws backend: the Backend contract on SageMaker, S3, IAM and CloudWatch Logs, with boto3.

The backend works in one region at a time (the session's; ``ensure_storage`` moves it to the
region the user chose before anything is created). Every resource is written to the ledger
*before* it is created and gets a deterministic name, and every create first looks for what
already exists under that name, so a run killed between any two calls and started again
creates nothing twice. Everything it creates carries the tag ``sagewiz:managed=true``, so
:meth:`AwsBackend.resources` also finds what a lost ledger forgot.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from sagewiz.core.aws import catalog, hosting, logs, preflight
from sagewiz.core.aws.errors import error_code, translated
from sagewiz.core.aws.session import AwsSession
from sagewiz.core.aws.training import MANAGED_TAG, training_job_from, training_request
from sagewiz.core.aws.tuning import tuning_job_from, tuning_request
from sagewiz.core.backend import (
    Backend,
    Endpoint,
    EndpointSpec,
    EpochMetric,
    JobStatus,
    LogEvent,
    Prediction,
    Progress,
    RegionReport,
    Storage,
    TrainingJob,
    TrainingSpec,
    TuningJob,
    TuningSpec,
)
from sagewiz.core.errors import InputError, NotFoundError, PermissionDeniedError, WizardError
from sagewiz.core.ledger import Ledger, Resource
from sagewiz.core.metrics import metrics_from_log_line

_STATE_OF = {JobStatus.IN_PROGRESS: "running", JobStatus.STOPPING: "running", JobStatus.COMPLETED: "completed",
             JobStatus.FAILED: "failed", JobStatus.STOPPED: "stopped"}
ROLE_PROPAGATION_SECONDS = 10.0
STOP_WAIT_SECONDS = 180.0


def bucket_of(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise InputError(f"{uri} is not an S3 location.", hint="Use sagewiz's bucket (s3://sagewiz-…).")
    return parts.netloc


class AwsBackend(Backend):
    """The Backend contract on AWS. ``session`` defaults to one for ``region``/``profile``
    (and AWS_ENDPOINT_URL, which the tests point at moto)."""

    name = "aws"

    def __init__(self, ledger: Ledger | None = None, region: str | None = None, profile: str | None = None, *,
                 session: AwsSession | None = None, role_propagation_seconds: float | None = None,
                 poll_seconds: float | None = None):
        self.profile = profile
        self.session = session or AwsSession(region=region, profile=profile)
        self.ledger = ledger or Ledger()
        self.role_propagation_seconds = ROLE_PROPAGATION_SECONDS if role_propagation_seconds is None else role_propagation_seconds
        self.poll_seconds = logs.POLL_SECONDS if poll_seconds is None else poll_seconds
        self._role_arn: str | None = None
        self._log_readers: dict[str, logs.LogFollower] = {}
        self._metrics: dict[str, dict[tuple[int, str], float]] = {}
        self._prices: dict[tuple[str, str, str], float | None] = {}

    # ---- plumbing ----------------------------------------------------------------------------
    @property
    def region(self) -> str:
        return self.session.region

    def _client(self, service: str) -> Any:
        return self.session.client(service)

    def _use_region(self, region: str) -> None:
        if region and region != self.region:
            self.session = AwsSession(region=region, profile=self.profile, endpoint_url=self.session.endpoint_url)
            self._role_arn = None
            self._log_readers.clear()

    def _price(self, instance_type: str, usage: str) -> float | None:
        """USD per hour from the Pricing API, else the bundled table (asked once per type)."""
        key = (self.region, instance_type, usage)
        if key not in self._prices:
            self._prices[key] = preflight.instance_price(self.session, self.region, instance_type, usage)[0]
        return self._prices[key]

    def _record(self, kind: str, name: str) -> Resource | None:
        return self.ledger.find(self.name, kind, name, self.region)

    def _set_state(self, kind: str, name: str, state: str) -> None:
        record = self._record(kind, name)
        if record is not None and record.state not in ("deleted", state):
            self.ledger.update(record.id, state=state)

    # ---- where to run ------------------------------------------------------------------------
    def regions(self) -> list[RegionReport]:
        return preflight.all_region_reports(self.session)

    def region_report(self, region: str) -> RegionReport:
        return preflight.region_report(self.session, region)

    @property
    def default_region(self) -> str:
        return self.region

    def request_quota_increase(self, region: str, instance_type: str, usage: str = "training", desired: int = 1) -> str:
        """Ask Service Quotas for ``desired`` instances of ``instance_type`` in ``region`` (the
        person confirmed first). Returns the request id and status. Raises WizardError."""
        return preflight.request_quota_increase(self.session, region, instance_type, usage, desired)

    # ---- storage ------------------------------------------------------------------------------
    def ensure_storage(self, region: str) -> Storage:
        from sagewiz.core.aws import bucket, role

        self._use_region(region)
        account = self.session.identity.account
        name = bucket.bucket_name(account, self.region)
        record = self.ledger.intend(self.name, "bucket", name, region=self.region, details={"account": account})
        if record.state == "planned":
            self.ledger.update(record.id, state="creating")
        storage = bucket.ensure_bucket(self.session, self.region)
        self.ledger.update(record.id, state="active", arn_or_url=storage.uri)
        role_name = role.role_name(self.region)
        role_record = self.ledger.intend(self.name, "role", role_name, region=self.region, details={"bucket": name})
        if role_record.state == "planned":
            self.ledger.update(role_record.id, state="creating")
        try:
            self._role_arn = role.ensure_role(self.session, name, self.region, propagation_wait=self.role_propagation_seconds)
        except PermissionDeniedError as error:
            # Many company accounts may not create IAM roles but have a SageMaker execution role
            # ready (the console's AmazonSageMaker-ExecutionRole-…): use it, and say so.
            existing = role.find_usable_role(self.session)
            if existing is None:
                self.ledger.update(role_record.id, state="failed")
                raise PermissionDeniedError(f"{error.message} There is no existing role SageMaker may use either.",
                                            hint="Ask your AWS administrator for a SageMaker execution role (or the right to "
                                                 "create one, iam:CreateRole and iam:PutRolePolicy), then run `sagewiz setup` again.") from error
            self.ledger.update(role_record.id, state="deleted")  # sagewiz made no role: nothing of ours to clean up
            self._role_arn = existing
            return Storage(storage.uri, storage.protections + (
                f"SageMaker works in it through your existing role {existing.rsplit('/', 1)[-1]} (you may not create roles "
                f"here): its own policy decides what it may reach, so it needs s3:GetObject/PutObject on {name}",))
        self.ledger.update(role_record.id, state="active", arn_or_url=self._role_arn)
        return Storage(storage.uri, storage.protections + (f"SageMaker works in it through the role {role_name}, "
                                                           "which may touch this bucket only",))

    @property
    def role_arn(self) -> str | None:
        """The execution role's ARN once :meth:`ensure_storage` has run in this process."""
        return self._role_arn

    def _role(self) -> str:
        if self._role_arn is None:
            self.ensure_storage(self.region)  # idempotent: finds the role (and bucket) made before
        return self._role_arn  # type: ignore[return-value]

    def upload(self, storage: Storage, local_path: Path, key: str, progress: Progress | None = None) -> str:
        from sagewiz.core.aws import upload

        return upload.upload(self.session, bucket_of(storage.uri), Path(local_path), key, progress)

    # ---- training -------------------------------------------------------------------------------
    def start_training(self, spec: TrainingSpec, *, run_id: str | None = None) -> TrainingJob:
        price = self._price(spec.instance_type, "training")
        record = self.ledger.intend(self.name, "training-job", spec.job_name, region=self.region, run_id=run_id,
                                    details={"instance_type": spec.instance_type, "instance_count": spec.instance_count,
                                             "spot": spec.spot, "class_names": list(spec.class_names)},
                                    cost_per_hour=None if price is None else price * spec.instance_count)

        def create() -> str:
            request = training_request(spec, image_uri=catalog.image_uri(self.region), role_arn=self._role())
            with translated(f"start the training job {spec.job_name}"):
                return self._client("sagemaker").create_training_job(**request)["TrainingJobArn"]

        return self._start_once(record, lambda: self.describe_training(spec.job_name), create)

    def _start_once(self, record: Resource, describe: Callable[[], Any], create: Callable[[], str]) -> Any:
        """A job that already exists (a resumed run) is described, not started twice; otherwise
        it is created, with the ledger saying creating → running (or failed)."""
        try:
            return describe()
        except NotFoundError:
            pass
        self.ledger.update(record.id, state="creating")
        try:
            arn = create()
        except WizardError:
            self.ledger.update(record.id, state="failed")
            raise
        self.ledger.update(record.id, state="running", arn_or_url=arn)
        return describe()

    def _describe_job(self, job_name: str) -> dict[str, Any]:
        with translated(f"look up the training job {job_name}"):
            try:
                return self._client("sagemaker").describe_training_job(TrainingJobName=job_name)
            except Exception as error:
                if error_code(error) == "ValidationException":
                    raise NotFoundError(f"There is no SageMaker training job called {job_name} in {self.region}.",
                                        hint="`sagewiz resources --backend aws` lists the jobs sagewiz started.") from error
                raise

    def _read_metrics(self, job_name: str) -> tuple[EpochMetric, ...]:
        reader = self._log_readers.setdefault(job_name, logs.LogFollower(self._client("logs"), job_name))
        seen = self._metrics.setdefault(job_name, {})
        for event in reader.poll():
            for epoch, name, value in metrics_from_log_line(event.message):
                seen[(epoch, name)] = value
        return tuple(EpochMetric(epoch, name, value) for (epoch, name), value in sorted(seen.items()))

    def describe_training(self, job_name: str) -> TrainingJob:
        described = self._describe_job(job_name)
        record = self._record("training-job", job_name)
        price = record.cost_per_hour / max(described.get("ResourceConfig", {}).get("InstanceCount", 1), 1) \
            if record and record.cost_per_hour is not None else self._price(described.get("ResourceConfig", {}).get("InstanceType", ""), "training")
        job = training_job_from(described, metrics=self._read_metrics(job_name), price_per_hour=price)
        self._set_state("training-job", job_name, _STATE_OF[job.status])
        # SageMaker keeps no class names: the ledger's record of the run that started the job does
        names = tuple(str(n) for n in (record.details.get("class_names") or ())) if record else ()
        return replace(job, class_names=names) if names else job

    def model_file(self, model_uri: str, progress: Progress | None = None) -> Path:
        from sagewiz.core.aws.download import download_model

        return download_model(self.session, model_uri, self.ledger.path.parent / "models" / "aws", progress)

    def follow_logs(self, job_name: str, *, follow: bool = True) -> Iterator[LogEvent]:
        self._describe_job(job_name)  # an unknown job is an error now, not an endless wait

        def finished() -> bool:
            return JobStatus(self._describe_job(job_name)["TrainingJobStatus"]).finished

        return logs.follow(self._client("logs"), job_name, finished, keep_following=follow, poll_seconds=self.poll_seconds)

    def stop_training(self, job_name: str) -> TrainingJob:
        job = self.describe_training(job_name)
        if job.status.finished or job.status == JobStatus.STOPPING:
            return job
        with translated(f"stop the training job {job_name}"):
            self._client("sagemaker").stop_training_job(TrainingJobName=job_name)
        return self._wait_stopped(lambda: self.describe_training(job_name))

    def _wait_stopped(self, describe: Callable[[], Any]) -> Any:
        """SageMaker gives the algorithm up to two minutes to save the model: wait that long for
        the job to end (as the local backend does), then return it even if it is still Stopping."""
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while not (job := describe()).status.finished and time.monotonic() < deadline:
            time.sleep(self.poll_seconds)
        return job

    # ---- tuning ------------------------------------------------------------------------------------
    def start_tuning(self, spec: TuningSpec, *, run_id: str | None = None) -> TuningJob:
        price = self._price(spec.base.instance_type, "training")
        record = self.ledger.intend(self.name, "tuning-job", spec.tuning_job_name, region=self.region, run_id=run_id,
                                    details={"max_jobs": spec.max_jobs, "max_parallel_jobs": spec.max_parallel_jobs},
                                    cost_per_hour=None if price is None else price * spec.max_parallel_jobs)

        def create() -> str:
            request = tuning_request(spec, image_uri=catalog.image_uri(self.region), role_arn=self._role())
            with translated(f"start the tuning job {spec.tuning_job_name}"):
                return self._client("sagemaker").create_hyper_parameter_tuning_job(**request)["HyperParameterTuningJobArn"]

        return self._start_once(record, lambda: self.describe_tuning(spec.tuning_job_name), create)

    def describe_tuning(self, tuning_job_name: str) -> TuningJob:
        client = self._client("sagemaker")
        with translated(f"look up the tuning job {tuning_job_name}"):
            try:
                described = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job_name)
            except Exception as error:
                if error_code(error) in ("ValidationException", "ResourceNotFound"):
                    raise NotFoundError(f"There is no SageMaker tuning job called {tuning_job_name} in {self.region}.",
                                        hint="`sagewiz resources --backend aws` lists the tuning jobs sagewiz started.") from error
                raise
            summaries: list[dict[str, Any]] = []
            kwargs: dict[str, Any] = {"HyperParameterTuningJobName": tuning_job_name, "MaxResults": 100}
            while True:
                page = client.list_training_jobs_for_hyper_parameter_tuning_job(**kwargs)
                summaries += page.get("TrainingJobSummaries", [])
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        tuning = tuning_job_from(described, summaries)
        self._set_state("tuning-job", tuning_job_name, _STATE_OF[tuning.status])
        return tuning

    def stop_tuning(self, tuning_job_name: str) -> TuningJob:
        tuning = self.describe_tuning(tuning_job_name)
        if tuning.status.finished or tuning.status == JobStatus.STOPPING:
            return tuning
        with translated(f"stop the tuning job {tuning_job_name}"):
            self._client("sagemaker").stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job_name)
        return self._wait_stopped(lambda: self.describe_tuning(tuning_job_name))

    # ---- hosting --------------------------------------------------------------------------------------
    def deploy(self, spec: EndpointSpec, progress: Callable[[str], None] | None = None, *,
               run_id: str | None = None) -> Endpoint:
        price = None if spec.serverless_memory_mb else self._price(spec.instance_type, "hosting")
        cost = None if price is None else price * spec.instance_count
        record = self.ledger.intend(self.name, "endpoint", spec.endpoint_name, region=self.region, run_id=run_id,
                                    details={"model": spec.model_uri, "instance_type": spec.instance_type,
                                             "instance_count": spec.instance_count,
                                             "serverless_memory_mb": spec.serverless_memory_mb},
                                    cost_per_hour=cost)
        if record.state == "planned":
            self.ledger.update(record.id, state="creating")
        if progress:
            progress(f"Creating the model, endpoint configuration and endpoint {spec.endpoint_name}")
        try:
            hosting.create(self._client("sagemaker"), spec, image_uri=catalog.image_uri(self.region), role_arn=self._role())
            endpoint = hosting.wait_in_service(self._client("sagemaker"), spec.endpoint_name, progress,
                                               poll_seconds=self.poll_seconds, instance_type=spec.instance_type,
                                               price_per_hour=cost)
        except WizardError:
            self.ledger.update(record.id, state="failed")
            raise
        self.ledger.update(record.id, state="active", arn_or_url=f"arn:aws:sagemaker:{self.region}:"
                           f"{self.session.identity.account}:endpoint/{spec.endpoint_name.lower()}")
        return endpoint

    def describe_endpoint(self, endpoint_name: str) -> Endpoint:
        record = self._record("endpoint", endpoint_name)
        known = {"instance_type": record.details.get("instance_type", ""), "price_per_hour": record.cost_per_hour} if record else {}
        return hosting.describe(self._client("sagemaker"), endpoint_name, **known)

    def predict(self, endpoint_name: str, image: bytes, content_type: str = "application/x-image") -> Prediction:
        return hosting.predict(self._client("sagemaker-runtime"), endpoint_name, image, content_type)

    # ---- what exists -----------------------------------------------------------------------------------
    def resources(self) -> list[Resource]:
        self._discover_tagged()
        for resource in self.ledger.live_resources(backend=self.name):
            if resource.region != self.region:
                continue
            try:  # refresh what finished since it was recorded
                if resource.kind == "training-job" and resource.state in ("planned", "creating", "running"):
                    self.describe_training(resource.name)
                elif resource.kind == "tuning-job" and resource.state in ("planned", "creating", "running"):
                    self.describe_tuning(resource.name)
            except NotFoundError:
                self.ledger.update(resource.id, state="failed")
        return self.ledger.live_resources(backend=self.name)

    def _discover_tagged(self) -> None:
        """Record endpoints and running jobs tagged ``sagewiz:managed`` that the ledger doesn't
        know (a ledger deleted or left on another computer), so clean-up can offer them."""
        client = self._client("sagemaker")
        found: list[tuple[str, str, str]] = []
        with translated("list the endpoints"):
            for page in client.get_paginator("list_endpoints").paginate():
                found += [("endpoint", e["EndpointName"], e["EndpointArn"]) for e in page.get("Endpoints", [])]
            for page in client.get_paginator("list_training_jobs").paginate(StatusEquals="InProgress"):
                found += [("training-job", j["TrainingJobName"], j["TrainingJobArn"]) for j in page.get("TrainingJobSummaries", [])]
        for kind, name, arn in found:
            known = self._record(kind, name)
            if known is not None and known.state != "deleted":
                continue
            with translated(f"read the tags of {name}"):
                tags = {t["Key"]: t["Value"] for t in client.list_tags(ResourceArn=arn).get("Tags", [])}
            if tags.get(MANAGED_TAG[0]) != MANAGED_TAG[1]:
                continue  # not sagewiz's: never offered for deletion
            record = self.ledger.intend(self.name, kind, name, region=self.region, details={"discovered": True})
            self.ledger.update(record.id, state="active" if kind == "endpoint" else "running", arn_or_url=arn)

    def delete(self, resource: Resource) -> None:
        from sagewiz.core.aws import bucket, role

        self._use_region(resource.region)
        if resource.kind == "endpoint":
            hosting.delete(self._client("sagemaker"), resource.name)
        elif resource.kind == "training-job":
            try:
                self.stop_training(resource.name)
            except NotFoundError:
                pass
        elif resource.kind == "tuning-job":
            try:
                self.stop_tuning(resource.name)
            except NotFoundError:
                pass
        elif resource.kind == "bucket":
            bucket.delete_bucket(self.session, resource.name)
        elif resource.kind == "role":
            role.delete_role(self.session, resource.name)
        self.ledger.update(resource.id, state="deleted")

"""Plays SageMaker's Image Classification algorithm on top of moto, for the aws backend's tests.

moto only stores SageMaker records (DESIGN.md): a training job is Completed the moment it is
created and nothing writes its log. This simulator runs beside the moto server (same process)
and, every tick, moves each job through the life a real one has — InProgress with the
secondary statuses Starting → Downloading → Training → Uploading, one epoch of the algorithm's
log lines per tick in CloudWatch, then Completed with a ``model.tar.gz`` in S3 — or Failed with
a ClientError, like the algorithm, when ``mini_batch_size`` exceeds the training pictures.
It also teaches moto the calls it lacks: StopTrainingJob, StopHyperParameterTuningJob and
ListTrainingJobsForHyperParameterTuningJob; runs a tuning job's trials; and answers
``invoke_endpoint`` only for endpoints that exist (with one probability per class).

With ``real_models`` a completed job leaves what the algorithm leaves: a ``model.tar.gz`` with
only SageMaker's three members (no sagewiz file, so no class names), its weights those of the
``model`` channel's archive when the job continued one (random otherwise). A ``model`` channel is
read as the algorithm reads it: an archive whose network disagrees with the job's
``num_layers``/``num_classes``/``image_shape`` fails the job with a ClientError.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from typing import Any
from urllib.parse import unquote

import boto3
from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

ACCOUNT = "123456789012"
PLACEHOLDER_MODEL = b"model.tar.gz written by the simulated algorithm"
GROUP = "/aws/sagemaker/TrainingJobs"


def _now():
    from moto.core.utils import utcnow

    return utcnow()


class SageMakerSimulator:
    """Start with :meth:`start`, end with :meth:`stop`. ``fail_next`` makes the next new job fail
    with that reason; ``seen_requests`` keeps every CreateTrainingJob as SageMaker received it."""

    def __init__(self, endpoint_url: str, region: str = "us-east-1", tick: float = 0.05, *, real_models: bool = False):
        self.region, self.tick, self.real_models = region, tick, real_models
        kwargs = dict(region_name=region, endpoint_url=endpoint_url, aws_access_key_id="testing",
                      aws_secret_access_key="testing")
        self.logs, self.s3 = boto3.client("logs", **kwargs), boto3.client("s3", **kwargs)
        self.sagemaker = boto3.client("sagemaker", **kwargs)
        self.jobs: dict[str, dict[str, Any]] = {}
        self.tunings: dict[str, dict[str, Any]] = {}
        self.endpoints_seen: set[str] = set()
        self.invocations: list[tuple[str, str, bytes]] = []  # (endpoint, content type, body) as received
        self.fail_next: str | None = None
        self._lock = threading.RLock()
        self._stepping = False
        self._running = False
        self._thread: threading.Thread | None = None
        self._patched: dict[str, Any] = {}

    # ---- moto's missing calls -------------------------------------------------------------
    def _install(self) -> None:
        sim = self

        def stop_training_job(response: SageMakerResponse) -> Any:
            name = response._get_param("TrainingJobName")
            job = response.sagemaker_backend.training_jobs.get(name)
            if job is None:
                raise ValidationError(message=f"Requested resource not found: training job {name}")
            with sim._lock:
                if job.training_job_status == "InProgress":
                    sim.jobs.setdefault(name, {})["stop"] = True
                    job.training_job_status = "Stopping"
                    job.secondary_status = "Stopping"
            return EmptyResult()

        def stop_hyper_parameter_tuning_job(response: SageMakerResponse) -> Any:
            name = response._get_param("HyperParameterTuningJobName")
            tuning = response.sagemaker_backend.hyper_parameter_tuning_jobs.get(name)
            if tuning is None:
                raise ValidationError(message=f"Requested resource not found: tuning job {name}")
            with sim._lock:
                if tuning.hyper_parameter_tuning_job_status == "InProgress":
                    tuning.hyper_parameter_tuning_job_status = "Stopping"
                    sim.tunings.setdefault(name, {})["stop"] = True
            return EmptyResult()

        def list_training_jobs_for_hyper_parameter_tuning_job(response: SageMakerResponse) -> Any:
            name = response._get_param("HyperParameterTuningJobName")
            if name not in response.sagemaker_backend.hyper_parameter_tuning_jobs:
                raise ValidationError(message=f"Requested resource not found: tuning job {name}")
            with sim._lock:
                summaries = [sim._summary(child) for child in sim.tunings.get(name, {}).get("children", [])]
            return ActionResult({"TrainingJobSummaries": summaries})

        for function in (stop_training_job, stop_hyper_parameter_tuning_job, list_training_jobs_for_hyper_parameter_tuning_job):
            self._patched[function.__name__] = getattr(SageMakerResponse, function.__name__, None)
            setattr(SageMakerResponse, function.__name__, function)

        def invoke_endpoint(response: SageMakerRuntimeResponse) -> Any:
            # moto decodes the body as text, which a JPEG isn't: answer here, from the raw request
            name = unquote(response.path.split("/")[2])
            endpoints = sagemaker_backends[ACCOUNT][sim.region].endpoints
            if name not in endpoints or endpoints[name].endpoint_status != "InService":
                raise ValidationError(message=f"Endpoint {name} of account {ACCOUNT} not found.")
            sim.invocations.append((name, response.headers.get("Content-Type"), response.raw_body))
            return 200, {"Content-Type": "application/json"}, json.dumps({"prediction": sim.answer_for(name)})

        self._patched["invoke_endpoint"] = (SageMakerRuntimeResponse.invoke_endpoint, SageMakerRuntimeResponse.use_raw_body)
        SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint
        SageMakerRuntimeResponse.use_raw_body = True

        # A real job, tuning job or endpoint is never finished the moment it is created: start
        # each one's life inside the create call, so no describe can see moto's "done at once".
        backend_class = type(self.backend)
        originals = {name: getattr(backend_class, name) for name in
                     ("create_training_job", "create_hyper_parameter_tuning_job", "create_endpoint")}

        def wrap(name: str):
            original = originals[name]

            def create(backend: Any, *args: Any, **kwargs: Any) -> Any:
                with sim._lock:
                    made = original(backend, *args, **kwargs)
                    if backend.region_name == sim.region and not sim._stepping:
                        sim.step()
                return made
            return create

        self._patched["backend"] = (backend_class, originals)
        for name in originals:
            setattr(backend_class, name, wrap(name))

    def _uninstall(self) -> None:
        SageMakerRuntimeResponse.invoke_endpoint, SageMakerRuntimeResponse.use_raw_body = self._patched.pop("invoke_endpoint")
        backend_class, originals = self._patched.pop("backend")
        for name, function in originals.items():
            setattr(backend_class, name, function)
        for name, function in self._patched.items():
            if function is None:
                delattr(SageMakerResponse, name)
            else:
                setattr(SageMakerResponse, name, function)
        self._patched.clear()

    # ---- the loop ----------------------------------------------------------------------------
    def start(self) -> "SageMakerSimulator":
        self._install()
        self._running = True
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running = False
        if self._thread:
            self._thread.join()
        self._uninstall()

    def __enter__(self) -> "SageMakerSimulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while self._running:
            try:
                self.step()
            except Exception as error:  # a broken simulator must show, not hang the tests
                print(f"SageMakerSimulator: {type(error).__name__}: {error}")
            time.sleep(self.tick)

    @property
    def backend(self) -> Any:
        return sagemaker_backends[ACCOUNT][self.region]

    def step(self) -> None:
        with self._lock:
            self._stepping = True
            try:
                self._step()
            finally:
                self._stepping = False

    def _step(self) -> None:
        for name, tuning in list(self.backend.hyper_parameter_tuning_jobs.items()):
            self._advance_tuning(name, tuning)
        for name, job in list(self.backend.training_jobs.items()):
            self._advance_job(name, job)
        for name, endpoint in list(self.backend.endpoints.items()):
            if name not in self.endpoints_seen:  # Creating for one tick, then InService
                self.endpoints_seen.add(name)
                endpoint.endpoint_status = "Creating"
            elif endpoint.endpoint_status == "Creating":
                endpoint.endpoint_status = "InService"

    # ---- training jobs -------------------------------------------------------------------------
    def _transition(self, job: Any, status: str, message: str) -> None:
        now = _now()
        if job.secondary_status_transitions:
            job.secondary_status_transitions[-1]["EndTime"] = now
        job.secondary_status_transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
        job.secondary_status = status
        job.last_modified_time = now

    def _log(self, name: str, state: dict[str, Any], lines: list[str]) -> None:
        if "stream" not in state:
            state["stream"] = f"{name}/algo-1-{int(time.time())}"
            try:
                self.logs.create_log_group(logGroupName=GROUP)
            except self.logs.exceptions.ResourceAlreadyExistsException:
                pass
            self.logs.create_log_stream(logGroupName=GROUP, logStreamName=state["stream"])
        stamp = int(time.time() * 1000)
        self.logs.put_log_events(logGroupName=GROUP, logStreamName=state["stream"],
                                 logEvents=[{"timestamp": stamp, "message": line} for line in lines])

    def _advance_job(self, name: str, job: Any) -> None:
        state = self.jobs.setdefault(name, {})
        if "phase" not in state:  # just created: moto said Completed; a real job starts now
            state.update(phase="Starting", epoch=0, started=time.time(), request=dict(job.hyper_parameters))
            job.training_job_status, job.secondary_status = "InProgress", "Starting"
            job.secondary_status_transitions = []
            job.training_end_time = None
            self._transition(job, "Starting", "Preparing the instances for training")
            return
        if job.training_job_status in ("Completed", "Failed", "Stopped"):
            return
        hp = job.hyper_parameters
        if state.get("stop"):
            self._log(name, state, ["Received SIGTERM: stopping after saving the model"])
            self._finish(name, job, "Stopped", "Training job stopped by the user")
            return
        if state["phase"] == "Starting":
            state["phase"] = "Downloading"
            self._transition(job, "Downloading", "Downloading input data")
            return
        if state["phase"] == "Downloading":
            reason = self.fail_next or self._model_channel_problem(job, state)
            self.fail_next = None
            samples, batch = int(hp.get("num_training_samples", 0)), int(hp.get("mini_batch_size", 32))
            if reason is None and batch > samples:
                reason = (f"ClientError: Number of training samples ({samples}) must be >= mini_batch_size ({batch}). "
                          "Lower mini_batch_size.")
            if reason:
                self._log(name, state, [f"[ERROR] {reason}"])
                job.failure_reason = reason
                self._finish(name, job, "Failed", reason)
                return
            state["phase"] = "Training"
            self._transition(job, "Training", "Training image download completed. Training in progress.")
            self._log(name, state, ["[INFO] Reading the data from /opt/ml/input/data/train",
                                    f"[INFO] Hyperparameters: {json.dumps(dict(hp), sort_keys=True)}"])
            return
        if state["phase"] == "Training":
            epoch, epochs = state["epoch"], int(hp.get("epochs", 30))
            accuracy = round(min(0.99, 0.5 + 0.45 * (epoch + 1) / max(epochs, 1)), 6)
            seed = sum(map(ord, name))
            validation = round(max(0.0, accuracy - 0.02 - (seed % 7) / 100), 6)
            self._log(name, state, [f"Epoch[{epoch}] Batch [20]#011Speed: 300.0 samples/sec#011accuracy={accuracy:.6f}",
                                    f"Epoch[{epoch}] Train-accuracy={accuracy:.6f}",
                                    f"Epoch[{epoch}] Time cost=12.345",
                                    f"Epoch[{epoch}] Validation-accuracy={validation:.6f}"])
            state["epoch"] = epoch + 1
            state["validation"] = validation
            if state["epoch"] >= epochs:
                state["phase"] = "Uploading"
                self._transition(job, "Uploading", "Uploading generated training model")
            return
        if state["phase"] == "Uploading":
            self._finish(name, job, "Completed", "Training job completed")

    def _finish(self, name: str, job: Any, status: str, message: str) -> None:
        state = self.jobs[name]
        if status in ("Completed", "Stopped"):
            uri = job.model_artifacts["S3ModelArtifacts"]
            bucket, key = uri[len("s3://"):].split("/", 1)
            body = self._archive(job, state) if self.real_models else PLACEHOLDER_MODEL
            self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        self._transition(job, status, message)
        job.training_job_status = status
        job.training_end_time = _now()
        job.billable_time_in_seconds = max(1, int(time.time() - state["started"]))
        job.final_metric_data_list = [{"MetricName": "validation:accuracy", "Value": state.get("validation", 0.0),
                                       "Timestamp": _now()}]

    def _read_object(self, uri: str) -> bytes:
        bucket, key = uri[len("s3://"):].split("/", 1)
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def _model_channel_problem(self, job: Any, state: dict[str, Any]) -> str | None:
        """What the algorithm says of the job's ``model`` channel (None: usable or absent); the
        archive read is kept for the model the job leaves."""
        channel = next((c for c in job.input_data_config or [] if c.get("ChannelName") == "model"), None)
        if channel is None:
            return None
        data = self._read_object(channel["DataSource"]["S3DataSource"]["S3Uri"])
        if data == PLACEHOLDER_MODEL:
            return None  # a job of a simulator without real models: nothing to read
        import tempfile
        from pathlib import Path

        from sagewiz.core.errors import WizardError
        from sagewiz.core.model.archive import read_archive

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.tar.gz"
            path.write_bytes(data)
            try:
                info, params = read_archive(path)
            except WizardError as error:
                return f"ClientError: The model channel holds no usable model: {error}"
        hp = job.hyper_parameters
        wanted = (int(hp.get("num_layers", 18)), int(hp.get("num_classes", 2)),
                  tuple(int(d) for d in str(hp.get("image_shape", "3,224,224")).split(",")))
        if (info.num_layers, info.num_classes, info.image_shape) != wanted:
            return (f"ClientError: The model in the model channel (num_layers {info.num_layers}, num_classes "
                    f"{info.num_classes}, image_shape {info.image_shape}) does not match the hyperparameters {wanted}.")
        state["continued"] = params
        return None

    def _archive(self, job: Any, state: dict[str, Any]) -> bytes:
        """The model.tar.gz the algorithm leaves: SageMaker's three members, nothing of sagewiz's."""
        import io
        import tarfile

        from sagewiz.core.model.archive import SHAPES_MEMBER, SYMBOL_MEMBER, params_member
        from sagewiz.core.model.params import write_params
        from sagewiz.core.model.symbol import model_shapes_json, symbol_json

        hp = job.hyper_parameters
        layers, classes = int(hp.get("num_layers", 18)), int(hp.get("num_classes", 2))
        shape = tuple(int(d) for d in str(hp.get("image_shape", "3,224,224")).split(","))
        params = state.get("continued")
        if params is None:
            import torch

            from sagewiz.core.local.resnet import build_resnet
            from sagewiz.core.model.weights import checkpoint_params

            torch.manual_seed(sum(map(ord, job.training_job_name)))
            params = checkpoint_params(build_resnet(layers, classes, shape))
        members = {SYMBOL_MEMBER: symbol_json(layers, classes, shape).encode(),
                   params_member(state.get("epoch", 0)): write_params(params),
                   SHAPES_MEMBER: model_shapes_json(shape, int(hp.get("mini_batch_size", 32))).encode()}
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w:gz") as tar:
            for member_name, data in members.items():
                member = tarfile.TarInfo(member_name)
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
        return out.getvalue()

    # ---- tuning jobs ---------------------------------------------------------------------------
    def _summary(self, child: str) -> dict[str, Any]:
        job = self.backend.training_jobs[child]
        state = self.jobs.get(child, {})
        summary = {"TrainingJobName": child, "TrainingJobArn": job.arn, "CreationTime": job.creation_time,
                   "TrainingJobStatus": job.training_job_status,
                   "TunedHyperParameters": {k: v for k, v in job.hyper_parameters.items() if k in state.get("tuned", ())},
                   "ObjectiveStatus": "Pending"}
        if job.training_job_status == "Completed":
            summary["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": "validation:accuracy",
                                                                      "Value": state.get("validation", 0.0)}
            summary["ObjectiveStatus"] = "Succeeded"
        elif job.training_job_status in ("Failed", "Stopped"):
            summary["ObjectiveStatus"] = "Failed"
        return summary

    def _advance_tuning(self, name: str, tuning: Any) -> None:
        state = self.tunings.setdefault(name, {})
        if "children" not in state:
            state.update(children=[], rng=random.Random(name))
            tuning.hyper_parameter_tuning_job_status = "InProgress"
            tuning.hyper_parameter_tuning_end_time = None
            tuning.best_training_job = None
            tuning.OverallBestTrainingJob = None
        if tuning.hyper_parameter_tuning_job_status not in ("InProgress", "Stopping"):
            return
        config, definition = tuning.hyper_parameter_tuning_job_config, tuning.training_job_definition
        limits = config["ResourceLimits"]
        jobs = self.backend.training_jobs
        running = [c for c in state["children"] if jobs[c].training_job_status in ("InProgress", "Stopping")]
        if state.get("stop"):
            for child in running:
                self.jobs.setdefault(child, {})["stop"] = True
                jobs[child].training_job_status = "Stopping"
            if not running:
                tuning.hyper_parameter_tuning_job_status = "Stopped"
                self._set_best(tuning, state)
            return
        if len(state["children"]) < limits["MaxNumberOfTrainingJobs"] and len(running) < limits.get("MaxParallelTrainingJobs", 1):
            child = f"{name}-{len(state['children']) + 1:03d}-{uuid.uuid4().hex[:8]}"
            tuned = self._sample(config["ParameterRanges"], state["rng"])
            self.jobs[child] = {"tuned": tuple(tuned)}
            # in-process, not over HTTP: the server thread would wait for the lock this one holds
            self.backend.create_training_job(
                training_job_name=child, hyper_parameters={**definition.get("StaticHyperParameters", {}), **tuned},
                algorithm_specification=dict(definition["AlgorithmSpecification"]), role_arn=definition["RoleArn"],
                input_data_config=definition["InputDataConfig"], output_data_config=definition["OutputDataConfig"],
                resource_config=definition["ResourceConfig"], vpc_config=None,
                stopping_condition=definition["StoppingCondition"], tags=[], enable_network_isolation=False,
                enable_inter_container_traffic_encryption=False, enable_managed_spot_training=False,
                checkpoint_config=None, debug_hook_config=None, debug_rule_configurations=None,
                tensor_board_output_config=None, experiment_config=None)
            state["children"].append(child)
            return
        if len(state["children"]) >= limits["MaxNumberOfTrainingJobs"] and not running:
            tuning.hyper_parameter_tuning_job_status = "Completed"
            tuning.hyper_parameter_tuning_end_time = _now()
            self._set_best(tuning, state)

    def _set_best(self, tuning: Any, state: dict[str, Any]) -> None:
        done = [self._summary(c) for c in state["children"] if self.backend.training_jobs[c].training_job_status == "Completed"]
        best = max(done, key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], default=None)
        tuning.best_training_job = best
        tuning.OverallBestTrainingJob = best

    @staticmethod
    def _sample(ranges: dict[str, list[dict[str, Any]]], rng: random.Random) -> dict[str, str]:
        values: dict[str, str] = {}
        for entry in ranges.get("ContinuousParameterRanges", []):
            values[entry["Name"]] = repr(rng.uniform(float(entry["MinValue"]), float(entry["MaxValue"])))
        for entry in ranges.get("IntegerParameterRanges", []):
            values[entry["Name"]] = str(rng.randint(int(entry["MinValue"]), int(entry["MaxValue"])))
        for entry in ranges.get("CategoricalParameterRanges", []):
            values[entry["Name"]] = rng.choice(entry["Values"])
        return values

    # ---- endpoints --------------------------------------------------------------------------------
    def answer_for(self, endpoint_name: str) -> list[float]:
        """One probability per class of the model behind the endpoint, most for the first class."""
        backend = self.backend
        endpoint = backend.endpoints[endpoint_name]
        config = backend.endpoint_configs[endpoint.endpoint_config_name]
        model = backend._models[config.production_variants[0]["ModelName"]]
        url = model.primary_container["ModelDataUrl"]
        job = next((j for j in backend.training_jobs.values() if j.model_artifacts["S3ModelArtifacts"] == url), None)
        classes = int(job.hyper_parameters.get("num_classes", 2)) if job else self._classes_of(url)
        rest = 0.2 / (classes - 1) if classes > 1 else 0.0
        return [0.8] + [rest] * (classes - 1)

    def _classes_of(self, uri: str) -> int:
        """How many classes the archive at ``uri`` (one no simulated job made) tells apart."""
        import tempfile
        from pathlib import Path

        from sagewiz.core.model.archive import read_info

        data = self._read_object(uri)
        if data == PLACEHOLDER_MODEL:
            return 2
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "model.tar.gz").write_bytes(data)
            return read_info(Path(folder) / "model.tar.gz").num_classes

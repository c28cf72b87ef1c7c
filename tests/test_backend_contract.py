"""The Backend contract, as a user of the wizard lives it: train, watch, stop, tune, deploy,
predict, list and clean up — here on the local backend, with a tiny dataset and a tiny network.

Written against the contract only (``backend`` fixture) and run on both backends: on aws
against moto's server, with tests/sagemaker_sim.py playing the algorithm.
"""

from __future__ import annotations

import os
import time

import pytest

from sagewiz.core.backend import Channel, EndpointSpec, EndpointStatus, JobStatus, TrainingSpec, TuningSpec
from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.dataset.scan import scan_dataset
from sagewiz.core.errors import WizardError
from sagewiz.core.hyperparams import parse_hyperparameters
from sagewiz.core.ledger import Ledger
from sagewiz.core.prepare import prepare_dataset
from sagewiz.core.tuning_ranges import ParameterRange

TINY = dict(num_layers=20, image_shape="3,28,28", mini_batch_size=16, epochs=2, learning_rate=0.05, optimizer="sgd")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("sagewiz-home")
    old = os.environ.get("SAGEWIZ_HOME")
    os.environ["SAGEWIZ_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("SAGEWIZ_HOME", None)
    else:
        os.environ["SAGEWIZ_HOME"] = old


@pytest.fixture(scope="module", params=["local", "aws"])
def backend(request, home):
    from sagewiz.core.backends import open_backend

    ledger = Ledger(home / f"ledger-{request.param}.sqlite3")
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "aws":  # moto's server, with the simulated algorithm playing SageMaker
            backend, simulator = _aws_backend(request, ledger, patch)
        else:
            backend, simulator = open_backend("local", ledger=ledger), None
        yield backend
        for resource in backend.resources():  # nothing a test made may outlive it
            backend.delete(resource)
        if simulator:
            simulator.stop()
    ledger.close()


def _aws_backend(request, ledger, patch):
    import urllib.request

    from sagemaker_sim import SageMakerSimulator
    from sagewiz.core.aws.backend import AwsBackend
    from sagewiz.core.backend import InstanceOption, RegionReport

    url = request.getfixturevalue("moto_server")
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).read()
    for name, value in {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
                        "AWS_SHARED_CREDENTIALS_FILE": os.devnull}.items():
        patch.setenv(name, value)
    patch.delenv("AWS_PROFILE", raising=False)
    from aws_fakes import FakeAws

    backend = AwsBackend(ledger=ledger, region="us-east-1", role_propagation_seconds=0, poll_seconds=0.05)
    FakeAws().attach(backend.session)  # the Pricing API, which moto lacks: answered at once (bundled prices)
    # Service Quotas and the Pricing API aren't in moto (preflight has its own tests): one ready region
    ready = RegionReport("us-east-1", True, (InstanceOption("ml.g4dn.xlarge", 1, 16.0, 1, 0.736, "test"),),
                         (InstanceOption("ml.m5.large", 0, None, 1, 0.115, "test"),), "ready", "ml.g4dn.xlarge", "ml.m5.large")
    patch.setattr(backend, "regions", lambda: [ready])
    patch.setattr(backend, "region_report", lambda region: ready)
    return backend, SageMakerSimulator(url, "us-east-1", tick=0.05).start()


@pytest.fixture(scope="module")
def prepared(home, tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    write_sample_dataset(root, size=28, classes=[0, 1, 7], seed=2)
    return prepare_dataset(scan_dataset(root), home / "prepared", resize=28)


def spec_for(backend, prepared, job_name, **hyperparameters):
    storage = backend.ensure_storage(backend.regions()[0].region)
    channels = tuple(Channel(split, backend.upload(storage, path, f"tests/{path.name}"), "application/x-recordio")
                     for split, path in (("train", prepared.train_rec), ("validation", prepared.validation_rec)))
    hp = parse_hyperparameters(num_classes=3, num_training_samples=prepared.counts["train"], **{**TINY, **hyperparameters})
    region = backend.regions()[0]
    return TrainingSpec(job_name, hp, channels, f"{storage.uri}/output", region.recommended_training,
                        class_names=prepared.class_names)


def wait(describe, name, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = describe(name)
        if job.status.finished:
            return job
        time.sleep(0.3)
    raise AssertionError(f"{name} did not finish within {timeout} s")


@pytest.fixture(scope="module")
def trained(backend, prepared):
    spec = spec_for(backend, prepared, "contract-train")
    started = backend.start_training(spec)
    assert started.job_name == "contract-train"
    assert backend.start_training(spec).job_name == "contract-train"  # asking twice starts nothing new
    lines = [event.message for event in backend.follow_logs("contract-train", follow=True)]
    return wait(backend.describe_training, "contract-train"), lines


def test_a_training_job_completes_with_the_algorithms_log_lines_and_a_model(backend, trained):
    job, lines = trained
    assert job.status == JobStatus.COMPLETED, job.failure_reason
    assert any("Epoch[1] Validation-accuracy=" in line for line in lines)
    assert {m.name for m in job.metrics} >= {"train:accuracy", "validation:accuracy"}
    assert max(m.epoch for m in job.metrics) == 1
    assert job.model_uri and "Training" in [h.status for h in job.history]
    records = [r for r in backend.ledger.resources(backend=backend.name) if r.kind == "training-job" and r.name == "contract-train"]
    assert len(records) == 1 and records[0].state == "completed"


def test_a_job_sagemaker_would_reject_fails_with_the_field_named(backend, prepared):
    spec = spec_for(backend, prepared, "contract-bad", mini_batch_size=10_000)  # more than the training pictures
    job = wait(backend.describe_training, backend.start_training(spec).job_name)
    assert job.status == JobStatus.FAILED
    assert "mini_batch_size" in job.failure_reason and "\n" not in job.failure_reason.strip()


def test_stopping_a_running_job_ends_it_stopped(backend, prepared):
    spec = spec_for(backend, prepared, "contract-stop", epochs=200)
    backend.start_training(spec)
    deadline = time.monotonic() + 120
    while not backend.describe_training("contract-stop").metrics and time.monotonic() < deadline:
        time.sleep(0.3)  # let it finish an epoch so there is a checkpoint to keep
    job = backend.stop_training("contract-stop")
    assert job.status == JobStatus.STOPPED
    assert backend.stop_training("contract-stop").status == JobStatus.STOPPED  # stopping again is harmless


def test_the_model_answers_on_an_endpoint_until_it_is_deleted(backend, trained, prepared):
    job, _ = trained
    stages = []
    endpoint = backend.deploy(EndpointSpec("contract-endpoint", job.model_uri, backend.regions()[0].recommended_hosting),
                              progress=stages.append)
    assert endpoint.status == EndpointStatus.IN_SERVICE and stages
    image, label = prepared.test_images[0]
    with open(image, "rb") as picture:
        prediction = backend.predict("contract-endpoint", picture.read(), "image/png")
    assert len(prediction.probabilities) == 3 and sum(prediction.probabilities) == pytest.approx(1, abs=1e-4)

    [record] = [r for r in backend.resources() if r.kind == "endpoint" and r.name == "contract-endpoint"]
    backend.delete(record)
    assert not [r for r in backend.resources() if r.name == "contract-endpoint"]
    with pytest.raises(WizardError):
        backend.predict("contract-endpoint", b"\x89PNG", "image/png")


def test_tuning_runs_its_trials_and_names_the_best(backend, prepared):
    base = spec_for(backend, prepared, "contract-tune-base", epochs=1)
    ranges = (ParameterRange("learning_rate", "continuous", 0.01, 0.2, scaling="Logarithmic"),)
    backend.start_tuning(TuningSpec("contract-tune", base, ranges, max_jobs=2, max_parallel_jobs=1))
    tuning = wait(backend.describe_tuning, "contract-tune", timeout=600)
    assert tuning.status == JobStatus.COMPLETED
    assert len(tuning.trials) == 2 and all(t.job_name.startswith("contract-tune-0") for t in tuning.trials)
    assert tuning.best is not None and tuning.best.objective is not None
    assert backend.describe_training(tuning.best.job_name).model_uri

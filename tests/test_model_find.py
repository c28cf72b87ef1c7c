"""A model is found by what the user calls it — a file, a folder holding one, a training job of
either backend, an endpoint — and a SageMaker model is downloaded once and reused."""

from __future__ import annotations

import os

import numpy as np
import pytest

from sagewiz.core.errors import InputError, NotFoundError
from sagewiz.core.ledger import Ledger
from sagewiz.core.model.archive import ModelInfo, write_archive
from sagewiz.core.model.find import find_model


def tiny_archive(path, class_names=("cat", "dog")):
    """A model archive in SageMaker's layout (random weights are enough to be found)."""
    import torch

    from sagewiz.core.local.resnet import build_resnet
    from sagewiz.core.model.weights import checkpoint_params

    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = ModelInfo(20, len(class_names), (3, 28, 28), tuple(class_names), {"mini_batch_size": "8"}, 2)
    return write_archive(path, checkpoint_params(build_resnet(20, len(class_names), (3, 28, 28))), info)


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to look for on this computer
    with Ledger(tmp_path / "home" / "ledger.sqlite3") as ledger:
        yield ledger


def test_an_archive_is_found_by_its_path_or_its_folder(tmp_path, ledger):
    archive = tiny_archive(tmp_path / "out" / "model.tar.gz")
    for name in (str(archive), str(archive.parent)):
        found = find_model(name, ledger=ledger)
        assert found.path == archive and found.endpoint is None and found.class_names is None


def test_a_folder_without_a_model_and_a_missing_file_are_said_as_such(tmp_path, ledger):
    (tmp_path / "pictures").mkdir()
    with pytest.raises(InputError, match="is a folder, not a model"):
        find_model(str(tmp_path / "pictures"), ledger=ledger)
    with pytest.raises(NotFoundError, match="There is no model file at"):
        find_model(str(tmp_path / "nothing.tar.gz"), ledger=ledger)


def test_a_name_nothing_knows_says_so_and_why_sagemaker_was_not_asked(ledger):
    with pytest.raises(NotFoundError) as caught:
        find_model("sagewiz-typo-train", ledger=ledger)
    assert "There is no model file, training job or endpoint called sagewiz-typo-train." in caught.value.message
    assert "SageMaker could not be asked" in caught.value.message
    assert "sagewiz resources" in caught.value.hint


def test_a_local_training_job_is_found_with_the_runs_class_names(tmp_path, ledger):
    from sagewiz.core.local.backend import LocalBackend

    archive = tiny_archive(tmp_path / "model.tar.gz", ("cat", "dog"))
    backend = LocalBackend(home=tmp_path / "home", ledger=ledger)
    folder = backend.job_dir("sagewiz-abc-train")
    from sagewiz.core.local import job as jobs

    jobs.write_spec(folder, {"job_name": "sagewiz-abc-train", "hyperparameters": {"num_layers": "20"},
                             "class_names": ["cat", "dog"], "channels": {}, "output_dir": str(tmp_path)})
    (folder / "status.json").write_text('{"status": "Completed", "model_path": "%s"}' % archive)
    ledger.intend("local", "training-job", "sagewiz-abc-train", details={"job_dir": str(folder), "class_names": ["cat", "dog"]})
    found = find_model("sagewiz-abc-train", ledger=ledger)
    assert found.path == archive and found.class_names == ("cat", "dog") and found.job_name == "sagewiz-abc-train"
    assert "trained on this computer" in found.described


def test_a_sagemaker_model_is_downloaded_once_and_again_only_when_it_changed(aws_env, tmp_path):
    import boto3

    from sagewiz.core.aws.backend import AwsBackend

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="sagewiz-123456789012-us-east-1")
    archive = tiny_archive(tmp_path / "model.tar.gz")
    key = "abc/output/sagewiz-abc-train/output/model.tar.gz"
    s3.put_object(Bucket="sagewiz-123456789012-us-east-1", Key=key, Body=archive.read_bytes())
    with Ledger(tmp_path / "home" / "ledger.sqlite3") as ledger:
        backend = AwsBackend(ledger=ledger, region="us-east-1")
        uri = f"s3://sagewiz-123456789012-us-east-1/{key}"
        seen = []
        path = backend.model_file(uri, progress=lambda done, total: seen.append((done, total)))
        assert path.read_bytes() == archive.read_bytes() and path.is_relative_to(tmp_path / "home" / "models")
        assert seen[-1] == (archive.stat().st_size,) * 2
        stamp = os.stat(path).st_mtime_ns
        assert backend.model_file(uri) == path and os.stat(path).st_mtime_ns == stamp  # reused, not downloaded again
        s3.put_object(Bucket="sagewiz-123456789012-us-east-1", Key=key, Body=b"trained again")
        assert backend.model_file(uri).read_bytes() == b"trained again"
        assert not list(path.parent.glob("*.partial"))
        with pytest.raises(NotFoundError):
            backend.model_file("s3://sagewiz-123456789012-us-east-1/no/such/model.tar.gz")


def test_a_download_cut_off_leaves_no_half_model(aws_env, tmp_path, monkeypatch):
    import boto3

    from sagewiz.core.aws.backend import AwsBackend

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="models-here")
    s3.put_object(Bucket="models-here", Key="m/model.tar.gz", Body=np.arange(1 << 18).tobytes())
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        backend = AwsBackend(ledger=ledger, region="us-east-1")

        def cut(done, total):
            if done < total:
                raise ConnectionResetError("the connection was reset")

        with pytest.raises(ConnectionResetError):
            backend.model_file("s3://models-here/m/model.tar.gz", progress=cut)
        folder = tmp_path / "models" / "aws" / "models-here" / "m"
        assert not (folder / "model.tar.gz").exists() and not list(folder.glob("*.partial"))
        assert backend.model_file("s3://models-here/m/model.tar.gz").stat().st_size == 8 * (1 << 18)


def test_a_model_asked_for_on_one_backend_is_looked_for_only_there_and_refused_before_any_download(ledger):
    """`sagewiz predict JOB --backend local` found the job on SageMaker, downloaded its model, and
    only then said it was on the other backend."""
    record = ledger.intend("aws", "training-job", "sagewiz-abc-train", region="us-east-1")
    ledger.update(record.id, state="completed")
    opened = []

    def open_backend(name, **_):
        opened.append(name)
        raise AssertionError("no backend is asked, nothing downloaded")

    with pytest.raises(InputError) as caught:
        find_model("sagewiz-abc-train", ledger=ledger, backend="local", open_backend=open_backend)
    assert caught.value.message == "The training job sagewiz-abc-train is on the aws backend, not local."
    assert "Leave out --backend" in caught.value.hint and opened == []

    with pytest.raises(NotFoundError) as caught:
        find_model("sagewiz-typo-train", ledger=ledger, backend="local")
    assert "called sagewiz-typo-train on the local backend." in caught.value.message
    assert "SageMaker" not in caught.value.message  # not asked: the user said where to look

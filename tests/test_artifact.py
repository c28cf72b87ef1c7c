"""A trained model travels as model.tar.gz: the endpoint, evaluation and incremental training
all read it back, and a damaged or hostile archive is refused with a message."""

import io
import tarfile

import pytest
import torch

from sagewiz.core.local.artifact import (
    INFO_MEMBER,
    PARAMS_MEMBER,
    ArtifactError,
    ModelInfo,
    load_model,
    read_info,
    write_artifact,
)
from sagewiz.core.local.resnet import build_resnet

INFO = ModelInfo(num_layers=20, num_classes=3, image_shape=(3, 28, 28), class_names=("cat", "dog", "fox"),
                 hyperparameters={"epochs": "2", "num_layers": "20"}, epochs_trained=2, job_name="job-1")


def test_a_written_model_comes_back_with_the_same_answers(tmp_path):
    torch.manual_seed(0)
    model = build_resnet(20, 3, (3, 28, 28)).eval()
    path = write_artifact(tmp_path / "model.tar.gz", model, INFO)

    info, loaded = load_model(path)

    assert info == INFO
    assert read_info(path) == INFO
    batch = torch.rand(4, 3, 28, 28) * 255
    with torch.no_grad():
        assert torch.equal(model(batch), loaded(batch))
    with tarfile.open(path) as tar:
        assert sorted(tar.getnames()) == sorted([INFO_MEMBER, PARAMS_MEMBER, "model-shapes.json"])
    assert not (tmp_path / "model.tar.gz.partial").exists()


def _archive(tmp_path, members):
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("members, says", [
    ([], "no model-info.json or model-params.pt"),
    ([(INFO_MEMBER, INFO.to_json().encode(), "file"), (PARAMS_MEMBER, b"", "symlink")], "link"),
    ([(INFO_MEMBER, b"{not json", "file"), (PARAMS_MEMBER, b"x", "file")], "damaged"),
    ([(INFO_MEMBER, INFO.to_json().encode(), "file"), (PARAMS_MEMBER, b"not a torch file", "file")], "can't be read"),
])
def test_a_damaged_or_hostile_archive_is_refused_with_the_reason(tmp_path, members, says):
    path = _archive(tmp_path, members)
    with pytest.raises(ArtifactError, match=says) as caught:
        load_model(path)
    assert caught.value.hint


def test_a_missing_or_non_archive_file_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="no model archive"):
        read_info(tmp_path / "nothing.tar.gz")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8 not a tar")
    with pytest.raises(ArtifactError, match="not a readable model archive"):
        read_info(tmp_path / "photo.jpg")


def test_parameters_that_do_not_fit_the_described_network_are_refused(tmp_path):
    path = write_artifact(tmp_path / "model.tar.gz", build_resnet(20, 3, (3, 28, 28)), INFO)
    wrong = ModelInfo(**{**INFO.__dict__, "num_classes": 5, "class_names": ()})
    with tarfile.open(path) as tar:
        params = tar.extractfile(PARAMS_MEMBER).read()
    path = _archive(tmp_path, [(INFO_MEMBER, wrong.to_json().encode(), "file"), (PARAMS_MEMBER, params, "file")])
    with pytest.raises(ArtifactError, match="doesn't fit"):
        load_model(path)

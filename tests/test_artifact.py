"""A trained model travels as SageMaker's model.tar.gz, whichever backend trained it: a model
trained here is written as the algorithm writes it, an archive SageMaker wrote (or an earlier
sagewiz) loads in the endpoint, evaluation and incremental training, and a damaged or hostile
archive is refused with a message."""

import gzip
import io
import json
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from legacy_archive import legacy_info_json, write_legacy_archive
from sagewiz.core.errors import ModelFileError
from sagewiz.core.evaluate import evaluate
from sagewiz.core.local.artifact import load_model, write_artifact
from sagewiz.core.local.endpoint import start_endpoint
from sagewiz.core.local.resnet import build_resnet
from sagewiz.core.model import archive
from sagewiz.core.model.archive import ArtifactError, ModelInfo, read_archive, read_info
from sagewiz.core.model.params import read_params, write_params
from sagewiz.core.model.symbol import model_shapes_json, read_symbol
from sagewiz.core.model.weights import checkpoint_params

CHECKPOINT = Path(__file__).parent / "fixtures" / "mxnet_model" / "checkpoint"
INFO = ModelInfo(num_layers=20, num_classes=3, image_shape=(3, 28, 28), class_names=("cat", "dog", "fox"),
                 hyperparameters={"epochs": "2", "num_layers": "20", "mini_batch_size": "16"}, epochs_trained=2,
                 job_name="job-1")
SAGEMAKERS_MEMBERS = ["image-classification-symbol.json", "image-classification-0002.params", "model-shapes.json"]


def tiny_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_resnet(20, 3, (3, 28, 28)).eval()
    with torch.no_grad():
        model.bn_data.moving_mean.fill_(127.0)
        model.bn_data.moving_var.fill_(74.0 ** 2)
    return model


def members_of(path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isreg()}


def pack(path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def sagemaker_archive(path, epoch: int = 3) -> Path:
    """The ResNet-20 checkpoint MXNet 1.9.1 saved (2 classes, 28 px), packed as SageMaker's
    algorithm packs its model.tar.gz: no sagewiz file inside."""
    return pack(path, {
        "image-classification-symbol.json": gzip.decompress((CHECKPOINT / "resnet20-symbol.json.gz").read_bytes()),
        f"image-classification-{epoch:04d}.params": gzip.decompress((CHECKPOINT / "resnet20-0003.params.gz").read_bytes()),
        "model-shapes.json": model_shapes_json((3, 28, 28), 32).encode(),
    })


def test_a_model_trained_here_is_written_exactly_as_sagemakers_algorithm_writes_it(tmp_path):
    model = tiny_model()
    path = write_artifact(tmp_path / "model.tar.gz", model, INFO)

    members = members_of(path)
    assert list(members) == SAGEMAKERS_MEMBERS + ["sagewiz-model.json"]  # and no torch pickle
    weights = read_params(members["image-classification-0002.params"])
    expected = checkpoint_params(model)
    assert list(weights) == list(expected) and "arg:fc1_weight" in weights and "aux:bn_data_moving_var" in weights
    assert all(np.array_equal(weights[name], expected[name]) for name in expected)
    assert json.loads(members["model-shapes.json"]) == [{"shape": [16, 3, 28, 28], "name": "data"}]
    network = read_symbol(members["image-classification-symbol.json"], shapes=members["model-shapes.json"])
    assert (network.num_layers, network.num_classes, network.image_shape) == (20, 3, (3, 28, 28))
    assert json.loads(members["sagewiz-model.json"])["class_names"] == ["cat", "dog", "fox"]
    assert not (tmp_path / "model.tar.gz.partial").exists()


def test_a_written_model_comes_back_with_the_same_answers_and_description(tmp_path):
    model = tiny_model()
    path = write_artifact(tmp_path / "model.tar.gz", model, INFO)

    info, loaded = load_model(path)

    assert info == INFO == read_info(path)
    batch = torch.rand(4, 3, 28, 28) * 255
    with torch.no_grad():
        assert torch.equal(model(batch), loaded(batch))


def test_an_archive_sagemaker_wrote_says_its_class_names_are_unknown_unless_the_run_knows_them(tmp_path):
    path = sagemaker_archive(tmp_path / "model.tar.gz")

    info = read_info(path)
    assert (info.num_layers, info.num_classes, info.image_shape, info.epochs_trained) == (20, 2, (3, 28, 28), 3)
    assert info.class_names == ("class 0", "class 1") and not info.class_names_known

    told = read_info(path, class_names=["cat", "dog"])
    assert told.class_names == ("cat", "dog") and told.class_names_known
    with pytest.raises(ArtifactError, match="names 3 classes but the model in model.tar.gz has 2"):
        read_info(path, class_names=["cat", "dog", "fox"])


def test_the_run_s_class_names_win_over_the_archive_s_own(tmp_path):
    path = write_artifact(tmp_path / "model.tar.gz", tiny_model(), INFO)
    assert read_info(path, class_names=("ant", "bee", "cow")).class_names == ("ant", "bee", "cow")


def test_of_several_epochs_sagemaker_kept_the_highest_is_loaded(tmp_path):
    mxnet = read_params(gzip.decompress((CHECKPOINT / "resnet20-0003.params.gz").read_bytes()))
    zeros = write_params({name: np.zeros_like(array) for name, array in mxnet.items()})
    path = sagemaker_archive(tmp_path / "model.tar.gz", epoch=12)
    members = members_of(path)
    members["image-classification-0009.params"] = zeros
    pack(path, {"image-classification-0009.params": zeros, **members})

    info, params = read_archive(path)

    assert info.epochs_trained == 12
    assert all(np.array_equal(params[name], mxnet[name]) for name in mxnet)


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0))).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_sagemaker_trained_model_answers_mxnets_probabilities_on_the_local_endpoint(tmp_path):
    # A picture already at the model's 28×28 goes into the network unchanged, so the endpoint's
    # answers are MXNet's own for the same pixels (make_fixtures.py ran them through mx.mod.Module).
    probe = read_params((CHECKPOINT / "resnet20-probe.params").read_bytes())
    pictures = [tmp_path / f"picture-{index}.png" for index in range(len(probe["data"]))]
    for picture, pixels in zip(pictures, probe["data"]):
        picture.write_bytes(png(pixels))
    served = start_endpoint(sagemaker_archive(tmp_path / "model.tar.gz"), tmp_path / "run")
    try:
        answers = np.array([served.predict(picture.read_bytes(), "image/png").probabilities for picture in pictures])
        labels = probe["prob"].argmax(axis=1)
        evaluation = evaluate(list(zip(pictures, labels)), served.predict, ("cat", "dog"), top_k=1)
    finally:
        served.stop()
    assert np.abs(answers - probe["prob"]).max() <= 1e-4
    assert evaluation.accuracy == 1.0 and evaluation.class_names == ("cat", "dog")


def test_an_archive_an_earlier_sagewiz_wrote_still_loads_with_its_answers(tmp_path):
    model = tiny_model(seed=5)
    path = write_legacy_archive(tmp_path / "model.tar.gz", model, legacy_info_json(
        20, 3, (3, 28, 28), ("cat", "dog", "fox"), {"resize": "28"}, epochs_trained=4, job_name="old-job"))

    info, loaded = load_model(path)

    assert (info.class_names, info.epochs_trained, info.job_name, info.hyperparameters) == \
        (("cat", "dog", "fox"), 4, "old-job", {"resize": "28"})
    batch = torch.rand(2, 3, 28, 28) * 255
    with torch.no_grad():
        assert torch.equal(model(batch), loaded(batch))


def hostile(tmp_path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    path = sagemaker_archive(tmp_path / "model.tar.gz")
    members = members_of(path)
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        tar.addfile(member, io.BytesIO(data) if data else None)
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def link(name: str, kind: bytes, target: str) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname = kind, target
    return member


def sized(name: str, size: int) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.size = size
    return member


@pytest.mark.parametrize("member, data, says", [
    (link("model-shapes.json", tarfile.SYMTYPE, "/etc/passwd"), b"", "holds model-shapes.json as a link"),
    (link("notes.txt", tarfile.LNKTYPE, "/etc/passwd"), b"", "holds notes.txt as a link"),
    (sized("../../.bashrc", 5), b"echo!", "a path outside the archive"),
    (sized("/etc/cron.d/job", 5), b"echo!", "a path outside the archive"),
    (link("zero", tarfile.CHRTYPE, ""), b"", "special file"),
])
def test_an_archive_with_links_or_paths_outside_it_is_refused_whole(tmp_path, member, data, says):
    path = hostile(tmp_path, member, data)
    with pytest.raises(ArtifactError, match=says) as caught:
        load_model(path)
    assert caught.value.hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tar.gz"]  # nothing was extracted


def test_a_member_bigger_than_any_model_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 4096)
    path = hostile(tmp_path, sized("image-classification-0001.params", 5000), b"\0" * 5000)
    with pytest.raises(ArtifactError, match="image-classification-0001.params of 5,000 bytes, more than any model"):
        read_archive(path)


def test_weights_that_lie_about_their_size_are_refused(tmp_path):
    # One float32 array that says it is 1,000,000 × 1,000,000 but holds four bytes.
    lying = struct.pack("<QQQ", 0x112, 0, 1) + struct.pack("<Iii2qiii", 0xF993FAC9, 0, 2, 10**6, 10**6, 1, 0, 0) \
        + b"\0" * 4 + struct.pack("<QQ", 1, 14) + b"arg:fc1_weight"
    members = members_of(sagemaker_archive(tmp_path / "model.tar.gz"))
    members["image-classification-0003.params"] = lying
    with pytest.raises(ModelFileError, match="image-classification-0003.params"):
        read_archive(pack(tmp_path / "model.tar.gz", members))


@pytest.mark.parametrize("change, says", [
    (lambda m: {}, "no image-classification-symbol.json"),
    (lambda m: {k: v for k, v in m.items() if k != "model-shapes.json"}, "no model-shapes.json"),
    (lambda m: {k: v for k, v in m.items() if not k.endswith(".params")}, "no weights"),
    (lambda m: {**m, "sagewiz-model.json": b"{not json"}, "sagewiz-model.json in model.tar.gz is damaged"),
    (lambda m: {**m, "image-classification-symbol.json": b"[]"}, "does not describe a network"),
])
def test_an_incomplete_or_damaged_archive_is_refused_with_the_reason(tmp_path, change, says):
    members = change(members_of(sagemaker_archive(tmp_path / "model.tar.gz")))
    with pytest.raises(ModelFileError, match=says) as caught:
        load_model(pack(tmp_path / "model.tar.gz", members))
    assert caught.value.hint


def test_a_missing_or_non_archive_file_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="no model archive"):
        read_info(tmp_path / "nothing.tar.gz")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8 not a tar")
    with pytest.raises(ArtifactError, match="not a readable model archive"):
        read_info(tmp_path / "photo.jpg")


def test_weights_that_do_not_fit_the_network_the_symbol_describes_are_refused(tmp_path):
    members = members_of(write_artifact(tmp_path / "model.tar.gz", tiny_model(), INFO))
    members["image-classification-0002.params"] = gzip.decompress((CHECKPOINT / "resnet20-0003.params.gz").read_bytes())
    with pytest.raises(ModelFileError, match="doesn't fit"):  # 2 classes' weights in a 3-class network
        load_model(pack(tmp_path / "model.tar.gz", members))

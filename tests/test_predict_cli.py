"""`sagewiz predict` as a user types it: a model named as an archive (sagewiz's, SageMaker's, an
earlier sagewiz's), a training job or an endpoint, pictures named one by one or as folders; what it
prints, what it writes, and that the user's pictures are never changed."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from legacy_archive import legacy_info_json, write_legacy_archive
from sagewiz.core.local.artifact import write_artifact
from sagewiz.core.local.resnet import build_resnet
from sagewiz.core.model.archive import ModelInfo
from sagewiz.core.model.params import read_params
from sagewiz.core.model.symbol import model_shapes_json

pytestmark = pytest.mark.usefixtures("float32_inference")  # answers compared at 1e-5 (see conftest)
SAGEWIZ = str(Path(sys.executable).with_name("sagewiz"))
SHAPE = (3, 28, 28)
CLASSES = ("cat", "dog", "fox")
CHECKPOINT = Path(__file__).parent / "fixtures" / "mxnet_model" / "checkpoint"


def small_model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_resnet(20, len(CLASSES), SHAPE).eval()
    with torch.no_grad():  # untrained, but with answers that differ from picture to picture
        model.bn_data.moving_mean.fill_(127.0)
        model.bn_data.moving_var.fill_(74.0 ** 2)
        model.fc1.weight.mul_(0.1)
    return model


INFO = ModelInfo(num_layers=20, num_classes=3, image_shape=SHAPE, class_names=CLASSES,
                 hyperparameters={"num_layers": "20", "image_shape": "3,28,28", "resize": "32"})


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return write_artifact(tmp_path_factory.mktemp("model") / "model.tar.gz", small_model(), INFO)


def picture(path: Path, seed: int, size=(28, 28), fmt="PNG", mode="RGB") -> Path:
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    for _ in range(12):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        image.paste(tuple(rng.randrange(256) for _ in range(3)), (x, y, x + 9, y + 9))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert(mode).save(path, fmt)
    return path


@pytest.fixture
def photos(tmp_path) -> Path:
    """A user's folder: pictures in sub-folders, of several sizes and kinds, and a note that isn't one."""
    root = tmp_path / "photos"
    for n in range(6):
        picture(root / "garden" / f"p{n}.png", n)
    picture(root / "garden" / "big.jpg", 10, size=(90, 60), fmt="JPEG")
    picture(root / "street" / "grey.png", 11, mode="L")
    picture(root / "street" / "p0.png", 12)  # same name as one in garden/: the copies must not clash
    (root / "notes.txt").write_text("not a picture")
    return root


def sagewiz(home, *args, timeout=300):
    env = {**os.environ, "SAGEWIZ_HOME": str(home), "COLUMNS": "120"}
    return subprocess.run([SAGEWIZ, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def predicted(home, model, *pictures, extra=()) -> dict:
    result = sagewiz(home, "predict", model, *pictures, "--json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


# ---- the answers ------------------------------------------------------------------------------

def test_a_folder_is_predicted_with_the_models_class_names_and_a_single_picture_alike(tmp_path, archive, photos):
    shown = sagewiz(tmp_path / "home", "predict", archive, photos, "--top-k", "2")
    assert shown.returncode == 0, shown.stderr
    assert "garden/p0.png" in shown.stderr and "street/grey.png" in shown.stderr and "notes.txt" not in shown.stderr
    assert "9 pictures predicted" in shown.stderr and any(name in shown.stderr for name in CLASSES)
    assert "%" in shown.stderr and shown.stdout == ""

    everything = predicted(tmp_path / "home", archive, photos)
    assert everything["class_names"] == list(CLASSES) and everything["class_names_known"]
    assert len(everything["pictures"]) == 9 and everything["unreadable"] == []
    for answer in everything["pictures"]:
        assert len(answer["prediction"]) == 3 and abs(sum(answer["prediction"]) - 1) < 1e-5
        best = max(range(3), key=answer["prediction"].__getitem__)
        assert answer["top"] == [{"label": best, "class": CLASSES[best], "probability": answer["prediction"][best]}]
    one = predicted(tmp_path / "home", archive, photos / "street" / "grey.png")
    assert [a["path"] for a in one["pictures"]] == [str(photos / "street" / "grey.png")]
    alone_in_its_batch = one["pictures"][0]["prediction"]
    assert alone_in_its_batch == pytest.approx(next(a["prediction"] for a in everything["pictures"] if a["path"].endswith("grey.png")), abs=1e-6)


def test_json_answers_what_the_local_endpoint_answers_for_the_same_pictures(tmp_path, archive, photos):
    from sagewiz.core.evaluate import content_type_of
    from sagewiz.core.local.endpoint import start_endpoint

    answers = predicted(tmp_path / "home", archive, photos, extra=["--batch-size", "4"])["pictures"]
    endpoint = start_endpoint(archive, tmp_path / "endpoint")
    try:
        for answer in answers:
            data = Path(answer["path"]).read_bytes()
            served = endpoint.predict(data, content_type_of(data)).probabilities
            assert max(abs(a - b) for a, b in zip(answer["prediction"], served)) <= 1e-5, answer["path"]
    finally:
        endpoint.stop()


def sagemaker_archive(path: Path) -> Path:
    """The ResNet-20 checkpoint MXNet 1.9.1 saved (2 classes, 28 px), packed as SageMaker's
    algorithm packs a model.tar.gz: no sagewiz file inside, so no class names."""
    members = {"image-classification-symbol.json": gzip.decompress((CHECKPOINT / "resnet20-symbol.json.gz").read_bytes()),
               "image-classification-0003.params": gzip.decompress((CHECKPOINT / "resnet20-0003.params.gz").read_bytes()),
               "model-shapes.json": model_shapes_json(SHAPE, 32).encode()}
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return path


def test_a_sagemaker_archive_answers_as_mxnet_did_and_says_its_class_names_are_unknown(tmp_path):
    probe = read_params((CHECKPOINT / "resnet20-probe.params").read_bytes())  # MXNet's own pictures and answers
    folder = tmp_path / "probe"
    folder.mkdir()
    for n, pixels in enumerate(probe["data"]):  # 28×28: at the model's size, so they go in unchanged
        Image.fromarray(pixels.transpose(1, 2, 0)).save(folder / f"{n}.png")
    model = sagemaker_archive(tmp_path / "model.tar.gz")

    result = predicted(tmp_path / "home", model, folder)
    assert result["class_names"] == ["class 0", "class 1"] and result["class_names_known"] is False
    for answer in result["pictures"]:
        expected = probe["prob"][int(Path(answer["path"]).stem)]
        assert max(abs(a - float(b)) for a, b in zip(answer["prediction"], expected)) <= 1e-4
    shown = sagewiz(tmp_path / "home", "predict", model, folder)
    assert shown.returncode == 0 and "class names of this model are unknown" in shown.stderr and "class 0" in shown.stderr


def test_a_served_sagemaker_model_answers_with_the_class_names_its_run_recorded(tmp_path):
    """`sagewiz serve` of a SageMaker job knows the run's class names, but its archive has none:
    asked through the endpoint, the answers were "class 0" and "class 1"."""
    from sagewiz.core.backend import EndpointSpec
    from sagewiz.core.ledger import Ledger
    from sagewiz.core.local.backend import CPU, LocalBackend, uri_of

    home, pictures = tmp_path / "home", tmp_path / "pictures"
    pictures.mkdir()
    picture(pictures / "a.png", 1)
    model = sagemaker_archive(tmp_path / "model.tar.gz")
    with Ledger(home / "ledger.sqlite3") as ledger:
        backend = LocalBackend(home, ledger)
        backend.deploy(EndpointSpec("served", uri_of(model), CPU, class_names=("cat", "dog")))
        try:
            served = predicted(home, "served", pictures)
        finally:
            backend.delete(ledger.find("local", "endpoint", "served"))
    assert served["class_names"] == ["cat", "dog"]


def test_an_archive_an_earlier_sagewiz_wrote_still_predicts(tmp_path, photos):
    legacy = write_legacy_archive(tmp_path / "old.tar.gz", small_model(), legacy_info_json(20, 3, SHAPE, CLASSES))
    answers = predicted(tmp_path / "home", legacy, photos / "garden" / "p1.png")
    assert answers["class_names"] == list(CLASSES) and len(answers["pictures"]) == 1


def test_a_training_job_is_named_and_the_runs_class_names_come_with_it(tmp_path):
    from sagewiz.core.dataset.sample import write_sample_dataset
    from sagewiz.core.dataset.scan import scan_dataset
    from sagewiz.core.local import job as jobs
    from sagewiz.core.local.backend import LocalBackend
    from sagewiz.core.local.engine import run_job
    from sagewiz.core.prepare import prepare_dataset

    digits = tmp_path / "digits"
    write_sample_dataset(digits, size=28, classes=[3, 8], seed=1)
    prepared = prepare_dataset(scan_dataset(digits), tmp_path / "prepared", resize=28)
    home = tmp_path / "home"
    folder = LocalBackend(home).job_dir("digits-job")
    hp = {"num_classes": "2", "num_layers": "20", "image_shape": "3,28,28", "mini_batch_size": "16", "epochs": "1",
          "num_training_samples": str(prepared.counts["train"])}
    channels = {split: {"path": str(rec), "content_type": "application/x-recordio"}
                for split, rec in (("train", prepared.train_rec), ("validation", prepared.validation_rec))}
    jobs.write_spec(folder, {"job_name": "digits-job", "hyperparameters": hp, "channels": channels,
                             "class_names": list(prepared.class_names), "output_dir": str(folder / "output"), "device": "cpu"})
    run_job(folder)

    result = predicted(home, "digits-job", digits / "test")
    assert result["class_names"] == ["digit_3", "digit_8"] and result["model"] == "the model of digits-job (trained on this computer)"
    assert len(result["pictures"]) == prepared.counts["test"]


def test_an_endpoint_is_named_and_asked_a_picture_at_a_time(tmp_path, archive, photos):
    from sagewiz.core.backend import EndpointSpec
    from sagewiz.core.ledger import Ledger
    from sagewiz.core.local.backend import CPU, LocalBackend, uri_of

    home = tmp_path / "home"
    direct = predicted(home, archive, photos)
    with Ledger(home / "ledger.sqlite3") as ledger:
        backend = LocalBackend(home, ledger)
        backend.deploy(EndpointSpec("my-endpoint", uri_of(archive), CPU))
        try:
            served = predicted(home, "my-endpoint", photos)
        finally:
            backend.delete(ledger.find("local", "endpoint", "my-endpoint"))
    assert served["model"] == "the endpoint my-endpoint" and served["class_names"] == list(CLASSES)
    assert [a["path"] for a in served["pictures"]] == [a["path"] for a in direct["pictures"]]
    for by_endpoint, in_process in zip(served["pictures"], direct["pictures"]):
        assert max(abs(a - b) for a, b in zip(by_endpoint["prediction"], in_process["prediction"])) <= 1e-5


# ---- what is done with the answers ------------------------------------------------------------

def test_sort_into_copies_every_picture_into_its_class_and_leaves_the_users_folder_unchanged(tmp_path, archive, photos):
    before = hashes(photos)
    target = tmp_path / "sorted"
    result = predicted(tmp_path / "home", archive, photos, extra=["--sort-into", target])
    assert hashes(photos) == before  # not one byte of the user's folder changed, nothing added or removed

    classes = {a["path"]: a["top"][0]["class"] for a in result["pictures"]}
    assert len(result["sorted_into"]) == 9
    for pair in result["sorted_into"]:
        copy = Path(pair["copy"])
        assert copy.parent == target / classes[pair["path"]]
        assert copy.read_bytes() == Path(pair["path"]).read_bytes()
    assert len({pair["copy"] for pair in result["sorted_into"]}) == 9  # garden/p0.png and street/p0.png both kept

    again = predicted(tmp_path / "home", archive, photos, extra=["--sort-into", target])  # sorting twice replaces nothing
    assert not {p["copy"] for p in again["sorted_into"]} & {p["copy"] for p in result["sorted_into"]}
    assert sum(1 for p in target.rglob("*") if p.is_file()) == 18 and hashes(photos) == before

    inside = sagewiz(tmp_path / "home", "predict", archive, photos, "--sort-into", photos / "garden" / "sorted")
    assert inside.returncode == 1 and "inside" in inside.stderr and "Traceback" not in inside.stderr
    assert hashes(photos) == before


def test_csv_has_the_path_the_class_its_probability_and_a_column_per_class(tmp_path, archive, photos):
    table = tmp_path / "answers.csv"
    result = predicted(tmp_path / "home", archive, photos, extra=["--csv", table])
    rows = list(csv.reader(table.open()))
    assert rows[0] == ["path", "predicted class", "probability", *CLASSES]
    assert [r[0] for r in rows[1:]] == [a["path"] for a in result["pictures"]]
    for row, answer in zip(rows[1:], result["pictures"]):
        assert row[1] == answer["top"][0]["class"] and abs(float(row[2]) - answer["top"][0]["probability"]) < 1e-6
        assert [float(p) for p in row[3:]] == pytest.approx(answer["prediction"], abs=1e-6)


# ---- what goes wrong ----------------------------------------------------------------------------

def test_a_damaged_picture_is_listed_with_its_reason_and_the_rest_are_predicted(tmp_path, archive, photos):
    (photos / "garden" / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"not really a jpeg")
    result = predicted(tmp_path / "home", archive, photos)
    assert len(result["pictures"]) == 9
    assert [u["path"] for u in result["unreadable"]] == [str(photos / "garden" / "broken.jpg")]
    assert "not an image" in result["unreadable"][0]["reason"]

    alone = sagewiz(tmp_path / "home", "predict", archive, photos / "garden" / "broken.jpg")
    assert alone.returncode == 1 and "broken.jpg" in alone.stderr and "Nothing predicted" in alone.stderr
    assert "Traceback" not in alone.stderr


@pytest.mark.parametrize("args, says", [
    (["no-such-model", "{photos}"], "no model file, training job or endpoint called no-such-model"),
    (["{archive}", "{photos}/missing.png"], "no picture or folder at"),
    (["{junk}", "{photos}"], "junk.tar.gz"),
    (["{archive}", "{photos}", "--top-k", "0"], "--top-k must be at least 1"),
    (["{archive}", "{photos}/notes.txt"], "Nothing predicted"),
])
def test_bad_input_gets_a_message_and_what_to_do_never_a_traceback(tmp_path, archive, photos, args, says):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not a model")
    result = sagewiz(tmp_path / "home", "predict", *[a.format(archive=archive, photos=photos, junk=junk) for a in args])
    assert result.returncode == 1, result.stderr
    assert says in result.stderr and "What to do" in result.stderr and "Traceback" not in result.stderr
    as_json = sagewiz(tmp_path / "home", "predict", *[a.format(archive=archive, photos=photos, junk=junk) for a in args], "--json")
    assert as_json.returncode == 1 and "message" in json.loads(as_json.stdout)

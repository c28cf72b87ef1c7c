"""The training engine behaves like SageMaker's algorithm: its inputs, its log lines, its refusals,
incremental training, early stopping and checkpoints — each on a tiny digits dataset."""

from __future__ import annotations

import io
import json
import tarfile
import threading

import time

import pytest

from legacy_archive import legacy_info_json, write_legacy_archive
from sagewiz.core.dataset.listing import ListEntry, write_list
from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.dataset.scan import scan_dataset
from sagewiz.core.local import job as jobs
from sagewiz.core.model.archive import read_info
from sagewiz.core.local.engine import run_job
from sagewiz.core.local.resnet import build_resnet
from sagewiz.core.metrics import metrics_from_log_line
from sagewiz.core.prepare import prepare_dataset

TINY = {"num_classes": "3", "num_layers": "20", "image_shape": "3,28,28", "mini_batch_size": "16", "epochs": "2",
        "learning_rate": "0.05", "resize": "28"}


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    write_sample_dataset(root, size=28, classes=[0, 1, 7], seed=4)
    report = scan_dataset(root)
    return report, prepare_dataset(report, tmp_path_factory.mktemp("prepared"), resize=28)


def run(tmp_path, digits, name="job", channels=None, **hyperparameters):
    _, prepared = digits
    folder = tmp_path / name
    channels = channels or {"train": {"path": str(prepared.train_rec), "content_type": "application/x-recordio"},
                            "validation": {"path": str(prepared.validation_rec), "content_type": "application/x-recordio"}}
    hp = {**TINY, "num_training_samples": str(prepared.counts["train"]), **{k: str(v) for k, v in hyperparameters.items()}}
    jobs.write_spec(folder, {"job_name": name, "hyperparameters": hp, "channels": channels,
                             "class_names": list(prepared.class_names), "output_dir": str(folder / "output"), "device": "cpu"})
    run_job(folder)
    status = jobs.read_status(folder)
    return status, jobs.log_path(folder).read_text(), folder


def accuracy(status, epoch, name="validation:accuracy"):
    return next(m["value"] for m in status["metrics"] if m["epoch"] == epoch and m["name"] == name)


def test_each_precision_trains_the_digits_as_well_as_float32(tmp_path, digits, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_BF16_TRAINING", "1")  # bfloat16 wherever the CPU has it, AVX-512 BF16 included
    monkeypatch.delenv("SAGEWIZ_NO_BF16", raising=False)
    from sagewiz.core.local.cores import cpu_bf16

    settings = {"epochs": 4, "learning_rate": 0.05}
    plain, _, _ = run(tmp_path, digits, "float32", precision_dtype="float32", **settings)
    mixed, log, _ = run(tmp_path, digits, "mixed", precision_dtype="float16", **settings)
    assert ("Arithmetic: bfloat16 mixed precision" if cpu_bf16() else "Arithmetic: float32") in log
    assert mixed["status"] == plain["status"] == "Completed"
    ours, theirs = accuracy(mixed, 3), accuracy(plain, 3)
    assert theirs > 0.8 and abs(ours - theirs) <= 0.1, (ours, theirs)


def test_images_with_lst_channels_train_like_recordio(tmp_path, digits):
    report, prepared = digits
    labels = {c.name: c.label for c in report.classes}
    channels = {}
    for split, pictures in (("train", report.images["train"][::2]), ("validation", report.images["train"][1::4])):
        write_list(tmp_path / f"{split}.lst", [ListEntry(i, p, (float(labels[c]),)) for i, (p, c) in enumerate(pictures)])
        channels[split] = {"path": report.root, "content_type": "application/x-image"}
        channels[f"{split}_lst"] = {"path": str(tmp_path / f"{split}.lst"), "content_type": "application/x-image"}
    status, log, folder = run(tmp_path, digits, channels=channels, epochs=1)
    assert status["status"] == "Completed", status.get("failure_reason")
    assert "Epoch[0] Validation-accuracy=" in log
    assert read_info(folder / "output" / "model.tar.gz").class_names == prepared.class_names


def test_statuses_follow_sagemakers_secondary_statuses(tmp_path, digits, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_NO_BF16", "1")  # a CPU without BF16: float16 falls back, and the log says so
    status, log, _ = run(tmp_path, digits, epochs=1, precision_dtype="float16")
    assert [h["status"] for h in status["history"]] == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert "Arithmetic: float32. precision_dtype=float16 asks for mixed precision" in log and "trains in float32" in log


@pytest.mark.parametrize("damage, says", [
    (lambda data: data[: len(data) // 2], "truncated"),
    (lambda data: b"not a record file at all" * 10, "not a RecordIO file"),
])
def test_a_damaged_record_file_fails_the_job_with_a_one_line_reason(tmp_path, digits, damage, says):
    _, prepared = digits
    broken = tmp_path / "broken.rec"
    broken.write_bytes(damage(prepared.train_rec.read_bytes()))
    channels = {"train": {"path": str(broken), "content_type": "application/x-recordio"},
                "validation": {"path": str(prepared.validation_rec), "content_type": "application/x-recordio"}}
    status, _, folder = run(tmp_path, digits, channels=channels)
    assert status["status"] == "Failed"
    assert says in status["failure_reason"] and "\n" not in status["failure_reason"]
    assert "Traceback" not in status["failure_reason"]


def test_labels_beyond_num_classes_are_named(tmp_path, digits):
    status, _, _ = run(tmp_path, digits, num_classes=2)
    assert status["status"] == "Failed" and "has label 2" in status["failure_reason"] and "num_classes" in status["failure_reason"]


def test_a_job_given_no_pretrained_network_says_how_to_install_one(tmp_path, digits):
    status, _, _ = run(tmp_path, digits, use_pretrained_model=1, num_layers=18, image_shape="3,224,224", resize=224)
    assert status["status"] == "Failed"
    assert "none is installed" in status["failure_reason"] and "sagewiz pretrained download 18" in status["failure_reason"]


def test_incremental_training_continues_from_the_earlier_model(tmp_path, digits):
    first, _, first_folder = run(tmp_path, digits, name="first", epochs=3)
    model = {"path": str(first_folder / "output" / "model.tar.gz"), "content_type": "application/x-sagemaker-model"}
    _, prepared = digits
    channels = {"train": {"path": str(prepared.train_rec), "content_type": "application/x-recordio"},
                "validation": {"path": str(prepared.validation_rec), "content_type": "application/x-recordio"}, "model": model}
    second, log, _ = run(tmp_path, digits, name="second", channels=channels, epochs=1, learning_rate=0.005)
    assert second["status"] == "Completed"
    assert "Continuing from the model in the model channel" in log
    assert accuracy(second, 0) >= max(accuracy(first, e) for e in range(3)) - 0.1  # starts where the first ended

    mismatched, _, _ = run(tmp_path, digits, name="third", channels=channels, num_layers=32)
    assert mismatched["status"] == "Failed"
    assert "num_layers=20" in mismatched["failure_reason"] and "num_layers=32" in mismatched["failure_reason"]


def test_incremental_training_continues_from_an_archive_sagemaker_wrote(tmp_path, digits):
    first, _, first_folder = run(tmp_path, digits, name="first", epochs=2)
    # What SageMaker's algorithm leaves: its three members, no sagewiz file beside them.
    with tarfile.open(first_folder / "output" / "model.tar.gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.name != "sagewiz-model.json"}
    sagemaker = tmp_path / "sagemaker-model.tar.gz"
    with tarfile.open(sagemaker, "w:gz") as tar:
        for name, data in members.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    _, prepared = digits
    channels = {"train": {"path": str(prepared.train_rec), "content_type": "application/x-recordio"},
                "validation": {"path": str(prepared.validation_rec), "content_type": "application/x-recordio"},
                "model": {"path": str(sagemaker), "content_type": "application/x-sagemaker-model"}}
    second, log, _ = run(tmp_path, digits, name="second", channels=channels, epochs=1, learning_rate=0.005)
    assert second["status"] == "Completed", second.get("failure_reason")
    assert "Continuing from the model in the model channel (earlier job, " in log  # no job name inside
    assert accuracy(second, 0) >= max(accuracy(first, e) for e in range(2)) - 0.1  # starts where the first ended


def test_incremental_training_continues_from_an_archive_an_earlier_sagewiz_wrote(tmp_path, digits):
    _, prepared = digits
    old = write_legacy_archive(tmp_path / "old.tar.gz", build_resnet(20, 3, (3, 28, 28)),
                               legacy_info_json(20, 3, (3, 28, 28), prepared.class_names, epochs_trained=7, job_name="old-job"))
    channels = {"train": {"path": str(prepared.train_rec), "content_type": "application/x-recordio"},
                "validation": {"path": str(prepared.validation_rec), "content_type": "application/x-recordio"},
                "model": {"path": str(old), "content_type": "application/x-sagemaker-model"}}
    status, log, _ = run(tmp_path, digits, name="again", channels=channels, epochs=1)
    assert status["status"] == "Completed", status.get("failure_reason")
    assert "Continuing from the model in the model channel (old-job, 7 epochs)" in log


def test_early_stopping_ends_before_the_last_epoch(tmp_path, digits):
    status, log, _ = run(tmp_path, digits, epochs=30, early_stopping="True", early_stopping_min_epochs=1,
                         early_stopping_patience=1, early_stopping_tolerance=0.9)
    assert status["status"] == "Completed"
    assert "Early stopping" in log
    assert max(m["epoch"] for m in status["metrics"]) < 5


def test_a_finished_job_leaves_its_pace_for_the_next_estimate_on_this_computer(tmp_path, digits):
    from sagewiz.core.local.pace import computer

    _, prepared = digits
    status, _, _ = run(tmp_path, digits, epochs=30, early_stopping="True", early_stopping_min_epochs=1,
                       early_stopping_patience=1, early_stopping_tolerance=0.9)
    epochs = max(m["epoch"] for m in status["metrics"]) + 1
    pace = status["pace"]  # the epochs it ran, each a whole train channel, and the seconds they took
    assert (pace["pictures"], pace["family"], pace["depth"], pace["computer"]) == (epochs * prepared.counts["train"], "small", 20, computer())
    assert 0 < pace["seconds"] < status["ended_at"] - status["started_at"]  # the engine's start is not the pace


def test_checkpoint_frequency_keeps_a_checkpoint_every_n_epochs(tmp_path, digits):
    status, _, folder = run(tmp_path, digits, epochs=4, checkpoint_frequency=2)
    assert status["status"] == "Completed"
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["epoch-0001.pt", "epoch-0003.pt"]
    assert read_info(folder / "output" / "model.tar.gz").epochs_trained == 4


@pytest.mark.parametrize("line, expected", [
    ("[11/24/2026 10:00:00 INFO 140] Epoch[3] Train-accuracy=0.912500", [(3, "train:accuracy", 0.9125)]),
    ("[11/24/2026 10:00:00 INFO 140] Epoch[3] Validation-top_k_accuracy_5=0.990000", [(3, "validation:top_k_accuracy_5", 0.99)]),
    ("Epoch[0] Batch [20]#011Speed: 111.50 samples/sec#011accuracy=0.512500", []),
    ("Epoch[12] Time cost=12.345", []),
    ("no metric here", []),
])
def test_metric_values_are_read_from_the_algorithms_log_lines(line, expected):
    assert metrics_from_log_line(line) == expected


def test_reading_the_status_while_the_engine_writes_it_never_fails(tmp_path):
    folder = tmp_path / "racing"
    folder.mkdir()
    done = threading.Event()

    def writer():
        for n in range(300):
            jobs.write_status(folder, {"status": "InProgress", "metrics": [{"epoch": n, "name": "x", "value": 0.5}] * 50})
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen = 0
    while not done.is_set():
        status = jobs.read_status(folder)
        seen += status is not None
        assert status is None or status["status"] == "InProgress"
    thread.join()
    assert seen and json.loads((folder / "status.json").read_text())["metrics"][0]["epoch"] == 299


def test_multi_label_pictures_train_with_one_output_per_label(tmp_path, digits):
    report, _ = digits
    labels = {c.name: c.label for c in report.classes}
    channels = {}
    for split, pictures in (("train", report.images["train"][::2]), ("validation", report.images["train"][1::4])):
        # every picture carries its digit's label and, when it is a 7, also label 0 ("has a stroke")
        entries = [ListEntry(i, p, (float(labels[c]),) + ((0.0,) if c == "digit_7" else ())) for i, (p, c) in enumerate(pictures)]
        write_list(tmp_path / f"{split}.lst", entries)
        channels[split] = {"path": report.root, "content_type": "application/x-image"}
        channels[f"{split}_lst"] = {"path": str(tmp_path / f"{split}.lst"), "content_type": "application/x-image"}
    status, log, folder = run(tmp_path, digits, channels=channels, epochs=1, multi_label=1, use_weighted_loss=1)
    assert status["status"] == "Completed", status.get("failure_reason")
    assert "Epoch[0] Validation-accuracy=" in log
    assert read_info(folder / "output" / "model.tar.gz").hyperparameters["multi_label"] == "1"


def test_an_engine_that_wrote_its_end_just_before_it_was_looked_at_is_not_called_failed(tmp_path):
    # describe_training reads "InProgress", the engine writes "Completed" and exits, then the
    # process is found gone: the end it wrote stands (a loaded machine made this happen in CI)
    folder = tmp_path / "just-finished"
    folder.mkdir()
    jobs.write_status(folder, {"status": "Completed", "secondary_status": "Completed", "model_path": "model.tar.gz"})
    jobs.mark_failed(folder, "The training process ended unexpectedly.")
    status = jobs.read_status(folder)
    assert status["status"] == "Completed" and "failure_reason" not in status

    jobs.write_status(folder, {"status": "InProgress", "secondary_status": "Training"})  # truly died mid-way: failed
    jobs.mark_failed(folder, "The training process ended unexpectedly.")
    assert jobs.read_status(folder)["status"] == "Failed"


def test_an_engine_just_launched_counts_as_running_while_it_is_still_starting(tmp_path):
    # Popen returns while the child is still inside exec (the kernel wakes a vfork parent before
    # the new program's arguments can be read): an empty command line then is not a dead engine.
    # This is what marked a healthy local job Failed a millisecond after its launch, in CI.
    import subprocess
    import sys

    for _ in range(500):  # the window is well under a millisecond: many launches catch it
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)", jobs._ENGINE, str(tmp_path)],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        try:
            assert jobs._is_engine(child.pid, tmp_path)
        finally:
            child.kill()
            child.wait()
    assert not jobs._is_engine(child.pid, tmp_path)  # ended and reaped: not running


def test_a_job_refused_for_missing_pretrained_weights_is_not_recorded(tmp_path, monkeypatch):
    """The settings are checked before the job is written to the ledger: a refused job leaves no
    entry for `sagewiz cleanup` to find."""
    from sagewiz.core.backend import TrainingSpec
    from sagewiz.core.hyperparams import HyperparameterError, Hyperparameters
    from sagewiz.core.local.backend import LocalBackend

    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    backend = LocalBackend(home=tmp_path / "home")
    hp = Hyperparameters(num_classes=2, num_training_samples=10, use_pretrained_model=True, num_layers=18)
    with pytest.raises(HyperparameterError, match="none is installed"):
        backend.start_training(TrainingSpec("sagewiz-refused-train", hp, (), "", "local-cpu"))
    assert backend.ledger.resources(include_deleted=True) == []

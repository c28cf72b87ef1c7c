"""Labels where people keep them: in the file names of a flat folder (Kaggle's dogs-vs-cats), in a
labels.csv beside the pictures; and a folder with no labels at all (Kaggle's test1/), which is
pictures to predict. The check says which it found; packing uses those labels like class folders."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from corpus import encode, noise_image
from sagewiz.core.dataset.labels import label_in_name
from sagewiz.core.dataset.recordio import iter_records, unpack_image_record
from sagewiz.core.dataset.scan import LAYOUT_CSV, LAYOUT_NAMES, LAYOUT_POOL, LAYOUT_UNLABELLED, scan_dataset
from sagewiz.core.prepare import prepare_dataset
from sagewiz.tui.cli import main

_rng = random.Random(16)


def pictures(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(encode(noise_image(_rng, (32, 24)), "PNG" if name.endswith(".png") else "JPEG"))


def kaggle_train(folder: Path, n: int = 6) -> Path:
    """Kaggle's dogs-vs-cats train/: cat.0.jpg … dog.0.jpg … in one folder."""
    pictures(folder, *(f"{animal}.{i}.jpg" for animal in ("cat", "dog") for i in range(n)))
    return folder


def problem(report, path: str):
    [found] = [p for p in report.problems if p.path == path]
    return found


# --- file names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, label", [
    ("cat.0.jpg", "cat"), ("dog.1234.jpg", "dog"), ("cat_001.png", "cat"), ("dog-17.jpg", "dog"), ("dog17.jpg", "dog"),
    ("american_bulldog_10.jpg", "american_bulldog"),  # Oxford pets: a two-word breed stays one label
    ("IMG_1234.jpg", None), ("DSC_0001.JPG", None), ("PXL_20240101_120000.jpg", None),  # what cameras name pictures
    ("1.jpg", None), ("20240101_120000.jpg", None), ("cat.jpg", None), ("3cats.jpg", None),
])
def test_a_label_is_the_word_before_the_names_number(name, label):
    assert label_in_name(name) == label


def test_a_flat_kaggle_folder_is_labelled_by_its_file_names(tmp_path):
    kaggle_train(tmp_path / "train", n=10)
    report = scan_dataset(tmp_path / "train", mini_batch_size=4)
    assert report.layout == LAYOUT_NAMES and report.usable, report.problems
    assert [(c.name, c.label) for c in report.classes] == [("cat", 0), ("dog", 1)]
    assert report.counts == {"train": {"cat": 8, "dog": 8}, "test": {"cat": 2, "dog": 2}}
    assert report.labels_from == "file names like cat.0.jpg"
    assert any("read from the file names like cat.0.jpg" in line for line in report.summary)
    assert all(Path(path).name.startswith(name + ".") for pairs in report.images.values() for path, name in pairs)


def test_kaggles_download_with_train_and_test1_reads_the_names_in_train(tmp_path):
    kaggle_train(tmp_path / "dogs-vs-cats" / "train")
    pictures(tmp_path / "dogs-vs-cats" / "test1", "1.jpg", "2.jpg")
    report = scan_dataset(tmp_path / "dogs-vs-cats", mini_batch_size=2)
    assert report.layout == LAYOUT_NAMES and report.usable
    assert {path.split("/")[0] for pairs in report.images.values() for path, _ in pairs} == {"train"}
    assert problem(report, "test1").action == "ignored"


def test_underscore_and_dash_names_are_labels_and_a_stray_name_is_said(tmp_path):
    folder = tmp_path / "shots"
    pictures(folder, *(f"cat_{i:03d}.png" for i in range(10)), *(f"dog-{i}.jpg" for i in range(10)), "holiday.jpg")
    (folder / "notes.txt").write_text("from the shelter\n")
    report = scan_dataset(folder, mini_batch_size=2)
    assert report.layout == LAYOUT_NAMES and [c.name for c in report.classes] == ["cat", "dog"]
    assert report.usable_images == 20 and report.total_images == 21
    stray = problem(report, "holiday.jpg")
    assert stray.action == "skipped" and "none of the labels" in stray.reason and "cat, dog" in stray.reason
    assert problem(report, "notes.txt").action == "ignored"


def test_a_folder_of_camera_names_is_not_labelled_by_img_or_dsc(tmp_path):
    folder = tmp_path / "phone"
    pictures(folder, *(f"IMG_{1000 + i}.jpg" for i in range(8)), *(f"DSC_{i:04d}.jpg" for i in range(8)))
    report = scan_dataset(folder)
    assert report.layout == LAYOUT_UNLABELLED and not report.usable
    assert report.classes == [] and report.usable_images == 0 and report.total_images == 16


def test_names_with_too_few_pictures_per_label_are_not_trusted(tmp_path):
    pictures(tmp_path / "few", "cat.0.jpg", "cat.1.jpg", "dog.0.jpg", "dog.1.jpg")
    assert scan_dataset(tmp_path / "few").layout == LAYOUT_UNLABELLED


def test_class_folders_stay_class_folders_even_with_names_that_look_labelled(tmp_path):
    pictures(tmp_path / "pets" / "a", *(f"cat.{i}.jpg" for i in range(4)))
    pictures(tmp_path / "pets" / "b", *(f"dog.{i}.jpg" for i in range(4)))
    report = scan_dataset(tmp_path / "pets", mini_batch_size=2)
    assert report.layout == LAYOUT_POOL and [c.name for c in report.classes] == ["a", "b"] and report.labels_from == ""


# --- pictures to predict -------------------------------------------------------------------------


def test_kaggles_test1_numbered_pictures_are_to_predict_and_the_check_says_how(tmp_path):
    pictures(tmp_path / "test1", *(f"{i}.jpg" for i in range(1, 13)))
    report = scan_dataset(tmp_path / "test1")
    assert report.layout == LAYOUT_UNLABELLED and not report.usable
    assert report.summary[0] == "Not ready to train: these are pictures to predict (they have no labels)."
    assert f"sagewiz predict MODEL {tmp_path / 'test1'}" in report.summary[1]
    [error] = [p for p in report.problems if p.severity == "error"]
    assert error.path == "." and "12 pictures and no labels" in error.reason
    assert not any("class" in p.reason and "at least two" in p.reason for p in report.problems)  # said once, as prediction


def test_sagewiz_run_refuses_to_train_on_pictures_to_predict(tmp_path):
    pictures(tmp_path / "test1", *(f"{i}.jpg" for i in range(1, 9)))
    env = {**os.environ, "SAGEWIZ_HOME": str(tmp_path / "home")}
    result = subprocess.run([str(Path(sys.executable).with_name("sagewiz")), "run", "--data", str(tmp_path / "test1"), "--yes"],
                            capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL)
    said = " ".join(result.stderr.split())
    assert result.returncode == 1 and "Traceback" not in said
    assert "pictures to predict" in said and "sagewiz predict MODEL" in said


# --- a labels CSV --------------------------------------------------------------------------------


@pytest.fixture
def labelled_by_csv(tmp_path):
    """Pictures in images/ and a labels.csv beside them: a missing file, an unknown label, an empty
    one, a picture listed twice, and one picture the CSV forgot."""
    folder = tmp_path / "shelter"
    pictures(folder / "images", *(f"{i}.jpg" for i in range(14)))
    rows = [f"images/{i}.jpg,{'cat' if i % 2 else 'dog'}" for i in range(10)]
    rows += ["images/missing.jpg,cat", "images/10.jpg,unknown", "images/11.jpg,", "images/2.jpg,dog", "images/12,cat"]
    (folder / "labels.csv").write_text("filename,label\n" + "\n".join(rows) + "\n")
    return folder


def test_a_labels_csv_gives_the_classes_and_each_problem_is_named(labelled_by_csv):
    report = scan_dataset(labelled_by_csv, mini_batch_size=2)
    assert report.layout == LAYOUT_CSV and report.usable, report.problems
    assert report.labels_from == "labels.csv"
    assert [c.name for c in report.classes] == ["cat", "dog"]
    assert sum(sum(n.values()) for n in report.counts.values()) == 11  # 10 rows + images/12 given without .jpg
    assert "line 12 names it, but there is no such picture" in problem(report, "images/missing.jpg").reason
    assert "'unknown', which is not a class" in problem(report, "images/10.jpg").reason
    assert "gives it no label" in problem(report, "images/11.jpg").reason
    twice = problem(report, "images/2.jpg")
    assert twice.action == "kept" and "listed twice in labels.csv (lines 4 and 15)" in twice.reason
    assert problem(report, "images/13.jpg").reason == "not in labels.csv, so it has no label"
    assert not any(p.path == "labels.csv" for p in report.problems)  # the labels file is not "not a picture"
    assert any("read from labels.csv" in line for line in report.summary)


def test_a_picture_given_two_labels_in_the_csv_is_an_error_naming_both(labelled_by_csv):
    with open(labelled_by_csv / "labels.csv", "a") as csv:
        csv.write("images/3.jpg,dog\n")
    report = scan_dataset(labelled_by_csv, mini_batch_size=2)
    assert not report.usable
    conflict = problem(report, "images/3.jpg")
    assert conflict.severity == "error" and "'cat' on line 5 and 'dog' on line 17" in conflict.reason
    assert any("Keep one line for images/3.jpg" in line for line in report.summary)


def test_a_headerless_train_csv_of_ids_is_read(tmp_path):
    folder = tmp_path / "cifar"
    pictures(folder, *(f"{i}.png" for i in range(1, 9)))
    (folder / "train.csv").write_text("".join(f"{i},{'frog' if i <= 4 else 'ship'}\n" for i in range(1, 9)))
    report = scan_dataset(folder, mini_batch_size=2)
    assert report.layout == LAYOUT_CSV and report.usable and [c.name for c in report.classes] == ["frog", "ship"]


def test_a_csv_that_names_none_of_the_pictures_is_not_taken_for_labels(tmp_path):
    pictures(tmp_path / "pets" / "cat", "a.jpg", "b.jpg")
    pictures(tmp_path / "pets" / "dog", "c.jpg", "d.jpg")
    (tmp_path / "pets" / "prices.csv").write_text("item,price\nbowl,3\n")
    report = scan_dataset(tmp_path / "pets", mini_batch_size=1)
    assert report.layout == LAYOUT_POOL and problem(report, "prices.csv").action == "ignored"


# --- what the user sees, and what is packed ------------------------------------------------------


def test_sagewiz_check_json_says_the_layout_and_how_the_labels_were_read(tmp_path, capsys):
    kaggle_train(tmp_path / "train")
    assert main(["check", str(tmp_path / "train"), "--json", "--mini-batch-size", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["layout"] == "labels from file names" and report["labels_from"] == "file names like cat.0.jpg"
    assert [c["name"] for c in report["classes"]] == ["cat", "dog"]

    pictures(tmp_path / "test1", *(f"{i}.jpg" for i in range(1, 5)))
    assert main(["check", str(tmp_path / "test1"), "--json"]) == 2
    said = json.loads(capsys.readouterr().out)
    assert said["layout"] == "pictures without labels, to predict" and "sagewiz predict MODEL" in said["summary"][1]


@pytest.mark.parametrize("layout", ["names", "csv"])
def test_labels_from_names_or_csv_reach_the_lists_and_records_and_nothing_is_moved(tmp_path, layout):
    folder = tmp_path / "pets"
    if layout == "names":
        kaggle_train(folder, n=10)
        truth = {name: name.split(".")[0] for name in os.listdir(folder)}
    else:
        pictures(folder, *(f"{i}.jpg" for i in range(20)))
        truth = {f"{i}.jpg": "cat" if i < 10 else "dog" for i in range(20)}
        (folder / "labels.csv").write_text("".join(f"{name},{label}\n" for name, label in truth.items()))
    before = sorted(os.listdir(folder))
    report = scan_dataset(folder, mini_batch_size=2)
    prepared = prepare_dataset(report, tmp_path / "packed", resize=24)
    assert prepared.class_names == ("cat", "dog")
    for split in ("train", "validation"):
        lines = [line.split("\t") for line in (tmp_path / "packed" / f"{split}.lst").read_text().splitlines()]
        assert lines and all(prepared.class_names[int(float(label))] == truth[path] for _, label, path in lines)
        by_id = {int(index): float(label) for index, label, _ in lines}
        records = [unpack_image_record(r) for r in iter_records(tmp_path / "packed" / f"{split}.rec")]
        assert len(records) == len(lines) and all(r.label == by_id[r.record_id] for r in records)
    assert all(truth[Path(path).name] == prepared.class_names[label] for path, label in prepared.test_images)
    assert sorted(os.listdir(folder)) == before  # read where they are: nothing moved or copied

"""A checked dataset becomes the training job's channels; the test pictures stay out of them."""

import pytest

from sagewiz.core.dataset.recordio import iter_records, unpack_image_record
from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.dataset.scan import scan_dataset
from sagewiz.core.errors import DatasetError
from sagewiz.core.prepare import prepare_dataset


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    write_sample_dataset(root, size=20, classes=[3, 5, 8], seed=1)
    return root


def test_training_pictures_are_split_into_train_and_validation_and_test_is_kept_apart(digits, tmp_path):
    report = scan_dataset(digits)
    seen = []
    prepared = prepare_dataset(report, tmp_path / "data", resize=24, progress=lambda *a: seen.append(a))

    assert prepared.class_names == ("digit_3", "digit_5", "digit_8")
    train_total = sum(report.counts["train"].values())
    assert prepared.counts["train"] + prepared.counts["validation"] == train_total
    assert 0.05 < prepared.counts["validation"] / train_total < 0.15
    assert len(prepared.test_images) == sum(report.counts["test"].values()) == prepared.counts["test"]
    records = [unpack_image_record(r) for r in iter_records(prepared.train_rec)]
    assert len(records) == prepared.counts["train"] and {r.label for r in records} == {0.0, 1.0, 2.0}
    assert seen[-1][1:] == (prepared.counts["validation"], prepared.counts["validation"])
    listed = (tmp_path / "data" / "train.lst").read_text() + (tmp_path / "data" / "validation.lst").read_text()
    assert all(line.split("\t")[-1].startswith("train/") for line in listed.splitlines())
    assert all("/test/digit_" in path for path, _ in prepared.test_images)


def test_preparing_the_same_pictures_again_reuses_the_packed_files(digits, tmp_path):
    report = scan_dataset(digits)
    first = prepare_dataset(report, tmp_path / "data", resize=24)
    stamp = first.train_rec.stat().st_mtime_ns
    again = prepare_dataset(report, tmp_path / "data", resize=24)
    assert again == first and again.train_rec.stat().st_mtime_ns == stamp
    other = prepare_dataset(report, tmp_path / "data", resize=28)  # new settings: packed again
    assert other.train_rec.stat().st_mtime_ns != stamp


def test_an_unusable_dataset_is_refused_with_what_to_do(tmp_path):
    (tmp_path / "only" / "cat").mkdir(parents=True)
    report = scan_dataset(tmp_path / "only")
    with pytest.raises(DatasetError, match="can't be used") as caught:
        prepare_dataset(report, tmp_path / "data", resize=24)
    assert "sagewiz check" in caught.value.hint


@pytest.mark.parametrize("layout", ["train and test folders", "a validation folder too"])
def test_the_suggested_settings_count_the_training_pictures_that_get_packed(tmp_path, layout):
    """The sample's 1,438 training pictures keep 1,295 for training once a tenth of each class is
    held out; the settings said 1,294 (a tenth of the whole, estimated before the split). With a
    validation/ folder nothing is held out, and the estimate still took a tenth away."""
    from sagewiz.core.suggestions import suggest_for

    write_sample_dataset(tmp_path / "pictures", size=20)
    if layout == "a validation folder too":  # half of each class's test pictures become the validation set
        for folder in sorted((tmp_path / "pictures" / "test").iterdir()):
            (tmp_path / "pictures" / "validation" / folder.name).mkdir(parents=True)
            for picture in sorted(folder.iterdir())[::2]:
                picture.rename(tmp_path / "pictures" / "validation" / folder.name / picture.name)
    report = scan_dataset(tmp_path / "pictures")
    prepared = prepare_dataset(report, tmp_path / "data", resize=20)

    suggested = suggest_for(report)
    assert suggested.num_training_samples == prepared.counts["train"]
    assert suggested.mini_batch_size <= prepared.smallest_training_class
    assert suggest_for(report, prepared=prepared).num_training_samples == prepared.counts["train"]

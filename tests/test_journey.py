"""The journey in two halves, as the wizard walks it: train first, look at the model, then choose
where its endpoint runs and test it. ``sagewiz run`` does both halves in one go."""

from __future__ import annotations

import pytest

from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.errors import WizardError
from sagewiz.core.journey import JourneyOptions, deploy_and_test, run_journey, train_model, tune_model
from sagewiz.core.ledger import Ledger
from sagewiz.core.local.backend import LocalBackend
from sagewiz.core.tuning_ranges import SEED_TUNING_RANGES

FAST = {"epochs": "1", "mini_batch_size": "16"}


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def backend(tmp_path):
    with Ledger(tmp_path / "home" / "ledger.sqlite3") as ledger:
        yield LocalBackend(tmp_path / "home", ledger)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    write_sample_dataset(root, size=28, classes=[3, 8], seed=5)
    return root


def test_training_alone_leaves_no_endpoint_and_says_where_one_could_run(backend, digits, tmp_path):
    events = []
    trained = train_model(backend, JourneyOptions(digits, FAST), "run-one-half", events.append)

    assert trained.summary["training"]["status"] == "Completed"
    assert trained.model_uri and trained.class_names == ("digit_3", "digit_8")
    assert [o.instance_type for o in trained.hosting] == ["local-cpu"] and trained.recommended_hosting == "local-cpu"
    assert trained.test_images and trained.validation_accuracy is not None
    assert not [r for r in backend.resources() if r.kind == "endpoint"]
    assert [e.step for e in events if e.kind == "step"] == ["check", "prepare", "upload", "train"]


def test_the_endpoint_comes_later_is_tested_and_deleted_unless_kept(backend, digits, tmp_path):
    trained = train_model(backend, JourneyOptions(digits, FAST), "run-two-halves")
    events = []
    summary = deploy_and_test(backend, trained, events.append)

    assert [e.step for e in events if e.kind == "step"] == ["deploy", "evaluate", "clean up"]
    assert summary["endpoint"]["deleted"] and summary["endpoint"]["instance_type"] == "local-cpu"
    assert summary["evaluation"]["evaluated"] == len(trained.test_images)
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert summary["training"] == trained.summary["training"]  # one summary, as `sagewiz run --json` prints it
    assert not [r for r in backend.resources() if r.kind == "endpoint"]

    kept = deploy_and_test(backend, trained, keep_endpoint=True)
    assert "deleted" not in kept["endpoint"]
    [endpoint] = [r for r in backend.resources() if r.kind == "endpoint"]
    assert endpoint.name == kept["endpoint"]["name"]
    backend.delete(endpoint)  # the test's own clean-up: no server left behind


def test_an_endpoint_type_the_region_does_not_offer_is_refused_before_anything_starts(backend, digits, tmp_path):
    trained = train_model(backend, JourneyOptions(digits, FAST), "run-wrong-type")
    with pytest.raises(WizardError) as refused:
        deploy_and_test(backend, trained, endpoint_instance="ml.p3.2xlarge")
    assert "doesn't offer ml.p3.2xlarge" in refused.value.message and "local-cpu" in refused.value.hint
    assert not [r for r in backend.resources() if r.kind == "endpoint"]


def test_run_journey_is_both_halves(backend, digits, tmp_path):
    summary = run_journey(backend, JourneyOptions(digits, FAST), "run-whole")
    assert summary["training"]["status"] == "Completed" and summary["endpoint"]["deleted"]
    assert summary["model_from"] == summary["training"]["job_name"]


def test_tuning_can_follow_the_first_training_and_the_better_model_goes_on(backend, digits, tmp_path):
    trained = train_model(backend, JourneyOptions(digits, FAST), "run-tuned-later")
    first = trained.validation_accuracy
    events = []
    tuned = tune_model(backend, trained, 2, events.append, poll_seconds=0.2)

    assert [e.step for e in events if e.kind == "step"] == ["tune"]
    trials = [e.data for e in events if e.kind == "trials"]
    assert trials  # the trials, live, with the settings each tried and which of them tuning varies
    assert trials[-1]["tuned"] == [r.name for r in SEED_TUNING_RANGES]
    assert all(set(trials[-1]["tuned"]) <= set(settings) for settings in trials[-1]["hyperparameters"].values())
    tuning = tuned.summary["tuning"]
    assert len(tuning["trials"]) == 2 and tuning["best"]
    best = max(t["objective"] for t in tuning["trials"] if t["objective"] is not None)
    if best > first:  # the best trial's model goes to the endpoint
        assert tuned.summary["model_from"] == tuning["best"] and tuned.model_uri != trained.model_uri
    else:  # the first training stays best: its model is kept
        assert tuned.summary["model_from"] == trained.summary["training"]["job_name"] and tuned.model_uri == trained.model_uri
    assert tuned.validation_accuracy == max(first, best)
    assert "tuning" not in trained.summary  # the first training's model is still there as it was
    assert tuned.summary["training"] == trained.summary["training"] and tuned.test_images == trained.test_images

    again = tune_model(backend, trained, 2, poll_seconds=0.2)  # picked up again (a resumed run): nothing new started
    assert again.summary["tuning"]["name"] == tuning["name"]
    assert len([r for r in backend.resources() if r.kind == "tuning-job"]) == 1


def test_train_model_with_tuning_is_training_then_tune_model(backend, digits, tmp_path):
    events = []
    trained = train_model(backend, JourneyOptions(digits, FAST, tune_jobs=2), "run-tuned-at-once",
                          events.append, poll_seconds=0.2)
    assert [e.step for e in events if e.kind == "step"] == ["check", "prepare", "upload", "train", "tune"]
    assert len(trained.summary["tuning"]["trials"]) == 2


def test_pictures_packed_ahead_of_training_are_not_packed_again(backend, digits, tmp_path):
    from sagewiz.core.dataset.scan import scan_dataset
    from sagewiz.core.journey import pack_ahead, packed_folder

    report = scan_dataset(digits)
    packing = []
    ahead = pack_ahead(report, "cpu", progress=lambda split, done, total: packing.append(split))
    assert ahead.folder == packed_folder(digits) and ahead.train_rec.exists() and set(packing) == {"train", "validation"}
    assert ahead.folder.parent.parent == tmp_path / "home"  # in sagewiz's home, beside the ledger

    events = []
    train_model(backend, JourneyOptions(digits, FAST), "run-packed-ahead", events.append)
    assert not [e for e in events if e.kind == "progress" and e.step == "prepare"]  # nothing packed twice
    assert any(e.kind == "note" and "already packed" in e.text for e in events)


def test_the_packed_copy_of_the_pictures_is_offered_for_clean_up_and_deleting_it_keeps_the_pictures(backend, digits):
    from sagewiz.core.journey import packed_folder

    pictures_before = sorted(p for p in digits.rglob("*") if p.is_file())
    train_model(backend, JourneyOptions(digits, FAST), "run-packs", poll_seconds=0.2)
    train_model(backend, JourneyOptions(digits, FAST), "run-packs-again", poll_seconds=0.2)  # the same copy, reused
    [packed] = [r for r in backend.resources() if r.kind == "packed-pictures"]
    assert packed.name == str(digits.resolve()) and packed.backend == "local" and packed.cost_per_hour == 0.0
    assert packed.details["dir"] == str(packed_folder(digits)) and packed_folder(digits).is_dir()

    backend.delete(packed)
    assert not packed_folder(digits).exists()
    assert sorted(p for p in digits.rglob("*") if p.is_file()) == pictures_before  # only the copy went
    assert not [r for r in backend.resources() if r.kind == "packed-pictures"]

    train_model(backend, JourneyOptions(digits, FAST), "run-packs-once-more", poll_seconds=0.2)  # packed again when needed
    assert [r.state for r in backend.resources() if r.kind == "packed-pictures"] == ["active"]


def test_a_packed_copy_removed_by_hand_is_no_longer_offered(backend, digits):
    import shutil

    from sagewiz.core.dataset.scan import scan_dataset
    from sagewiz.core.journey import pack_ahead

    ahead = pack_ahead(scan_dataset(digits), "cpu", ledger=backend.ledger)
    assert [r.name for r in backend.resources() if r.kind == "packed-pictures"] == [str(digits.resolve())]
    shutil.rmtree(ahead.folder)
    assert not [r for r in backend.resources() if r.kind == "packed-pictures"]


def test_each_dataset_folder_has_its_own_packed_folder(tmp_path):
    from sagewiz.core.journey import packed_folder

    assert packed_folder(tmp_path / "cats") != packed_folder(tmp_path / "dogs")
    assert packed_folder(tmp_path / "cats") == packed_folder(str(tmp_path / "cats") + "/")


def test_damaged_files_are_said_and_listed_in_the_summary_not_dropped_silently(backend, tmp_path):
    write_sample_dataset(tmp_path / "photos", size=28, classes=[3, 8], seed=5)
    for i in range(5):
        (tmp_path / "photos" / "train" / "digit_3" / f"damaged-{i}.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut off here")
    events = []
    trained = train_model(backend, JourneyOptions(tmp_path / "photos", FAST), "run-with-damage", events.append)

    skipped = trained.summary["dataset"]["skipped"]  # what `sagewiz run --json` prints
    assert sorted(line.split(":")[0] for line in skipped) == [f"train/digit_3/damaged-{i}.jpg" for i in range(5)]
    said = [e.text for e in events if e.kind == "note" and "left out" in e.text]  # what `sagewiz run` prints
    assert said == [f"5 files left out (damaged, or not usable pictures): `sagewiz check {tmp_path / 'photos'}` lists each with its reason."]

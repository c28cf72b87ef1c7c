"""`sagewiz --plain`: the wizard's questions one by one, answered here by a script."""

from __future__ import annotations

import pytest

from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.tui.plain import run_plain
from sagewiz.tui.state import WizardState
from sagewiz.tui.words import local_time


class Script:
    """Answers questions in order; records each question and the validator's verdicts."""

    def __init__(self, *answers):
        self.answers, self.asked, self.verdicts = list(answers), [], []

    def _next(self, message):
        self.asked.append(message)
        return self.answers.pop(0)

    def text(self, message, default, validate):
        answer = self._next(message)
        if answer is not None:
            self.verdicts.append(validate(answer))
        return answer

    def confirm(self, message, default):
        return self._next(message)

    def path(self, message, default):
        return self._next(message)

    def select(self, message, choices, default):
        self.choices = choices
        answer = self._next(message)
        return next(choice for choice in choices if choice.startswith(answer)) if answer else answer


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def digits(tmp_path):
    write_sample_dataset(tmp_path / "digits", size=28, classes=[2, 5], seed=1)
    return tmp_path / "digits"


def test_the_plain_questions_lead_to_a_tested_model(digits, capsys):
    script = Script(False, str(digits), True, "2", "0.05", "16", "0", True, False)
    assert run_plain(script, WizardState()) == 0
    assert script.verdicts == [True, True, True, True]
    assert script.asked[-1].startswith("Keep the endpoint")  # asked after training, with the model there
    err = capsys.readouterr().err
    assert "Ready to train" in err and "Test accuracy" in err and "Validation-accuracy" in err
    said = " ".join(err.split())
    assert "Your pictures are small" in said and "These settings take about" in said  # why the settings, and how long
    assert "Trained: the model of" in err and "validation accuracy" in err
    # nothing made is forgotten: what is left, and how to delete it
    assert "sagewiz keeps" in err and "training job" in err and "`sagewiz cleanup` deletes them" in err
    saved = WizardState.load()
    assert saved.data_dir == str(digits) and saved.overrides == {"epochs": "2", "mini_batch_size": "16"}


def test_a_folder_that_cannot_be_used_is_asked_for_again(tmp_path, digits, capsys):
    (tmp_path / "empty").mkdir()
    script = Script(False, str(tmp_path / "missing"), str(tmp_path / "empty"), str(digits), False, "0", False)
    assert run_plain(script, WizardState()) == 0  # answered "not now" at the end: nothing started
    err = capsys.readouterr().err
    assert "Folder not found" in err and "What to do" in err and "no pictures (JPEG, PNG" in " ".join(err.split())
    assert "Nothing was started" in err


def test_a_setting_sagemaker_would_refuse_is_refused_while_typing(digits):
    script = Script(False, str(digits), True, "2", "7", "16", None)
    assert run_plain(script, WizardState()) == 130  # Ctrl-C at the tuning question
    assert script.verdicts[0] is True and "learning_rate" in script.verdicts[1]


def test_the_suggested_settings_count_the_training_pictures_that_get_packed(tmp_path, capsys):
    """Plain mode printed num_training_samples=258 for the 259 training pictures the packing keeps
    (a tenth of the whole taken away before the split, which rounds per class)."""
    from sagewiz.core.dataset.scan import scan_dataset
    from sagewiz.core.prepare import prepare_dataset

    write_sample_dataset(tmp_path / "digits", size=28, classes=[0, 4], seed=1)
    packed = prepare_dataset(scan_dataset(tmp_path / "digits"), tmp_path / "packed", resize=32).counts["train"]
    assert run_plain(Script(False, str(tmp_path / "digits"), False, None), WizardState()) == 130
    assert f"num_training_samples={packed}," in capsys.readouterr().err


def test_last_times_settings_are_asked_as_yours_and_an_empty_answer_takes_the_suggestion(digits, capsys):
    """Last run's epochs=3 was offered as the answer to 'epochs:' as if it were the suggestion."""
    script = Script(False, str(digits), True, "", "0.05", "16", "0", False)
    assert run_plain(script, WizardState(overrides={"epochs": "3"}, tune_jobs=2)) == 0  # not trained now
    assert script.asked[2] == "Change any of them? Yours from last time: epochs=3 (No trains with the suggested ones)."
    assert script.asked[3] == "epochs (yours from last time; suggested 20; leave empty for the suggestion):"
    assert script.asked[4] == "learning_rate:"
    assert script.asked[6] == "Tuning jobs to run after training (0: none; yours from last time; suggested 0):"
    assert script.verdicts == [True, True, True, True]
    assert WizardState.load().overrides == {"mini_batch_size": "16"}  # epochs back to the suggestion


def test_on_aws_the_plain_questions_check_the_region_and_make_the_storage_first(digits, fake_aws, aws_env, capsys, monkeypatch):
    from sagemaker_sim import SageMakerSimulator

    monkeypatch.setattr("sagewiz.core.aws.logs.POLL_SECONDS", 0.05)
    monkeypatch.setattr("sagewiz.core.aws.backend.ROLE_PROPAGATION_SECONDS", 0.0)
    fake_aws.quotas["us-east-2"] = {"ml.g4dn.xlarge for training job usage": 0.0}
    fake_aws.quotas["us-east-1"] = {"ml.g4dn.xlarge for training job usage": 1.0, "ml.m5.large for endpoint usage": 1.0,
                                    "ml.c5.xlarge for endpoint usage": 2.0}
    script = Script(True, "us-east-2", "us-east-1", True, str(digits), True, "2", "0.05", "16", "0", True, "ml.c5.xlarge", False)
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02) as sim:
        assert run_plain(script, WizardState()) == 0
        assert sim.backend.endpoints == {}  # tested, then deleted
    assert script.choices[0].startswith("ml.m5.large — $") and any(c.startswith("ml.c5.xlarge — $") for c in script.choices)
    assert WizardState.load().endpoint_instance == "ml.c5.xlarge"
    err = capsys.readouterr().err
    assert "us-east-2 can't train yet (no quota)" in err and "us-east-1 is ready" in err
    assert "of training on ml.g4dn.xlarge" in " ".join(err.split())  # the suggested settings' time, on the GPU they'd use
    assert "s3://sagewiz-123456789012-us-east-1" in err and "Test accuracy" in err
    assert WizardState.load().backend == "aws"


def test_on_aws_plain_mode_tests_the_model_on_this_computer_for_free_when_chosen(digits, fake_aws, aws_env, capsys, monkeypatch):
    import boto3

    from sagemaker_sim import SageMakerSimulator
    from sagewiz.core.ledger import Ledger

    monkeypatch.setattr("sagewiz.core.aws.logs.POLL_SECONDS", 0.05)
    monkeypatch.setattr("sagewiz.core.aws.backend.ROLE_PROPAGATION_SECONDS", 0.0)
    fake_aws.quotas["us-east-1"] = {"ml.g4dn.xlarge for training job usage": 1.0, "ml.m5.large for endpoint usage": 1.0}
    script = Script(True, "us-east-1", True, str(digits), True, "2", "0.05", "16", "0", True, "this computer", True)
    with SageMakerSimulator(aws_env, "us-east-1", tick=0.02, real_models=True) as sim:
        assert run_plain(script, WizardState()) == 0
        assert sim.backend.endpoints == {}
    assert boto3.client("sagemaker", region_name="us-east-1", endpoint_url=aws_env).list_endpoints()["Endpoints"] == []
    assert script.choices[0].startswith("ml.m5.large — $") and script.choices[-1] == "this computer (free)"
    assert WizardState.load().endpoint_instance == "local-cpu"
    err = " ".join(capsys.readouterr().err.split())  # as one line: rich wraps it at the terminal's width
    assert "this computer (free): Free: the model is downloaded (" in err
    assert "a SageMaker endpoint on ml.m5.large would cost $0.115/hour" in err
    assert "Test accuracy" in err
    # kept: it runs here, free, and the closing lines say so (not a price by the hour)
    assert "is still running on this computer at http://127.0.0.1:" in err and "(free)" in err
    with Ledger() as ledger:
        assert not [r for r in ledger.live_resources(backend="aws") if r.kind == "endpoint"]
        here = [r for r in ledger.live_resources(backend="local") if r.kind == "endpoint"]
        assert len(here) == 1
        from sagewiz.core.backends import delete_resources

        assert [error for _, error in delete_resources(ledger, here)] == [None]  # its server stops with the test


def test_a_long_question_is_broken_between_words_to_fit_the_terminal():
    from sagewiz.tui.plain import wrapped

    question = "Train on AWS SageMaker (your AWS account, billed per second) instead of this computer?"
    lines = wrapped(question, columns=80).split("\n")
    assert len(lines) == 2 and all(len(line) <= 68 for line in lines)  # '? ' before, ' (y/N) ' after
    assert " ".join(line.strip() for line in lines) == question  # every word whole, none lost
    assert wrapped("Change any of them?", columns=80) == "Change any of them?"


def test_file_names_are_used_as_labels_only_after_a_yes(tmp_path, capsys):
    from test_labels import kaggle_train

    folder = kaggle_train(tmp_path / "train", n=20)
    script = Script(False, str(folder), False, str(folder), True, False, "0", False)
    assert run_plain(script, WizardState()) == 0  # "not now" at the end: nothing started
    asked = [" ".join(question.split()) for question in script.asked]
    names = "There are no class folders: cat: 20 pictures, dog: 20, read from names like cat.0.jpg. Use the file names as labels?"
    assert asked[2] == asked[4] == names  # asked again for the folder chosen again
    assert asked[3].startswith("Folder with your pictures")  # the no: the folder is asked for again
    err = " ".join(capsys.readouterr().err.split())
    assert "labels from file names" in err and "one folder per class (or list them in a labels.csv" in err
    assert WizardState.load().data_dir == str(folder)


def test_a_model_trained_before_can_learn_more_from_new_pictures(digits, tmp_path, capsys):
    """The wizard offers "Continue an earlier model"; plain mode, which asks the same questions,
    had no way to."""
    from sagewiz.core.earlier import completed_jobs
    from sagewiz.core.ledger import Ledger
    from sagewiz.core.local.backend import LocalBackend

    first = Script(False, str(digits), True, "1", "0.05", "16", "0", True, False)
    assert run_plain(first, WizardState()) == 0
    with Ledger() as ledger:
        (earlier,) = completed_jobs(ledger)
    write_sample_dataset(tmp_path / "more", size=28, classes=[2, 5], seed=2)  # new pictures of the same digits

    again = Script(False, earlier.name, str(tmp_path / "more"), True, "1", "0.05", "16", "0", True, False)
    assert run_plain(again, WizardState()) == 0
    assert again.asked[1].startswith("Train a new model, or let an earlier one learn more")
    assert again.choices[0].startswith("A new model") and again.choices[1].startswith(f"{earlier.name} (trained on this computer")
    said = " ".join(capsys.readouterr().err.split())
    assert f"stays that of {earlier.name}'s model" in said
    assert "Test accuracy" in said
    with Ledger() as ledger:
        newer, _ = completed_jobs(ledger)
        log = LocalBackend(ledger=ledger).job_dir(newer.name) / "training.log"
    assert f"Continuing from the model in the model channel ({earlier.name}, 1 epochs)" in log.read_text()


def test_an_earlier_model_of_other_classes_is_refused_before_its_settings_are_asked_or_anything_trained(digits, tmp_path, capsys):
    first = Script(False, str(digits), True, "1", "0.05", "16", "0", True, False)
    assert run_plain(first, WizardState()) == 0
    capsys.readouterr()
    write_sample_dataset(tmp_path / "three", size=28, classes=[1, 2, 5], seed=2)
    again = Script(False, "sagewiz-", str(tmp_path / "three"))
    assert run_plain(again, WizardState()) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "tells 2 classes apart, but these pictures have 3" in err and "Traceback" not in err


def test_an_interrupted_run_is_offered_and_continued_without_asking_its_questions_again(digits, capsys):
    """The wizard's welcome offers "Resume the interrupted run"; plain mode started afresh."""
    from sagewiz.core.ledger import Ledger

    with Ledger() as ledger:  # a run killed after its pictures were checked
        run = ledger.start_run("local", {"data_dir": str(digits), "hp": {"epochs": "1", "mini_batch_size": "16"}, "tune": 0,
                                         "region": ""})
        ledger.save_progress(run.id, "check", run.answers)
    script = Script(True)
    assert run_plain(script, WizardState()) == 0
    assert script.asked == [f"An interrupted run ({run.id[:8]}, started {local_time(run.started_at)}, reached: check) can be "
                            "continued without redoing what it finished. Continue it?"]
    err = capsys.readouterr().err
    assert f"Resuming run {run.id[:8]}" in err and "Test accuracy" in err
    with Ledger() as ledger:
        assert not ledger.unfinished_runs()

    with Ledger() as ledger:  # one not to continue: the usual questions follow
        ledger.start_run("local", {"data_dir": str(digits), "hp": {}, "tune": 0, "region": ""})
    assert run_plain(Script(False, None), WizardState()) == 130

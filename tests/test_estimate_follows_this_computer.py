"""The time said before a training is this computer's: measured once in a few seconds, then
learned from the jobs it finishes; another computer (a VM moved, a home copied) measures again."""

import json
import sys

import pytest

from sagewiz.core import estimates
from sagewiz.core.hyperparams import Hyperparameters
from sagewiz.core.local import pace


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(pace.ASSUMED_VARIABLE, raising=False)  # the tests elsewhere assume the reference pace
    monkeypatch.setattr(pace, "_failed", set())
    monkeypatch.setattr(pace, "_busy", {})
    return tmp_path / "home"


def digits(**changes):
    settings = {"num_classes": "10", "num_training_samples": "1295", "num_layers": "20", "image_shape": "3,28,28",
                "epochs": "20", "mini_batch_size": "32", **changes}
    return Hyperparameters.from_sagemaker(settings)


def finished_job(home, name, *, pictures, seconds, depth=20, family="small", computer=None, at=0.0, mixed_gain=1.0):
    folder = home / "jobs" / name
    folder.mkdir(parents=True)
    status = {"status": "Completed", "pace": {"computer": computer or pace.computer(), "family": family, "depth": depth,
                                              "mixed_gain": mixed_gain, "pictures": pictures, "seconds": seconds, "at": at}}
    (folder / "status.json").write_text(json.dumps(status))


def test_a_new_computer_is_measured_once_and_the_estimate_follows_what_it_measured(home):
    hp = digits()
    first_guess = estimates.estimate_minutes(hp)  # the reference computer's pace, 850 pictures/s
    assert estimates.pace_unknown(hp)
    estimates.measure_pace(hp)  # a few seconds of ResNet-20 steps in a process of its own

    assert not estimates.pace_unknown(hp)
    measured = pace.known("small")  # remembered in pace.json, or (the computer busy) for this process only
    assert measured > 0 and estimates.estimate_minutes(hp) == pytest.approx(first_guess * 850 / measured)
    assert estimates.estimate_minutes(digits(num_layers="32")) == pytest.approx(estimates.estimate_minutes(hp) * 32 / 20)
    assert estimates.pace_unknown(digits(image_shape="3,224,224"))  # larger pictures are their own measure


def probe_says(monkeypatch, output):
    """The probe's process, answering ``output`` (pictures/s, the share of the time its threads ran, and the bfloat16 gain: 0, none measured)."""
    import subprocess

    monkeypatch.setattr(pace.subprocess, "run", lambda command, **_: subprocess.CompletedProcess(command, 0, output, ""))


def test_a_pace_measured_while_other_programs_take_the_cores_is_said_but_not_remembered(home, monkeypatch):
    hp = digits()
    probe_says(monkeypatch, "85.00 0.45 0\n")  # its threads ran 45% of the time: the computer is busy now
    estimates.measure_pace(hp)
    assert estimates.estimate_minutes(hp) == pytest.approx(20 * 1295 / 85 / 60) and not estimates.pace_unknown(hp)
    assert not (home / pace.CACHE).exists()  # the next sagewiz measures again

    monkeypatch.setattr(pace, "_busy", {})
    probe_says(monkeypatch, "300.00 0.97 0\n")  # a quiet computer: remembered
    estimates.measure_pace(hp)
    assert json.loads((home / pace.CACHE).read_text()) == {"computers": {pace.computer(): {"paces": {"small": 300.0}, "gains": {}}}}


def test_a_pace_measured_on_another_computer_is_measured_again(home):
    home.mkdir()
    (home / pace.CACHE).write_text(json.dumps({"computers": {"a faster VM, 2 cores": {"paces": {"small": 900.0}}}}))
    assert estimates.pace_unknown(digits())


def test_the_jobs_this_computer_finished_are_the_pace_the_next_one_is_estimated_at(home):
    home.mkdir()
    (home / pace.CACHE).write_text(json.dumps({"computers": {pace.computer(): {"paces": {"small": 1000.0}}}}))
    finished_job(home, "busy", pictures=12_950, seconds=1295.0, at=1)  # 10/s while the computer did other work
    for i, seconds in enumerate((45.0, 50.0, 40.0, 60.0, 50.0)):  # then five at 288, 259, 324, 216 and 259 pictures/s
        finished_job(home, f"quiet-{i}", pictures=12_950, seconds=seconds, at=2 + i)
    finished_job(home, "elsewhere", pictures=12_950, seconds=1.0, computer="another computer", at=9)
    finished_job(home, "deeper", pictures=1000, seconds=10.0, depth=56, at=0)  # the oldest: not among the last five
    (home / "jobs" / "being-written").mkdir()
    (home / "jobs" / "being-written" / "status.json").write_text('{"status": "InPr')

    assert pace.learned("small", home) == pytest.approx(12_950 / 50)  # the median of the last five, not the busy one
    hp = digits()
    assert estimates.estimate_minutes(hp) == pytest.approx(20 * 1295 / (12_950 / 50) / 60)
    assert pace.learned("large", home) is None


def test_a_deeper_or_mixed_precision_job_counts_at_the_reference_depth_in_float32(home):
    finished_job(home, "resnet-56", pictures=5600, seconds=20.0, depth=56)  # 280/s at depth 56 is 784/s at 20
    assert pace.learned("small", home) == pytest.approx(784.0)
    finished_job(home, "bf16", pictures=7840, seconds=4.0, mixed_gain=2.5, at=1)  # 1960/s in bfloat16: 784 in float32
    assert pace.learned("small", home) == pytest.approx(784.0)


def test_a_computer_that_cant_be_measured_keeps_the_first_guess_and_is_not_measured_again(home, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    hp = digits()
    first_guess = estimates.estimate_minutes(hp)
    estimates.measure_pace(hp)
    assert estimates.estimate_minutes(hp) == first_guess and not estimates.pace_unknown(hp)
    assert not (home / pace.CACHE).exists()


def test_an_assumed_pace_is_taken_as_said_without_measuring(home, monkeypatch):
    monkeypatch.setenv(pace.ASSUMED_VARIABLE, "small=425,large=10")
    finished_job(home, "measured", pictures=100_000, seconds=1.0)
    hp = digits()
    assert not estimates.pace_unknown(hp)
    assert estimates.estimate_minutes(hp) == pytest.approx(20 * 1295 / 425 / 60)


def test_the_welcome_says_how_long_the_sample_trains_here_once_this_computer_is_measured(home, tmp_path):
    from sagewiz.core.dataset.sample import write_sample_dataset
    from sagewiz.core.dataset.scan import scan_dataset
    from sagewiz.core.suggestions import suggest_for

    write_sample_dataset(tmp_path / "digits")
    suggested = suggest_for(scan_dataset(tmp_path / "digits"), "cpu", backend="local").to_sagemaker()
    assert {name: suggested[name] for name in estimates.SAMPLE_SETTINGS} == estimates.SAMPLE_SETTINGS

    assert estimates.sample_training_time() is None  # not another computer's time
    finished_job(home, "digits", pictures=25_900, seconds=100.0)  # 259 pictures/s: 100 s and the engine's start
    assert estimates.sample_training_time() == "about 2 minutes"


def test_the_estimate_never_loads_torch_into_the_wizard(home):
    """The wizard asks for the estimate on every key of the Settings step: torch takes seconds to load."""
    import subprocess

    script = ("import sys\n"
              "from sagewiz.core import estimates\n"
              "from sagewiz.core.hyperparams import Hyperparameters\n"
              "hp = Hyperparameters.from_sagemaker(estimates.SAMPLE_SETTINGS)\n"
              "estimates.pace_unknown(hp), estimates.estimate_minutes(hp), estimates.sample_training_time()\n"
              "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_run_on_fewer_cores_measures_its_own_pace_and_keeps_the_whole_computers(home, monkeypatch):
    probe_says(monkeypatch, "300.00 0.97 0\n")
    estimates.measure_pace(digits())  # the whole computer
    whole = pace.computer()
    monkeypatch.setattr(pace, "computer", lambda: whole.replace("2 cores", "1 cores") + " (taskset)")
    assert estimates.pace_unknown(digits())  # one core of it: another measure
    probe_says(monkeypatch, "160.00 0.97 0\n")
    estimates.measure_pace(digits())
    assert pace.known("small") == 160.0
    monkeypatch.setattr(pace, "computer", lambda: whole)
    assert pace.known("small") == 300.0  # not overwritten by the other's

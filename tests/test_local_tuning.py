"""Tuning searches the ranges, runs at most max_parallel_jobs at once, prunes hopeless trials and
names the best one — shown here with trials whose accuracy curve is a known function of their
settings, so the test runs in a blink and the right answer is known."""

import math

import pytest

from sagewiz.core.backend import JobStatus
from sagewiz.core.errors import InputError
from sagewiz.core.hyperparams import HyperparameterError
from sagewiz.core.local.tuning import TrialProgress, TuningPlan, run_tuning, suggest
from sagewiz.core.tuning_ranges import SEED_TUNING_RANGES, ParameterRange

EPOCHS = 6


class FakeTrials:
    """Each poll is one more epoch. Accuracy peaks at learning_rate 0.01 and grows per epoch."""

    def __init__(self, fail=()):
        self.epochs, self.hyperparameters, self.stopped, self.fail = {}, {}, set(), set(fail)
        self.most_at_once = 0

    def accuracy(self, name, epoch):
        distance = abs(math.log10(float(self.hyperparameters[name]["learning_rate"])) + 2)  # 0 at 0.01
        return max(0.0, 0.95 - 0.15 * distance) * (1 - 0.5 ** (epoch + 1))

    def start(self, name, hyperparameters):
        self.epochs[name], self.hyperparameters[name] = 0, dict(hyperparameters)
        self.most_at_once = max(self.most_at_once, sum(1 for n in self.epochs if not self._done(n)))

    def _done(self, name):
        return name in self.stopped or self.epochs[name] >= EPOCHS or name in self.fail and self.epochs[name] >= 2

    def poll(self, name):
        if not self._done(name):
            self.epochs[name] += 1
        curve = {e: self.accuracy(name, e) for e in range(self.epochs[name])}
        if name in self.fail and self.epochs[name] >= 2:
            return TrialProgress(JobStatus.FAILED, curve, "ran out of memory")
        if name in self.stopped:
            return TrialProgress(JobStatus.STOPPED, curve)
        return TrialProgress(JobStatus.COMPLETED if self.epochs[name] >= EPOCHS else JobStatus.IN_PROGRESS, curve)

    def stop(self, name):
        self.stopped.add(name)


def plan(**changes):
    settings = dict(name="tune-digits", base_hyperparameters={"num_classes": "10", "epochs": str(EPOCHS)},
                    ranges=SEED_TUNING_RANGES, max_jobs=12, max_parallel_jobs=2, seed=3)
    return TuningPlan(**{**settings, **changes})


def test_the_best_trial_is_the_one_with_the_highest_validation_accuracy():
    trials, updates = FakeTrials(), []
    job = run_tuning(plan(), trials, on_update=updates.append, sleep=lambda s: None)

    assert job.status == JobStatus.COMPLETED
    assert [t.job_name for t in job.trials] == [f"tune-digits-{n:03d}" for n in range(1, 13)]
    finished = [t for t in job.trials if t.status == JobStatus.COMPLETED and not t.pruned]
    assert job.best == max(finished, key=lambda t: t.objective)
    assert job.best.objective == pytest.approx(trials.accuracy(job.best.job_name, EPOCHS - 1))
    assert trials.most_at_once == 2
    assert len(updates) > 12 and updates[-1] == job  # every start and report was shown as it happened


def test_suggested_values_stay_inside_their_ranges_and_keep_the_fixed_settings():
    trials = FakeTrials()
    run_tuning(plan(), trials, sleep=lambda s: None)
    for hyperparameters in trials.hyperparameters.values():
        assert hyperparameters["num_classes"] == "10" and hyperparameters["epochs"] == str(EPOCHS)
        for parameter_range in SEED_TUNING_RANGES:
            value = hyperparameters[parameter_range.name]
            if parameter_range.kind == "integer":
                assert value.isdigit()
            assert parameter_range.min_value <= float(value) <= parameter_range.max_value
    learning_rates = sorted(float(h["learning_rate"]) for h in trials.hyperparameters.values())
    assert learning_rates[0] < 1e-3  # log scale: small rates get tried, not just 0.1-0.5


def test_hopeless_trials_are_stopped_early_only_when_early_stopping_is_on():
    pruned = run_tuning(plan(), FakeTrials(), sleep=lambda s: None)
    assert any(t.pruned and t.status == JobStatus.STOPPED for t in pruned.trials)
    assert not pruned.best.pruned

    unpruned = run_tuning(plan(early_stopping=False), FakeTrials(), sleep=lambda s: None)
    assert not any(t.pruned for t in unpruned.trials)
    assert all(t.status == JobStatus.COMPLETED for t in unpruned.trials)


def test_a_failed_trial_never_wins_and_the_search_goes_on():
    job = run_tuning(plan(max_jobs=4), FakeTrials(fail={"tune-digits-001"}), sleep=lambda s: None)
    assert job.trials[0].status == JobStatus.FAILED
    assert len(job.trials) == 4 and job.best is not None and job.best.job_name != "tune-digits-001"


def test_stopping_the_tuning_job_stops_its_running_trials():
    trials, polls = FakeTrials(), []
    job = run_tuning(plan(), trials, sleep=lambda s: polls.append(s), stop_requested=lambda: len(polls) >= 3)
    assert job.status == JobStatus.STOPPED
    assert len(job.trials) == 2 and trials.stopped == {"tune-digits-001", "tune-digits-002"}


@pytest.mark.parametrize("changes, error, says", [
    ({"max_parallel_jobs": 13}, InputError, "max_parallel_jobs"),
    ({"ranges": ()}, InputError, "nothing to tune"),
    ({"objective": "train:accuracy"}, InputError, "validation:accuracy"),
    ({"ranges": (ParameterRange("learning_rate", "continuous", 0.0, 0.5, scaling="Logarithmic"),)}, HyperparameterError, "greater than 0"),
])
def test_a_plan_sagemaker_would_refuse_is_refused_with_the_reason(changes, error, says):
    with pytest.raises(error, match=says):
        run_tuning(plan(**changes), FakeTrials(), sleep=lambda s: None)


def test_reverse_logarithmic_ranges_crowd_towards_one():
    import optuna

    momentum = ParameterRange("momentum", "continuous", 0.0, 0.999, scaling="ReverseLogarithmic")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    values = [float(suggest(study.ask(), momentum)) for _ in range(200)]
    assert all(0.0 <= v <= 0.999 for v in values)
    assert sum(v > 0.9 for v in values) > 100  # a linear search would put ~10% there


def test_a_tuner_that_wrote_its_end_just_before_it_was_looked_at_keeps_it(tmp_path):
    import json

    from sagewiz.core.local import tune

    trial = {"job_name": "t-001", "status": "Completed", "hyperparameters": {}, "objective": 0.9}
    (tmp_path / tune.STATE).write_text(json.dumps({"name": "t", "status": "Completed", "trials": [trial]}))
    tune.mark_ended(tmp_path, JobStatus.FAILED)
    assert json.loads((tmp_path / tune.STATE).read_text())["status"] == "Completed"

    running = {**trial, "status": "InProgress"}
    (tmp_path / tune.STATE).write_text(json.dumps({"name": "t", "status": "InProgress", "trials": [running]}))
    tune.mark_ended(tmp_path, JobStatus.FAILED)  # truly killed: failed, its running trial stopped
    state = json.loads((tmp_path / tune.STATE).read_text())
    assert state["status"] == "Failed" and state["trials"][0]["status"] == "Stopped"

"""Hyperparameter tuning on this machine, with Optuna, the way SageMaker's tuner behaves.

A tuning job runs up to ``max_jobs`` training jobs ("trials"), at most ``max_parallel_jobs`` at
a time, each with hyperparameters Optuna suggests inside the given ranges, and keeps the one with
the best objective (``validation:accuracy``, maximised, as the algorithm's tuning page says).
Trials report their objective every epoch; a trial whose curve can't catch up with the others is
stopped early ("pruned"), like SageMaker's ``TrainingJobEarlyStoppingType=Auto``.

The driver knows nothing about how a trial trains: a :class:`TrialRunner` starts, polls and stops
them (the local backend runs engine subprocesses; tests use a fake). Optuna is imported only here.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Protocol, Sequence

from sagewiz.core.backend import JobStatus, Trial, TuningJob
from sagewiz.core.errors import InputError
from sagewiz.core.tuning_ranges import OBJECTIVE_METRIC, ParameterRange

# Auto scaling: log when the range spans this many orders of magnitude and stays above 0 —
# what SageMaker's Auto picks for ranges like learning_rate 1e-6..0.5.
AUTO_LOG_DECADES = 2.0


@dataclass(frozen=True)
class TrialProgress:
    """What a runner knows about one trial right now."""

    status: JobStatus
    objective_by_epoch: Mapping[int, float] = field(default_factory=dict)  # epoch -> validation:accuracy
    failure_reason: str | None = None


class TrialRunner(Protocol):
    """Runs the training job of one trial. Names are unique within a tuning job."""

    def start(self, name: str, hyperparameters: Mapping[str, str]) -> None: ...

    def poll(self, name: str) -> TrialProgress: ...

    def stop(self, name: str) -> None: ...


@dataclass(frozen=True)
class TuningPlan:
    """A local tuning job: fixed hyperparameters, ranges to search, limits and objective."""

    name: str
    base_hyperparameters: Mapping[str, str]
    ranges: tuple[ParameterRange, ...]
    max_jobs: int
    max_parallel_jobs: int = 1
    objective: str = OBJECTIVE_METRIC
    early_stopping: bool = True
    seed: int = 0

    def validate(self) -> TuningPlan:
        """Return self, or raise InputError / HyperparameterError naming what is wrong."""
        if self.objective != OBJECTIVE_METRIC:
            raise InputError(f"The objective must be {OBJECTIVE_METRIC}, the metric the algorithm reports; got {self.objective!r}.")
        if not 1 <= self.max_parallel_jobs <= self.max_jobs:
            raise InputError(f"max_parallel_jobs must be between 1 and max_jobs ({self.max_jobs}); got {self.max_parallel_jobs}.",
                             hint="On one computer, 1 parallel job is usually fastest: each trial already uses every core.")
        if self.max_jobs < 1:
            raise InputError(f"max_jobs must be at least 1; got {self.max_jobs}.")
        if not self.ranges:
            raise InputError("There is nothing to tune: give at least one hyperparameter range.")
        for parameter_range in self.ranges:
            parameter_range.validate()
        return self

    def trial_name(self, number: int) -> str:
        # SageMaker names a tuning job's trials <tuning-job>-<NNN>-<hash>; the number is what people read
        return f"{self.name}-{number + 1:03d}"


def _log_scaled(parameter_range: ParameterRange) -> bool:
    if parameter_range.scaling == "Logarithmic":
        return True
    if parameter_range.scaling == "Auto":
        low, high = parameter_range.min_value or 0.0, parameter_range.max_value or 0.0
        return low > 0 and math.log10(high / low) >= AUTO_LOG_DECADES
    return False


def suggest(trial, parameter_range: ParameterRange) -> str:
    """Ask Optuna's ``trial`` for a value of one range, as the string SageMaker would pass."""
    name, low, high = parameter_range.name, parameter_range.min_value, parameter_range.max_value
    if parameter_range.kind == "categorical":
        return str(trial.suggest_categorical(name, list(parameter_range.values)))
    if parameter_range.kind == "integer":
        return str(trial.suggest_int(name, int(low), int(high), log=_log_scaled(parameter_range)))
    if parameter_range.scaling == "ReverseLogarithmic":
        # dense near 1 (momentum 0.9, 0.99, 0.999…): search 1 - x on a log scale
        gap = trial.suggest_float(f"{name} (1 - value)", 1.0 - high, 1.0 - low, log=True)
        return repr(min(max(1.0 - gap, low), high))
    return repr(trial.suggest_float(name, low, high, log=_log_scaled(parameter_range)))


@dataclass
class _Running:
    number: int
    optuna_trial: object
    hyperparameters: dict[str, str]
    reported: set[int] = field(default_factory=set)
    pruned: bool = False


def run_tuning(
    plan: TuningPlan,
    runner: TrialRunner,
    *,
    on_update: Callable[[TuningJob], None] | None = None,
    stop_requested: Callable[[], bool] = lambda: False,
    poll_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> TuningJob:
    """Run the whole tuning job and return it finished, its best trial named.

    ``on_update`` gets the tuning job each time a trial starts, reports or ends;
    ``stop_requested`` is checked between polls: when it says so, running trials are stopped and
    the job ends Stopped (the best trial so far still named). Raises what ``plan.validate`` raises.
    """
    import optuna

    plan.validate()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1) if plan.early_stopping else optuna.pruners.NopPruner()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=plan.seed), pruner=pruner)
    trials: dict[int, Trial] = {}
    running: dict[int, _Running] = {}
    started = 0
    stopping = False

    def publish(status: JobStatus) -> TuningJob:
        job = TuningJob(plan.name, status, tuple(trials[n] for n in sorted(trials)), best=_best(trials.values()))
        if on_update:
            on_update(job)
        return job

    publish(JobStatus.IN_PROGRESS)
    while True:
        while not stopping and started < plan.max_jobs and len(running) < plan.max_parallel_jobs:
            optuna_trial = study.ask()
            values = {r.name: suggest(optuna_trial, r) for r in plan.ranges}
            hyperparameters = {**plan.base_hyperparameters, **values}
            name = plan.trial_name(started)
            runner.start(name, hyperparameters)
            running[started] = _Running(started, optuna_trial, hyperparameters)
            trials[started] = Trial(name, JobStatus.IN_PROGRESS, hyperparameters)
            started += 1
            publish(JobStatus.IN_PROGRESS)
        if not running:
            break
        sleep(poll_seconds)
        if stop_requested() and not stopping:
            stopping = True
            for item in running.values():
                runner.stop(plan.trial_name(item.number))
        changed = False
        for number, item in list(running.items()):
            name = plan.trial_name(number)
            progress = runner.poll(name)
            for epoch in sorted(set(progress.objective_by_epoch) - item.reported):
                item.optuna_trial.report(progress.objective_by_epoch[epoch], epoch)
                item.reported.add(epoch)
                changed = True
                if not item.pruned and not stopping and item.optuna_trial.should_prune():
                    item.pruned = True
                    runner.stop(name)
            objective = _latest(progress.objective_by_epoch)
            trials[number] = replace(trials[number], status=progress.status, objective=objective, pruned=item.pruned)
            if progress.status.finished:
                del running[number]
                changed = True
                _tell(study, item, progress, objective)
        if changed:
            publish(JobStatus.IN_PROGRESS)
    return publish(JobStatus.STOPPED if stopping else JobStatus.COMPLETED)


def _latest(by_epoch: Mapping[int, float]) -> float | None:
    return by_epoch[max(by_epoch)] if by_epoch else None


def _tell(study, item: _Running, progress: TrialProgress, objective: float | None) -> None:
    import optuna

    if item.pruned:
        study.tell(item.optuna_trial, state=optuna.trial.TrialState.PRUNED)
    elif progress.status == JobStatus.COMPLETED and objective is not None:
        study.tell(item.optuna_trial, objective)
    else:  # failed, or stopped by the user before it reported anything useful
        study.tell(item.optuna_trial, state=optuna.trial.TrialState.FAIL)


def _best(trials: Sequence[Trial] | object) -> Trial | None:
    # SageMaker names the best *completed* training job; a pruned or failed trial can't win
    finished = [t for t in trials if t.status == JobStatus.COMPLETED and not t.pruned and t.objective is not None]
    return max(finished, key=lambda t: t.objective, default=None)

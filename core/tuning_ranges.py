"""Hyperparameter tuning ranges for the Image Classification algorithm.

The tunable hyperparameters, their range types and recommended ranges, and the objective
metric come from "Tune an Image Classification Model",
https://docs.aws.amazon.com/sagemaker/latest/dg/IC-tuning.html. The shape of
CreateHyperParameterTuningJob's ``ParameterRanges`` and the scaling rules (Logarithmic only for
values above 0; ReverseLogarithmic only for continuous ranges within 0 <= x < 1; at most 20
hyperparameters, each categorical value counting as one) come from "Define Hyperparameter
Ranges", https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-define-ranges.html.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sagewiz.core.hyperparams import HyperparameterError

TUNING_DOC_URL = "https://docs.aws.amazon.com/sagemaker/latest/dg/IC-tuning.html"
OBJECTIVE_METRIC = "validation:accuracy"
OBJECTIVE_TYPE = "Maximize"
KINDS = ("continuous", "integer", "categorical")
SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
MAX_TUNED = 20  # hyperparameters per tuning job; each categorical value counts as one
_SAGEMAKER_KEY = {"continuous": "ContinuousParameterRanges", "integer": "IntegerParameterRanges",
                  "categorical": "CategoricalParameterRanges"}


@dataclass(frozen=True)
class ParameterRange:
    """One hyperparameter to search over: a continuous or integer range between ``min_value``
    and ``max_value`` searched with ``scaling``, or a categorical list of ``values``."""

    name: str
    kind: str  # continuous | integer | categorical
    min_value: float | None = None
    max_value: float | None = None
    values: tuple[str, ...] = ()
    scaling: str = "Auto"  # Auto | Linear | Logarithmic | ReverseLogarithmic

    def problems(self) -> list[str]:
        """Why SageMaker (or the tuning page's recommended ranges) would refuse this range."""
        known = TUNABLE_RANGES.get(self.name)
        if known is None:
            return [f"{self.name} can't be tuned; the tunable hyperparameters are {', '.join(TUNABLE_RANGES)}."]
        if self.kind != known.kind:
            return [f"{self.name} is tuned as a {known.kind} range, not {self.kind}."]
        if self.kind == "categorical":
            wrong = [v for v in self.values if v not in known.values]
            if not self.values or wrong:
                return [f"{self.name} values must be some of {', '.join(known.values)}; got {', '.join(wrong) or 'none'}."]
            return []
        if self.min_value is None or self.max_value is None:
            return [f"{self.name} needs both a minimum and a maximum."]
        found = []
        if self.min_value > self.max_value:
            found.append(f"{self.name}: the minimum {self.min_value:g} is more than the maximum {self.max_value:g}.")
        if self.kind == "integer" and not (float(self.min_value).is_integer() and float(self.max_value).is_integer()):
            found.append(f"{self.name} is an integer range; got {self.min_value:g} to {self.max_value:g}.")
        if self.min_value < known.min_value or self.max_value > known.max_value:
            found.append(f"{self.name} must stay within the recommended {known.min_value:g} to {known.max_value:g}; "
                         f"got {self.min_value:g} to {self.max_value:g}.")
        if self.scaling not in SCALINGS:
            found.append(f"{self.name} scaling must be one of {', '.join(SCALINGS)}; got {self.scaling!r}.")
        elif self.scaling == "Logarithmic" and self.min_value <= 0:
            found.append(f"{self.name}: Logarithmic scaling needs values greater than 0; the minimum is {self.min_value:g}.")
        elif self.scaling == "ReverseLogarithmic" and self.kind != "continuous":
            found.append(f"{self.name}: ReverseLogarithmic scaling is for continuous ranges only.")
        elif self.scaling == "ReverseLogarithmic" and not (0 <= self.min_value and self.max_value < 1):
            found.append(f"{self.name}: ReverseLogarithmic scaling needs values from 0 up to (not including) 1.")
        return found

    def validate(self) -> ParameterRange:
        """Return self, or raise :class:`~sagewiz.core.hyperparams.HyperparameterError` listing
        every reason SageMaker or the tuning page's recommendations rule this range out."""
        found = self.problems()
        if found:
            raise HyperparameterError([(self.name, m) for m in found],
                                      hint=f"The recommended ranges are listed at {TUNING_DOC_URL}.")
        return self

    def to_sagemaker(self) -> dict[str, Any]:
        """This range as one entry of ParameterRanges' list for its kind (values as strings)."""
        if self.kind == "categorical":
            return {"Name": self.name, "Values": [str(v) for v in self.values]}
        low, high = (self.min_value, self.max_value) if self.kind == "continuous" else (int(self.min_value), int(self.max_value))
        return {"Name": self.name, "MinValue": _text(low), "MaxValue": _text(high), "ScalingType": self.scaling}

    @property
    def sagemaker_key(self) -> str:
        """Which list of ParameterRanges this range goes in."""
        return _SAGEMAKER_KEY[self.kind]


def _text(value: float | int) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def parameter_ranges_to_sagemaker(ranges: Iterable[ParameterRange]) -> dict[str, list[dict[str, Any]]]:
    """The ``ParameterRanges`` of CreateHyperParameterTuningJob's HyperParameterTuningJobConfig.
    Validates every range; raises HyperparameterError for a bad range, a name given twice, or
    more than 20 hyperparameters (each categorical value counting as one)."""
    ranges = list(ranges)
    problems = [(r.name, m) for r in ranges for m in r.problems()]
    names = [r.name for r in ranges]
    problems += [(n, f"{n} is given twice; give each hyperparameter one range.") for n in sorted(set(names)) if names.count(n) > 1]
    count = sum(len(r.values) if r.kind == "categorical" else 1 for r in ranges)
    if count > MAX_TUNED:
        problems.append(("", f"A tuning job can search at most {MAX_TUNED} hyperparameters (each categorical value "
                             f"counts as one); these ranges count {count}."))
    if problems:
        raise HyperparameterError(problems, hint=f"The recommended ranges are listed at {TUNING_DOC_URL}.")
    out: dict[str, list[dict[str, Any]]] = {}
    for r in ranges:
        out.setdefault(r.sagemaker_key, []).append(r.to_sagemaker())
    return out


def objective_to_sagemaker() -> dict[str, str]:
    """The ``HyperParameterTuningJobObjective`` the algorithm supports."""
    return {"Type": OBJECTIVE_TYPE, "MetricName": OBJECTIVE_METRIC}


# The tuning page's table: parameter type and recommended range of each tunable hyperparameter.
TUNABLE_RANGES: dict[str, ParameterRange] = {r.name: r for r in (
    ParameterRange("beta_1", "continuous", 1e-6, 0.999),
    ParameterRange("beta_2", "continuous", 1e-6, 0.999),
    ParameterRange("eps", "continuous", 1e-8, 1.0),
    ParameterRange("gamma", "continuous", 1e-8, 0.999),
    ParameterRange("learning_rate", "continuous", 1e-6, 0.5),
    ParameterRange("mini_batch_size", "integer", 8, 512),
    ParameterRange("momentum", "continuous", 0.0, 0.999),
    ParameterRange("optimizer", "categorical", values=("sgd", "adam", "rmsprop", "nag")),
    ParameterRange("weight_decay", "continuous", 0.0, 0.999),
)}

# The seed tutorial's search: its learning_rate (1e-6..0.5, searched on a log scale because it
# spans six orders of magnitude) and mini_batch_size (8..64) ranges, and the tuning page's
# recommended range for every other hyperparameter it tunes, left to SageMaker's Auto scaling.
SEED_TUNING_RANGES: tuple[ParameterRange, ...] = (
    TUNABLE_RANGES["beta_1"],
    TUNABLE_RANGES["beta_2"],
    TUNABLE_RANGES["eps"],
    TUNABLE_RANGES["gamma"],
    ParameterRange("learning_rate", "continuous", 1e-6, 0.5, scaling="Logarithmic"),
    ParameterRange("mini_batch_size", "integer", 8, 64),
    TUNABLE_RANGES["momentum"],
    TUNABLE_RANGES["weight_decay"],
)

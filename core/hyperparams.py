"""The Image Classification algorithm's hyperparameters as one typed, validated model.

Names, valid values, defaults and which values are required follow
"Image Classification Hyperparameters", https://docs.aws.amazon.com/sagemaker/latest/dg/IC-Hyperparameter.html
(tuning ranges: "Tune an Image Classification Model",
https://docs.aws.amazon.com/sagemaker/latest/dg/IC-tuning.html, in :mod:`sagewiz.core.tuning_ranges`).

A value is refused here only where that page says it is invalid (a range, a list of values,
``checkpoint_frequency`` no greater than ``epochs``, ``resize`` no smaller than the crop). What
SageMaker alone refuses — pretrained models only at 224 × 224 and the 224-pixel depths — is
:func:`sagemaker_pretrained_problems`: this computer can start any network from installed weights. Settings that are allowed but probably
a mistake are sagewiz's own judgement and come from :func:`warnings`, never as errors.

Every way of building a :class:`Hyperparameters` raises :class:`HyperparameterError` (a
:class:`~sagewiz.core.errors.WizardError`) naming each bad field; pydantic's errors never get out.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sagewiz.core.errors import InputError

DOC_URL = "https://docs.aws.amazon.com/sagemaker/latest/dg/IC-Hyperparameter.html"
LARGE_IMAGE_LAYERS = (18, 34, 50, 101, 152, 200)
SMALL_IMAGE_LAYERS = (20, 32, 44, 56, 110)
# MXNet's ResNet builder (which the algorithm and core/local/resnet.py follow) makes the
# small-image network only for images at most this tall; the doc's example is 28x28.
SMALL_NETWORK_MAX_SIDE = 28
PRETRAINED_SIDE = 224  # "Pretrained models can use only a fixed 224 x 224 image size."
# SageMaker adds this to the hyperparameters of every training job a tuning job starts.
_SAGEMAKER_RESERVED = frozenset({"_tuning_objective_metric"})
_FLAG_FIELDS = ("multi_label", "use_pretrained_model", "use_weighted_loss")  # documented as 0 or 1
_POSITIVE = "a whole number of 1 or more"
_UNIT = "a number from 0 to 1"
_ALLOWED = {
    "num_classes": _POSITIVE, "num_training_samples": _POSITIVE,
    "augmentation_type": "one of crop, crop_color, crop_color_transform, or unset for none",
    "beta_1": _UNIT, "beta_2": _UNIT, "checkpoint_frequency": _POSITIVE + ", no greater than epochs",
    "early_stopping": "True or False", "early_stopping_min_epochs": _POSITIVE,
    "early_stopping_patience": _POSITIVE, "early_stopping_tolerance": _UNIT, "epochs": _POSITIVE,
    "eps": _UNIT, "gamma": _UNIT,
    "image_shape": "three whole numbers 'channels,height,width', such as '3,224,224'",
    "kv_store": "dist_sync or dist_async, or unset", "learning_rate": _UNIT, "lr_scheduler_factor": _UNIT,
    "lr_scheduler_step": "epoch numbers separated by commas, such as '10,20'",
    "mini_batch_size": _POSITIVE, "momentum": _UNIT, "multi_label": "0 or 1",
    "num_layers": "one of 18, 34, 50, 101, 152, 200 (224-pixel images) or 20, 32, 44, 56, 110 (small images)",
    "optimizer": "one of sgd, adam, rmsprop, nag", "precision_dtype": "float32 or float16",
    "resize": _POSITIVE, "top_k": "a whole number of 2 or more", "use_pretrained_model": "0 or 1",
    "use_weighted_loss": "0 or 1", "weight_decay": _UNIT,
}


class HyperparameterError(InputError):
    """One or more hyperparameters can't be used. ``problems`` pairs each field (or unknown
    name) with its message, in field order, so a form can mark every bad field at once."""

    default_title = "Hyperparameter problem"

    def __init__(self, problems: list[tuple[str, str]], *, hint: str | None = None):
        if len(problems) == 1:
            message = problems[0][1]
        else:
            message = f"{len(problems)} hyperparameters can't be used:\n" + "\n".join(f"- {m}" for _, m in problems)
        super().__init__(message, hint=hint or f"Change the values named above; {DOC_URL} lists what each accepts.")
        self.problems = tuple(problems)

    @property
    def fields(self) -> tuple[str, ...]:
        """The names the problems are about, in order."""
        return tuple(name for name, _ in self.problems)


def allowed(name: str) -> str:
    """What ``name`` accepts, in words (for placeholders and error messages)."""
    return _ALLOWED[name]


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _must(name: str, value: Any) -> str:
    return f"{name} must be {_ALLOWED[name]}; got {_show(value)}."


class _Problems(ValueError):
    """Cross-field problems found together, so they are reported together."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(m for _, m in problems))
        self.problems = problems


def _unit(default: float, description: str) -> Any:
    return Field(default, ge=0, le=1, description=description)


def _positive(default: int | None, description: str) -> Any:
    return Field(default, ge=1, description=description)


class Hyperparameters(BaseModel):
    """Every hyperparameter of SageMaker's built-in Image Classification algorithm, with its
    documented default and range. Build with keyword values, :func:`parse_hyperparameters` or
    :meth:`from_sagemaker`; change with :meth:`replace` (the model is frozen)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    num_classes: int = Field(ge=1, description="How many different labels (classes) your pictures have, e.g. 2 for cats and dogs. It sets the size of the network's output. Required.")
    num_training_samples: int = Field(ge=1, description="How many pictures are in the training set. sagewiz counts them for you; a wrong number makes the learning-rate schedule misbehave. Required.")
    augmentation_type: Literal["crop", "crop_color", "crop_color_transform"] | None = Field(None, description="Random changes to each training picture so the model sees more variety: 'crop' (random crop and left-right flip), 'crop_color' (also shifts hue, saturation and lightness), 'crop_color_transform' (also small rotations, shears and stretches). Leave unset for none. Avoid flips for pictures where left and right matter, like digits or text.")
    beta_1: float = _unit(0.9, "Only for the adam optimizer: how quickly it forgets past gradient directions (decay rate of the first moment). 0.9 is the usual choice.")
    beta_2: float = _unit(0.999, "Only for the adam optimizer: how quickly it forgets past gradient sizes (decay rate of the second moment). 0.999 is the usual choice.")
    checkpoint_frequency: int | None = _positive(None, "Save the model every this many epochs (no more than epochs). Every saved copy goes into model.tar.gz, making it bigger. Leave unset to keep only the epoch with the best validation accuracy.")
    early_stopping: bool = Field(False, description="Stop training early when validation accuracy stops improving, to save time and money. early_stopping_min_epochs, early_stopping_patience and early_stopping_tolerance only apply when this is on.")
    early_stopping_min_epochs: int = _positive(10, "With early stopping on: always train at least this many epochs before stopping is considered.")
    early_stopping_patience: int = _positive(5, "With early stopping on: stop after this many epochs in a row without improvement.")
    early_stopping_tolerance: float = _unit(0.0, "With early stopping on: an improvement smaller than this fraction of the best accuracy so far counts as no improvement (0.01 means 1%).")
    epochs: int = _positive(30, "How many times training goes through all the training pictures. More epochs can learn more but take longer and may overfit.")
    eps: float = _unit(1e-8, "Only for the adam and rmsprop optimizers: a tiny number that avoids dividing by zero. Rarely needs changing.")
    gamma: float = _unit(0.9, "Only for the rmsprop optimizer: how quickly it forgets past gradient sizes (decay of the moving average of squared gradients).")
    image_shape: str = Field("3,224,224", description="Size of the picture the network looks at, as 'channels,height,width' (3 channels for colour). Pictures must be at least this big (use resize otherwise); bigger ones are cropped. Use 3,224,224 for photos, a small size like 3,28,28 for tiny pictures. Pretrained models need 3,224,224.")
    kv_store: Literal["dist_sync", "dist_async"] | None = Field(None, description="Only when training on several machines at once: update the model in step (dist_sync, usually more accurate) or independently (dist_async, can be faster). Leave unset on one machine.")
    learning_rate: float = _unit(0.1, "How big a step the model takes when it learns from each batch. Too high and training goes wild; too low and it learns slowly. 0.1 (from scratch) to 0.001 (fine-tuning) is typical.")
    lr_scheduler_factor: float = _unit(0.1, "At each epoch listed in lr_scheduler_step, multiply the learning rate by this (0.1 makes it ten times smaller).")
    lr_scheduler_step: str | None = Field(None, description="Epochs after which the learning rate is reduced by lr_scheduler_factor, separated by commas, e.g. '10,20'. Smaller steps late in training often improve accuracy. Leave unset to keep the rate constant.")
    mini_batch_size: int = _positive(32, "How many pictures the model looks at before each update. Must not be more than the number of training pictures, or the job fails. Smaller batches use less memory.")
    momentum: float = _unit(0.9, "Only for the sgd and nag optimizers: how much of the previous step carries into the next one, which smooths learning.")
    multi_label: bool = Field(False, description="Turn on when a picture can have several labels at once (e.g. 'beach' and 'people'). Off for the usual one label per picture.")
    num_layers: int = Field(152, description="How deep the ResNet network is. Deeper can learn more but is slower and needs more pictures. For photos (224 pixels): 18, 34, 50, 101, 152 or 200. For small pictures (28 pixels or less): 20, 32, 44, 56 or 110. 18 or 20 is a good start.")
    optimizer: Literal["sgd", "adam", "rmsprop", "nag"] = Field("sgd", description="The method used to update the model: sgd (plain gradient descent with momentum), nag (Nesterov momentum), adam or rmsprop (adapt the step size per weight).")
    precision_dtype: Literal["float32", "float16"] = Field("float32", description="Number format of the maths: float32 (full precision, the safe choice) or float16 (mixed precision: faster, about as exact). On a GPU, float16 with loss scaling on its tensor cores; on this computer's CPU, bfloat16 where the CPU has it (AMX or AVX-512 BF16) and it measured faster than float32 here (1.3-3x), else float32 with a note in the log saying why.")
    resize: int | None = _positive(None, "Resize each picture so its shorter side has this many pixels before cropping to image_shape. Use a value at least as big as image_shape's height and width. Leave unset to use pictures as they are.")
    top_k: int | None = Field(None, ge=2, description="Also report how often the right label is among the model's top k guesses (k of 2 or more), useful with many classes. Leave unset to report plain accuracy only.")
    use_pretrained_model: bool = Field(False, description="Transfer learning: 1 starts from a network that has already learned to see, on ImageNet's 1.2 million photos of 1,000 kinds of things, and teaches it only what tells your classes apart (its last layer starts afresh for your classes). From a few hundred photos that gives far better results than learning from nothing (0), in fewer epochs. On SageMaker it needs a 224-pixel depth (18-200) and image_shape 3,224,224; on this computer, a pretrained network installed for that depth (`sagewiz pretrained list`).")
    use_weighted_loss: bool = Field(False, description="Only with multi_label on: give rare labels more weight in the loss, based on how often each label occurs.")
    weight_decay: float = _unit(0.0001, "Only for the sgd and nag optimizers: a small pull of the weights towards zero that helps against overfitting.")

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _translate(exc) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Hyperparameters:
        """pydantic's ``model_validate``, raising :class:`HyperparameterError` instead."""
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise _translate(exc) from None

    # --- field rules: only what the documentation states -------------------------------------

    @field_validator("num_classes", "num_training_samples", "checkpoint_frequency", "early_stopping_min_epochs",
                     "early_stopping_patience", "epochs", "mini_batch_size", "num_layers", "resize", "top_k",
                     mode="before")
    @classmethod
    def _whole_number(cls, value: Any, info: Any) -> Any:
        # pydantic would take True as 1 and "3.0" as 3; the algorithm parses whole numbers only.
        if isinstance(value, bool) or (isinstance(value, str) and not re.fullmatch(r"\s*\d+\s*", value)):
            raise ValueError(_must(info.field_name, value))
        return value

    @field_validator("early_stopping", *_FLAG_FIELDS, mode="before")
    @classmethod
    def _flag(cls, value: Any, info: Any) -> Any:
        # Strings are spelled as the doc spells them: True/False for early_stopping, 0/1 for flags.
        spellings = {"True": True, "False": False} if info.field_name == "early_stopping" else {"1": True, "0": False}
        if isinstance(value, str) and value.strip() in spellings:
            return spellings[value.strip()]
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return bool(value)
        raise ValueError(_must(info.field_name, value))

    @field_validator("num_layers")
    @classmethod
    def _known_depth(cls, value: int) -> int:
        if value not in LARGE_IMAGE_LAYERS + SMALL_IMAGE_LAYERS:
            raise ValueError(_must("num_layers", value))
        return value

    @field_validator("image_shape", "lr_scheduler_step", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any, info: Any) -> Any:
        if value is None and info.field_name == "lr_scheduler_step":
            return None
        parts = value.split(",") if isinstance(value, str) else []
        wanted = 3 if info.field_name == "image_shape" else len(parts)
        if not parts or len(parts) != wanted or not all(re.fullmatch(r"\s*[1-9]\d*\s*", p) for p in parts):
            raise ValueError(_must(info.field_name, value))
        return ",".join(p.strip() for p in parts)  # the doc's own examples differ in spacing

    @model_validator(mode="after")
    def _documented_cross_field_rules(self) -> Hyperparameters:
        problems: list[tuple[str, str]] = []
        if self.checkpoint_frequency is not None and self.checkpoint_frequency > self.epochs:
            problems.append(("checkpoint_frequency", f"checkpoint_frequency must be no greater than epochs ({self.epochs}); got {self.checkpoint_frequency}."))
        _, height, width = self.image_shape_tuple
        if self.resize is not None and self.resize < max(height, width):
            problems.append(("resize", f"resize must be at least the larger of image_shape's height and width ({max(height, width)}); got {self.resize}."))
        if problems:
            raise _Problems(problems)
        return self

    # --- views and conversions -----------------------------------------------------------------

    @property
    def image_shape_tuple(self) -> tuple[int, int, int]:
        """``image_shape`` as numbers: (channels, height, width)."""
        channels, height, width = (int(p) for p in self.image_shape.split(","))
        return channels, height, width

    @property
    def lr_scheduler_steps(self) -> tuple[int, ...]:
        """``lr_scheduler_step`` as epoch numbers; empty when unset."""
        return tuple(int(p) for p in self.lr_scheduler_step.split(",")) if self.lr_scheduler_step else ()

    def replace(self, **changes: Any) -> Hyperparameters:
        """A copy with ``changes`` applied and validated (raises :class:`HyperparameterError`)."""
        kept = self.model_fields_set | {"num_classes", "num_training_samples"}
        return parse_hyperparameters({name: getattr(self, name) for name in kept}, **changes)

    def to_sagemaker(self) -> dict[str, str]:
        """The strings CreateTrainingJob's ``HyperParameters`` takes: the required values plus
        every value that was chosen or differs from the default (the rest is left to
        SageMaker's own defaults). Flags are "0"/"1", early_stopping "True"/"False"."""
        out: dict[str, str] = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None or not (info.is_required() or name in self.model_fields_set or value != info.default):
                continue
            if name == "early_stopping":
                out[name] = "True" if value else "False"
            elif name in _FLAG_FIELDS:
                out[name] = "1" if value else "0"
            else:
                out[name] = repr(value) if isinstance(value, float) else str(value)  # repr: exact round trip
        return out

    @classmethod
    def from_sagemaker(cls, mapping: Mapping[str, str]) -> Hyperparameters:
        """Parse the strings of a training job's ``HyperParameters`` (what the local engine
        receives). Names SageMaker adds itself (``_tuning_objective_metric``) are skipped.
        Raises :class:`HyperparameterError` naming every value that can't be used."""
        return parse_hyperparameters({k: v for k, v in mapping.items() if k not in _SAGEMAKER_RESERVED})


def sagemaker_pretrained_problems(hp: Hyperparameters) -> list[tuple[str, str]]:
    """What SageMaker refuses of ``use_pretrained_model=1`` (its pretrained networks are ImageNet's:
    the 224-pixel depths at 224 × 224), as (field, message). Not a rule of the settings themselves:
    on this computer any network whose pretrained weights are installed can start from them
    (:func:`sagewiz.core.backends.refused_settings` says which rule applies where)."""
    problems: list[tuple[str, str]] = []
    if not hp.use_pretrained_model:
        return problems
    _, height, width = hp.image_shape_tuple
    if hp.num_layers not in LARGE_IMAGE_LAYERS:
        problems.append(("num_layers", f"num_layers must be one of {', '.join(map(str, LARGE_IMAGE_LAYERS))} with use_pretrained_model=1 (pretrained networks come only in those depths); got {hp.num_layers}."))
    if (height, width) != (PRETRAINED_SIDE, PRETRAINED_SIDE):
        problems.append(("image_shape", f"image_shape must be 3,224,224 with use_pretrained_model=1 (pretrained models use only a fixed 224 x 224 image size); got {hp.image_shape!r}."))
    return problems


def network_problems(hp: Hyperparameters) -> list[tuple[str, str]]:
    """Settings the algorithm accepts one by one but whose network can't be built, as (field,
    message): a depth of the other network family for image_shape's height (MXNet's builder
    raises for them, so the job would fail after its instance was paid for). A refusal on
    every backend, not a warning (:func:`sagewiz.core.backends.refused_settings`)."""
    _, height, _ = hp.image_shape_tuple
    small_net = hp.num_layers in SMALL_IMAGE_LAYERS
    if small_net == (height <= SMALL_NETWORK_MAX_SIDE):
        return []
    fits = SMALL_IMAGE_LAYERS if height <= SMALL_NETWORK_MAX_SIDE else LARGE_IMAGE_LAYERS
    return [("num_layers", f"num_layers {hp.num_layers} does not match image_shape {hp.image_shape}: the network for "
                           f"{height}-pixel images comes in depths {', '.join(map(str, fits))}, so the network can't be built. "
                           "Pick one of those, or change image_shape.")]


def parse_hyperparameters(mapping: Mapping[str, Any] | None = None, /, **values: Any) -> Hyperparameters:
    """Build :class:`Hyperparameters` from a mapping and/or keyword values (keywords win).
    Values may be Python values or SageMaker's strings. Raises one :class:`HyperparameterError`
    that lists every bad or unknown field, each with what it accepts."""
    return Hyperparameters.model_validate({**(mapping or {}), **values})


def _translate(exc: ValidationError) -> HyperparameterError:
    """One HyperparameterError for all of a ValidationError's problems, in field order."""
    names = list(Hyperparameters.model_fields)
    problems: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, _Problems):
            problems.extend(cause.problems)
        elif error["type"] == "extra_forbidden":
            problems.append((field, _unknown_name(field)))
        elif error["type"] == "missing":
            problems.append((field, f"{field} is required: {_ALLOWED[field]}."))
        elif isinstance(cause, ValueError):
            problems.append((field, str(cause)))
        else:  # a type or range error from pydantic itself: say it in the doc's terms
            problems.append((field, _must(field, error["input"]) if field in _ALLOWED else error["msg"]))
    order = {name: i for i, name in enumerate(names)}
    problems.sort(key=lambda p: order.get(p[0], len(order)))
    return HyperparameterError(problems)


def _unknown_name(name: str) -> str:
    close = difflib.get_close_matches(name, list(Hyperparameters.model_fields), n=1, cutoff=0.6)
    where = f"did you mean {close[0]}?" if close else f"the names it accepts are listed at {DOC_URL}."
    return f"{name} is not a hyperparameter of the Image Classification algorithm; {where}"


# --- dataset-derived settings and second opinions -------------------------------------------------

# The exact ClientError SageMaker ends a training job with (aws/amazon-sagemaker-examples#1492).
SAGEMAKER_BATCH_FAILURE = "The number of input images must be bigger or equal to the mini_batch_size."
# sagewiz's own threshold (not a SageMaker rule): a CPU struggles with deeper networks.
CPU_MAX_COMFORTABLE_LAYERS = 50


def _schedule(epochs: int) -> str | None:
    """sagewiz's learning-rate steps for ``epochs``: smaller steps at half and three quarters of
    training; none for fewer than 4 epochs, where those would not be two different epochs."""
    return f"{epochs // 2},{epochs * 3 // 4}" if epochs >= 4 else None


def with_overrides(suggested: Hyperparameters, overrides: Mapping[str, str]) -> Hyperparameters:
    """The ``suggested`` settings with the user's values (SageMaker's strings) on top: what the
    wizard, the plain questions and ``sagewiz run --hp`` all train with.

    A suggested value worked out from another follows it: the suggested learning-rate steps (at
    half and three quarters of training) move with a new ``epochs``, so an untouched
    ``lr_scheduler_step`` never lists epochs the training no longer has; only a
    ``lr_scheduler_step`` the user gave stays as given (and :func:`warnings` speaks of it). An
    empty value (a field the user emptied) leaves that setting to SageMaker's default, not to the
    suggestion. Raises :class:`HyperparameterError` naming every value that can't be used."""
    values = {name: value for name, value in {**suggested.to_sagemaker(), **overrides}.items() if value != ""}
    follows = suggested.lr_scheduler_step is not None and suggested.lr_scheduler_step == _schedule(suggested.epochs)
    if "epochs" in overrides and "lr_scheduler_step" not in overrides and follows:
        values.pop("lr_scheduler_step", None)
        try:
            epochs = int(overrides["epochs"])
        except ValueError:
            epochs = 0  # not a whole number: parsing names the field below
        if _schedule(epochs):
            values["lr_scheduler_step"] = _schedule(epochs)
    return Hyperparameters.from_sagemaker(values)


# Which optimizers use which settings (the doc: "ignored for other optimizers").
_OPTIMIZER_SETTINGS = {
    "momentum": ("sgd", "nag"), "weight_decay": ("sgd", "nag"), "beta_1": ("adam",), "beta_2": ("adam",),
    "eps": ("adam", "rmsprop"), "gamma": ("rmsprop",),
}


def warnings(hp: Hyperparameters, *, num_training_samples: int | None = None, device: str | None = None) -> list[str]:
    """Things SageMaker accepts but that are probably a mistake, one sentence each, with what
    to do instead. ``num_training_samples`` is the number of training pictures actually
    found (defaults to ``hp.num_training_samples``); ``device`` is where training will run."""
    found: list[str] = []
    images = hp.num_training_samples if num_training_samples is None else num_training_samples
    if hp.mini_batch_size > images:
        found.append(f"mini_batch_size {hp.mini_batch_size} is more than the {images} training pictures: SageMaker "
                     f"stops the job with \"{SAGEMAKER_BATCH_FAILURE}\" Use a mini_batch_size of {images} or less.")
    if num_training_samples is not None and num_training_samples != hp.num_training_samples:
        found.append(f"num_training_samples is {hp.num_training_samples} but the training set has {num_training_samples} "
                     "pictures; with a mismatch the learning-rate schedule misbehaves. Set it to the real count.")
    _, height, width = hp.image_shape_tuple
    if device is not None and device.lower() == "cpu" and hp.num_layers > CPU_MAX_COMFORTABLE_LAYERS:
        found.append(f"num_layers {hp.num_layers} on a CPU will be very slow; try 18 (or 20 for small pictures), "
                     "or train on a GPU.")
    if hp.top_k is not None and hp.top_k >= hp.num_classes:
        found.append(f"top_k {hp.top_k} is not less than the {hp.num_classes} classes, so top-{hp.top_k} accuracy is "
                     "always 100%. Use a smaller top_k, or leave it unset.")
    if hp.num_classes < 2:
        found.append("num_classes is 1: a classifier needs at least two classes to choose between.")
    for name, users in _OPTIMIZER_SETTINGS.items():
        if hp.optimizer not in users and getattr(hp, name) != Hyperparameters.model_fields[name].default:
            found.append(f"{name} only affects the {' and '.join(users)} optimizer{'s' if len(users) > 1 else ''}; "
                         f"with optimizer {hp.optimizer} it is ignored.")
    if not hp.early_stopping and any(
            getattr(hp, n) != Hyperparameters.model_fields[n].default
            for n in ("early_stopping_min_epochs", "early_stopping_patience", "early_stopping_tolerance")):
        found.append("early_stopping_ settings are ignored while early_stopping is False.")
    if hp.use_weighted_loss and not hp.multi_label:
        found.append("use_weighted_loss is used only with multi_label=1; it is ignored here.")
    steps = hp.lr_scheduler_steps
    if steps and (list(steps) != sorted(set(steps)) or steps[-1] >= hp.epochs):
        found.append(f"lr_scheduler_step {hp.lr_scheduler_step} should list increasing epochs below epochs "
                     f"({hp.epochs}); later ones never take effect.")
    if hp.resize is not None and hp.resize == max(height, width):
        found.append(f"resize {hp.resize} equals the crop size; the documentation advises a resize larger than "
                     "image_shape's height and width.")
    if hp.image_shape_tuple[0] != 3:
        found.append(f"image_shape has {hp.image_shape_tuple[0]} channels; sagewiz packs colour pictures with 3.")
    return found

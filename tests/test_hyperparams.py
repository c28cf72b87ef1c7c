"""The Image Classification algorithm's hyperparameters: documented defaults and ranges, the
strings SageMaker takes, dataset-derived suggestions, warnings and tuning ranges.

Facts are from https://docs.aws.amazon.com/sagemaker/latest/dg/IC-Hyperparameter.html and
https://docs.aws.amazon.com/sagemaker/latest/dg/IC-tuning.html.
"""

from __future__ import annotations

import math

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagewiz.core.errors import InputError, WizardError
from sagewiz.core.hyperparams import (
    LARGE_IMAGE_LAYERS,
    SMALL_IMAGE_LAYERS,
    HyperparameterError,
    Hyperparameters,
    allowed,
    parse_hyperparameters,
    warnings,
)
from sagewiz.core.suggestions import suggest
from sagewiz.core.tuning_ranges import (
    OBJECTIVE_METRIC,
    OBJECTIVE_TYPE,
    SEED_TUNING_RANGES,
    TUNABLE_RANGES,
    ParameterRange,
    objective_to_sagemaker,
    parameter_ranges_to_sagemaker,
)

REQUIRED = {"num_classes": 2, "num_training_samples": 1000}
# The digits sample (core/dataset/sample.py) at its default: 10 classes of 32-pixel pictures,
# about 1,440 for training, the rarest digit with about 140.
DIGITS = dict(num_classes=10, num_training_samples=1438, smallest_class=142, image_size=(32, 32))


def problem_of(excinfo: pytest.ExceptionInfo[HyperparameterError], field: str) -> str:
    return dict(excinfo.value.problems)[field]


# --- the model --------------------------------------------------------------------------------

def test_defaults_match_the_sagemaker_documentation():
    hp = Hyperparameters(**REQUIRED)
    assert hp.augmentation_type is None
    assert (hp.beta_1, hp.beta_2, hp.eps, hp.gamma) == (0.9, 0.999, 1e-8, 0.9)
    assert hp.checkpoint_frequency is None
    assert hp.early_stopping is False
    assert (hp.early_stopping_min_epochs, hp.early_stopping_patience, hp.early_stopping_tolerance) == (10, 5, 0.0)
    assert hp.epochs == 30
    assert hp.image_shape == "3,224,224" and hp.image_shape_tuple == (3, 224, 224)
    assert hp.kv_store is None
    assert (hp.learning_rate, hp.lr_scheduler_factor, hp.lr_scheduler_step) == (0.1, 0.1, None)
    assert hp.mini_batch_size == 32
    assert hp.momentum == 0.9
    assert hp.multi_label is False and hp.use_weighted_loss is False and hp.use_pretrained_model is False
    assert hp.num_layers == 152
    assert hp.optimizer == "sgd"
    assert hp.precision_dtype == "float32"
    assert hp.resize is None and hp.top_k is None
    assert hp.weight_decay == 0.0001


def test_every_documented_hyperparameter_is_a_field_with_beginner_help():
    documented = {
        "num_classes", "num_training_samples", "augmentation_type", "beta_1", "beta_2", "checkpoint_frequency",
        "early_stopping", "early_stopping_min_epochs", "early_stopping_patience", "early_stopping_tolerance",
        "epochs", "eps", "gamma", "image_shape", "kv_store", "learning_rate", "lr_scheduler_factor",
        "lr_scheduler_step", "mini_batch_size", "momentum", "multi_label", "num_layers", "optimizer",
        "precision_dtype", "resize", "top_k", "use_pretrained_model", "use_weighted_loss", "weight_decay",
    }
    fields = Hyperparameters.model_fields
    assert set(fields) == documented
    for name, info in fields.items():
        assert info.description and len(info.description) > 30, name
        assert allowed(name)
    assert {n for n, f in fields.items() if f.is_required()} == {"num_classes", "num_training_samples"}


def test_the_two_required_values_are_asked_for_by_name():
    with pytest.raises(HyperparameterError) as excinfo:
        parse_hyperparameters({})
    assert set(excinfo.value.fields) == {"num_classes", "num_training_samples"}
    assert "num_classes is required" in str(excinfo.value)


def test_a_wrong_num_layers_names_the_allowed_depths():
    with pytest.raises(HyperparameterError) as excinfo:
        Hyperparameters(**REQUIRED, num_layers=19)
    assert str(excinfo.value) == (
        "num_layers must be one of 18, 34, 50, 101, 152, 200 (224-pixel images) "
        "or 20, 32, 44, 56, 110 (small images); got 19."
    )
    assert excinfo.value.title == "Hyperparameter problem"
    assert isinstance(excinfo.value, InputError) and excinfo.value.hint


@pytest.mark.parametrize("field, value, expected", [
    ("learning_rate", 1.5, "learning_rate must be a number from 0 to 1; got 1.5."),
    ("momentum", -0.1, "momentum must be a number from 0 to 1; got -0.1."),
    ("eps", "nan", "eps must be a number from 0 to 1; got 'nan'."),
    ("mini_batch_size", 0, "mini_batch_size must be a whole number of 1 or more; got 0."),
    ("epochs", "3.5", "epochs must be a whole number of 1 or more; got '3.5'."),
    ("top_k", 1, "top_k must be a whole number of 2 or more; got 1."),
    ("optimizer", "adamw", "optimizer must be one of sgd, adam, rmsprop, nag; got 'adamw'."),
    ("augmentation_type", "flip", "augmentation_type must be one of crop, crop_color, crop_color_transform, or unset for none; got 'flip'."),
    ("precision_dtype", "bfloat16", "precision_dtype must be float32 or float16; got 'bfloat16'."),
    ("kv_store", "local", "kv_store must be dist_sync or dist_async, or unset; got 'local'."),
    ("use_pretrained_model", "yes", "use_pretrained_model must be 0 or 1; got 'yes'."),
    ("early_stopping", "1", "early_stopping must be True or False; got '1'."),
    ("image_shape", "224,224", "image_shape must be three whole numbers 'channels,height,width', such as '3,224,224'; got '224,224'."),
    ("lr_scheduler_step", "10;20", "lr_scheduler_step must be epoch numbers separated by commas, such as '10,20'; got '10;20'."),
])
def test_a_value_sagemaker_would_reject_is_named_with_what_is_allowed(field, value, expected):
    with pytest.raises(HyperparameterError) as excinfo:
        parse_hyperparameters(REQUIRED, **{field: value})
    assert problem_of(excinfo, field) == expected


def test_every_bad_field_is_listed_in_one_error():
    with pytest.raises(HyperparameterError) as excinfo:
        parse_hyperparameters(REQUIRED, num_layers=19, learning_rate=2, optimizer="adamw")
    assert excinfo.value.fields == ("learning_rate", "num_layers", "optimizer")
    message = str(excinfo.value)
    assert message.startswith("3 hyperparameters can't be used:")
    assert all(f"- {name} must be" in message for name in excinfo.value.fields)


def test_checkpoint_frequency_may_not_exceed_epochs():
    with pytest.raises(HyperparameterError) as excinfo:
        Hyperparameters(**REQUIRED, epochs=5, checkpoint_frequency=6)
    assert problem_of(excinfo, "checkpoint_frequency") == (
        "checkpoint_frequency must be no greater than epochs (5); got 6.")
    assert Hyperparameters(**REQUIRED, epochs=5, checkpoint_frequency=5).checkpoint_frequency == 5


def test_sagemaker_takes_a_pretrained_model_only_at_224_while_this_computer_takes_what_is_installed():
    from sagewiz.core.backends import refused_settings
    from sagewiz.core.hyperparams import sagemaker_pretrained_problems

    small = Hyperparameters(**REQUIRED, use_pretrained_model=True, num_layers=20, image_shape="3,28,28")
    problems = dict(sagemaker_pretrained_problems(small))
    assert "18, 34, 50, 101, 152, 200" in problems["num_layers"] and "224 x 224" in problems["image_shape"]
    assert dict(refused_settings(small, "aws")) == problems
    assert sagemaker_pretrained_problems(Hyperparameters(**REQUIRED, use_pretrained_model=True, num_layers=18)) == []


def test_resize_smaller_than_the_crop_is_refused():
    with pytest.raises(HyperparameterError) as excinfo:
        Hyperparameters(**REQUIRED, resize=200)
    assert problem_of(excinfo, "resize") == (
        "resize must be at least the larger of image_shape's height and width (224); got 200.")
    assert Hyperparameters(**REQUIRED, resize=256).resize == 256


def test_image_shape_and_scheduler_steps_are_tidied_and_parsed():
    hp = Hyperparameters(**REQUIRED, image_shape=" 3, 32 ,32", lr_scheduler_step="10, 20")
    assert hp.image_shape == "3,32,32" and hp.image_shape_tuple == (3, 32, 32)
    assert hp.lr_scheduler_step == "10,20" and hp.lr_scheduler_steps == (10, 20)
    assert Hyperparameters(**REQUIRED).lr_scheduler_steps == ()


def test_a_typo_in_a_name_suggests_the_right_one():
    with pytest.raises(HyperparameterError) as excinfo:
        parse_hyperparameters(REQUIRED, num_layer=18, batch_size=8)
    assert problem_of(excinfo, "num_layer") == (
        "num_layer is not a hyperparameter of the Image Classification algorithm; did you mean num_layers?")
    assert "did you mean mini_batch_size?" in problem_of(excinfo, "batch_size")


def test_a_name_nothing_like_any_hyperparameter_points_to_the_list():
    with pytest.raises(HyperparameterError) as excinfo:
        Hyperparameters.from_sagemaker({"num_classes": "2", "num_training_samples": "10", "zzz": "1"})
    assert "IC-Hyperparameter.html" in problem_of(excinfo, "zzz")


@pytest.mark.parametrize("build", [
    lambda: Hyperparameters(num_classes="two", num_training_samples=10),
    lambda: Hyperparameters.model_validate({"num_classes": 0, "num_training_samples": 10}),
    lambda: Hyperparameters.from_sagemaker({"num_classes": "x"}),
    lambda: parse_hyperparameters(num_classes=[], num_training_samples={}),
    lambda: Hyperparameters(**REQUIRED).replace(epochs=-1),
    lambda: Hyperparameters(**REQUIRED, learning_rate=float("inf")),
])
def test_pydantic_errors_never_leak(build):
    with pytest.raises(WizardError) as excinfo:
        build()
    assert isinstance(excinfo.value, HyperparameterError)
    assert not isinstance(excinfo.value, pydantic.ValidationError)
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__
    assert "pydantic" not in str(excinfo.value) and "errors.pydantic.dev" not in str(excinfo.value)


def test_replace_validates_and_keeps_the_original():
    hp = Hyperparameters(**REQUIRED)
    assert hp.replace(epochs=5).epochs == 5 and hp.epochs == 30
    assert hp.model_config["frozen"]  # changes go through replace(), which validates


# --- strings for SageMaker and back -----------------------------------------------------------

def test_to_sagemaker_sends_required_and_chosen_values_as_the_algorithm_spells_them():
    hp = Hyperparameters(**REQUIRED, use_pretrained_model=True, num_layers=18, early_stopping=True,
                         multi_label=False, eps=1e-8, learning_rate=0.01)
    assert hp.to_sagemaker() == {
        "num_classes": "2", "num_training_samples": "1000", "use_pretrained_model": "1", "num_layers": "18",
        "early_stopping": "True", "multi_label": "0", "eps": "1e-08", "learning_rate": "0.01",
    }
    assert Hyperparameters(**REQUIRED).to_sagemaker() == {"num_classes": "2", "num_training_samples": "1000"}


def test_from_sagemaker_reads_what_a_tuning_job_sends():
    hp = Hyperparameters.from_sagemaker({
        "_tuning_objective_metric": "validation:accuracy",  # added by SageMaker to each trial
        "num_classes": "2", "num_training_samples": "1000", "learning_rate": "0.0123456789",
        "mini_batch_size": "16", "optimizer": "adam", "early_stopping": "False", "use_pretrained_model": "0",
        "image_shape": "3, 224, 224",
    })
    assert (hp.learning_rate, hp.mini_batch_size, hp.optimizer) == (0.0123456789, 16, "adam")
    assert hp.early_stopping is False and hp.use_pretrained_model is False and hp.image_shape == "3,224,224"


@st.composite
def valid_hyperparameters(draw) -> Hyperparameters:
    unit = st.floats(0, 1, allow_nan=False)
    small = draw(st.booleans())
    side = draw(st.integers(8, 28) if small else st.integers(29, 512))
    pretrained = not small and side == 224 and draw(st.booleans())
    epochs = draw(st.integers(1, 500))
    num_classes = draw(st.integers(1, 5000))
    values = dict(
        num_classes=num_classes, num_training_samples=draw(st.integers(1, 10**7)),
        num_layers=draw(st.sampled_from(SMALL_IMAGE_LAYERS if small else LARGE_IMAGE_LAYERS)),
        image_shape=f"{draw(st.integers(1, 4))},{side},{side}", use_pretrained_model=pretrained, epochs=epochs,
        augmentation_type=draw(st.sampled_from([None, "crop", "crop_color", "crop_color_transform"])),
        beta_1=draw(unit), beta_2=draw(unit), eps=draw(unit), gamma=draw(unit), learning_rate=draw(unit),
        lr_scheduler_factor=draw(unit), momentum=draw(unit), weight_decay=draw(unit),
        early_stopping_tolerance=draw(unit), early_stopping=draw(st.booleans()),
        early_stopping_min_epochs=draw(st.integers(1, 100)), early_stopping_patience=draw(st.integers(1, 100)),
        checkpoint_frequency=draw(st.none() | st.integers(1, epochs)),
        kv_store=draw(st.sampled_from([None, "dist_sync", "dist_async"])),
        lr_scheduler_step=draw(st.none() | st.lists(st.integers(1, 500), min_size=1, max_size=4).map(
            lambda steps: ",".join(map(str, steps)))),
        mini_batch_size=draw(st.integers(1, 4096)), multi_label=draw(st.booleans()),
        optimizer=draw(st.sampled_from(["sgd", "adam", "rmsprop", "nag"])),
        precision_dtype=draw(st.sampled_from(["float32", "float16"])),
        resize=draw(st.none() | st.integers(side, 4096)),
        top_k=draw(st.none() | st.integers(2, 10)), use_weighted_loss=draw(st.booleans()),
    )
    # Leave some values out, so both "sent" and "left to SageMaker's default" are covered.
    optional = [name for name in values if name not in REQUIRED]
    dropped = draw(st.sets(st.sampled_from(optional)))
    if "epochs" in dropped and values["checkpoint_frequency"] and values["checkpoint_frequency"] > 30:
        dropped.discard("epochs")
    if "image_shape" in dropped or "num_layers" in dropped:
        dropped -= {"image_shape", "num_layers", "use_pretrained_model", "resize"}
    return Hyperparameters(**{k: v for k, v in values.items() if k not in dropped})


@settings(max_examples=300, deadline=None)
@given(valid_hyperparameters())
def test_strings_from_sagemaker_round_trip(hp):
    sent = hp.to_sagemaker()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in sent.items())
    assert Hyperparameters.from_sagemaker(sent) == hp


# --- suggestions and warnings ------------------------------------------------------------------

def test_suggested_settings_for_the_digits_sample_use_a_small_resnet():
    hp = suggest(**DIGITS, device="cpu")
    assert (hp.num_classes, hp.num_training_samples) == (10, 1438)
    assert hp.num_layers in SMALL_IMAGE_LAYERS and hp.num_layers == 20
    assert hp.image_shape_tuple == (3, 28, 28)  # the algorithm's small-image network is for ≤ 28 px
    assert hp.resize is not None and hp.resize > 28
    assert hp.mini_batch_size == 32
    assert hp.top_k is not None and 1 < hp.top_k < 10
    assert warnings(hp, device="cpu") == []


def test_suggested_settings_for_big_photos_on_a_gpu_use_resnet_18_at_224():
    hp = suggest(5, 20_000, 900, (640, 480), device="cuda")
    assert (hp.num_layers, hp.image_shape) == (18, "3,224,224")
    assert hp.resize is not None and hp.resize > 224
    assert warnings(hp, device="cuda") == []


def test_a_small_dataset_of_big_photos_on_a_cpu_still_gets_the_small_network():
    hp = suggest(3, 600, 150, (1024, 768), device="cpu")
    assert hp.num_layers == 20 and hp.image_shape == "3,28,28" and hp.resize == 32


@pytest.mark.parametrize("num_training_samples, smallest_class, expected", [
    (1438, 142, 32), (1000, 20, 16), (40, 13, 8), (3, 3, 2), (1, 1, 1),
])
def test_the_suggested_mini_batch_fits_the_data(num_training_samples, smallest_class, expected):
    hp = suggest(2, num_training_samples, smallest_class, device="cpu")
    assert hp.mini_batch_size == expected
    assert hp.mini_batch_size <= min(num_training_samples, smallest_class)
    assert math.log2(hp.mini_batch_size).is_integer()


def test_suggest_refuses_an_impossible_dataset():
    with pytest.raises(InputError):
        suggest(2, 10, 0)
    with pytest.raises(InputError):
        suggest(2, 10, 11)


def test_a_suggested_learning_rate_schedule_follows_the_epochs_the_user_chose():
    """Epochs 3 in the settings warned 'lr_scheduler_step 10,15 should list increasing epochs below
    epochs (3)': a field the user never touched, whose suggestion is worked out from epochs."""
    from sagewiz.core.hyperparams import with_overrides

    suggested = suggest(**DIGITS, device="cpu")
    assert (suggested.epochs, suggested.lr_scheduler_step) == (20, "10,15")
    shorter = with_overrides(suggested, {"epochs": "8"})
    assert (shorter.epochs, shorter.lr_scheduler_step) == (8, "4,6")
    assert warnings(with_overrides(suggested, {"epochs": "3"}), device="cpu") == []
    assert with_overrides(suggested, {"epochs": "3"}).lr_scheduler_step is None  # too short for steps
    typed = with_overrides(suggested, {"epochs": "3", "lr_scheduler_step": "10,15"})
    assert typed.lr_scheduler_step == "10,15"  # the user's own value stays, and is warned about
    assert any(w.startswith("lr_scheduler_step 10,15") for w in warnings(typed, device="cpu"))
    unscheduled = Hyperparameters(**REQUIRED, num_layers=18, epochs=20)  # no schedule suggested: none invented
    assert with_overrides(unscheduled, {"epochs": "8"}).lr_scheduler_step is None
    assert with_overrides(suggested, {}) == suggested


def test_an_emptied_setting_is_left_to_sagemaker_rather_than_to_the_suggestion():
    from sagewiz.core.hyperparams import with_overrides

    suggested = suggest(**DIGITS, device="cpu")
    assert suggested.top_k == 5 and suggested.lr_scheduler_step == "10,15"
    emptied = with_overrides(suggested, {"top_k": "", "lr_scheduler_step": "", "epochs": "8"})
    assert (emptied.top_k, emptied.lr_scheduler_step, emptied.epochs) == (None, None, 8)
    assert "top_k" not in emptied.to_sagemaker() and "lr_scheduler_step" not in emptied.to_sagemaker()


@pytest.mark.parametrize("backend", ["local", "aws"])
@pytest.mark.parametrize("depth, shape, fits", [(20, "3,224,224", "18, 34, 50"), (20, "3,32,32", "18, 34, 50"), (18, "3,28,28", "20, 32, 44")])
def test_a_network_that_cant_be_built_is_refused_on_both_backends_not_merely_warned(backend, depth, shape, fits):
    from sagewiz.core.backends import check_settings, refused_settings

    impossible = Hyperparameters(**REQUIRED, num_layers=depth, image_shape=shape)
    [(field, message)] = refused_settings(impossible, backend)
    assert field == "num_layers" and message.startswith(f"num_layers {depth} does not match image_shape {shape}")
    assert "the network can't be built" in message and fits in message
    assert not any("can't be built" in w for w in warnings(impossible))  # said once, as a refusal
    with pytest.raises(HyperparameterError) as raised:
        check_settings(impossible, backend)
    assert message in raised.value.message
    buildable = Hyperparameters(**REQUIRED, num_layers=20 if depth == 18 else 18, image_shape=shape)
    assert refused_settings(buildable, backend) == []


def test_mini_batch_larger_than_dataset_is_warned_with_sagemakers_wording():
    hp = Hyperparameters(num_classes=2, num_training_samples=20, mini_batch_size=32, num_layers=18)
    (warning,) = [w for w in warnings(hp) if "mini_batch_size" in w]
    assert "The number of input images must be bigger or equal to the mini_batch_size" in warning
    assert "20" in warning and "32" in warning
    counted = Hyperparameters(num_classes=2, num_training_samples=100, mini_batch_size=32, num_layers=18)
    assert any("The number of input images" in w for w in warnings(counted, num_training_samples=20))


def test_things_that_are_allowed_but_probably_a_mistake_are_warned():
    deep = Hyperparameters(**REQUIRED, num_layers=152)
    assert any("152" in w and "CPU" in w for w in warnings(deep, device="cpu"))
    assert not any("CPU" in w for w in warnings(deep, device="cuda"))
    assert any("top_k" in w for w in warnings(Hyperparameters(**REQUIRED, num_layers=18, top_k=5)))
    ignored = Hyperparameters(**REQUIRED, num_layers=18, beta_1=0.8)  # sgd ignores beta_1
    assert any("beta_1" in w and "adam" in w for w in warnings(ignored))
    recount = Hyperparameters(**REQUIRED, num_layers=18)
    assert any("num_training_samples" in w for w in warnings(recount, num_training_samples=900))


# --- tuning ------------------------------------------------------------------------------------

def test_seed_tuning_ranges_are_valid_sagemaker_parameter_ranges():
    names = [r.name for r in SEED_TUNING_RANGES]
    assert names == ["beta_1", "beta_2", "eps", "gamma", "learning_rate", "mini_batch_size", "momentum", "weight_decay"]
    for r in SEED_TUNING_RANGES:
        r.validate()
    by_name = {r.name: r for r in SEED_TUNING_RANGES}
    assert (by_name["learning_rate"].min_value, by_name["learning_rate"].max_value) == (1e-6, 0.5)
    assert by_name["learning_rate"].scaling == "Logarithmic"
    assert (by_name["mini_batch_size"].kind, by_name["mini_batch_size"].min_value, by_name["mini_batch_size"].max_value) == ("integer", 8, 64)
    shape = parameter_ranges_to_sagemaker(SEED_TUNING_RANGES)
    assert set(shape) == {"ContinuousParameterRanges", "IntegerParameterRanges"}
    assert shape["IntegerParameterRanges"] == [
        {"Name": "mini_batch_size", "MinValue": "8", "MaxValue": "64", "ScalingType": "Auto"}]
    assert {"Name": "learning_rate", "MinValue": "1e-06", "MaxValue": "0.5", "ScalingType": "Logarithmic"} \
        in shape["ContinuousParameterRanges"]
    for entry in shape["ContinuousParameterRanges"] + shape["IntegerParameterRanges"]:
        assert all(isinstance(entry[k], str) for k in ("MinValue", "MaxValue"))
    assert (OBJECTIVE_METRIC, OBJECTIVE_TYPE) == ("validation:accuracy", "Maximize")
    assert objective_to_sagemaker() == {"Type": "Maximize", "MetricName": "validation:accuracy"}


def test_tunable_ranges_are_the_ones_the_tuning_page_recommends():
    assert TUNABLE_RANGES["mini_batch_size"].max_value == 512
    assert TUNABLE_RANGES["eps"].min_value == 1e-8 and TUNABLE_RANGES["eps"].max_value == 1.0
    assert TUNABLE_RANGES["optimizer"].values == ("sgd", "adam", "rmsprop", "nag")
    optimizer = ParameterRange("optimizer", "categorical", values=("sgd", "adam"))
    assert optimizer.validate().to_sagemaker() == {"Name": "optimizer", "Values": ["sgd", "adam"]}


@pytest.mark.parametrize("bad, words", [
    (ParameterRange("num_layers", "integer", 18, 50), "num_layers can't be tuned"),
    (ParameterRange("learning_rate", "continuous", 1e-6, 0.9), "0.5"),
    (ParameterRange("learning_rate", "integer", 1, 2), "continuous"),
    (ParameterRange("momentum", "continuous", 0.0, 0.9, scaling="Logarithmic"), "greater than 0"),
    (ParameterRange("mini_batch_size", "integer", 8, 64, scaling="ReverseLogarithmic"), "continuous ranges only"),
    (ParameterRange("mini_batch_size", "integer", 64, 8), "more than"),
    (ParameterRange("optimizer", "categorical", values=("sgd", "lamb")), "lamb"),
    (ParameterRange("momentum", "continuous", 0.0, 0.999, scaling="Sideways"), "Auto, Linear"),
])
def test_a_range_sagemaker_would_refuse_says_why(bad, words):
    with pytest.raises(HyperparameterError) as excinfo:
        bad.validate()
    assert words in str(excinfo.value)


def test_too_many_or_repeated_ranges_are_refused():
    with pytest.raises(HyperparameterError, match="twice"):
        parameter_ranges_to_sagemaker([SEED_TUNING_RANGES[0], SEED_TUNING_RANGES[0]])

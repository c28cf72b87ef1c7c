"""How long training takes, said before it starts: on this computer and on a SageMaker GPU.

Rough on purpose (a beginner needs "a minute" or "an hour", not a figure to the second), but
measured: on this computer, at the pace it trains (core/local/pace.py: its finished jobs, or a few
seconds of steps measured once); the GPU speeds come from public benchmarks of the algorithm's
MXNet ResNet.
"""

from __future__ import annotations

# Images per second of training (steps, validation and the engine's start together) on a 2-core
# CPU, by depth family at its reference depth (pace.REFERENCE); deeper nets of a family scale
# roughly with their layer count, rounded down from the engine that keeps freed memory
# (2026-12-03). "small": `sagewiz run --data` on the digits sample, 20 epochs of 1,295 in 29 s
# (890/s); "large": benchmarks/bench_finetune.py, ResNet-18 at 224 on 810 photos × 5 epochs in
# 189 s (21.4/s; 379 s before). Said only until this computer's own pace is known: another 2-core
# VM trained 2.7-3.1× slower.
_SPEED = {"small": 850.0, "large": 20.0}
# Images per second of ResNet-18 at 224 px on one GPU of each family, rounded down from public
# benchmarks of the algorithm's MXNet ResNet; deeper nets and smaller images scale from there.
_GPU_SPEED = {"ml.p2": 150.0, "ml.g4dn": 350.0, "ml.g5": 700.0, "ml.p3": 900.0, "ml.p3dn": 900.0, "ml.p4d": 2000.0}
SAGEMAKER_START_MINUTES = 5.0  # provisioning the instance and pulling the algorithm's image


def estimate_minutes(hp) -> float:
    """A rough training time on this computer, for the number shown before starting: at the pace
    it was measured to train at, or (never measured) at the pace of the computer above."""
    from sagewiz.core.local.pace import REFERENCE, family_of, known

    family = family_of(hp.image_shape_tuple[1])
    layers, speed = REFERENCE[family][0], known(family) or _SPEED[family]
    return hp.epochs * hp.num_training_samples / (speed * layers / hp.num_layers * mixed_precision_gain(hp)) / 60


def pace_unknown(hp) -> bool:
    """Whether this computer's pace for ``hp``'s network is still to be measured: the estimate is
    the reference computer's until :func:`measure_pace` ran (a few seconds, once per computer)."""
    from sagewiz.core.local.pace import family_of, worth_measuring

    return worth_measuring(family_of(hp.image_shape_tuple[1]))


def measure_pace(hp) -> None:
    """Measure how fast this computer trains ``hp``'s kind of network (see :func:`pace_unknown`)."""
    from sagewiz.core.local.pace import family_of, measure

    measure(family_of(hp.image_shape_tuple[1]))


# What `sagewiz run` trains on the digits sample (`sagewiz sample digits`): the settings suggested
# for it (tests/test_estimate_follows_this_computer.py holds them to suggest_for on the sample)
SAMPLE_SETTINGS = {"num_classes": "10", "num_training_samples": "1295", "epochs": "20", "image_shape": "3,28,28",
                   "mini_batch_size": "32", "num_layers": "20"}


def sample_training_time() -> str | None:
    """"about 2 minutes": how long the digits sample trains at this computer's pace; None until
    that pace is known (the reference computer's would be another computer's time)."""
    from sagewiz.core.hyperparams import Hyperparameters
    from sagewiz.core.local.pace import family_of, known

    hp = Hyperparameters.from_sagemaker(SAMPLE_SETTINGS)
    if known(family_of(hp.image_shape_tuple[1])) is None:
        return None
    return f"about {duration(estimate_minutes(hp))}"


MEASURING = "Measuring how fast this computer trains, for the time estimate (a few seconds, once)…"


def mixed_precision_gain(hp) -> float:
    """How much faster the engine trains in the precision it will use (core/local/precision.py):
    bfloat16's gain as measured here where it trains in it, else 1."""
    if hp.precision_dtype != "float16":
        return 1.0
    from sagewiz.core.local.mixed_precision import on_this_cpu

    return on_this_cpu(hp.image_shape_tuple[1]).gain


def estimate_aws_minutes(hp, instance_type: str) -> float:
    """A rough SageMaker training time on ``instance_type``: start-up plus the epochs' work."""
    family = instance_type.rsplit(".", 1)[0]
    speed = _GPU_SPEED.get(family, 300.0) * 18 / hp.num_layers * min((224 / hp.image_shape_tuple[1]) ** 2, 10)
    return SAGEMAKER_START_MINUTES + hp.epochs * hp.num_training_samples / speed / 60


def duration(minutes: float) -> str:
    # under a minute reads better in seconds; a few seconds more for starting the engine
    seconds = minutes * 60 + 10
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    return f"{seconds / 60:.0f} minutes" if seconds < 5400 else f"{seconds / 3600:.1f} hours"


def training_time(hp, instance_type: str = "") -> str:
    """"about 4 minutes of training on this computer" / "roughly 9 minutes on ml.g4dn.xlarge": the
    estimate in words, for a SageMaker ``instance_type`` or (none) this computer."""
    if instance_type.startswith("ml."):
        return f"roughly {duration(estimate_aws_minutes(hp, instance_type))} of training on {instance_type}"
    return f"about {duration(estimate_minutes(hp))} of training on this computer"

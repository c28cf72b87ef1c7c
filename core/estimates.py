"""How long training takes, said before it starts: on this computer and on a SageMaker GPU.

Rough on purpose (a beginner needs "a minute" or "an hour", not a figure to the second), but
measured: the CPU speeds come from benchmarks/bench_train.py and bench_finetune.py on a 2-core
machine, the GPU ones from public benchmarks of the algorithm's MXNet ResNet.
"""

from __future__ import annotations

# Images per second of training (steps, validation and the engine's start together) on a 2-core
# CPU, by depth family; deeper nets of a family scale roughly with their layer count, rounded
# down from the engine that keeps freed memory (2026-12-03). "small": `sagewiz run --data` on the
# digits sample, 20 epochs of 1,295 in 29 s (890/s); "large": benchmarks/bench_finetune.py,
# ResNet-18 at 224 on 810 photos × 5 epochs in 189 s (21.4/s; 379 s before).
_SPEED = {"small": (20, 850.0), "large": (18, 20.0)}
# Images per second of ResNet-18 at 224 px on one GPU of each family, rounded down from public
# benchmarks of the algorithm's MXNet ResNet; deeper nets and smaller images scale from there.
_GPU_SPEED = {"ml.p2": 150.0, "ml.g4dn": 350.0, "ml.g5": 700.0, "ml.p3": 900.0, "ml.p3dn": 900.0, "ml.p4d": 2000.0}
AMX_GAIN = 2.5
SAGEMAKER_START_MINUTES = 5.0  # provisioning the instance and pulling the algorithm's image


def estimate_minutes(hp) -> float:
    """A rough training time on this kind of computer, for the number shown before starting."""
    family = "small" if hp.image_shape_tuple[1] <= 28 else "large"
    layers, speed = _SPEED[family]
    return hp.epochs * hp.num_training_samples / (speed * layers / hp.num_layers * _mixed_precision_gain(hp)) / 60


def _mixed_precision_gain(hp) -> float:
    """How much faster the engine trains in the precision it will use (core/local/precision.py)."""
    if hp.precision_dtype != "float16":
        return 1.0
    from sagewiz.core.local.cores import cpu_bf16

    # bfloat16 on AMX: ResNet-18 at 224 trained at 11.5 images/s against 4.0 in float32 on one
    # thread (DESIGN.md), rounded down; elsewhere the engine trains in float32
    return AMX_GAIN if cpu_bf16() == "AMX" else 1.0



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

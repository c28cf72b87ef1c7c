"""The settings sagewiz suggests for a dataset, and why, in a beginner's words.

What a beginner brings is usually a few hundred photos. Trained from nothing, a network learns
little from so few; started from one already trained on ImageNet (transfer learning, the
algorithm's ``use_pretrained_model=1``), it needs only to learn what tells these classes apart, in
a few epochs at a small learning rate. So photographs get transfer learning wherever pretrained
weights are at hand: always on SageMaker (the algorithm has them), and on this computer once a
pretrained network is installed (``sagewiz pretrained``). Small pictures (digits, icons) keep the
small-image network trained from nothing, which suits them and is fast on a CPU.
"""

from __future__ import annotations

from sagewiz.core.errors import InputError
from sagewiz.core.hyperparams import Hyperparameters, _schedule

# sagewiz's own thresholds (not SageMaker rules)
PHOTO_MIN_SIDE = 64  # pictures larger than this are photographs: the 224-pixel network suits them
CPU_SMALL_DATASET = 10_000  # from nothing, fewer pictures than this train the 224-pixel network too slowly on a CPU
DEEPER_FROM = 10_000  # on a GPU, this many training pictures justify a deeper pretrained network
TRANSFER_DEPTH, DEEPER_DEPTH = 18, 50
_SMALL_SHAPE, _SMALL_RESIZE = "3,28,28", 32   # CIFAR-style: shorter side 32, random/centre 28 crop
_LARGE_SHAPE, _LARGE_RESIZE = "3,224,224", 256  # ImageNet-style: shorter side 256, 224 crop
# fine-tuning: few epochs, a learning rate a tenth of training from nothing (the weights are good already)
TRANSFER_EPOCHS = {"gpu": 8, "cpu": 5}
TRANSFER_LEARNING_RATE = 0.01


def is_gpu(device: str) -> bool:
    return device.lower() != "cpu"


def photographs(image_size: tuple[int, int] | None) -> bool:
    """Whether pictures whose smallest is ``image_size`` (width, height) are photographs (unknown: no)."""
    return image_size is not None and max(image_size) > PHOTO_MIN_SIDE


def suggest(num_classes: int, num_training_samples: int, smallest_class: int,
            image_size: tuple[int, int] | None = None, *, device: str = "cpu",
            max_mini_batch_size: int = 32, pretrained: bool = False, mixed_precision: bool = False) -> Hyperparameters:
    """Settings that fit a dataset, for a beginner to start from.

    ``image_size`` is (width, height) of the smallest picture, if known; ``device`` is where
    training runs ("cpu", "cuda"…); ``pretrained`` whether ImageNet weights for ResNet-18 are at
    hand there (always on SageMaker). The choices, and why (:func:`reasons` says them):

    * mini_batch_size: the largest power of two that is at most ``max_mini_batch_size`` (32,
      the algorithm's default), at most ``num_training_samples`` (SageMaker fails the job
      otherwise), and at most ``smallest_class``: on a small dataset smaller batches mean more
      updates per epoch.
    * photographs with pretrained weights at hand: transfer learning — use_pretrained_model=1,
      ResNet-18 (50 on a GPU with 10,000 pictures or more) at 3,224,224, resize 256, few epochs at
      learning rate 0.01.
    * otherwise from nothing: the small-image ResNet-20 at 3,28,28 when pictures are at most 64
      pixels, or on a CPU with fewer than 10,000 pictures (a 224-pixel network would take hours
      there); else ResNet-18 at 3,224,224. ``resize`` is always set (32 or 256) so every picture
      is scaled to just above the crop instead of being cropped to a tiny patch.
    * a step schedule at half and three quarters of training; top_k when there are more than two
      classes.
    * precision_dtype=float16 when ``mixed_precision`` (training runs where mixed precision is
      faster: :func:`mixed_precision_pays`), else the algorithm's float32.

    Raises :class:`~sagewiz.core.errors.InputError` for counts that can't describe a dataset.
    """
    if not 1 <= smallest_class <= num_training_samples:
        raise InputError(
            f"The smallest class must have between 1 and {num_training_samples} training pictures; got {smallest_class}.",
            hint="Every class needs at least one training picture; check the dataset first.")
    batch = 1
    while batch * 2 <= min(max_mini_batch_size, num_training_samples, smallest_class):
        batch *= 2
    common = dict(num_classes=num_classes, num_training_samples=num_training_samples, mini_batch_size=batch,
                  top_k=min(5, num_classes - 1) if num_classes > 2 else None,
                  precision_dtype="float16" if mixed_precision else "float32")
    if pretrained and photographs(image_size):
        epochs = TRANSFER_EPOCHS["gpu" if is_gpu(device) else "cpu"]
        depth = DEEPER_DEPTH if is_gpu(device) and num_training_samples >= DEEPER_FROM else TRANSFER_DEPTH
        return Hyperparameters(**common, use_pretrained_model=True, num_layers=depth, image_shape=_LARGE_SHAPE,
                               resize=_LARGE_RESIZE, epochs=epochs, learning_rate=TRANSFER_LEARNING_RATE,
                               lr_scheduler_step=_schedule(epochs))
    tiny = image_size is not None and not photographs(image_size)
    small = tiny or (not is_gpu(device) and num_training_samples < CPU_SMALL_DATASET)
    epochs, learning_rate = (20, 0.05) if small else (10, 0.01)
    return Hyperparameters(
        **common, num_layers=20 if small else 18, image_shape=_SMALL_SHAPE if small else _LARGE_SHAPE,
        resize=_SMALL_RESIZE if small else _LARGE_RESIZE, epochs=epochs, learning_rate=learning_rate,
        lr_scheduler_step=_schedule(epochs))


def reasons(hp: Hyperparameters, image_size: tuple[int, int] | None, *, device: str = "cpu",
            pretrained: bool = False, local: bool = True) -> list[str]:
    """Why ``hp`` (as :func:`suggest` made it) suits these pictures, a sentence each: the network
    and its start, and, on this computer without a pretrained network for photographs, what
    transfer learning would need and what to expect meanwhile."""
    size = f"{image_size[0]}×{image_size[1]}" if image_size else ""
    side = hp.image_shape_tuple[1]
    said = []
    if hp.use_pretrained_model:
        said.append(f"Your pictures are big, as photos are (the smallest is {size} pixels), so the model starts from a ResNet-{hp.num_layers} "
                    f"already trained on ImageNet's 1.2 million photos and only learns what tells your classes apart "
                    f"(transfer learning, use_pretrained_model=1): good results from a few hundred pictures, in {hp.epochs} "
                    f"epochs at the small learning rate {hp.learning_rate:g}, with pictures resized to {hp.resize} and cropped "
                    f"to {side}×{side}.")
    elif photographs(image_size) and local and not pretrained:
        said.append(f"Your pictures are big, as photos are (the smallest is {size} pixels), but no pretrained network is installed on "
                    f"this computer, so the model learns from nothing: ResNet-{hp.num_layers} at {side}×{side}, "
                    + ("quick on a CPU; expect a modest accuracy on photos (a few hundred pictures teach a network little from "
                       "nothing)." if side <= 28 else "slow on a CPU."))
        said.append(f"Transfer learning does much better: `sagewiz pretrained download {TRANSFER_DEPTH}` installs ImageNet weights "
                    "(45 MB), or train on SageMaker, which has them.")
    elif image_size is not None and not photographs(image_size):
        said.append(f"Your pictures are small (the smallest is {size} pixels), so the small-image ResNet-{hp.num_layers} at "
                    f"{side}×{side} fits them, learning from nothing in {hp.epochs} epochs.")
    else:
        said.append(f"ResNet-{hp.num_layers} at {side}×{side}, learning from nothing in {hp.epochs} epochs.")
    said.append(f"mini_batch_size {hp.mini_batch_size}: the most that fits your smallest class and the algorithm's default of 32.")
    if hp.precision_dtype == "float16" and local:
        said.append("precision_dtype float16: " + ("this computer's GPU trains in mixed precision (float16 on its tensor cores), "
                    "faster to the same accuracy." if is_gpu(device) else _bfloat16_reason(side)))
    return said


# ---- for a checked dataset ---------------------------------------------------------------------

def suggest_for(report, device: str = "cpu", *, prepared=None, seed: int = 0, backend: str = "local"):
    """The settings sagewiz suggests for a checked dataset (the wizard shows them, ``run`` starts
    from them), counting the pictures training will get: those ``prepared`` packed when the
    pictures are packed already, else those the packing with ``seed`` will keep for training
    (core/prepare.py holds a tenth of each class out for validation). Photographs get transfer
    learning where pretrained weights are at hand on ``backend`` (:func:`pretrained_at_hand`)."""
    pictures, smallest, size = _dataset_figures(report, prepared, seed)
    hp = suggest(len(report.classes), pictures, smallest, size, device=device, pretrained=pretrained_at_hand(backend))
    # the network's picture size first: whether mixed precision pays here depends on it
    return hp.replace(precision_dtype="float16") if mixed_precision_pays(backend, device, hp.image_shape_tuple[1]) else hp


def mixed_precision_pays(backend: str, device: str, side: int = 224) -> bool:
    """Whether precision_dtype=float16 trains faster where training runs, for pictures of
    ``side`` px: on this computer's GPU, or its CPU where bfloat16 measured faster than float32
    (core/local/mixed_precision.py; before it is measured, with AMX). On SageMaker the
    algorithm's float32 is kept, as its examples do."""
    if backend != "local":
        return False
    if is_gpu(device):
        return True
    from sagewiz.core.local.mixed_precision import on_this_cpu

    return on_this_cpu(side).bfloat16


def _bfloat16_reason(side: int) -> str:
    from sagewiz.core.local.mixed_precision import on_this_cpu

    choice = on_this_cpu(side)
    if not choice.bfloat16:  # asked for by the user rather than suggested
        why = (f"bfloat16 measured {choice.measured:.2f}× float32's speed here" if choice.measured else
               "it has no bfloat16 instructions" if not choice.instructions else "bfloat16's speed isn't measured yet")
        return f"this computer's CPU trains it in float32 ({why}), the same model at float32's speed."
    if choice.measured and choice.measured >= 1:
        return (f"mixed precision (bfloat16, on this CPU's {choice.instructions}) trained {choice.measured:.1f}× faster than "
                "float32 when measured here, to the same accuracy.")
    if choice.instructions == "AMX":
        return "this computer's CPU has AMX, on which mixed precision (bfloat16) trains about 2–3× faster than float32, to the same accuracy."
    return f"bfloat16 on this CPU's {choice.instructions}, as SAGEWIZ_BF16_TRAINING=1 asks."


def suggestion_reasons(report, hyperparameters, device: str = "cpu", *, backend: str = "local",
                       instance: str | None = None) -> list[str]:
    """Why the suggested ``hyperparameters`` suit the checked pictures, a sentence each; with
    ``instance`` (where training runs: "local-cpu", "ml.g4dn.xlarge"…) also how long they take."""
    from sagewiz.core.estimates import training_time

    said = reasons(hyperparameters, _smallest_size(report), device=device, pretrained=pretrained_at_hand(backend),
                   local=backend == "local")
    if instance is not None:
        said.append(f"These settings take {training_time(hyperparameters, instance)}.")
    return said


def pretrained_at_hand(backend: str) -> bool:
    """Whether ImageNet weights for the suggested ResNet-18 are there for ``backend``: always on
    SageMaker (the algorithm has them); on this computer when ``sagewiz pretrained`` installed them."""
    if backend != "local":
        return True
    from sagewiz.core.model.pretrained import find_pretrained

    return find_pretrained(TRANSFER_DEPTH, (3, 224, 224)) is not None


def _smallest_size(report) -> tuple[int, int] | None:
    return (report.width_range[0], report.height_range[0]) if report.width_range and report.height_range else None


def _dataset_figures(report, prepared, seed: int) -> tuple[int, int, tuple[int, int] | None]:
    from sagewiz.core.prepare import training_pictures_per_class

    if prepared is not None:
        pictures, smallest = prepared.counts["train"], prepared.smallest_training_class or prepared.counts["train"]
    else:
        per_class = training_pictures_per_class(report, seed)
        pictures, smallest = sum(per_class.values()), min(per_class.values())
    return pictures, smallest, _smallest_size(report)

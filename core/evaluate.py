"""Evaluation: how well a deployed model does on the test images, the same way on both backends.

:func:`evaluate` sends every test image through a ``predict`` function (the local endpoint's or
SageMaker's) and tallies accuracy, top-k accuracy, per-class precision/recall/F1, the confusion
matrix and the images it got wrong, most confidently wrong first — those are the ones worth
looking at. Requests go out from a thread pool so the endpoint can batch them.

No torch here: the aws backend evaluates through HTTP alone.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

from sagewiz.core.backend import Prediction, Progress
from sagewiz.core.errors import InputError, WizardError

DEFAULT_TOP_K = 5
DEFAULT_WORKERS = 8  # enough requests in flight for the endpoint to fill a batch

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ImageRejectedError(WizardError):
    """The endpoint refused one image (not an image, too big, a content type it doesn't take).

    A ``predict`` function raises this for a problem with that image alone; evaluation reports
    the image and carries on. Any other WizardError (the endpoint is down) stops evaluation."""

    default_title = "Image refused"


@dataclass(frozen=True)
class ClassScore:
    """How the model does on one class. Precision is 0.0 for a class it never predicts;
    recall is 0.0 for a class with no test images (support 0)."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int  # test images whose true label is this class


@dataclass(frozen=True)
class Misclassified:
    """A test image the model got wrong, with how sure it was of its wrong answer."""

    path: str
    true_label: int
    predicted_label: int
    confidence: float  # the probability it gave ``predicted_label``
    true_class: str
    predicted_class: str


@dataclass(frozen=True)
class UnreadableImage:
    """A test image that could not be evaluated, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Evaluation:
    """The model's results on the test images that could be evaluated (accuracies are 0.0
    when none could)."""

    class_names: tuple[str, ...]
    evaluated: int
    accuracy: float
    top_k: int
    top_k_accuracy: float
    per_class: tuple[ClassScore, ...]
    confusion: tuple[tuple[int, ...], ...]  # confusion[true][predicted]
    misclassified: tuple[Misclassified, ...]  # most confidently wrong first
    unreadable: tuple[UnreadableImage, ...] = ()

    @property
    def macro_f1(self) -> float:
        """F1 averaged over classes with test images (every class counts the same)."""
        scored = [score.f1 for score in self.per_class if score.support]
        return sum(scored) / len(scored) if scored else 0.0

    def to_dict(self) -> dict:
        """Plain JSON-ready data, for ``--json`` output and reports."""
        data = asdict(self)
        data["class_names"] = list(self.class_names)
        data["confusion"] = [list(row) for row in self.confusion]
        data["macro_f1"] = self.macro_f1
        return data


def content_type_of(data: bytes) -> str:
    """The Content-Type for an image's bytes, from its magic number: image/jpeg, image/png,
    or application/x-image (let the endpoint decide) for anything else."""
    if data.startswith(_JPEG_MAGIC):
        return "image/jpeg"
    if data.startswith(_PNG_MAGIC):
        return "image/png"
    return "application/x-image"


def evaluate(
    images: Sequence[tuple[str | os.PathLike, int]],
    predict: Callable[[bytes, str], Prediction],
    class_names: Sequence[str],
    *,
    top_k: int = DEFAULT_TOP_K,
    progress: Progress | None = None,
    workers: int = DEFAULT_WORKERS,
) -> Evaluation:
    """Predict every ``(path, true_label)`` through ``predict(image_bytes, content_type)`` and
    score the answers against ``class_names`` (in label order).

    ``top_k`` is capped at the number of classes. ``progress(done, total)`` is called after
    each image. A file that can't be read, or that the endpoint refuses
    (:class:`ImageRejectedError`), is listed in ``unreadable``; it doesn't stop the rest.

    Raises InputError for a label outside ``class_names`` or bad ``top_k``/``workers``, and
    WizardError when ``predict`` fails for a reason beyond one image (the endpoint is down) or
    answers with a different number of classes than ``class_names``.
    """
    names = tuple(str(name) for name in class_names)
    n = len(names)
    if n < 1:
        raise InputError("There are no class names to evaluate against.", hint="Pass the dataset's classes in label order.")
    if top_k < 1 or workers < 1:
        raise InputError(f"top_k ({top_k}) and workers ({workers}) must both be at least 1.")
    items = [(os.fspath(path), int(label)) for path, label in images]
    for path, label in items:
        if not 0 <= label < n:
            raise InputError(f"{path} has label {label}, but there are only {n} classes (0–{n - 1}).",
                             hint="Evaluate with the class names of the dataset the model was trained on.")
    k = min(top_k, n)

    answers: dict[int, Prediction] = {}
    unreadable: dict[int, UnreadableImage] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="evaluate") as pool:
        futures = {pool.submit(_predict_one, path, predict): index for index, (path, _) in enumerate(items)}
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                index = futures[future]
                answer = future.result()  # a WizardError beyond this image propagates from here
                if isinstance(answer, UnreadableImage):
                    unreadable[index] = answer
                else:
                    if len(answer.probabilities) != n:
                        raise WizardError(
                            f"The endpoint answered {len(answer.probabilities)} probabilities for {items[index][0]}, "
                            f"but the test set has {n} classes.",
                            title="Model and test set don't match",
                            hint="Evaluate the model on the test split of the dataset it was trained on.")
                    answers[index] = answer
                if progress:
                    progress(done, len(items))
        finally:
            for future in futures:  # on an error, don't send the rest
                future.cancel()
    return _score(items, answers, [unreadable[i] for i in sorted(unreadable)], names, k)


def _predict_one(path: str, predict: Callable[[bytes, str], Prediction]) -> Prediction | UnreadableImage:
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        return UnreadableImage(path, f"can't read the file: {error.strerror or error}")
    if content_type_of(data) == "application/x-image":
        data = _as_jpeg(data)
    try:
        return predict(data, content_type_of(data))
    except ImageRejectedError as error:
        return UnreadableImage(path, f"the endpoint refused it: {error.message}")


def _as_jpeg(data: bytes) -> bytes:
    """A WebP, HEIC, BMP… test picture as the JPEG it was packed as for training (the algorithm's
    endpoint reads only JPEG and PNG); anything else as it is, for the endpoint to judge."""
    from sagewiz.core.dataset.packer import PackOptions, UnusableImage
    from sagewiz.core.dataset.reencode import convert_to_jpeg

    try:
        return convert_to_jpeg(data, PackOptions())[0]
    except UnusableImage:
        return data


def _score(items: list[tuple[str, int]], answers: dict[int, Prediction], unreadable: list[UnreadableImage],
           names: tuple[str, ...], k: int) -> Evaluation:
    n = len(names)
    confusion = [[0] * n for _ in range(n)]
    correct = in_top_k = 0
    wrong: list[Misclassified] = []
    for index in sorted(answers):
        path, true = items[index]
        ranked = answers[index].top(k)
        predicted, confidence = ranked[0]
        confusion[true][predicted] += 1
        correct += predicted == true
        in_top_k += any(label == true for label, _ in ranked)
        if predicted != true:
            wrong.append(Misclassified(path, true, predicted, float(confidence), names[true], names[predicted]))
    wrong.sort(key=lambda m: (-m.confidence, m.path))
    evaluated = len(answers)
    per_class = []
    for c in range(n):
        true_positive = confusion[c][c]
        support = sum(confusion[c])
        predicted_as_c = sum(row[c] for row in confusion)
        precision = true_positive / predicted_as_c if predicted_as_c else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(ClassScore(names[c], precision, recall, f1, support))
    return Evaluation(
        class_names=names,
        evaluated=evaluated,
        accuracy=correct / evaluated if evaluated else 0.0,
        top_k=k,
        top_k_accuracy=in_top_k / evaluated if evaluated else 0.0,
        per_class=tuple(per_class),
        confusion=tuple(tuple(row) for row in confusion),
        misclassified=tuple(wrong),
        unreadable=tuple(unreadable),
    )

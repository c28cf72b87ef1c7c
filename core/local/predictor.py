"""Many pictures predicted on this computer from a model archive, in batches, with no endpoint.

The pictures are read and prepared on a few threads (Pillow releases the GIL while it decodes)
while this thread runs the network on the batch before: decoding overlaps the forward passes
instead of taking turns with them. Preparing a picture and running the network are the local
endpoint's own functions (:func:`sagewiz.core.local.pictures.preprocess_for`,
:func:`sagewiz.core.local.batching.forward`), so a picture gets the probabilities the endpoint
would answer for it, without a request per picture.

All torch work happens on the thread that made the :class:`ArchivePredictor` (see
:class:`sagewiz.core.local.batching.Batcher` for why a second thread running torch is slow).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from sagewiz.core.local.cores import usable_cores
from sagewiz.core.evaluate import UnreadableImage

DEFAULT_BATCH = 64  # pictures per forward pass; 28-px ones gain up to here, photos little past 16
Progress = Callable[[int], None]  # called with the number of pictures just finished


@dataclass(frozen=True)
class PicturePrediction:
    """One picture's answer: its probabilities in label order, as the endpoint answers them."""

    path: str
    probabilities: tuple[float, ...]


class ArchivePredictor:
    """A model archive (either kind) loaded once and ready to predict folders of pictures.
    ``class_names`` (the run's) win over the archive's own; ``device`` "auto" is CUDA when there is
    one; ``form`` is the network's inference form that answers (its ``said`` tells how it runs).
    Raises ArtifactError or ModelFileError for an archive it can't use."""

    def __init__(self, archive: str | os.PathLike, *, class_names: Sequence[str] | None = None, device: str = "auto",
                 batch_size: int = DEFAULT_BATCH, workers: int | None = None):
        from sagewiz.core.local.batching import is_multi_label, load_for_inference
        from sagewiz.core.local.limits import DEFAULT_PIXEL_BUDGET, PixelBudget
        from sagewiz.core.local.pictures import preprocess_for
        from sagewiz.core.model.archive import ArtifactError

        self.info, self.form, self.device = load_for_inference(Path(archive), device, class_names)
        try:
            self._preprocess = preprocess_for(self.info, PixelBudget(DEFAULT_PIXEL_BUDGET))
        except ValueError as error:  # a resize hyperparameter that isn't a size
            raise ArtifactError(f"{Path(archive).name} can't be used to predict: {error}") from None
        self._multi_label = is_multi_label(self.info)
        self.batch_size = max(1, int(batch_size))
        # one decoder per core: they sleep in file reads and overlap the forward pass, which uses every core anyway
        self.workers = max(1, workers if workers is not None else usable_cores())

    def predict(self, paths: Iterable[str | os.PathLike], progress: Progress | None = None
                ) -> Iterator[PicturePrediction | UnreadableImage]:
        """Each picture's :class:`PicturePrediction`, in the order given; a file that can't be read
        or isn't a picture this model can take is an :class:`UnreadableImage` with the reason,
        and the rest go on. ``progress(n)`` after each batch (and each unreadable file)."""
        from sagewiz.core.ordered import ordered_map
        from sagewiz.core.local.batching import forward

        batch: list[tuple[str, bytes]] = []
        for path, prepared in ordered_map(self._prepare, (os.fspath(p) for p in paths), self.workers, window=2 * self.batch_size):
            if isinstance(prepared, UnreadableImage):
                if progress:
                    progress(1)
                yield prepared
                continue
            batch.append((path, prepared))
            if len(batch) == self.batch_size:
                yield from self._run(batch, forward, progress)
                batch = []
        if batch:
            yield from self._run(batch, forward, progress)

    def _run(self, batch, forward, progress) -> Iterator[PicturePrediction]:
        rows = forward(self.form, [pixels for _, pixels in batch], self.info.image_shape, self.device, self._multi_label)
        if progress:
            progress(len(batch))
        for (path, _), row in zip(batch, rows):
            yield PicturePrediction(path, tuple(row))

    def _prepare(self, path: str) -> tuple[str, bytes | UnreadableImage]:
        """The picture's pixels as the network takes them (on a decoding thread: Pillow only)."""
        from sagewiz.core.local.pictures import RequestProblem

        try:
            with open(path, "rb") as file:
                data = file.read()
        except OSError as error:
            return path, UnreadableImage(path, f"can't read the file: {error.strerror or error}")
        if not data:
            return path, UnreadableImage(path, "empty file (0 bytes)")
        try:
            return path, self._preprocess(data)
        except RequestProblem as problem:
            # the endpoint's words are about a request's body; here the body is the user's file
            return path, UnreadableImage(path, problem.error.replace("The body is", "It is", 1).replace("this endpoint", "sagewiz"))

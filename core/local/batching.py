"""The local endpoint's batching: the model runs concurrent requests as one forward pass.

The HTTP server's decoding threads (:mod:`sagewiz.core.local.http_server`) preprocess each
request's picture and :meth:`Batcher.submit` the pixels; the main thread, which runs the model, takes
what has queued up, runs it as one batch and hands each request its row of probabilities
through a Future.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

WAKE_S = 0.2  # how long the model's thread waits for work before looking at signals again


@dataclass
class Stats:
    """Counters behind ``GET /stats``; written under ``lock``."""

    predictions: int = 0
    batches: int = 0
    largest_batch: int = 0
    incoming: int = 0  # images whose body is being read or decoded right now
    errors: dict[str, int] = field(default_factory=dict)
    runs_as: str = ""  # the inference form that answers (InferenceForm.said), once loaded
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict:
        with self.lock:
            return {"predictions": self.predictions, "batches": self.batches, "largest_batch": self.largest_batch,
                    "incoming": self.incoming, "errors": dict(self.errors), "runs_as": self.runs_as}


class Batcher:
    """The model's side of the endpoint: it loads the model, then runs the queued images as batches.

    After taking the first image it takes everything already queued, and waits only while
    other images are still being read or decoded, so a lone client never waits for company
    that isn't coming. It waits at most ``wait_s`` or as long as the last forward pass took,
    whichever is longer: an image that would otherwise need a forward pass of its own is
    worth waiting that long for (with 8 clients and a fixed 2 ms, ResNet-18's batches split
    in two while the rest were still being decoded, costing 25% of the throughput).

    All torch work happens on one thread, loading included: the process's main thread, which
    calls :meth:`load` and then :meth:`run` (the endpoint serves HTTP from other threads). With
    OpenMP, every thread that runs parallel torch code gets its own team of worker threads, and
    torch work on a thread other than the main one is slower as soon as the main thread has
    done any: a 3x3 convolution at 28 px, batch 8, two threads, took 110 us on a thread of its
    own, 143 us once the main thread had set torch's thread count and 234 us once it had run
    one parallel operation, against 107 us on the main thread. The decoding threads therefore hand
    over plain RGB bytes, not tensors.
    """

    def __init__(self, model_path: Path, device: str, stats: Stats, max_batch: int, wait_s: float):
        self.model_path, self.device = model_path, device
        self.stats, self.max_batch, self.wait_s = stats, max_batch, wait_s
        self.info = None  # ModelInfo, once loaded
        self.form = None  # the InferenceForm that answers, once loaded
        self._last_forward_s = 0.0
        self._queue: queue.Queue = queue.Queue()

    def load(self):
        """Load the model on this thread, which then calls :meth:`run`; returns its ModelInfo.
        Raises what loading raised (ArtifactError, or ValueError/RuntimeError)."""
        info, form, self.device = load_for_inference(self.model_path, self.device)
        self.info, self.form = info, form
        with self.stats.lock:
            self.stats.runs_as = form.said
        return info

    def stop(self) -> None:
        """:meth:`run` returns once it has answered the images queued before this (any thread)."""
        self._queue.put(None)

    def submit(self, pixels: bytes) -> Future:
        """Queue one preprocessed image (H×W×3 RGB bytes); the future gets its probabilities."""
        future: Future = Future()
        self._queue.put((pixels, future))
        return future

    def _collect(self, first) -> list:
        batch, deadline = [first], time.monotonic() + max(self.wait_s, self._last_forward_s)
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if self.stats.incoming <= 0 or remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=min(remaining, 0.05)))
            except queue.Empty:
                continue  # look at `incoming` again
        # An image queued between the last look and `incoming` reaching 0 is in the queue now
        # (decoding threads queue before they count down): take it rather than leave it for later.
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if None in batch:  # stop() raced in: finish this batch, then stop
            batch.remove(None)
            self._queue.put(None)
        return batch

    def _next(self):
        """The next queued image (or the stop), waiting in short naps: a signal the kernel hands to
        another thread (the HTTP one, torch's) only runs its Python handler once the main thread
        wakes, and a wait without a timeout never does (a SIGTERM left an endpoint serving on)."""
        while True:
            try:
                return self._queue.get(timeout=WAKE_S)
            except queue.Empty:
                continue

    def run(self) -> None:
        """Answer queued images in batches until :meth:`stop`, on the thread that loaded the model."""
        model = self.form
        multi_label = is_multi_label(self.info)
        while (first := self._next()) is not None:
            batch = self._collect(first)
            if not batch:
                continue
            futures = [future for _, future in batch]
            started = time.perf_counter()
            try:
                rows = forward(model, [pixels for pixels, _ in batch], self.info.image_shape, self.device, multi_label)
                self._last_forward_s = time.perf_counter() - started
            except Exception as error:  # noqa: BLE001 - every waiting request must hear about it
                for future in futures:
                    future.set_exception(error)
                continue
            with self.stats.lock:
                self.stats.batches += 1
                self.stats.predictions += len(rows)
                self.stats.largest_batch = max(self.stats.largest_batch, len(rows))
            for future, row in zip(futures, rows):
                future.set_result(row)


def load_for_inference(model_path: Path, device: str = "auto", class_names=None):
    """(ModelInfo, the network's inference form on ``device``, the device's name) of a model
    archive, ready to answer: ``device`` "auto" is CUDA when there is one. The form
    (:func:`sagewiz.core.local.inference.inference_form`: BatchNorm folded, oneDNN's kernels, the
    faster precision) is built, checked and warmed up here rather than by the first picture; its
    ``said`` tells how it runs. Call this on the thread that will run :func:`forward`. Raises
    ArtifactError/ModelFileError, or torch's errors for a bad device."""
    import torch

    from sagewiz.core.local.artifact import load_model
    from sagewiz.core.local.inference import inference_form

    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    info, model = load_model(model_path, class_names=class_names)
    return info, inference_form(model.to(device), info.image_shape, device, multi_label=is_multi_label(info)), device


def is_multi_label(info) -> bool:
    """Whether the model answers each class on its own (sigmoid) rather than one of them (softmax)."""
    return str(info.hyperparameters.get("multi_label", "0")).strip() == "1"


def forward(model, pictures: list[bytes], image_shape: tuple[int, int, int], device: str, multi_label: bool) -> list[list[float]]:
    """The probabilities, in label order, that ``model`` (the inference form
    :func:`load_for_inference` gives, or any network) gives preprocessed pictures (H×W×3 RGB bytes
    each, as :func:`sagewiz.core.local.pictures.make_preprocess` makes them) run as one batch: what
    the endpoint answers and ``sagewiz predict`` prints come from this one function."""
    import torch

    from sagewiz.core.local.transforms import batch_to_float

    _, height, width = image_shape
    with torch.inference_mode():
        pixels = torch.frombuffer(bytearray(b"".join(pictures)), dtype=torch.uint8)
        # N×H×W×3 bytes viewed as N×3×H×W: already the channels_last layout the model takes.
        images = pixels.view(len(pictures), height, width, 3).permute(0, 3, 1, 2)
        logits = model(batch_to_float(images).to(device)).float()
        probs = torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=1)
    return probs.cpu().tolist()

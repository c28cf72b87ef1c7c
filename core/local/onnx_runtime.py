"""ONNX Runtime as a float32 inference form: the folded network exported to ONNX and run by
ONNX Runtime's own CPU kernels (MLAS), where that measures faster than TorchScript's oneDNN form.

Alternated with that form on a 2-core Zen 5 VM (2026-12-04, float32, 2 threads): ResNet-20/28
answered 6,084 against 3,468 images/s in batches of 8 (what the endpoint runs under load) and
5,710 against 4,287 in batches of 32; ResNet-18/224 125 against 110 in batches of 16, where
MXNet answers 118–129 (docs/benchmarks.md). Exporting and starting a session cost 0.05–0.5 s at
load. Whether it answers is measured at load like bfloat16 (:mod:`sagewiz.core.local.inference`),
and its answers are held to float32's 1e-5 there; without the onnxruntime package the
TorchScript form answers.

Threads. ONNX Runtime's pool and torch's (OpenMP) both spin for a while after each run, so with
both at two threads on two cores, torch's small steps around each batch (the pictures to float,
the softmax) and ONNX Runtime's run waited on each other: batches of 8 with their decoding ran
1,205–1,437 images/s, and 2,946–3,325 with torch kept to one thread. So where this form answers,
torch keeps one thread and the thread chooser (:mod:`sagewiz.core.local.threads`) steers this
pool (:meth:`OnnxRuntimeNetwork.set_threads`). And its threads wait asleep rather than spinning:
in the endpoint, whose loop and decoding threads need the cores between batches, ResNet-20/28
answered 1,374–1,893 images/s over HTTP so, 1,131–1,603 spinning, and 938–1,359 with
TorchScript's form (alternated, 8 clients); a busy laptop's other programs need them too. A
batch loop with nothing else to do (``sagewiz predict``) loses some: 2,660–2,869 against 2,946–3,325.
A session's thread count is fixed when it starts, so there is one session per count the chooser
may ask for, all started and run once at load: one started while the forms were being timed
would have made this form look slower than it is.
"""

from __future__ import annotations

import io
import warnings

import torch
from torch import nn

INPUT, OUTPUT = "data", "logits"
OPSET = 17  # what torch's TorchScript exporter writes best; ONNX Runtime 1.16 and later read it


class OnnxRuntimeNetwork:
    """A network as ONNX Runtime runs it: call it with a float32 N×C×H×W batch for float32 logits,
    on :attr:`threads` threads."""

    def __init__(self, model: bytes, threads: int):
        self._model = model
        self._sessions: dict[int, object] = {}
        self.threads = threads

    def set_threads(self, threads: int) -> None:
        """Answer on ``threads`` threads from the next batch on (the thread chooser's switch)."""
        self.threads = max(1, threads)

    def session(self, threads: int):
        session = self._sessions.get(threads)
        if session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3  # errors only: its warnings aren't the user's business
            # Its threads wait asleep, not spinning: see the module's docstring
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = onnxruntime.InferenceSession(self._model, options, providers=["CPUExecutionProvider"])
            self._sessions[threads] = session
        return session

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        session = self.session(self.threads)
        # ONNX wants N×C×H×W rows in order; the pictures come channels-last (a copy of a few KB-MB)
        pixels = batch.detach().float().contiguous().numpy()
        return torch.from_numpy(session.run([OUTPUT], {INPUT: pixels})[0])


def onnx_runtime_network(network: nn.Module, probe: torch.Tensor) -> OnnxRuntimeNetwork:
    """``network`` (eval mode, float32, on the CPU) exported to ONNX for any batch size and ready
    to answer; ``probe`` is a batch of the pictures it answers. Raises ImportError without the
    onnxruntime package, or what exporting raises for a network the exporter can't write."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(network, (probe.contiguous(),), buffer, dynamo=False, opset_version=OPSET,
                          input_names=[INPUT], output_names=[OUTPUT], dynamic_axes={INPUT: {0: "pictures"}})
    from sagewiz.core.local.cores import usable_cores
    from sagewiz.core.local.threads import thread_counts

    cores = usable_cores()
    runtime = OnnxRuntimeNetwork(buffer.getvalue(), cores)
    pixels = probe.detach().float().contiguous().numpy()
    for threads in thread_counts(cores):  # each session's set-up and first pass, before any timing
        runtime.session(threads).run([OUTPUT], {INPUT: pixels})
    return runtime

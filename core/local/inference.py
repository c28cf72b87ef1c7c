"""The network as it answers predictions: an *inference form* of a trained model, built once when
the endpoint (and so evaluation, which asks the endpoint) or ``sagewiz predict`` loads it, whose
answers agree with the plain float32 network: probabilities within 1e-5 in float32 and 1e-2 in
bfloat16, the same top-1. Its ``said`` is the one line the endpoint's log and predict print.

* **BatchNorm folded into the convolution before it**, wherever that is exact. The network is the
  algorithm's pre-activation ResNet (v2, :mod:`sagewiz.core.local.resnet`; there is no v1 here):
  most of its BatchNorms *precede* a convolution, with a ReLU between (``bn1 → relu → conv1`` in
  every unit) or zero padding after (``bn_data → conv0``: the padded zeros would become
  ``-shift/scale``), or follow a sum or a max-pool, and are left as they are. Those that *follow*
  a convolution whose output nothing else reads are folded: ``conv1 → bn2`` in every unit,
  ``conv2 → bn3`` in bottleneck units, ``conv0 → bn0`` in the 7×7 stem and, with the 3×3 stem,
  ``conv0 → stage1_unit1.bn1``. A torch.fx trace finds them (a convolution with one reader, a
  BatchNorm reading it), so the rule is the graph's, not a list of names; torch's
  ``fuse_conv_bn_weights`` computes the new weights, here in float64. Folded: 10 of ResNet-20's
  20 BatchNorms, 9 of ResNet-18's 19 (18 with the 3×3 stem), 33 of ResNet-50's 51.
* **oneDNN's fused kernels**: the folded network traced, frozen and ``optimize_for_inference``'d
  by TorchScript keeps its activations in oneDNN's blocked layout from the first convolution to
  the pool instead of reordering them around each operation. Alternated on this shared 2-core
  machine (medians of 3 rounds): ResNet-20 at 28 px, batch 32, one thread, folding alone 1.25× the
  plain network, frozen 1.34×, optimised too 1.66×; ResNet-18 at 224 px, batch 16, two threads,
  1.15×, 1.18× and 1.29× (``benchmarks/bench_inference.py`` times the whole form). TorchScript's
  trace is deprecated in torch 2.13: where it fails the folded eager network answers, and the
  form says so. ``torch.compile`` (inductor, frozen weights) answered ResNet-20/28 at batch 32
  1.3× and 1.8× this form's speed on 1 and 2 threads, ResNet-18/224 1.16× and 1.07×, before the
  engine kept freed memory (:mod:`sagewiz.core.local.memory`, which alone made this form 1.6-2.3×
  faster at 28 px); but it compiled for 30 s on 2 cores (9 s with its cache warm) and again for
  each new batch size (2.7-5.7 s), where this form takes 0.2-0.4 s; compiled ahead of time
  (AOTInductor, any batch size) it was 1.2-1.4× this form, after 10-27 s of compiling and 2.3 s
  to load. Not used: a beginner's first prediction would wait half a minute.
* **ONNX Runtime where it is as fast or faster** (:mod:`sagewiz.core.local.onnx_runtime`): the
  folded network exported to ONNX and run by ONNX Runtime's own kernels, timed against the
  TorchScript form at load like bfloat16 below, and held to float32's 1e-5. On a Zen 5 VM it read
  1.13–1.45× at ResNet-20/28 (and answered the endpoint 1.4–1.7× as fast), 1.05–1.20× at
  ResNet-18/224; without the onnxruntime package the TorchScript form answers. bfloat16, where
  it is measured, is weighed against TorchScript's float32 form, not ONNX Runtime's: the probe is
  one picture at 224 px, where ONNX Runtime's kernels do best, while oneDNN's bfloat16 gains with
  the batch (on the Zen 5 VM bfloat16 lost the probe to ONNX Runtime at ResNet-18/224, and the
  benchmark's batches of 32 then ran at 0.96x MXNet's speed instead of the 1.5x bfloat16 gives).
  bfloat16's unsure pictures are answered again by TorchScript's float32 form, the one it was
  timed with.
* **bfloat16 where it is faster on this computer**, measured rather than assumed. On this
  machine's AVX-512 BF16 (no AMX) a bfloat16 convolution ran 0.5–0.7× as fast as float32 at one
  thread, and the bfloat16 form 0.3–0.5× (ResNet-20/28) and 0.4–0.9× (ResNet-18/224) at load; an
  earlier run here measured 1.46× for ResNet-18/224 under autocast at two threads but 0.69× for
  ResNet-20/28, and DESIGN.md 3.6× for ResNet-18/224 on a CPU with AMX; a Zen 5 VM's AVX-512 BF16
  (2026-12-04) read 1.66–1.73× at ResNet-18/224 and 1.20–1.30× at ResNet-20/28 at load, and
  answered 1.49–1.56× and 1.25–1.62× MXNet's speed (docs/benchmarks.md). No rule over depth and
  size survives that, so where the CPU has BF16 instructions
  (:func:`sagewiz.core.local.cores.cpu_bf16`; ``SAGEWIZ_NO_BF16=1`` forces float32) both
  forms are built and timed at load on the model's input size (:func:`probe_speed`), and bfloat16
  answers only when it reads at least 1.25× float32: a smaller gain is within what a busy
  computer's probe misreads, and not worth answers that differ in the third decimal. Building
  both and probing took 0.8 s for ResNet-20/28 (0.35 s for float32 alone) and 1.4–1.8 s for
  ResNet-18/224 (0.7 s) here, with others' jobs running. A model whose reading sits near 1.25×
  can load in either precision from one run to the next; ``SAGEWIZ_NO_BF16=1`` pins float32.
  The bfloat16 form computes its convolutions in bfloat16 and the rest in float32, and answers
  again in float32 each picture it is less than 90% sure of (:class:`SureOrAgain`): on a ResNet-20
  trained two epochs on the digits sample that kept its test answers within 0.005 of float32's
  with no top-1 changed, against 0.021 and 3 of 359 changed without.

Whatever is chosen, its answers on the probe pictures are compared with the plain network's at
load: a bfloat16 form outside 1e-2 gives way to the float32 one, a float32 one outside 1e-5 to
the plain network (ONNX Runtime's first to TorchScript's), and the form says so (outside: in
probability, and in logits as a share of the largest, see :func:`_answers_gap`). On CUDA the
form is the folded network in float32, untimed: there was no GPU to measure float16 on.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from sagewiz.core.local.threads import process_cpu_seconds

# At most this many pixels a probe pass: 10 pictures at 28 px (enough for a small net's per-batch
# overheads to show), 8 at 32 px (the 4-stage nets, 10× the work a pixel), one at 224 px (its
# ratio is the convolutions', which the batch size hardly changes).
PROBE_PIXELS = 8 * 32 * 32
PROBE_ROUNDS = 5  # pairs of passes at least; more while they take under PROBE_BUDGET_S, up to PROBE_MAX_ROUNDS
PROBE_MAX_ROUNDS = 15
PROBE_BUDGET_S = 0.2
REDUCED_MUST_BE_FASTER = 1.25  # bfloat16 must beat float32 by this much (see the docstring)
# ONNX Runtime answers where it is at least as fast as TorchScript by the probe's cautious reading:
# both answer in float32 within 1e-5, and the probe's passes, run back to back, undersell it (at
# 28 px it read 1.15-1.22x and answered the endpoint's requests 1.4-1.7x as fast).
ONNX_MUST_BE_FASTER = 1.0
FLOAT32_TOLERANCE = 1e-5  # on probabilities, against the plain float32 network
REDUCED_TOLERANCE = 1e-2
SURE = 0.9  # a bfloat16 answer less sure than this is answered again in float32 (see SureOrAgain)


@dataclass(frozen=True)
class Folding:
    """What folding did: the network with ``folded`` of its ``total`` BatchNorms in convolutions."""

    network: nn.Module
    folded: int
    total: int


def fold_batchnorms(model: nn.Module) -> Folding:
    """A copy of ``model`` (eval mode, float32) with every BatchNorm that directly follows a
    convolution read by nothing else folded into that convolution's weights and bias; the other
    BatchNorms stay. Exact up to float32 rounding. Raises what torch.fx raises for a network it
    can't trace (the callers fall back to the plain network)."""
    import torch.fx as fx
    from torch.nn.utils.fusion import fuse_conv_bn_weights

    from sagewiz.core.local.resnet import BN_EPS, BatchNorm

    class Tracer(fx.Tracer):
        def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
            return isinstance(module, BatchNorm) or super().is_leaf_module(module, qualified_name)

    model = copy.deepcopy(model).float().eval()
    network = fx.GraphModule(model, Tracer().trace(model))
    modules = dict(network.named_modules())
    folded = total = 0
    for node in list(network.graph.nodes):
        if node.op != "call_module" or not isinstance(modules[node.target], BatchNorm):
            continue
        total += 1
        source = node.args[0]
        if not (isinstance(source, fx.Node) and source.op == "call_module" and len(source.users) == 1
                and type(modules[source.target]) is nn.Conv2d and len(node.args) == 1 and not node.kwargs):
            continue
        bn, conv = modules[node.target], modules[source.target]
        weight, bias = fuse_conv_bn_weights(
            conv.weight.double(), None if conv.bias is None else conv.bias.double(),
            bn.moving_mean.double(), bn.moving_var.double(), BN_EPS,
            None if bn.fix_gamma else bn.gamma.double(), bn.beta.double())
        fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                          conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode)
        fused.weight = nn.Parameter(weight.float(), requires_grad=False)
        fused.bias = nn.Parameter(bias.float(), requires_grad=False)
        parent, _, name = source.target.rpartition(".")
        setattr(network.get_submodule(parent), name, fused)
        modules[source.target] = fused
        node.replace_all_uses_with(source)
        network.graph.erase_node(node)
        folded += 1
    network.graph.lint()
    network.delete_all_unused_submodules()
    network.recompile()
    network.requires_grad_(False)
    # channels_last, as build_resnet's network: oneDNN's convolutions are fastest on NHWC weights
    return Folding(network.to(memory_format=torch.channels_last).eval(), folded, total)


class _Bfloat16Convolution(nn.Module):
    """A convolution computed in bfloat16 between float32 neighbours: the BatchNorms, ReLUs and
    the residual sums around it stay float32, where bfloat16's 8-bit mantissa would add up."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.conv = copy.deepcopy(conv).to(torch.bfloat16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.to(torch.bfloat16)).float()


def with_bfloat16_convolutions(network: nn.Module) -> nn.Module:
    """A copy of ``network`` whose convolutions compute in bfloat16, everything between them in
    float32. On four ResNet-20s trained on the digits sample for one to four epochs, its answers
    on the test set were within 0.010–0.021 of float32's and swapped the top two of up to 3 of 359
    near-ties (torch.autocast, bfloat16 throughout: 0.015–0.021); keeping the first convolution in
    float32 helped one model and hurt two. The remaining gap is why :class:`SureOrAgain` exists."""
    network = copy.deepcopy(network).eval()
    for name in [name for name, module in network.named_modules() if type(module) is nn.Conv2d]:
        parent, _, attribute = name.rpartition(".")
        setattr(network.get_submodule(parent), attribute, _Bfloat16Convolution(network.get_submodule(name)))
    return network


def _frozen(network: nn.Module, example: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``network`` traced, frozen (weights as constants, prepacked) and optimised for inference
    by TorchScript: oneDNN's blocked layout end to end. Raises what TorchScript raises."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # "torch.jit is deprecated": the fallback covers its going
        traced = torch.jit.trace(network.eval(), example, check_trace=False)
        return torch.jit.optimize_for_inference(torch.jit.freeze(traced))


_CHOOSER = None  # one per process, as torch's thread pool is


def _threads():
    global _CHOOSER
    if _CHOOSER is None:
        from sagewiz.core.local.cores import usable_cores
        from sagewiz.core.local.threads import ThreadChooser

        _CHOOSER = ThreadChooser(usable_cores(), work="answer")
    return _CHOOSER


class _HeldThreads:
    """A thread chooser that never switches (:func:`hold_threads`)."""

    def __init__(self, count: int):
        self.count = count

    def record(self, *args, **kwargs) -> None:
        pass

    def steer(self, set_threads: Callable[[int], None]) -> None:
        set_threads(self.count)


def hold_threads(count: int) -> None:
    """Answer on ``count`` threads from now on, whatever this process's chooser would measure:
    for a yardstick that must not explore fewer threads now and then (benchmarks/bench_endpoint.py,
    where a round that did ran 1,709 images/s against 2,345)."""
    global _CHOOSER
    torch.set_num_threads(count)
    _CHOOSER = _HeldThreads(count)


def _answer_threads(form: InferenceForm) -> InferenceForm:
    """Give the pool that answers for ``form`` the chooser's thread count. Where ONNX Runtime
    answers, torch keeps one thread for the small steps around it (see
    :mod:`sagewiz.core.local.onnx_runtime`: two spinning pools on the same cores halved batches of
    8); otherwise torch's threads are the chooser's again."""
    from sagewiz.core.local.onnx_runtime import OnnxRuntimeNetwork

    if isinstance(form.run, OnnxRuntimeNetwork):
        torch.set_num_threads(1)
        _threads().steer(form.run.set_threads)
    else:
        _threads().steer(torch.set_num_threads)
    return form


@dataclass(frozen=True)
class InferenceForm:
    """The network as it answers: call it with a float32 N×C×H×W batch (0–255 pixels, as
    :func:`sagewiz.core.local.transforms.batch_to_float` makes it) for float32 logits."""

    run: Callable[[torch.Tensor], torch.Tensor]
    precision: str  # "float32" or "bfloat16"
    kernels: str  # "oneDNN fused kernels (TorchScript)", "eager", or "the plain network"
    folded: int = 0
    total: int = 0  # BatchNorms in the network
    measured: str = ""  # how the other precision did, when both were timed
    note: str = ""  # why something was left out ("" when nothing was)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if batch.device.type != "cpu":
            return self.run(batch)
        started, cpu = time.perf_counter(), process_cpu_seconds()
        answers = self.run(batch)
        # beside a busy program fewer threads can answer several times faster (benchmarks/
        # bench_vs_mxnet.py: 2 threads 79 images/s, where MXNet answered 1,325): measured, as training
        # does. The CPU time is the whole process's: the endpoint's decoding threads add theirs, which
        # can hide a stall but never invent one.
        _threads().record(time.perf_counter() - started, len(batch), cpu_seconds=process_cpu_seconds() - cpu)
        return answers

    @property
    def said(self) -> str:
        """One line for a log: which form and precision answer."""
        folding = f"{self.folded} of {self.total} BatchNorms folded into convolutions, " if self.total else ""
        precision = f"bfloat16 (convolutions; float32 around them and again for answers under {SURE:.0%} sure)" \
            if self.precision == "bfloat16" else self.precision
        line = f"runs as {precision}, {folding}{self.kernels}"
        if self.measured:
            line += f" ({self.measured})"
        return line + (f"; {self.note}" if self.note else "")


def inference_form(model: nn.Module, image_shape: tuple[int, int, int], device: str = "cpu", *,
                   precision: str | None = None, multi_label: bool = False) -> InferenceForm:
    """The inference form of ``model`` (a trained network in eval mode, on ``device``) for pictures
    of ``image_shape`` (C, H, W); ``multi_label`` says its answers are sigmoids (which answers are
    unsure). ``precision`` None chooses by measurement (see the module's docstring); "float32" or
    "bfloat16" asks for one (bfloat16 on a CPU only). Never raises for a network it can't
    transform: each step that fails falls back to the one before, and :attr:`InferenceForm.note`
    says which."""
    from sagewiz.core.local.cores import NO_BF16_VARIABLE, cpu_bf16

    if precision not in (None, "float32", "bfloat16"):
        raise ValueError(f"precision must be float32 or bfloat16, not {precision!r}")
    model = model.eval()
    probe = _probe_batch(image_shape, device)
    with torch.inference_mode():
        expected = model(probe).float()
    try:
        folding = fold_batchnorms(model)
    except Exception as error:  # noqa: BLE001 - a network torch.fx can't trace still answers
        return _plain(model, f"folding failed ({_short(error)})")
    folded = folding.network.to(device)
    if device != "cpu":
        eager = InferenceForm(folded, "float32", "eager", folding.folded, folding.total)
        return _checked([eager], model, probe, expected, multi_label)

    instructions = cpu_bf16()
    # torch at the chooser's count while forms are timed: a form ONNX Runtime answered with before
    # left it at one thread, and TorchScript then read 2.6x slower than it is
    _threads().steer(torch.set_num_threads)
    scripted = _scripted(folded, probe, "float32", folding)
    exact = _fastest_float32(scripted, folded, probe, folding)
    # Should the chosen form answer outside its tolerance: the float32 one, TorchScript's, then the plain network
    fallbacks = [scripted] if exact.kernels != scripted.kernels else []
    if precision == "float32" or (precision is None and not instructions):
        if precision is None:
            why = f"{NO_BF16_VARIABLE} is set" if os.environ.get(NO_BF16_VARIABLE, "").strip() not in ("", "0") \
                else "this CPU has no bfloat16 instructions"
            exact = _measured(exact, f"no bfloat16: {why}")
        return _answer_threads(_checked([exact, *fallbacks], model, probe, expected, multi_label))
    reduced = _scripted(with_bfloat16_convolutions(folded), probe, "bfloat16", folding)
    reduced = dataclasses.replace(reduced, run=SureOrAgain(reduced.run, scripted.run, multi_label))
    chosen = reduced if precision == "bfloat16" else _faster(exact, reduced, probe, instructions, against=scripted)
    return _answer_threads(_checked([chosen, *([exact] if chosen.precision != "float32" else []), *fallbacks],
                                    model, probe, expected, multi_label))


class SureOrAgain:
    """The bfloat16 network's answers where it is sure (top probability at least ``SURE``; for a
    multi-label model every class's at most 1 − SURE or at least SURE), the float32 network's for
    the other pictures, which are run again. bfloat16's rounding moves a logit by up to 0.1–0.2 on a
    trained ResNet-20, which moves an unsure picture's probabilities by up to 0.02 and can swap its
    top two; a sure picture's probabilities hardly move. ``answered_again`` counts those rerun."""

    def __init__(self, reduced: Callable[[torch.Tensor], torch.Tensor], exact: Callable[[torch.Tensor], torch.Tensor],
                 multi_label: bool):
        self.reduced, self.exact, self.multi_label = reduced, exact, multi_label
        self.answered_again = 0

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        logits = self.reduced(batch)
        if self.multi_label:
            probabilities = torch.sigmoid(logits)
            unsure = ((probabilities > 1 - SURE) & (probabilities < SURE)).any(1)
        else:
            unsure = torch.softmax(logits, 1).amax(1) < SURE
        again = int(unsure.sum())
        if again:
            self.answered_again += again
            logits = logits.clone()  # the reduced network's own output, not to be written into
            logits[unsure] = self.exact(batch[unsure].contiguous(memory_format=torch.channels_last))
        return logits


def _scripted(network: nn.Module, probe: torch.Tensor, precision: str, folding: Folding) -> InferenceForm:
    try:
        run = _frozen(network, probe)
        with torch.inference_mode():
            run(probe)
            run(probe)  # TorchScript optimises on its second call: pay it here, not on a picture
        return InferenceForm(run, precision, "oneDNN fused kernels (TorchScript)", folding.folded, folding.total)
    except Exception as error:  # noqa: BLE001 - eager still answers, only slower
        with torch.inference_mode():
            network(probe)  # oneDNN's set-up, before the timing
        return InferenceForm(network, precision, "eager", folding.folded, folding.total,
                             note=f"TorchScript failed ({_short(error)})")


def _fastest_float32(scripted: InferenceForm, network: nn.Module, probe: torch.Tensor, folding: Folding) -> InferenceForm:
    """TorchScript's float32 form, or ONNX Runtime's where that measures at least
    ONNX_MUST_BE_FASTER as fast on ``probe`` (and onnxruntime is installed), saying what was measured."""
    try:
        from sagewiz.core.local.onnx_runtime import onnx_runtime_network

        runtime = InferenceForm(onnx_runtime_network(network, probe), "float32", "ONNX Runtime's kernels (MLAS)",
                                folding.folded, folding.total, note=scripted.note)  # a TorchScript failure stays said
    except ImportError:
        return scripted  # the package is optional: TorchScript's form answers as before
    except Exception as error:  # noqa: BLE001 - a network the exporter can't write still answers
        failed = f"ONNX Runtime failed ({_short(error)})"
        return dataclasses.replace(scripted, note="; ".join(filter(None, [scripted.note, failed])))
    speed = probe_speed(scripted.run, runtime.run, probe)
    against = "the eager network's" if scripted.kernels == "eager" else "TorchScript's"
    said = f"ONNX Runtime measured {speed:.2f}× {against} speed at load"
    return _measured(runtime if speed >= ONNX_MUST_BE_FASTER else scripted, said)


def _faster(exact: InferenceForm, reduced: InferenceForm, probe: torch.Tensor, instructions: str, *,
            against: InferenceForm) -> InferenceForm:
    """The float32 form ``exact`` unless the bfloat16 one is clearly faster than ``against``
    (TorchScript's float32 form, of the same oneDNN kernels) on ``probe``, with what was measured."""
    speed = probe_speed(against.run, reduced.run, probe)
    said = f"bfloat16 on the CPU's {instructions} measured {speed:.2f}× TorchScript's float32 speed at load"
    chosen = reduced if speed >= REDUCED_MUST_BE_FASTER else exact
    return dataclasses.replace(chosen, measured="; ".join(filter(None, [exact.measured, said])))


def _measured(form: InferenceForm, said: str) -> InferenceForm:
    """``form`` with ``said`` added to what was measured to choose it."""
    return dataclasses.replace(form, measured="; ".join(filter(None, [form.measured, said])))


def probe_speed(first: Callable, second: Callable, probe: torch.Tensor) -> float:
    """How many times faster ``second`` runs ``probe`` than ``first``, as a busy computer can tell:
    passes alternated in pairs (a busy moment hits both), ``PROBE_ROUNDS`` of them or more while
    they take under ``PROBE_BUDGET_S``. The lesser of two estimates — the median ratio of a pair's
    times and the ratio of each one's best time — so that a neighbour slowing some passes of
    ``first`` can't make ``second`` look faster (the best of three passes alone once read 7× for a
    pair that reads 0.6× otherwise). Give it the forms' ``run``, not the forms: a form's passes go to
    the thread chooser, which could change the thread count between them (it did: ONNX Runtime
    read 1.06× TorchScript's speed once so, and 1.5–2.4× on fixed threads)."""
    times: tuple[list[float], list[float]] = ([], [])
    started = time.perf_counter()
    with torch.inference_mode():
        while len(times[0]) < PROBE_ROUNDS or (
                len(times[0]) < PROBE_MAX_ROUNDS and time.perf_counter() - started < PROBE_BUDGET_S):
            pair = (0, 1) if len(times[0]) % 2 == 0 else (1, 0)
            for which in pair:
                passed = time.perf_counter()
                (first, second)[which](probe)
                times[which].append(time.perf_counter() - passed)
    ratios = sorted(a / b for a, b in zip(*times))
    return min(ratios[len(ratios) // 2], min(times[0]) / min(times[1]))


def _checked(forms: list[InferenceForm], model: nn.Module, probe: torch.Tensor, expected: torch.Tensor,
             multi_label: bool) -> InferenceForm:
    """The first of ``forms`` whose answers on ``probe`` agree with the plain network's, else the
    plain network, saying which was dropped."""
    dropped = []
    for form in forms:
        tolerance = FLOAT32_TOLERANCE if form.precision == "float32" else REDUCED_TOLERANCE
        with torch.inference_mode():
            got = form(probe).float()
        if got.shape == expected.shape and _answers_gap(got, expected, multi_label) <= tolerance:
            return dataclasses.replace(form, note="; ".join([form.note, *dropped]).strip("; ")) if dropped else form
        dropped.append(f"the {form.precision} form answered outside {tolerance:g} of the plain network and was dropped")
    return _plain(model, "; ".join(dropped))


def _plain(model: nn.Module, note: str) -> InferenceForm:
    return InferenceForm(model, "float32", "the plain network", note=note)


def _answers_gap(logits: torch.Tensor, expected: torch.Tensor, multi_label: bool) -> float:
    """How far ``logits`` answer from ``expected``: the largest difference in probability, each
    class on its own (sigmoid) or one of them (softmax), or, where smaller, the largest difference
    in logits as a share of the largest logit. The second is rounding's own measure: an untrained
    network answers logits in the thousands, where float32's rounding (about 5e-7 of them) moves
    a near-tie's probabilities by more than 1e-5, as it would between two runs of the plain
    network on different thread counts; a form that is wrong is off by far more on both."""
    answer = torch.sigmoid if multi_label else (lambda x: torch.softmax(x, 1))
    probabilities = (answer(logits) - answer(expected)).abs().max().item()
    relative = (logits - expected).abs().max().item() / max(1.0, expected.abs().max().item())
    return min(probabilities, relative)


def _probe_batch(image_shape: tuple[int, int, int], device: str) -> torch.Tensor:
    channels, height, width = image_shape
    count = max(1, PROBE_PIXELS // (height * width))
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (count, channels, height, width), generator=generator, dtype=torch.uint8)
    return pixels.to(device=device, dtype=torch.float32, memory_format=torch.channels_last)


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:120]}" if text else type(error).__name__

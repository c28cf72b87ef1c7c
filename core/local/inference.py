"""The network as it answers predictions: an *inference form* of a trained model, built once when
the endpoint, ``sagewiz predict`` or an evaluation loads it, whose answers agree with the plain
float32 network (probabilities within 1e-5 in float32, 1e-2 in bfloat16; the same top-1).

Three things make it faster than the network it is built from, each kept only where it pays:

* **BatchNorm folded into the convolution before it**, wherever that is exact. The network is
  the algorithm's pre-activation ResNet (v2, :mod:`sagewiz.core.local.resnet`): most of its
  BatchNorms *precede* a convolution, with a ReLU between (``bn1 → relu → conv1`` in every unit)
  or zero padding after (``bn_data → conv0``: the padded zeros would become ``-shift/scale``), so
  they can't be folded exactly and are left as they are. Those that *follow* a convolution whose
  output nothing else reads are folded: ``conv1 → bn2`` in every unit, ``conv2 → bn3`` in
  bottleneck units, ``conv0 → bn0`` in the 7×7 stem and, with the 3×3 stem, ``conv0 →
  stage1_unit1.bn1``. A torch.fx trace finds them (a convolution with one reader, a BatchNorm
  reading it), so the rule is the graph's, not a list of names; torch's ``fuse_conv_bn_weights``
  computes the new weights, here in float64. ResNet-20 keeps 10 of its 20 BatchNorms, ResNet-18
  10 of 19, ResNet-50 19 of 36.
* **oneDNN's fused kernels**: the folded network traced, frozen and ``optimize_for_inference``'d
  by TorchScript keeps its activations in oneDNN's blocked layout from the first convolution to
  the pool instead of reordering them around every operation. Measured here (2 shared cores,
  one thread, alternated): ResNet-20 at 28 px, batch 32, 1.4× the plain network folded alone and
  2.1× with TorchScript; ResNet-18 at 224 px, batch 16, 1.4× and 1.6×. Where tracing fails (a
  torch without TorchScript, which torch now calls deprecated) the folded eager network is used,
  and the form says so. ``torch.compile`` was not tried here: a minute of compiling on a
  laptop's first prediction costs more than it could save.
* **bfloat16, where it is faster on this computer**, which is measured rather than assumed: on
  this machine's AVX-512 BF16 (no AMX) a bfloat16 convolution ran 0.5–0.7× as fast as float32
  (ResNet-20/28 and ResNet-18/224 both ~0.6× overall), while the issue measured 2.6× for
  ResNet-18/224 on a CPU with AMX, and an earlier run here 1.46× for ResNet-18/224 but 0.69× for
  ResNet-20/28 at two threads. No rule over depth and size survives that, so where the CPU has
  BF16 instructions (:func:`sagewiz.core.local.precision.cpu_bf16`; ``SAGEWIZ_NO_BF16=1``
  forces float32) both forms are built and timed at load on the model's own input size,
  alternated, best of three passes each; bfloat16 is chosen only when it is at least 10%
  faster, so a tie keeps the exact float32. The probe runs at most ``PROBE_PIXELS`` pixels a
  pass (a batch of 41 at 28 px, one picture at 224 px): it takes about 0.3 s for ResNet-20/28 and
  about 1.5 s for ResNet-18/224 on this loaded machine, tracing both forms included. A CPU
  without BF16 instructions builds only float32 and times nothing.

Whatever the choice, the form's answers on the probe pictures are compared with the plain
network's at load: a bfloat16 form outside 1e-2 gives way to the float32 one, a float32 one
outside 1e-5 to the plain network, and the form says so. On CUDA the form is the folded network in float32, untimed: no GPU
was at hand to measure float16 against.
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

# At most this many pixels a probe pass: 10 pictures at 28 px (enough for a small net's per-batch
# overheads to show), 8 at 32 px (the 4-stage nets, 10× the work a pixel), one at 224 px (its
# ratio is the convolutions', which the batch size hardly changes).
PROBE_PIXELS = 8 * 32 * 32
PROBE_ROUNDS = 5  # pairs of passes at least; more while they take under PROBE_BUDGET_S, up to PROBE_MAX_ROUNDS
PROBE_MAX_ROUNDS = 15
PROBE_BUDGET_S = 0.3
REDUCED_MUST_BE_FASTER = 1.25  # bfloat16 must beat float32 by this much (see the docstring)
FLOAT32_TOLERANCE = 1e-5  # on probabilities, against the plain float32 network
REDUCED_TOLERANCE = 1e-2


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


class _InBfloat16(nn.Module):
    """A network whose weights are bfloat16, taking and giving float32 (the callers' types)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = copy.deepcopy(network).to(torch.bfloat16)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x.to(torch.bfloat16)).float()


def _frozen(network: nn.Module, example: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``network`` traced, frozen (weights as constants, prepacked) and optimised for inference
    by TorchScript: oneDNN's blocked layout end to end. Raises what TorchScript raises."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # "torch.jit is deprecated": the fallback covers its going
        traced = torch.jit.trace(network.eval(), example, check_trace=False)
        return torch.jit.optimize_for_inference(torch.jit.freeze(traced))


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
        return self.run(batch)

    @property
    def said(self) -> str:
        """One line for a log: which form and precision answer."""
        folding = f"{self.folded} of {self.total} BatchNorms folded into convolutions, " if self.total else ""
        line = f"runs as {self.precision}, {folding}{self.kernels}"
        if self.measured:
            line += f" ({self.measured})"
        return line + (f"; {self.note}" if self.note else "")


def inference_form(model: nn.Module, image_shape: tuple[int, int, int], device: str = "cpu", *,
                   precision: str | None = None) -> InferenceForm:
    """The inference form of ``model`` (a trained network in eval mode, on ``device``) for pictures
    of ``image_shape`` (C, H, W). ``precision`` None chooses by measurement (see the module's
    docstring); "float32" or "bfloat16" asks for one (bfloat16 on a CPU only). Never raises for a
    network it can't transform: each step that fails falls back to the one before, and
    :attr:`InferenceForm.note` says which."""
    from sagewiz.core.local.precision import NO_BF16_VARIABLE, cpu_bf16

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
        return _checked([InferenceForm(folded, "float32", "eager", folding.folded, folding.total)], model, probe, expected)

    instructions = cpu_bf16()
    if precision == "bfloat16":
        names = ["bfloat16"]
    elif precision == "float32" or not instructions:
        names = ["float32"]
    else:
        names = ["float32", "bfloat16"]
    forms = {name: _scripted(folded if name == "float32" else _InBfloat16(folded), probe, name, folding) for name in names}
    chosen = _faster(forms, probe, instructions) if len(forms) == 2 else forms[names[0]]
    if precision is None and not instructions:
        why = f"{NO_BF16_VARIABLE} is set" if os.environ.get(NO_BF16_VARIABLE, "").strip() not in ("", "0") \
            else "this CPU has no bfloat16 instructions"
        chosen = dataclasses.replace(chosen, measured=f"no bfloat16: {why}")
    # Should the chosen form answer outside its tolerance, the float32 one, then the plain network
    fallback = [form for form in forms.values() if form.precision == "float32" and form.run is not chosen.run]
    return _checked([chosen, *fallback], model, probe, expected)


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


def _faster(forms: dict[str, InferenceForm], probe: torch.Tensor, instructions: str) -> InferenceForm:
    """The float32 form unless the bfloat16 one is clearly faster on ``probe``, with what was measured."""
    speed = probe_speed(forms["float32"], forms["bfloat16"], probe)
    said = f"bfloat16 on the CPU's {instructions} measured {speed:.2f}× float32's speed at load"
    return dataclasses.replace(forms["bfloat16" if speed >= REDUCED_MUST_BE_FASTER else "float32"], measured=said)


def probe_speed(first: Callable, second: Callable, probe: torch.Tensor) -> float:
    """How many times faster ``second`` runs ``probe`` than ``first``, as a busy computer can tell:
    passes alternated in pairs (a busy moment hits both), ``PROBE_ROUNDS`` of them or more while
    they take under ``PROBE_BUDGET_S``. The lesser of two estimates — the median ratio of a pair's
    times and the ratio of each one's best time — so that a neighbour slowing down a few passes
    of one of them can't make it look slower (the best of three passes alone once read 7× for a pair
    that measures 0.6×)."""
    times: tuple[list[float], list[float]] = ([], [])
    started = time.perf_counter()
    with torch.inference_mode():
        while len(times[0]) < PROBE_ROUNDS or (len(times[0]) < PROBE_MAX_ROUNDS and time.perf_counter() - started < PROBE_BUDGET_S):
            pair = (0, 1) if len(times[0]) % 2 == 0 else (1, 0)
            for which in pair:
                passed = time.perf_counter()
                (first, second)[which](probe)
                times[which].append(time.perf_counter() - passed)
    ratios = sorted(a / b for a, b in zip(*times))
    return min(ratios[len(ratios) // 2], min(times[0]) / min(times[1]))


def _checked(forms: list[InferenceForm], model: nn.Module, probe: torch.Tensor, expected: torch.Tensor) -> InferenceForm:
    """The first of ``forms`` whose answers on ``probe`` agree with the plain network's, else the
    plain network, saying which was dropped."""
    dropped = []
    for form in forms:
        tolerance = FLOAT32_TOLERANCE if form.precision == "float32" else REDUCED_TOLERANCE
        with torch.inference_mode():
            got = form(probe).float()
        if got.shape == expected.shape and _probability_gap(got, expected) <= tolerance:
            return dataclasses.replace(form, note="; ".join([form.note, *dropped]).strip("; ")) if dropped else form
        dropped.append(f"the {form.precision} form answered outside {tolerance:g} of the plain network and was dropped")
    return _plain(model, "; ".join(dropped))


def _plain(model: nn.Module, note: str) -> InferenceForm:
    return InferenceForm(model, "float32", "the plain network", note=note)


def _probability_gap(logits: torch.Tensor, expected: torch.Tensor) -> float:
    """The largest difference in probability, as one-of-N (softmax) or each-on-its-own (sigmoid)."""
    return max((torch.softmax(logits, 1) - torch.softmax(expected, 1)).abs().max().item(),
               (torch.sigmoid(logits) - torch.sigmoid(expected)).abs().max().item())


def _probe_batch(image_shape: tuple[int, int, int], device: str) -> torch.Tensor:
    channels, height, width = image_shape
    count = max(1, PROBE_PIXELS // (height * width))
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (count, channels, height, width), generator=generator, dtype=torch.uint8)
    return pixels.to(device=device, dtype=torch.float32, memory_format=torch.channels_last)


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:120]}" if text else type(error).__name__

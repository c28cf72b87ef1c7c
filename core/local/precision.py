"""Which arithmetic the local engine uses: the algorithm's ``precision_dtype`` on this computer.

On SageMaker, ``precision_dtype=float16`` means mixed precision on the GPU's tensor cores. Here
the same setting means the fastest mixed precision the hardware has:

* a CUDA GPU: float16 autocast with loss scaling (as the algorithm does);
* a CPU with bfloat16 instructions (AMX, or AVX-512 BF16): bfloat16 autocast where it trains
  faster than float32 here, as measured (:mod:`sagewiz.core.local.mixed_precision`), else
  float32 with a note saying what was measured. bfloat16 keeps float32's range, so no loss
  scaling is needed; ``SAGEWIZ_BF16_TRAINING=1`` trains in bfloat16 wherever the CPU has it;
* any other CPU: float32, with a one-line note, since emulated half precision is slower.

``SAGEWIZ_NO_BF16=1`` makes a CPU count as one without BF16 (to see the fallback, or to compare).
The engine's log says which precision and which kernels it used.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sagewiz.core.local import mixed_precision

BF16_TRAINING_VARIABLE = mixed_precision.FORCED_VARIABLE


@dataclass(frozen=True)
class Precision:
    """How one job computes. ``dtype`` is the autocast type, or None for plain float32."""

    device_type: str  # "cpu" or "cuda"
    dtype: torch.dtype | None
    said: str  # for the log: what is used, and on which instructions
    note: str = ""  # why it isn't what was asked for ("" when it is)
    gain: float = 1.0  # how many times faster than float32 it trains here (measured, or assumed until it is)

    @property
    def mixed(self) -> bool:
        return self.dtype is not None

    @property
    def needs_loss_scaling(self) -> bool:
        """float16's narrow range underflows small gradients; bfloat16's doesn't."""
        return self.dtype is torch.float16

    def autocast(self):
        """The context a forward pass runs in (a no-op in float32)."""
        return torch.autocast(self.device_type, dtype=self.dtype or torch.float32, enabled=self.mixed)


def choose(precision_dtype: str, device_type: str, side: int = 224) -> Precision:
    """The arithmetic for training with ``precision_dtype`` ("float32" or "float16") on
    ``device_type``, for pictures of ``side`` px (on a CPU whose bfloat16 gain for that size
    isn't known yet, it is measured first: a few seconds, once per computer)."""
    if precision_dtype != "float16":
        return Precision(device_type, None, "float32")
    if device_type == "cuda":
        return Precision("cuda", torch.float16, "float16 mixed precision (CUDA autocast with loss scaling)")
    choice = mixed_precision.on_this_cpu(side, measure=True)
    if choice.bfloat16:
        why = f", {choice.why}" if choice.why else ""
        return Precision("cpu", torch.bfloat16, f"bfloat16 mixed precision (autocast; oneDNN on the CPU's {choice.instructions}{why})",
                         gain=choice.gain)
    if choice.instructions:
        measured = (f"bfloat16 trained at {choice.measured:.2f}× float32's speed when measured, under the "
                    f"{mixed_precision.MUST_BE_FASTER}× it must gain" if choice.measured else
                    "bfloat16's speed couldn't be measured, and without AMX it is often slower than float32")
        return Precision("cpu", None, "float32", note=f"precision_dtype=float16 asks for mixed precision; on this CPU's "
                         f"{choice.instructions} {measured}, so the job trains in float32")
    return Precision("cpu", None, "float32", note="precision_dtype=float16 asks for mixed precision, which this CPU has no "
                     "instructions for (AMX or AVX-512 BF16): the job trains in float32, the same model at the same speed "
                     "float32 always has here")

"""Which arithmetic the local engine uses: the algorithm's ``precision_dtype`` on this computer.

On SageMaker, ``precision_dtype=float16`` means mixed precision on the GPU's tensor cores. Here
the same setting means the fastest mixed precision the hardware has:

* a CUDA GPU: float16 autocast with loss scaling (as the algorithm does);
* a CPU with AMX (Xeons since Sapphire Rapids): bfloat16 autocast. bfloat16 keeps float32's
  range, so no loss scaling is needed, and oneDNN runs its convolutions on the matrix tiles. A CPU
  with AVX-512 BF16 but no AMX trains in float32 (measured faster there; prediction may still
  use bfloat16, see :mod:`inference`); ``SAGEWIZ_BF16_TRAINING=1`` trains in bfloat16 anyway;
* any other CPU: float32, with a one-line note, since emulated half precision is slower.

``SAGEWIZ_NO_BF16=1`` makes a CPU count as one without BF16 (to see the fallback, or to compare).
The engine's log says which precision and which kernels it used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from sagewiz.core.local.cores import cpu_bf16

BF16_TRAINING_VARIABLE = "SAGEWIZ_BF16_TRAINING"


@dataclass(frozen=True)
class Precision:
    """How one job computes. ``dtype`` is the autocast type, or None for plain float32."""

    device_type: str  # "cpu" or "cuda"
    dtype: torch.dtype | None
    said: str  # for the log: what is used, and on which instructions
    note: str = ""  # why it isn't what was asked for ("" when it is)

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


def bf16_training_forced() -> bool:
    """``SAGEWIZ_BF16_TRAINING=1``: train in bfloat16 on AVX-512 BF16 too, where it is slower (to compare, or to test)."""
    return os.environ.get(BF16_TRAINING_VARIABLE, "").strip() not in ("", "0")


def choose(precision_dtype: str, device_type: str) -> Precision:
    """The arithmetic for training with ``precision_dtype`` ("float32" or "float16") on ``device_type``."""
    if precision_dtype != "float16":
        return Precision(device_type, None, "float32")
    if device_type == "cuda":
        return Precision("cuda", torch.float16, "float16 mixed precision (CUDA autocast with loss scaling)")
    instructions = cpu_bf16()
    # AVX-512 BF16 alone has bfloat16 dot products but no matrix tiles: oneDNN's bfloat16 training
    # on it measured slower than float32 here (ResNet-18 at 224, 2 threads: 6.9 against 12.8
    # images/s; ResNet-20 at 28: 441 against 509), so only AMX trains in bfloat16
    if instructions == "AMX" or (instructions and bf16_training_forced()):
        return Precision("cpu", torch.bfloat16, f"bfloat16 mixed precision (autocast; oneDNN on the CPU's {instructions})")
    if instructions:
        return Precision("cpu", None, "float32", note="precision_dtype=float16 asks for mixed precision; this CPU's AVX-512 "
                         "BF16 (without AMX) trains slower in bfloat16 than in float32, so the job trains in float32")
    return Precision("cpu", None, "float32", note="precision_dtype=float16 asks for mixed precision, which this CPU has no "
                     "instructions for (AMX or AVX-512 BF16): the job trains in float32, the same model at the same speed "
                     "float32 always has here")

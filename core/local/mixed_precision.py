"""Whether mixed precision (bfloat16 autocast) trains faster than float32 on this computer's CPU:
one answer for the engine (which trains in it), the suggested settings (which choose
``precision_dtype=float16`` for it) and the time estimate (which counts its gain).

Measured, not read from the instructions' names. On a CPU with AMX, bfloat16 trained ResNet-18
at 224 px 2.9× faster than float32 (DESIGN.md); with AVX-512 BF16 alone it differed from one VM
to the next: 0.35-0.75× float32 on one, 1.3× (ResNet-20 at 28 px) and 1.6-1.7× (ResNet-18 at
224) on another. So where the CPU has either, :mod:`sagewiz.core.local.pace`'s probe times both
precisions on the family's reference network (a few seconds, once per computer), and bfloat16
trains only where it measured at least :data:`MUST_BE_FASTER` × float32. On a quiet computer the
probe's gain varied by about ±4% from one measure to the next (ResNet-20/28: 1.25-1.35 on the
Zen 5 VM, where whole jobs trained 1.29-1.33× faster; ResNet-18/224: 1.59-1.72), so a gain of
1.15 is well clear of a true 1.0, and a measure taken while other programs held the cores isn't
kept (pace.py). Until it is measured, AMX counts as faster (DESIGN.md's figure) and AVX-512 BF16
as not; the engine measures before its first such job.
``SAGEWIZ_BF16_TRAINING=1`` trains in bfloat16 wherever the CPU has the instructions, whatever
was measured (to compare, or to test); ``SAGEWIZ_NO_BF16=1`` acts as if it had none.

Imports no torch: the wizard asks too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sagewiz.core.local import cores, pace

FORCED_VARIABLE = "SAGEWIZ_BF16_TRAINING"
MUST_BE_FASTER = 1.15
AMX_GAIN = 2.5  # until measured: ResNet-18 at 224, 11.5 against 4.0 images/s on one thread (DESIGN.md), rounded down


@dataclass(frozen=True)
class Choice:
    """What a float16 job trains in on this CPU, and why."""

    bfloat16: bool
    gain: float  # how much faster than float32 it trains (1.0 in float32)
    instructions: str  # "AMX", "AVX-512 BF16" or ""
    measured: float | None  # the probe's bfloat16 gain for the family here, None if not measured

    @property
    def why(self) -> str:
        """"measured 1.7× float32's speed here" / "" when nothing was measured."""
        return f"measured {self.measured:.1f}× float32's speed here" if self.measured else ""


def forced() -> bool:
    """``SAGEWIZ_BF16_TRAINING=1``: bfloat16 wherever the CPU has the instructions."""
    return os.environ.get(FORCED_VARIABLE, "").strip() not in ("", "0")


def unmeasured(side: int) -> bool:
    """Whether :func:`on_this_cpu` with ``measure`` would measure first (a few seconds)."""
    return bool(cores.cpu_bf16()) and pace.worth_measuring(pace.family_of(side))


def on_this_cpu(side: int, *, measure: bool = False) -> Choice:
    """The choice for pictures of ``side`` px; with ``measure``, the bfloat16 gain is measured
    first where it is still unknown (a few seconds, in a process of its own)."""
    instructions = cores.cpu_bf16()
    if not instructions:
        return Choice(False, 1.0, "", None)
    family = pace.family_of(side)
    if measure and pace.worth_measuring(family):  # unmeasured(), the CPU's instructions already read
        pace.measure(family)
    gain = pace.known_gain(family)
    if forced():
        return Choice(True, gain or 1.0, instructions, gain)
    if gain is None:
        amx = instructions == "AMX"
        return Choice(amx, AMX_GAIN if amx else 1.0, instructions, None)
    faster = gain >= MUST_BE_FASTER
    return Choice(faster, gain if faster else 1.0, instructions, gain)

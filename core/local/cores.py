"""This computer's processor as the engine needs to know it: how many cores this process may use
(its CPU affinity, not the machine's count), and whether it has bfloat16 instructions.

A container, ``taskset`` or a batch scheduler can give a process fewer cores than the machine
has; torch's OpenMP threads beyond them only wait for each other (DESIGN.md: an epoch collapsed
7× under oversubscription), so threads and workers are counted from here.
"""

from __future__ import annotations

import os

NO_BF16_VARIABLE = "SAGEWIZ_NO_BF16"
KEPT_FROM_CORES = 0.8  # the share of their wall time the threads ran below which they are kept from their cores


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def cpu_bf16() -> str:
    """"AMX", "AVX-512 BF16", or "" when this CPU has neither (or ``SAGEWIZ_NO_BF16=1`` says to
    act as if). Read from /proc/cpuinfo where there is one, so that asking costs no torch import
    (the wizard's suggestions ask); torch's own check elsewhere."""
    if os.environ.get(NO_BF16_VARIABLE, "").strip() not in ("", "0"):
        return ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), None)
    except OSError:
        flags = None
    if flags is None:
        import torch

        return "AMX" if torch.cpu._is_amx_tile_supported() else "AVX-512 BF16" if torch.cpu._is_avx512_bf16_supported() else ""
    return "AMX" if "amx_bf16" in flags else "AVX-512 BF16" if "avx512_bf16" in flags else ""

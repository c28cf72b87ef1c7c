"""How many cores this process may use: its CPU affinity, not the machine's count.

A container, ``taskset`` or a batch scheduler can give a process fewer cores than the machine
has; torch's OpenMP threads beyond them only wait for each other (DESIGN.md: an epoch collapsed
7× under oversubscription), so threads and workers are counted from here.
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1

"""Freed memory kept for the next batch, in the processes that run the network (the training
job, the endpoint, ``sagewiz predict``).

A forward pass allocates its activations and frees them again; the next batch allocates the
same sizes. glibc's malloc serves blocks over 128 KB (its threshold grows to at most 32 MB as
such blocks are freed) with ``mmap`` and hands them back with ``munmap``, and gives the top of
its heap back to the system whenever over twice that lies free, so every batch touches fresh
pages and the kernel faults each of them in again and zeroes it. ResNet-20's activations at
28 px, batch 32, are 1.6 MB each; ResNet-18's at 224 px, batch 16, up to 51 MB. MXNet keeps
its own pool of freed buffers, torch's CPU allocator asks malloc every time. Telling malloc to
map nothing under 2 GB by itself and to trim nothing, measured in one process after another on
this 2-core machine: ResNet-20/28 inference form, batch 32, 1.6-2.3x (1,570 to 2,520 images/s
on one thread, 1,820 to 4,130 on two); ResNet-18/224, batch 16, 1.2x; a training step 1.1-1.25x
(ResNet-20/28) and 1.2x (ResNet-18/224).

The cost: such a process keeps its peak memory until it ends, which a process that runs the
same batches over and over reaches anyway. It also keeps one heap (arena) for all its threads:
with a heap per thread, each of the endpoint's request threads kept the last picture it had
decoded, and four big pictures sent at once, decoded in turn, grew its peak by 246 MiB, against
60 MiB with one heap (tests/test_local_endpoint_limits.py bounds it at 122). Not called by the
wizard's own process, which lives long and runs other things.
"""

from __future__ import annotations

import ctypes
import platform

# mallopt's parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
LARGEST = 2**31 - 1  # mallopt takes an int


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks for reuse instead of returning them to the system
    (see the module's docstring). True when it agreed; False where the C library isn't glibc
    (macOS, Windows, musl), which then behaves as before."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt answers 1 when it took the value; a threshold it refuses leaves glibc's default
    return all(mallopt(parameter, value) == 1 for parameter, value in
               ((M_ARENA_MAX, 1), (M_MMAP_THRESHOLD, LARGEST), (M_TRIM_THRESHOLD, LARGEST)))

"""How many threads torch uses, chosen by measuring while it works, so a busy computer costs its
share of the cores and not ten times more.

torch's OpenMP threads work in lock-step: each convolution is cut into one piece per thread and
waits for the slowest. On a quiet computer that is fastest with a thread per core. Beside another
busy program (a browser, a video call, a second training) one of those threads keeps losing its
core, and every step waits for it: the digits sample took 2.5 s an epoch alone and 28–41 s beside
one other training on the same two cores (issue 18), and 2 threads answered ResNet-20 at 79
images/s beside a busy loop on each core, where MXNet answered 1,325 (benchmarks/bench_vs_mxnet.py).
Which count is faster depends on what else runs, and that changes while a job trains, so the
chooser measures: it runs a few steps with the other count and keeps whichever went faster.

When to compare: trying the slower count costs time, so training compares only when its threads
are kept from their cores, which shows as the process using less CPU time than its threads had
wall time (threads waiting for a core don't run; threads spinning while they wait for each other
do). A quiet computer therefore pays nothing but a comparison every :data:`MOST_STEPS_APART`
steps. Prediction, timed by its caller between waits for requests, compares now and then instead,
ever less often while nothing changes.
"""

from __future__ import annotations

import os
import time
from typing import Callable

import torch

WARM_UP_STEPS = 3  # the first steps pay for allocations and oneDNN's kernel choices
WINDOW_STEPS = 6  # steps measured per count in a comparison (and per look at the CPU time)
EXPLORE_EVERY_STEPS = 60  # steps between comparisons after a change
MOST_STEPS_APART = 960  # and at most this far apart when nothing changes
BETTER_BY = 1.08  # the other count must be this much faster to be taken: noise is not a reason to switch
KEPT_FROM_CORES = 0.8  # the share of their wall time the threads ran below which they are kept from their cores


def _process_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system  # every thread of this process


class ThreadChooser:
    """Call :meth:`step` after every training step with the pictures it took (or :meth:`record`
    with a step's own seconds); the chooser switches torch's thread count between ``cores`` and
    fewer when that measures faster. ``said(text)`` hears each switch, in words for the log.
    ``cpu_clock`` (the process's CPU seconds) tells when the threads are kept from their cores;
    without one, comparisons come now and then."""

    def __init__(self, cores: int, said: Callable[[str], None] = lambda text: None, *, work: str = "train",
                 clock: Callable[[], float] = time.perf_counter, set_threads: Callable[[int], None] = torch.set_num_threads,
                 cpu_clock: Callable[[], float] | None = _process_cpu_seconds):
        self.cores, self.said, self.clock, self.set_threads, self.work = cores, said, clock, set_threads, work
        self.cpu_clock = cpu_clock
        self.counts = (cores, max(1, cores // 2)) if cores > 1 else (1,)
        self.current = cores
        self.steps = 0
        self.comparisons = 0
        self.every = EXPLORE_EVERY_STEPS  # steps from one periodic comparison to the next
        self._window: list[tuple[int, float, int]] = []  # (threads, seconds, pictures) of a comparison's steps
        self._comparing = -1  # steps into the comparison under way; -1: none
        self._since = 0  # steps since the last comparison ended
        self._look: tuple[float, float, int] | None = None  # (wall, CPU seconds, steps) when the CPU was last looked at
        self._last = None
        set_threads(cores)

    def step(self, pictures: int) -> None:
        """A step ended now (its time: since the step before, unless :meth:`pause` came between)."""
        now = self.clock()
        last, self._last = self._last, now
        if last is not None:
            self.record(now - last, pictures, watched=self.cpu_clock is not None)

    def pause(self) -> None:
        """Time passes that is no step's (validation, an epoch's end): the next step isn't measured."""
        self._last = None
        self._look = None

    def record(self, seconds: float, pictures: int, *, watched: bool = False) -> None:
        """A step of ``pictures`` took ``seconds``. ``watched``: steps follow each other without
        waits, so the process's CPU time says whether the threads get their cores (training);
        otherwise (prediction, whose batches wait for requests) comparisons come now and then."""
        self.steps += 1
        if len(self.counts) == 1 or self.steps <= WARM_UP_STEPS:
            return
        if self._comparing < 0:
            self._since += 1
            if not self._time_to_compare(watched):
                return
            self._comparing, self._window = 0, []
        self._window.append((self.current, seconds, pictures))
        self._comparing += 1
        if self._comparing == WINDOW_STEPS:
            self._use(self._other())
        elif self._comparing == 2 * WINDOW_STEPS:
            changed = self._decide()
            self.comparisons += 1
            self.every = EXPLORE_EVERY_STEPS if changed else min(self.every * 2, MOST_STEPS_APART)
            self._comparing, self._since, self._look = -1, 0, None

    def _time_to_compare(self, watched: bool) -> bool:
        if self._since >= (MOST_STEPS_APART if watched and self.current == self.cores else self.every):
            return True  # now and then in any case: what else runs changes
        # kept from the cores: compare, but after comparisons that changed nothing ever less soon
        if not watched or self.current != self.cores or self._since < self.every - EXPLORE_EVERY_STEPS:
            return False
        now, cpu = self.clock(), self.cpu_clock()
        if self._look is None:
            self._look = (now, cpu, self.steps)
            return False
        wall, used, steps = now - self._look[0], cpu - self._look[1], self.steps - self._look[2]
        if steps < WINDOW_STEPS or wall <= 0:
            return False
        self._look = (now, cpu, self.steps)
        return used / (wall * self.current) < KEPT_FROM_CORES

    def _other(self) -> int:
        return self.counts[1] if self.current == self.counts[0] else self.counts[0]

    def _use(self, threads: int) -> None:
        if threads != self.current:
            self.current = threads
            self.set_threads(threads)

    def _decide(self) -> bool:
        """Keep the faster count; True when that is the one just tried (a change)."""
        rates: dict[int, float] = {}
        for threads in set(t for t, _, _ in self._window):
            steps = [(s, p) for t, s, p in self._window if t == threads][1:]  # the first after a switch settles the pool
            seconds = sum(s for s, _ in steps)
            if steps and seconds > 0:
                rates[threads] = sum(p for _, p in steps) / seconds
        tried, kept = self.current, self._window[0][0]
        if tried in rates and kept in rates and rates[tried] > rates[kept] * BETTER_BY:
            if tried < kept:
                self.said(f"Threads: {tried} instead of {kept}: other programs are using the cores, and {tried} "
                          f"{self.work}{'s' * (tried == 1)} {rates[tried] / rates[kept]:.1f}× faster beside them")
            else:
                self.said(f"Threads: {tried} again, one per core: the cores are free ({rates[tried] / rates[kept]:.1f}× faster)")
            return True  # keep the count just tried
        self._use(kept)
        return False

"""How many threads torch uses, chosen by measuring while training, so a busy computer costs its
share of the cores and not ten times more.

torch's OpenMP threads work in lock-step: each convolution is cut into one piece per thread and
waits for the slowest. On a quiet computer that is fastest with a thread per core. Beside another
busy program (a browser, a video call, a second training) one of those threads keeps losing its
core, and every step waits for it: the digits sample took 2.5 s an epoch alone and 28–41 s beside
one other training on the same two cores (issue 18), and 2 threads ran ResNet-20 inference at
466 images/s where 1 thread ran 758 (benchmarks/bench_vs_mxnet.py, a busy machine). Which count
is faster depends on what else runs, and that changes while a job trains, so the engine measures:
now and then it runs a few steps with the other count and keeps whichever went faster.
"""

from __future__ import annotations

import time
from typing import Callable

import torch

WARM_UP_STEPS = 3  # the first steps pay for allocations and oneDNN's kernel choices
WINDOW_STEPS = 6  # steps measured per count in a comparison
EXPLORE_EVERY_STEPS = 60  # steps between comparisons after a change, so that trying the slower count costs little
MOST_STEPS_APART = 960  # and at most this far apart when nothing changes
BETTER_BY = 1.08  # the other count must be this much faster to be taken: noise is not a reason to switch


class ThreadChooser:
    """Call :meth:`step` after every training step with the pictures it took; the chooser
    switches torch's thread count between ``cores`` and fewer when that measures faster.
    ``said(text)`` hears each switch, in words for the log."""

    def __init__(self, cores: int, said: Callable[[str], None] = lambda text: None, *, work: str = "train",
                 clock: Callable[[], float] = time.perf_counter, set_threads: Callable[[int], None] = torch.set_num_threads):
        self.cores, self.said, self.clock, self.set_threads, self.work = cores, said, clock, set_threads, work
        self.counts = (cores, max(1, cores // 2)) if cores > 1 else (1,)
        self.current = cores
        self.steps = 0
        self._window: list[tuple[int, float, int]] = []  # (threads, seconds, pictures) of the steps in the comparison
        self._place = 0  # steps into the current round
        self.every = EXPLORE_EVERY_STEPS  # steps from one round's start to the next
        self._last = None
        set_threads(cores)

    def step(self, pictures: int) -> None:
        """A step ended now (its time: since the step before, unless :meth:`pause` came between)."""
        now = self.clock()
        last, self._last = self._last, now
        if last is not None:
            self.record(now - last, pictures)

    def record(self, seconds: float, pictures: int) -> None:
        """A step of ``pictures`` took ``seconds`` (for work timed by the caller: prediction, whose
        batches come with waits for requests between them)."""
        self.steps += 1
        if len(self.counts) == 1 or self.steps <= WARM_UP_STEPS:
            return
        # each round: WINDOW_STEPS at the current count, WINDOW_STEPS at the other, then keep the
        # faster; rounds that change nothing come ever further apart, so a quiet computer pays little
        place, self._place = self._place, self._place + 1
        if place == 0:
            self._window = []
        if place < 2 * WINDOW_STEPS:
            self._window.append((self.current, seconds, pictures))
        if place == WINDOW_STEPS - 1:
            self._use(self._other())
        elif place == 2 * WINDOW_STEPS - 1:
            self.every = EXPLORE_EVERY_STEPS if self._decide() else min(self.every * 2, MOST_STEPS_APART)
        elif place >= self.every - 1:
            self._place = 0

    def pause(self) -> None:
        """Time passes that is no step's (validation, an epoch's end): the next step isn't measured."""
        self._last = None

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

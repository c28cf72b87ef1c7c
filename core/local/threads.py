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

When to compare: trying the slower count costs time, so the chooser compares when its threads
are kept from their cores, which shows as the process using less CPU time during its steps than
its threads had wall time (threads waiting for a core don't run; threads spinning while they
wait for each other do). Training times its steps back to back; prediction, whose batches wait
for requests, hands over each batch's own CPU time. A quiet computer therefore pays nothing but
a comparison every :data:`MOST_STEPS_APART` steps in training, and ever less often while nothing
changes in prediction. Beside a busy program, more threads can be quick for a few steps and then
stall from one step to the next (2 threads answered ResNet-20 at 28 px in 16 ms or in 680 ms a
batch of 32, beside a busy loop on each core, where 1 thread took 16-30 ms), so while they are
kept from their cores fewer threads answer whatever a few steps measured. A comparison lasts
:data:`WINDOW_STEPS` steps per count, or a second's worth of stalled ones.
"""

from __future__ import annotations

import time
from typing import Callable

import torch

from sagewiz.core.local.cores import KEPT_FROM_CORES

WARM_UP_STEPS = 3  # the first steps pay for allocations and oneDNN's kernel choices
WINDOW_STEPS = 6  # steps measured per count in a comparison (and per look at the CPU time)
WINDOW_SECONDS = 1.0  # or fewer, at least MIN_WINDOW_STEPS, once they add up to this: a stalled step can take 0.7 s
MIN_WINDOW_STEPS = 2  # the first after a switch settles the pool, so one more is measured
EXPLORE_EVERY_STEPS = 60  # steps between comparisons after a change
MOST_STEPS_APART = 960  # and at most this far apart when nothing changes
BETTER_BY = 1.08  # the other count must be this much faster to be taken: noise is not a reason to switch


def process_cpu_seconds() -> float:
    # every thread of this process, to the nanosecond: os.times() counts in clock ticks (10 ms
    # here), as long as a whole forward pass at 28 px
    return time.process_time()


def thread_counts(cores: int) -> tuple[int, ...]:
    """The thread counts a chooser for ``cores`` switches between: all of them, or half."""
    return (cores, max(1, cores // 2)) if cores > 1 else (1,)


class ThreadChooser:
    """Call :meth:`step` after every training step with the pictures it took (or :meth:`record`
    with a step's own seconds); the chooser switches torch's thread count between ``cores`` and
    fewer when that measures faster. ``said(text)`` hears each switch, in words for the log.
    ``cpu_clock`` (the process's CPU seconds) tells when the threads are kept from their cores;
    without one, comparisons come now and then."""

    def __init__(self, cores: int, said: Callable[[str], None] = lambda text: None, *, work: str = "train",
                 clock: Callable[[], float] = time.perf_counter, set_threads: Callable[[int], None] = torch.set_num_threads,
                 cpu_clock: Callable[[], float] | None = process_cpu_seconds):
        self.cores, self.said, self.clock, self.set_threads, self.work = cores, said, clock, set_threads, work
        self.cpu_clock = cpu_clock
        self.counts = thread_counts(cores)
        self.current = cores
        self.steps = 0
        self.comparisons = 0
        self.every = EXPLORE_EVERY_STEPS  # steps from one periodic comparison to the next
        self._window: list[tuple[int, float, int, float | None]] = []  # (threads, seconds, pictures, CPU seconds) of a comparison's steps
        self._comparing = False  # a comparison is under way
        self._since = 0  # steps since the last comparison ended
        self._tally = (0.0, 0.0, 0)  # (wall, CPU seconds, steps) of the steps timed with their CPU time since the last look
        self._last: tuple[float, float | None] | None = None  # (clock, CPU clock) at the end of the step before
        self._watched = False  # the steps follow each other without waits (training)
        set_threads(cores)

    def step(self, pictures: int) -> None:
        """A step ended now (its time: since the step before, unless :meth:`pause` came between)."""
        now, cpu = self.clock(), (self.cpu_clock() if self.cpu_clock else None)
        last, self._last = self._last, (now, cpu)
        if last is not None:
            self.record(now - last[0], pictures, watched=cpu is not None, cpu_seconds=None if cpu is None else cpu - last[1])

    def pause(self) -> None:
        """Time passes that is no step's (validation, an epoch's end): the next step isn't measured."""
        self._last = None
        self._tally = (0.0, 0.0, 0)

    def steer(self, set_threads: Callable[[int], None]) -> None:
        """Switch the thread count through ``set_threads`` from now on, starting at this chooser's
        current count: the pool that answers may be ONNX Runtime's rather than torch's."""
        self.set_threads = set_threads
        set_threads(self.current)

    def record(self, seconds: float, pictures: int, *, watched: bool = False, cpu_seconds: float | None = None) -> None:
        """A step of ``pictures`` took ``seconds``, and the process ``cpu_seconds`` of CPU time
        meanwhile, which says whether the threads get their cores. ``watched``: steps follow each
        other without waits (training), so a quiet computer needs comparing only every
        :data:`MOST_STEPS_APART` steps; otherwise (prediction) they come now and then, ever less
        often while nothing changes. Without ``cpu_seconds``, only now and then."""
        self.steps += 1
        self._watched = watched
        if len(self.counts) == 1 or self.steps <= WARM_UP_STEPS:
            return
        if not self._comparing:
            self._since += 1
            if cpu_seconds is not None:
                wall, used, steps = self._tally
                self._tally = (wall + seconds, used + cpu_seconds, steps + 1)
            if not self._time_to_compare(watched):
                return
            self._comparing, self._window = True, []
        self._window.append((self.current, seconds, pictures, cpu_seconds))
        this_count = [s for t, s, _, _ in self._window if t == self.current]
        if not _enough(len(this_count), sum(this_count)):
            return
        if self._window[0][0] == self.current:  # the first half: now the other count
            self._use(self._other())
        else:
            changed = self._decide()
            self.comparisons += 1
            self.every = EXPLORE_EVERY_STEPS if changed else min(self.every * 2, MOST_STEPS_APART)
            self._comparing, self._since, self._tally = False, 0, (0.0, 0.0, 0)

    def _time_to_compare(self, watched: bool) -> bool:
        if self._since >= (MOST_STEPS_APART if watched and self.current == self.cores else self.every):
            return True  # now and then in any case: what else runs changes
        # kept from the cores: compare, but after comparisons that changed nothing ever less soon
        wall, used, steps = self._tally
        if self.current != self.cores or self._since < self.every - EXPLORE_EVERY_STEPS or not _enough(steps, wall):
            return False
        self._tally = (0.0, 0.0, 0)
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
        for threads in set(t for t, _, _, _ in self._window):
            steps = [(s, p) for t, s, p, _ in self._window if t == threads][1:]  # the first after a switch settles the pool
            seconds = sum(s for s, _ in steps)
            if steps and seconds > 0:
                rates[threads] = sum(p for _, p in steps) / seconds
        tried, kept = self.current, self._window[0][0]
        more, fewer = max(tried, kept), min(tried, kept)
        ran = None if self._watched else self._share_run(more)
        if ran is not None and ran < KEPT_FROM_CORES:
            # prediction beside a busy program: more threads may answer quickly for a while, then
            # stall from one batch to the next (16 ms or 680 ms at 28 px); fewer never wait for each
            # other. Training keeps deciding by speed: its DataLoader's worker processes take the
            # cores too, which this share can't tell from a busy program, and the stall was seen
            # in prediction.
            if tried == fewer:
                self.said(f"Threads: {fewer} instead of {more}: other programs are using the cores "
                          f"({more} threads ran {ran:.0%} of their time)")
                return True
        elif tried in rates and kept in rates and rates[tried] > rates[kept] * BETTER_BY:
            if tried < kept:
                self.said(f"Threads: {tried} instead of {kept}: other programs are using the cores, and {tried} "
                          f"{self.work}{'s' * (tried == 1)} {rates[tried] / rates[kept]:.1f}× faster beside them")
            else:
                self.said(f"Threads: {tried} again, one per core: the cores are free ({rates[tried] / rates[kept]:.1f}× faster)")
            return True  # keep the count just tried
        self._use(kept)
        return False

    def _share_run(self, threads: int) -> float | None:
        """The share of their wall time ``threads`` threads ran in the comparison's steps, from the
        CPU time handed over with each step; None when no step came with it. Beside a busy loop on
        each core, 2 threads answering ResNet-20 at 28 px ran 30-65% of the time, in batches of
        16 ms and of 680 ms alike; alone, about 100%."""
        steps = [(s, c) for t, s, _, c in self._window if t == threads and c is not None]
        wall = sum(s for s, _ in steps)
        return sum(c for _, c in steps) / (wall * threads) if steps and wall > 0 else None


def _enough(steps: int, seconds: float) -> bool:
    """Whether ``steps`` taking ``seconds`` in all are enough to judge a thread count by."""
    return steps >= WINDOW_STEPS or (steps >= MIN_WINDOW_STEPS and seconds >= WINDOW_SECONDS)

"""The engine's thread count follows what the computer is doing: fewer threads beside a busy
program when that trains faster, a thread per core again once the cores are free."""

import pytest

from sagewiz.core.local import threads as chooser_module
from sagewiz.core.local.threads import ThreadChooser


class Computer:
    """Steps whose time depends on the thread count and on whether another program is busy; the
    process's CPU time grows by the threads' running time (half of it while busy: kept from their cores)."""

    def __init__(self):
        self.now, self.cpu, self.threads, self.busy = 0.0, 0.0, None, False
        self.said: list[str] = []

    def clock(self):
        return self.now

    def cpu_clock(self):
        return self.cpu

    def set_threads(self, n):
        self.threads = n

    def seconds_per_step(self):
        if self.busy:  # a thread that keeps losing its core holds every step up
            return {2: 0.30, 1: 0.12}[self.threads]
        return {2: 0.06, 1: 0.10}[self.threads]

    def train(self, chooser, steps):
        for _ in range(steps):
            seconds = self.seconds_per_step()
            self.now += seconds
            self.cpu += seconds * self.threads * (0.5 if self.busy and self.threads > 1 else 1.0)
            chooser.step(32)


def chooser_on(computer, cores=2):
    return ThreadChooser(cores, computer.said.append, clock=computer.clock, set_threads=computer.set_threads,
                         cpu_clock=computer.cpu_clock)


def test_on_a_quiet_computer_it_keeps_a_thread_per_core_says_nothing_and_tries_nothing():
    computer = Computer()
    chooser = chooser_on(computer)
    computer.train(chooser, 900)
    assert chooser.current == 2 and computer.said == [] and chooser.comparisons == 0
    assert computer.now == pytest.approx(900 * 0.06)  # not one step at the slower count
    computer.train(chooser, 200)
    assert chooser.comparisons == 1  # a look now and then all the same: what else runs changes


def test_beside_a_busy_program_it_trains_on_fewer_threads_and_says_why_then_goes_back():
    computer = Computer()
    chooser = chooser_on(computer)
    computer.busy = True
    computer.train(chooser, 30)
    assert chooser.current == 1
    assert "Threads: 1 instead of 2: other programs are using the cores" in computer.said[0]
    computer.busy = False
    computer.train(chooser, 2 * chooser_module.EXPLORE_EVERY_STEPS)
    assert chooser.current == 2 and "one per core" in computer.said[-1]


class Shared(Computer):
    """Its threads kept from their cores (by the DataLoader's workers, say), yet 2 of them still train faster."""

    def seconds_per_step(self):
        return {2: 0.08, 1: 0.12}[self.threads] if self.busy else super().seconds_per_step()


def test_training_whose_threads_are_kept_from_their_cores_still_keeps_the_count_that_trains_faster():
    computer = Shared()
    chooser = chooser_on(computer)
    computer.busy = True
    computer.train(chooser, 200)
    assert chooser.current == 2 and chooser.comparisons >= 1 and computer.said == []


def test_prediction_compares_now_and_then_ever_less_often_while_nothing_changes():
    computer = Computer()
    chooser = ThreadChooser(2, computer.said.append, clock=computer.clock, set_threads=computer.set_threads, cpu_clock=None)
    for _ in range(3000):
        chooser.record(computer.seconds_per_step(), 32)
    assert chooser.current == 2 and 2 <= chooser.comparisons <= 6  # at 60, 120, 240, 480, 960… steps apart


def answer(computer, chooser, batches):
    """Batches of prediction, each handed over with its own CPU time (waits for requests between them)."""
    for _ in range(batches):
        seconds = computer.seconds_per_step()
        computer.now += seconds + 1.0  # a second without requests: no step's, nobody's CPU
        chooser.record(seconds, 32, cpu_seconds=seconds * computer.threads * (0.5 if computer.busy and computer.threads > 1 else 1.0))


def test_prediction_stalled_beside_a_busy_program_tries_fewer_threads_at_once_as_training_does():
    computer = Computer()
    chooser = ThreadChooser(2, computer.said.append, clock=computer.clock, set_threads=computer.set_threads, cpu_clock=None,
                            work="answer")
    computer.busy = True
    answer(computer, chooser, 30)  # not the 60 batches of a periodic comparison
    assert chooser.current == 1 and computer.said == ["Threads: 1 instead of 2: other programs are using the cores (2 threads ran 50% of their time)"]


class Stalled(Computer):
    """Measured beside a busy loop on each core: some runs, 2 threads took 0.68 s a batch from the first, 1 thread 0.02 s."""

    def seconds_per_step(self):
        return {2: 0.68, 1: 0.02}[self.threads] if self.busy else super().seconds_per_step()


def test_prediction_stalled_from_its_first_batch_changes_within_seconds_not_sixty_batches():
    computer = Stalled()
    chooser = ThreadChooser(2, computer.said.append, clock=computer.clock, set_threads=computer.set_threads, cpu_clock=None,
                            work="answer")
    computer.busy = True
    answer(computer, chooser, 10)
    assert chooser.current == 1  # 3 warm-up batches, 2 that show the stall, 2 timed at each count


class Lucky(Stalled):
    """Beside the busy loops, 2 threads also had quick batches, their CPU time still showing them kept from their cores."""

    def seconds_per_step(self):
        return 0.012 if self.busy and self.threads == 2 and self.luck else super().seconds_per_step()


def test_prediction_beside_a_busy_program_is_not_lured_back_to_more_threads_by_quick_batches_until_the_cores_are_free():
    computer = Lucky()
    computer.luck = False
    chooser = ThreadChooser(2, computer.said.append, clock=computer.clock, set_threads=computer.set_threads, cpu_clock=None,
                            work="answer")
    computer.busy = True
    answer(computer, chooser, 10)
    computer.luck = True  # from now on every 2-thread batch is quick, yet kept from the cores
    answer(computer, chooser, 2000)
    assert chooser.current == 1 and chooser.comparisons >= 4 and len(computer.said) == 1
    computer.busy = False
    answer(computer, chooser, 2 * chooser_module.MOST_STEPS_APART)
    assert chooser.current == 2 and "one per core" in computer.said[-1]


def test_prediction_on_a_quiet_computer_tries_nothing_before_its_periodic_comparison():
    computer = Computer()
    chooser = ThreadChooser(2, computer.said.append, clock=computer.clock, set_threads=computer.set_threads, cpu_clock=None,
                            work="answer")
    answer(computer, chooser, 50)
    assert chooser.current == 2 and chooser.comparisons == 0 and computer.said == []


def test_one_core_has_nothing_to_choose():
    computer = Computer()
    computer.threads = 1
    chooser = chooser_on(computer, cores=1)
    computer.busy = True
    computer.train(chooser, 100)
    assert chooser.current == 1 and computer.said == []


def test_prediction_times_each_batch_for_the_same_choice(monkeypatch):
    import torch

    from sagewiz.core.local import inference
    from sagewiz.core.local.resnet import build_resnet

    heard = []

    class Listening:
        def record(self, seconds, pictures, cpu_seconds=None):
            heard.append((seconds, pictures, cpu_seconds))

    form = inference.inference_form(build_resnet(20, 3, (3, 28, 28)).eval(), (3, 28, 28), precision="float32")
    monkeypatch.setattr(inference, "_CHOOSER", Listening())
    with torch.inference_mode():
        form(torch.rand(5, 3, 28, 28) * 255)
    assert len(heard) == 1 and heard[0][1] == 5 and heard[0][0] > 0 and heard[0][2] >= 0

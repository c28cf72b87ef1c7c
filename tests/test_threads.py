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


def test_prediction_compares_now_and_then_ever_less_often_while_nothing_changes():
    computer = Computer()
    chooser = ThreadChooser(2, computer.said.append, clock=computer.clock, set_threads=computer.set_threads, cpu_clock=None)
    for _ in range(3000):
        chooser.record(computer.seconds_per_step(), 32)
    assert chooser.current == 2 and 2 <= chooser.comparisons <= 6  # at 60, 120, 240, 480, 960… steps apart


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
        def record(self, seconds, pictures):
            heard.append((seconds, pictures))

    form = inference.inference_form(build_resnet(20, 3, (3, 28, 28)).eval(), (3, 28, 28), precision="float32")
    monkeypatch.setattr(inference, "_CHOOSER", Listening())
    with torch.inference_mode():
        form(torch.rand(5, 3, 28, 28) * 255)
    assert len(heard) == 1 and heard[0][1] == 5 and heard[0][0] > 0

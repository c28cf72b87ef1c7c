"""How fast checking or packing goes, and how long is left, in the words the wizard and the commands use."""

from sagewiz.tui.words import Pace


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_pace_says_the_rate_and_the_time_left_once_there_is_a_rate():
    clock = Clock()
    pace = Pace(clock=clock)
    assert pace(0, 50_000) == ""  # nothing measured yet
    clock.now += 10
    assert pace(5_000, 50_000) == "500 pictures/s, about 2 minutes left"
    clock.now += 80
    assert pace(45_000, 50_000) == "500 pictures/s, under a minute left"
    clock.now += 10
    assert pace(50_000, 50_000) == "500 pictures/s"


def test_time_before_the_first_report_does_not_count_and_a_restart_measures_afresh():
    clock = Clock()
    pace = Pace("pictures", clock=clock)
    clock.now += 60  # finding the files took a minute: not part of the rate
    pace(1_000, 4_000)
    clock.now += 2
    assert pace(1_400, 4_000).startswith("200 pictures/s")
    pace.restart()  # the next split
    pace(0, 100)
    clock.now += 20
    assert pace(50, 100) == "2.5 pictures/s, under a minute left"
    clock.now += 0
    assert Pace(clock=clock)(5, 10) == ""

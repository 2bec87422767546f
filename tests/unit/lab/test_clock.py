import pytest

from lab.clock import LabClock


class Wall:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_lab_time_runs_scale_times_faster():
    wall = Wall()
    clock = LabClock(600, wall=wall)
    wall.t += 0.5
    assert clock.now() == pytest.approx(300)
    assert clock.real_seconds(60) == pytest.approx(0.1)


def test_scheduled_callbacks_run_in_time_order_and_see_their_own_time():
    wall = Wall()
    clock = LabClock(10, wall=wall)
    seen = []
    clock.at(30, lambda: seen.append(('b', clock.now())))
    clock.at(10, lambda: seen.append(('a', clock.now())))
    clock.at(10, lambda: clock.after(5, lambda: seen.append(('a2', clock.now()))))
    clock.at(99, lambda: seen.append(('late', clock.now())))
    wall.t += 4  # lab time 40
    clock.advance()
    assert seen == [('a', 10), ('a2', 15), ('b', 30)]


def test_scale_must_be_positive():
    with pytest.raises(ValueError):
        LabClock(0)

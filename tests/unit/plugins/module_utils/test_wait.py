import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption, TimeoutFailure
from ansible_collections.wsfc.rolling.plugins.module_utils._wait import wait_until


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_first_observation_that_is_done():
    t = FakeTime()
    values = iter([1, 2, 3, 4])
    assert wait_until(lambda: next(values), 100, interval=1, done=lambda v: v >= 3, clock=t.clock, sleep=t.sleep) == 3
    assert t.sleeps == [1, 1.5]  # default back-off: x1.5 per miss, capped at 2x the interval


def test_backoff_grows_to_max_interval_and_never_passes_the_deadline():
    t = FakeTime()
    with pytest.raises(TimeoutFailure) as err:
        wait_until(lambda: 'draining 3 of 11', 20, interval=2, max_interval=5, done=lambda v: False,
                   describe=lambda v: 'node2 still %s' % v, clock=t.clock, sleep=t.sleep)
    assert t.sleeps[:4] == [2, 3.0, 4.5, 5]
    assert sum(t.sleeps) == pytest.approx(20)
    assert str(err.value) == 'node2 still draining 3 of 11 after 20 s'
    assert err.value.details['polls'] == len(t.sleeps) + 1


@pytest.mark.parametrize('timeout, interval', [(0, 1), (-5, 1), (None, 1), (10, 0)])
def test_bad_bounds_are_refused(timeout, interval):
    with pytest.raises(InvalidOption):
        wait_until(lambda: True, timeout, interval=interval)


def test_default_backoff_is_capped_at_two_intervals():
    t = FakeTime()
    with pytest.raises(TimeoutFailure):
        wait_until(lambda: None, 60, interval=2, clock=t.clock, sleep=t.sleep)
    assert max(t.sleeps) == 4

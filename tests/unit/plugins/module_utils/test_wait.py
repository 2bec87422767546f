from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption, TimeoutFailure
from ansible_collections.wsfc.rolling.plugins.module_utils._wait import report_progress, wait_until


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


def test_a_long_wait_reports_how_far_it_is_at_most_every_interval():
    clock = FakeTime()
    seen = iter(range(1000))
    lines = []
    report_progress(lines.append, every=60)
    try:
        wait_until(lambda: next(seen), timeout=500, interval=10, max_interval=10, done=lambda n: n >= 20,
                   describe=lambda n: '%d of 20 roles moved' % n, clock=clock.clock, sleep=clock.sleep)
    finally:
        report_progress(None)
    # 20 polls 10 s apart: a line after 60, 120 and 180 s, each with the state seen then.
    assert lines == ['6 of 20 roles moved (waited 60 s of at most 500 s)', '12 of 20 roles moved (waited 120 s of at most 500 s)',
                     '18 of 20 roles moved (waited 180 s of at most 500 s)']
    # Nobody listening (a module run as its own process): nothing reported, the wait is the same.
    clock = FakeTime()
    seen = iter(range(1000))
    assert wait_until(lambda: next(seen), timeout=500, interval=10, max_interval=10, done=lambda n: n >= 20,
                      describe=str, clock=clock.clock, sleep=clock.sleep) == 20 and lines[3:] == []


@pytest.mark.parametrize('value, expected', [(None, 60.0), ('5', 5.0), ('0.5', 0.5), ('0', 60.0), ('soon', 60.0)])
def test_the_progress_interval_comes_from_the_environment(value, expected):
    from ansible_collections.wsfc.rolling.plugins.plugin_utils.module_action import progress_interval
    assert progress_interval({} if value is None else {'WSFC_PROGRESS_INTERVAL': value}) == expected

import datetime
import json

import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import lock
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption, UnsafeToProceed


class FakeSession:
    """The lock.read / lock.cas contract of the shim, with a settable cluster clock."""

    def __init__(self, value=None):
        self.value = value
        self.now = datetime.datetime(2026, 11, 22, 3, 0, 0)
        self.writes = 0

    def call(self, op, params=None, action=None, retry=False):
        now = self.now.strftime('%Y-%m-%dT%H:%M:%S.1234567Z')
        if op == 'lock.read':
            return {'Value': self.value, 'Now': now}
        swapped = params['expect'] == self.value
        if swapped:
            self.value = params['value']
            self.writes += 1
        return {'Swapped': swapped, 'Value': self.value, 'Now': now}


def test_parse_time_handles_seven_fraction_digits_and_offsets():
    assert lock.parse_time('2026-11-22T03:00:00.1234567Z') == datetime.datetime(2026, 11, 22, 3, 0, 0, 123456)
    assert lock.parse_time('2026-11-22T05:00:00+02:00') == datetime.datetime(2026, 11, 22, 3, 0, 0)
    with pytest.raises(ValueError):
        lock.parse_time('yesterday')


def test_acquire_update_release():
    s = FakeSession()
    new, previous, changed = lock.acquire(s, 'awx', 'r1', 3600)
    assert changed and previous is None and new['status'] == 'running' and new['expires'] == '2026-11-22T04:00:00Z'
    assert lock.acquire(s, 'awx', 'r1', 3600)[2] is False  # same run again: no change
    new, changed = lock.update(s, 'r1', 3600, node='HV-N2')
    assert changed and json.loads(s.value)['node'] == 'HV-N2'
    previous, changed = lock.release(s, 'r1')
    assert changed and previous['node'] == 'HV-N2' and s.value is None


def test_another_running_owner_is_refused_with_who_holds_it():
    s = FakeSession()
    lock.acquire(s, 'alice', 'r1', 3600)
    with pytest.raises(UnsafeToProceed, match=r'Another rolling run holds the cluster: held by alice, run r1 \(running\)'):
        lock.acquire(s, 'bob', 'r2', 3600)
    with pytest.raises(UnsafeToProceed, match='Another rolling run'):
        lock.acquire(s, 'alice', 'r3', 3600)  # even the same owner: that run may still be running
    with pytest.raises(UnsafeToProceed, match='Not releasing the run lock of another run'):
        lock.release(s, 'r2')


def test_failed_run_of_the_same_owner_is_resumed_keeping_its_node():
    s = FakeSession()
    lock.acquire(s, 'alice', 'r1', 3600)
    lock.update(s, 'r1', 3600, node='HV-N3', status='failed')
    new, previous, changed = lock.acquire(s, 'alice', 'r2', 3600)
    assert changed and new['node'] == 'HV-N3' and new['status'] == 'running'
    assert previous['status'] == 'failed' and previous['stale'] is False
    with pytest.raises(UnsafeToProceed):
        lock.acquire(s, 'bob', 'r9', 3600)


def test_expired_lock_is_taken_over_and_reported_stale():
    s = FakeSession()
    lock.acquire(s, 'alice', 'r1', 60)
    s.now += datetime.timedelta(minutes=5)
    new, previous, changed = lock.acquire(s, 'bob', 'r2', 60)
    assert changed and previous['stale'] is True and previous['owner'] == 'alice' and new['node'] is None


def test_a_race_is_detected():
    s = FakeSession()

    class Racy(FakeSession):
        def call(self, op, params=None, action=None, retry=False):
            if op == 'lock.cas':
                self.value = '{"owner": "eve", "run_id": "x"}'
            return FakeSession.call(self, op, params, action, retry)
    with pytest.raises(UnsafeToProceed, match='changed while taking it'):
        lock.acquire(Racy(), 'alice', 'r1', 60)
    with pytest.raises(InvalidOption):
        lock.acquire(s, '', 'r1', 60)
    with pytest.raises(InvalidOption):
        lock.acquire(s, 'a', 'r1', 0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import lock
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption, UnsafeToProceed


class FakeSession:
    """The lock operations of the shim for one controller (claims always enter at once; the race
    between claims is tested against the lab's operations in tests/unit/lab/test_lock_race.py),
    with a settable cluster clock."""

    def __init__(self, value=None):
        self.value = value
        self.now = datetime.datetime(2026, 11, 22, 3, 0, 0)
        self.writes = 0

    def call(self, op, params=None, action=None, retry=False):
        now = self.now.strftime('%Y-%m-%dT%H:%M:%S.1234567Z')
        if op == 'lock.read':
            return {'Value': self.value, 'Now': now}
        if op == 'lock.claim':
            return {'Ticket': 1, 'Value': self.value, 'Now': now}
        if op == 'lock.unclaim':
            return {'Withdrawn': True}
        swapped = params['expect'] == self.value
        if swapped:
            self.value = params['value']
            self.writes += 1
        return {'Swapped': swapped, 'Value': self.value, 'Now': now, 'Outcome': 'Done', 'Holder': None}


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
    with pytest.raises(UnsafeToProceed, match=r'Run r1 of the same owner \(alice\) still looks alive: last heartbeat 0s ago'):
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


def test_a_run_whose_heartbeat_stopped_is_resumed_by_its_owner_and_taken_over_only_on_request():
    """The controller was killed mid-node: the lock stays 'running' with the node, and its heartbeat stops."""
    s = FakeSession()
    lock.acquire(s, 'alice', 'r1', 14400)
    lock.update(s, 'r1', None, node='HV-N2')
    s.now += datetime.timedelta(seconds=599)
    with pytest.raises(UnsafeToProceed) as info:
        lock.acquire(s, 'alice', 'r2', 14400)
    assert 'last heartbeat 599s ago' in str(info.value) and 'takeover=true' in str(info.value)
    assert 'cluster_lock state=absent force=true' in str(info.value)
    s.now += datetime.timedelta(seconds=1)
    with pytest.raises(UnsafeToProceed, match=r'Another rolling run holds the cluster: held by alice.*taken 600s ago, '
                                              r'last heartbeat 600s ago'):
        lock.acquire(s, 'bob', 'r3', 14400)
    new, previous, changed = lock.acquire(s, 'alice', 'r2', 14400)
    assert changed and new['node'] == 'HV-N2' and previous['heartbeat_age'] == 600 and previous['stale'] is False


def test_takeover_needs_a_gone_run_and_keeps_its_node():
    s = FakeSession()
    lock.acquire(s, 'alice', 'r1', 14400, node='HV-N4')
    s.now += datetime.timedelta(seconds=30)
    with pytest.raises(UnsafeToProceed):
        lock.acquire(s, 'bob', 'r2', 14400, takeover=True)  # alice's run is alive
    s.now += datetime.timedelta(seconds=600)
    new, previous, changed = lock.acquire(s, 'bob', 'r2', 14400, takeover=True)
    assert changed and new['owner'] == 'bob' and new['node'] == 'HV-N4'


def test_heartbeat_refreshes_during_waits_and_stops_a_run_that_lost_its_lock():
    s = FakeSession()
    lock.acquire(s, 'alice', 'r1', 14400)
    ticks = [0.0]
    beat = lock.Heartbeat(s, 'r1', every=60, clock=lambda: ticks[0])
    s.now += datetime.timedelta(seconds=500)
    ticks[0] = 30
    beat.beat()
    assert beat.beats == 0  # not due yet
    ticks[0] = 61
    beat.beat()
    assert beat.beats == 1
    held = lock.annotate(json.loads(s.value), lock.parse_time(s.now.strftime('%Y-%m-%dT%H:%M:%SZ')))
    assert held['heartbeat_age'] == 0 and held['age'] == 500 and held['abandoned'] is False
    s.value = json.dumps({'owner': 'bob', 'run_id': 'r2'})
    ticks[0] = 200
    with pytest.raises(UnsafeToProceed, match='not held by run r1'):
        beat.beat()


def test_a_lost_answer_to_a_lock_write_is_resolved_by_reading_the_lock_again():
    from ansible_collections.wsfc.rolling.plugins.module_utils._errors import ConnectionFailure

    class Lossy(FakeSession):
        """The write lands (or not), then the answer is lost once."""
        def __init__(self, lands):
            FakeSession.__init__(self)
            self.lands, self.lost = lands, False

        def call(self, op, params=None, action=None, retry=False):
            if op == 'lock.cas' and not self.lost:
                self.lost = True
                if self.lands:
                    FakeSession.call(self, op, params, action, retry)
                raise ConnectionFailure('the shell vanished', details={'transient': True})
            return FakeSession.call(self, op, params, action, retry)
    for lands in (True, False):
        s = Lossy(lands)
        new, previous, changed = lock.acquire(s, 'alice', 'r1', 3600)
        assert changed and json.loads(s.value)['run_id'] == 'r1' and s.writes == 1


def test_a_heartbeat_also_extends_the_expiry_by_the_ttl_the_lock_was_taken_with():
    s = FakeSession()
    lock.acquire(s, 'alice', 'r1', 3600)
    s.now += datetime.timedelta(minutes=50)
    lock.update(s, 'r1', None)
    assert json.loads(s.value)['expires'] == '2026-11-22T04:50:00Z'

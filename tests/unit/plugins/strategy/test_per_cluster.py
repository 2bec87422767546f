"""The per_cluster strategy's wait for results (plugins/strategy/per_cluster.py), without a task queue manager."""

import threading

import pytest

from ansible.module_utils import _internal as module_internal

_WAS_CONTROLLER = module_internal.is_controller
from ansible.plugins.strategy import StrategyBase  # noqa: E402

from ansible_collections.wsfc.rolling.plugins.strategy import per_cluster  # noqa: E402

# Importing Ansible's controller code marks the whole test process as the controller, after which a module's
# warnings go to the display instead of its result, and the module tests of the same run would not see them.
module_internal.is_controller = _WAS_CONTROLLER


class RecordingCondition(object):
    """A stand-in for the strategy's results lock that records the waits asked of it."""

    def __init__(self):
        self.waits = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def wait(self, timeout=None):
        self.waits.append(timeout)
        return False

    def notify_all(self):
        pass


@pytest.fixture
def strategy(monkeypatch):
    """A per_cluster strategy whose base result reading takes every queued result, as Ansible's does."""
    def read_results(self, iterator, one_pass=False, max_passes=None):
        taken = list(self._results)
        self._results.clear()
        self._pending_results -= len(taken)
        return taken
    monkeypatch.setattr(StrategyBase, '_process_pending_results', read_results)
    module = per_cluster.StrategyModule.__new__(per_cluster.StrategyModule)
    module._results_lock = RecordingCondition()
    module._results = per_cluster._SignallingResults(module._results_lock)
    module._pending_results = 0
    module._wsfc_busy = True
    return module


def test_a_look_that_started_a_task_is_followed_by_another_look_at_once(strategy):
    strategy._pending_results = 1
    assert strategy._process_pending_results(None) == []
    assert strategy._results_lock.waits == []


def test_a_look_that_found_nothing_waits_for_the_next_result(strategy):
    strategy._pending_results = 1
    strategy._process_pending_results(None)          # busy before: no wait, nothing read
    strategy._process_pending_results(None)          # idle now: waits
    assert strategy._results_lock.waits == [per_cluster.IDLE_WAIT]


def test_a_result_already_there_is_read_without_waiting(strategy):
    strategy._wsfc_busy = False
    strategy._pending_results = 1
    strategy._results.append('result')
    assert strategy._process_pending_results(None) == ['result']
    assert strategy._results_lock.waits == []
    assert strategy._wsfc_busy                       # a result read: the next look does not wait


def test_nothing_running_means_nothing_to_wait_for(strategy):
    strategy._wsfc_busy = False
    strategy._pending_results = 0
    strategy._process_pending_results(None)
    assert strategy._results_lock.waits == []


def test_queueing_a_task_or_running_a_meta_task_counts_as_work(strategy, monkeypatch):
    monkeypatch.setattr(StrategyBase, '_queue_task', lambda *args: None)
    monkeypatch.setattr(StrategyBase, '_execute_meta', lambda *args: None)
    strategy._wsfc_started = set()

    class Host(object):
        name = 'N1'
    for call in (lambda: strategy._queue_task(Host(), None, {}, None),
                 lambda: strategy._execute_meta(None, None, None, Host())):
        strategy._wsfc_busy = False
        call()
        assert strategy._wsfc_busy


def test_a_result_wakes_a_strategy_waiting_for_one():
    condition = threading.Condition(threading.Lock())
    results = per_cluster._SignallingResults(condition)
    woken, waiting = [], threading.Event()

    def waiter():
        with condition:
            waiting.set()       # the lock is held from here until wait() releases it
            woken.append(condition.wait(60))
    thread = threading.Thread(target=waiter)
    thread.start()
    waiting.wait(60)
    with condition:             # taken only once the waiter waits
        results.append('result')
    thread.join(60)
    assert woken == [True] and list(results) == ['result']


def test_a_result_appended_without_the_lock_is_kept():
    results = per_cluster._SignallingResults(threading.Condition(threading.Lock()))
    results.append('result')
    assert list(results) == ['result']

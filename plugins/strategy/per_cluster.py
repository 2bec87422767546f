# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: per_cluster
short_description: One node (or the run's max_nodes_out) at a time per cluster, the clusters side by side
version_added: 0.3.0
description:
  - The strategy of the runbooks' node play. Each cluster's queued nodes run one after another, in queue order;
    a node gets its first task only once the cluster's node before it has finished its part of the play. The
    clusters do not wait for each other. A cluster whose node takes an hour does not hold back the next node of
    another cluster, as C(serial) batches would.
  - The preflight puts the nodes in the play's group in order and gives each one the host variables
    C(__runbook_queue_cluster) (its cluster), C(__runbook_queue_limit) (clusters worked on at the same time, 0
    for all) and C(__runbook_queue_width) (nodes of the cluster worked on at the same time, the run's
    C(max_nodes_out); 1 when not set). A host without them is a cluster of its own.
  - A node that failed outside the runbook's own failure handling (its host is marked failed) stops its cluster,
    whose later nodes are then never started. An unreachable node does the same.
  - Otherwise it is Ansible's C(free) strategy, except that it does not look for work every
    C(internal_poll_interval) (a millisecond by default) while every running node is inside a long task (a drain,
    an install, a restart) and none can start one; it looks again as soon as a task ends, and at least every
    quarter of a second. Set the forks to at least the number of clusters worked on at the same time.
author:
  - wsfc.rolling developers (@wsfc-rolling)
"""

from collections import deque

from ansible.executor.play_iterator import IteratingStates
from ansible.plugins.loader import filter_loader, test_loader
from ansible.plugins.strategy.free import StrategyModule as FreeStrategyModule

from ansible_collections.wsfc.rolling.plugins.module_utils._plan import runnable_nodes

CLUSTER_VAR = '__runbook_queue_cluster'
LIMIT_VAR = '__runbook_queue_limit'
WIDTH_VAR = '__runbook_queue_width'
# Longest pause, in seconds, before the strategy looks for work again while tasks run and none has ended.
IDLE_WAIT = 0.25


class _SignallingResults(deque):
    """The strategy's queue of task results, which wakes the strategy when a result arrives. Ansible's results
    thread appends with the strategy's results lock (a condition) held."""

    def __init__(self, condition):
        super(_SignallingResults, self).__init__()
        self._condition = condition

    def append(self, x):
        super(_SignallingResults, self).append(x)
        try:
            self._condition.notify_all()
        except RuntimeError:  # appended without the lock: the strategy finds it at its next look, IDLE_WAIT later
            pass


class StrategyModule(FreeStrategyModule):

    def __init__(self, tqm):
        super(StrategyModule, self).__init__(tqm)
        self._wsfc_finished = set()
        self._wsfc_started = set()
        self._wsfc_queue = None
        self._results = _SignallingResults(self._results_lock)
        self._wsfc_busy = True

    def _queue_task(self, host, task, task_vars, play_context):
        self._wsfc_started.add(host.name)
        self._wsfc_busy = True
        return super(StrategyModule, self)._queue_task(host, task, task_vars, play_context)

    def _execute_meta(self, task, play_context, iterator, target_host):
        self._wsfc_busy = True
        return super(StrategyModule, self)._execute_meta(task, play_context, iterator, target_host)

    def _process_pending_results(self, iterator, one_pass=False, max_passes=None):
        # The free strategy looks for work, reads the results, sleeps internal_poll_interval (a millisecond by
        # default) and looks again. With every running node inside a task that lasts minutes, each look finds
        # nothing; in a fleet run ansible-playbook's own process, mostly these looks, was a third of the
        # controller's CPU. When the last look started nothing and read no result, wait here for the next result
        # instead (a node can only become ready to start when a task ends).
        if not self._wsfc_busy and self._pending_results > 0:
            with self._results_lock:
                if not self._results:
                    self._results_lock.wait(IDLE_WAIT)
        results = super(StrategyModule, self)._process_pending_results(iterator, one_pass, max_passes)
        self._wsfc_busy = bool(results)
        return results

    def run(self, iterator, play_context):
        # Ansible forks a worker for every task of every node; each one would find and load Ansible's filter and
        # test plugins again the first time it templates. Loaded here once, the workers inherit them.
        for loader in (filter_loader, test_loader):
            for _plugin in loader.all():
                pass
        return super(StrategyModule, self).run(iterator, play_context)

    def _finished(self, iterator, host):
        """Whether ``host``'s part of the play is over, successfully: no task running or to come, not failed. Once
        over, it stays over (no handlers in these plays)."""
        if host.name in self._wsfc_finished:
            return True
        # Not started yet, or running a task: not finished, without the cost of peeking at its next task every
        # time the strategy looks for work.
        started = host.name in self._wsfc_started or host.name in self._blocked_hosts
        if not started or self._blocked_hosts.get(host.name, False) or iterator.is_failed(host):
            return False
        if iterator.get_next_task_for_host(host, peek=True)[1] is None:
            self._wsfc_finished.add(host.name)
            # What the iterator would find again at every look for work: said once, each look is short.
            iterator.set_run_state_for_host(host.name, IteratingStates.COMPLETE)
            return True
        return False

    def _queue(self):
        """The play's hosts in order with their clusters, the limit of clusters in flight and each cluster's width:
        fixed for the play (it has no serial batches), so read once, not every time the strategy looks for work."""
        if self._wsfc_queue is None:
            queue, limit, widths = [], 0, {}
            for name in self._hosts_cache:
                variables = self._inventory.get_host(name).vars
                cluster = str(variables.get(CLUSTER_VAR, name))
                queue.append((name, cluster))
                limit = limit or int(variables.get(LIMIT_VAR) or 0)
                widths[cluster] = max(widths.get(cluster, 1), int(variables.get(WIDTH_VAR) or 1))
            self._wsfc_queue = (queue, limit, widths)
        return self._wsfc_queue

    def get_hosts_left(self, iterator):
        left = super(StrategyModule, self).get_hosts_left(iterator)
        queue, limit, widths = self._queue()
        finished = set(host.name for host in left if self._finished(iterator, host))
        # With one node at a time a failed node holds its cluster's only place; with more, it must stop the others.
        wide = set(c for c, w in widths.items() if w > 1)
        stopped = set(c for n, c in queue if c in wide and n in self._wsfc_started and iterator.is_failed(self._inventory.get_host(n)))
        allowed = set(runnable_nodes(queue, finished, limit, widths, self._wsfc_started, stopped))
        # Finished hosts stay in the list (the free strategy's place in it must not move past its end).
        return [host for host in left if host.name in allowed or host.name in finished]

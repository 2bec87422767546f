# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A connection to "the cluster" that is never the node being worked on and survives node loss."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._errors import (
    ConnectionFailure, InvalidOption, TimeoutFailure, UnsafeToProceed)
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm._shim import SAFE_TO_REPEAT
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import PowerShellRunner, error_for_record


# The cluster service is not running where the request went (EPT_S_NOT_REGISTERED, windows-behaviour.md §3).
NOT_RUNNING = 1753


def not_running(results):
    """Whether a cmdlet of ``results`` failed because the cluster service does not run on the host that answered."""
    return any(not r.ok and (r.error or {}).get('native_code') == NOT_RUNNING for r in results)


class ClusterSession(object):
    """Runs cluster-wide operations on a surviving node.

    Tries ``options.host`` then each fallback host. A host whose computer name is ``exclude`` (the
    node being drained or rebooted) is skipped: cluster-wide commands must not run on it. When the
    current host stops answering, read-only calls move on to the next host; mutations do not (the
    caller re-reads state before retrying them).
    """

    def __init__(self, options, fallback_hosts=(), exclude=None, runner_factory=PowerShellRunner):
        self.hosts = [options.host] + [h for h in fallback_hosts if h and h != options.host]
        self.options = options
        self.exclude = (exclude or '').lower()
        self._factory = runner_factory
        self._runner = None
        self._index = -1
        self.round_trips = 0
        self.polls = 0
        self.answered_by = None

    def _connect(self, start, calls=None):
        if not self.exclude:
            # Any node will do: no probe round trip; a host that does not answer is skipped by
            # invoke(retry=True).
            self._index = start
            self._runner = self._factory(self.options.replace(host=self.hosts[start]))
            return
        errors = []
        for index in range(start, len(self.hosts)):
            runner = self._factory(self.options.replace(host=self.hosts[index]))
            try:
                # The probe rides along with the first batch when that batch only reads.
                results = runner.invoke([('cluster.get', {})] + list(calls or []))
                result = results[0]
            except (ConnectionFailure, TimeoutFailure) as exc:
                self.round_trips += runner.round_trips
                errors.append(str(exc))
                continue
            self.round_trips += runner.round_trips
            if not result.ok:
                runner.close()
                errors.append('%s: %s' % (self.hosts[index], result.error.get('message')))
                continue
            computer = (result.value.get('ComputerName') or '').lower()
            if self.exclude and computer == self.exclude:
                runner.close()
                errors.append('%s answered as %s, the node being worked on' % (self.hosts[index], computer))
                continue
            self._runner, self._index, self.answered_by = runner, index, result.value.get('ComputerName')
            return results[1:]
        if self.exclude and len(self.hosts) == 1:
            raise InvalidOption("winrm_host %s is the only way to the cluster and it is the node '%s' being worked "
                                "on (or unreachable); give the cluster name or other nodes in winrm_fallback_hosts"
                                % (self.hosts[0], self.exclude))
        raise UnsafeToProceed('No surviving cluster node answered: %s' % '; '.join(errors))

    def invoke(self, calls, stop_on_error=False, retry=False, poll=False):
        """Like PowerShellRunner.invoke; with ``retry`` a lost connection moves to the next host."""
        if self._runner is None and self.exclude and calls and all(op in SAFE_TO_REPEAT for op, _p in calls):
            results = self._connect(0, calls)
            self.polls += 1 if poll else 0
            return results
        if self._runner is None:
            self._connect(0)
        while True:
            try:
                before = self._runner.round_trips
                try:
                    results = self._runner.invoke(calls, stop_on_error, poll=poll)
                finally:
                    self.round_trips += self._runner.round_trips - before
                    self.polls += 1 if poll else 0
                if retry and not_running(results) and all(op in SAFE_TO_REPEAT for op, _p in calls):
                    # The host answers but its cluster service is stopping or stopped (a node restarting, the cluster
                    # name still on its way to another owner): reads go to the next host.
                    raise ConnectionFailure('the cluster service is not running on %s' % self.current_host)
                return results
            except (ConnectionFailure, TimeoutFailure) as exc:
                # A request that never reached the host (no connection; its certificate does not name the
                # address, as a node's certificate does not name the cluster) goes to the next host, mutation
                # or not.
                if not retry and not exc.details.get('not_sent'):
                    raise
                self._runner.close()
                self._runner = None
                if not self.exclude:
                    if self._index + 1 >= len(self.hosts):
                        raise
                    self._connect(self._index + 1)
                else:
                    self._connect(0)

    @property
    def current_host(self):
        """The host the last request went to."""
        return self.hosts[max(self._index, 0)]

    def call(self, op, params=None, action=None, retry=False, poll=False):
        result = self.invoke([(op, params or {})], retry=retry, poll=poll)[0]
        if not result.ok:
            raise error_for_record(action or '%s failed' % op, result.error)
        return result.value

    def close(self):
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

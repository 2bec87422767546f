# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fast offline update: stop the roles and the cluster, keep every node from starting it alone, start it again
only once every node is updated, and bring back every role that was online (windows-behaviour.md §14).

While the cluster is stopped its database is not there: the record of the update (the roles to bring back, the
phase, and on each node whether that node is updated) lives on every node's own disk, where a re-run from any
controller finds it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import storage
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.queries import read_cluster_state
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.session import NOT_RUNNING
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.updates import UNREACHABLE
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import (
    InvalidOption, RemoteCommandError, UnsafeToProceed)
from ansible_collections.wsfc.rolling.plugins.module_utils._wait import wait_until
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import error_for_record


class Nodes(object):
    """One runner per node, reached at its own address (the cluster name does not answer while it is stopped)."""

    def __init__(self, node_hosts, runner_for):
        self.hosts = dict(node_hosts)
        self._runner_for = runner_for
        self._runners = {}

    def call(self, name, op, params=None):
        runner = self._runners.get(name)
        if runner is None:
            runner = self._runners[name] = self._runner_for(name, self.hosts[name])
        result = runner.invoke([(op, params or {})])[0]
        if not result.ok:
            raise error_for_record('%s failed on %s' % (op, name), result.error)
        return result.value

    def records(self):
        """{node: its record (dict) or None}; UnsafeToProceed naming the nodes that do not answer."""
        out, silent = {}, []
        for name in sorted(self.hosts):
            try:
                value = self.call(name, 'offline.state').get('Value')
            except UNREACHABLE as exc:
                silent.append('%s (%s)' % (name, exc))
                continue
            out[name] = json.loads(value) if value else None
        if silent:
            raise UnsafeToProceed('Not every node answers: %s. Nothing was changed; the cluster stays as it is until every '
                                  'node is back' % '; '.join(silent))
        return out

    def write(self, record, names=None):
        for name in names or sorted(self.hosts):
            self.call(name, 'offline.state', {'value': json.dumps(record, sort_keys=True)})

    def startup(self, mode):
        for name in sorted(self.hosts):
            self.call(name, 'node.cluster_startup', {'mode': mode})

    def close(self):
        for runner in self._runners.values():
            runner.close()


def _cluster(session):
    """The cluster's snapshot, or None when its service does not run on the node that answered."""
    try:
        return read_cluster_state(session)
    except RemoteCommandError as exc:
        if NOT_RUNNING in [r.get('native_code') for r in exc.details.get('error_records') or []] or 'not running' in str(exc):
            return None
        raise
    except UNREACHABLE:
        return None


def _recorded(records):
    return next((r for r in records.values() if r), None)


def stop(session, nodes, confirm, check_mode=False):
    """Record, stop the roles that run (in one request), stop the cluster, disable the cluster service on every
    node. Resumes a stop that was interrupted. Returns (changed, record, lines)."""
    state = _cluster(session)
    records = nodes.records()
    record = _recorded(records)
    lines = []
    if record and record.get('phase') == 'stopped' and (
            state is not None or all((r or {}).get('updated') for r in records.values())):
        # Every node is updated, or the cluster runs again: a start was under way when the controller stopped (or was
        # done by hand). Nothing is stopped or disabled again; the start step finishes it and clears the record.
        return False, record, ['%s: the start step finishes the recorded offline update' % record.get('cluster')]
    if state is not None:
        if (confirm or '').lower() != state.cluster.name.lower():
            raise InvalidOption("confirm must be the cluster's name, %s, to take it offline (every role stops until the "
                                "update ends), got %r" % (state.cluster.name, confirm))
        strangers = sorted(set(n.name.lower() for n in state.nodes) ^ set(n.lower() for n in nodes.hosts))
        if strangers:
            raise InvalidOption('node_hosts must name every node of %s exactly: %s differ' % (state.cluster.name, ', '.join(strangers)))
        out = ['%s (%s)' % (n.name, n.state) for n in state.nodes if n.state != 'Up']
        if out:
            raise UnsafeToProceed('Every node must be Up for an offline update (each one is updated): not Up: %s' % ', '.join(out))
        if state.run_lock:
            raise UnsafeToProceed('A wsfc.rolling run holds %s (owner %s, run %s): not stopping the cluster under it'
                                  % (state.cluster.name, state.run_lock.get('owner'), state.run_lock.get('run_id')))
        if state.cau_run and state.cau_run.get('in_progress'):
            raise UnsafeToProceed('CAU reports %s: not stopping the cluster under it' % state.cau_run['summary'])
        # A stop interrupted after some roles were stopped recorded them: they come back too.
        roles = sorted(set((record or {}).get('roles') or []) |
                       set(g.name for g in state.groups if g.state == 'Online' and not g.is_core_group))
        record = {'version': 1, 'cluster': state.cluster.name, 'phase': 'stopping', 'roles': roles, 'nodes': sorted(nodes.hosts)}
        lines.append('%s: %d role(s) to stop and bring back: %s' % (state.cluster.name, len(roles), ', '.join(roles) or 'none'))
        if check_mode:
            return True, record, lines + ['check mode: nothing was stopped']
        nodes.write(record)
        if roles:
            session.call('cluster.group_stop', {'names': roles}, action='Failed to stop the roles')
        session.call('cluster.stop', action='Stop-Cluster failed')
        lines.append('roles stopped, cluster stopped')
    elif record is None:
        raise UnsafeToProceed('The cluster service does not answer and no offline update is recorded on the nodes: this '
                              'is no stop of ours to finish. Check the cluster (Get-ClusterNode on a node) first')
    elif record.get('phase') == 'stopped' and all(r and r.get('phase') == 'stopped' for r in records.values()):
        startups = [nodes.call(n, 'node.cluster_startup').get('StartupType') for n in sorted(nodes.hosts)]
        if all(s == 'Disabled' for s in startups):
            return False, record, ['%s is stopped for the offline update already' % record.get('cluster')]
    if check_mode:
        return True, record, lines + ['check mode: the stop recorded on the nodes would be finished']
    nodes.startup('Disabled')
    record = dict(record, phase='stopped')
    for name in sorted(nodes.hosts):
        # Each node keeps what its own record says of it (updated, its build) when an interrupted stop is finished.
        own = records.get(name) or {}
        nodes.write(dict(record, **dict((k, own[k]) for k in ('updated', 'build') if k in own)), [name])
    lines.append('the cluster service is disabled on every node until the update ends')
    return True, record, lines


def mark_updated(nodes, name, boot):
    """Note on ``name``'s own record that it is updated (its restart done, nothing pending)."""
    value = nodes.call(name, 'offline.state').get('Value')
    record = json.loads(value) if value else None
    if not record or record.get('phase') != 'stopped':
        raise UnsafeToProceed('%s has no offline update recorded in the stopped phase: run the stop step first' % name)
    if boot.get('RebootPending'):
        raise UnsafeToProceed('%s still has a restart pending: it is not updated yet' % name)
    if record.get('updated'):
        return False, record
    record = dict(record, updated=True, build='%s.%s' % (boot.get('BuildNumber'), boot.get('UBR')))
    nodes.write(record, [name])
    return True, record


def start(session, nodes, timeout, interval, storage_timeout, stall_timeout, check_mode=False):
    """Once every node is updated: enable and start the cluster service everywhere, wait for every node and for storage,
    bring back the roles that were online, clear the record. Returns (changed, record, lines)."""
    records = nodes.records()
    record = _recorded(records)
    if record is None:
        state = _cluster(session)
        if state is None:
            raise UnsafeToProceed('The cluster service does not answer and no offline update is recorded on the nodes')
        return False, None, ['no offline update is recorded; %s runs' % state.cluster.name]
    behind = sorted(n for n, r in records.items() if not (r or {}).get('updated'))
    if behind:
        raise UnsafeToProceed('Nothing starts until every node is updated: %s %s not marked updated. The cluster stays '
                              'stopped; update them (run the playbook again) first'
                              % (', '.join(behind), 'is' if len(behind) == 1 else 'are'))
    lines = ['every node is updated (%s)' % ', '.join('%s %s' % (n, r.get('build')) for n, r in sorted(records.items()))]
    if check_mode:
        return True, record, lines + ['check mode: the cluster was not started']
    nodes.startup('Automatic')
    state = _cluster(session)
    if state is None:
        first = sorted(nodes.hosts)[0]
        nodes.call(first, 'cluster.start')
        lines.append('cluster started')
        session.close()
    state = _wait_nodes(session, sorted(nodes.hosts), timeout, interval)
    if state.virtual_disks:
        storage.wait_storage(session, storage_timeout, interval, stall_timeout)
        lines.append('storage healthy')
    roles = record.get('roles') or []
    offline = [g.name for g in state.groups if g.name in roles and g.state != 'Online']
    if offline:
        session.call('cluster.group_start', {'names': offline}, action='Failed to bring the roles back')
    _wait_roles(session, roles, timeout, interval)
    lines.append('roles online again: %s' % (', '.join(roles) or 'none'))
    for name in sorted(nodes.hosts):
        nodes.call(name, 'offline.state', {'clear': True})
    return True, record, lines


def _wait_nodes(session, names, timeout, interval):
    def poll():
        try:
            return read_cluster_state(session)
        except (RemoteCommandError,) + UNREACHABLE:
            session.close()
            return None

    def done(state):
        return state is not None and all(state.node(n) is not None and state.node(n).state == 'Up' for n in names)

    def describe(state):
        if state is None:
            return 'the cluster does not answer yet'
        return 'nodes not Up yet: %s' % ', '.join('%s (%s)' % (n.name, n.state) for n in state.nodes if n.state != 'Up')
    return wait_until(poll, timeout, interval=interval, describe=describe, done=done)


def _wait_roles(session, roles, timeout, interval):
    def poll():
        return read_cluster_state(session)

    def away(state):
        return [g.name for g in state.groups if g.name in roles and g.state != 'Online']

    return wait_until(poll, timeout, interval=interval, done=lambda s: not away(s),
                      describe=lambda s: 'roles not online yet: %s' % ', '.join(away(s)))

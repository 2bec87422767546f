# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pause (drain) and resume a cluster node, and wait for the result."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import model
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption, RemoteCommandError, UnsafeToProceed
from ansible_collections.wsfc.rolling.plugins.module_utils._wait import wait_until
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import error_for_record

# Resume-ClusterNode -Failback values (ResumeClusterNodeFailbackType) by the module's choices.
FAILBACK = {'immediate': 'Immediate', 'policy': 'Policy', 'none': 'NoFailback'}

# Win32 codes Suspend-ClusterNode fails with (windows-behaviour.md §3).
ERROR_CLUSTER_NODE_DOWN = 5050
ERROR_CLUSTER_NODE_EVACUATION_IN_PROGRESS = 5962
ERROR_CLUSTER_SPACE_DEGRADED = 5987


class NodeView(object):
    """A node and the groups it owns, read in one round trip."""

    def __init__(self, node, groups):
        self.node = node
        self.groups = groups
        self.migration_states = {}   # VM role -> MigrationState, when asked for (read_node migrations)
        self.away = []               # roles a failback wait still waits for

    @property
    def owned(self):
        return [g for g in self.groups if g.owner_node.lower() == self.node.name.lower()]

    def to_dict(self):
        return {'name': self.node.name, 'state': self.node.state, 'drain_status': self.node.drain_status,
                'roles_owned': [g.name for g in self.owned]}


def read_node(session, name, retry=True, poll=False, migrations=()):
    """The node and every group (one round trip); NotFound for an unknown node. With ``migrations`` (VM
    role names), their MigrationState comes along in ``view.migration_states``."""
    calls = [('cluster.nodes', {'names': [name]}), ('cluster.groups', {})]
    if migrations:
        calls.append(('cluster.vm_migration', {'names': list(migrations)}))
    results = session.invoke(calls, retry=retry, poll=poll)
    nodes, groups = results[:2]
    if not nodes.ok:
        raise error_for_record("Failed to read cluster node '%s'" % name, nodes.error)
    if not groups.ok:
        raise error_for_record('Failed to read the clustered roles', groups.error)
    view = NodeView(model.Node.from_ps(nodes.value[0]), [model.Group.from_ps(g) for g in groups.value or []])
    if migrations and results[2].ok:
        view.migration_states = dict((m['Name'], m['MigrationState']) for m in results[2].value or [])
    return view


def suspend(session, name, drain=True, force_drain=False, target=None):
    """Suspend-ClusterNode (to ``target`` with -TargetNode), returning as soon as the cluster accepted it (the drain
    runs on)."""
    params = {'name': name, 'drain': drain, 'force_drain': force_drain}
    if target:
        params['target'] = target
    result = session.invoke([('cluster.node.suspend', params)])[0]
    if not result.ok:
        code = result.error.get('native_code')
        reason = {
            ERROR_CLUSTER_SPACE_DEGRADED: ' (a storage space is degraded or repairing: wait for storage)',
            ERROR_CLUSTER_NODE_DOWN: ' (the node is down, or no other node is up to take its roles)',
            ERROR_CLUSTER_NODE_EVACUATION_IN_PROGRESS: ' (a drain of this node is already running)',
        }.get(code, '')
        raise error_for_record("Failed to suspend cluster node '%s'%s" % (name, reason), result.error)
    return model.Node.from_ps(result.value)


def resume(session, name, failback):
    if failback not in FAILBACK:
        raise InvalidOption('failback must be one of %s, got %r' % (', '.join(sorted(FAILBACK)), failback))
    result = session.invoke([('cluster.node.resume', {'name': name, 'failback': FAILBACK[failback]})])[0]
    if not result.ok:
        raise error_for_record("Failed to resume cluster node '%s'" % name, result.error)
    return model.Node.from_ps(result.value)


def wait_drained(session, name, timeout, interval):
    """Wait until DrainStatus is Completed. A drain that ends Failed names the roles left behind.

    Returns:
        NodeView once drained.
    Raises:
        RemoteCommandError: DrainStatus Failed.
        TimeoutFailure: still draining after ``timeout`` (message: roles moved / remaining).
    """
    start = {}

    def poll():
        view = read_node(session, name, poll=True)
        start.setdefault('owned', len(view.owned))
        return view

    def describe(view):
        moved = max(0, start.get('owned', 0) - len(view.owned))
        return "%s still draining: %d of %d roles moved, remaining %s" % (
            name, moved, start.get('owned', 0), ', '.join(g.name for g in view.owned) or 'none')

    view = wait_until(poll, timeout, interval=interval, describe=describe,
                      done=lambda v: v.node.drain_status in ('Completed', 'Failed'))
    if view.node.drain_status == 'Failed':
        raise RemoteCommandError("Drain of cluster node '%s' failed: roles not moved: %s. The node stays paused; "
                                 "move or stop those roles, or use force_drain" % (name, ', '.join(
                                     g.name for g in view.owned) or 'unknown'),
                                 details={'node': view.to_dict()})
    if view.owned:
        # The drain's own status is not the whole truth: the node must own nothing before it is touched.
        raise UnsafeToProceed("Drain of cluster node '%s' reports Completed, but the cluster says it still owns %s. "
                              "The node stays paused and nothing else was done; move those roles off it and run again"
                              % (name, ', '.join(g.name for g in view.owned)), details={'node': view.to_dict()})
    return view


# MigrationState of a Virtual Machine resource that ended a move for good: Canceled, Failure (windows-behaviour.md §5).
MIGRATION_ENDED = (4, 5)


def wait_failback(session, name, roles, timeout, interval):
    """Wait until ``roles`` are owned by the node again, or until every role still away ended its move
    for good (its live migration failed or was cancelled: the cluster does not try again, the VM runs on
    where it was). Returns (view, roles not back)."""
    def missing(view):
        owned = set(g.name.lower() for g in view.owned)
        return sorted(r for r in roles if r.lower() not in owned)

    def poll():
        view = read_node(session, name, poll=True, migrations=roles)
        view.away = missing(view)
        return view

    def ended(view):
        return all(view.migration_states.get(r) in MIGRATION_ENDED for r in view.away)

    view = wait_until(poll, timeout, interval=interval,
                      describe=lambda v: '%s failback not finished: still away %s' % (name, ', '.join(v.away)), done=ended)
    return view, view.away


def preferred_roles(view):
    """Roles whose first preferred owner is this node: what failback brings home."""
    return [g.name for g in view.groups
            if g.preferred_owners and g.preferred_owners[0].lower() == view.node.name.lower()]

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evict a node, add one, move roles to a node (the cmdlets that need a delegated credential)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import gates, model
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import RemoteCommandError, UnsafeToProceed
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import error_for_record


def read_members(session):
    """(cluster properties, nodes, quorum) in one round trip."""
    cluster, nodes, quorum = session.invoke([('cluster.get', {}), ('cluster.nodes', {}), ('cluster.quorum', {})], retry=True)
    for result, what in ((cluster, 'the cluster'), (nodes, 'the cluster nodes'), (quorum, 'the quorum')):
        if not result.ok:
            raise error_for_record('Failed to read %s' % what, result.error)
    return (model.ClusterProperties.from_ps(cluster.value), [model.Node.from_ps(n) for n in nodes.value or []],
            model.Quorum.from_ps(quorum.value))


def find(nodes, name):
    return next((n for n in nodes if n.name.lower() == name.lower()), None)


def evict(session, node, ignore_storage_loss=False, members=None, quorum=None, min_quorum_margin=None, left_paused=()):
    """Remove-ClusterNode -Force, for a node that is drained (Paused) or Down.

    With ``members`` and ``quorum`` (read just before), the cluster-wide conditions are checked first:
    every other node Up and quorum keeping its margin without this node.

    Raises:
        UnsafeToProceed: the node is Up or Joining (drain it first: evicting fails its roles over), or
            the cluster-wide conditions do not hold (the node stays paused).
        RemoteCommandError: the cmdlet failed.
    """
    if node.state not in ('Paused', 'Down'):
        raise UnsafeToProceed("Refusing to evict cluster node '%s': it is %s. Pause and drain it first "
                              "(cluster_node state=paused), so that its roles move without failing over."
                              % (node.name, node.state))
    if members is not None and quorum is not None:
        failed = [c for c in gates.membership_checks(members, quorum, node.name, min_quorum_margin, left_paused) if not c.ok]
        if failed:
            raise UnsafeToProceed("Not evicting cluster node '%s' now: %s. It was left %s; run again once the cluster "
                                  "is whole" % (node.name, '; '.join('%s: %s' % (c.name, c.detail) for c in failed),
                                                node.state), details={'checks': [c.to_dict() for c in failed]})
    # The membership is read back in the same round trip.
    results = session.invoke([('cluster.node.remove', {'name': node.name, 'ignore_storage_loss': ignore_storage_loss}),
                              ('cluster.nodes', {})], stop_on_error=True)
    if not results[0].ok:
        raise error_for_record("Failed to evict cluster node '%s'" % node.name, results[0].error)
    if not results[1].ok or find([model.Node.from_ps(n) for n in results[1].value or []], node.name) is not None:
        raise RemoteCommandError("Cluster node '%s' is still listed after Remove-ClusterNode" % node.name)


def add(node_runner, cluster_name, name, no_storage=False):
    """Add-ClusterNode run on the joining node itself (RU: add newer nodes from a newer node)."""
    result = node_runner.invoke([('cluster.node.add', {'name': name, 'cluster': cluster_name, 'no_storage': no_storage})])[0]
    if not result.ok:
        raise error_for_record("Failed to add '%s' to cluster '%s'" % (name, cluster_name), result.error)
    return model.Node.from_ps(result.value)


def move_roles(session, names, owner):
    """Start moving roles to ``owner`` (VMs by live migration); returns at once, the caller waits."""
    if not names:
        return []
    result = session.invoke([('cluster.group.move', {'names': list(names), 'owner': owner})])[0]
    if not result.ok:
        raise error_for_record("Failed to move roles %s to '%s'" % (', '.join(names), owner), result.error)
    return [model.Group.from_ps(g) for g in result.value or []]

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only cluster queries built on the runner; one round trip for a whole snapshot."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import model
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import lock as run_lock
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import NotFound
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import error_for_record, note_remote_warning

# (operation, what it reads) in the order of the snapshot request.
SNAPSHOT_CALLS = (
    ('cluster.get', 'the cluster'),
    ('cluster.quorum', 'the quorum configuration'),
    ('cluster.nodes', 'the cluster nodes'),
    ('cluster.groups', 'the clustered roles'),
    ('cluster.csv', 'the cluster shared volumes'),
    ('storage.pools', 'the storage pools'),
    ('storage.virtualdisks', 'the virtual disks'),
    ('storage.jobs', 'the storage jobs'),
    ('cau.role', 'the Cluster-Aware Updating role'),
    ('lock.read', 'the rolling-run lock'),
    ('cau.run_state', 'the Cluster-Aware Updating run'),
)


def read_cluster_state(runner, expected_cluster=None, lock_stale_after=run_lock.STALE_AFTER):
    """Read the whole cluster in one round trip.

    Args:
        runner: a PowerShellRunner connected to the cluster name or any node.
        expected_cluster: when given, the cluster name the endpoint must belong to.
        lock_stale_after: seconds without a heartbeat after which the run lock counts as abandoned.

    Returns:
        model.ClusterState

    Raises:
        NotFound: the endpoint belongs to another cluster than ``expected_cluster``.
        RemoteCommandError: a cmdlet failed (e.g. the cluster service is not running there).
    """
    results = runner.invoke([(op, {}) for op, _what in SNAPSHOT_CALLS])
    host = getattr(runner, 'current_host', None) or runner.options.host
    state = state_from_results(results, host, lock_stale_after)
    if expected_cluster and state.cluster.name.lower() != expected_cluster.lower():
        raise NotFound("Cluster '%s' not found: %s belongs to cluster '%s'"
                       % (expected_cluster, host, state.cluster.name))
    return state


def state_from_results(results, host, lock_stale_after=run_lock.STALE_AFTER):
    """Build the ClusterState from the results of SNAPSHOT_CALLS (in that order)."""
    values = {}
    for (op, what), result in zip(SNAPSHOT_CALLS, results):
        if not result.ok and op == 'cau.role':
            # Get-CauClusterRole reads the role's settings where the role runs: from a WinRM session
            # without delegation that is a second hop, and it is refused. The snapshot goes on without
            # the settings (the role itself is among the groups).
            note_remote_warning("%s: could not read the Cluster-Aware Updating role's settings (%s). From a WinRM "
                                "session without delegation this is a second hop: use CredSSP or Kerberos delegation, "
                                "or read them on the node that owns the role" % (host, result.error.get('message')))
            values[op] = 'unreadable'
            continue
        if not result.ok and op == 'cau.run_state':
            # Unknown, not absent: the gates refuse on it; the snapshot itself is still worth having.
            values[op] = {'RunState': 'Unknown', 'Error': result.error.get('message')}
            continue
        if not result.ok:
            raise error_for_record("Failed to read %s from '%s'" % (what, host), result.error)
        values[op] = result.value
    cluster = model.ClusterProperties.from_ps(values['cluster.get'])
    cau = values['cau.role']
    if cau == 'unreadable':
        group = next((g for g in values['cluster.groups'] or [] if g.get('GroupTypeValue') == model.CAU_GROUP_TYPE), None)
        cau = group and {'GroupName': group['Name'], 'OwnerNode': group['OwnerNode'], 'State': group['State'],
                         'Parameters': None}
    return model.ClusterState(
        cluster=cluster,
        quorum=model.Quorum.from_ps(values['cluster.quorum']),
        nodes=[model.Node.from_ps(d) for d in values['cluster.nodes'] or []],
        groups=[model.Group.from_ps(d) for d in values['cluster.groups'] or []],
        shared_volumes=[model.SharedVolume.from_ps(d) for d in values['cluster.csv'] or []],
        storage_pools=[model.StoragePool.from_ps(d) for d in values['storage.pools'] or []],
        virtual_disks=[model.VirtualDisk.from_ps(d) for d in values['storage.virtualdisks'] or []],
        storage_jobs=[model.StorageJob.from_ps(d) for d in values['storage.jobs'] or []],
        cau_role=model.CauRole.from_ps(cau) if cau else None,
        run_lock=run_lock.annotate(run_lock.decode(values['lock.read'].get('Value')),
                                   run_lock.parse_time(values['lock.read']['Now']), lock_stale_after),
        cau_run=model.cau_run_view(values['cau.run_state']),
    )

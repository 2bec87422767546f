"""The fast offline update's cluster operations in the lab: Stop-ClusterGroup / Start-ClusterGroup, Stop-Cluster /
Start-Cluster and the cluster service's start mode (windows-behaviour.md §14).

Stop-Cluster stops the cluster service on every node; every role still online goes offline with it. While the
cluster is stopped on purpose (``lab.offline``) the rolling invariants (one node out, quorum, volumes online) do
not apply; the offline update's own do: a node that starts its cluster service by itself before Start-Cluster,
and Start-Cluster while a node still has updates to install or a restart pending, are violations (nothing
starts until every node is updated). A node whose cluster service is Disabled stays out of the cluster when it
restarts; Start-Cluster refuses while one is Disabled (wording UNVERIFIED). Roles stopped by Stop-ClusterGroup
stay offline after Start-Cluster (their persistent state), the others come back with the cluster. Downtime of
roles an administrator stopped is planned downtime.
"""

from . import availability, maintenance
from .model import CmdletError


def _group(lab, name):
    group = lab.groups.get(name)
    if group is None:
        raise CmdletError("The cluster group '%s' could not be found." % name, 'ClusterGroupNotFound', 'ObjectNotFound',
                          exception='Microsoft.FailoverClusters.PowerShell.ClusterCmdletException', target=name)
    return group


def group_stop(lab, names):
    out = []
    for name in names:
        group = _group(lab, name)
        availability.take_offline(lab, group, 'Offline', 'stopped')
        lab.recorder.record('group.stopped', group=group.name)
        out.append({'Name': group.name, 'State': group.state})
    return out


def group_start(lab, names):
    out = []
    for name in names:
        group = _group(lab, name)
        owner = lab.node(group.owner)
        if owner is None or owner.state != 'Up':
            raise CmdletError("The cluster group '%s' could not be brought online: its owner is not Up." % name,
                              'GroupOnlineFailed', 'InvalidOperation',
                              exception='Microsoft.FailoverClusters.PowerShell.ClusterCmdletException', target=name)
        availability.bring_online(lab, group, 'stopped')
        lab.recorder.record('group.started', group=group.name)
        out.append({'Name': group.name, 'State': group.state})
    return out


def stop_cluster(lab):
    lab.offline = {'since': lab.clock.now()}
    lab.recorder.record('cluster.stopped', nodes=sorted(n.name for n in lab.nodes.values() if n.cluster_service == 'Running'))
    for group in lab.groups.values():
        availability.take_offline(lab, group, 'Offline', 'cluster_stopped')
    for volume in lab.shared_volumes:
        volume.state = 'Offline'
    for node in lab.nodes.values():
        if node.cluster_service in ('Running', 'Starting'):
            node.cluster_service = 'Stopped'
            node.joining = False
    lab.voters, lab.witness_vote = set(), False


def start_cluster(lab):
    members = [n for n in lab.nodes.values() if n.power == 'On']
    disabled = sorted(n.name for n in members if n.cluster_startup == 'Disabled')
    if disabled:
        raise CmdletError("Service 'Cluster Service (ClusSvc)' cannot be started on %s: it is disabled." % ', '.join(disabled),
                          'StartClusterFailed', 'InvalidOperation',
                          exception='Microsoft.FailoverClusters.PowerShell.ClusterCmdletException')
    if lab.offline is not None:
        behind = sorted(n.name for n in lab.nodes.values()
                        if n.reboot_pending or maintenance._applicable(n, {}) or n.power != 'On')
        if behind:
            lab.recorder.violation('offline_started_before_every_node_updated', nodes=behind)
    lab.recorder.record('cluster.start_requested', nodes=sorted(n.name for n in members))

    def joined():
        if lab.offline is None or any(n.state not in ('Up', 'Paused') for n in lab.nodes.values()):
            return
        lab.offline = None
        lab.recorder.record('cluster.started')
        for disk in lab.virtual_disks:     # nothing wrote while the cluster was stopped: nothing to resync
            disk.health, disk.operational = 0, [2]
        availability.evaluate(lab, membership=True, graceful=True)
        for group in lab.groups.values():
            availability.bring_online(lab, group, 'cluster_stopped')
    for node in members:
        if node.cluster_service != 'Running':
            maintenance.start_service(lab, node, lambda: True, joined)

"""What still serves after a change: cluster quorum (dynamic quorum and dynamic witness), Storage Spaces
Direct pool quorum and volume resiliency, and where roles and CSVs go when their node leaves.

``evaluate(lab)`` runs after every change of membership, pause state or storage repair (lock held).
Sources are in docs/windows-behaviour.md (sections named next to each rule); docs/lab-fidelity.md lists
each behaviour with its test. Where the documentation leaves a choice, the harsher one is taken and
marked UNVERIFIED.
"""

# Offline reasons that are an administrator's choice (Stop-ClusterGroup, Stop-Cluster): planned downtime.
PLANNED = ('stopped', 'cluster_stopped')
DETACHED = 0xD002       # MSFT_VirtualDisk OperationalStatus "Detached" (windows-behaviour.md, storage)
UNHEALTHY = 2


# -- cluster quorum --------------------------------------------------------------------------

def recompute_votes(lab):
    """Dynamic quorum: every node in membership votes; with an even number of them the witness votes
    (dynamic witness) or, without a working witness, one node's vote is taken away so the total stays
    odd (windows-behaviour.md, quorum). Which node loses it is the cluster's choice; the lab takes the
    highest id (LowerQuorumPriorityNodeID left unset)."""
    present = [n for n in lab.nodes.values() if n.in_membership and n.node_weight]
    if not lab.dynamic_quorum:
        lab.voters = set(n.name for n in lab.nodes.values() if n.node_weight)
        lab.witness_vote = witness_online(lab)
        return
    voters = [n.name for n in present]
    lab.witness_vote = False
    if len(voters) % 2 == 0 and voters:
        if witness_online(lab):
            lab.witness_vote = True
        else:
            highest = max(present, key=lambda n: int(n.id))
            voters.remove(highest.name)
    lab.voters = set(voters)


def witness_online(lab):
    return bool(lab.quorum.resource) and lab.quorum.resource_state == 'Online'


def _keeps_quorum(lab):
    """The partition that is left keeps quorum when it holds more than half of the votes the
    cluster counted before the change (a tie is lost: the lab does not model tie-breaking)."""
    total = len(lab.voters) + (1 if lab.witness_vote else 0)
    if total == 0:
        return True
    present = set(n.name for n in lab.nodes.values() if n.in_membership)
    held = len(lab.voters & present) + (1 if lab.witness_vote and witness_online(lab) else 0)
    return held * 2 > total


def _lose_quorum(lab):
    """The cluster service stops on every node that was still running it; every role goes offline."""
    lab.quorum_lost = True
    stopped = [n.name for n in lab.nodes.values() if n.cluster_service == 'Running' and n.power == 'On']
    lab.recorder.violation('cluster_quorum_lost', nodes_stopped=stopped)
    for name in stopped:
        lab.machine(name).cluster_service = 'Stopped'
    for group in lab.groups.values():
        take_offline(lab, group, 'Offline', 'quorum')
    lab.voters, lab.witness_vote = set(), False


def _maybe_reform(lab):
    """After a loss, the cluster forms again once the members that are running hold a majority of the
    configured votes (their cluster service keeps trying, windows-behaviour.md, quorum)."""
    running = [n for n in lab.nodes.values() if n.power == 'On' and n.cluster_service in ('Running', 'Stopped')]
    total = sum(n.node_weight for n in lab.nodes.values()) + (1 if lab.quorum.resource else 0)
    held = sum(n.node_weight for n in running) + (1 if witness_online(lab) else 0)
    if held * 2 <= total:
        return
    lab.quorum_lost = False
    for node in running:
        node.cluster_service = 'Running'
    lab.recorder.record('cluster.formed', nodes=[n.name for n in running])
    recompute_votes(lab)
    for group in lab.groups.values():
        bring_online(lab, group, 'quorum')


def membership_changed(lab, graceful=False):
    """A node left or joined membership, or the witness changed. A graceful departure (shutdown,
    Stop-ClusterNode, evict) gives its vote up before leaving, so it never costs quorum; an unplanned
    one is checked against the votes counted before it (windows-behaviour.md, quorum)."""
    if lab.quorum_lost:
        _maybe_reform(lab)
    elif not graceful and not _keeps_quorum(lab):
        _lose_quorum(lab)
        return
    if not lab.quorum_lost:
        recompute_votes(lab)


# -- roles and CSVs whose node left ------------------------------------------------------------

def take_offline(lab, group, state, reason):
    """An Online group goes offline for ``reason`` (a VM stops: its downtime starts)."""
    if group.state != 'Online':
        return
    group.state, group.offline_reason = state, reason
    if group.group_type == 'VirtualMachine' and group.offline_since is None:
        group.offline_since = lab.clock.now()
    lab.recorder.record('group.offline', group=group.name, state=state, reason=reason)


def bring_online(lab, group, reason):
    """A group taken offline for ``reason`` comes back (a VM starts again: its downtime ends)."""
    if group.offline_reason != reason:
        return
    group.offline_reason = None
    group.state = 'Online'
    down = 0.0
    if group.offline_since is not None:
        down = lab.clock.now() - group.offline_since
        group.downtime += down
        if reason in PLANNED:
            group.planned_downtime += down
        group.offline_since = None
    lab.recorder.record('group.online', group=group.name, downtime=round(down, 3), reason=reason)


def place_orphans(lab):
    """Groups and CSVs owned by a node outside membership move to a node in it: an Up node (preferred
    owners first); when no node is Up, a Paused one, where the group stays offline until a node is Up
    ([MS-CMRP] ApiPauseNode, windows-behaviour.md, roles). A running VM restarts on its new owner."""
    up = [n for n in lab.nodes.values() if n.state == 'Up']
    paused = [n for n in lab.nodes.values() if n.state == 'Paused']
    for group in lab.groups.values():
        owner = lab.node(group.owner)
        if owner is not None and owner.in_membership:
            continue
        pool = up or paused
        if not pool:
            continue
        target = next((n for n in pool if n.name in group.preferred_owners), pool[0])
        lab.recorder.record('group.failover', group=group.name, source=group.owner, target=target.name)
        group.owner = target.name
        if group.group_type == 'VirtualMachine' and group.state == 'Online':
            # An unplanned failover restarts the VM on the new owner: that is downtime.
            lab.recorder.record('group.offline', group=group.name, state='Failover')
            group.downtime += lab.timings['quick_migration_seconds']
        if not up:
            take_offline(lab, group, 'Offline', 'no_node_up')
    if up:
        for group in lab.groups.values():
            bring_online(lab, group, 'no_node_up')
    for volume in lab.shared_volumes:
        owner = lab.node(volume.owner)
        if owner is None or owner.state != 'Up':
            move_csv(lab, volume, exclude=volume.owner)


def move_csv(lab, volume, exclude):
    """CSV ownership moves to the Up node owning the fewest CSVs (windows-behaviour.md, roles)."""
    up = [n for n in lab.nodes.values() if n.state == 'Up' and n.name != exclude]
    if not up:
        return
    count = dict((n.name, 0) for n in up)
    for v in lab.shared_volumes:
        if v.owner in count:
            count[v.owner] += 1
    target = min(up, key=lambda n: (count[n.name], int(n.id)))
    lab.recorder.record('csv.moved', volume=volume.name, source=volume.owner, target=target.name)
    volume.owner = target.name


# -- Storage Spaces Direct --------------------------------------------------------------------

def missing_fault_domains(lab, extra=()):
    """S2D nodes whose copy of the data is not current: outside membership, paused (drives in storage
    maintenance), evicted, or back but not yet resynced (windows-behaviour.md, storage)."""
    out = []
    for name in lab.s2d_nodes:
        node = lab.machine(name)
        if node is None or name in extra or not node.in_service or node.stale:
            out.append(name)
    return out


def pool_has_quorum(lab):
    """Pool quorum: more than half of the drives' votes, the pool resource's owner breaking a tie
    (windows-behaviour.md, storage). Each node holds the same drives; drives of a node outside
    membership do not vote; drives in storage maintenance are present and vote."""
    total = len(lab.s2d_nodes)
    voting = [name for name in lab.s2d_nodes if lab.machine(name) is not None and lab.machine(name).in_membership]
    if len(voting) * 2 > total:
        return True
    return len(voting) * 2 == total and lab.core_group().owner in voting


def volumes_lost(lab, extra=()):
    """Virtual disks that cannot stay online with ``extra`` nodes out as well."""
    if not lab.s2d_enabled:
        return []
    missing = len(missing_fault_domains(lab, extra))
    pool = pool_has_quorum(lab)
    return [d.friendly_name for d in lab.virtual_disks if not pool or missing > d.redundancy]


def _storage(lab):
    lost = set(volumes_lost(lab))
    for disk in lab.virtual_disks:
        csv = next((v for v in lab.shared_volumes if v.disk == disk.friendly_name), None)
        if disk.friendly_name in lost:
            disk.health, disk.operational = UNHEALTHY, [DETACHED]
            if csv is not None and csv.state == 'Online':
                csv.state = 'Offline'
                if lab.offline is None:
                    lab.recorder.violation('volume_offline', volume=disk.friendly_name,
                                           nodes_out=missing_fault_domains(lab))
            for group in lab.groups.values():
                if csv is not None and group.volume == csv.name and group.group_type == 'VirtualMachine':
                    take_offline(lab, group, 'Offline', 'volume')
        elif csv is not None and csv.state == 'Offline':
            csv.state = 'Online'
            disk.health, disk.operational = 1, [3]
            lab.recorder.record('volume.online', volume=disk.friendly_name)
            for group in lab.groups.values():
                if group.volume == csv.name:
                    bring_online(lab, group, 'volume')


def evaluate(lab, graceful=False, membership=False):
    if membership:
        membership_changed(lab, graceful)
    if not lab.quorum_lost:
        place_orphans(lab)
    _storage(lab)
    lab.recorder.check_quorum(lab)
    lab.recorder.check_nodes_out(lab)

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Safety gates: may this node be taken out of the cluster now? Pure functions over a snapshot."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from dataclasses import replace

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.model import quorum_summary

# Without a MoveTypeThreshold parameter, drains live-migrate High and Medium priority VMs and
# quick-migrate (save state) Low ones (Failover Clustering team blog, "Configuring How VMs Are
# Moved when a Node is Drained").
DEFAULT_MOVE_TYPE_THRESHOLD = 2000


class Check(object):
    def __init__(self, name, ok, detail):
        self.name, self.ok, self.detail = name, ok, detail

    def to_dict(self):
        return {'name': self.name, 'ok': self.ok, 'detail': self.detail}


def free_memory(capacity, state, exclude, together=()):
    """Free memory (MB) per Up node other than ``exclude`` and the nodes ``together`` with it, adjusted for VMs that
    moved since measured.

    ``capacity``: {node: {'free_mb': int, 'vms': {vm: mb}}} as measured on each node.
    """
    vm_memory = {}
    for entry in capacity.values():
        vm_memory.update(entry.get('vms') or {})
    away = set(n.lower() for n in together or ()) | {exclude.lower()}
    free = {}
    for node in state.nodes:
        if node.name.lower() in away or node.state != 'Up':
            continue
        entry = capacity.get(node.name)
        if entry is None:
            continue
        measured = set(entry.get('vms') or {})
        owned_now = set(g.name for g in state.groups if g.is_vm and g.owner_node.lower() == node.name.lower())
        gone = sum((entry.get('vms') or {}).get(vm, 0) for vm in measured - owned_now)
        came = sum(vm_memory.get(vm, 0) for vm in owned_now - measured)
        free[node.name] = int(entry.get('free_mb', 0)) + gone - came
    return free


def place(demand, free):
    """Greedy placement of VMs (largest first) on the node with most free memory; returns unplaced VMs."""
    free = dict(free)
    unplaced = []
    for vm, mb in sorted(demand.items(), key=lambda item: (-item[1], item[0])):
        target = max(free, key=lambda n: free[n]) if free else None
        if target is None or free[target] < mb:
            unplaced.append(vm)
            continue
        free[target] -= mb
    return unplaced


def drain_target(state, name, capacity, candidates, together=()):
    """The first of ``candidates`` (nodes updated before ``name``, the latest first) that is Up and has the free
    memory for every VM ``name`` runs, for Suspend-ClusterNode -TargetNode (each VM then moves once: to a node
    already updated). Returns (node or '', why): '' lets the cluster place the VMs, as a drain without a target.
    With other nodes of the run out (``together``) their drains may be filling any node: the cluster places them."""
    if not candidates:
        return '', 'no node updated before it in this run: the cluster places its VMs'
    if together:
        return '', 'other nodes of this run are out (%s): the cluster places its VMs' % ', '.join(together)
    if not capacity or name not in capacity:
        return '', 'memory not measured: the cluster places its VMs'
    demand = sum(mb for vm, mb in (capacity[name].get('vms') or {}).items()
                 if any(g.name == vm and g.owner_node.lower() == name.lower() for g in state.groups))
    free = free_memory(capacity, state, name)
    by_name = dict((n.lower(), n) for n in free)
    refused = []
    for candidate in candidates:
        node = by_name.get(str(candidate).lower())
        if node is None:
            refused.append('%s is not up or not measured' % candidate)
        elif free[node] < demand:
            refused.append('%s has %d MB free for %d MB of VMs' % (node, free[node], demand))
        else:
            return node, '; '.join(refused + ['%d MB of VMs to %s (%d MB free)' % (demand, node, free[node])])
    return '', '%s: the cluster places its VMs' % '; '.join(refused)


def mates(lock, run_id, name):
    """The other nodes this run has out at the same time as ``name`` (the run lock's ``out``, with
    ``max_nodes_out`` above one), in the run lock of ``run_id``."""
    if not lock or not run_id or lock.get('run_id') != run_id:
        return []
    return [n for n in lock.get('out') or [] if str(n).lower() != name.lower()]


def membership_checks(nodes, quorum, name, min_quorum_margin=None, left_paused=(), together=()):
    """The cluster-wide conditions for ``name`` being out, re-checked before every disruptive step:
    every other node Up (or paused by an administrator before the run and left so: ``left_paused``, on a
    cluster without Storage Spaces Direct; or out for this same run at the same time: ``together``, in any state),
    and quorum keeping its margin (lost witness = lost vote) without ``name`` and without every node ``together``
    with it (counted as down: any of them may be restarting at any moment)."""
    left = set(n.lower() for n in left_paused or ())
    away = set(n.lower() for n in together or ()) - {name.lower()}
    others = dict((n.name, n.state) for n in nodes if n.name.lower() != name.lower() and n.state != 'Up'
                  and not (n.state == 'Paused' and n.name.lower() in left) and n.name.lower() not in away)
    kept = sorted(n.name for n in nodes if n.name.lower() in left and n.state == 'Paused' and n.name.lower() != name.lower())
    with_it = sorted(n.name for n in nodes if n.name.lower() in away)
    checks = [Check('other_nodes_up', not others, ('every other node is Up' + (
        ' (left paused by an administrator: %s)' % ', '.join(kept) if kept else '') + (
        ' (out with it for this run: %s)' % ', '.join(with_it) if with_it else '')) if not others else
        'not Up: %s' % ', '.join('%s (%s)' % item for item in sorted(others.items())))]
    gone = away | {name.lower()}
    after = quorum_summary([replace(n, state='Down') if n.name.lower() in gone and n.state in ('Up', 'Paused')
                            else n for n in nodes], quorum)
    needed_margin = min_quorum_margin
    if needed_margin is None or needed_margin < 0:
        # One node of spare margin once there are 4 or more voters (nodes + witness).
        needed_margin = 1 if after['votes_total'] >= 4 else 0
    checks.append(Check('quorum_margin', after['margin'] >= needed_margin,
                        'without %s: %d of %d votes, %d needed, margin %d (required %d)%s' % (
                            ', '.join([name] + with_it), after['votes_present'], after['votes_total'], after['votes_needed'],
                            after['margin'], needed_margin,
                            '' if after['witness_online'] or not after['witness'] else
                            '; witness %s is offline' % after['witness'])))
    return checks


def _domain(node):
    """The fault domain a node sits in, above the node itself (site, rack, chassis), as Get-ClusterFaultDomain
    nests them; empty where the cluster defines none."""
    return tuple(d for d in node.fault_domain if not str(d).lower().startswith('node='))


def set_checks(state, name, together, max_nodes_out, lock, run_id):
    """With ``max_nodes_out`` above one: the conditions on the set of nodes out at once (``name`` and the nodes
    ``together`` with it for this run). Quorum and memory for the whole set are in evaluate()."""
    taken = [name] + [n for n in together if n.lower() != name.lower()]
    checks = [Check('nodes_out', len(taken) <= max_nodes_out, '%d of at most %d nodes out at once: %s' % (
        len(taken), max_nodes_out, ', '.join(taken)))]
    domains = dict((n.name, _domain(n)) for n in state.nodes if n.name.lower() in set(t.lower() for t in taken))
    distinct = sorted(set(domains.values()))
    if not any(distinct):
        checks.append(Check('fault_domain', True, 'the cluster defines no fault domains'))
    else:
        where = ', '.join('%s in %s' % (n, '/'.join(d) or 'none') for n, d in sorted(domains.items()))
        checks.append(Check('fault_domain', len(distinct) == 1, 'the nodes out at once share the fault domain %s'
                            % '/'.join(distinct[0]) if len(distinct) == 1 else
                            'the nodes out at once would span fault domains (%s): one failure of a domain would then '
                            'cost more than one domain' % where))
    # One drain at a time: a VM a drain is still moving can land on a node paused meanwhile, and would then be on it
    # when it restarts. So before a node that is Up is paused, every other node of the set must be drained (Paused,
    # drain Completed) or restarting. A node already out for the run (a re-run finishing it) is paused already.
    states = dict((n.name.lower(), n) for n in state.nodes)
    candidate = states.get(name.lower())

    def settled(mate):
        return mate is None or mate.state in ('Down', 'Joining') or (mate.state == 'Paused' and mate.drain_status == 'Completed')
    moving = sorted(n for n in together if candidate is not None and candidate.state == 'Up' and not settled(states.get(n.lower())))
    checks.append(Check('set_settled', not moving, 'the nodes out with it are drained or restarting' if not moving else
                        'not drained yet, or coming back: %s' % ', '.join(
                            '%s (%s, drain %s)' % (n, states[n.lower()].state, states[n.lower()].drain_status) for n in moving)))
    failed = bool(lock and run_id and lock.get('run_id') == run_id and lock.get('status') == 'failed')
    checks.append(Check('run_not_failed', not failed, 'a node of this run failed: no further node is taken out'
                        if failed else 'no node of this run failed'))
    return checks


def evaluate(state, name, capacity=None, move_type_threshold=None, allow_save_state=False,
             min_quorum_margin=None, lock=None, run_id=None, cau_run=None, check_mode=False, owner=None, left_paused=(),
             max_nodes_out=1):
    """All gate checks for taking ``name`` out. Returns a list of Check (ok or not, with detail).

    ``check_mode``: the run did not take its lock; the lock gate then passes where the real run would hold the
    lock here (no lock, or one of this run or of its ``owner``, which the run takes over).
    ``max_nodes_out``: above one, the other nodes this run has out (the run lock's ``out``) may be out too, and
    the gates check the set: how many, one fault domain, quorum and memory without all of them."""
    checks = []
    node = state.node(name)
    if node is None:
        return [Check('node_exists', False, "cluster node '%s' not found in cluster %s" % (name, state.cluster.name))]
    together = mates(lock, run_id, name) if max_nodes_out > 1 else []
    ours = bool(lock and run_id and lock.get('run_id') == run_id and (
        (lock.get('node') or '').lower() == name.lower() or name.lower() in [str(n).lower() for n in lock.get('out') or []]))
    if node.state == 'Up':
        checks.append(Check('node_state', True, '%s is Up' % name))
    elif node.state == 'Paused' and ours:
        checks.append(Check('node_state', True, '%s is already paused by this run (resuming it)' % name))
    elif node.state in ('Down', 'Joining') and ours:
        # The run that recorded this node was interrupted while it restarted: finish it.
        checks.append(Check('node_state', True, '%s is %s, restarting for this run (waiting for it)' % (name, node.state)))
    elif node.state == 'Down':
        checks.append(Check('node_state', False, '%s is Down: bring it back (power, cluster service) first' % name))
    else:
        checks.append(Check('node_state', False, '%s is %s (drain %s), not by this run' % (name, node.state, node.drain_status)))

    checks.extend(membership_checks(state.nodes, state.quorum, name, min_quorum_margin, left_paused, together))
    if max_nodes_out > 1:
        checks.extend(set_checks(state, name, together, max_nodes_out, lock, run_id))

    running = [j for j in state.storage_jobs if not j.finished]
    unhealthy = [d for d in state.virtual_disks if not d.healthy]
    storage_ok = not running and not unhealthy
    detail = 'storage quiet and healthy' if storage_ok else '; '.join(
        ['job %s %s %d%%' % (j.name, j.job_state, j.percent_complete) for j in running] +
        ['disk %s %s/%s' % (d.friendly_name, d.health_status, ','.join(d.operational_status)) for d in unhealthy])
    if not storage_ok and ours and node.state in ('Paused', 'Down', 'Joining'):
        # The node is already out for this run (every other node is Up, checked below): the spaces are degraded
        # by its own absence, and finishing its cycle takes no further copy; its resume starts the repair.
        checks.append(Check('storage', True, '%s is already out for this run; storage is degraded by its absence (%s)'
                            % (name, detail)))
    else:
        checks.append(Check('storage', storage_ok, detail))

    threshold = DEFAULT_MOVE_TYPE_THRESHOLD if move_type_threshold is None else move_type_threshold
    vms = [g for g in state.groups if g.is_vm and g.owner_node.lower() == name.lower() and g.state == 'Online']
    quick = sorted(g.name for g in vms if g.priority < threshold)
    if not quick:
        checks.append(Check('live_migration', True, 'all %d running VMs live-migrate (MoveTypeThreshold %d)' % (len(vms), threshold)))
    else:
        checks.append(Check('live_migration', bool(allow_save_state),
                            '%s would be quick-migrated (saved, clients disconnected) by the drain: priority below '
                            'MoveTypeThreshold %d%s' % (', '.join(quick), threshold,
                                                        ' (allowed by allow_save_state)' if allow_save_state else
                                                        '; set allow_save_state, raise their priority or lower '
                                                        'MoveTypeThreshold')))

    if capacity is not None:
        # The VMs of this node, and those the nodes out with it still run (their drains may still be moving them).
        away = set(n.lower() for n in together) | {name.lower()}
        running = set(g.name for g in state.groups if g.is_vm and g.state == 'Online' and g.owner_node.lower() in away)
        demand = {}
        for entry_node in [node.name] + list(together):
            demand.update((vm, mb) for vm, mb in ((capacity.get(entry_node) or {}).get('vms') or {}).items()
                          if vm in running)
        free = free_memory(capacity, state, name, together)
        unplaced = place(demand, free)
        if unplaced:
            detail = 'no room on the other nodes for %s (%d MB free in total)' % (', '.join(unplaced), sum(free.values()))
        else:
            detail = '%d MB of VMs fit in %d MB free on %d nodes' % (sum(demand.values()), sum(free.values()), len(free))
        checks.append(Check('capacity', not unplaced, detail))

    if run_id is not None:
        held = bool(lock and lock.get('run_id') == run_id)
        would_take = check_mode and not held and (not lock or bool(owner) and lock.get('owner') == owner)
        if held:
            detail = 'held by this run'
        elif would_take:
            detail = 'not taken in check mode; the run would take it (%s)' % (describe_lock(lock) if lock else 'no lock now')
        else:
            detail = 'the run lock is not held by this run (%s)' % (describe_lock(lock) if lock else 'no lock')
        checks.append(Check('run_lock', held or would_take, detail))

    if cau_run is not None:
        # model.cau_run_view(): an unreadable run state counts as in progress.
        checks.append(Check('cau_run', not cau_run['in_progress'], 'no CAU Updating Run' if not cau_run['in_progress'] else
                            'CAU reports %s: let it finish, or recover a failed one with Invoke-CauRun -ForceRecovery '
                            '(wsfc.rolling.cau_run force_recovery=true)' % cau_run['summary']))
    return checks


def describe_lock(lock):
    return 'held by %s, run %s (%s), since %s, expires %s%s' % (
        lock.get('owner'), lock.get('run_id'), lock.get('status', 'running'), lock.get('acquired'), lock.get('expires'),
        ', working on %s' % lock['node'] if lock.get('node') else '')

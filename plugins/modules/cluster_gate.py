#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cluster_gate
short_description: Check that a failover cluster node can be taken out safely right now
version_added: 0.1.0
description:
  - Evaluates every safety gate before a node is drained, and fails naming each condition that does
    not hold. Changes nothing.
  - "The gates: the node is Up (or already paused by this run); every other node is Up; quorum still
    holds without this node's vote, with a margin of one more node once there are 4 or more voters
    (witness counted); no storage job runs and every virtual disk is Healthy/OK; the other nodes have
    the free memory for this node's VMs; no VM would be quick-migrated (saved) by the drain unless
    O(allow_save_state); the run lock is held by O(run_id); no Cluster-Aware Updating run is in progress."
  - With O(record_node), a gate that passes also records O(name) in the run lock as the node being worked on (one
    write, in the same connection), which is what a re-run reads to find the node this run left. Otherwise it
    changes nothing.
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
  - wsfc.rolling.winrm.LEFT_PAUSED
  - wsfc.rolling.winrm.WAIT
  - wsfc.rolling.winrm.HEARTBEAT
attributes:
  check_mode:
    support: full
    description: Every gate is checked the same way, except that the run lock need not be held (the run did not take it)
      when no other owner holds it; the run lock is not written (the result says whether it would change).
  diff_mode:
    support: none
    description: The lock's new value is in RV(lock).
options:
  name:
    description: The cluster node that is about to be taken out.
    type: str
    required: true
  node_hosts:
    description:
      - WinRM address of each node by cluster node name, used to read memory and VMs on the nodes.
      - Without it (and without O(capacity)) the capacity gate is skipped and says so.
    type: dict
    default: {}
  capacity:
    description:
      - Memory measured earlier (the RV(capacity) of a previous run of this module). Only O(name) is
        measured again; the others are adjusted for VMs that moved since. Saves a round trip per node.
    type: dict
  allow_save_state:
    description: Accept that the drain quick-migrates (saves) VMs whose priority is below MoveTypeThreshold.
    type: bool
    default: false
  min_quorum_margin:
    description:
      - Votes that must remain spare after this node's vote is gone. Default (also for a negative value) 1 with 4 or
        more voters, else 0.
    type: int
  run_id:
    description: When set, the run lock must be held by this run.
    type: str
  record_node:
    description:
      - Once every gate passed, record O(name) in the run lock of O(run_id) (status running), extending it by
        O(lock_ttl) seconds. Needs O(run_id) and O(lock_owner).
    type: bool
    default: false
  lock_owner:
    description: With O(record_node), the owner of the run lock (as given to M(wsfc.rolling.cluster_lock)).
    type: str
  lock_ttl:
    description: With O(record_node), seconds the run lock is extended by.
    type: int
    default: 7200
  check_cau:
    description: Refuse while Cluster-Aware Updating reports a run in progress or failed.
    type: bool
    default: true
  drain_targets:
    description:
      - Nodes updated before O(name) in this run, the most recent first. The first that is Up and has the free memory for
        every VM of O(name) is returned as RV(drain_target), for the drain to send them there (each VM then moves once).
        None fits, or none given - RV(drain_target) is empty and the cluster places them.
    type: list
    elements: str
    default: []
  staged_boot:
    description:
      - The LastBootUpTime O(name) had when its updates were installed while it served (install while serving). When it
        restarted since, on its own, its VMs went down with it - the gate fails and the run stops for a look.
    type: str
  max_nodes_out:
    description:
      - How many nodes this run may have out at once (on a cluster without Storage Spaces Direct). Above one, the nodes
        this run already has out (the run lock's C(out)) may be out too, and the gates check the set - at most this
        many, all in one fault domain where the cluster defines them, quorum keeping O(min_quorum_margin) without all of
        them, the free memory of the remaining nodes for every VM they still run - and refuse once a node of the run
        failed.
      - Where only the set stops the node (the gates that a node of the set coming back makes pass), the gate waits for
        that (with O(wait)), at most O(wait_timeout) seconds.
      - With O(record_node), the node joins C(out) by compare-and-set on the lock the gates read; when another task of
        the run wrote it first, the gates are checked again on what it wrote.
    type: int
    default: 1
  wait_timeout:
    description: With O(max_nodes_out) above one, the longest wait for the nodes out with O(name), in seconds.
    type: int
    default: 7200
  only_membership:
    description:
      - Check only the cluster-wide conditions for O(name) being out - every other node Up, quorum keeping
        O(min_quorum_margin) without it (an offline witness counts as a lost vote) - as before each disruptive
        step on a node that is already out (for example the power cycle of an evicted node). O(name) need not
        be a member.
    type: bool
    default: false
seealso:
  - module: wsfc.rolling.cluster_lock
  - module: wsfc.rolling.cluster_node
'''

EXAMPLES = r'''
- name: Check that HV-N2 may be drained now
  wsfc.rolling.cluster_gate:
    name: HV-N2
    run_id: "{{ rolling_run_id }}"
    node_hosts: {HV-N1: hv-n1.contoso.com, HV-N2: hv-n2.contoso.com, HV-N3: hv-n3.contoso.com}
  delegate_to: localhost
'''

RETURN = r'''
ok:
  description: Whether every gate passed (the task fails when not).
  returned: always
  type: bool
checks:
  description: Every gate with C(name), C(ok) and C(detail).
  returned: always
  type: list
  elements: dict
  sample: [{name: quorum_margin, ok: true, detail: "without HV-N2: 4 of 5 votes, 3 needed, margin 1 (required 1)"}]
drain_target:
  description: With O(drain_targets), the node to drain O(name) to, or empty for the cluster's own placement.
  returned: success
  type: str
drain_target_detail:
  description: Why RV(drain_target) is that node, or why it is empty.
  returned: success
  type: str
capacity:
  description: Memory per node as measured (C(free_mb), C(vms) by name in MB), to pass to the next gate.
  returned: success
  type: dict
node:
  description:
    - The node as the gate saw it (C(name), C(state), C(drain_status)). A node of this run that is V(Paused) or
      restarting (V(Down), V(Joining)) passes the node check, so that a re-run continues it from there.
  returned: success
  type: dict
  sample: {name: HV-N2, state: Up, drain_status: NotInitiated}
restart_under_way:
  description:
    - Whether the node is V(Down) or V(Joining), that is, a restart that an interrupted run of this owner started is
      under way. The runbook then waits for it instead of draining the node.
  returned: success
  type: bool
  sample: false
lock:
  description: With O(record_node), the run lock as recorded (or as it would be, in check mode).
  returned: when O(record_node) is set and the gates passed
  type: dict
together:
  description: With O(max_nodes_out) above one, the other nodes this run had out when the gates passed.
  returned: success
  type: list
  elements: str
waited_for:
  description: With O(max_nodes_out) above one, how many looks found the set in the way before the gates passed.
  returned: with O(max_nodes_out) above one
  type: int
round_trips:
  description: WinRM round trips made.
  returned: always
  type: int
'''


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import check_wait_options, wait_argument_spec, winrm_argument_spec
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import gates, lock, updates
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.queries import SNAPSHOT_CALLS, state_from_results
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption, UnsafeToProceed
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, session_from_module
from ansible_collections.wsfc.rolling.plugins.module_utils._wait import wait_until
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import PowerShellRunner, WinRMOptions, error_for_record


def node_runner(options, node, host):
    # The node's own endpoint confirms it is that node (the same round trip): a swapped address
    # stops the gate before anything changes.
    return PowerShellRunner(options.replace(host=host), expect_node=node)


def measure(options, node, host, boot=False):
    """Memory and VMs on ``node`` (with ``boot``, its boot facts too), read on its own endpoint."""
    with node_runner(options, node, host) as runner:
        results = runner.invoke([('node.capacity', {})] + ([('node.boot', {})] if boot else []))
        for result in results:
            if not result.ok:
                raise error_for_record('Failed to read memory and VMs on %s' % host, result.error)
        return results[0].value, results[1].value if boot else None, runner.round_trips


def restarted_check(name, staged_boot, boot):
    """Whether ``name`` kept the boot it had when its updates were installed while it served."""
    now = (boot or {}).get('LastBootUpTime')
    if updates.restarted_since(staged_boot, now):
        return gates.Check('not_restarted', False, '%s restarted on its own after its updates were installed while it '
                           'served (boot time %s, now %s): its workloads went down with it. Look at what happened, '
                           'then run again' % (name, staged_boot, now))
    return gates.Check('not_restarted', True, 'still on the boot of %s, its restart pending' % staged_boot)


# Gates that a node out with this one for the same run (max_nodes_out above one) can make fail: they pass again once
# it is back, so the gate waits for that instead of failing.
SET_BOUND = ('other_nodes_up', 'quorum_margin', 'storage', 'capacity', 'nodes_out', 'fault_domain', 'set_settled')


def _check(module):
    p = module.params
    if p['record_node'] and not (p['run_id'] and p['lock_owner']):
        raise InvalidOption('record_node needs run_id and lock_owner')
    if p['max_nodes_out'] < 1:
        raise InvalidOption('max_nodes_out must be 1 or more, got %d' % p['max_nodes_out'])
    check_wait_options(p)
    with session_from_module(module) as session:
        if p['max_nodes_out'] == 1 or not p['wait']:
            return _look(module, session)[1]
        waited = []

        def look():
            try:
                return _look(module, session)
            except UnsafeToProceed as exc:
                failed = [c for c in exc.details.get('checks') or [] if not c['ok']]
                if exc.details.get('together') and all(c['name'] in SET_BOUND for c in failed):
                    waited.append(exc)
                    return None, exc
                raise

        def describe(seen):
            return 'Waited for the nodes out with %s for this run to come back: %s' % (
                p['name'], seen[1] if seen and seen[0] is None else 'another task of the run wrote the lock first')

        _done, result = wait_until(look, p['wait_timeout'], interval=p['poll_interval'], describe=describe,
                                   done=lambda seen: seen[0] == 'done')
        result['waited_for'] = len(waited)
        return result


def _look(module, session):
    """Every gate once, on a new snapshot; with record_node and the gates passed, the node recorded. Returns
    ('done', result), or ('again', None) when another task of this run wrote the lock between the read and the
    record (with max_nodes_out above one: the gates then decide again on what it wrote)."""
    p = module.params
    calls = [(op, {}) for op, _what in SNAPSHOT_CALLS] + [('cluster.vm_move_policy', {})]
    before = session.round_trips
    results = session.invoke(calls, retry=True)
    state = state_from_results(results[:len(SNAPSHOT_CALLS)], session.answered_by or session.options.host)
    # Node names as the cluster spells them (Windows compares computer names without regard to case).
    spelled = dict((n.name.lower(), n.name) for n in state.nodes)
    p = dict(p, name=spelled.get(p['name'].lower(), p['name']),
             node_hosts=dict((spelled.get(k.lower(), k), v) for k, v in (p['node_hosts'] or {}).items()))
    extra = dict((r.op, r) for r in results[len(SNAPSHOT_CALLS):])
    threshold = extra['cluster.vm_move_policy'].value['MoveTypeThreshold'] if extra['cluster.vm_move_policy'].ok else None
    cau_run = state.cau_run if p['check_cau'] else None     # Get-CauRun, in the snapshot
    result = _gates(p, state, threshold, cau_run, session.round_trips - before, module.check_mode)
    if p['record_node']:
        raw = next(r for r in results if r.op == 'lock.read').value
        current = (lock.decode(raw.get('Value')), raw.get('Value'), lock.parse_time(raw['Now']))
        fields = {'node': p['name'], 'status': 'running'}
        before = session.round_trips
        if module.check_mode:
            held = current[0] or {}
            result.update(changed=any(held.get(k) != v for k, v in fields.items()), lock=dict(held, **fields))
        elif p['max_nodes_out'] > 1:
            new = lock.join_out(session, current, p['name'], p['lock_ttl'])
            if new is None:
                return 'again', None
            result.update(changed=True, lock=new)
        else:
            new, _previous, changed = lock.acquire(session, p['lock_owner'], p['run_id'], p['lock_ttl'],
                                                   current=current, **fields)
            result.update(changed=changed, lock=new)
        result['round_trips'] += session.round_trips - before
    return 'done', result


def _gates(p, state, threshold, cau_run, round_trips, check_mode=False):
    """Every gate for p['name'] on the snapshot ``state``; raises UnsafeToProceed naming the failed ones."""
    name = p['name']
    held = state.run_lock
    if p['only_membership']:
        # Before a disruptive step on a node that is already out (restart, power cycle of an evicted node):
        # only the cluster-wide conditions.
        checks = gates.membership_checks(state.nodes, state.quorum, name, p['min_quorum_margin'], p['left_paused'])
        failed = [c for c in checks if not c.ok]
        result = {'changed': False, 'ok': not failed, 'checks': [c.to_dict() for c in checks], 'capacity': {},
                  'node': None, 'round_trips': round_trips}
        if failed:
            raise UnsafeToProceed('Not safe to go on with %s now: %s' % (
                name, '; '.join('%s: %s' % (c.name, c.detail) for c in failed)), details=result)
        return result
    capacity = dict(p['capacity'] or {})
    hosts = p['node_hosts'] or {}
    unknown = sorted(set(hosts) - set(n.name for n in state.nodes))
    if unknown:
        raise InvalidOption('node_hosts names nodes that are not in cluster %s: %s' % (state.cluster.name, ', '.join(unknown)))
    if p['staged_boot'] and name not in hosts:
        raise InvalidOption('staged_boot needs the address of %s in node_hosts (its boot time is read there)' % name)
    wanted = [n for n in hosts if n == name or n not in capacity]
    if wanted:
        options = WinRMOptions.from_params(p)
        # One node after the other: requests edits os.environ while it looks up proxies for each request
        # (should_bypass_proxies), so parallel runners in threads race on it (KeyError: 'no_proxy').
        for node in wanted:
            value, boot, trips = measure(options, node, hosts[node], boot=bool(p['staged_boot']) and node == name)
            if boot is not None:
                staged = restarted_check(name, p['staged_boot'], boot)
            capacity[node] = {'free_mb': int(value['FreeMemoryMB']), 'total_mb': int(value['TotalMemoryMB']),
                              'vms': dict((v['Name'], int(v['MemoryAssignedMB'])) for v in value.get('VMs') or [])}
            round_trips += trips
    checks = gates.evaluate(state, name, capacity=capacity if (hosts or p['capacity']) else None,
                            move_type_threshold=threshold, allow_save_state=p['allow_save_state'],
                            min_quorum_margin=p['min_quorum_margin'], lock=held, run_id=p['run_id'],
                            cau_run=cau_run, check_mode=check_mode, owner=p['lock_owner'], left_paused=p['left_paused'],
                            max_nodes_out=p['max_nodes_out'])
    together = gates.mates(held, p['run_id'], name) if p['max_nodes_out'] > 1 else []
    if p['staged_boot']:
        checks.append(staged)
    failed = [c for c in checks if not c.ok]
    node = state.node(name)
    target, why = gates.drain_target(state, name, capacity, p['drain_targets'], together)
    result = {'changed': False, 'ok': not failed, 'checks': [c.to_dict() for c in checks], 'capacity': capacity,
              'drain_target': target, 'drain_target_detail': why, 'together': together,
              'node': {'name': node.name, 'state': node.state, 'drain_status': node.drain_status} if node else None,
              'restart_under_way': bool(node and node.state in ('Down', 'Joining')), 'round_trips': round_trips}
    if failed:
        raise UnsafeToProceed('Not safe to take %s out: %s' % (name, '; '.join('%s: %s' % (c.name, c.detail) for c in failed)),
                              details=result)
    return result


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(
        name=dict(type='str', required=True),
        node_hosts=dict(type='dict', default={}),
        capacity=dict(type='dict'),
        allow_save_state=dict(type='bool', default=False),
        min_quorum_margin=dict(type='int'),
        left_paused=dict(type='list', elements='str', default=[]),
        run_id=dict(type='str'),
        check_cau=dict(type='bool', default=True),
        record_node=dict(type='bool', default=False),
        lock_owner=dict(type='str'),
        lock_ttl=dict(type='int', default=7200),
        only_membership=dict(type='bool', default=False),
        drain_targets=dict(type='list', elements='str', default=[]),
        staged_boot=dict(type='str'),
        max_nodes_out=dict(type='int', default=1),
    )
    argument_spec.update(wait_argument_spec(7200))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _check)


if __name__ == '__main__':
    main()

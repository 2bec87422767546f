from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import gates, model
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.queries import read_cluster_state
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import PowerShellRunner, WinRMOptions
from lab import cau
from unit.labproto import LabProtocol, build_lab


def snapshot(lab, node=None):
    node = node or next(iter(lab.nodes))
    runner = PowerShellRunner(WinRMOptions(host=node, user='u', password='p'), protocol_factory=lambda o: LabProtocol(lab, node))
    return read_cluster_state(runner)


def failed(checks):
    return dict((c.name, c.detail) for c in checks if not c.ok)


def capacity(lab):
    out = {}
    for node in lab.nodes.values():
        vms = dict((g.name, g.memory_mb) for g in lab.groups.values() if g.group_type == 'VirtualMachine' and g.owner == node.name)
        out[node.name] = {'free_mb': node.memory_mb - node.host_reserve_mb - sum(vms.values()), 'vms': vms}
    return out


def test_a_healthy_cluster_passes_every_gate():
    lab = build_lab('hyperv4')
    state = snapshot(lab)
    checks = gates.evaluate(state, 'HV-N2', capacity=capacity(lab), move_type_threshold=1000,
                            lock={'run_id': 'r1'}, run_id='r1', cau_run=state.cau_run)
    assert failed(checks) == {}
    assert [c.name for c in checks] == ['node_state', 'other_nodes_up', 'quorum_margin', 'storage', 'live_migration',
                                        'capacity', 'run_lock', 'cau_run']


def test_another_node_out_and_quorum_margin():
    lab = build_lab('hyperv4')
    lab.set_power('HV-N4', 'Off')
    bad = failed(gates.evaluate(snapshot(lab), 'HV-N2', move_type_threshold=1000))
    assert bad['other_nodes_up'] == 'not Up: HV-N4 (Down)'
    assert bad['quorum_margin'] == 'without HV-N2: 3 of 5 votes, 3 needed, margin 0 (required 1)'
    # A negative margin (the runbooks' -1) is the default rule; an explicit 0 accepts no spare vote.
    state = snapshot(lab)
    assert failed(gates.membership_checks(state.nodes, state.quorum, 'HV-N2', -1))['quorum_margin'].endswith('(required 1)')
    assert 'quorum_margin' not in failed(gates.membership_checks(state.nodes, state.quorum, 'HV-N2', 0))


def test_two_node_cluster_needs_no_spare_vote():
    lab = build_lab('twonode')
    checks = gates.evaluate(snapshot(lab), 'EDGE-N1', allow_save_state=True)
    assert failed(checks) == {}
    assert 'margin 0 (required 0)' in next(c.detail for c in checks if c.name == 'quorum_margin')


def test_storage_busy_and_unhealthy_refuse():
    from lab.model import StorageJob
    lab = build_lab('s2d4')
    lab.virtual_disks[1].health, lab.virtual_disks[1].operational = 1, [11]
    lab.faults['storage_stall'] = {'percent': 40}  # hold the job at 40% while the snapshot is read
    lab.storage_jobs.append(StorageJob('Repair', bytes_total=100, started=-1e6, duration=2e6))
    bad = failed(gates.evaluate(snapshot(lab), 'HCI-N1', move_type_threshold=1000))
    assert bad == {'storage': 'job Repair Running 40%; disk Volume02 Warning/In Service'}


def test_vms_below_move_threshold_refuse_unless_allowed():
    lab = build_lab('hyperv4', vms=[{'count': 8, 'priority': 'high', 'memory_gb': 16},
                                    {'count': 4, 'priority': 'low', 'memory_gb': 8}])
    state = snapshot(lab)
    low = sorted(g.name for g in state.groups if g.is_vm and g.owner_node == 'HV-N1' and g.priority == 1000)
    assert low
    detail = failed(gates.evaluate(state, 'HV-N1'))['live_migration']
    assert detail.startswith('%s would be quick-migrated (saved, clients disconnected) by the drain' % ', '.join(low))
    assert 'MoveTypeThreshold 2000' in detail
    assert 'live_migration' not in failed(gates.evaluate(state, 'HV-N1', allow_save_state=True))
    assert 'live_migration' not in failed(gates.evaluate(state, 'HV-N1', move_type_threshold=1000))


def test_capacity_counts_vms_moved_since_measurement():
    lab = build_lab('hyperv4')
    cap = capacity(lab)
    for name in ('HV-N1', 'HV-N3', 'HV-N4'):
        cap[name]['free_mb'] = 10 * 1024  # the others are nearly full
    bad = failed(gates.evaluate(snapshot(lab), 'HV-N2', capacity=cap, move_type_threshold=1000))
    assert bad['capacity'].startswith('no room on the other nodes for ')
    # A VM that moved away from HV-N3 since the measurement frees its memory there.
    free = gates.free_memory(cap, snapshot(lab), 'HV-N2')
    vm = next(g for g in lab.groups.values() if g.owner == 'HV-N3' and g.group_type == 'VirtualMachine')
    vm.owner = 'HV-N2'
    assert gates.free_memory(cap, snapshot(lab), 'HV-N2')['HV-N3'] == free['HV-N3'] + vm.memory_mb


def test_placement_is_largest_first():
    assert gates.place({'a': 10, 'b': 20, 'c': 20}, {'x': 35, 'y': 25}) == []
    assert gates.place({'a': 10, 'b': 30, 'c': 20}, {'x': 35, 'y': 25}) == ['a']  # 30 must take x; 10 fits nowhere
    assert gates.place({'a': 40}, {'x': 35, 'y': 25}) == ['a']


def test_lock_cau_and_node_state_gates():
    lab = build_lab('hyperv4')
    state = snapshot(lab)
    assert not state.cau_run['in_progress'] and state.cau_run['summary'] == 'RunNotInProgress'
    bad = failed(gates.evaluate(state, 'HV-N2', move_type_threshold=1000, lock={'owner': 'bob', 'run_id': 'x'},
                                run_id='r1', cau_run=model.cau_run_view({'RunState': 'RunFailed'})))
    assert bad['run_lock'].startswith('the run lock is not held by this run (held by bob, run x')
    assert bad['cau_run'] == ('CAU reports RunFailed: let it finish, or recover a failed one with Invoke-CauRun -ForceRecovery '
                              '(wsfc.rolling.cau_run force_recovery=true)')
    cau.start_run(lab)
    bad = failed(gates.evaluate(snapshot(lab), 'HV-N2', cau_run=snapshot(lab).cau_run))
    assert bad['cau_run'].startswith('CAU reports RunInProgress (run cau-') and 'orchestrated by HV-N4; HV-N2 Waiting, HV-N3 Waiting' in bad['cau_run']
    unreadable = model.cau_run_view({'Error': 'Access is denied'})
    assert unreadable['in_progress'] and unreadable['summary'] == 'Unknown (Access is denied)'
    lab.cau_run = None
    lab.nodes['HV-N2'].member_state = 'Paused'
    state = snapshot(lab)
    assert 'not by this run' in failed(gates.evaluate(state, 'HV-N2', move_type_threshold=1000))['node_state']
    ours = {'run_id': 'r1', 'node': 'HV-N2'}
    assert 'node_state' not in failed(gates.evaluate(state, 'HV-N2', move_type_threshold=1000, lock=ours, run_id='r1'))
    assert failed(gates.evaluate(state, 'HV-N9')) == {'node_exists': "cluster node 'HV-N9' not found in cluster HVCLU01"}


def test_in_check_mode_the_lock_gate_passes_only_where_the_real_run_would_hold_the_lock():
    state = snapshot(build_lab('hyperv4'))

    def lock_gate(lock):
        checks = gates.evaluate(state, 'HV-N2', move_type_threshold=1000, lock=lock, run_id='r1', check_mode=True, owner='alice')
        return next(c for c in checks if c.name == 'run_lock')
    free = lock_gate(None)
    assert free.ok and free.detail == 'not taken in check mode; the run would take it (no lock now)'
    assert lock_gate({'owner': 'alice', 'run_id': 'old'}).ok      # this owner's earlier run: the run takes it over
    assert lock_gate({'owner': 'alice', 'run_id': 'r1'}).detail == 'held by this run'
    other = lock_gate({'owner': 'bob', 'run_id': 'x'})
    assert not other.ok and other.detail.startswith('the run lock is not held by this run (held by bob, run x')
    # Not in check mode: no lock is no pass.
    assert not next(c for c in gates.evaluate(state, 'HV-N2', move_type_threshold=1000, run_id='r1') if c.name == 'run_lock').ok


def test_an_s2d_node_already_out_for_this_run_is_not_held_back_by_its_own_degraded_storage():
    """A run that resumes a node it left paused: the spaces are degraded by that node's own pause."""
    from lab import maintenance
    lab = build_lab('s2d4')
    with lab.lock:
        maintenance.suspend(lab, 'HCI-N2', drain=False)
    state = snapshot(lab)
    assert [d for d in state.virtual_disks if not d.healthy]
    ours = {'run_id': 'r1', 'node': 'HCI-N2'}
    checks = dict((c.name, c) for c in gates.evaluate(state, 'HCI-N2', lock=ours, run_id='r1'))
    assert checks['storage'].ok and 'already out for this run' in checks['storage'].detail
    # Not for another node (that would take a second copy away), nor for a node paused by someone else.
    assert not dict((c.name, c) for c in gates.evaluate(state, 'HCI-N3', lock=ours, run_id='r1'))['storage'].ok
    assert not dict((c.name, c) for c in gates.evaluate(state, 'HCI-N2', lock={'run_id': 'x', 'node': 'HCI-N2'},
                                                        run_id='r1'))['storage'].ok


def test_a_node_left_paused_by_an_administrator_is_accepted_only_when_named_and_its_room_is_not_counted():
    from lab import maintenance
    lab = build_lab('hyperv4')
    with lab.lock:
        maintenance.suspend(lab, 'HV-N3', drain=False)
    state = snapshot(lab)
    assert failed(gates.membership_checks(state.nodes, state.quorum, 'HV-N2'))['other_nodes_up'] == 'not Up: HV-N3 (Paused)'
    checks = gates.membership_checks(state.nodes, state.quorum, 'HV-N2', left_paused=['hv-n3'])
    assert failed(checks) == {}
    assert checks[0].detail == 'every other node is Up (left paused by an administrator: HV-N3)'
    # A paused node still votes; a Down one is never accepted, named or not.
    lab.set_power('HV-N4', 'Off')
    state = snapshot(lab, 'HV-N1')
    assert failed(gates.membership_checks(state.nodes, state.quorum, 'HV-N2', left_paused=['HV-N3', 'HV-N4']))['other_nodes_up'] == \
        'not Up: HV-N4 (Down)'
    # The paused node takes no VMs: the room for HV-N2's VMs is counted on the Up nodes only.
    assert 'HV-N3' not in gates.free_memory(capacity(lab), state, 'HV-N2')


def test_with_more_nodes_out_at_once_the_gates_check_the_set():
    import time
    from lab import maintenance
    lab = build_lab('hyperv16', timing_jitter=0)
    cap = capacity(lab)
    run = {'run_id': 'r1', 'out': ['HV16-N9', 'HV16-N10'], 'node': 'HV16-N10'}
    with lab.lock:
        maintenance.suspend(lab, 'HV16-N9')
    # HV16-N10 is in the set but not drained yet, HV16-N9's drain is still moving VMs: the next node waits for them.
    detail = failed(gates.evaluate(snapshot(lab), 'HV16-N11', lock=run, run_id='r1', max_nodes_out=4))['set_settled']
    assert detail.startswith('not drained yet, or coming back: HV16-N10 (Up, drain NotInitiated), HV16-N9 (Paused')
    # A node already out for the run (paused: a re-run finishing it) is not held back by the others' drains.
    assert 'set_settled' not in failed(gates.evaluate(snapshot(lab), 'HV16-N9', lock=run, run_id='r1', max_nodes_out=4))
    with lab.lock:
        maintenance.suspend(lab, 'HV16-N10')
    deadline = time.monotonic() + 20
    while (lab.node('HV16-N9').draining or lab.node('HV16-N10').draining) and time.monotonic() < deadline:
        lab.tick()
        time.sleep(0.002)
    state = snapshot(lab)
    # One node at a time: the set's other nodes make the gate fail as any node out would.
    assert 'other_nodes_up' in failed(gates.evaluate(state, 'HV16-N11', lock=run, run_id='r1'))
    checks = gates.evaluate(state, 'HV16-N11', capacity=cap, lock=run, run_id='r1', max_nodes_out=4)
    assert failed(checks) == {}
    details = dict((c.name, c.detail) for c in checks)
    # Quorum without the whole set (16 nodes and the witness: 17 votes, 9 needed).
    assert details['quorum_margin'] == 'without HV16-N11, HV16-N10, HV16-N9: 14 of 17 votes, 9 needed, margin 5 (required 1)'
    assert details['other_nodes_up'] == 'every other node is Up (out with it for this run: HV16-N10, HV16-N9)'
    assert details['fault_domain'] == 'the nodes out at once share the fault domain Site=lab/Rack=R2'
    # A node of the other rack, a fifth node, a failed run, no room for the set's VMs: refused, each naming why.
    assert 'span fault domains' in failed(gates.evaluate(state, 'HV16-N1', lock=run, run_id='r1', max_nodes_out=4))['fault_domain']
    full = dict(run, out=['HV16-N9', 'HV16-N10', 'HV16-N12', 'HV16-N13'])
    assert failed(gates.evaluate(state, 'HV16-N11', lock=full, run_id='r1', max_nodes_out=4))['nodes_out'].startswith('5 of at most 4')
    assert 'run_not_failed' in failed(gates.evaluate(state, 'HV16-N11', lock=dict(run, status='failed'), run_id='r1',
                                                     max_nodes_out=4))
    small = dict((n, dict(v, free_mb=0)) for n, v in cap.items())
    assert 'no room' in failed(gates.evaluate(state, 'HV16-N11', capacity=small, lock=run, run_id='r1', max_nodes_out=4))['capacity']

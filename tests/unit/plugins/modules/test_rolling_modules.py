"""The rolling-update modules against the in-process lab: change, no change, check mode, diff, errors."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


import pytest

from ansible_collections.wsfc.rolling.plugins.modules import (
    cau_scan, cluster_gate, cluster_lock, cluster_node, node_reboot, node_updates, storage_health)
from unit.labproto import build_lab, patch_modules, snapshot

CONN = {'winrm_host': 'HVCLU01', 'winrm_user': 'LAB\\admin', 'winrm_password': 'pw',
        'winrm_fallback_hosts': ['HV-N1', 'HV-N2', 'HV-N3', 'HV-N4']}
WAITING = (cluster_node, node_reboot, node_updates, storage_health)
ALL = (cau_scan, cluster_gate, cluster_lock, cluster_node, node_reboot, node_updates, storage_health)


@pytest.fixture
def lab(monkeypatch):
    lab = build_lab('hyperv4')
    patch_modules(monkeypatch, lab, *ALL)
    return lab


def args(**kw):
    out = dict(CONN)
    out.update(kw)
    return out


@pytest.fixture
def run_module(run_module):
    """Waiting modules poll fast against the accelerated lab clock."""
    def run(module, arguments):
        if module in WAITING:
            arguments = dict({'poll_interval': 0.02}, **arguments)
        return run_module(module, arguments)
    return run


def test_cluster_node_drain_is_idempotent_and_checkable(run_module, lab):
    before = snapshot(lab)
    rc, result = run_module(cluster_node, args(name='HV-N2', state='paused', _ansible_check_mode=True, _ansible_diff=True))
    assert rc == 0 and result['changed'] is True
    assert result['diff'] == {'before': {'name': 'HV-N2', 'state': 'Up', 'drain_status': 'NotInitiated',
                                         'roles_owned': result['diff']['before']['roles_owned']},
                              'after': dict(result['diff']['before'], state='Paused')}
    assert snapshot(lab) == before  # check mode applied nothing

    rc, result = run_module(cluster_node, args(name='HV-N2', state='paused'))
    assert rc == 0 and result['changed'] is True
    assert result['node']['state'] == 'Paused' and result['node']['drain_status'] == 'Completed'
    assert result['node']['roles_owned'] == [] and len(result['roles_moved']) == 5
    assert result['polls'] >= 1 and result['round_trips'] - result['polls'] == 2  # probe+read, suspend
    # Cluster-wide commands never ran on the node being drained.
    assert all(p.node_name != 'HV-N2' for p in lab.protocols)

    rc, again = run_module(cluster_node, args(name='HV-N2', state='paused'))
    assert rc == 0 and again['changed'] is False

    rc, up = run_module(cluster_node, args(name='HV-N2', state='up', failback='immediate'))
    assert rc == 0 and up['changed'] is True and up['node']['state'] == 'Up'
    assert sorted(up['roles_moved']) == sorted(r for r in result['roles_moved'] if r.startswith('VM'))
    rc, again = run_module(cluster_node, args(name='HV-N2', state='up'))
    assert rc == 0 and again['changed'] is False


def test_a_failback_migration_that_fails_ends_the_wait_and_names_the_role(run_module, lab):
    from lab.weather import Weather
    rc, drained = run_module(cluster_node, args(name='HV-N3', state='paused'))
    assert rc == 0
    home = [r for r in drained['roles_moved'] if r.startswith('VM')]
    with lab.lock:   # every live migration from now on fails once (its next attempt would succeed)
        lab.weather = Weather(1, lab.recorder, rates={'migration_fail': 1.0})
    rc, up = run_module(cluster_node, args(name='HV-N3', state='up', failback='immediate', wait_timeout=60))
    assert rc == 0 and up['node']['state'] == 'Up'
    # The cluster does not try again: the wait ends at once instead of running out its time-out.
    assert sorted(up['roles_not_back']) == sorted(home) and up['roles_moved'] == []
    assert any('did not bring back' in str(w) for w in up.get('warnings', []))
    assert all(lab.groups[r].downtime == 0 for r in home)


@pytest.mark.parametrize('extra, error_type, message', [
    ({'name': 'HV-N9', 'state': 'paused'}, 'NotFound', "Failed to read cluster node 'HV-N9': The cluster node was not found."),
    ({'name': 'HV-N2', 'state': 'paused', 'wait_timeout': 0}, 'InvalidOption', 'wait_timeout must be greater than 0'),
    ({'name': 'HV-N2', 'state': 'paused', 'poll_interval': -1}, 'InvalidOption', 'poll_interval must be greater than 0'),
    ({'name': 'HV-N2', 'state': 'paused', 'winrm_host': 'HV-N2', 'winrm_fallback_hosts': []}, 'InvalidOption',
     "winrm_host HV-N2 is the only way to the cluster and it is the node 'hv-n2' being worked on"),
])
def test_cluster_node_bad_input_changes_nothing(run_module, lab, extra, error_type, message):
    before = snapshot(lab)
    rc, result = run_module(cluster_node, args(**extra))
    assert rc == 1 and result['error_type'] == error_type and message in result['msg']
    assert snapshot(lab) == before


def test_cluster_node_bad_failback_is_refused_by_the_argspec(run_module, lab):
    rc, result = run_module(cluster_node, args(name='HV-N2', state='up', failback='sometimes'))
    assert rc == 1 and 'value of failback must be one of: immediate, policy, none' in result['msg']


def test_cluster_node_on_degraded_s2d_says_why(run_module, monkeypatch):
    lab = build_lab('s2d4')
    patch_modules(monkeypatch, lab, cluster_node)
    lab.virtual_disks[0].health, lab.virtual_disks[0].operational = 1, [3]
    rc, result = run_module(cluster_node, args(name='HCI-N2', state='paused', winrm_host='HCICLU01',
                                               winrm_fallback_hosts=['HCI-N1', 'HCI-N3']))
    assert rc == 1 and result['error_type'] == 'RemoteCommandError'
    assert "Failed to suspend cluster node 'HCI-N2' (a storage space is degraded or repairing: wait for storage): " \
           "A clustered space is in a degraded condition" in result['msg']
    assert result['error_records'][0]['native_code'] == 5987


def test_cluster_node_drain_failure_names_the_role(run_module, lab):
    vm = next(g for g in lab.groups.values() if g.owner == 'HV-N3' and g.group_type == 'VirtualMachine')
    vm.live_migratable = False
    rc, result = run_module(cluster_node, args(name='HV-N3', state='paused'))
    assert rc == 1 and "Drain of cluster node 'HV-N3' failed: roles not moved: %s" % vm.name in result['msg']
    assert lab.node('HV-N3').state == 'Paused' and vm.owner == 'HV-N3' and vm.state == 'Online'


def test_a_drain_that_says_completed_while_a_role_stays_is_not_taken_for_an_empty_node(run_module, lab):
    vm = next(g for g in lab.groups.values() if g.owner == 'HV-N2' and g.group_type == 'VirtualMachine')
    lab.faults['drain_completes_leaving'] = {'HV-N2': vm.name}
    rc, result = run_module(cluster_node, args(name='HV-N2', state='paused'))
    assert rc == 1 and result['error_type'] == 'UnsafeToProceed', result
    assert "Drain of cluster node 'HV-N2' reports Completed, but the cluster says it still owns %s" % vm.name in result['msg']
    assert lab.node('HV-N2').drain_status == 'Completed' and vm.owner == 'HV-N2' and vm.state == 'Online'
    # Run again (the runbook's retry): the paused node still owns the VM, so it is drained again, not taken as done.
    rc, result = run_module(cluster_node, args(name='HV-N2', state='paused'))
    assert rc == 1 and 'reports Completed, but the cluster says it still owns' in result['msg'], result
    del lab.faults['drain_completes_leaving']
    rc, result = run_module(cluster_node, args(name='HV-N2', state='paused'))
    assert rc == 0 and result['changed'] and vm.owner != 'HV-N2' and vm.state == 'Online', result


def test_cluster_lock_lifecycle(run_module, lab):
    rc, result = run_module(cluster_lock, args(state='present', owner='alice', run_id='r1', _ansible_check_mode=True))
    assert rc == 0 and result['changed'] is True and lab.cluster_params == {}
    rc, result = run_module(cluster_lock, args(state='present', owner='alice', run_id='r1', node='HV-N1', _ansible_diff=True))
    assert rc == 0 and result['changed'] and result['lock']['node'] == 'HV-N1' and result['diff']['before'] is None
    rc, result = run_module(cluster_lock, args(state='present', owner='alice', run_id='r1', node='HV-N1'))
    assert rc == 0 and result['changed'] is False
    rc, result = run_module(cluster_lock, args(state='present', owner='bob', run_id='r2'))
    assert rc == 1 and result['error_type'] == 'UnsafeToProceed'
    assert 'Another rolling run holds the cluster: held by alice, run r1 (running)' in result['msg']
    rc, result = run_module(cluster_lock, args(state='absent', run_id='r1'))
    assert rc == 0 and result['changed'] and result['lock'] is None and lab.cluster_params == {}
    rc, result = run_module(cluster_lock, args(state='absent', run_id='r1'))
    assert rc == 0 and result['changed'] is False


@pytest.mark.parametrize('extra, message', [
    ({'state': 'present', 'run_id': 'r1'}, 'owner and run_id are required with state=present'),
    ({'state': 'absent'}, 'run_id is required with state=absent (or force=true)'),
    ({'state': 'present', 'owner': 'a', 'run_id': 'r', 'ttl': 0}, 'ttl must be greater than 0'),
])
def test_cluster_lock_bad_input(run_module, lab, extra, message):
    rc, result = run_module(cluster_lock, args(**extra))
    assert rc == 1 and result['error_type'] == 'InvalidOption' and message in result['msg']
    assert lab.cluster_params == {}


def test_node_updates_search_install_and_rerun(run_module, lab):
    node = args(name='HV-N1', winrm_host='HV-N1', state='installed')
    rc, scan = run_module(node_updates, dict(node, _ansible_check_mode=True))
    assert rc == 0 and scan['changed'] is True and scan['installed'] == []
    assert [u['kb'] for u in scan['updates']] == ['KB5068791', 'KB5066139', 'KB890830']
    assert lab.node('HV-N1').updates and not lab.node('HV-N1').reboot_pending

    rc, result = run_module(node_updates, dict(node, reject_list=['KB890830']))
    assert rc == 0 and result['changed'] is True and result['reboot_required'] is True
    assert [u['kb'] for u in result['installed']] == ['KB5068791', 'KB5066139']
    assert [u.kb for u in lab.node('HV-N1').updates] == ['KB890830']
    assert result['round_trips'] - result['polls'] == 1  # boot state + job start; the last poll removes the task
    assert set(job['TaskState'] for job in lab.wu_jobs.values()) == {'Removed'}  # no scheduled task left

    rc, again = run_module(node_updates, dict(node, reject_list=['KB890830']))
    assert rc == 0 and again['changed'] is False and again['reboot_required'] is True  # still pending a restart


def test_node_updates_restarts_when_needed_and_looks_again_after_each_restart(run_module, lab):
    from lab.model import Update
    node = lab.node('HV-N2')
    node.offered_next.append(Update('KB5070009', 'Servicing stack update offered after the CU (KB5070009)',
                                    'Security Updates', 60, True))
    base = args(name='HV-N2', winrm_host='HV-N2', state='installed', restart='if_required', passes=3)
    rc, result = run_module(node_updates, base)
    assert rc == 0 and result['changed'] and result['rebooted'] and result['restarts'] == 2, result
    assert [[u['kb'] for u in p['installed']] for p in result['passes']] == [
        ['KB5068791', 'KB5066139', 'KB890830'], ['KB5070009'], []]  # the third pass found nothing more
    assert [p['restarted'] for p in result['passes']] == [True, True, False] and result['reboot_required'] is False
    assert not node.reboot_pending and node.updates == [] and node.state == 'Up'
    rc, again = run_module(node_updates, base)  # compliant: one search, one look at the restart flag, nothing else
    assert rc == 0 and not again['changed'] and again['restarts'] == 0 and len(again['passes']) == 1
    # A restart is refused while another node is out: the node is left as it is, with the reason.
    other = lab.node('HV-N3')
    other.reboot_pending = True
    lab.node('HV-N4').cluster_service = 'Stopped'
    node.updates.append(Update('KB5070010', 'Another one (KB5070010)', 'Security Updates', 60, True))
    rc, refused = run_module(node_updates, dict(base, name='HV-N2'))
    assert rc == 1 and refused['error_type'] == 'UnsafeToProceed' and 'Not restarting HV-N2 now' in refused['msg'], refused
    assert refused['retryable'] is False  # the runbook does not try it again
    assert node.reboot_pending
    rc, bad = run_module(node_updates, dict(base, restart='never'))
    assert rc == 1 and bad['error_type'] == 'InvalidOption' and 'passes=3' in bad['msg'] and 'restart=if_required' in bad['msg']


def test_node_updates_failure_and_bad_input(run_module, lab):
    lab.faults['update_fail'] = {'HV-N2': ['KB5066139']}
    rc, result = run_module(node_updates, args(name='HV-N2', winrm_host='HV-N2', state='installed'))
    assert rc == 1 and result['error_type'] == 'RemoteCommandError'
    assert result['msg'] == 'Windows Update failed on HV-N2: KB5066139 (Failed, 0x80240022)'
    assert [u['kb'] for u in result['failed_updates']] == ['KB5066139']
    for bad, message in (({'accept_list': ['5068791']}, "'5068791' is not a KB article id"),
                         ({'accept_list': ['KB1234567'], 'reject_list': ['kb1234567']}, 'both accepted and rejected: KB1234567'),
                         ({'job_id': 'a b'}, 'job id must be 1-64 letters, digits or dashes')):
        rc, result = run_module(node_updates, args(winrm_host='HV-N3', state='installed', **bad))
        assert rc == 1 and result['error_type'] == 'InvalidOption' and message in result['msg']
    assert lab.wu_jobs.keys() == {('HV-N2', k[1]) for k in lab.wu_jobs}


def test_node_reboot_only_when_required(run_module, lab):
    node = args(name='HV-N4', winrm_host='HV-N4', only_if_required=True)
    rc, result = run_module(node_reboot, node)
    assert rc == 0 and result['changed'] is False and result['rebooted'] is False
    lab.node('HV-N4').reboot_pending, lab.node('HV-N4').pending_ubr = True, 7136
    rc, result = run_module(node_reboot, dict(node, _ansible_check_mode=True))
    assert rc == 0 and result['changed'] is True and result['rebooted'] is False and lab.node('HV-N4').reboot_pending
    rc, result = run_module(node_reboot, node)
    assert rc == 0 and result['changed'] and result['rebooted'] and result['build'] == '17763.7136'
    assert result['boot_time'] != result['boot_time_before'] and result['cluster_state'] == 'Up'
    assert result['round_trips'] - result['polls'] == 2


def test_node_reboot_timeout_names_the_last_state(run_module, lab):
    lab.faults['no_return'] = ['HV-N4']
    rc, result = run_module(node_reboot, args(name='HV-N4', winrm_host='HV-N4', wait_timeout=1))
    assert rc == 1 and result['error_type'] == 'TimeoutFailure'
    assert result['msg'].startswith('HV-N4 not back: WinRM does not answer (cannot connect to https://HV-N4:5986/wsman')


def test_storage_health_waits_and_detects_a_stall(run_module, monkeypatch):
    lab = build_lab('s2d4')
    patch_modules(monkeypatch, lab, storage_health)
    conn = args(winrm_host='HCICLU01', winrm_fallback_hosts=[])
    rc, result = run_module(storage_health, conn)
    assert rc == 0 and result['storage']['quiet_and_healthy'] and result['changed'] is False
    from lab import maintenance
    with lab.lock:
        maintenance.suspend(lab, 'HCI-N1')
    lab.clock.after(0, lambda: None)
    while lab.node('HCI-N1').draining:
        lab.tick()
    with lab.lock:
        maintenance.resume(lab, 'HCI-N1', 'NoFailback')
    lab.faults['storage_stall'] = {'percent': 40}
    rc, result = run_module(storage_health, dict(conn, stall_timeout=1))
    assert rc == 1 and result['error_type'] == 'TimeoutFailure'
    assert result['msg'].startswith('Storage repair stalled: no progress for 1 s: job Repair Running 40%')
    del lab.faults['storage_stall']
    rc, result = run_module(storage_health, conn)
    assert rc == 0 and result['storage']['quiet_and_healthy'] and result['polls'] >= 1


def test_cau_scan_lists_updates_per_node(run_module, lab):
    lab.node('HV-N2').updates.clear()
    rc, result = run_module(cau_scan, args())
    assert rc == 0 and result['changed'] is False
    assert result['compliant_nodes'] == ['HV-N2'] and result['noncompliant_nodes'] == ['HV-N1', 'HV-N3', 'HV-N4']
    assert [u['kb'] for u in result['nodes']['HV-N1']] == ['KB5068791', 'KB5066139', 'KB890830']
    rc, result = run_module(cau_scan, args(plugin='Microsoft.HotfixPlugin'))
    assert rc == 1 and 'needs plugin_arguments.HotfixRootFolderPath' in result['msg']
    rc, result = run_module(cau_scan, args(cau_user='x'))
    assert rc == 1 and 'cau_user and cau_password go together' in result['msg']


def test_cluster_gate_passes_then_refuses_with_every_reason(run_module, lab):
    hosts = dict((n, n) for n in lab.nodes)
    rc, result = run_module(cluster_gate, args(name='HV-N1', node_hosts=hosts))
    assert rc == 0 and result['ok'] and set(result['capacity']) == set(lab.nodes)
    lab.set_power('HV-N3', 'Off')
    rc, result = run_module(cluster_gate, args(name='HV-N1', node_hosts={'HV-N1': 'HV-N1'}, capacity=result['capacity'],
                                               run_id='r1'))
    assert rc == 1 and result['error_type'] == 'UnsafeToProceed' and result['ok'] is False
    assert result['msg'].startswith('Not safe to take HV-N1 out: other_nodes_up: not Up: HV-N3 (Down); quorum_margin:')
    assert 'run_lock: the run lock is not held by this run (no lock)' in result['msg']
    rc, result = run_module(cluster_gate, args(name='HV-N1', node_hosts={'HV-N7': 'x'}))
    assert rc == 1 and result['error_type'] == 'InvalidOption' and 'HV-N7' in result['msg']


def test_a_gate_that_passes_records_the_node_in_the_run_lock_and_one_that_fails_does_not(run_module, lab):
    rc, taken = run_module(cluster_lock, args(state='present', owner='alice', run_id='r1'))
    assert rc == 0 and taken['changed']
    gate = args(name='HV-N2', run_id='r1', record_node=True, lock_owner='alice')
    rc, preview = run_module(cluster_gate, dict(gate, _ansible_check_mode=True))
    assert rc == 0 and preview['changed'] and preview['lock']['node'] == 'HV-N2'
    assert '"node": null' in lab.cluster_params['WsfcRollingLock']  # check mode wrote nothing
    rc, result = run_module(cluster_gate, gate)
    assert rc == 0 and result['changed'] and result['lock']['node'] == 'HV-N2' and result['lock']['status'] == 'running'
    assert '"node": "HV-N2"' in lab.cluster_params['WsfcRollingLock'] and result['round_trips'] == 2
    rc, again = run_module(cluster_gate, gate)
    assert rc == 0 and not again['changed'] and again['round_trips'] == 1
    lab.set_power('HV-N3', 'Off')
    rc, refused = run_module(cluster_gate, dict(gate, name='HV-N1'))
    assert rc == 1 and refused['error_type'] == 'UnsafeToProceed' and '"node": "HV-N2"' in lab.cluster_params['WsfcRollingLock']
    rc, bad = run_module(cluster_gate, args(name='HV-N2', record_node=True, run_id='r1'))
    assert rc == 1 and bad['error_type'] == 'InvalidOption' and 'record_node needs run_id and lock_owner' in bad['msg']


@pytest.mark.parametrize('module, extra', [
    (node_reboot, {}),
    (node_updates, {'state': 'installed'}),
])
def test_a_node_module_given_another_nodes_address_changes_nothing(run_module, lab, module, extra):
    """Swapped inventory addresses: the endpoint that answers is HV-N3, the task is for HV-N4."""
    lab.node('HV-N4').reboot_pending = lab.node('HV-N3').reboot_pending = True
    before = snapshot(lab)
    rc, result = run_module(module, args(name='HV-N4', winrm_host='HV-N3', **extra))
    assert rc == 1 and result['error_type'] == 'WrongNode', result
    assert result['msg'].startswith('HV-N3 answered as HV-N3, not as the node HV-N4 it was given for: nothing was run there')
    assert result['answered_as'] == 'HV-N3' and result['expected_node'] == 'HV-N4'
    assert snapshot(lab) == before
    assert [e['expected'] for e in lab.recorder.events if e['kind'] == 'rpc.wrong_node'] == ['HV-N4']
    assert not [e for e in lab.recorder.events if e['kind'] == 'rpc.call']


def test_a_name_that_is_no_node_is_refused_before_a_restart(run_module, lab):
    rc, result = run_module(node_reboot, args(name='NOT-A-NODE', winrm_host='HV-N2'))
    assert rc == 1 and result['error_type'] == 'WrongNode'
    assert not [e for e in lab.recorder.events if e['kind'] == 'node.restart']


def test_the_gate_refuses_swapped_node_addresses_before_anything_changes(run_module, lab):
    swapped = {'HV-N1': 'HV-N1', 'HV-N2': 'HV-N3', 'HV-N3': 'HV-N2', 'HV-N4': 'HV-N4'}
    rc, result = run_module(cluster_gate, args(name='HV-N1', node_hosts=swapped))
    assert rc == 1 and result['error_type'] == 'WrongNode'
    assert 'answered as HV-N3, not as the node HV-N2' in result['msg'] or 'answered as HV-N2, not as the node HV-N3' in result['msg']


def _drained(lab, name):
    from lab import maintenance
    with lab.lock:
        maintenance.suspend(lab, name)
    while lab.node(name).draining:
        lab.tick()


def test_a_restart_is_refused_when_another_node_went_down_during_the_cycle(run_module, lab):
    _drained(lab, 'HV-N2')
    lab.node('HV-N2').reboot_pending = True
    lab.set_cluster_service('HV-N4', 'Stopped')  # not the node being worked on
    rc, result = run_module(node_reboot, args(name='HV-N2', winrm_host='HV-N2', only_if_required=True))
    assert rc == 1 and result['error_type'] == 'UnsafeToProceed'
    assert result['msg'].startswith('Not restarting HV-N2 now: other_nodes_up: not Up: HV-N4 (Down); quorum_margin: '
                                    'without HV-N2: 3 of 5 votes, 3 needed, margin 0 (required 1)')
    assert 'The node was left as it is (Paused)' in result['msg']
    assert not [e for e in lab.recorder.events if e['kind'] == 'node.restart']
    assert lab.recorder.min_quorum_margin >= 1


def test_a_lost_witness_is_lost_margin_before_a_restart(run_module, lab):
    _drained(lab, 'HV-N3')
    lab.node('HV-N3').reboot_pending = True
    lab.quorum.resource_state = 'Failed'
    rc, result = run_module(node_reboot, args(name='HV-N3', winrm_host='HV-N3', only_if_required=True))
    assert rc == 1 and 'margin 0 (required 1); witness File Share Witness is offline' in result['msg']
    lab.quorum.resource_state = 'Online'
    rc, result = run_module(node_reboot, args(name='HV-N3', winrm_host='HV-N3', only_if_required=True))
    assert rc == 0 and result['rebooted'] is True


def test_node_reboot_waits_for_a_restart_already_under_way(run_module, lab):
    from lab import maintenance
    with lab.lock:
        maintenance.restart(lab, lab.node('HV-N1'))
    while lab.node('HV-N1').power == 'On':
        lab.tick()
    rc, result = run_module(node_reboot, args(name='HV-N1', winrm_host='HV-N1', only_if_required=True))
    assert rc == 1 and result['error_type'] == 'ConnectionFailure'
    rc, result = run_module(node_reboot, args(name='HV-N1', winrm_host='HV-N1', only_if_required=True, wait_for_return=True))
    assert rc == 0 and result['waited_for_return'] and result['rebooted'] is False and result['cluster_state'] == 'Up'
    assert len([e for e in lab.recorder.events if e['kind'] == 'node.restart']) == 1


def test_an_insecure_connection_is_refused_unless_accepted_and_then_named_each_time(run_module, lab):
    rc, result = run_module(cluster_lock, args(state='absent', run_id='r1', winrm_validate_certs=False))
    assert rc == 1 and result['error_type'] == 'InvalidOption'
    assert 'winrm_validate_certs false accepts any certificate' in result['msg']
    rc, result = run_module(cluster_lock, args(state='absent', run_id='r1', winrm_validate_certs=False,
                                               winrm_allow_insecure=True))
    assert rc == 0 and result['changed'] is False
    assert any('Insecure WinRM connection accepted by winrm_allow_insecure: winrm_validate_certs false' in str(w)
               for w in result['warnings'])


def test_failback_waits_only_for_the_roles_the_drain_placed_and_that_stayed_there(run_module, lab):
    # Before the run an administrator moved one of HV-N2's preferred roles away: not ours to wait for.
    preferred = sorted(g.name for g in lab.groups.values() if g.preferred_owners[:1] == ['HV-N2'])
    lab.groups[preferred[0]].owner = 'HV-N4'
    rc, drained = run_module(cluster_node, args(name='HV-N2', state='paused'))
    assert rc == 0 and preferred[0] not in drained['roles_moved']
    assert set(drained['placement']) == set(drained['roles_moved'])
    # After the drain, one moved role is moved on again (an unplanned failover of the node it landed on).
    moved_on = sorted(drained['placement'])[0]
    away = next(n for n in ('HV-N1', 'HV-N3', 'HV-N4') if n != drained['placement'][moved_on])
    lab.groups[moved_on].owner = away
    rc, up = run_module(cluster_node, args(name='HV-N2', state='up', failback='immediate', wait_timeout=5,
                                           failback_placement=drained['placement']))
    assert rc == 0, up
    assert moved_on not in up['roles_moved'] and preferred[0] not in up['roles_moved']
    assert set(up['roles_moved']) <= set(drained['placement']) - {moved_on}
    # Without the placement, the module would wait for every preferred role, the one moved away before included.
    rc, again = run_module(cluster_node, args(name='HV-N2', state='paused'))
    assert rc == 0 and again['changed']
    rc, old = run_module(cluster_node, args(name='HV-N2', state='up', failback='immediate', wait_timeout=1))
    assert rc == 1 and old['error_type'] == 'TimeoutFailure' and preferred[0] in old['msg']


def test_the_membership_gate_checks_only_the_rest_of_the_cluster(run_module, lab):
    rc, result = run_module(cluster_gate, args(name='HV-N9', only_membership=True))
    assert rc == 0 and [c['name'] for c in result['checks']] == ['other_nodes_up', 'quorum_margin']
    lab.set_cluster_service('HV-N3', 'Stopped')
    rc, result = run_module(cluster_gate, args(name='HV-N2', only_membership=True))
    assert rc == 1 and result['msg'].startswith('Not safe to go on with HV-N2 now: other_nodes_up: not Up: HV-N3 (Down)')


def test_a_node_of_the_same_name_in_another_cluster_is_refused_by_its_node_id(run_module, lab):
    lab.node('HV-N3').reboot_pending = True
    real_id = lab.node('HV-N3').id
    rc, result = run_module(node_reboot, args(name='HV-N3', winrm_host='HV-N3', node_id='99', only_if_required=True))
    assert rc == 1 and result['error_type'] == 'WrongNode'
    assert result['msg'].startswith('HV-N3 answered as HV-N3 with cluster node id %s, not 99: it is a node of that name '
                                    'in another cluster' % real_id)
    assert not [e for e in lab.recorder.events if e['kind'] == 'node.restart']
    rc, result = run_module(node_reboot, args(name='HV-N3', winrm_host='HV-N3', node_id=real_id, only_if_required=True))
    assert rc == 0 and result['rebooted'] is True


def _repair_after_a_pause(lab):
    from lab import maintenance
    with lab.lock:
        maintenance.suspend(lab, 'HCI-N1')
    while lab.node('HCI-N1').draining:
        lab.tick()
    with lab.lock:
        maintenance.resume(lab, 'HCI-N1', 'NoFailback')


@pytest.mark.parametrize('end', ['Killed', 'Terminated', 'Exception'])
def test_storage_wait_ends_at_once_when_the_repair_ended_without_completing(run_module, monkeypatch, end):
    lab = build_lab('s2d4')
    patch_modules(monkeypatch, lab, storage_health)
    lab.faults['storage_repair_end'] = {'state': end}
    _repair_after_a_pause(lab)
    rc, result = run_module(storage_health, args(winrm_host="HCICLU01", winrm_fallback_hosts=[], wait_timeout=20))
    assert rc == 1 and result['error_type'] == 'UnsafeToProceed', result
    assert result['msg'].startswith('Storage repair ended without completing (job Repair %s at ' % end)
    assert 'disk Volume01 Warning/Degraded' in result['msg'] and 'Repair-VirtualDisk' in result['msg']


def test_storage_wait_accepts_healthy_but_suboptimal_disks(run_module, monkeypatch):
    lab = build_lab('s2d4')
    patch_modules(monkeypatch, lab, storage_health)
    lab.faults['storage_repair_end'] = {'state': 'Suboptimal'}
    _repair_after_a_pause(lab)
    rc, result = run_module(storage_health, args(winrm_host="HCICLU01", winrm_fallback_hosts=[], wait_timeout=20))
    assert rc == 0 and result['storage']['quiet_and_healthy'], result
    assert sorted(result['storage']['suboptimal_disks']) == ['Volume01', 'Volume02', 'Volume03', 'Volume04']


def test_a_windows_update_task_that_died_without_a_word_fails_at_once(run_module, lab):
    # Execution policy AllSigned by Group Policy: the task ends with a result and writes nothing.
    lab.faults['task_fails'] = {'HV-N1': 0x1}
    rc, result = run_module(node_updates, args(name='HV-N1', winrm_host='HV-N1', state='installed', wait_timeout=30))
    assert rc == 1 and result['error_type'] == 'RemoteCommandError', result
    assert 'its scheduled task ended with result 0x00000001 without writing a status' in result['msg']
    assert 'TaskScheduler/Operational' in result['msg']


def test_a_pending_restart_stops_the_install_or_is_done_first(run_module, lab):
    node = lab.node('HV-N1')
    node.reboot_pending, node.pending_ubr = True, node.ubr + 5  # left by an earlier installation
    rc, result = run_module(node_updates, args(name='HV-N1', winrm_host='HV-N1', state='installed'))
    assert rc == 1 and result['error_type'] == 'UnsafeToProceed', result
    assert 'a restart from an earlier installation is still pending' in result['msg'] and result['installed'] == []
    assert len(node.updates) == 3 and node.reboot_pending
    rc, result = run_module(node_updates, args(name='HV-N1', winrm_host='HV-N1', state='installed', restart_pending='restart',
                                               poll_interval=0.02))
    assert rc == 0 and result['restarted_first']
    assert [u['kb'] for u in result['installed']] == ['KB5068791', 'KB5066139', 'KB890830']


def test_optional_updates_and_other_classifications_are_left_out_by_default(run_module, lab):
    from lab.model import Update
    node = lab.node('HV-N2')
    node.updates.append(Update('KB5070001', '2026-11 Cumulative Update Preview (KB5070001)', 'Updates', 60, True, browse_only=True))
    node.updates.append(Update('KB5070002', 'Some driver (KB5070002)', 'Drivers', 60, False))
    rc, scan = run_module(node_updates, args(name='HV-N2', winrm_host='HV-N2', state='installed', _ansible_check_mode=True))
    assert rc == 0 and [u['kb'] for u in scan['updates']] == ['KB5068791', 'KB5066139', 'KB890830']
    rc, scan = run_module(node_updates, args(name='HV-N2', winrm_host='HV-N2', state='installed', _ansible_check_mode=True,
                                             category_names=['Updates'], accept_list=['KB5070001']))
    assert rc == 0 and [u['kb'] for u in scan['updates']] == ['KB5070001']


def test_the_heartbeat_session_is_closed_when_the_task_ends(run_module, lab, monkeypatch):
    """Its shell, and the warm PowerShell in it, go with the task instead of staying on a node until WinRM's idle
    timeout (two hours) — on success and on failure."""
    from ansible_collections.wsfc.rolling.plugins.module_utils import _module, _wait
    closed = []

    class Session(object):
        def __init__(self, *args, **kwargs):
            pass

        def call(self, *args, **kwargs):
            raise AssertionError('no heartbeat is due in a task this short')

        def close(self):
            closed.append(True)
    monkeypatch.setattr(_module, 'ClusterSession', Session)
    node = args(name='HV-N1', winrm_host='HV-N1', state='installed', lock_run_id='r1')
    rc, result = run_module(node_updates, node)
    assert rc == 0 and closed == [True], result
    lab.faults['update_fail'] = {'HV-N2': ['KB5066139']}
    rc, result = run_module(node_updates, dict(node, name='HV-N2', winrm_host='HV-N2'))
    assert rc == 1 and closed == [True, True]
    assert _wait._on_poll == []  # and its beat is not called by a later wait of the same process

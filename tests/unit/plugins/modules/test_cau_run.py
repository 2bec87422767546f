"""cau_run against the in-process lab: options checked before anything starts, both locks respected, a leftover
failed run refused until recovery is asked for, MaxFailedNodes both ways, the report per node."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.wsfc.rolling.plugins.modules import cau_run, cluster_lock
from unit.labproto import build_lab, patch_modules

CONN = {'winrm_host': 'HVCLU01', 'winrm_user': 'LAB\\admin', 'winrm_password': 'pw',
        'winrm_fallback_hosts': ['HV-N1', 'HV-N2', 'HV-N3', 'HV-N4'], 'poll_interval': 0.02}


@pytest.fixture
def lab(monkeypatch):
    lab = build_lab('hyperv4')
    patch_modules(monkeypatch, lab, cau_run, cluster_lock)
    return lab


def args(**kw):
    return dict(CONN, **kw)


def lock_args(**kw):
    out = dict(CONN, **kw)
    del out['poll_interval']
    return out


def events(lab, kind):
    return [e for e in lab.recorder.events if e['kind'] == kind]


@pytest.mark.parametrize('extra, message', [
    ({'plugin': 'Microsoft.HotfixPlugin'}, 'needs plugin_arguments.HotfixRootFolderPath'),
    ({'plugin': 'Microsoft.RollingUpgradePlugin'}, "needs plugin_arguments.WuConnected 'true'"),
    ({'plugin': 'Microsoft.RollingUpgradePlugin', 'plugin_arguments': {'WuConnected': 'false'}}, 'needs plugin_arguments.PathToSetupMedia'),
    ({'max_failed_nodes': 4}, 'max_failed_nodes must be from 0 to 3 (one less than the 4 nodes of the cluster), got 4'),
    ({'max_retries_per_node': 65}, 'max_retries_per_node must be from 0 to 64, got 65'),
    ({'node_order': ['HV-N1', 'HV-N9']}, 'node_order names HV-N9, which is no node of the cluster'),
    ({'pre_update_script': '\\\\share\\pre.cmd'}, 'pre_update_script must be the path of a .ps1 file'),
    ({'cau_user': 'LAB\\svc'}, 'cau_user and cau_password go together'),
    ({'wait_for_storage_repair_timeout_minutes': 30}, "This node's Invoke-CauRun (build 17763) has no parameter WaitForStorageRepairTimeoutMinutes"),
])
def test_bad_options_are_refused_before_anything_starts(run_module, lab, extra, message):
    rc, result = run_module(cau_run, args(**extra))
    assert rc == 1 and message in result['msg'], result
    assert lab.cau_run is None and events(lab, 'cau.run_started') == [] and lab.cau_task is None


def test_check_mode_reports_what_would_run_and_starts_nothing(run_module, lab):
    rc, result = run_module(cau_run, args(max_failed_nodes=1, node_order=['hv-n2'], _ansible_check_mode=True))
    assert rc == 0 and result['changed'] and not result['started']
    assert result['parameters'] == {'MaxFailedNodes': 1, 'NodeOrder': ['HV-N2']}
    assert lab.cau_run is None and events(lab, 'cau.run_started') == []


def test_a_run_within_max_failed_nodes_finishes_and_reports_each_node(run_module, lab):
    failing = lab.node('HV-N3').updates[0].kb
    lab.faults['update_fail'] = {'HV-N3': [failing]}
    rc, result = run_module(cau_run, args(max_failed_nodes=1, max_retries_per_node=1, node_order=['HV-N3', 'HV-N1']))
    assert rc == 0 and result['changed'] and result['started'], result
    report = result['report']
    assert report['status'] == 'PartiallyFailed' and result['failed_nodes'] == ['HV-N3']
    by_node = dict((n['node'], n) for n in report['nodes'])
    assert [n['node'] for n in report['nodes']][:2] == ['HV-N3', 'HV-N1']   # NodeOrder first, then the rest
    assert by_node['HV-N3']['status'] == 'Failed' and by_node['HV-N3']['updates_failed'] >= 1
    assert failing in ' '.join(result['lines'])
    for name in ('HV-N1', 'HV-N2', 'HV-N4'):
        assert by_node[name]['status'] == 'Succeeded' and by_node[name]['updates_succeeded'] >= 1
        assert lab.node(name).updates == [] or all(u.after_restart for u in lab.node(name).updates)
    # The failed node was tried twice (MaxRetriesPerNode 1), then resumed: every node is Up again.
    assert len([e for e in events(lab, 'wu.job_started') if e['node'] == 'HV-N3']) == 2
    assert all(n.state == 'Up' for n in lab.nodes.values()) and lab.recorder.violations == []
    # The run started from a scheduled task, logged on as the WinRM user; no second run while it ran.
    assert len(events(lab, 'cau.run_started')) == 1


def test_one_more_failed_node_than_allowed_stops_the_run_and_fails_the_task(run_module, lab):
    lab.faults['update_fail'] = {'HV-N1': [lab.node('HV-N1').updates[0].kb]}
    rc, result = run_module(cau_run, args(max_failed_nodes=0, max_retries_per_node=0, node_order=['HV-N1']))
    assert rc == 1 and result['error_type'] == 'RemoteCommandError', result
    assert 'ended Failed' in result['msg'] and 'HV-N1 Failed' in result['msg'] and 'HV-N2 NotStarted' in result['msg']
    # Nothing past the failed node was touched.
    assert [e['node'] for e in events(lab, 'node.suspend_requested')] == ['HV-N1']


def test_both_locks_are_respected_and_a_leftover_run_needs_explicit_recovery(run_module, lab):
    rc, taken = run_module(cluster_lock, lock_args(state='present', owner='alice', run_id='r1'))
    assert rc == 0 and taken['changed']
    rc, result = run_module(cau_run, args())
    assert rc == 1 and result['error_type'] == 'UnsafeToProceed' and 'A wsfc.rolling run holds HVCLU01 (owner alice' in result['msg']
    rc, released = run_module(cluster_lock, lock_args(state='absent', owner='alice', run_id='r1'))
    assert rc == 0 and released['changed'] and events(lab, 'cau.run_started') == []

    lab.cau_leftover = 'cau-old'
    rc, result = run_module(cau_run, args())
    assert rc == 1 and result['error_type'] == 'UnsafeToProceed'
    assert 'failed and left the cluster locked (Get-CauRun: RunFailed' in result['msg'] and 'force_recovery=true' in result['msg']
    assert events(lab, 'cau.recovered') == [] and events(lab, 'cau.run_started') == []
    lab.node('HV-N2').updates.clear()
    rc, result = run_module(cau_run, args(force_recovery=True, max_failed_nodes=1))
    assert rc == 0 and result['recovered'] == 'cau-old' and result['report']['status'] == 'Succeeded', result
    assert len(events(lab, 'cau.recovered')) == 1
    # A node with nothing to install counts as Succeeded without being drained.
    assert 'HV-N2' not in [e['node'] for e in events(lab, 'node.suspend_requested')]


def test_a_run_going_on_is_followed_not_doubled(run_module, lab):
    from lab import cau
    with lab.lock:
        cau.start_run(lab)
    rc, result = run_module(cau_run, args())
    assert rc == 0 and result['attached'] and not result['started'] and result['changed'] is False, result
    assert len(events(lab, 'cau.run_started')) == 1 and result['report']['status'] in ('Succeeded', 'PartiallyFailed')


def test_a_run_with_nothing_to_install_changes_nothing(run_module, lab):
    for node in lab.nodes.values():
        node.updates.clear()
    rc, result = run_module(cau_run, args())
    assert rc == 0 and result['started'] and result['changed'] is False, result
    assert result['report']['status'] == 'Succeeded' and events(lab, 'node.suspend_requested') == []

"""playbooks/cau_run.yml end to end against the lab: Cluster-Aware Updating itself updates the cluster, started and
followed from Ansible; its report per node; MaxFailedNodes both ways; a leftover failed run; and the Azure Stack HCI
22H2 -> 23H2 OS upgrade through CAU's RollingUpgrade plug-in."""

import collections

import pytest

from integration.labcheck import assert_safe, events, fault, lab_state, said

pytestmark = pytest.mark.integration
PLAY = 'playbooks/cau_run.yml'
FAST = {'cau_run_poll_interval': 0.2}


@pytest.mark.parametrize('scenario', ['hyperv4', 's2d4'])
def test_a_cau_run_installs_every_update_and_reports_each_node(start_lab, playbook, scenario):
    state = start_lab(scenario)
    proc = playbook(PLAY, state['inventory'], dict(FAST, cau_run_max_failed_nodes=1))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    snap = lab_state(state)
    for node in snap['nodes']:
        assert node['state'] == 'Up' and node['pending_updates'] == [] and not node['reboot_pending'], node
        assert said(proc, '%s: Succeeded;' % node['name']), proc.stdout[-3000:]
    assert said(proc, ': Succeeded')  # the run's own line
    assert_safe(state)
    # CAU drained each node once, one at a time, and (on S2D) never while storage repaired.
    assert sorted(collections.Counter(e['node'] for e in events(state, 'node.suspend_requested')).values()) == [1] * len(snap['nodes'])
    assert all(not e['storage_busy'] for e in events(state, 'node.suspend_requested'))
    assert len(events(state, 'cau.run_started')) == 1


def test_a_failed_node_within_the_budget_lets_the_run_finish_and_a_leftover_run_needs_recovery(start_lab, playbook):
    state = start_lab('hyperv4')
    snap = lab_state(state)
    node = snap['nodes'][2]
    fault(state, 'update_fail', {node['name']: [node['pending_updates'][0]]})
    proc = playbook(PLAY, state['inventory'], dict(FAST, cau_run_max_failed_nodes=1, cau_run_max_retries_per_node=0))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert said(proc, 'PartiallyFailed') and said(proc, '%s: Failed;' % node['name']), proc.stdout[-3000:]
    assert all(n['state'] == 'Up' for n in lab_state(state)['nodes'])
    assert_safe(state)

    # A run that failed and left the cluster locked: refused, nothing drained, until recovery is asked for.
    fault(state, 'update_fail', None)
    fault(state, 'cau_leftover', True)
    drains = len(events(state, 'node.suspend_requested'))
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode != 0 and said(proc, 'failed and left the cluster locked') and said(proc, 'force_recovery=true')
    assert len(events(state, 'node.suspend_requested')) == drains and events(state, 'cau.recovered') == []
    proc = playbook(PLAY, state['inventory'], dict(FAST, cau_run_force_recovery=True))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert len(events(state, 'cau.recovered')) == 1 and said(proc, '%s: Succeeded;' % node['name'])
    assert lab_state(state)['nodes'][2]['pending_updates'] == []


def test_more_failed_nodes_than_allowed_stop_the_run(start_lab, playbook):
    state = start_lab('hyperv4')
    snap = lab_state(state)
    fault(state, 'update_fail', dict((n['name'], [n['pending_updates'][0]]) for n in snap['nodes'][:2]))
    order = [n['name'] for n in snap['nodes']]
    proc = playbook(PLAY, state['inventory'], dict(FAST, cau_run_max_failed_nodes=1, cau_run_max_retries_per_node=0,
                                                   cau_run_node_order=order))[0]
    assert proc.returncode != 0 and said(proc, 'ended Failed'), proc.stdout[-4000:]
    assert said(proc, '%s NotStarted' % order[2]) and said(proc, '%s NotStarted' % order[3])
    assert [e['node'] for e in events(state, 'node.suspend_requested')] == order[:2]
    assert all(n['state'] == 'Up' for n in lab_state(state)['nodes'])
    assert_safe(state)


def test_hci_22h2_to_23h2_through_the_rolling_upgrade_plugin(start_lab, playbook):
    state = start_lab('hci4')
    media = '\\\\deploy.lab.test\\media\\hci23h2'
    proc = playbook(PLAY, state['inventory'], dict(FAST, cau_run_plugin='Microsoft.RollingUpgradePlugin', cau_run_enable_firewall_rules=True,
                                                   cau_run_plugin_arguments={'WuConnected': 'false', 'PathToSetupMedia': media}))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    snap = lab_state(state)
    assert all(n['state'] == 'Up' and n['build'] == 25398 for n in snap['nodes']), snap['nodes']
    assert said(proc, 'Azure Stack HCI, build 25398 (in-place upgrade from setup media)')
    assert sorted(collections.Counter(e['node'] for e in events(state, 'node.upgraded')).values()) == [1, 1, 1, 1]
    assert all(not e['storage_busy'] for e in events(state, 'node.suspend_requested'))
    # Without UpdateClusterFunctionalLevel the level stays (it is raised only on request: it cannot be undone).
    assert snap['cluster']['functional_level'] == 11
    assert_safe(state)

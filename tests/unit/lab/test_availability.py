"""Quorum, S2D resiliency and pool quorum, roles and CSVs when nodes leave: the lab as harsh as Windows."""

import pytest

from lab import maintenance, scenario
from lab.model import CmdletError

from .test_maintenance import run_until


def build(name, disks=None, **overrides):
    spec = scenario.load(name)
    spec.update(overrides)
    if disks is not None:
        spec['storage']['virtual_disks'] = disks
    return scenario.build(spec, net='127.0.251')


def pause(lab, name):
    with lab.lock:
        maintenance.suspend(lab, name, drain=False)


def power_off(lab, name):
    """An unplanned loss (power removed): the node does not give its vote up first."""
    lab.admin_power(name, 'Off')


def violations(lab, rule):
    return [v for v in lab.recorder.violations if v['rule'] == rule]


TWO_WAY = [{'name': 'Mirror2', 'resiliency': 'Mirror', 'size_gb': 1024, 'redundancy': 1}]
THREE_WAY = [{'name': 'Mirror3', 'resiliency': 'Mirror', 'size_gb': 1024}]


def test_two_way_mirror_refuses_a_second_pause_and_goes_offline_when_a_second_node_is_lost():
    lab = build('s2d4', disks=TWO_WAY)
    pause(lab, 'HCI-N1')
    with pytest.raises(CmdletError) as refused:
        pause(lab, 'HCI-N2')
    assert refused.value.record['native_code'] == maintenance.ERROR_CLUSTER_SPACE_DEGRADED
    assert lab.node('HCI-N2').state == 'Up'
    csv = lab.shared_volumes[0]
    vms = [g for g in lab.groups.values() if g.volume == csv.name]
    assert vms and csv.state == 'Online'
    power_off(lab, 'HCI-N2')
    assert csv.state == 'Offline'
    disk = lab.virtual_disks[0]
    assert (disk.health, disk.operational) == (2, [0xD002])   # Unhealthy / Detached
    assert all(g.state == 'Offline' for g in vms)
    assert violations(lab, 'volume_offline')[0]['volume'] == 'Mirror2'
    # Nodes back is not enough: the volume needs a current copy on all but one node (the resync).
    lab.admin_power('HCI-N2', 'On')
    with lab.lock:
        maintenance.resume(lab, 'HCI-N1')
    run_until(lab, lambda: csv.state == 'Online')
    assert not lab.storage_jobs or lab.storage_jobs[-1].job_state == 7
    assert all(g.state == 'Online' and g.downtime > 0 for g in vms)


def test_a_node_back_before_its_resync_ended_is_no_copy():
    lab = build('s2d4', disks=TWO_WAY)
    pause(lab, 'HCI-N1')
    with lab.lock:
        maintenance.resume(lab, 'HCI-N1')
    assert lab.node('HCI-N1').stale and any(j.job_state == 4 for j in lab.storage_jobs)
    with pytest.raises(CmdletError):
        pause(lab, 'HCI-N2')     # the last current copy of what N1 missed is on the others
    power_off(lab, 'HCI-N3')
    assert lab.shared_volumes[0].state == 'Offline'


def test_three_way_mirror_survives_two_nodes_out_but_not_three():
    lab = build('s2d4', disks=THREE_WAY)
    pause(lab, 'HCI-N1')
    pause(lab, 'HCI-N2')
    assert lab.shared_volumes[0].state == 'Online' and not violations(lab, 'volume_offline')
    power_off(lab, 'HCI-N3')
    assert lab.shared_volumes[0].state == 'Offline'


def test_pool_quorum_is_lost_with_more_than_half_of_the_drives():
    lab = build('s2d4', disks=[dict(THREE_WAY[0], redundancy=3)])
    power_off(lab, 'HCI-N1')
    power_off(lab, 'HCI-N2')
    # Half the drives remain; the pool resource's owner (with the core group) is among them.
    assert lab.core_group().owner in ('HCI-N3', 'HCI-N4') and lab.shared_volumes[0].state == 'Online'
    power_off(lab, 'HCI-N3')
    assert lab.shared_volumes[0].state == 'Offline' and not lab.quorum_lost


def test_two_node_cluster_without_a_witness_stops_when_the_voting_node_is_lost():
    lab = build('twonode', cluster=dict(scenario.load('twonode')['cluster'], witness=None))
    assert [lab.dynamic_weight(n) for n in lab.nodes.values()] == [1, 0]
    power_off(lab, 'EDGE-N1')
    assert lab.quorum_lost and violations(lab, 'cluster_quorum_lost')
    survivor = lab.node('EDGE-N2')
    assert survivor.cluster_service == 'Stopped' and survivor.state == 'Down'
    vms = [g for g in lab.groups.values() if g.group_type == 'VirtualMachine']
    assert all(g.state == 'Offline' for g in vms)
    lab.admin_power('EDGE-N1', 'On')    # the cluster forms again once a majority runs
    run_until(lab, lambda: not lab.quorum_lost)
    assert survivor.state == 'Up'
    assert all(g.state == 'Online' and g.downtime > 0 for g in vms)


def test_two_node_cluster_without_a_witness_survives_a_shutdown_of_either_node():
    for name in ('EDGE-N1', 'EDGE-N2'):
        lab = build('twonode', cluster=dict(scenario.load('twonode')['cluster'], witness=None))
        with lab.lock:
            lab.set_power(name, 'Off', graceful=True)
        assert not lab.quorum_lost and not violations(lab, 'cluster_quorum_lost')


def test_a_witness_lets_the_last_node_stand():
    lab = build('twonode')
    assert lab.witness_dynamic_weight() == 1
    power_off(lab, 'EDGE-N1')
    assert not lab.quorum_lost and lab.witness_dynamic_weight() == 0
    assert [g.owner for g in lab.groups.values()] == ['EDGE-N2'] * len(lab.groups)


def test_dynamic_quorum_keeps_a_four_node_cluster_down_to_its_last_node():
    lab = build('hyperv4', cluster=dict(scenario.load('hyperv4')['cluster'], witness=None))
    for name in ('HV-N1', 'HV-N2', 'HV-N4'):
        power_off(lab, name)
        assert not lab.quorum_lost, name
    assert lab.node('HV-N3').state == 'Up'


def test_losing_the_node_that_holds_the_last_vote_stops_the_cluster():
    lab = build('hyperv4', cluster=dict(scenario.load('hyperv4')['cluster'], witness=None))
    power_off(lab, 'HV-N1')
    power_off(lab, 'HV-N2')
    assert sorted(n.name for n in lab.nodes.values() if lab.dynamic_weight(n)) == ['HV-N3']
    power_off(lab, 'HV-N3')
    assert lab.quorum_lost and lab.node('HV-N4').state == 'Down'


def test_groups_go_to_a_paused_node_but_stay_offline_when_no_node_is_up():
    lab = build('twonode')
    pause(lab, 'EDGE-N1')
    vms = [g for g in lab.groups.values() if g.group_type == 'VirtualMachine' and g.owner == 'EDGE-N2']
    power_off(lab, 'EDGE-N2')
    assert vms and all(g.owner == 'EDGE-N1' and g.state == 'Offline' for g in vms)
    # What ran on the paused node keeps running: a pause alone moves nothing.
    assert all(g.state == 'Online' for g in lab.groups.values() if g.group_type == 'VirtualMachine' and g not in vms)
    with lab.lock:
        maintenance.resume(lab, 'EDGE-N1')
    assert all(g.state == 'Online' for g in vms)


def test_csv_ownership_moves_off_a_drained_or_lost_node():
    lab = build('hyperv4')
    owned = [v for v in lab.shared_volumes if v.owner == 'HV-N1']
    assert owned
    with lab.lock:
        maintenance.suspend(lab, 'HV-N1')
    assert all(v.owner not in ('HV-N1',) for v in owned)
    second = [v for v in lab.shared_volumes if v.owner == 'HV-N2']
    power_off(lab, 'HV-N2')
    assert second and all(v.owner not in ('HV-N1', 'HV-N2') for v in lab.shared_volumes)
    assert any(e['kind'] == 'csv.moved' for e in lab.recorder.events)


def test_a_paused_node_can_be_drained_again_but_no_other_node_can_be_paused_meanwhile():
    lab = build('s2d4', disks=THREE_WAY)
    with lab.lock:
        maintenance.suspend(lab, 'HCI-N1', drain=True)
    run_until(lab, lambda: not lab.node('HCI-N1').draining)
    with lab.lock:
        maintenance.suspend(lab, 'HCI-N1', drain=True)     # again: its own pause is not another copy out
        with pytest.raises(CmdletError) as refused:
            maintenance.suspend(lab, 'HCI-N2', drain=True)
    assert refused.value.record['native_code'] == maintenance.ERROR_CLUSTER_SPACE_DEGRADED
    busy = [v['node'] for v in violations(lab, 'drain_while_storage_busy')]
    assert busy == ['HCI-N2']

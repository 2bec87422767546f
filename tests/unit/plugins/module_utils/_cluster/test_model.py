from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import model
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.queries import read_cluster_state
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import NotFound, RemoteCommandError
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import PowerShellRunner, WinRMOptions
from unit.labproto import LabProtocol, build_lab


def read(lab, node='HV-N1', **kw):
    runner = PowerShellRunner(WinRMOptions(host=node, user='u', password='p'),
                              protocol_factory=lambda o: LabProtocol(lab, node))
    return read_cluster_state(runner, **kw), runner


def test_snapshot_is_one_round_trip_with_every_object():
    lab = build_lab('hyperv4')
    state, runner = read(lab)
    assert runner.round_trips == 1
    assert state.cluster.name == 'HVCLU01' and state.cluster.functional_level == 10
    assert [n.name for n in state.nodes] == ['HV-N1', 'HV-N2', 'HV-N3', 'HV-N4']
    assert all(n.state == 'Up' and n.drain_status == 'NotInitiated' for n in state.nodes)
    assert state.nodes[0].os_version == '10.0.17763' and state.nodes[0].functional_level == 10
    vms = [g for g in state.groups if g.is_vm]
    assert len(vms) == 20 and {g.priority for g in vms} == {3000, 2000}
    assert state.storage_pools == [] and state.virtual_disks == []
    assert state.health()['healthy'] is True
    # The CAU role runs on HV-N4: its settings are read there (from HV-N1 that is a second hop).
    assert read(lab, node='HV-N4')[0].cau_role.parameters['MaxRetriesPerNode'] == '3'


def test_cau_settings_refused_as_a_second_hop_are_a_warning_not_a_failure():
    from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import runner as runner_mod
    state = read(build_lab('hyperv4'), node='HV-N2')[0]
    assert state.cau_role.group_name.startswith('CAU') and state.cau_role.owner_node == 'HV-N4'
    assert state.cau_role.state == 'Online' and state.cau_role.settings_read is False
    assert any("could not read the Cluster-Aware Updating role's settings (Access is denied" in w and 'second hop' in w
               for w in runner_mod.remote_warnings())


def test_s2d_snapshot_has_pool_disks_and_csvs():
    state = read(build_lab('s2d4'), node='HCI-N2')[0]
    assert state.cluster.s2d_enabled and state.cluster.answered_by == 'HCI-N2'
    assert state.storage_pools[0].friendly_name == 'S2D on HCICLU01'
    assert all(d.healthy for d in state.virtual_disks) and len(state.shared_volumes) == 4
    assert state.quorum.quorum_type == 'Majority' and state.quorum.resource == 'Cloud Witness'


def test_health_reports_repair_in_progress_and_degraded_disk():
    lab = build_lab('s2d4')
    lab.virtual_disks[0].health, lab.virtual_disks[0].operational = 1, [11]  # Warning / In Service
    from lab.model import StorageJob
    lab.faults['storage_stall'] = {'percent': 65}
    lab.storage_jobs.append(StorageJob('Repair', bytes_total=1000, started=-1e6, duration=1e6))
    health = read(lab, node='HCI-N1')[0].health()
    assert health['healthy'] is False and health['storage_quiet'] is False
    assert health['storage_jobs_running'] == ['Repair']
    assert health['virtual_disks_not_healthy'] == {'Volume01': 'Warning/In Service'}


@pytest.mark.parametrize('scenario, down, margin, has_quorum', [
    ('hyperv4', [], 2, True),              # 4 votes + witness = 5, need 3
    ('hyperv4', ['HV-N1'], 1, True),
    ('hyperv4', ['HV-N1', 'HV-N2'], 0, True),
    ('twonode', [], 1, True),              # 2 votes + witness = 3, need 2
    ('twonode', ['EDGE-N1'], 0, True),
    ('s2d16', [], 8, True),                # 16 + witness = 17, need 9
])
def test_quorum_margin(scenario, down, margin, has_quorum):
    lab = build_lab(scenario)
    for name in down:
        lab.set_power(name, 'Off')
    alive = next(n for n in lab.nodes if n not in down)
    q = read(lab, node=alive)[0].health()['quorum']
    assert (q['margin'], q['has_quorum']) == (margin, has_quorum)


def test_quorum_summary_counts_paused_but_not_down_or_witness_offline():
    nodes = [model.Node('a', '1', s, 'NotInitiated', None, 1, 1, '10.0.1', 1, 0) for s in ('Up', 'Paused', 'Down')]
    q = model.quorum_summary(nodes, model.Quorum('NodeAndFileShareMajority', 'FSW', 'File Share Witness', 'Offline'))
    assert (q['votes_total'], q['votes_present'], q['votes_needed'], q['margin']) == (4, 2, 3, -1)
    assert q['has_quorum'] is False


def test_wrong_cluster_name_is_not_found():
    with pytest.raises(NotFound, match="Cluster 'OTHER' not found: HV-N1 belongs to cluster 'HVCLU01'"):
        read(build_lab('hyperv4'), expected_cluster='OTHER')


def test_cluster_service_stopped_is_a_clear_error():
    lab = build_lab('hyperv4')
    lab.set_cluster_service('HV-N3', 'Stopped')
    with pytest.raises(RemoteCommandError) as err:
        read(lab, node='HV-N3')
    assert "Failed to read the cluster from 'HV-N3': The cluster service is not running." in str(err.value)
    assert err.value.records[0]['fqid'] == 'ClusterEndpointNotRegistered,Microsoft.FailoverClusters.PowerShell.GetClusterCommand'
    assert err.value.records[0]['native_code'] == 1753

"""cluster_node absent/present, node_config, node_os and cluster_functional_level against the in-process lab."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


import json

import pytest

from ansible_collections.wsfc.rolling.plugins.modules import cluster_functional_level, cluster_node, node_config, node_os
from lab import provisioning
from unit.labproto import build_lab, patch_modules, snapshot

CONN = {'winrm_host': 'HVCLU01', 'winrm_user': 'LAB\\admin', 'winrm_password': 'pw',
        'winrm_fallback_hosts': ['HV-N1', 'HV-N2', 'HV-N3', 'HV-N4']}
TASK = {'winrm_delegation': 'scheduled_task'}
HOSTS = dict(('HV-N%d' % i, 'HV-N%d' % i) for i in range(1, 5))


@pytest.fixture
def lab(monkeypatch):
    lab = build_lab('hyperv4')
    patch_modules(monkeypatch, lab, cluster_node, node_config, node_os, cluster_functional_level)
    return lab


def args(**kw):
    out = dict(CONN)
    out.update(kw)
    return out


def drain(run_module, node):
    rc, result = run_module(cluster_node, args(name=node, state='paused', poll_interval=0.02))
    assert rc == 0, result


def reprovision(lab, node, os_name='ws2022'):
    """What the BMC does in the upgrade: one-time PXE boot and a power cycle (the image is staged)."""
    with lab.lock:
        machine = lab.machine(node)
        lab.images[node] = {'os': os_name, 'ubr': 2849}
        provisioning.set_boot(lab, machine, 'network')
        provisioning.chassis_cycle(lab, machine)


def test_evict_needs_delegation_and_a_drained_node(run_module, lab):
    before = snapshot(lab)
    rc, result = run_module(cluster_node, args(name='HV-N2', state='absent', **TASK))
    assert rc == 1 and result['error_type'] == 'UnsafeToProceed' and 'Pause and drain it first' in result['msg']
    assert snapshot(lab) == before

    drain(run_module, 'HV-N2')
    before = snapshot(lab)
    rc, result = run_module(cluster_node, args(name='HV-N2', state='absent'))
    assert rc == 1 and result['error_type'] == 'InvalidOption'
    assert 'Remove-ClusterNode' in result['msg'] and 'winrm_delegation=scheduled_task' in result['msg']
    assert snapshot(lab) == before
    rc, result = run_module(cluster_node, args(name='HV-N2', state='absent', _ansible_check_mode=True, **TASK))
    assert rc == 0 and result['changed'] and lab.node('HV-N2') is not None
    rc, result = run_module(cluster_node, args(name='HV-N2', state='absent', winrm_password='wrong', **TASK))
    assert rc == 1 and 'The user name or password is incorrect' in result['msg']
    rc, result = run_module(cluster_node, args(name='HV-N2', state='absent', **TASK))
    assert rc == 0 and result['changed'] and result['node'] == {'name': 'HV-N2', 'member': False, 'state': None}
    assert lab.node('HV-N2') is None and lab.machine('HV-N2').cluster_service == 'Stopped'
    rc, result = run_module(cluster_node, args(name='HV-N2', state='absent', **TASK))
    assert rc == 0 and result['changed'] is False


def test_add_back_on_the_next_version_takes_the_core_group_and_brings_roles_home(run_module, lab):
    owned = [g.name for g in lab.groups.values() if g.owner == 'HV-N1']
    drain(run_module, 'HV-N1')
    assert run_module(cluster_node, args(name='HV-N1', state='absent', **TASK))[0] == 0
    rc, result = run_module(cluster_node, args(name='HV-N1', state='present', **TASK))
    assert rc == 1 and 'node_host' in result['msg']
    reprovision(lab, 'HV-N1', 'ws2025')  # skips a version: Windows refuses the join
    rc, result = run_module(node_os, args(name='HV-N1', winrm_host='HV-N1', build=26100, poll_interval=0.02))
    assert rc == 0 and result['os']['build'] == 26100
    rc, result = run_module(cluster_node, args(name='HV-N1', state='present', node_host='HV-N1', **TASK))
    assert rc == 1 and 'only the same version or the next one may join' in result['msg'] and lab.node('HV-N1') is None

    reprovision(lab, 'HV-N1', 'ws2022')
    rc, result = run_module(node_os, args(name='HV-N1', winrm_host='HV-N1', build=20348, poll_interval=0.02))
    assert rc == 0 and result['os']['build'] == 20348 and result['changed'] is False
    rc, result = run_module(cluster_node, args(name='HV-N1', state='present', node_host='HV-N1', failback_roles=owned,
                                               poll_interval=0.02, **TASK))
    assert rc == 0 and result['changed'] and result['node']['state'] == 'Up', result
    assert sorted(result['roles_moved']) == sorted(owned)
    assert all(lab.groups[g].owner == 'HV-N1' for g in owned if g != 'Cluster Group')
    assert lab.core_group().owner == 'HV-N1'  # the first newer node takes the core resources
    rc, result = run_module(cluster_node, args(name='HV-N1', state='present', node_host='HV-N1', **TASK))
    assert rc == 0 and result['changed'] is False


def test_node_os_fails_fast_on_the_wrong_build(run_module, lab):
    drain(run_module, 'HV-N3')
    lab.faults['wrong_build'] = {'HV-N3': 'ws2019'}
    rc, before = run_module(node_os, args(name='HV-N3', winrm_host='HV-N3', build=20348, wait=False))
    assert rc == 0 and before['os']['build'] == 17763 and before['os']['boot_time']
    # Without the boot time before, another build is waited through (it may be the old OS going down).
    rc, result = run_module(node_os, args(name='HV-N3', winrm_host='HV-N3', build=20348, poll_interval=0.02, wait_timeout=1))
    assert rc == 1 and result['error_type'] == 'TimeoutFailure' and 'still answers on build 17763' in result['msg']
    reprovision(lab, 'HV-N3')
    rc, result = run_module(node_os, args(name='HV-N3', winrm_host='HV-N3', build=20348, poll_interval=0.02,
                                          wait_timeout=3600, previous_boot_time=before['os']['boot_time']))
    assert rc == 1 and 'came back on build 17763' in result['msg'] and 'not on the target build 20348' in result['msg']
    rc, result = run_module(node_os, args(name='HV-N3', winrm_host='HV-N3', build=12345))
    assert rc == 1 and 'not a Windows Server or Azure Stack HCI release build' in result['msg']


def test_in_place_upgrade_keeps_membership(run_module, lab):
    drain(run_module, 'HV-N4')
    media = next(iter(lab.setup_media))
    rc, result = run_module(node_os, args(name='HV-N4', winrm_host='HV-N4', build=20348, setup_media=media,
                                          _ansible_check_mode=True))
    assert rc == 0 and result['changed'] and lab.node('HV-N4').os == 'ws2019'
    rc, result = run_module(node_os, args(name='HV-N4', winrm_host='HV-N4', build=20348, setup_media=media,
                                          poll_interval=0.02))
    assert rc == 0 and result['changed'] and result['os']['build'] == 20348
    assert lab.node('HV-N4').state in ('Paused', 'Joining') and lab.node('HV-N4').os == 'ws2022'
    rc, result = run_module(node_os, args(name='HV-N4', winrm_host='HV-N4', build=20348, setup_media=media))
    assert rc == 0 and result['changed'] is False


def test_node_config_capture_and_verify(run_module, lab, tmp_path):
    path = str(tmp_path / 'HV-N2.json')
    rc, result = run_module(node_config, args(name='HV-N2', winrm_host='HV-N2', state='captured', path=path,
                                              extra={'roles': ['VM02']}))
    assert rc == 0 and result['changed'] and json.load(open(path))['extra'] == {'roles': ['VM02']}
    rc, result = run_module(node_config, args(name='HV-N2', winrm_host='HV-N2', state='captured', path=path,
                                              extra={'roles': ['VM02']}))
    assert rc == 0 and result['changed'] is False
    rc, result = run_module(node_config, args(name='HV-N2', winrm_host='HV-N2', state='verified', path=path))
    assert rc == 0 and result['differences'] == {}
    drain(run_module, 'HV-N2')
    lab.faults['config_mismatch'] = ['HV-N2']
    reprovision(lab, 'HV-N2')
    assert run_module(node_os, args(name='HV-N2', winrm_host='HV-N2', build=20348, poll_interval=0.02))[0] == 0
    rc, result = run_module(node_config, args(name='HV-N2', winrm_host='HV-N2', state='verified', path=path))
    assert rc == 1 and result['error_type'] == 'UnsafeToProceed'
    assert result['differences']['vswitches']['missing'] == ['Name=ConvergedSwitch SwitchType=External']
    assert result['differences']['features']['missing'] == ['Hyper-V']


def upgrade_node(run_module, lab, name):
    """Drain, evict, reinstall on 2022 and add back one node, each step succeeding."""
    drain(run_module, name)
    assert run_module(cluster_node, args(name=name, state='absent', **TASK))[0] == 0
    reprovision(lab, name)
    assert run_module(node_os, args(name=name, winrm_host=name, build=20348, poll_interval=0.02))[0] == 0
    rc, result = run_module(cluster_node, args(name=name, state='present', node_host=name, **TASK))
    assert rc == 0, result


def test_functional_level_needs_all_nodes_new_and_an_explicit_opt_in(run_module, lab):
    rc, result = run_module(cluster_functional_level, args(accept_irreversible=True))
    assert rc == 0 and result['changed'] is False and result['functional_level'] == 10  # nothing newer yet
    upgrade_node(run_module, lab, 'HV-N1')
    rc, result = run_module(cluster_functional_level, args(accept_irreversible=True))
    assert rc == 1 and 'still on the older OS: HV-N2, HV-N3, HV-N4' in result['msg'] and lab.functional_level == 10
    for name in ('HV-N2', 'HV-N3', 'HV-N4'):
        upgrade_node(run_module, lab, name)

    rc, result = run_module(cluster_functional_level, args(_ansible_check_mode=True, _ansible_diff=True))
    assert rc == 0 and result['changed'] and result['target_level'] == 11 and lab.functional_level == 10
    assert result['diff']['after']['functional_level'] == 11
    rc, result = run_module(cluster_functional_level, args())
    assert rc == 1 and 'cannot be undone' in result['msg'] and lab.functional_level == 10
    rc, result = run_module(cluster_functional_level, args(accept_irreversible=True, vm_names=['VM01'], node_hosts=HOSTS))
    assert rc == 1 and 'set allow_vm_stop=true' in result['msg']
    assert lab.functional_level == 10  # refused before the first irreversible step
    assert lab.groups['VM01'].vm_version == '9.0' and lab.groups['VM01'].downtime == 0
    rc, result = run_module(cluster_functional_level, args(accept_irreversible=True, vm_names=['VM01'], node_hosts=HOSTS,
                                                           allow_vm_stop=True))
    assert rc == 0 and result['changed'] and result['vms_updated'] == ['VM01'] and lab.groups['VM01'].vm_version == '10.0'
    assert lab.functional_level == 11 and lab.groups['VM01'].planned_downtime == lab.groups['VM01'].downtime > 0
    rc, result = run_module(cluster_functional_level, args(vm_names=['*'], node_hosts=HOSTS, allow_vm_stop=True,
                                                           _ansible_check_mode=True))
    assert rc == 0 and len(result['vms_updated']) == 19 and 'VM01' not in result['vms_updated']
    rc, result = run_module(cluster_functional_level, args(accept_irreversible=True))
    assert rc == 0 and result['changed'] is False and result['functional_level'] == 11


def test_storage_pool_is_updated_after_the_level_and_only_once(run_module, monkeypatch):
    lab = build_lab('s2d4')
    patch_modules(monkeypatch, lab, cluster_functional_level)
    hosts = ['HCI-N%d' % i for i in range(1, 5)]
    conn = dict(CONN, winrm_host='HCICLU01', winrm_fallback_hosts=hosts)
    pool = lab.pools[0]
    before = pool.version
    with lab.lock:  # every node already runs the next release (as after the rolling upgrade)
        for node in lab.nodes.values():
            node.os = 'ws2022' if node.os == 'ws2019' else 'ws2025'
    target = lab.nodes['HCI-N1'].os_info['level']
    rc, result = run_module(cluster_functional_level, dict(conn, _ansible_check_mode=True))
    assert rc == 0 and result['changed'] and result['storage_pools_updated'] == [pool.friendly_name]
    assert pool.version == before and lab.functional_level == target - 1
    rc, result = run_module(cluster_functional_level, dict(conn, accept_irreversible=True, _ansible_diff=True))
    assert rc == 0 and result['functional_level'] == target and result['storage_pools_updated'] == [pool.friendly_name]
    assert pool.version != before and result['diff']['after']['pools'][pool.friendly_name] == pool.version
    rc, result = run_module(cluster_functional_level, dict(conn, accept_irreversible=True))
    assert rc == 0 and result['changed'] is False and result['storage_pools_updated'] == []


def test_the_cluster_address_moving_away_is_no_configuration_difference(run_module, lab, tmp_path):
    # HV-N1 owns the core cluster group: Get-NetIPAddress lists the cluster's address there.
    assert lab.core_group().owner == 'HV-N1'
    path = str(tmp_path / 'HV-N1.json')
    assert run_module(node_config, args(name='HV-N1', winrm_host='HV-N1', state='captured', path=path))[0] == 0
    captured = json.load(open(path))
    assert '192.0.2.100' in [a['IPAddress'] for a in captured['ip_addresses']]
    drain(run_module, 'HV-N1')  # the core group moves to another node, and its address with it
    assert lab.core_group().owner != 'HV-N1'
    rc, result = run_module(node_config, args(name='HV-N1', winrm_host='HV-N1', state='verified', path=path))
    assert rc == 0 and result['differences'] == {}, result


@pytest.mark.parametrize('code, meaning', [('0xC1900208', 'an incompatible application blocks the upgrade'),
                                           ('no_image', "has no image of this node's edition ServerDatacenter (Server)")])
def test_a_setup_that_refuses_fails_within_a_poll_naming_its_code(run_module, lab, code, meaning):
    drain(run_module, 'HV-N4')
    lab.faults['setup_refused'] = {'HV-N4': code}
    media = next(iter(lab.setup_media))
    rc, result = run_module(node_os, args(name='HV-N4', winrm_host='HV-N4', build=20348, setup_media=media,
                                          poll_interval=0.02, wait_timeout=60))
    assert rc == 1 and result['error_type'] == 'UnsafeToProceed', result
    assert result['msg'].startswith('The in-place upgrade of HV-N4 did not start: ') and meaning in result['msg']
    if code != 'no_image':
        assert 'Windows Setup exited with code 0xC1900208' in result['msg'] and 'setup-logs' in result['msg']
    assert lab.node('HV-N4').os == 'ws2019'


def test_unc_media_that_the_computer_account_cannot_read_names_the_fix(run_module, lab):
    rc, result = run_module(node_os, args(name='HV-N4', winrm_host='HV-N4', build=20348, setup_media=r'\\files\nope',
                                          _ansible_check_mode=True))
    assert rc == 1 and "by this node's computer account (HV-N4$)" in result['msg']
    assert 'Grant Domain Computers (or HV-N4$) read access' in result['msg']


def test_a_password_storage_policy_is_named_when_a_delegated_task_cannot_be_registered(run_module, lab):
    drain(run_module, 'HV-N3')
    lab.faults['password_storage_policy'] = ['HV-N1', 'HV-N2', 'HV-N4']
    rc, result = run_module(cluster_node, args(name='HV-N3', state='absent', **TASK))
    assert rc == 1 and 'Network access: Do not allow storage of passwords and credentials' in result['msg'], result
    assert lab.node('HV-N3').member

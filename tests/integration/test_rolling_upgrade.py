"""playbooks/rolling_upgrade.yml and rolling_upgrade_finalize.yml end to end against the lab (BMCs over
IPMI and Redfish, PXE reprovisioning, evict and add), judged by the lab's recorder and state."""

import collections
import json
import shutil

import pytest

from lab import cli as lab_cli
from integration.labcheck import assert_safe, changes, events, fault, lab_state, recap, said, swapped_inventory

pytestmark = pytest.mark.integration
PLAY = 'playbooks/rolling_upgrade.yml'
FINALIZE = 'playbooks/rolling_upgrade_finalize.yml'
ORDER = ['HV-N1', 'HV-N2', 'HV-N3', 'HV-N4']


def options(tmp_path, **extra):
    out = {'rolling_upgrade_target_build': 20348, 'rolling_upgrade_poll_interval': 0.1,
           'rolling_upgrade_capture_dir': str(tmp_path / 'captures')}
    out.update(extra)
    return out


def per_node(state, kind):
    return collections.Counter(e['node'] for e in events(state, kind))


def assert_upgraded(state, build=20348):
    snap = lab_state(state)
    for node in snap['nodes']:
        assert node['member'] and node['state'] == 'Up' and node['build'] == build, node
    assert snap['lock'] is None
    return snap


@pytest.mark.parametrize('protocol', ['ipmi', 'redfish'])
def test_upgrade_2019_to_2022_then_finalize_only_with_opt_in(start_lab, playbook, tmp_path, protocol):
    state = start_lab('hyperv4')
    proc = playbook(PLAY, state['inventory'], options(tmp_path, wsfc_bmc_protocol=protocol, rolling_upgrade_report_dir=str(tmp_path)))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    snap = assert_upgraded(state)
    inv = assert_safe(state)
    assert inv['live_migrated_vms'] == 20
    # The report: every node through every phase of a reinstall, on build 17763 before and 20348 after.
    report = json.loads((tmp_path / 'rolling_upgrade_report.json').read_text())
    for node in report['clusters'][0]['nodes']:
        assert [p['phase'] for p in node['phases']] == ['gate', 'capture', 'drain', 'evict', 'network boot', 'power cycle',
                                                        'reinstall', 'verify configuration', 'add back'], node
        assert (node['build_before'], node['build_after'], node['status']) == (17763, 20348, 'done')
    # Each node: drained once, evicted once, reinstalled once from the network, added once; never two at once.
    for kind in ('node.suspend_requested', 'node.evicted', 'node.reprovisioned', 'node.added'):
        assert sorted(per_node(state, kind).values()) == [1, 1, 1, 1], kind
    assert all(e['device'] == 'network' for e in events(state, 'node.firmware_boot'))
    assert all(not e['storage_busy'] for e in events(state, 'node.suspend_requested'))
    # The first node on the new OS took the core group (mixed-OS rule); roles came home.
    first = events(state, 'node.added')[0]['node']
    assert events(state, 'group.moved_to_newer_node')[0]['node'] == first
    owners = collections.Counter(g['owner'] for g in snap['groups'] if g['type'] == 'VirtualMachine')
    assert sorted(owners.values()) == [5, 5, 5, 5]
    assert snap['cluster']['functional_level'] == 10  # not raised by the upgrade itself
    assert said(proc, 'not raised') and said(proc, 'cannot be undone')
    bmc_actions = events(state, 'bmc.power')
    assert [e['action'] for e in bmc_actions[:2]] == ['soft_off', 'off'] and bmc_actions[1]['how'] == 'acpi'

    # A re-run changes nothing and drains nothing.
    drains = len(events(state, 'node.suspend_requested'))
    proc = playbook(PLAY, state['inventory'], options(tmp_path, wsfc_bmc_protocol=protocol))[0]
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert said(proc, 'every node runs the target build; nothing to do')
    assert all(r['changed'] == 0 for r in recap(proc.stdout).values()), recap(proc.stdout)
    assert len(events(state, 'node.suspend_requested')) == drains

    # Finalize: without the opt-in only the WhatIf check runs; with it the level goes up once.
    proc = playbook(FINALIZE, state['inventory'])[0]
    assert proc.returncode == 0 and said(proc, 'Check only (nothing changed'), proc.stdout[-3000:]
    assert lab_state(state)['cluster']['functional_level'] == 10
    proc = playbook(FINALIZE, state['inventory'], {'wsfc_accept_irreversible': True})[0]
    assert proc.returncode == 0 and said(proc, 'Done (permanent)'), proc.stdout[-3000:]
    assert lab_state(state)['cluster']['functional_level'] == 11
    assert [e['after'] for e in events(state, 'cluster.functional_level_updated')] == [11]
    proc = playbook(FINALIZE, state['inventory'], {'wsfc_accept_irreversible': True})[0]
    assert proc.returncode == 0 and recap(proc.stdout)['HV-N1']['changed'] == 0
    assert said(proc, 'Nothing to raise: functional level 11 is the target') and not said(proc, 'Done (permanent)')
    assert_safe(state)


def test_in_place_upgrade_keeps_every_node_a_member(start_lab, playbook, tmp_path):
    state = start_lab('hyperv4')
    media = '\\\\deploy.lab.test\\media\\ws2022'
    proc = playbook(PLAY, state['inventory'], options(tmp_path, rolling_upgrade_method='in_place', rolling_upgrade_setup_media=media,
                                                      rolling_upgrade_report_dir=str(tmp_path)))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert_upgraded(state)
    report = json.loads((tmp_path / 'rolling_upgrade_report.json').read_text())
    assert [[p['phase'] for p in n['phases']] for n in report['clusters'][0]['nodes']] == [
        ['gate', 'capture', 'drain', 'in-place upgrade', 'resume']] * 4
    assert_safe(state)
    assert events(state, 'node.evicted') == [] and events(state, 'bmc.power') == []
    assert sorted(per_node(state, 'node.upgraded').values()) == [1, 1, 1, 1]
    assert sorted(per_node(state, 'node.resumed').values()) == [1, 1, 1, 1]


@pytest.mark.parametrize('extra, message', [
    ({'rolling_upgrade_target_build': 14393},
     'nodes HV-N1, HV-N2, HV-N3, HV-N4: Windows Server 2019 is newer than Windows Server 2016: a rolling upgrade does not go back'),
    ({'rolling_upgrade_target_build': 26100},
     'one version at a time, the next step from Windows Server 2019 is Windows Server 2022 (build 20348)'),
    ({'rolling_upgrade_target_build': 20000}, 'not a Windows Server or Azure Stack HCI release build'),
    ({'rolling_upgrade_method': 'in_place'}, 'in_place needs rolling_upgrade_setup_media'),
    ({'rolling_upgrade_method': 'sideways'}, 'rolling_upgrade_method must be'),
    ({'rolling_upgrade_method': 'in_place', 'rolling_upgrade_setup_media': '\\\\deploy.lab.test\\nothing'},
     "setup.exe cannot be read at '\\\\deploy.lab.test\\nothing' by this node's computer account (HV-N4$)"),
    ({'rolling_upgrade_node_order': ['HV-N5']}, 'rolling_upgrade_node_order names hosts that are not nodes of this cluster'),
    ({'rolling_upgrade_drain_timeout': 0}, 'rolling_upgrade_drain_timeout must be a number of seconds of at least 1, got 0'),
])
def test_bad_targets_are_refused_before_anything_changes(untouched_lab, playbook, tmp_path, extra, message):
    state = untouched_lab
    proc = playbook(PLAY, state['inventory'], options(tmp_path, **extra))[0]
    assert proc.returncode != 0 and said(proc, message), proc.stdout[-3000:]
    assert events(state, 'node.suspend_requested') == [] and lab_state(state)['lock'] is None
    assert events(state, 'bmc.power') == [] and events(state, 'bmc.boot') == []


def test_a_dry_run_of_the_upgrade_goes_through_every_node_and_changes_nothing(start_lab, playbook, tmp_path):
    state = start_lab('hyperv4')
    proc = playbook(PLAY, state['inventory'], options(tmp_path), check=True, args=['--diff'])[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert said(proc, 'target build 20348 by reprovision: 4 node(s) in this order: '), proc.stdout[-3000:]
    # Each node's gate, capture, drain, eviction, network boot and power cycle were checked; none was done.
    for step in ('node_gate | Check that this node may be taken out now', 'node_drain | Drain HV-N',
                 'node_reprovision | Boot the node from the network once', 'node_reprovision | Restart the node through its BMC',
                 'node_reprovision | End the preview of this node in check mode'):
        assert proc.stdout.count(step) == 4, step
    assert said(proc, 'HVCLU01: check mode, nothing was changed; 4 queued node(s) previewed'), proc.stdout[-3000:]
    assert changes(state) == [] and lab_state(state)['lock'] is None
    assert not (tmp_path / 'captures').exists()


@pytest.mark.parametrize('name, value, message', [
    ('bmc_unreachable', ['HV-N1'], 'did not answer over IPMI'),
    ('bmc_password', {'HV-N1': 'rotated'}, "refused the login of 'ADMIN'"),
])
def test_bmc_problems_stop_the_run_before_anything_changes(start_lab, playbook, tmp_path, name, value, message):
    state = start_lab('hyperv4')
    fault(state, name, value)
    proc = playbook(PLAY, state['inventory'], options(tmp_path))[0]
    assert proc.returncode != 0 and said(proc, message), proc.stdout[-3000:]
    assert events(state, 'node.suspend_requested') == [] and lab_state(state)['lock'] is None


def test_faults_end_safe_and_each_rerun_continues_where_it_stopped(start_lab, playbook, tmp_path):
    state = start_lab('hyperv4')
    opts = options(tmp_path, rolling_upgrade_node_order=ORDER, rolling_upgrade_install_timeout=8)

    def run_and_fail(node, message):
        proc = playbook(PLAY, state['inventory'], opts)[0]
        assert proc.returncode != 0 and said(proc, message), proc.stdout[-4000:]
        assert said(proc, 'Rolling upgrade stopped at %s' % node)
        lock = lab_state(state)['lock']
        assert '"status": "failed"' in lock and '"node": "%s"' % node in lock
        assert_safe(state)
        snap = lab_state(state)
        out = [n['name'] for n in snap['nodes'] if not (n['member'] and n['state'] == 'Up')]
        assert out == [node], out  # only the failed node is out; the others are untouched or finished

    # 1. The PXE deployment of HV-N1 never finishes: the wait is bounded and says what it waited for.
    fault(state, 'pxe_no_return', ['HV-N1'])
    run_and_fail('HV-N1', 'HV-N1 does not answer WinRM yet')
    fault(state, 'pxe_no_return', None)
    lab_cli.control(state, '/', {'action': 'stage_image', 'node': 'HV-N1', 'os': 'ws2022'})  # the admin restages it

    # 2. HV-N2's image is the wrong release: detected at once, the node is not added.
    fault(state, 'wrong_build', {'HV-N2': 'ws2019'})
    run_and_fail('HV-N2', 'HV-N2 came back on build 17763')
    fault(state, 'wrong_build', None)
    lab_cli.control(state, '/', {'action': 'stage_image', 'node': 'HV-N2', 'os': 'ws2022'})

    # 3. HV-N3 comes back without its virtual switch and Hyper-V: the configuration check stops the add.
    fault(state, 'config_mismatch', ['HV-N3'])
    run_and_fail('HV-N3', 'does not match the capture')
    fault(state, 'config_mismatch', None)
    lab_cli.control(state, '/', {'action': 'repair_config', 'node': 'HV-N3'})

    # 4. Add-ClusterNode of HV-N4 is refused.
    fault(state, 'add_refused', ['HV-N4'])
    run_and_fail('HV-N4', "Failed to add 'HV-N4' to cluster 'HVCLU01'")
    fault(state, 'add_refused', None)

    proc = playbook(PLAY, state['inventory'], opts)[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert_upgraded(state)
    assert_safe(state)
    # Each node was drained and evicted once; only the failed deployments were redone; nothing finished
    # was touched again.
    assert sorted(per_node(state, 'node.suspend_requested').values()) == [1, 1, 1, 1]
    assert sorted(per_node(state, 'node.evicted').values()) == [1, 1, 1, 1]
    assert per_node(state, 'node.reprovision_started') == {'HV-N1': 2, 'HV-N2': 2, 'HV-N3': 1, 'HV-N4': 1}
    assert per_node(state, 'node.added') == {'HV-N1': 1, 'HV-N2': 1, 'HV-N3': 1, 'HV-N4': 1}


def test_a_failed_upgrade_resumes_from_a_fresh_controller_with_the_capture_kept_in_the_cluster(start_lab, playbook, tmp_path):
    state = start_lab('hyperv4')
    opts = options(tmp_path, rolling_upgrade_node_order=['HV-N2', 'HV-N1', 'HV-N3', 'HV-N4'])
    del opts['rolling_upgrade_capture_dir']   # the default: the cluster database
    first_home, second_home = tmp_path / 'controller-1', tmp_path / 'controller-2'
    first_home.mkdir()
    second_home.mkdir()
    # HV-N2 comes back from its reinstall without its virtual switch: the run stops there, HV-N2 evicted.
    fault(state, 'config_mismatch', ['HV-N2'])
    proc = playbook(PLAY, state['inventory'], opts, env={'HOME': str(first_home)})[0]
    assert proc.returncode != 0 and said(proc, 'does not match the capture in the cluster database'), proc.stdout[-4000:]
    assert [n['name'] for n in lab_state(state)['nodes'] if not n['member']] == ['HV-N2']
    assert [e['node'] for e in events(state, 'capture.written')] == ['HV-N2']
    # Nothing of the run was left on the controller: no capture file anywhere under its home or the test's directory.
    assert not [p for p in tmp_path.rglob('*.json') if 'HV-N2' in p.name]
    fault(state, 'config_mismatch', None)
    lab_cli.control(state, '/', {'action': 'repair_config', 'node': 'HV-N2'})
    # Another controller (a new AWX execution environment): every file of the first is gone.
    shutil.rmtree(str(first_home))
    proc = playbook(PLAY, state['inventory'], opts, env={'HOME': str(second_home)})[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    snap = assert_upgraded(state)
    assert_safe(state)
    # HV-N2 was checked against its first capture and got its roles back from it; nothing was redone.
    assert per_node(state, 'node.evicted') == {'HV-N1': 1, 'HV-N2': 1, 'HV-N3': 1, 'HV-N4': 1}
    assert per_node(state, 'capture.written') == {'HV-N1': 1, 'HV-N2': 1, 'HV-N3': 1, 'HV-N4': 1}
    owners = collections.Counter(g['owner'] for g in snap['groups'] if g['type'] == 'VirtualMachine')
    assert sorted(owners.values()) == [5, 5, 5, 5]


def test_a_bmc_address_of_another_node_is_refused_before_anything_changes(start_lab, playbook, tmp_path):
    state = start_lab('hyperv4')
    inventory = swapped_inventory(state, tmp_path / 'swapped.yml', 'wsfc_bmc_host', 'HV-N1', 'HV-N2')
    proc = playbook(PLAY, inventory, options(tmp_path, wsfc_bmc_protocol='redfish'))[0]
    assert proc.returncode != 0
    assert said(proc, 'manages the system with serial number'), proc.stdout[-3000:]
    assert said(proc, 'Check the BMC address in the inventory (wsfc_bmc_host)')
    assert changes(state) == []
    assert lab_state(state)['lock'] is None


def test_an_upgrade_through_enclosure_managers_reaches_each_node_s_own_system(start_lab, playbook, tmp_path):
    """Every node's Redfish BMC lists a neighbour's system first and publishes PowerCycle as its only restart: the
    run picks each node's system by the serial number the cluster reports and restarts it as the BMC allows."""
    state = start_lab('hyperv4')
    fault(state, 'redfish_enclosure', ORDER)
    fault(state, 'redfish_reset_types', dict((n, ['On', 'ForceOff', 'GracefulShutdown', 'PowerCycle']) for n in ORDER))
    proc = playbook(PLAY, state['inventory'], options(tmp_path, wsfc_bmc_protocol='redfish'))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert_upgraded(state)
    assert_safe(state)      # no request reached a neighbour (that is an invariant violation)
    assert sorted(per_node(state, 'node.reprovisioned').values()) == [1, 1, 1, 1]

"""playbooks/doctor.yml against the lab: every check reported, each problem named with its fix, nothing changed."""

import re

import pytest

from lab import cli as lab_cli
from integration.labcheck import changes, fault, said

pytestmark = pytest.mark.integration
PLAY = 'playbooks/doctor.yml'
CHECKS = {'winrm', 'inventory', 'nodes', 'quorum', 'storage', 'run_lock', 'cau_role', 'cau_run', 'powershell', 'modules',
          'pending_restart', 'windows_update', 'task_scheduler', 'execution_policy', 'time', 'double_hop', 'bmc'}


def reported(proc):
    """{(status, target, check)} of the findings the playbook printed."""
    return set(re.findall(r'\[(ok|warning|error)\] (\S+) (\w+): ', proc.stdout))


@pytest.mark.parametrize('scenario', ['hyperv4', 's2d4', 'twonode', 's2d16'])
def test_a_ready_cluster_passes_every_check_and_nothing_changes(start_lab, playbook, scenario):
    state = start_lab(scenario)
    proc = playbook(PLAY, state['inventory'])[0]
    assert proc.returncode == 0, proc.stdout[-4000:]
    found = reported(proc)
    assert {check for _status, _target, check in found} == CHECKS
    assert not [f for f in found if f[0] == 'error']
    # Each node was reached through its own address, its BMC too.
    for node in state['nodes']:
        assert ('ok', node, 'winrm') in found and ('ok', node, 'bmc') in found
    assert changes(state) == []


def test_each_problem_is_named_with_its_fix_and_nothing_changes(start_lab, playbook):
    state = start_lab('s2d4')  # no CAU role
    lab_cli.control(state, '/', {'action': 'power', 'node': 'HCI-N3', 'power': 'Off'})
    fault(state, 'reboot_pending', ['HCI-N2'])
    fault(state, 'storage_repair', {'minutes': 600})
    fault(state, 'clock_skew', {'HCI-N4': 400})
    before = changes(state)
    proc = playbook(PLAY, state['inventory'], {'doctor_cau_required': True})[0]
    assert proc.returncode != 0
    # HCI-N3 is off: nothing answers (the attempt times out), so the fix is to make it reachable.
    for text in ('[error] HCI-N3 winrm: ', 'timed out', 'reachable from the controller on the WinRM port',
                 '[error] HCI-N2 pending_restart: a restart is pending from an earlier installation -> restart HCI-N2',
                 ' storage: storage is repairing or not healthy: jobs Repair',
                 'wait until Get-StorageJob shows no running job',
                 ' cau_role: no Cluster-Aware Updating clustered role -> add it (Add-CauClusterRole)',
                 '[error] HCI-N4 time: clock +400.000 s from its time source', ' nodes: not Up: HCI-N3 (Down)',
                 # CAU's own readiness checks (Test-CauSetup), as CAU reports them.
                 'cau_setup: Test-CauSetup: The Cluster service should be running on all cluster nodes',
                 'The Cluster service is not running on HCI-N3. -> Start the Cluster service on every node.',
                 'cau_setup: Test-CauSetup: The CAU clustered role should be installed'):
        assert said(proc, text), (text, proc.stdout[-6000:])
    assert said(proc, 'problem(s) to fix before a rolling run')
    assert changes(state) == before


def test_a_wrong_ca_is_named_for_the_cluster_and_every_node(start_lab, playbook, tmp_path):
    state = start_lab('twonode')
    other = lab_cli.start('twonode', str(tmp_path / 'other'), net='127.0.249')
    try:
        proc = playbook(PLAY, state['inventory'], {'wsfc_winrm_ca_path': other['ca_path']})[0]
    finally:
        lab_cli.stop(str(tmp_path / 'other'))
    assert proc.returncode != 0
    for target in ('EDGE-N1', 'EDGE-N2'):
        assert said(proc, '[error] %s winrm: ' % target), proc.stdout[-4000:]
    assert said(proc, 'give the CA that issued the WinRM certificates in wsfc_winrm_ca_path')
    assert changes(state) == []

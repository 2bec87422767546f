"""Real ansible-playbook runs of cluster_info against running labs, checked against the lab's own state."""

import time

import pytest

from lab import cli as lab_cli

pytestmark = pytest.mark.integration
PLAY = 'tests/integration/playbooks/cluster_info.yml'


def lab_view(state):
    return lab_cli.control(state, '/state')


@pytest.mark.parametrize('scenario', ['twonode', 'hyperv4', 's2d4', 's2d16'])
def test_cluster_info_matches_the_lab(start_lab, playbook, scenario):
    state = start_lab(scenario)
    proc, result = playbook(PLAY, state['inventory'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    truth = lab_view(state)
    assert result['changed'] is False and result['round_trips'] == 1
    assert result['cluster']['name'] == truth['cluster']['name']
    assert [(n['name'], n['state'], n['build_number']) for n in result['nodes']] == \
        [(n['name'], n['state'], n['build']) for n in truth['nodes']]
    assert sorted((g['name'], g['owner_node'], g['state']) for g in result['groups']) == \
        sorted((g['name'], g['owner'], g['state']) for g in truth['groups'])
    assert len(result['virtual_disks']) == len(truth['virtual_disks'])
    assert result['health']['healthy'] is True
    # Nothing changed on the cluster: a read-only module leaves no state-changing event.
    kinds = set(e['kind'] for e in lab_cli.control(state, '/events'))
    assert kinds <= {'rpc.call'}


def test_check_mode_and_a_node_endpoint(start_lab, playbook):
    state = start_lab('hyperv4')
    node3 = state['nodes']['HV-N3']['address']
    proc, result = playbook(PLAY, state['inventory'], {'target': node3, 'expected_cluster': 'HVCLU01'}, check=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result['cluster']['answered_by'] == 'HV-N3' and len(result['nodes']) == 4


@pytest.mark.parametrize('extra, message', [
    ({'password': 'wrong'}, 'authentication failed for LAB\\admin at https://'),
    ({'expected_cluster': 'PRODCLU'}, "Cluster 'PRODCLU' not found"),
    ({'transport': 'telnet'}, 'value of winrm_transport must be one of'),
    ({'target': '127.0.0.1'}, 'cannot connect to https://127.0.0.1:5986/wsman: connection refused'),
])
def test_bad_input_fails_with_a_clear_message_and_changes_nothing(start_lab, playbook, extra, message):
    state = start_lab('twonode')
    before = lab_view(state)
    proc, result = playbook(PLAY, state['inventory'], extra)
    assert proc.returncode != 0 and result is None
    assert message in ' '.join(proc.stdout.split()), proc.stdout
    assert 'Traceback' not in proc.stdout
    after = lab_view(state)
    before.pop('time'), after.pop('time')
    assert before == after


def test_demo_report_playbook_prints_the_table(start_lab, playbook):
    state = start_lab('hyperv4')
    started = time.monotonic()
    proc = playbook('playbooks/cluster_report.yml', state['inventory'])[0]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'Cluster HVCLU01 (lab.test)' in proc.stdout
    for node in ('HV-N1', 'HV-N2', 'HV-N3', 'HV-N4'):
        assert '%s        Up       NotInitiated  1/1    10.0.17763' % node in proc.stdout
    assert 'Health: HEALTHY' in proc.stdout and 'Run lock: none' in proc.stdout
    print('cluster_report.yml wall time: %.2f s' % (time.monotonic() - started))

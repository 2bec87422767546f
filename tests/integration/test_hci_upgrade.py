"""playbooks/hci_upgrade.yml end to end on the Azure Stack HCI 22H2 lab (Storage Spaces Direct): the in-place OS
upgrade to 23H2 node by node, the updates the new release offers, the finalize check; and the refused combinations."""

import collections
import json

import pytest

from integration.labcheck import assert_safe, events, lab_state, said

pytestmark = pytest.mark.integration
PLAY = 'playbooks/hci_upgrade.yml'
MEDIA = '\\\\deploy.lab.test\\media\\hci23h2'


def options(tmp_path, **extra):
    out = {'rolling_upgrade_target_build': 25398, 'rolling_upgrade_setup_media': MEDIA, 'rolling_upgrade_poll_interval': 0.1,
           'rolling_update_poll_interval': 0.1, 'rolling_upgrade_report_dir': str(tmp_path)}
    out.update(extra)
    return out


def test_hci_22h2_to_23h2_in_place_then_updates_then_finalize_check(start_lab, playbook, tmp_path):
    state = start_lab('hci4')
    proc = playbook(PLAY, state['inventory'], options(tmp_path))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    snap = lab_state(state)
    for node in snap['nodes']:
        assert node['member'] and node['state'] == 'Up' and node['build'] == 25398, node
        # The 23H2 cumulative update the new release offered is installed too.
        assert node['pending_updates'] == [] and not node['reboot_pending'], node
    assert snap['lock'] is None
    assert_safe(state)
    # Each node upgraded in place once (never evicted, never reinstalled: S2D keeps its drives), then updated once.
    upgraded = collections.Counter(e['node'] for e in events(state, 'node.upgraded'))
    assert sorted(upgraded.values()) == [1, 1, 1, 1] and events(state, 'node.evicted') == []
    installs = [e for e in events(state, 'wu.job_started') if e.get('mode', 'install') == 'install']
    assert len(set(e['node'] for e in installs)) == 4
    # Storage was never left paused or taken while repairing: every drain asked with storage quiet.
    assert all(not e['storage_busy'] for e in events(state, 'node.suspend_requested'))
    report = json.loads((tmp_path / 'rolling_upgrade_report.json').read_text())
    assert [[p['phase'] for p in n['phases']] for n in report['clusters'][0]['nodes']] == [
        ['gate', 'capture', 'drain', 'in-place upgrade', 'resume', 'storage resync']] * 4
    assert [(n['build_before'], n['build_after']) for n in report['clusters'][0]['nodes']] == [(20349, 25398)] * 4
    # The functional level is only checked (no opt-in) and stays where it was.
    assert said(proc, 'Check only (nothing changed') and snap['cluster']['functional_level'] == 11
    assert said(proc, 'target build 25398 by in_place')


@pytest.mark.parametrize('extra, message', [
    ({'rolling_upgrade_method': 'reprovision'},
     'method reprovision is not possible on a cluster with Storage Spaces Direct (upgrading to Azure Stack HCI 23H2)'),
    ({'rolling_upgrade_target_build': 26100},
     'not a release of Azure Stack HCI this collection knows (build 26100 is Windows Server 2025, another product'),
    ({'rolling_upgrade_target_build': 20348},
     'Azure Stack HCI 22H2 is newer than Azure Stack HCI 21H2: a rolling upgrade does not go back'),
])
def test_refused_hci_combinations_change_nothing(start_lab, playbook, tmp_path, extra, message):
    state = start_lab('hci4')
    proc = playbook('playbooks/rolling_upgrade.yml', state['inventory'], options(tmp_path, **extra))[0]
    assert proc.returncode != 0 and said(proc, message), proc.stdout[-3000:]
    assert events(state, 'node.suspend_requested') == [] and lab_state(state)['lock'] is None

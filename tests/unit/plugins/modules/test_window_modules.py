"""The module options that shorten the maintenance window, against the in-process lab: downloads ahead, installs while
the node serves and their guards, drains to a target node, the gate's choice of that target and its watch for a node
that restarted on its own."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils import _window
from ansible_collections.wsfc.rolling.plugins.modules import cluster_gate, cluster_node, node_updates
from unit.labproto import build_lab, patch_modules, snapshot

CONN = {'winrm_host': 'HVCLU01', 'winrm_user': 'LAB\\admin', 'winrm_password': 'pw',
        'winrm_fallback_hosts': ['HV-N1', 'HV-N2', 'HV-N3', 'HV-N4']}


@pytest.fixture
def lab(monkeypatch):
    lab = build_lab('hyperv4')
    patch_modules(monkeypatch, lab, cluster_gate, cluster_node, node_updates)
    return lab


def args(**kw):
    out = dict(CONN)
    out.update(kw)
    return out


def on(node, **kw):
    return args(winrm_host=node, name=node, poll_interval=0.02, **kw)


def test_downloaded_fetches_every_update_installs_nothing_and_says_what_was_there(run_module, lab):
    rc, result = run_module(node_updates, on('HV-N1', state='downloaded'))
    assert rc == 0 and result['changed'] is True
    assert [u['kb'] for u in result['downloaded']] == ['KB5068791', 'KB5066139', 'KB890830'] and result['installed'] == []
    node = lab.node('HV-N1')
    assert node.downloaded == {'KB5068791', 'KB5066139', 'KB890830'} and len(node.updates) == 3 and not node.reboot_pending
    assert _window.staged_line(result, 'HV-N1') == 'HV-N1: downloaded ahead: KB5068791, KB5066139, KB890830'
    rc, again = run_module(node_updates, on('HV-N1', state='downloaded'))
    assert rc == 0 and again['changed'] is False
    assert _window.staged_line(again, 'HV-N1') == ('HV-N1: downloaded ahead: nothing new (already there: KB5068791, '
                                                   'KB5066139, KB890830)')
    # The installation takes them from the cache: no download seconds.
    rc, installed = run_module(node_updates, on('HV-N1', state='installed'))
    assert rc == 0 and len(installed['installed']) == 3
    assert [e['seconds'] for e in lab.recorder.events if e['kind'] == 'wu.downloaded'][-3:] == [0, 0, 0]


def test_installing_while_serving_leaves_the_restart_pending_and_the_vms_where_they_are(run_module, lab):
    owned = sorted(g.name for g in lab.groups.values() if g.owner == 'HV-N2')
    rc, result = run_module(node_updates, on('HV-N2', state='installed', serving=True))
    assert rc == 0 and result['changed'] is True and result['refused'] == '' and result['reboot_required'] is True
    node = lab.node('HV-N2')
    assert node.reboot_pending and node.state == 'Up' and node.updates == []
    assert sorted(g.name for g in lab.groups.values() if g.owner == 'HV-N2') == owned
    assert not [e for e in lab.recorder.events if e['kind'] in ('node.restart', 'node.suspend_requested')]
    assert _window.staged_boot(result) == result['boot_time'] and result['boot_time']
    assert _window.staged_line(result, 'HV-N2', True) == ('HV-N2: installed while serving: KB5068791, KB5066139, KB890830; '
                                                          'its restart is pending')


@pytest.mark.parametrize('setup, reason', [
    (lambda lab: setattr(lab.node('HV-N3').updates[0], 'exclusive', True),
     'not installed while serving: KB5068791 must be installed by itself (RequiresExclusiveHandling)'),
    (lambda lab: setattr(lab.node('HV-N3'), 'reboot_pending', True),
     'not installed while serving: a restart from an earlier installation is pending on the node'),
])
def test_installing_while_serving_is_refused_where_it_is_not_safe_and_nothing_changes(run_module, lab, setup, reason):
    setup(lab)
    rc, result = run_module(node_updates, on('HV-N3', state='installed', serving=True))
    assert rc == 0 and result['refused'] == reason and result['installed'] == [] and result['changed'] is False
    assert len(lab.node('HV-N3').updates) == 3 and _window.staged_boot(result) == ''
    assert _window.staged_line(result, 'HV-N3', True) == 'HV-N3: %s; its cycle installs, drained' % reason


@pytest.mark.parametrize('extra', [{'serving': True, 'restart': 'if_required'}, {'state': 'downloaded', 'restart_pending': 'restart'}])
def test_an_update_option_that_would_restart_a_serving_node_is_refused(run_module, lab, extra):
    before = snapshot(lab)
    rc, result = run_module(node_updates, on('HV-N1', **dict({'state': 'installed'}, **extra)))
    assert rc == 1 and result['error_type'] == 'InvalidOption' and 'leaves the node serving' in result['msg']
    assert snapshot(lab) == before


def test_the_gate_picks_the_latest_updated_node_with_room_and_the_drain_goes_there(run_module, lab):
    hosts = dict((n, n) for n in ('HV-N1', 'HV-N2', 'HV-N3', 'HV-N4'))
    lab.node('HV-N2').memory_mb = 96 * 1024          # too small for HV-N3's VMs beside its own
    rc, gate = run_module(cluster_gate, args(name='HV-N3', node_hosts=hosts, drain_targets=['HV-N2', 'HV-N1']))
    assert rc == 0 and gate['drain_target'] == 'HV-N1', gate
    assert 'HV-N2 has' in gate['drain_target_detail']
    rc, first = run_module(cluster_gate, args(name='HV-N4', node_hosts=hosts, drain_targets=[]))
    assert rc == 0 and first['drain_target'] == '' and 'the cluster places' in first['drain_target_detail']
    rc, drained = run_module(cluster_node, args(name='HV-N3', state='paused', drain_target=gate['drain_target'], poll_interval=0.02))
    assert rc == 0 and drained['drain_target'] == 'HV-N1'
    assert set(drained['placement'].values()) == {'HV-N1'}


def test_a_drain_whose_target_is_full_lets_the_cluster_place_the_rest(run_module, lab):
    lab.node('HV-N1').memory_mb = 100 * 1024
    rc, drained = run_module(cluster_node, args(name='HV-N2', state='paused', drain_target='HV-N1', poll_interval=0.02))
    assert rc == 0 and drained['drain_target'] == '' and drained['node']['roles_owned'] == []
    assert drained['placement'] and 'HV-N1' not in drained['placement'].values()


def test_the_gate_stops_when_a_node_restarted_on_its_own_since_its_updates_were_installed(run_module, lab):
    from lab import maintenance
    hosts = dict((n, n) for n in ('HV-N1', 'HV-N2', 'HV-N3', 'HV-N4'))
    rc, staged = run_module(node_updates, on('HV-N2', state='installed', serving=True))
    assert rc == 0
    rc, gate = run_module(cluster_gate, args(name='HV-N2', node_hosts=hosts, staged_boot=staged['boot_time']))
    assert rc == 0 and any(c['name'] == 'not_restarted' and c['ok'] for c in gate['checks']), gate
    with lab.lock:
        maintenance.restart(lab, lab.node('HV-N2'))      # by itself: an automatic-restart policy, an administrator
    node = lab.node('HV-N2')
    deadline = time.monotonic() + 30
    while node.restarting and time.monotonic() < deadline:
        lab.tick()
        time.sleep(0.005)
    rc, gate = run_module(cluster_gate, args(name='HV-N2', node_hosts=hosts, staged_boot=staged['boot_time']))
    assert rc == 1 and 'HV-N2 restarted on its own after its updates were installed while it served' in gate['msg']
    rc, result = run_module(cluster_gate, args(name='HV-N2', staged_boot=staged['boot_time']))
    assert rc == 1 and result['error_type'] == 'InvalidOption' and 'needs the address of HV-N2 in node_hosts' in result['msg']


def test_leapfrog_targets_are_the_nodes_done_before_the_latest_first():
    queue = ['HV-N1', 'HV-N2', 'HV-N3', 'HV-N4']
    hostvars = dict((h, {'__runbook_executor': 'HV-N1', '__runbook_node_done': h in ('HV-N1', 'HV-N2')}) for h in queue)
    hostvars['HV-N1']['__runbook_state'] = {'queue': queue, 'node_names': dict((h, h) for h in queue)}
    assert _window.leapfrog_targets('HV-N3', hostvars) == ['HV-N2', 'HV-N1']
    assert _window.leapfrog_targets('HV-N1', hostvars) == []
    hostvars['HV-N2']['__runbook_node_done'] = 'False'      # a fact an older ansible-core templated to text
    assert _window.leapfrog_targets('HV-N4', hostvars) == ['HV-N1']

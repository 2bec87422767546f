"""playbooks/offline_update.yml end to end against the lab: confirmed, every node updated at once, every role back;
a node that does not come back keeps the cluster stopped until a re-run finishes."""

import pytest

from lab import cli as lab_cli
from integration.labcheck import events, fault, lab_state, said, stats

pytestmark = pytest.mark.integration
PLAY = 'playbooks/offline_update.yml'
FAST = {'offline_update_poll_interval': 0.2}


def online_roles(state):
    return sorted(g['name'] for g in lab_state(state)['groups'] if g['state'] == 'Online' and g['type'] not in ('Cluster', 'AvailableStorage'))


def assert_offline_safe(state):
    inv = stats(state)
    assert inv['violations'] == [], inv['violations']
    assert inv['vm_downtime'] == {}          # every VM stop was the offline update's own (planned)
    return inv


@pytest.mark.parametrize('scenario', ['hyperv4', 's2d4'])
def test_every_node_is_updated_at_once_and_every_role_comes_back(start_lab, playbook, scenario):
    state = start_lab(scenario)
    before = online_roles(state)
    name = lab_state(state)['cluster']['name']
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode != 0 and said(proc, "confirm must be the cluster's name, %s" % name), proc.stdout[-3000:]
    assert events(state, 'group.stopped') == [] and not lab_state(state)['offline']
    proc = playbook(PLAY, state['inventory'], dict(FAST, offline_update_confirm=name))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    snap = lab_state(state)
    assert not snap['offline'] and all(n['state'] == 'Up' and n['cluster_startup'] == 'Automatic' for n in snap['nodes'])
    assert all(n['pending_updates'] == [] and not n['reboot_pending'] for n in snap['nodes']), snap['nodes']
    assert online_roles(state) == before and said(proc, 'roles online again')
    # Every node restarted while the cluster was stopped: the restarts overlap (at once, not one after the other).
    restarts = events(state, 'node.restart')
    assert len(set(e['node'] for e in restarts)) == len(snap['nodes'])
    stopped_at = events(state, 'cluster.stopped')[0]['t']
    started_at = events(state, 'cluster.start_requested')[0]['t']
    assert all(stopped_at < e['t'] < started_at for e in restarts)
    inv = assert_offline_safe(state)
    assert inv['vm_planned_downtime']         # the VMs were stopped for the window, as confirmed
    # A re-run finds nothing recorded and nothing to stop without a new confirmation.
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode != 0 and not lab_state(state)['offline']


def test_a_node_that_does_not_come_back_keeps_the_cluster_stopped_and_a_rerun_finishes(start_lab, playbook):
    state = start_lab('hyperv4')
    before = online_roles(state)
    fault(state, 'no_return', ['HV-N3'])
    proc = playbook(PLAY, state['inventory'], dict(FAST, offline_update_confirm='HVCLU01', offline_update_reboot_timeout=20))[0]
    assert proc.returncode != 0 and said(proc, 'HV-N3 not back'), proc.stdout[-4000:]
    snap = lab_state(state)
    assert snap['offline'] and all(n['cluster_service'] == 'Stopped' for n in snap['nodes'])
    assert events(state, 'cluster.start_requested') == []
    # The administrator powers the node on; the same command finishes the update and only then starts the cluster.
    fault(state, 'no_return', [])
    lab_cli.control(state, '/', {'action': 'power', 'node': 'HV-N3', 'power': 'On'})
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert not lab_state(state)['offline'] and online_roles(state) == before
    assert_offline_safe(state)

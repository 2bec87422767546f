"""cluster_offline with node_updates against the in-process lab: the fast offline update step by step, its
refusals, and a re-run after an interruption."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.wsfc.rolling.plugins.modules import cluster_offline, node_updates
from unit.labproto import build_lab, patch_modules

CONN = {'winrm_host': 'HVCLU01', 'winrm_user': 'LAB\\admin', 'winrm_password': 'pw',
        'winrm_fallback_hosts': ['HV-N1', 'HV-N2', 'HV-N3', 'HV-N4'], 'poll_interval': 0.02}
HOSTS = dict(('HV-N%d' % i, 'HV-N%d' % i) for i in range(1, 5))


@pytest.fixture
def lab(monkeypatch):
    lab = build_lab('hyperv4')
    patch_modules(monkeypatch, lab, cluster_offline, node_updates)
    return lab


def offline(run_module, state, **kw):
    return run_module(cluster_offline, dict(CONN, state=state, node_hosts=HOSTS, **kw))


def update(run_module, node, reboot_timeout=600):
    args = dict(CONN, state='installed', winrm_host=node, name=node, cluster_stopped=True, restart='if_required', passes=3,
                await_restart=True,
                wait_timeout=600, reboot_timeout=reboot_timeout)
    del args['winrm_fallback_hosts']
    return run_module(node_updates, args)


def test_the_offline_update_stops_everything_updates_every_node_and_brings_every_role_back(run_module, lab):
    online = sorted(g.name for g in lab.groups.values() if g.state == 'Online' and not g.is_core)
    rc, result = offline(run_module, 'stopped', confirm='wrong')
    assert rc == 1 and "confirm must be the cluster's name, HVCLU01" in result['msg'] and lab.offline is None
    rc, result = offline(run_module, 'stopped', confirm='hvclu01', _ansible_check_mode=True)
    assert rc == 0 and result['changed'] and lab.offline is None
    rc, result = offline(run_module, 'stopped', confirm='HVCLU01')
    assert rc == 0 and result['changed'] and sorted(result['record']['roles']) == online, result
    assert lab.offline is not None and all(n.cluster_startup == 'Disabled' for n in lab.machines.values())
    rc, result = offline(run_module, 'stopped', confirm='HVCLU01')
    assert rc == 0 and not result['changed']                         # idempotent
    # Nothing starts until every node is updated.
    rc, result = offline(run_module, 'started')
    assert rc == 1 and 'Nothing starts until every node is updated: HV-N1, HV-N2, HV-N3, HV-N4 are not marked' in result['msg']
    for node in sorted(HOSTS):
        rc, result = update(run_module, node)
        assert rc == 0 and result['changed'], result
        rc, result = offline(run_module, 'updated', name=node)
        assert rc == 0 and result['changed'], result
        if node == 'HV-N2':
            rc, result = offline(run_module, 'started')
            assert rc == 1 and 'HV-N3, HV-N4 are not marked updated' in result['msg']
    assert all(n.cluster_service == 'Stopped' and n.power == 'On' for n in lab.machines.values())
    rc, result = offline(run_module, 'started')
    assert rc == 0 and result['changed'], result
    assert lab.offline is None and all(n.state == 'Up' and n.cluster_startup == 'Automatic' for n in lab.nodes.values())
    assert sorted(g.name for g in lab.groups.values() if g.state == 'Online' and not g.is_core) == online
    assert all(not n.updates or all(u.browse_only for u in n.updates) for n in lab.nodes.values())
    assert lab.recorder.violations == [] and lab.recorder.invariants(lab)['vm_downtime'] == {}
    assert all(n.offline_record is None for n in lab.machines.values())
    rc, result = offline(run_module, 'started')
    assert rc == 0 and not result['changed'] and 'no offline update is recorded' in result['lines'][0]


def test_a_node_that_does_not_come_back_keeps_the_cluster_stopped_until_it_does(run_module, lab):
    rc, result = offline(run_module, 'stopped', confirm='HVCLU01')
    assert rc == 0
    lab.faults['no_return'] = ['HV-N3']
    for node in sorted(HOSTS):
        rc, result = update(run_module, node, reboot_timeout=3 if node == 'HV-N3' else 600)
        if node == 'HV-N3':
            assert rc == 1 and 'HV-N3 not back' in result['msg'], result
            continue
        assert rc == 0
        rc, result = offline(run_module, 'updated', name=node)
        assert rc == 0 and result['changed'], result
    rc, result = offline(run_module, 'started')
    assert rc == 1 and 'Not every node answers: HV-N3' in result['msg'] and lab.offline is not None
    assert all(n.cluster_service == 'Stopped' for n in lab.machines.values())
    # The administrator brings it back; the re-run finishes it and only then starts the cluster.
    lab.faults['no_return'] = []
    lab.admin_power('HV-N3', 'On')
    rc, result = update(run_module, 'HV-N3')
    assert rc == 0, result
    rc, result = offline(run_module, 'updated', name='HV-N3')
    rc, result = offline(run_module, 'started')
    assert rc == 0 and lab.offline is None and lab.recorder.violations == [], result


@pytest.mark.parametrize('extra, message', [
    ({'state': 'stopped', 'confirm': 'HVCLU01', 'node_hosts': {'HV-N1': 'HV-N1'}}, 'node_hosts must name every node of HVCLU01 exactly'),
    ({'state': 'updated', 'node_hosts': HOSTS}, 'state=updated needs name, one of node_hosts'),
    ({'state': 'stopped', 'node_hosts': {}}, 'node_hosts must name every node of the cluster'),
])
def test_bad_input_is_refused_before_anything_stops(run_module, lab, extra, message):
    rc, result = run_module(cluster_offline, dict(CONN, **extra))
    assert rc == 1 and message in result['msg'], result
    assert lab.offline is None and all(n.offline_record is None for n in lab.machines.values())
    assert all(g.state == 'Online' for g in lab.groups.values() if g.group_type == 'VirtualMachine')


def test_a_controller_that_died_anywhere_is_finished_by_a_rerun_without_losing_a_role(run_module, lab):
    import json
    from lab import offline as lab_offline
    online = sorted(g.name for g in lab.groups.values() if g.state == 'Online' and not g.is_core)
    # Died after recording and stopping some roles, before Stop-Cluster: those roles come back too.
    first = online[:3]
    for node in lab.machines.values():
        node.offline_record = json.dumps({'version': 1, 'cluster': 'HVCLU01', 'phase': 'stopping', 'roles': online,
                                          'nodes': sorted(HOSTS)})
    with lab.lock:
        lab_offline.group_stop(lab, first)
    rc, result = offline(run_module, 'stopped', confirm='HVCLU01')
    assert rc == 0 and result['record']['roles'] == online, result
    for node in sorted(HOSTS):
        assert update(run_module, node)[0] == 0 and offline(run_module, 'updated', name=node)[0] == 0
    # Died during the start, after Start-Cluster: the same command stops nothing again and finishes the start.
    with lab.lock:
        for node in lab.machines.values():
            node.cluster_startup = 'Automatic'
        lab_offline.start_cluster(lab)
    import time
    deadline = time.monotonic() + 30
    while lab.offline is not None and time.monotonic() < deadline:
        time.sleep(0.05)
        lab.tick()
    assert lab.offline is None
    stops = len([e for e in lab.recorder.events if e['kind'] == 'cluster.stopped'])
    rc, result = offline(run_module, 'stopped', confirm='HVCLU01')
    assert rc == 0 and not result['changed'] and 'the start step finishes' in result['lines'][0], result
    assert len([e for e in lab.recorder.events if e['kind'] == 'cluster.stopped']) == stops
    rc, result = offline(run_module, 'started')
    assert rc == 0 and result['changed'], result
    assert sorted(g.name for g in lab.groups.values() if g.state == 'Online' and not g.is_core) == online
    assert all(n.offline_record is None for n in lab.machines.values()) and lab.recorder.violations == []

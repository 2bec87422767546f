"""Fleets: several clusters in one inventory and one run, one node out per cluster, each cluster on its own."""

import pytest
import yaml

from lab import cli as lab_cli
from lab import fleet as fleet_mod
from integration.labcheck import said

pytestmark = pytest.mark.integration
PLAY = 'playbooks/rolling_update.yml'
FAST = {'rolling_update_poll_interval': 0.1}
FORKS = ('-f', '20')


def member(fleet, cluster):
    return next(m for m in fleet['clusters'] if m['cluster'] == cluster)


def set_group_var(fleet, group, name, value):
    with open(fleet['inventory']) as handle:
        inventory = yaml.safe_load(handle)
    inventory['all']['children']['wsfc_cluster']['children'][group]['vars'][name] = value
    with open(fleet['inventory'], 'w') as handle:
        yaml.safe_dump(inventory, handle, sort_keys=False)


def drains(state):
    return [e['node'] for e in lab_cli.control(state, '/events') if e['kind'] == 'node.suspend_requested']


def test_a_fleet_updates_in_one_run_a_failed_cluster_stops_alone_and_the_rerun_finishes_only_it(start_fleet, playbook):
    fleet = start_fleet('hyperv4,s2d4,twonode')
    set_group_var(fleet, 'edgeclu01', 'rolling_update_allow_save_state', True)   # its Low VMs are saved by a drain
    s2d = member(fleet, 'HCICLU01')
    first = lab_cli.control(s2d, '/state')['nodes'][1]
    lab_cli.control(s2d, '/', {'action': 'fault', 'fault': 'update_fail', 'value': {first['name']: first['pending_updates'][:1]}})
    proc = playbook(PLAY, fleet['inventory'], FAST, args=FORKS)[0]
    assert proc.returncode != 0
    assert said(proc, 'Rolling update stopped at %s' % first['name']), proc.stdout[-4000:]
    assert said(proc, 'HCICLU01: not starting HCI-N'), proc.stdout[-4000:]       # its cluster stopped there
    assert said(proc, 'fleet: 3 cluster(s), 1 failed')
    summary = fleet_mod.summary(fleet)
    assert summary['totals']['violations'] == 0 and all(r['max_nodes_out'] <= 1 for r in summary['clusters'])
    rows = dict((r['cluster'], r) for r in summary['clusters'])
    assert rows['HVCLU01']['pending'] == {} and rows['EDGECLU01']['pending'] == {}
    assert rows['HVCLU01']['lock'] is None and rows['EDGECLU01']['lock'] is None
    assert set(rows['HCICLU01']['pending']) == {'HCI-N1', 'HCI-N2', 'HCI-N3', 'HCI-N4'}
    assert drains(s2d) == [first['name']]                        # nothing else of that cluster was touched
    done_elsewhere = dict((c, len(drains(member(fleet, c)))) for c in ('HVCLU01', 'EDGECLU01'))
    # Nodes of different clusters were out at the same time: the clusters ran in parallel.
    starts = [(e['t'], c) for c in ('HVCLU01', 'EDGECLU01') for e in lab_cli.control(member(fleet, c), '/events')
              if e['kind'] == 'node.suspend_requested']
    assert len(set(c for _t, c in starts)) == 2

    lab_cli.control(s2d, '/', {'action': 'fault', 'fault': 'update_fail', 'value': None})
    proc = playbook(PLAY, fleet['inventory'], FAST, args=FORKS)[0]
    assert proc.returncode == 0, proc.stdout[-4000:]
    summary = fleet_mod.summary(fleet)
    assert summary['totals'] == {'clusters': 3, 'violations': 0, 'clusters_with_pending_updates': 0}
    assert dict((c, len(drains(member(fleet, c)))) for c in ('HVCLU01', 'EDGECLU01')) == done_elsewhere
    # The failed node, left paused, was finished first (not drained again), then the rest, once each.
    assert drains(s2d)[0] == first['name'] and sorted(drains(s2d)) == ['HCI-N1', 'HCI-N2', 'HCI-N3', 'HCI-N4']
    assert all(r['lock'] is None for r in summary['clusters'])


def test_a_job_slice_of_a_cluster_is_refused_and_a_limit_to_whole_clusters_runs_only_them(start_fleet, playbook, tmp_path):
    fleet = start_fleet('hyperv4,twonode')
    with open(fleet['inventory']) as handle:
        inventory = yaml.safe_load(handle)
    hosts = inventory['all']['children']['wsfc_cluster']['children']['hvclu01']['hosts']
    for name in ('HV-N2', 'HV-N4'):      # what AWX job slicing does: every other host
        del hosts[name]
    sliced = tmp_path / 'sliced.yml'
    sliced.write_text(yaml.safe_dump(inventory))
    proc = playbook(PLAY, str(sliced), FAST, args=FORKS + ('--limit', 'hvclu01'))[0]
    assert proc.returncode != 0
    assert said(proc, 'the inventory lists 2 of the 4 nodes of HVCLU01 (missing: HV-N2, HV-N4): a job slice'), proc.stdout[-3000:]
    assert drains(member(fleet, 'HVCLU01')) == [] and lab_cli.control(member(fleet, 'HVCLU01'), '/state')['lock'] is None
    # A limit to a whole cluster's group: that cluster only.
    proc = playbook(PLAY, fleet['inventory'], FAST, args=FORKS + ('--limit', 'hvclu01'))[0]
    assert proc.returncode == 0, proc.stdout[-3000:]
    summary = dict((r['cluster'], r) for r in fleet_mod.summary(fleet)['clusters'])
    assert summary['HVCLU01']['pending'] == {} and summary['HVCLU01']['violations'] == []
    assert drains(member(fleet, 'EDGECLU01')) == [] and summary['EDGECLU01']['pending']


def test_a_fleet_upgrades_in_place_one_node_per_cluster_at_a_time_and_the_clusters_in_parallel(start_fleet, playbook, tmp_path):
    fleet = start_fleet('hyperv4,hyperv4')
    extra = {'rolling_upgrade_target_build': 20348, 'rolling_upgrade_poll_interval': 0.1, 'rolling_upgrade_method': 'in_place',
             'rolling_upgrade_setup_media': '\\\\deploy.lab.test\\media\\ws2022',
             'rolling_upgrade_capture_dir': str(tmp_path / 'captures')}
    proc = playbook('playbooks/rolling_upgrade.yml', fleet['inventory'], extra, args=FORKS)[0]
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert said(proc, 'fleet: 2 cluster(s), 0 failed; 8 node(s) done, 0 left')
    summary = fleet_mod.summary(fleet)
    assert summary['totals']['violations'] == 0 and all(r['max_nodes_out'] <= 1 for r in summary['clusters'])
    windows = []
    for member_state in fleet['clusters']:
        view = lab_cli.control(member_state, '/state')
        assert [(n['build'], n['member']) for n in view['nodes']] == [(20348, True)] * 4 and view['lock'] is None
        stats = lab_cli.control(member_state, '/stats')
        # Each lab has its own clock: its events as real seconds before now, comparable across the labs.
        ago = [(stats['time'] - e['t']) / stats['clock_scale'] for e in lab_cli.control(member_state, '/events')
               if e['kind'] == 'node.upgraded']
        assert len(ago) == 4
        windows.append((max(ago), min(ago)))
    # Each cluster's upgrades overlapped the other's: the clusters ran in parallel, not one after the other.
    assert windows[0][0] > windows[1][1] and windows[1][0] > windows[0][1], windows


def real_times(state, kind):
    """The lab events of ``kind`` as (real seconds ago, node): each lab has its own clock, so its times are turned
    into real seconds before now to compare them across labs."""
    stats = lab_cli.control(state, '/stats')
    return [((stats['time'] - e['t']) / stats['clock_scale'], e['node']) for e in lab_cli.control(state, '/events')
            if e['kind'] == kind]


def test_each_cluster_goes_at_its_own_pace_a_slow_node_holds_back_only_its_own_cluster(start_fleet, playbook, tmp_path):
    spec = tmp_path / 'fleet.yml'
    # The two-node cluster's clock runs six times slower: each of its node cycles lasts as long as several of
    # the other cluster's.
    spec.write_text(yaml.safe_dump({'clusters': [{'scenario': 'twonode', 'scale': 100}, {'scenario': 'hyperv4'}]}))
    fleet = start_fleet(str(spec))
    set_group_var(fleet, 'edgeclu01', 'rolling_update_allow_save_state', True)
    proc = playbook(PLAY, fleet['inventory'], FAST, args=FORKS)[0]
    assert proc.returncode == 0, proc.stdout[-4000:]
    summary = fleet_mod.summary(fleet)
    assert summary['totals'] == {'clusters': 2, 'violations': 0, 'clusters_with_pending_updates': 0}
    assert all(r['max_nodes_out'] <= 1 for r in summary['clusters'])
    slow = sorted(real_times(member(fleet, 'EDGECLU01'), 'node.suspend_requested'), reverse=True)
    fast = sorted(real_times(member(fleet, 'HVCLU01'), 'node.suspend_requested'), reverse=True)
    assert len(slow) == 2 and len(fast) == 4
    # Every node of the fast cluster was drained before the slow cluster's second node: it did not wait for the
    # slow cluster's first node to end (batches of one node per cluster would have made it wait, round by round).
    assert fast[-1][0] > slow[1][0], (fast, slow)


def test_clusters_in_flight_are_limited(start_fleet, playbook):
    fleet = start_fleet('twonode,twonode')
    for group in ('edgeclu01', 'edgeclu02'):
        set_group_var(fleet, group, 'rolling_update_allow_save_state', True)
    proc = playbook(PLAY, fleet['inventory'], dict(FAST, rolling_update_max_clusters_in_flight=1), args=FORKS)[0]
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert said(proc, 'fleet: 2 cluster(s), 0 failed; 4 node(s) done, 0 left')
    first, second = (fleet['clusters'][0], fleet['clusters'][1])
    ended = min(t for t, _n in real_times(first, 'node.resumed'))
    started = max(t for t, _n in real_times(second, 'node.suspend_requested'))
    # The second cluster's first drain came after the first cluster's last resume: one cluster at a time.
    assert started < ended, (started, ended)

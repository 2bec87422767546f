"""playbooks/rolling_update.yml end to end against the lab, judged by the lab's recorder and state."""

import collections
import json
import time
import re
from xml.etree import ElementTree

import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils._report import COLOURS, FAILED_COLOUR
from lab import cli as lab_cli
from integration import browser
from integration.labcheck import assert_safe, changes, events, fault, lab_state, recap, said, stats, swapped_inventory

pytestmark = pytest.mark.integration
PLAY = 'playbooks/rolling_update.yml'
FAST = {'rolling_update_poll_interval': 0.1}


def assert_timeline_renders(page, order):
    """The HTML report, rendered by headless Chromium: one timeline track per queued node in ``order``, the first
    with its phases' bars, the second with its failed phase in red, the nodes not started empty."""
    if browser.chromium() is None:
        pytest.skip('chromium is not installed (tools/setup installs it with apt-get where it may)')
    image = browser.screenshot(str(page), 'rolling_update_report')
    rgb = dict((phase, browser.colour(value)) for phase, value in COLOURS.items())
    failed, background = browser.colour(FAILED_COLOUR), browser.colour('#f0f0f0')
    tracks = browser.bands(image, set(rgb.values()) | {failed, background})
    assert len(tracks) == len(order), [(t['top'], t['bottom']) for t in tracks]
    first, second = tracks[0]['colours'], tracks[1]['colours']
    for phase in ('drain', 'install and restart', 'resume'):
        assert first.get(rgb[phase], 0) > 0, phase
    assert first.get(failed, 0) == 0 and second.get(failed, 0) > 0 and second.get(rgb['drain'], 0) > 0
    for track in tracks[2:]:
        assert set(track['colours']) & (set(rgb.values()) | {failed}) == set()


def assert_all_updated(state):
    for node in lab_state(state)['nodes']:
        assert node['state'] == 'Up', node
        assert node['pending_updates'] == [] and not node['reboot_pending'], node


@pytest.mark.parametrize('scenario', ['hyperv4', 's2d4'])
def test_rolling_update_converges_safely_and_rerun_changes_nothing(start_lab, playbook, scenario, tmp_path):
    state = start_lab(scenario)
    # Pre-staging is on by default: on hyperv4 every download happens while its node serves; s2d4 runs without it, and
    # each node then downloads inside its maintenance window.
    prestage = scenario == 'hyperv4'
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_report_dir=str(tmp_path),
                                                   **({} if prestage else {'rolling_update_prestage': False})))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    downloads = events(state, 'wu.downloaded')
    assert len([e for e in downloads if e['seconds'] > 0]) == 4 * (3 if scenario == 'hyperv4' else 2)
    if prestage:
        assert all(e['in_service'] for e in downloads if e['seconds'] > 0)
        assert sum(e['seconds'] for e in downloads if not e['in_service']) == 0
        assert said(proc, 'downloaded ahead: KB5068791, KB5066139, KB890830')
    else:
        assert not [e for e in downloads if e['in_service']] and all(e['seconds'] > 0 for e in downloads)
    # Each node's phases; on Storage Spaces Direct the wait for the resync after each node.
    report = json.loads((tmp_path / 'rolling_update_report.json').read_text())
    tail = ['storage resync'] if scenario == 's2d4' else []
    assert [[p['phase'] for p in n['phases']] for n in report['clusters'][0]['nodes']] == [
        ['gate', 'drain', 'install and restart', 'resume'] + tail] * 4
    assert_all_updated(state)
    inv = assert_safe(state)
    assert inv['live_migrated_vms'] >= 12
    # Every drain was asked for with storage quiet and healthy (S2D rule), each node restarted once.
    assert all(not e['storage_busy'] for e in events(state, 'node.suspend_requested'))
    assert sorted(collections.Counter(e['node'] for e in events(state, 'node.restart')).values()) == [1, 1, 1, 1]
    assert lab_state(state)['lock'] is None

    drains_before = len(events(state, 'node.suspend_requested'))
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert all(r['changed'] == 0 for r in recap(proc.stdout).values()), recap(proc.stdout)
    assert 'every node is compliant; nothing to do' in proc.stdout
    assert len(events(state, 'node.suspend_requested')) == drains_before
    assert lab_state(state)['lock'] is None


def test_update_failure_leaves_the_node_paused_and_a_rerun_finishes_without_second_restarts(start_lab, playbook, tmp_path):
    state = start_lab('hyperv4')
    fault(state, 'update_fail', {'HV-N3': ['KB5068791']})
    reports = tmp_path / 'run-1'
    reports.mkdir()
    offered = dict((n['name'], sorted(n['pending_updates'])) for n in lab_state(state)['nodes'])
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_max_retries=1, rolling_update_report_dir=str(reports),
                                                   rolling_update_node_order=['HV-N2', 'HV-N3']))[0]
    assert proc.returncode != 0
    # The run's report: the cluster failed; per queued node what became of it, the failure with its report.
    report = json.loads((reports / 'rolling_update_report.json').read_text())
    assert report['runbook'] == 'rolling_update' and report['result'] == 'failed' and not report['check_mode']
    [cluster] = report['clusters']
    assert cluster['cluster'] == 'HVCLU01' and cluster['result'] == 'failed'
    nodes = dict((n['node'], n) for n in cluster['nodes'])
    status = dict((name, n['status']) for name, n in nodes.items())
    assert status == {'HV-N2': 'done', 'HV-N3': 'failed', 'HV-N1': 'not started', 'HV-N4': 'not started'}, status
    assert nodes['HV-N3']['failure'].startswith('Rolling update stopped at HV-N3: Windows Update failed on HV-N3: KB5068791')
    # Every phase of every node, in order and on one clock; the failed one named; what each node went through.
    phases = dict((name, [p['phase'] for p in n['phases']]) for name, n in nodes.items())
    assert phases == {'HV-N2': ['gate', 'drain', 'install and restart', 'resume'], 'HV-N3': ['gate', 'drain', 'install and restart'],
                      'HV-N1': [], 'HV-N4': []}, phases
    for node in (nodes['HV-N2'], nodes['HV-N3']):
        assert all(p['end'] >= p['start'] for p in node['phases'])
        assert all(a['end'] <= b['start'] + 0.01 for a, b in zip(node['phases'], node['phases'][1:]))
        assert [g['name'] for g in node['gates'] if g['ok']] and all(g['ok'] for g in node['gates'])
        assert node['roles_moved'] and node['build_before'].startswith('17763.')
    assert nodes['HV-N2']['ended'] <= nodes['HV-N3']['started']
    assert nodes['HV-N3']['failed_phase'] == 'install and restart' and nodes['HV-N2']['failed_phase'] is None
    assert sorted(u['kb'] for u in nodes['HV-N2']['updates_installed']) == offered['HV-N2'] and offered['HV-N2']
    assert nodes['HV-N2']['roles_back'] and nodes['HV-N2']['left'] == 'Up (drain NotInitiated)'
    # The update build revision moved on with the cumulative update (the build number stays).
    assert nodes['HV-N2']['build_after'].startswith('17763.') and nodes['HV-N2']['build_after'] != nodes['HV-N2']['build_before']
    assert nodes['HV-N3']['left'] == 'Paused (drain Completed)' and not nodes['HV-N3']['roles_back']
    rest = [n['node'] for n in cluster['nodes']][2:]     # in the queue's order
    assert sorted(rest) == ['HV-N1', 'HV-N4']
    # The JUnit form: a case per phase, the failed phase a failure with the report, the nodes not started skipped.
    suite = ElementTree.parse(str(reports / 'rolling_update_report.junit.xml')).getroot()
    cases = [(c.get('classname'), c.get('name'), [k.tag for k in c]) for c in suite.iter('testcase')]
    assert cases == [('HVCLU01.HV-N2', 'gate', []), ('HVCLU01.HV-N2', 'drain', []), ('HVCLU01.HV-N2', 'install and restart', []),
                     ('HVCLU01.HV-N2', 'resume', []), ('HVCLU01.HV-N3', 'gate', []), ('HVCLU01.HV-N3', 'drain', []),
                     ('HVCLU01.HV-N3', 'install and restart', ['failure'])] + [
                         ('HVCLU01.' + n, 'not started', ['skipped']) for n in rest], cases
    assert suite.get('tests') == '9' and suite.get('failures') == '1' and suite.get('skipped') == '2'
    assert 'Rolling update stopped at HV-N3' in next(suite.iter('failure')).text
    assert_timeline_renders(reports / 'rolling_update_report.html', ['HV-N2', 'HV-N3'] + rest)
    out = ' '.join(proc.stdout.split())
    assert 'Rolling update stopped at HV-N3: Windows Update failed on HV-N3: KB5068791 (Failed, 0x80240022)' in out
    assert 'a paused node is never resumed automatically' in out
    nodes = dict((n['name'], n) for n in lab_state(state)['nodes'])
    assert nodes['HV-N3']['state'] == 'Paused' and nodes['HV-N3']['drain_status'] == 'Completed'
    lock = lab_state(state)['lock']
    assert '"status": "failed"' in lock and '"node": "HV-N3"' in lock
    assert_safe(state)
    done_first = [e['node'] for e in events(state, 'node.restart')]

    fault(state, 'update_fail', None)
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_report_dir=str(tmp_path)))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    report = json.loads((tmp_path / 'rolling_update_report.json').read_text())
    assert report['result'] == 'succeeded' and [n['status'] for n in report['clusters'][0]['nodes']] == ['done'] * 3
    assert_all_updated(state)
    assert_safe(state)
    restarts = collections.Counter(e['node'] for e in events(state, 'node.restart'))
    assert all(restarts[n] == 1 for n in done_first), restarts
    assert sorted(restarts) == ['HV-N1', 'HV-N2', 'HV-N3', 'HV-N4']
    # The paused node was finished first, without a second drain of any finished node.
    drains = collections.Counter(e['node'] for e in events(state, 'node.suspend_requested'))
    assert all(drains[n] == 1 for n in done_first), drains


def test_vm_that_cannot_live_migrate_fails_the_drain_and_names_the_vm(start_lab, playbook):
    state = start_lab('hyperv4')
    vm = next(g['name'] for g in lab_state(state)['groups'] if g['owner'] == 'HV-N2' and g['type'] == 'VirtualMachine')
    fault(state, 'vm_pinned', [vm])
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_node_order=['HV-N2'],
                                                   rolling_update_max_retries=0))[0]
    assert proc.returncode != 0
    out = ' '.join(proc.stdout.split())
    assert "Drain of cluster node 'HV-N2' failed: roles not moved: %s" % vm in out
    node = next(n for n in lab_state(state)['nodes'] if n['name'] == 'HV-N2')
    assert node['state'] == 'Paused' and node['drain_status'] == 'Failed'
    assert next(g for g in lab_state(state)['groups'] if g['name'] == vm)['state'] == 'Online'
    assert_safe(state)
    assert events(state, 'node.restart') == []

    fault(state, 'vm_pinned', [])
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert_all_updated(state)
    assert_safe(state)


def test_node_that_does_not_come_back_stops_the_run_safely(start_lab, playbook):
    state = start_lab('hyperv4')
    fault(state, 'no_return', ['HV-N1'])
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_node_order=['HV-N1'],
                                                   rolling_update_reboot_timeout=4))[0]
    assert proc.returncode != 0
    out = ' '.join(proc.stdout.split())
    assert 'Rolling update stopped at HV-N1: HV-N1 not back: WinRM does not answer' in out
    # The reboot timeout (4 s) ends the wait; the poll running then may add up to the connection timeout.
    assert re.search(r'after [45] s', out)
    nodes = dict((n['name'], n['state']) for n in lab_state(state)['nodes'])
    assert nodes == {'HV-N1': 'Down', 'HV-N2': 'Up', 'HV-N3': 'Up', 'HV-N4': 'Up'}
    inv = stats(state)
    assert inv['violations'] == [] and inv['vm_downtime'] == {}

    # Re-running while the node is still down refuses before touching anything else.
    suspends = len(events(state, 'node.suspend_requested'))
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode != 0
    assert len(events(state, 'node.suspend_requested')) == suspends

    # The administrator brings it back; the re-run finishes it and the others.
    fault(state, 'no_return', [])
    lab_cli.control(state, '/', {'action': 'power', 'node': 'HV-N1', 'power': 'On'})
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert_all_updated(state)
    assert stats(state)['violations'] == []


def test_winrm_drops_while_polling_are_survived(start_lab, playbook):
    state = start_lab('hyperv4')
    fault(state, 'winrm_drop', {'HV-N2': 3, 'HV-N4': 2})
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert len(events(state, 'fault.winrm_drop')) == 5
    assert_all_updated(state)
    assert_safe(state)


def test_stalled_resync_fails_fast_and_blocks_the_next_drain(start_lab, playbook):
    state = start_lab('s2d4')
    fault(state, 'storage_stall', {'percent': 40})
    extra = dict(FAST, rolling_update_storage_stall_timeout=2)
    proc = playbook(PLAY, state['inventory'], extra)[0]
    assert proc.returncode != 0
    out = ' '.join(proc.stdout.split())
    assert 'Storage repair stalled: no progress for 2 s: job Repair Running 40%' in out
    assert_safe(state)
    assert len(events(state, 'node.suspend_requested')) == 1
    # A re-run while the resync is still stuck waits for storage first (the failed node's resync) and stops
    # there: no second node is drained.
    proc = playbook(PLAY, state['inventory'], extra)[0]
    assert proc.returncode != 0
    assert 'Storage repair stalled: no progress for 2 s: job Repair Running 40%' in ' '.join(proc.stdout.split())
    assert len(events(state, 'node.suspend_requested')) == 1
    fault(state, 'storage_stall', None)
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert_all_updated(state)
    assert_safe(state)
    assert all(not e['storage_busy'] for e in events(state, 'node.suspend_requested'))


def test_low_priority_vms_that_would_be_saved_stop_the_run_unless_allowed(start_lab, playbook):
    state = start_lab('twonode')  # default MoveTypeThreshold: Low priority VMs quick-migrate
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode != 0
    out = ' '.join(proc.stdout.split())
    assert 'would be quick-migrated (saved, clients disconnected) by the drain' in out
    assert events(state, 'node.suspend_requested') == []
    assert lab_state(state)['lock'] is None  # released again: nothing was changed
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_allow_save_state=True))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert_all_updated(state)
    inv = stats(state)
    assert inv['violations'] == [] and inv['live_migrated_downtime'] == 0
    assert set(inv['vm_downtime']) == {'VM03', 'VM04'}  # the two Low priority VMs, as allowed


def test_deadline_stops_before_a_new_node_and_leaves_the_cluster_unlocked(start_lab, playbook):
    state = start_lab('hyperv4')
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_stop_after=1))[0]
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert said(proc, 'HVCLU01: not starting HV-N'), proc.stdout[-3000:]
    assert said(proc, ': deadline reached (rolling_update_stop_after).')
    assert events(state, 'node.suspend_requested') == [] and lab_state(state)['lock'] is None
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert_all_updated(state)


def test_swapped_node_addresses_are_refused_before_anything_changes(start_lab, playbook, tmp_path):
    state = start_lab('hyperv4')
    inventory = swapped_inventory(state, tmp_path / 'swapped.yml', 'wsfc_winrm_host', 'HV-N2', 'HV-N3')
    proc = playbook(PLAY, inventory, FAST)[0]
    assert proc.returncode != 0
    assert said(proc, 'answered as HV-N3, not as the node HV-N2 it was given for: nothing was run there') or \
        said(proc, 'answered as HV-N2, not as the node HV-N3 it was given for: nothing was run there'), proc.stdout[-3000:]
    assert changes(state) == []
    assert lab_state(state)['lock'] is None


def test_a_dry_run_of_a_cluster_that_needs_updates_reads_and_gates_everything_and_changes_nothing(untouched_lab, playbook, tmp_path):
    state = untouched_lab
    before = changes(state)
    report_file = str(tmp_path / 'rolling_update_report.json')
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_allow_save_state=True, rolling_update_report_dir=str(tmp_path)),
                    check=True, args=['--diff'])[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    with open(report_file) as handle:
        report = json.load(handle)
    assert report['check_mode'] and [n['status'] for n in report['clusters'][0]['nodes']] == ['previewed'] * 4
    # The plan: the queue in order and each node's work (updates by KB, download size, restart).
    assert said(proc, 'Cluster HVCLU01: 4 node(s) to update in this order: '), proc.stdout[-3000:]
    for node in ('HV-N1', 'HV-N2', 'HV-N3', 'HV-N4'):
        assert re.search(r'%s: updates to install; \d+ clustered role\(s\) to move; 3 update\(s\), \d+ MB: KB5068791, '
                         r'KB5066139, KB890830; restart expected' % node, proc.stdout), node
    # How long each node should take, from its VMs' memory (measured by the gate) and its updates' sizes; the report
    # carries it.
    out = ' '.join(proc.stdout.split())
    for node in ('HV-N1', 'HV-N2', 'HV-N3', 'HV-N4'):
        assert re.search(r'%s: about \d+ min \(5 VM\(s\), [1-9]\d* MB to move off and back; drain \d+ (s|min), download \d+ s, '
                         r'install \d+ (s|min), restart 7 min, failback \d+ (s|min)\)' % node, out), node
    assert said(proc, 'HVCLU01: about') and said(proc, 'storage resync not included')
    assert all(n['estimated_seconds'] > 420 for n in report['clusters'][0]['nodes'])
    # Every node's gate was checked (without the lock check mode did not take), and nothing changed.
    assert len(re.findall(r'Check that this node may be taken out now', proc.stdout)) == 4
    assert said(proc, 'HVCLU01: check mode, nothing was changed; 4 queued node(s) previewed'), proc.stdout[-3000:]
    assert changes(state) == before
    assert lab_state(state)['lock'] is None
    assert all(n['state'] == 'Up' and n['pending_updates'] for n in lab_state(state)['nodes'])


def test_a_limit_to_one_node_updates_it_alone_with_the_whole_cluster_measured(start_lab, playbook):
    state = start_lab('hyperv4')
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_allow_save_state=True), args=['--limit', 'HV-N4'])[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    # The other nodes' room took HV-N4's VMs (AWX's Limit field on one node once measured only that node: 0 MB free).
    assert [e['node'] for e in events(state, 'node.suspend_requested')] == ['HV-N4']
    pending = dict((n['name'], n['pending_updates']) for n in lab_state(state)['nodes'])
    assert pending['HV-N4'] == [] and all(pending[n] for n in ('HV-N1', 'HV-N2', 'HV-N3'))
    assert_safe(state)


def test_long_waits_say_what_they_wait_for_and_how_far_it_is(start_lab, playbook):
    state = start_lab('hyperv4')
    # At least once a minute by default; every half second here, so that the lab's short waits show it.
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_allow_save_state=True), args=['--limit', 'HV-N2'],
                    env={'WSFC_PROGRESS_INTERVAL': '0.5'})[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert re.search(r'^\[HV-N2\] Windows Update on \S+ still \w+ \(\d+%\) \(waited \d+ s of at most 7200 s\)$',
                     proc.stdout, re.M), proc.stdout[-6000:]
    assert re.search(r'^\[HV-N2\] HV-N2 (not back|has not restarted yet|restarted at).* \(waited \d+ s of at most 1800 s\)$',
                     proc.stdout, re.M), proc.stdout[-6000:]


def test_a_lost_witness_is_lost_margin_and_stops_the_run_before_anything_changes(untouched_lab, playbook):
    state = untouched_lab  # before the bad-option cases: their last one updates the cluster
    before = changes(state)
    fault(state, 'witness_offline', True)
    try:
        proc = playbook(PLAY, state['inventory'], FAST)[0]
    finally:
        fault(state, 'witness_offline', None)
    assert proc.returncode != 0
    assert said(proc, 'quorum_margin: without HV-N2: 3 of 5 votes, 3 needed, margin 0 (required 1); '
                      'witness File Share Witness is offline'), proc.stdout[-3000:]
    # The lock was taken for the first gate and released again; nothing else was touched.
    assert [e for e in changes(state)[len(before):] if e['kind'] != 'lock.changed'] == []
    assert lab_state(state)['lock'] is None


@pytest.mark.parametrize('extra, message', [
    ({'rolling_update_category_names': ['Security Update']},
     "rolling_update_category_names has names that are no Windows Update classification: 'Security Update'"),
    ({'rolling_update_node_order': ['HV-N2', 'HV-N7']},
     'rolling_update_node_order names hosts that are not nodes of this cluster in the inventory: HV-N7'),
    ({'rolling_update_drain_timeout': 0}, 'rolling_update_drain_timeout must be a number of seconds of at least 1, got 0'),
    ({'rolling_update_accept_list': ['5068791']}, 'rolling_update_accept_list has values that are no KB article id'),
    ({'rolling_update_pre_node_tasks': '/nonexistent/pre.yml'},
     'rolling_update_pre_node_tasks: no such file /nonexistent/pre.yml'),
    ({'rolling_update_post_node_tasks': 'BROKEN'}, 'rolling_update_post_node_tasks: '),
    ({'rolling_update_report_dir': '/nonexistent/reports'},
     'rolling_update_report_dir: the directory /nonexistent/reports does not exist'),
    ({'rolling_update_pre_node_tasks': 'FAILING', 'rolling_update_node_order': ['HV-N2']}, None),
])
def test_bad_options_are_refused_by_name_before_anything_changes(untouched_lab, playbook, tmp_path, extra, message):
    state = untouched_lab
    for name, text in (('BROKEN', '- name: [unclosed\n'), ('FAILING', '- name: Refuse\n  ansible.builtin.fail:\n    msg: no\n')):
        path = tmp_path / (name.lower() + '.yml')
        path.write_text(text)
        extra = dict((k, str(path) if v == name else v) for k, v in extra.items())
    before = changes(state)
    proc = playbook(PLAY, state['inventory'], dict(FAST, **extra))[0]
    assert proc.returncode != 0
    if message:
        assert said(proc, 'Not starting: ' + message), proc.stdout[-3000:]
        assert not any(str(v).endswith('broken.yml') for v in extra.values()) or said(proc, 'is not valid YAML')
        assert changes(state) == before and lab_state(state)['lock'] is None
    else:
        # A pre-node task that fails is a node failure like any other: the lock is marked failed with the
        # node (which was not drained), and the re-run without it finishes the cluster.
        assert said(proc, 'Rolling update stopped at HV-N2'), proc.stdout[-3000:]
        assert events(state, 'node.suspend_requested') == []
        lock = lab_state(state)['lock']
        assert '"status": "failed"' in lock and '"node": "HV-N2"' in lock
        proc = playbook(PLAY, state['inventory'], FAST)[0]
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert_all_updated(state)
        assert_safe(state)


def test_updates_offered_only_after_the_restart_are_installed_in_the_same_node_cycle(start_lab, playbook):
    state = start_lab('twonode')
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_allow_save_state=True))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert_all_updated(state)
    inv = stats(state)  # two nodes: margin 0 while one is out, and saved Low priority VMs were allowed
    assert inv['violations'] == [] and inv['max_nodes_out'] <= 1
    # One drain per node; the second set (KB5068999) came after the first restart and got its own.
    assert collections.Counter(e['node'] for e in events(state, 'node.suspend_requested')) == {'EDGE-N1': 1, 'EDGE-N2': 1}
    assert collections.Counter(e['node'] for e in events(state, 'node.restart')) == {'EDGE-N1': 2, 'EDGE-N2': 2}
    installed = [(e['node'], e['kb']) for e in events(state, 'wu.installed')]
    assert ('EDGE-N1', 'KB5068999') in installed and ('EDGE-N2', 'KB5068999') in installed


def test_a_cau_updating_run_in_progress_stops_the_run_before_anything_changes(start_lab, playbook):
    """A self-updating CAU run started on its schedule holds the cluster: the preflight gate names the run, its
    orchestrator and each node's state, and nothing of ours runs; once CAU finished, a re-run converges."""
    state = start_lab('hyperv4')
    fault(state, 'cau_run', True)
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode != 0
    # Whichever check sees it first (a node CAU has out, or the gate), the reason names the CAU run.
    assert said(proc, 'CAU reports RunInProgress (run cau-'), proc.stdout[-3000:]
    assert re.search(r'orchestrated by HV-N4; HV-N\d \w+, HV-N\d \w+', ' '.join(proc.stdout.split())), proc.stdout[-3000:]
    ours = [e for e in events(state, 'rpc.call') if e['op'] in ('cluster.node.suspend', 'cluster.node.resume', 'node.restart')]
    assert ours == [] and lab_state(state)['lock'] is None      # CAU's own drains are not requests of ours
    deadline = time.monotonic() + 120
    while not events(state, 'cau.run_finished') and time.monotonic() < deadline:
        time.sleep(0.5)
    assert events(state, 'cau.run_finished')[0]['result'] == 'Succeeded'
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert_all_updated(state)
    assert stats(state)['violations'] == []


def test_pre_and_post_node_tasks_run_around_each_node_in_its_cycle(start_lab, playbook, tmp_path):
    """The user's task files: the pre-node tasks after the gate and before the drain, the post-node tasks once the
    node is back in service (they run inside the shared end of the cycle), each once per node, with the node's
    variables."""
    (tmp_path / 'pre.yml').write_text('- name: Before the node\n  ansible.builtin.debug:\n'
                                      '    msg: "PRE-NODE {{ inventory_hostname }} {{ rolling_update_failback }}"\n')
    (tmp_path / 'post.yml').write_text('- name: After the node\n  ansible.builtin.debug:\n'
                                       '    msg: "POST-NODE {{ inventory_hostname }} {{ wsfc_winrm_host }}"\n')
    state = start_lab('hyperv4')
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_pre_node_tasks=str(tmp_path / 'pre.yml'),
                                                   rolling_update_post_node_tasks=str(tmp_path / 'post.yml')))[0]
    assert proc.returncode == 0, proc.stdout[-4000:]
    out = proc.stdout
    for name, node in state['nodes'].items():
        pre, post = out.index('PRE-NODE %s immediate' % name), out.index('POST-NODE %s %s' % (name, node['address']))
        drain = out.index('rolling_update : Drain %s' % name)
        assert pre < drain < post and out.count('PRE-NODE %s ' % name) == 1 and out.count('POST-NODE %s ' % name) == 1
    assert_all_updated(state)


def test_max_failed_nodes_puts_a_failed_node_back_and_goes_on_until_the_budget_is_spent(start_lab, playbook, tmp_path):
    state = start_lab('hyperv4')
    fault(state, 'update_fail', {'HV-N2': ['KB5068791'], 'HV-N3': ['KB5068791']})
    order = ['HV-N2', 'HV-N1', 'HV-N3', 'HV-N4']
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_max_retries=0, rolling_update_max_failed_nodes=1,
                                                   rolling_update_node_order=order, rolling_update_report_dir=str(tmp_path)))[0]
    assert proc.returncode != 0, proc.stdout[-4000:]
    nodes = dict((n['name'], n) for n in lab_state(state)['nodes'])
    # HV-N2 failed within the budget: resumed, back in service, and the run went on with HV-N1 (updated).
    assert said(proc, 'The node was put back into service (resumed with failback) and the run went on with the next node: '
                      'rolling_update_max_failed_nodes allows 1 such node(s) per cluster, this is number 1')
    assert nodes['HV-N2']['state'] == 'Up' and 'KB5068791' in nodes['HV-N2']['pending_updates']
    assert nodes['HV-N1']['pending_updates'] == [] and nodes['HV-N1']['state'] == 'Up'
    # HV-N3 failed with the budget spent: left paused, the cluster stopped there, HV-N4 not started.
    assert said(proc, 'Rolling update stopped at HV-N3') and said(proc, 'Not put back into service: the failure budget is spent')
    assert nodes['HV-N3']['state'] == 'Paused' and 'KB5068791' in nodes['HV-N4']['pending_updates']
    assert 'HV-N4' not in [e['node'] for e in events(state, 'node.suspend_requested')]
    report = json.loads((tmp_path / 'rolling_update_report.json').read_text())
    status = dict((n['node'], n['status']) for n in report['clusters'][0]['nodes'])
    assert status == {'HV-N2': 'failed', 'HV-N1': 'done', 'HV-N3': 'failed', 'HV-N4': 'not started'}, status
    lock = lab_state(state)['lock']
    assert '"status": "failed"' in lock and '"node": "HV-N3"' in lock
    assert_safe(state)


def test_a_failed_node_within_max_failed_nodes_lets_every_other_node_finish(start_lab, playbook):
    state = start_lab('hyperv4')
    fault(state, 'update_fail', {'HV-N2': ['KB5068791']})
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_max_retries=0, rolling_update_max_failed_nodes=1,
                                                   rolling_update_node_order=['HV-N2']))[0]
    assert proc.returncode != 0 and said(proc, 'FAILED and put back into service: HV-N2'), proc.stdout[-4000:]
    nodes = dict((n['name'], n) for n in lab_state(state)['nodes'])
    assert all(n['state'] == 'Up' for n in nodes.values())
    assert all(nodes[n]['pending_updates'] == [] for n in ('HV-N1', 'HV-N3', 'HV-N4'))
    assert lab_state(state)['lock'] is None     # nothing is left out of service: the lock is released
    assert_safe(state)


def test_validation_before_the_first_node_stops_a_failing_cluster_and_after_the_last_reports(start_lab, playbook):
    state = start_lab('hyperv4')
    fault(state, 'validation', {'Network': {'level': 'error', 'message': 'Node HV-N2 cannot reach HV-N3 on the cluster network.'}})
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_validate=['before', 'after']))[0]
    assert proc.returncode != 0 and said(proc, 'Cluster validation: Failed; Network Failed (Node HV-N2 cannot reach HV-N3'), \
        proc.stdout[-3000:]
    assert events(state, 'node.suspend_requested') == [] and lab_state(state)['lock'] is None
    fault(state, 'validation', {'Cluster Configuration': {'level': 'warning', 'message': 'A disk witness is recommended.'}})
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_validate=['before', 'after'],
                                                   rolling_update_validate_categories=['Inventory', 'Cluster Configuration']))[0]
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert_all_updated(state)
    checks = [e for e in events(state, 'cluster.validated') if e['category'] == 'Cluster Configuration']
    assert len(checks) == 3        # the refused run's before, then this run's before and after
    assert said(proc, 'Cluster validation: Warning; Cluster Configuration Warning (A disk witness is recommended.)')
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_validate=['during']))[0]
    assert proc.returncode != 0 and said(proc, "rolling_update_validate must be a list of 'before' and 'after', got ['during']")


def test_a_node_paused_by_an_administrator_is_refused_or_left_as_it_is(start_lab, playbook):
    state = start_lab('hyperv4')
    lab_cli.control(state, '/', {'action': 'admin_pause', 'node': 'HV-N2'})
    proc = playbook(PLAY, state['inventory'], FAST)[0]
    assert proc.returncode != 0 and said(proc, 'nodes not Up: HV-N2'), proc.stdout[-3000:]
    assert [e['node'] for e in events(state, 'node.suspend_requested')] == ['HV-N2']     # the administrator's own
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_allow_paused_nodes=True))[0]
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert said(proc, 'left as they are (paused by an administrator): HV-N2')
    nodes = dict((n['name'], n) for n in lab_state(state)['nodes'])
    assert nodes['HV-N2']['state'] == 'Paused' and nodes['HV-N2']['pending_updates']     # untouched
    assert all(nodes[n]['state'] == 'Up' and nodes[n]['pending_updates'] == [] for n in ('HV-N1', 'HV-N3', 'HV-N4'))
    assert [e['node'] for e in events(state, 'node.restart')] and 'HV-N2' not in [e['node'] for e in events(state, 'node.restart')]
    assert_safe(state)     # the run took one node out at a time besides the administrator's

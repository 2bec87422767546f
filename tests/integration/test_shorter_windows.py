"""The options that shorten the maintenance window, end to end against the lab: what each one saves (judged from the
lab's own record of what happened while each node was out) and each one's guard."""

import collections

import pytest

from integration.labcheck import assert_safe, events, fault, lab_state, said, stats

pytestmark = pytest.mark.integration
PLAY = 'playbooks/rolling_update.yml'
FAST = {'rolling_update_poll_interval': 0.1}


def windows(state):
    """{node: [(out, back)]}: when each node left service (paused or down) and came back Up, in lab seconds."""
    spans, opened = collections.defaultdict(list), {}
    for e in sorted(events(state, 'node.paused') + events(state, 'node.resumed') + events(state, 'node.joined'),
                    key=lambda e: e['t']):
        if e['kind'] == 'node.paused':
            opened.setdefault(e['node'], e['t'])
        elif e['node'] in opened and (e['kind'] == 'node.resumed' or e.get('state') == 'Up'):
            spans[e['node']].append((opened.pop(e['node']), e['t']))
    return spans


def inside(spans, node, t):
    return any(start <= t <= end for start, end in spans.get(node, []))


def assert_all_updated(state):
    for node in lab_state(state)['nodes']:
        assert node['state'] == 'Up' and node['pending_updates'] == [] and not node['reboot_pending'], node


def test_install_while_serving_and_leapfrog_keep_installs_and_second_moves_out_of_the_window(start_lab, playbook):
    """Every node installs while it serves, except the two whose guard refuses it (one with an update Windows marks to
    be installed by itself, one with a restart already pending), which install in their cycle as usual; each drain after
    the first sends every VM to the node updated just before; nothing comes back by failback."""
    state = start_lab('hyperv4')
    fault(state, 'exclusive_update', {'HV-N2': ['KB5068791']})
    fault(state, 'reboot_pending', ['HV-N3'])
    order = ['HV-N1', 'HV-N2', 'HV-N3', 'HV-N4']
    proc = playbook(PLAY, state['inventory'], dict(FAST, rolling_update_install_while_serving=True, rolling_update_leapfrog=True,
                                                   rolling_update_node_order=order))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert_all_updated(state)
    inv = assert_safe(state)
    spans = windows(state)
    installs = events(state, 'wu.installed')
    # The saving: HV-N1 and HV-N4 installed everything before their drain; their window holds only drain and restart.
    for node in ('HV-N1', 'HV-N4'):
        assert [e for e in installs if e['node'] == node] and not [e for e in installs if e['node'] == node and inside(spans, node, e['t'])]
    # The guards: HV-N2 (an update to be installed by itself) and HV-N3 (a restart pending) installed nothing while
    # serving, all in their window, and said why.
    for node in ('HV-N2', 'HV-N3'):
        assert not [e for e in events(state, 'wu.installing_while_serving') if e['node'] == node]
        assert [e for e in installs if e['node'] == node] and all(inside(spans, node, e['t']) for e in installs if e['node'] == node)
    assert said(proc, 'HV-N2: not installed while serving: KB5068791 must be installed by itself')
    assert said(proc, 'HV-N3: not installed while serving: a restart from an earlier installation is pending')
    # Leapfrog: each drain after the first to the node done just before; no failback; fewer moves than two per VM.
    drained = collections.defaultdict(set)
    for e in events(state, 'group.live_migrated'):
        if e['op'] == 'drain':
            drained[e['source']].add(e['target'])
    assert [drained[n] for n in order[1:]] == [{'HV-N1'}, {'HV-N2'}, {'HV-N3'}]
    assert not events(state, 'node.failback_completed')
    moves = inv['vm_migrations']
    assert max(moves.values()) <= 2 and sum(moves.values()) / len(moves) < 1.5, moves


def test_a_node_that_restarts_on_its_own_after_installing_while_serving_stops_the_run(start_lab, playbook):
    state = start_lab('hyperv4')
    fault(state, 'restart_on_its_own', ['HV-N3'])
    extra = dict(FAST, rolling_update_install_while_serving=True, rolling_update_node_order=['HV-N1', 'HV-N3'])
    proc = playbook(PLAY, state['inventory'], extra)[0]
    assert proc.returncode != 0
    assert said(proc, 'HV-N3 restarted on its own after its updates were installed while it served')
    # It stopped before touching HV-N3: never drained, never restarted by the run; HV-N1 was done first.
    assert not [e for e in events(state, 'node.suspend_requested') if e['node'] == 'HV-N3']
    assert [e['node'] for e in events(state, 'node.restart')].count('HV-N3') == 1
    assert [v['rule'] for v in stats(state)['violations']] == []
    # Once looked at, a re-run finishes the others and leaves HV-N3, now compliant, alone.
    fault(state, 'restart_on_its_own', None)
    proc = playbook(PLAY, state['inventory'], extra)[0]
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert_all_updated(state)
    assert [e['node'] for e in events(state, 'node.restart')].count('HV-N3') == 1

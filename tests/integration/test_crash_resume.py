"""The controller dies at a task boundary or in the middle of a long wait; the same command, run again
as the same owner, finishes the interrupted node and the rest, with no node restarted or drained twice
and no invariant broken. The full sweep over every task boundary is tools/crash-sweep."""

import collections
import subprocess

import pytest

from integration import crash
from lab import cli as lab_cli
from integration.labcheck import assert_safe, events, lab_state

pytestmark = pytest.mark.integration
UPDATE = 'playbooks/rolling_update.yml'
FAST = {'rolling_update_poll_interval': 0.1}


def assert_converged_after_crash(state, cmd, env):
    """Re-run as the same owner; returns the re-run's output."""
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]
    for node in lab_state(state)['nodes']:
        assert node['state'] == 'Up' and node['pending_updates'] == [] and not node['reboot_pending'], node
    assert lab_state(state)['lock'] is None
    assert_safe(state)
    restarts = collections.Counter(e['node'] for e in events(state, 'node.restart'))
    drains = collections.Counter(e['node'] for e in events(state, 'node.suspend_requested'))
    assert sorted(restarts.values()) == [1, 1, 1, 1], restarts
    assert sorted(drains.values()) == [1, 1, 1, 1], drains
    return proc.stdout


# (task banner at which the controller dies, seconds after it, lab event after which the delay counts): at the
# boundary, inside the drain, inside the installation, inside the restart that the same task asked for.
KILL_POINTS = [
    ('rolling_update : Drain ', 0.05, 'node.suspend_requested'),
    ('rolling_update : Install the updates on the node', 0.8, None),
    ('rolling_update : Install the updates on the node', 0.3, 'node.restart'),
]


@pytest.mark.parametrize('banner, delay, event', KILL_POINTS,
                         ids=[b.split(':')[1].strip()[:20] + '+%s%s' % (d, '@' + e if e else '') for b, d, e in KILL_POINTS])
def test_controller_killed_mid_node_then_rerun_converges(start_lab, collections_path, tmp_path, banner, delay, event):
    state = start_lab('hyperv4')
    env = crash.environment(collections_path, tmp_path)
    cmd = crash.command(UPDATE, state['inventory'], FAST)
    seen = (lambda: bool(events(state, event))) if event else None
    banners, killed, out = crash.run_and_kill(cmd, env, banner_text=banner, delay=delay, kill_when=seen)
    assert killed, out[-3000:]
    lock = lab_state(state)['lock']
    assert lock and '"status": "running"' in lock  # the dead run could not mark anything
    assert_converged_after_crash(state, cmd, env)


def test_a_live_run_of_the_same_owner_is_not_resumed_and_another_owner_is_told_how_to_get_out(
        start_lab, collections_path, tmp_path):
    state = start_lab('hyperv4', scale=20)  # slow clock: the heartbeat stays fresh (600 s = 30 s real)
    env = crash.environment(collections_path, tmp_path)
    cmd = crash.command(UPDATE, state['inventory'], dict(FAST, rolling_update_owner='alice'))
    crash.run_and_kill(cmd, env, banner_text='rolling_update : Drain ', delay=0.5)
    proc = subprocess.run(crash.command(UPDATE, state['inventory'], dict(FAST, rolling_update_owner='alice')),
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    out = ' '.join(proc.stdout.split())
    assert proc.returncode != 0 and 'of the same owner (alice) still looks alive' in out, out[-3000:]
    proc = subprocess.run(crash.command(UPDATE, state['inventory'], dict(FAST, rolling_update_owner='bob')),
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    out = ' '.join(proc.stdout.split())
    assert proc.returncode != 0 and 'Another rolling run holds the cluster: held by alice' in out, out[-3000:]
    assert 'takeover=true' in out and 'cluster_lock state=absent force=true' in out


def test_a_node_lost_during_another_nodes_cycle_stops_the_run_before_the_restart(start_lab, collections_path, tmp_path):
    """The cluster service of another node stops while the current node installs: the restart is refused
    (the node stays paused), quorum never loses its margin, and once the node is back the re-run finishes."""
    state = start_lab('hyperv4')
    env = crash.environment(collections_path, tmp_path)
    cmd = crash.command(UPDATE, state['inventory'], FAST)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    current, lost, lines = None, None, []
    for line in proc.stdout:
        lines.append(line)
        match = crash.BANNER.match(line)
        if match and 'rolling_update : Drain ' in match.group(1) and current is None:
            current = match.group(1).rsplit(' ', 1)[1]
        if match and 'rolling_update : Install the updates' in match.group(1) and lost is None:
            lost = next(n for n in ('HV-N4', 'HV-N3') if n != current)
            lab_cli.control(state, '/', {'action': 'cluster_service', 'node': lost, 'status': 'Stopped'})
    proc.wait()
    out = ' '.join(''.join(lines).split())
    assert proc.returncode != 0 and current and lost
    assert 'Not restarting %s now: other_nodes_up: not Up: %s (Down)' % (current, lost) in out, out[-3000:]
    assert 'Rolling update stopped at %s' % current in out
    assert [e for e in events(state, 'node.restart') if e['node'] == current] == []
    node = next(n for n in lab_state(state)['nodes'] if n['name'] == current)
    assert node['state'] == 'Paused'
    inv = lab_cli.control(state, '/stats')['invariants']
    assert inv['min_quorum_margin'] >= 1
    # The only violation is the fault itself: the lost node out while the current one is paused.
    assert all(v['rule'] == 'more_than_one_node_out' and lost in v['nodes'] for v in inv['violations'])

    lab_cli.control(state, '/', {'action': 'cluster_service', 'node': lost, 'status': 'Running'})
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    restarts = collections.Counter(e['node'] for e in events(state, 'node.restart'))
    assert sorted(restarts.values()) == [1, 1, 1, 1], restarts
    assert lab_state(state)['lock'] is None


UPGRADE = 'playbooks/rolling_upgrade.yml'
UPGRADE_KILL_POINTS = [
    ('node_reprovision | Wait until the node answers on build', 0.5),
]


@pytest.mark.parametrize('banner, delay', UPGRADE_KILL_POINTS, ids=['mid-reinstall'])
def test_controller_killed_mid_upgrade_then_rerun_converges(start_lab, collections_path, tmp_path, banner, delay):
    state = start_lab('hyperv4')
    env = crash.environment(collections_path, tmp_path)
    cmd = crash.command(UPGRADE, state['inventory'], {'rolling_upgrade_poll_interval': 0.1, 'rolling_upgrade_target_build': 20348,
                                                      'rolling_upgrade_capture_dir': str(tmp_path / 'captures')})
    _banners, killed, out = crash.run_and_kill(cmd, env, banner_text=banner, delay=delay)
    assert killed, out[-3000:]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]
    snap = lab_state(state)
    assert all(n['member'] and n['state'] == 'Up' and n['build'] == 20348 for n in snap['nodes']), snap['nodes']
    assert snap['lock'] is None
    assert_safe(state)
    for kind in ('node.suspend_requested', 'node.evicted', 'node.reprovisioned', 'node.added'):
        per_node = collections.Counter(e['node'] for e in events(state, kind))
        assert sorted(per_node.values()) == [1, 1, 1, 1], (kind, per_node)

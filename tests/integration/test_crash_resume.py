"""The controller dies at a task boundary or in the middle of a long wait; the same command, run again
as the same owner, finishes the interrupted node and the rest, with no node restarted or drained twice
and no invariant broken. The full sweep over every task boundary is tools/crash-sweep."""

import collections
import subprocess

import pytest

from integration import crash
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


# (task banner at which the controller dies, seconds after it): at the boundary, or inside the wait.
KILL_POINTS = [
    ('node_drain | Drain', 0.6),
    ('node_update | Install the updates on the node', 0.8),
    ('node_update | Restart the node if the updates need it', 0.9),
    ('node_resume | Resume the node', 0.0),
]


@pytest.mark.parametrize('banner, delay', KILL_POINTS, ids=[b.split('|')[1].strip()[:20] + '+%s' % d for b, d in KILL_POINTS])
def test_controller_killed_mid_node_then_rerun_converges(start_lab, collections_path, tmp_path, banner, delay):
    state = start_lab('hyperv4')
    env = crash.environment(collections_path, tmp_path)
    cmd = crash.command(UPDATE, state['inventory'], FAST)
    banners, killed, out = crash.run_and_kill(cmd, env, banner_text=banner, delay=delay)
    assert killed, out[-3000:]
    lock = lab_state(state)['lock']
    assert lock and '"status": "running"' in lock  # the dead run could not mark anything
    assert_converged_after_crash(state, cmd, env)


def test_a_live_run_of_the_same_owner_is_not_resumed_and_another_owner_is_told_how_to_get_out(
        start_lab, collections_path, tmp_path):
    state = start_lab('hyperv4', scale=20)  # slow clock: the heartbeat stays fresh (600 s = 30 s real)
    env = crash.environment(collections_path, tmp_path)
    cmd = crash.command(UPDATE, state['inventory'], dict(FAST, rolling_update_owner='alice'))
    crash.run_and_kill(cmd, env, banner_text='node_drain | Drain', delay=0.5)
    proc = subprocess.run(crash.command(UPDATE, state['inventory'], dict(FAST, rolling_update_owner='alice')),
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    out = ' '.join(proc.stdout.split())
    assert proc.returncode != 0 and 'of the same owner (alice) still looks alive' in out, out[-3000:]
    proc = subprocess.run(crash.command(UPDATE, state['inventory'], dict(FAST, rolling_update_owner='bob')),
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    out = ' '.join(proc.stdout.split())
    assert proc.returncode != 0 and 'Another rolling run holds the cluster: held by alice' in out, out[-3000:]
    assert 'takeover=true' in out and 'cluster_lock state=absent force=true' in out

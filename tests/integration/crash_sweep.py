"""Kill the controller at every task boundary of a run (and in the middle of each long wait), re-run,
and check that every run converges safely. Prints one line per kill point and a summary.

    .venv/bin/python tests/integration/crash_sweep.py --playbook update
    .venv/bin/python tests/integration/crash_sweep.py --playbook upgrade --ranges 0-40 --list
    .venv/bin/python tests/integration/crash_sweep.py --scenario hyperv16 --max-nodes-out 4 --every 4

Each kill point gets a fresh lab. Not part of the test command (it takes tens of minutes); the test
command runs a sample of these points (tests/integration/test_crash_resume.py).
"""

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), os.path.dirname(os.path.dirname(HERE))]

from integration import crash  # noqa: E402
from lab import cli as lab_cli  # noqa: E402

PLAYBOOKS = {
    'update': ('playbooks/rolling_update.yml', {'rolling_update_poll_interval': 0.1}),
    'upgrade': ('playbooks/rolling_upgrade.yml', {'rolling_upgrade_poll_interval': 0.1, 'rolling_upgrade_target_build': 20348}),
}
# Long waits: a kill this long after their banner lands inside the wait.
WAITS = ('Drain ', 'node_drain | Drain', 'Install the updates', 'Restart the node', 'Resume the node', 'Wait until storage',
         'Wait until the node answers', 'Restart the node through its BMC', 'Add the node back', 'Upgrade the node in place')


def verdict(state, expect_build=None, nodes_out=1):
    """Problems after the re-run: empty when the cluster converged safely."""
    problems = []
    snap = lab_cli.control(state, '/state')
    for node in snap['nodes']:
        if node['state'] != 'Up':
            problems.append('%s is %s' % (node['name'], node['state']))
        if expect_build is None and (node['pending_updates'] or node['reboot_pending']):
            problems.append('%s not updated' % node['name'])
        if expect_build is not None and (node['build'] != expect_build or not node['member']):
            problems.append('%s on build %s, member %s' % (node['name'], node['build'], node['member']))
    if snap['lock'] is not None:
        problems.append('lock left: %s' % snap['lock'])
    inv = lab_cli.control(state, '/stats')['invariants']
    if inv['violations']:
        problems.append('violations: %s' % [v['rule'] for v in inv['violations']])
    if inv['min_quorum_margin'] < 1 or inv['max_nodes_out'] > nodes_out or inv['vm_downtime']:
        problems.append('margin %s, nodes out %s, downtime %s' % (inv['min_quorum_margin'], inv['max_nodes_out'], inv['vm_downtime']))
    events = lab_cli.control(state, '/events')
    kind = 'node.restart' if expect_build is None else ('node.reprovisioned', 'node.upgraded')
    per_node = collections.Counter(e['node'] for e in events if e['kind'] in ((kind,) if isinstance(kind, str) else kind))
    drains = collections.Counter(e['node'] for e in events if e['kind'] == 'node.suspend_requested')
    if sorted(per_node.values()) != [1] * len(snap['nodes']):
        problems.append('restarts/reinstalls per node %s' % dict(per_node))
    if sorted(drains.values()) != [1] * len(snap['nodes']):
        problems.append('drains per node %s' % dict(drains))
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--playbook', choices=sorted(PLAYBOOKS), default='update')
    parser.add_argument('--scenario', default='hyperv4')
    parser.add_argument('--ranges', default='0-1000000',
                        help='banner indexes to kill at, like 0-39,96-111 (see --list)')
    parser.add_argument('--net', type=int, default=150)
    parser.add_argument('--list', action='store_true', help='only list the task banners with their index')
    parser.add_argument('--max-nodes-out', type=int, default=1, help='rolling_update_max_nodes_out of the update (the lab allows as many)')
    parser.add_argument('--every', type=int, default=1, help='only every N-th task banner of the ranges')
    args = parser.parse_args(argv)
    path, extra = PLAYBOOKS[args.playbook]
    if args.max_nodes_out > 1:
        extra = dict(extra, rolling_update_max_nodes_out=args.max_nodes_out)
    collections_path = os.path.join(os.path.dirname(os.path.dirname(HERE)), '.venv', 'collections')
    tmp = tempfile.mkdtemp(prefix='crash-sweep-')
    env = crash.environment(collections_path, __import__('pathlib').Path(tmp))
    nets = iter(range(args.net, 250))
    expect_build = extra.get('rolling_upgrade_target_build')

    def fresh_lab():
        run_dir = tempfile.mkdtemp(dir=tmp)
        state = lab_cli.start(args.scenario, run_dir, net='127.0.%d' % next(nets))
        state['run_dir'], state['inventory'] = run_dir, os.path.join(run_dir, 'inventory.yml')
        if args.max_nodes_out > 1:
            lab_cli.control(state, '/', {'action': 'allow_nodes_out', 'count': args.max_nodes_out})
        return state

    state = fresh_lab()
    try:
        banners, _out = crash.task_banners(crash.command(path, state['inventory'], extra), env)
    finally:
        lab_cli.stop(state['run_dir'])
    if args.list:
        for index, banner in enumerate(banners):
            print('%3d %s' % (index, banner))
        return 0
    wanted = set()
    for part in args.ranges.split(','):
        first, _dash, last = part.partition('-')
        wanted.update(range(int(first), int(last or first) + 1, args.every))
    points = [(i, 0.0) for i in range(len(banners)) if i in wanted]
    points += [(i, 0.5) for i, b in enumerate(banners) if i in wanted and any(w in b for w in WAITS)]
    print('%s on %s: %d task banners, %d kill points' % (args.playbook, args.scenario, len(banners), len(points)), flush=True)
    failed, started = 0, time.time()
    for index, delay in sorted(points):
        state = fresh_lab()
        try:
            cmd = crash.command(path, state['inventory'], extra)
            _seen, killed, _out = crash.run_and_kill(cmd, env, banner_index=index, delay=delay)
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
            problems = verdict(state, expect_build, args.max_nodes_out)
            if proc.returncode != 0:
                fatal = [line for line in proc.stdout.splitlines() if 'msg' in line or 'fatal' in line or 'ERROR' in line]
                problems.insert(0, 're-run failed: %s' % ' | '.join(fatal)[-1500:])
        finally:
            lab_cli.stop(state['run_dir'])
        failed += bool(problems)
        outcome = '; '.join(problems) if problems else ('killed' if killed else 'ended first')
        print('%-4s %3d +%.1fs %-70s %s' % ('FAIL' if problems else 'ok', index, delay, banners[index][:70], outcome),
              flush=True)
    print('%d of %d kill points converged safely (%d failed) in %.0f s'
          % (len(points) - failed, len(points), failed, time.time() - started))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())

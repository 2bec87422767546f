"""Benchmark the rolling update or upgrade against the lab and print the figures the project is held to.

    .venv/bin/python tests/perf/bench_rolling_update.py --scenario hyperv4 s2d16 --scale 60
    .venv/bin/python tests/perf/bench_rolling_update.py --playbook upgrade --scenario hyperv4 s2d16 --scale 60

For each scenario: start the lab, run playbooks/rolling_update.yml (every node needs updates) or
playbooks/rolling_upgrade.yml (every node goes to the next Windows Server release through its BMC),
then run it again on the now compliant cluster (the no-op re-run), and print:

- wall time of the run, and the lab's physical lower bound for the same work: per node, the union
  of the time spent draining, installing (updates, or the OS image), shutting down, restarting,
  resyncing and failing back, summed (lab
  seconds, shown also in real seconds at the run's clock scale);
- their ratio at this clock scale, the orchestration overhead per node in real seconds (wall time
  minus the physical bound, divided by the nodes), and the ratio that overhead gives on a real
  cluster, where the physical work takes the lab's (Windows-time) durations;
- WinRM round trips per node cycle with status polls excluded (from the modules' own counts);
- the PowerShell processes the nodes started against the requests they answered (warm processes), and the
  Windows time of PowerShell start-up that one process per request would have cost;
- the invariants of the lab's recorder; the no-op re-run's wall time and its drains.

A benchmark, not a test: it prints figures and asserts nothing.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests'))

from lab import cli as lab_cli  # noqa: E402
from lab.model import DEFAULT_TIMINGS  # noqa: E402

NODE_PLAY_ACTIONS = ('cluster_gate', 'cluster_lock', 'cluster_node', 'node_updates', 'node_reboot', 'storage_health')


PLAYBOOKS = {
    'update': ('rolling_update.yml', lambda poll, run_dir, build: {'rolling_update_poll_interval': poll}),
    'upgrade': ('rolling_upgrade.yml', lambda poll, run_dir, build: {
        'rolling_upgrade_poll_interval': poll, 'rolling_upgrade_target_build': NEXT_BUILD[build],
        'rolling_upgrade_capture_dir': os.path.join(run_dir, 'captures')}),
}
NEXT_BUILD = {14393: 17763, 17763: 20348, 20348: 26100}


def run_playbook(inventory, out, extra, playbook='rolling_update.yml'):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.venv', 'collections'),
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, 'callbacks'), ANSIBLE_CALLBACKS_ENABLED='wsfc_bench',
               WSFC_BENCH_OUT=out, ANSIBLE_STDOUT_CALLBACK='ansible.builtin.minimal',
               ANSIBLE_CONFIG=os.environ.get('WSFC_BENCH_ANSIBLE_CONFIG', os.path.join(ROOT, 'ansible.cfg')))
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', inventory,
           os.path.join(ROOT, 'playbooks', playbook), '-e', json.dumps(extra)]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit('%s failed:\n' % playbook + proc.stdout[-4000:] + proc.stderr[-2000:])
    with open(out) as handle:
        return wall, [json.loads(line) for line in handle]


def in_node_play(task):
    """Whether a recorded task result is of the node play (the one that works on one node at a time)."""
    return 'at a time' in (task.get('play') or '')


def bench(scenario, scale, poll, net, kind='update', weather=None):
    playbook, make_extra = PLAYBOOKS[kind]
    with tempfile.TemporaryDirectory() as run_dir:
        state = lab_cli.start(scenario, run_dir, net=net, scale=scale, weather=weather)
        try:
            extra = make_extra(poll, run_dir, lab_cli.control(state, '/state')['nodes'][0]['build'])
            if scenario == 'twonode':
                extra['rolling_update_allow_save_state'] = True   # its Low VMs quick-migrate at the default threshold
            wall, tasks = run_playbook(os.path.join(run_dir, 'inventory.yml'), os.path.join(run_dir, 'run1.jsonl'), extra,
                                       playbook)
            stats = lab_cli.control(state, '/stats')
            started = sum(v for k, v in stats['counters'].items() if k.startswith('winrm.commands:'))
            requests = sum(v for k, v in stats['counters'].items() if k.startswith('winrm.requests:'))
            ps_start = DEFAULT_TIMINGS['powershell_start_seconds']    # no scenario of the benchmark changes it
            weather_seen = dict((k[8:], v) for k, v in stats['counters'].items() if k.startswith('weather.'))
            inv = stats['invariants']
            drains = len([e for e in lab_cli.control(state, '/events') if e['kind'] == 'node.suspend_requested'])
            rewall, retasks = run_playbook(os.path.join(run_dir, 'inventory.yml'), os.path.join(run_dir, 'run2.jsonl'), extra,
                                           playbook)
            redrains = len([e for e in lab_cli.control(state, '/events') if e['kind'] == 'node.suspend_requested']) - drains
        finally:
            lab_cli.stop(run_dir)
    nodes = sorted(set(a[0] for a in inv['activities']))
    per_node = collections.defaultdict(int)
    for t in tasks:
        if in_node_play(t) and t['round_trips'] is not None and t['host'] in nodes:
            per_node[t['host']] += t['round_trips'] - (t['polls'] or 0)
    physical_lab = inv['physical_seconds']
    physical_real = physical_lab / scale
    overhead = (wall - physical_real) / len(nodes)
    # The node play alone: its tasks' time per node against that node's physical work.
    node_seconds = collections.defaultdict(float)
    for t in tasks:
        if in_node_play(t) and t['host'] in nodes:
            node_seconds[t['host']] += t['seconds']
    per_node_physical = physical_lab / len(nodes) / scale
    cycle_overhead = sum(node_seconds.values()) / len(nodes) - per_node_physical
    print('%s, %s (%d nodes, clock x%g, poll %.2f s, weather %s):' % (
        playbook, scenario, len(nodes), scale, poll,
        'off' if weather is None else 'seed %d: %s' % (weather, ', '.join('%s %d' % kv for kv in sorted(weather_seen.items())))))
    print('  wall time %.1f s; physical lower bound %.0f lab s = %.1f s real; ratio %.3f at this scale'
          % (wall, physical_lab, physical_real, wall / physical_real))
    print('  orchestration overhead %.2f s per node (whole run / nodes), %.2f s per node cycle (node play only);'
          ' on a real cluster (same physical durations) ratio %.4f'
          % (overhead, cycle_overhead, (physical_lab + overhead * len(nodes)) / physical_lab))
    trips = sorted(per_node.values())
    print('  WinRM round trips per node cycle, polls excluded: min %d, max %d, mean %.1f'
          % (trips[0], trips[-1], sum(trips) / len(trips)))
    print('  PowerShell on the nodes: %d processes started for %d requests (warm processes); one per request would have '
          'started %d more, %.0f s of Windows time at %.1f s each (%.1f s per node)'
          % (started, requests, requests - started, (requests - started) * ps_start, ps_start,
             (requests - started) * ps_start / len(nodes)))
    print('  invariants: violations %d, max nodes out %d, min quorum margin %d, VM downtime %s, live migrations %d'
          % (len(inv['violations']), inv['max_nodes_out'], inv['min_quorum_margin'], inv['vm_downtime'] or '0 s',
             inv['live_migrated_vms']))
    if os.environ.get('WSFC_BENCH_DETAIL'):
        for t in tasks:
            if t['host'] == nodes[0] or t['host'] == nodes[-1]:
                print('    %-8s %-70s %6.2f s rt=%s polls=%s' % (t['host'], t['task'][:70], t['seconds'], t['round_trips'], t['polls']))
    print('  no-op re-run on the compliant cluster: %.1f s, %d drains, %d changed tasks'
          % (rewall, redrains, sum(1 for t in retasks if t['changed'])))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--playbook', choices=sorted(PLAYBOOKS), default='update')
    parser.add_argument('--scenario', nargs='+', default=['hyperv4', 's2d16'])
    parser.add_argument('--scale', type=float, default=60.0, help='lab seconds per real second')
    parser.add_argument('--poll', type=float, default=0.1,
                        help='rolling_update_poll_interval in real seconds (0.1 at x60 = a 6 s poll on a real cluster)')
    parser.add_argument('--weather', nargs='*', default=['off'],
                        help='run each scenario with each of these: off, or a weather seed (faults nobody asked for)')
    args = parser.parse_args()
    args.weather = [None if w == 'off' else int(w) for w in args.weather]
    i = 0
    for scenario in args.scenario:
        for weather in args.weather:
            bench(scenario, args.scale, args.poll, '127.0.%d' % (230 + i), args.playbook, weather)
            i += 1


if __name__ == '__main__':
    main()

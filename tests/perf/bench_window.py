"""The maintenance window: Cluster-Aware Updating's sequence against this collection's plans, on the same scenario.

    .venv/bin/python tests/perf/bench_window.py --scenario hyperv4 s2d16 hyperv16 --scale 60

For each scenario, three labs built alike (same scenario, same seed, the realistic timing profile of
tests/lab/model.py DEFAULT_TIMINGS and the scenario's update sizes and install times):

- CAU: an Updating Run (Invoke-CauRun through playbooks/cau_run.yml, FailbackMode Immediate, CAU's defaults): per node
  drain, search, download and install while the node is empty, restart with firmware POST, resume with failback, and on
  Storage Spaces Direct the wait for the repair. The lab runs CAU's sequence itself: no controller overhead at all;
- defaults: playbooks/rolling_update.yml with its defaults (pre-staging on);
- best: playbooks/rolling_update.yml with every option the scenario allows safely (pre-staging, install while serving,
  leapfrog; on a cluster without Storage Spaces Direct listed in WIDE, max_nodes_out too: hyperv16 takes 4 nodes at once,
  its racks of 8 being its fault domains). The lab's bound on nodes out follows that number.

The window of each is the lab time from the playbook's start to its end, so it includes all of this collection's
orchestration overhead multiplied by the clock scale (a penalty CAU's in-lab sequence does not pay: at x60 a second of
controller time is a minute of window). Printed per plan: the window (lab seconds and hours), its ratio to CAU's, the
planned VM migrations per VM (mean, max), nodes out at once, VM downtime and invariant violations.

A benchmark, not a test: it prints figures and asserts nothing.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests'))

from lab import cli as lab_cli  # noqa: E402

PLANS = [
    ('CAU', 'cau_run.yml', {'cau_run_poll_interval': 0.5}),
    ('defaults', 'rolling_update.yml', {}),
    ('best', 'rolling_update.yml', {'rolling_update_install_while_serving': True, 'rolling_update_leapfrog': True}),
]
# Nodes out at once in the best plan, where the scenario allows more than one (--max-nodes-out overrides).
WIDE = {'hyperv16': 4}
WHAT = {
    'CAU': 'Invoke-CauRun, CAU defaults (FailbackMode Immediate)',
    'defaults': 'rolling_update defaults (pre-staging)',
    'best': 'pre-staging, install while serving, leapfrog',
}


def run(inventory, playbook, extra, poll):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.venv', 'collections'),
               ANSIBLE_STDOUT_CALLBACK='ansible.builtin.minimal',
               ANSIBLE_CONFIG=os.environ.get('WSFC_BENCH_ANSIBLE_CONFIG', os.path.join(ROOT, 'ansible.cfg')))
    extra = dict(extra)
    if playbook == 'rolling_update.yml':
        extra['rolling_update_poll_interval'] = poll
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', inventory,
           os.path.join(ROOT, 'playbooks', playbook), '-e', json.dumps(extra)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)


def one(scenario, scale, poll, net, label, playbook, extra, results):
    with tempfile.TemporaryDirectory() as run_dir:
        state = lab_cli.start(scenario, run_dir, net=net, scale=scale)
        try:
            if extra.get('rolling_update_max_nodes_out', 1) > 1:
                lab_cli.control(state, '/', {'action': 'allow_nodes_out', 'count': extra['rolling_update_max_nodes_out']})
            start = lab_cli.control(state, '/stats')['time']
            wall = time.monotonic()
            proc = run(os.path.join(run_dir, 'inventory.yml'), playbook, extra, poll)
            wall = time.monotonic() - wall
            stats = lab_cli.control(state, '/stats')
            pending = sum(len(n['pending_updates']) + int(n['reboot_pending']) for n in lab_cli.control(state, '/state')['nodes'])
        finally:
            lab_cli.stop(run_dir)
    inv = stats['invariants']
    results[label] = {'window': stats['time'] - start, 'wall': wall, 'rc': proc.returncode, 'inv': inv, 'pending': pending,
                      'tail': proc.stdout[-3000:] + proc.stderr[-1000:]}


def hours(seconds):
    return '%d h %02d min' % (seconds // 3600, round(seconds % 3600 / 60))


def bench(scenario, scale, poll, nets, parallel=False, wide=None):
    results = {}
    width = WIDE.get(scenario, 1) if wide is None else wide
    plans = [(label, playbook, extra) if label != 'best' or width <= 1 else (label, playbook, dict(extra, rolling_update_max_nodes_out=width))
             for label, playbook, extra in PLANS]
    # CAU's run and a plan of ours side by side (CAU's costs the controller nearly nothing); our plans one after the
    # other, so that they do not slow each other's controller, unless ``parallel`` (quicker; our windows then carry
    # the controller time of two runs sharing the machine).
    threads = [threading.Thread(target=one, args=(scenario, scale, poll, nets[i]) + plan + (results,))
               for i, plan in enumerate(plans)]
    threads[0].start()
    for thread in threads[1:]:
        thread.start()
        if not parallel:
            thread.join()
    for thread in threads:
        thread.join()
    base = results['CAU']['window']
    print('%s (clock x%g, poll %.2f s%s):' % (scenario, scale, poll, ', our plans side by side' if parallel else ''))
    for label, _playbook, extra in plans:
        r = results[label]
        inv = r['inv']
        moves = list(inv['vm_migrations'].values())
        print('  %-8s %-52s window %6.0f lab s (%s), ratio %.2f; wall %.0f s; VM migrations per VM mean %.2f max %d; '
              'max nodes out %d; VM downtime %s; violations %d%s'
              % (label, WHAT[label] + (', max_nodes_out %d' % extra['rolling_update_max_nodes_out']
                                       if extra.get('rolling_update_max_nodes_out') else ''), r['window'], hours(r['window']), r['window'] / base, r['wall'],
                 sum(moves) / len(moves), max(moves), inv['max_nodes_out'], inv['vm_downtime'] or '0 s', len(inv['violations']),
                 '' if r['rc'] == 0 and not r['pending'] else '; FAILED (rc %d, %d updates or restarts left)' % (r['rc'], r['pending'])))
        if r['rc'] != 0 and os.environ.get('WSFC_BENCH_DETAIL'):
            print(r['tail'])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--scenario', nargs='+', default=['hyperv4', 's2d16', 'hyperv16'])
    parser.add_argument('--scale', type=float, default=60.0, help='lab seconds per real second')
    parser.add_argument('--poll', type=float, default=0.1,
                        help='rolling_update_poll_interval in real seconds (0.1 at x60 = a 6 s poll on a real cluster)')
    parser.add_argument('--parallel', action='store_true', help='run our two plans at the same time (quicker, harsher on them)')
    parser.add_argument('--max-nodes-out', type=int, help='nodes out at once in the best plan (default: WIDE, else 1)')
    args = parser.parse_args()
    for i, scenario in enumerate(args.scenario):
        bench(scenario, args.scale, args.poll, ['127.0.%d' % (240 + 3 * i + j) for j in range(3)], args.parallel,
              args.max_nodes_out)


if __name__ == '__main__':
    main()

"""Benchmark a fleet run against one cluster's run, and print the figures issue 11 holds the project to.

    .venv/bin/python tests/perf/bench_fleet.py --scenario hyperv4 --clusters 20 --scale 30

Starts one lab of the scenario and runs playbooks/rolling_update.yml on it alone; then starts a fleet of
``--clusters`` labs of the same scenario (each on its own addresses, one inventory with a group per cluster)
and runs the same playbook on all of them at once. Prints, for both: wall time, controller CPU seconds (the
ansible-playbook process tree: its forks and every module process, from the kernel's accounting of waited-for
children), CPU seconds per node cycle, the labs' own CPU seconds (they share the machine with the controller),
and the lab recorders' invariants; then the fleet's wall time over the
lone cluster's. The clock scale should make a node cycle last at least a minute of real time (hyperv4 at 30:
about a minute), so that the clusters' physical work, not the controller, sets the pace.

A benchmark, not a test: it prints figures and asserts nothing.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests'))

from lab import fleet as fleet_mod  # noqa: E402


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(inventory, forks, extra):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.venv', 'collections'),
               ANSIBLE_STDOUT_CALLBACK='ansible.builtin.minimal', ANSIBLE_HOST_KEY_CHECKING='false',
               ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', inventory, '-f', str(forks),
           os.path.join(ROOT, 'playbooks', 'rolling_update.yml'), '-e', json.dumps(extra)]
    cpu, started = children_cpu(), time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.monotonic() - started, children_cpu() - cpu
    if proc.returncode != 0:
        raise SystemExit('rolling_update.yml failed:\n' + proc.stdout[-4000:] + proc.stderr[-2000:])
    return wall, cpu


def _process_cpu(pids):
    """CPU seconds (user + system) used so far by ``pids`` and every process below them (read from /proc)."""
    tick = os.sysconf('SC_CLK_TCK')
    parents, times = {}, {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry) as handle:
                    fields = handle.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(entry))
            times[int(entry)] = (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick
    total, todo = 0.0, list(pids)
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo.extend(parents.get(pid, []))
    return total


def measure(spec, run_dir, net_base, scale, forks, extra):
    state = fleet_mod.start(spec, run_dir, net_base=net_base, scale=scale)
    try:
        nodes = sum(len(member['nodes']) for member in state['clusters'])
        labs = [member['pid'] for member in state['clusters']]
        lab_cpu = _process_cpu(labs)
        wall, cpu = run(os.path.join(run_dir, 'inventory.yml'), forks, extra)
        lab_cpu = _process_cpu(labs) - lab_cpu
        summary = fleet_mod.summary(state)
    finally:
        fleet_mod.stop(run_dir)
    return {'clusters': len(state['clusters']), 'nodes': nodes, 'wall': wall, 'cpu': cpu, 'lab_cpu': lab_cpu,
            'summary': summary}


def show(label, result):
    totals = result['summary']['totals']
    print('%-8s %2d cluster(s), %3d node cycles: wall %6.1f s; controller CPU %7.1f s = %.2f s per node cycle; the labs\' '
          'CPU %7.1f s (%.0f%% of the machine\'s %d cores over the run); invariant violations %d; clusters with updates '
          'pending %d; max nodes out in a cluster %d' % (
              label, result['clusters'], result['nodes'], result['wall'], result['cpu'], result['cpu'] / result['nodes'],
              result['lab_cpu'], 100.0 * result['lab_cpu'] / (result['wall'] * os.cpu_count()), os.cpu_count(),
              totals['violations'], totals['clusters_with_pending_updates'],
              max(r['max_nodes_out'] for r in result['summary']['clusters'])))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--scenario', default='hyperv4')
    parser.add_argument('--clusters', type=int, default=20)
    parser.add_argument('--scale', type=float, default=30.0)
    parser.add_argument('--forks', type=int, default=0, help='Ansible forks (default: the number of nodes)')
    parser.add_argument('--net-base', type=int, default=150)
    args = parser.parse_args()
    extra = {'rolling_update_poll_interval': 1.0, 'rolling_update_allow_save_state': True}
    work = tempfile.mkdtemp(prefix='wsfc-bench-fleet-')
    one = measure(args.scenario, os.path.join(work, 'one'), args.net_base, args.scale, args.forks or 8, extra)
    show('alone', one)
    spec = ','.join([args.scenario] * args.clusters)
    many = measure(spec, os.path.join(work, 'fleet'), args.net_base, args.scale,
                   args.forks or one['nodes'] * args.clusters, extra)
    show('fleet', many)
    print('fleet wall time / one cluster alone: %.2f (scale %g, %s)' % (many['wall'] / one['wall'], args.scale, args.scenario))


if __name__ == '__main__':
    main()

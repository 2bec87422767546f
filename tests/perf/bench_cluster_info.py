"""Print the cost of reading a lab cluster: round trips, WS-Man requests and wall time.

    .venv/bin/python tests/perf/bench_cluster_info.py [--scenario hyperv4 s2d16] [--repeat 20]

Measures the runner in-process (the module's own work, without Ansible's start-up) and one full
ansible-playbook run of cluster_info. A benchmark, not a test: it prints figures and asserts nothing.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
sys.path.insert(0, os.path.join(ROOT, '.venv', 'collections'))

from lab import cli as lab_cli  # noqa: E402

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.queries import read_cluster_state  # noqa: E402
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import PowerShellRunner, WinRMOptions  # noqa: E402


def bench(scenario, repeat, net):
    with tempfile.TemporaryDirectory() as run_dir:
        state = lab_cli.start(scenario, run_dir, net=net)
        try:
            opts = WinRMOptions(state['cluster_address'], user=state['user'], password=state['password'],
                                ca_path=state['ca_path'])
            times, trips, http = [], [], []
            for dummy in range(repeat):
                started = time.perf_counter()
                with PowerShellRunner(opts) as runner:
                    read_cluster_state(runner)
                times.append(time.perf_counter() - started)
                trips.append(runner.round_trips)
                http.append(runner.http_requests)  # close() counted the shell delete
            env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.venv', 'collections'))
            play = os.path.join(ROOT, 'tests', 'integration', 'playbooks', 'cluster_info.yml')
            started = time.perf_counter()
            subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i',
                            os.path.join(run_dir, 'inventory.yml'), play, '-e',
                            json.dumps({'result_file': os.path.join(run_dir, 'r.json')})],
                           env=env, check=True, capture_output=True)
            playbook = time.perf_counter() - started
        finally:
            lab_cli.stop(run_dir)
    print('%-8s cluster_info: %d round trip(s), %d WS-Man requests, median %.1f ms (min %.1f, max %.1f) over %d; '
          'ansible-playbook run %.2f s' % (scenario, statistics.median(trips), statistics.median(http),
                                           1000 * statistics.median(times), 1000 * min(times), 1000 * max(times),
                                           repeat, playbook))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--scenario', nargs='+', default=['hyperv4', 's2d16'])
    parser.add_argument('--repeat', type=int, default=20)
    args = parser.parse_args()
    for i, scenario in enumerate(args.scenario):
        bench(scenario, args.repeat, '127.0.%d' % (200 + i))


if __name__ == '__main__':
    main()

"""Run the rolling update under the lab's weather on every scenario, for several seeds, and check each run:
every node compliant, no invariant violated. A run that weather stopped safely is continued by running the
same command again (at most three runs), as an operator would. Prints one line per scenario and seed.

    .venv/bin/python tests/integration/weather_sweep.py                       # every scenario, seeds 1-3
    .venv/bin/python tests/integration/weather_sweep.py --scenario s2d16 --seeds 7

Not part of the test command (s2d16 alone takes minutes); the test command runs the four small scenarios with
one seed (tests/integration/test_weather.py).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [os.path.dirname(HERE), ROOT]

from lab import cli as lab_cli  # noqa: E402
from lab import scenario as scenarios  # noqa: E402

# Scenarios whose low-priority VMs a drain quick-migrates at the default MoveTypeThreshold: allowed here.
EXTRA = {'twonode': {'rolling_update_allow_save_state': True}}


def run(scenario, seed, net, workdir):
    run_dir = os.path.join(workdir, '%s-%d' % (scenario, seed))
    state = lab_cli.start(scenario, run_dir, net='127.0.%d' % net, weather=seed)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.venv', 'collections'), ANSIBLE_NOCOLOR='1')
    extra = dict({'rolling_update_poll_interval': 0.1}, **EXTRA.get(scenario, {}))
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', os.path.join(run_dir, 'inventory.yml'),
           os.path.join(ROOT, 'playbooks', 'rolling_update.yml'), '-e', json.dumps(extra)]
    started = time.monotonic()
    try:
        codes = []
        for attempt in range(3):
            with open(os.path.join(run_dir, 'run%d.log' % (attempt + 1)), 'w') as log:
                codes.append(subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False).returncode)
            if codes[-1] == 0:
                break
        snap = lab_cli.control(state, '/state')
        stats = lab_cli.control(state, '/stats')
        inv = stats['invariants']
        weather = dict((k[8:], v) for k, v in stats['counters'].items() if k.startswith('weather.'))
        problems = ['%s %s' % (n['name'], n['state']) for n in snap['nodes'] if n['state'] != 'Up']
        problems += ['%s has %s' % (n['name'], ', '.join(n['pending_updates'])) for n in snap['nodes'] if n['pending_updates']]
        problems += [v['rule'] for v in inv['violations']]
        if inv['live_migrated_downtime']:
            problems.append('live-migrated VMs down %s s' % inv['live_migrated_downtime'])
        return codes, problems, weather, time.monotonic() - started
    finally:
        lab_cli.stop(run_dir)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--scenario', nargs='*', default=sorted(f[:-4] for f in os.listdir(scenarios.SCENARIO_DIR)
                                                                if f.endswith('.yml')))
    parser.add_argument('--seeds', default='1-3', help='seeds, as a range (1-3) or a list (1,5,9)')
    parser.add_argument('--net', type=int, default=150, help='first 127.0.N.0/24 network to use')
    args = parser.parse_args(argv)
    if '-' in args.seeds:
        first, last = (int(x) for x in args.seeds.split('-'))
        seeds = list(range(first, last + 1))
    else:
        seeds = [int(x) for x in args.seeds.split(',')]
    failed = 0
    net = args.net
    with tempfile.TemporaryDirectory(prefix='wsfc-weather-') as workdir:
        for scenario in args.scenario:
            for seed in seeds:
                codes, problems, weather, seconds = run(scenario, seed, net, workdir)
                net += 1
                ok = codes[-1] == 0 and not problems
                failed += not ok
                print('%-8s seed %-3d %s  runs %s  %4.0f s  weather %s%s' % (
                    scenario, seed, 'ok    ' if ok else 'FAILED', codes, seconds,
                    ', '.join('%s %d' % kv for kv in sorted(weather.items())) or 'none',
                    ('  problems: ' + '; '.join(problems)) if problems else ''), flush=True)
    print('%d of %d runs converged safely' % (len(args.scenario) * len(seeds) - failed, len(args.scenario) * len(seeds)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())

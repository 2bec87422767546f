"""Start, stop and inspect a lab.

    python tests/lab start --scenario hyperv4 --dir lab-run/hyperv4 [--net 127.0.10] [--scale 600] [--weather SEED]
    python tests/lab status --dir lab-run/hyperv4
    python tests/lab report --dir lab-run/hyperv4     # invariants and physical lower bound, for people
    python tests/lab stop --dir lab-run/hyperv4

``start`` runs the lab as a background process, waits until it answers, writes
``<dir>/inventory.yml`` (an Ansible inventory for the running lab) and ``<dir>/lab.json``, and
prints where everything is. ``stop`` ends that process by its PID.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def _state_path(run_dir):
    return os.path.join(run_dir, 'lab.json')


def read_state(run_dir):
    with open(_state_path(run_dir)) as handle:
        return json.load(handle)


def control(state, path, body=None, timeout=5):
    url = state['control'] + path
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method='POST' if data else 'GET',
                                     headers={'Content-Type': 'application/json'})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    with opener.open(request, timeout=timeout) as response:
        return json.loads(response.read())


def start(scenario, run_dir, net='127.0.10', scale=None, timeout=30, weather=None):
    """Start a lab process; return its state dict once it answers. Raises RuntimeError on failure."""
    run_dir = os.path.abspath(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    if os.path.exists(_state_path(run_dir)):
        old = read_state(run_dir)
        if _alive(old['pid']):
            raise RuntimeError('a lab is already running from %s (pid %d); stop it first' % (run_dir, old['pid']))
        os.remove(_state_path(run_dir))
    cmd = [sys.executable, '-m', 'lab.server', '--scenario', scenario, '--dir', run_dir, '--net', net]
    if scale:
        cmd += ['--scale', str(scale)]
    if weather is not None:
        cmd += ['--weather', str(int(weather))]
    env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    log = open(os.path.join(run_dir, 'lab.log'), 'ab')
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('the lab exited with code %s; see %s' % (proc.returncode, os.path.join(run_dir, 'lab.log')))
        if os.path.exists(_state_path(run_dir)):
            state = read_state(run_dir)
            try:
                control(state, '/stats', timeout=1)
                return state
            except OSError:
                pass
        time.sleep(0.05)
    _terminate(proc.pid)
    raise RuntimeError('the lab did not answer within %d s; see %s' % (timeout, os.path.join(run_dir, 'lab.log')))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _terminate(pid, timeout=10):
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done = os.waitpid(pid, os.WNOHANG)[0]
            if done == pid:
                return
        except ChildProcessError:
            if not _alive(pid):
                return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def stop(run_dir):
    """Stop the lab started from ``run_dir`` (by its PID). Returns False if none was running."""
    try:
        state = read_state(run_dir)
    except OSError:
        return False
    _terminate(state['pid'])
    try:
        os.remove(_state_path(run_dir))
    except OSError:
        pass
    return True


def describe(state, run_dir):
    lines = ['wsfc.rolling lab "%s" running (pid %d)' % (state['scenario'], state['pid']),
             '  cluster %-12s WinRM https://%s:5986/wsman (http on 5985)' % (state['cluster'], state['cluster_address'])]
    for name, node in state['nodes'].items():
        lines.append('  node    %-12s WinRM https://%s:5986/wsman' % (name, node['address']))
    lines += ['  user %s  password %s  CA %s' % (state['user'], state['password'], state['ca_path']),
              '  control API %s' % state['control'],
              '  inventory %s' % os.path.join(run_dir, 'inventory.yml')]
    return '\n'.join(lines)


def _duration(seconds):
    seconds = int(round(seconds))
    return '%dh%02dm%02ds' % (seconds // 3600, seconds % 3600 // 60, seconds % 60)


def report(state):
    """The recorder's verdict on what happened in the lab, for people."""
    view = control(state, '/state')
    stats = control(state, '/stats')
    inv = stats['invariants']
    events = control(state, '/events')
    busy = [e for e in events if e['kind'] == 'node.suspend_requested' and e.get('storage_busy')]
    drains = [e for e in events if e['kind'] == 'node.suspend_requested']
    restarts = [e for e in events if e['kind'] == 'node.restart']
    title = 'Lab report: scenario %s, cluster %s, %s of Windows time'
    lines = [title % (state['scenario'], state['cluster'], _duration(stats['time']))]
    for node in view['nodes']:
        lines.append('  %-10s %-7s build %s.%s  pending updates: %s%s' % (
            node['name'], node['state'], node['build'], node['ubr'], ', '.join(node['pending_updates']) or 'none',
            '  (restart pending)' if node['reboot_pending'] else ''))

    def verdict(ok):
        return 'ok' if ok else 'VIOLATED'
    lines += [
        '  nodes out of service at once (max): %d  %s' % (inv['max_nodes_out'], verdict(inv['max_nodes_out'] <= 1)),
        '  lowest quorum margin: %s votes  %s' % (inv['min_quorum_margin'], verdict((inv['min_quorum_margin'] or 0) >= 0)),
        '  VM downtime: %s; live migrations: %d (their downtime: %s s)  %s' % (
            ', '.join('%s %ss' % item for item in sorted(inv['vm_downtime'].items())) or 'none',
            inv['live_migrated_vms'], inv['live_migrated_downtime'], verdict(inv['live_migrated_downtime'] == 0)),
        '  drains: %d, of which asked for while storage was busy: %d  %s' % (len(drains), len(busy), verdict(not busy)),
        '  restarts: %d' % len(restarts),
        '  physical lower bound of the work done: %s (drain + install or reimage + shutdown + restart + resync + failback)'
        % _duration(inv['physical_seconds']),
        '  invariant violations: %s' % (', '.join(v['rule'] for v in inv['violations']) or 'none'),
        '  run lock: %s' % (view['lock'] or 'free'),
    ]
    return '\n'.join(lines)


def _fleet_command(args):
    from . import fleet
    if args.command == 'fleet-start':
        try:
            state = fleet.start(args.fleet, args.dir, args.net_base, args.scale)
        except (RuntimeError, ValueError, OSError) as exc:
            print('lab: %s' % exc, file=sys.stderr)
            return 1
        for member in state['clusters']:
            print(describe(member, member['run_dir']))
        print('fleet inventory %s' % os.path.join(os.path.abspath(args.dir), 'inventory.yml'))
        return 0
    if args.command == 'fleet-stop':
        if not fleet.stop(args.dir):
            print('lab: no fleet running from %s' % args.dir, file=sys.stderr)
            return 1
        print('fleet stopped')
        return 0
    print(fleet.report(fleet.read_state(args.dir)))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python tests/lab', description='The wsfc.rolling lab.')
    sub = parser.add_subparsers(dest='command', required=True)
    p_start = sub.add_parser('start', help='start a scenario in the background')
    p_start.add_argument('--scenario', required=True)
    p_start.add_argument('--dir', required=True)
    p_start.add_argument('--net', default='127.0.10', help='first three octets of the loopback addresses')
    p_start.add_argument('--scale', type=float, help='lab seconds per real second (default: the scenario\'s)')
    p_start.add_argument('--weather', type=int, help='seed of the weather: faults nobody asked for (default: none)')
    for name in ('stop', 'status', 'report'):
        sub.add_parser(name).add_argument('--dir', required=True)
    p_fleet = sub.add_parser('fleet-start', help='start many clusters, each on its own network, with one inventory')
    p_fleet.add_argument('--fleet', required=True, help="a fleet file, or scenario names: 'hyperv4,s2d4,twonode'")
    p_fleet.add_argument('--dir', required=True)
    p_fleet.add_argument('--net-base', type=int, default=40, help='the first cluster is on 127.0.N, the next on N+1 ...')
    p_fleet.add_argument('--scale', type=float)
    for name in ('fleet-stop', 'fleet-report'):
        sub.add_parser(name).add_argument('--dir', required=True)
    args = parser.parse_args(argv)
    if args.command.startswith('fleet-'):
        return _fleet_command(args)
    if args.command == 'start':
        try:
            state = start(args.scenario, args.dir, args.net, args.scale, weather=args.weather)
        except (RuntimeError, ValueError) as exc:
            print('lab: %s' % exc, file=sys.stderr)
            return 1
        print(describe(state, os.path.abspath(args.dir)))
        return 0
    if args.command == 'stop':
        if not stop(args.dir):
            print('lab: no lab running from %s' % args.dir, file=sys.stderr)
            return 1
        print('lab stopped')
        return 0
    state = read_state(args.dir)
    if args.command == 'report':
        print(report(state))
        return 0
    print(json.dumps(control(state, '/state'), indent=2))
    return 0

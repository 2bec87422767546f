"""Reading the lab's verdict in integration tests: its state, events and invariants."""

import re

from lab import cli as lab_cli


def stats(state):
    return lab_cli.control(state, '/stats')['invariants']


def events(state, kind):
    return [e for e in lab_cli.control(state, '/events') if e['kind'] == kind]


def lab_state(state):
    return lab_cli.control(state, '/state')


def fault(state, name, value):
    lab_cli.control(state, '/', {'action': 'fault', 'fault': name, 'value': value})


def recap(stdout):
    """{host: {'ok': n, 'changed': n, 'failed': n, ...}} from the PLAY RECAP."""
    out = {}
    for host, fields in re.findall(r'^(\S+)\s+:\s+(ok=.*)$', stdout, re.M):
        out[host] = dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', fields))
    return out


def assert_safe(state):
    inv = stats(state)
    assert inv['violations'] == [], inv['violations']
    assert inv['max_nodes_out'] <= 1
    assert inv['min_quorum_margin'] >= 1
    assert inv['vm_downtime'] == {}
    assert inv['live_migrated_downtime'] == 0
    return inv


def said(proc, message):
    """Whether the playbook's output holds ``message`` (the YAML callback wraps long lines)."""
    return ' '.join(message.split()) in ' '.join(proc.stdout.replace("'\n", "' ").split())


def swapped_inventory(state, path, key, first, second):
    """A copy of the lab's inventory at ``path`` with ``key`` (wsfc_winrm_host, wsfc_bmc_host) of two nodes swapped."""
    import yaml
    with open(state['inventory']) as handle:
        inventory = yaml.safe_load(handle)
    hosts = inventory['all']['children']['wsfc_cluster']['hosts']
    hosts[first][key], hosts[second][key] = hosts[second][key], hosts[first][key]
    with open(path, 'w') as handle:
        yaml.safe_dump(inventory, handle)
    return str(path)


def changes(state):
    """Events that change something (drains, restarts, installs, BMC actions, lock writes); a search or a download
    ahead of the installation changes nothing that runs."""
    kinds = ('node.suspend_requested', 'node.paused', 'node.restart', 'wu.job_started', 'lock.changed', 'node.evicted',
             'node.power', 'node.firmware_boot', 'bmc.')
    return [e for e in lab_cli.control(state, '/events') if e['kind'].startswith(kinds)
            and not (e['kind'] == 'wu.job_started' and e.get('mode') in ('scan', 'download'))]

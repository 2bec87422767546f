"""Many clusters at once: a fleet of labs, one process per cluster, each on its own loopback network.

A fleet file lists scenarios (``clusters: [{scenario: hyperv4}, {scenario: s2d4, count: 2}, ...]``, or the
scenario names separated by commas). A scenario used more than once gets numbered cluster and node names so
that every host name of the fleet is unique. ``start`` writes one Ansible inventory for the whole fleet: the
group ``wsfc_cluster`` with one child group per cluster, which carries that cluster's variables.
"""

import json
import os
import re

import yaml

from . import cli
from . import scenario as scenario_mod

FLEET_STATE = 'fleet.json'


def read_spec(text_or_path):
    """[(scenario name, options)] from a fleet file or 'hyperv4,s2d4,twonode'."""
    if os.path.exists(text_or_path):
        with open(text_or_path) as handle:
            spec = yaml.safe_load(handle) or {}
        entries = spec.get('clusters') or []
    else:
        entries = [{'scenario': name.strip()} for name in text_or_path.split(',') if name.strip()]
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get('scenario'):
            raise ValueError('each entry of clusters needs a scenario: %r' % (entry,))
        out.extend([(entry['scenario'], dict(entry))] * int(entry.get('count', 1)))
    if not out:
        raise ValueError('the fleet lists no cluster')
    return out


def _member_spec(name, index, numbered):
    spec = scenario_mod.load(name)
    if numbered:
        base = spec['cluster']['name']
        spec['cluster']['name'] = ('%s%02d' % (re.sub(r'\d+$', '', base)[:11], index))
        prefix = spec['nodes'].get('prefix', 'NODE')
        spec['nodes']['prefix'] = '%s%02d-' % (prefix.rstrip('-'), index)
    return spec


def start(fleet, run_dir, net_base=40, scale=None, weather=None, nets=None):
    """Start every cluster of ``fleet``; write fleet.json and inventory.yml in ``run_dir``; return the state.
    Cluster i is on 127.0.(net_base + i), or on ``nets[i]`` (first three octets) when given."""
    run_dir = os.path.abspath(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    members = read_spec(fleet)
    counts = {}
    for name, _options in members:
        counts[name] = counts.get(name, 0) + 1
    seen = {}
    state = {'clusters': []}
    try:
        for position, (name, options) in enumerate(members):
            seen[name] = seen.get(name, 0) + 1
            spec = _member_spec(name, seen[name], counts[name] > 1)
            member_dir = os.path.join(run_dir, '%02d-%s' % (position + 1, spec['cluster']['name'].lower()))
            os.makedirs(member_dir, exist_ok=True)
            path = os.path.join(member_dir, 'scenario.yml')
            with open(path, 'w') as handle:
                yaml.safe_dump(spec, handle)
            net = nets[position] if nets else '127.0.%d' % (int(net_base) + position)
            member = cli.start(path, member_dir, net=net, scale=scale or options.get('scale'),
                               weather=weather if weather is not None else options.get('weather'))
            member['run_dir'] = member_dir
            state['clusters'].append(member)
    except Exception:
        for member in state['clusters']:
            cli.stop(member['run_dir'])
        raise
    with open(os.path.join(run_dir, FLEET_STATE), 'w') as handle:
        json.dump(state, handle, indent=1)
    write_inventory(state, os.path.join(run_dir, 'inventory.yml'))
    return state


def write_inventory(state, path):
    """One inventory for the fleet: wsfc_cluster's children are the clusters, each with its own variables."""
    children, controller = {}, None
    for member in state['clusters']:
        with open(os.path.join(member['run_dir'], 'inventory.yml')) as handle:
            inventory = yaml.safe_load(handle)
        groups = inventory['all']['children']
        cluster = groups['wsfc_cluster']
        children[re.sub(r'\W', '_', member['cluster'].lower())] = {'hosts': cluster['hosts'], 'vars': cluster['vars']}
        controller = controller or groups.get('controller')
    out = {'all': {'children': {'wsfc_cluster': {'children': children}}}}
    if controller:
        out['all']['children']['controller'] = controller
    with open(path, 'w') as handle:
        yaml.safe_dump(out, handle, default_flow_style=False, sort_keys=False)
    return path


def read_state(run_dir):
    with open(os.path.join(run_dir, FLEET_STATE)) as handle:
        return json.load(handle)


def stop(run_dir):
    """Stop every cluster of the fleet started from ``run_dir``; False when none was running."""
    try:
        state = read_state(run_dir)
    except OSError:
        return False
    for member in state['clusters']:
        cli.stop(member['run_dir'])
    os.remove(os.path.join(run_dir, FLEET_STATE))
    return True


def summary(state):
    """Per cluster: its recorder's invariants; and the totals (for tests and the benchmark)."""
    rows = []
    for member in state['clusters']:
        stats = cli.control(member, '/stats')
        view = cli.control(member, '/state')
        inv = stats['invariants']
        rows.append({'cluster': member['cluster'], 'scenario': member['scenario'], 'violations': inv['violations'],
                     'max_nodes_out': inv['max_nodes_out'], 'min_quorum_margin': inv['min_quorum_margin'],
                     'live_migrated_downtime': inv['live_migrated_downtime'],
                     'pending': dict((n['name'], n['pending_updates']) for n in view['nodes'] if n['pending_updates']),
                     'lock': view['lock'], 'time': stats['time']})
    totals = {'clusters': len(rows), 'violations': sum(len(r['violations']) for r in rows),
              'clusters_with_pending_updates': sum(1 for r in rows if r['pending'])}
    return {'clusters': rows, 'totals': totals}


def report(state):
    """The fleet report, for people: each cluster's lab report, then the totals."""
    lines = [cli.report(member) for member in state['clusters']]
    totals = summary(state)['totals']
    lines.append('Fleet: %(clusters)d cluster(s), %(violations)d invariant violation(s), '
                 '%(clusters_with_pending_updates)d cluster(s) with updates pending' % totals)
    return '\n'.join(lines)

"""Build a lab model from a scenario YAML file (see scenarios/)."""

import os

import yaml

from .availability import recompute_votes
from .weather import Weather
from .provisioning import VM_VERSION
from .model import (DEFAULT_TIMINGS, GROUP_TYPES, OS_CATALOG, PRIORITIES, Group, Lab, Node, Quorum, SharedVolume,
                    StoragePool, Update, VirtualDisk)

SCENARIO_DIR = os.path.join(os.path.dirname(__file__), 'scenarios')
GIB = 1024 ** 3
WITNESS = {
    # windows-behaviour.md §6: quorum types seen; "Majority" is how newer OSes show a witness-backed quorum.
    'file_share': ('NodeAndFileShareMajority', 'File Share Witness'),
    'cloud': ('Majority', 'Cloud Witness'),
    'disk': ('NodeAndDiskMajority', 'Physical Disk'),
}


class ScenarioError(ValueError):
    pass


def scenario_path(name_or_path):
    if os.path.isfile(name_or_path):
        return name_or_path
    path = os.path.join(SCENARIO_DIR, name_or_path + '.yml')
    if not os.path.isfile(path):
        known = sorted(f[:-4] for f in os.listdir(SCENARIO_DIR) if f.endswith('.yml'))
        raise ScenarioError('unknown scenario %r; known: %s' % (name_or_path, ', '.join(known)))
    return path


def load(name_or_path):
    with open(scenario_path(name_or_path)) as handle:
        return yaml.safe_load(handle)


def machine_config(index, s2d):
    """What a node's Get-NetAdapter / Get-NetIPAddress / Get-VMSwitch / Get-Disk / Get-WindowsFeature
    show. Addresses are from the documentation ranges (RFC 5737): data, never a network target."""
    adapters = [{'Name': 'SLOT 3 Port %d' % port, 'InterfaceDescription': 'Lab 25GbE Adapter #%d' % port,
                 'MacAddress': '00-15-5D-%02X-00-%02X' % (index, port), 'LinkSpeed': '25 Gbps'} for port in (1, 2)]
    addresses = [{'InterfaceAlias': 'vEthernet (Management)', 'IPAddress': '192.0.2.%d' % (10 + index), 'PrefixLength': 24},
                 {'InterfaceAlias': 'vEthernet (LiveMigration)', 'IPAddress': '198.51.100.%d' % (10 + index),
                  'PrefixLength': 24}]
    disks = [{'Number': 0, 'FriendlyName': 'Lab M.2 Boot', 'SerialNumber': 'BOOT%04d' % index, 'Size': 480 * GIB,
              'BusType': 'NVMe'}]
    features = ['Failover-Clustering', 'Hyper-V', 'Hyper-V-PowerShell', 'RSAT-Clustering-PowerShell']
    if s2d:
        disks += [{'Number': n, 'FriendlyName': 'Lab NVMe %d' % n, 'SerialNumber': 'S2D%02d%02d' % (index, n),
                   'Size': 3840 * GIB, 'BusType': 'NVMe'} for n in range(1, 5)]
        features += ['Data-Center-Bridging', 'FS-FileServer']
    return {'adapters': adapters, 'ip_addresses': addresses, 'disks': disks, 'features': sorted(features),
            'vswitches': [{'Name': 'ConvergedSwitch', 'SwitchType': 'External', 'EmbeddedTeamingEnabled': True}]}


def _update(u):
    return Update(kb=u['kb'], title=u['title'], classification=u.get('classification', 'Security Updates'),
                  install_seconds=float(u.get('install_minutes', 5)) * 60, reboot=bool(u.get('reboot', True)),
                  size_mb=int(u.get('size_mb', 100)), ubr=int(u.get('ubr', 0)), browse_only=bool(u.get('browse_only', False)),
                  exclusive=bool(u.get('exclusive', False)), firmware=bool(u.get('firmware', False)))


def build(spec, net='127.0.10', clock_scale=None):
    """Create the Lab for a scenario dict. Node i gets address <net>.(10 + i), the cluster <net>.10."""
    c = spec['cluster']
    os_name = c.get('os', 'ws2019')
    if os_name not in OS_CATALOG:
        raise ScenarioError('unknown os %r; known: %s' % (os_name, ', '.join(OS_CATALOG)))
    lab = Lab(c['name'], c.get('domain', 'lab.test'), clock_scale or spec.get('clock_scale', 600))
    lab.functional_level = OS_CATALOG[os_name]['level']
    lab.upgrade_version = OS_CATALOG[os_name]['upgrade']
    lab.s2d_enabled = bool(c.get('s2d', False))
    unknown = set(spec.get('timings') or {}) - set(DEFAULT_TIMINGS)
    if unknown:
        raise ScenarioError('unknown timings: %s' % ', '.join(sorted(unknown)))
    lab.timings.update(spec.get('timings') or {})
    # Every physical duration varies by up to timing_jitter (a fraction), from a seeded generator: the same
    # seed gives the same sequence of durations.
    lab.jitter = float(spec.get('timing_jitter', 0.1))
    lab.rng.seed(int(spec.get('seed', 1)))
    if spec.get('weather'):
        lab.weather = Weather(spec['weather'].get('seed', 1), lab.recorder, spec['weather'].get('rates'))
    lab.move_type_threshold = int(spec.get('move_type_threshold', lab.move_type_threshold))
    # The cluster property MaximumParallelMigrations came with the 2022-09 cumulative update (Windows Server
    # 2022 and later here); its default of 1 is UNVERIFIED (the harsher reading). Older clusters use the
    # Hyper-V host's MaximumVirtualMachineMigrations (2).
    default_parallel = 1 if OS_CATALOG[os_name]['level'] >= 11 else None
    lab.maximum_parallel_migrations = c.get('maximum_parallel_migrations', default_parallel)
    # The invariant recorder's bound on nodes out at once: what the run is configured to take (max_nodes_out), one
    # on Storage Spaces Direct whatever is configured (a control action sets it for a run).
    lab.allowed_nodes_out = int(spec.get('max_nodes_out', 1))
    n = spec['nodes']
    names = ['%s%d' % (n.get('prefix', 'NODE'), i + 1) for i in range(int(n['count']))]
    for i, name in enumerate(names):
        lab.machines[name] = Node(name=name, id=str(i + 1), address='%s.%d' % (net, 11 + i), os=os_name,
                                  bmc_address='%s.%d' % (net, 101 + i),
                                  memory_mb=int(n.get('memory_gb', 256)) * 1024, serial='LAB%05d' % (i + 1),
                                  fault_domain=['Site=lab', 'Rack=R%d' % (i // 8 + 1), 'Node=%s' % name])
    witness = c.get('witness')
    if witness:
        quorum_type, resource_type = WITNESS[witness['type']]
        lab.quorum = Quorum(quorum_type, witness.get('name', resource_type), resource_type)
    else:
        lab.quorum = Quorum('NodeMajority', None, None)

    def add_group(name, group_type, owner, **kwargs):
        lab.groups[name] = Group(name=name, id=lab.next_id(), group_type=group_type, owner=owner, **kwargs)

    add_group('Cluster Group', 'Cluster', names[0], is_core=True, priority=0)
    # On CSV clusters "Available Storage" is normally Offline (windows-behaviour.md §7).
    add_group('Available Storage', 'AvailableStorage', names[0], is_core=True, state='Offline', priority=0)
    index = 0
    for block in spec.get('vms', []):
        for dummy in range(int(block['count'])):
            index += 1
            owner = names[(index - 1) % len(names)]
            preferred = [owner, names[index % len(names)]]
            add_group('VM%02d' % index, 'VirtualMachine', owner, priority=PRIORITIES[block.get('priority', 'medium')],
                      preferred_owners=preferred, memory_mb=int(block.get('memory_gb', 8)) * 1024,
                      live_migratable=bool(block.get('live_migratable', True)))
    for i, fs in enumerate(spec.get('file_servers') or []):
        if fs.get('type', 'ScaleoutFileServer') not in ('ScaleoutFileServer', 'FileServer'):
            raise ScenarioError('file_servers: type must be ScaleoutFileServer or FileServer')
        add_group(fs['name'], fs.get('type', 'ScaleoutFileServer'), names[i % len(names)],
                  priority=PRIORITIES[fs.get('priority', 'medium')], preferred_owners=[names[i % len(names)]])
        lab.groups[fs['name']].shares = list(fs.get('shares') or [])
    if c.get('cau_role'):
        cau_group = 'CAU%scau' % lab.name[:6].lower()
        add_group(cau_group, 'ClusterUpdateAgent', names[-1], priority=1000)
        lab.cau_parameters = {'ResourceGroupName': cau_group, 'Status': 'Online', 'MaxFailedNodes': '1',
                              'MaxRetriesPerNode': '3', 'RebootTimeoutMinutes': '15', 'DaysOfWeek': 'Tuesday',
                              'WeeksInterval': '2', 'CauPluginName': 'Microsoft.WindowsUpdatePlugin'}
        if c.get('cau_run_after_seconds') is not None:
            # The role's schedule: a self-updating run starts on its own that long after the lab.
            from . import cau
            lab.clock.after(float(c['cau_run_after_seconds']), lambda: cau.start_run(lab))
    storage = spec.get('storage')
    if storage:
        if not lab.s2d_enabled:
            raise ScenarioError('storage: needs cluster.s2d: true')
        disks = storage.get('virtual_disks', [])
        total = sum(int(d['size_gb']) for d in disks) * GIB
        lab.pools.append(StoragePool('S2D on %s' % lab.name, storage.get('pool_version', 'Windows Server 2022'),
                                     size=total * 3, allocated=total * 2))
        lab.s2d_nodes = list(names)
        for i, d in enumerate(disks):
            resiliency = d.get('resiliency', 'Mirror')
            # PhysicalDiskRedundancy: three-way mirror / dual parity survive two fault domains out, two-way
            # mirror one; with fewer than three (mirror) or four (parity) nodes only one is possible.
            redundancy = int(d.get('redundancy', 2 if len(names) >= (3 if resiliency == 'Mirror' else 4) else 1))
            copies = redundancy + 1 if resiliency == 'Mirror' else 2
            lab.virtual_disks.append(VirtualDisk(d['name'], resiliency, int(d['size_gb']) * GIB,
                                                 int(d['size_gb']) * GIB * copies, redundancy=redundancy))
            lab.shared_volumes.append(SharedVolume('Cluster Virtual Disk (%s)' % d['name'], lab.next_id(),
                                                   names[i % len(names)], r'C:\ClusterStorage\%s' % d['name'],
                                                   disk=d['name']))
    else:
        for i in range(int(spec.get('shared_volumes', 0))):
            lab.shared_volumes.append(SharedVolume('Cluster Disk %d' % (i + 1), lab.next_id(), names[i % len(names)],
                                                   r'C:\ClusterStorage\Volume%d' % (i + 1)))
    for i, u in enumerate(spec.get('updates') or []):
        targets = u.get('nodes') or names
        for name in targets:
            if name not in lab.machines:
                raise ScenarioError('update %s names unknown node %s' % (u['kb'], name))
            lab.machines[name].updates.append(_update(u))
            if u.get('after_restart'):
                lab.machines[name].offered_next.append(lab.machines[name].updates.pop())
    for i, node in enumerate(lab.machines.values()):
        node.ubr = int(c.get('ubr', 1000))
        node.config = machine_config(i + 1, lab.s2d_enabled)
        lab.reference_configs[node.name] = machine_config(i + 1, lab.s2d_enabled)
    for group in lab.groups.values():
        if group.group_type == 'VirtualMachine':
            group.vm_version = VM_VERSION[os_name]
    prov = spec.get('provisioning') or {}
    if prov:
        target = prov.get('image')
        if target not in OS_CATALOG:
            raise ScenarioError('provisioning.image: unknown os %r' % target)
        # The deployment server offers the image to every node (VMM deploys the machines it is told to).
        for name in names:
            lab.images[name] = {'os': target, 'ubr': int(prov.get('ubr', 1000))}
        if prov.get('setup_media'):
            lab.setup_media[prov['setup_media']] = target
        # What Windows Update offers a node once it runs the new release.
        lab.image_updates = [_update(u) for u in prov.get('updates') or []]
    vms = [g for g in lab.groups.values() if g.group_type == 'VirtualMachine']
    for i, group in enumerate(vms):
        if lab.shared_volumes:
            group.volume = lab.shared_volumes[i % len(lab.shared_volumes)].name
    assert set(g.group_type for g in lab.groups.values()) <= set(GROUP_TYPES)
    recompute_votes(lab)
    lab.recorder.check_quorum(lab)
    return lab

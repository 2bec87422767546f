"""The simulated cluster: nodes, roles, quorum, storage, CAU, with documented Windows behaviour.

Every behaviour here is listed in docs/lab-fidelity.md with its source. Names and values follow
docs/windows-behaviour.md (the section is cited next to each rule). Nothing here may be changed to make a
collection test pass: if Windows refuses, the lab refuses.
"""

import itertools
import random
import threading
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .clock import LabClock
from .recorder import Recorder

# OS catalogue. Build numbers: windows-behaviour.md §4. Functional levels: 2.1 (RU).
# Upgrade versions: only WS2016 RTM = 8 is sourced (clusapi.h); the others are lab placeholders,
# listed as UNVERIFIED in docs/lab-fidelity.md.
OS_CATALOG = {
    'ws2016': dict(caption='Windows Server 2016 Datacenter', major=10, minor=0, build=14393, level=9, upgrade=8),
    'ws2019': dict(caption='Windows Server 2019 Datacenter', major=10, minor=0, build=17763, level=10, upgrade=3),
    'ws2022': dict(caption='Windows Server 2022 Datacenter', major=10, minor=0, build=20348, level=11, upgrade=4),
    'ws2025': dict(caption='Windows Server 2025 Datacenter', major=10, minor=0, build=26100, level=12, upgrade=5),
    # Azure Stack HCI 22H2 and 23H2 (windows-behaviour.md §4: builds 20349 and 25398). Their functional levels and
    # upgrade versions are UNVERIFIED: the lab gives them those of the Windows Server release of the same era.
    'hci22h2': dict(caption='Azure Stack HCI', major=10, minor=0, build=20349, level=11, upgrade=4),
    'hci23h2': dict(caption='Azure Stack HCI', major=10, minor=0, build=25398, level=12, upgrade=5),
}

# CLUSGROUP_TYPE (clusapi.h, windows-behaviour.md §7): PowerShell name, value.
GROUP_TYPES = {
    'Cluster': 1, 'AvailableStorage': 2, 'FileServer': 100, 'ScaleoutFileServer': 114, 'VirtualMachine': 111,
    'ClusterUpdateAgent': 117,
}
PRIORITIES = {'high': 3000, 'medium': 2000, 'low': 1000, 'none': 0}


class CmdletError(Exception):
    """An error record as PowerShell would produce it for a failed cmdlet."""

    def __init__(self, message, fqid, category, exception='Microsoft.FailoverClusters.PowerShell.ClusterCmdletException',
                 target='', native_code=None):
        super().__init__(message)
        self.record = dict(category=category, fqid=fqid, message=message, target=target,
                           exception=exception, native_code=native_code)


def cluster_service_not_running(command):
    # Recorded transcript, windows-behaviour.md §3; inner Win32 error EPT_S_NOT_REGISTERED (1753).
    return CmdletError(
        'The cluster service is not running.  Make sure that the service is running on all nodes in the cluster.',
        'ClusterEndpointNotRegistered,Microsoft.FailoverClusters.PowerShell.%s' % command, 'ConnectionError',
        native_code=1753)


@dataclass
class Node:
    name: str
    id: str
    address: str
    os: str
    memory_mb: int
    bmc_address: str = ''
    power: str = 'On'                 # On | Off
    cluster_service: str = 'Running'  # Running | Starting (after boot: its cmdlets fail) | Stopped
    member_state: str = 'Up'          # Up | Paused | Joining: what the cluster database holds
    drain_status: str = 'NotInitiated'
    node_weight: int = 1
    fault_domain: List[str] = field(default_factory=list)
    boot_time: float = 0.0
    model: str = 'Lab Server 2U'
    manufacturer: str = 'wsfc.rolling lab'
    serial: str = ''
    ubr: int = 1000                                   # update build revision (the 4th version number)
    updates: List['Update'] = field(default_factory=list)  # applicable, not yet installed
    reboot_pending: bool = False
    pending_ubr: int = 0                              # UBR after the next reboot
    offered_next: list = field(default_factory=list)  # updates Windows Update offers after the next restart
    downloaded: set = field(default_factory=set)      # KBs downloaded and not installed yet (pre-staged)
    pending_installed: list = field(default_factory=list)  # installed updates that wait for the restart
    ksr_bypass: bool = False                          # CauBypassSoftBootOnNode=True: opts out of kernel soft reboot
    cau_tools: bool = True                            # the ClusterAwareUpdating module (RSAT-Clustering-AutomationServer)
    admin_paused: bool = False                        # paused by an administrator (control action admin_pause), not a run
    cluster_startup: str = 'Automatic'                # the cluster service's start mode (Set-Service ClusSvc -StartupType)
    offline_record: Optional[str] = None              # the offline update's record on the node's own disk
    out_since: Optional[float] = None                 # when the node left full service (S2D resync size)
    draining: bool = False
    host_reserve_mb: int = 8192
    joining: bool = False
    restarting: bool = False
    restart_gen: int = 0
    drain_op: object = None
    member: bool = True               # a node of the cluster (False once evicted, until added again)
    chassis: str = 'On'               # what the BMC reports: On | Off (the OS may still be booting)
    boot_device: str = 'none'         # BMC boot override: none | network | disk | cd | bios
    boot_persistent: bool = False
    boot_uefi: bool = True
    in_setup: bool = False            # stopped in the firmware setup screen (boot device bios)
    config: dict = field(default_factory=dict)   # what Get-NetAdapter/-NetIPAddress/-VMSwitch/-Disk/-WindowsFeature show
    power_gen: int = 0                # bumped by every BMC power action; ends boots and installs in progress
    stale: bool = False               # S2D: its copy of the data missed writes and is not resynced yet

    @property
    def state(self):
        """ClusterNodeState as Get-ClusterNode shows it (windows-behaviour.md §4)."""
        if self.power != 'On' or self.cluster_service != 'Running':
            return 'Down'
        if self.joining:
            return 'Joining'
        return self.member_state

    @property
    def in_membership(self):
        return self.member and self.state in ('Up', 'Paused')

    @property
    def in_service(self):
        """A cluster member that is Up: anything else counts as a node out."""
        return self.member and self.state == 'Up'

    def finish_pending_restart(self):
        """The restart that installed updates wait for: the new UBR applies and updates offered only
        after the first set was installed show up (the CAU scan docs: "only the first set")."""
        self.ubr, self.pending_ubr, self.reboot_pending = self.pending_ubr or self.ubr, 0, False
        self.pending_installed = []
        self.updates.extend(self.offered_next)
        self.offered_next = []

    @property
    def os_info(self):
        return OS_CATALOG[self.os]


@dataclass
class Group:
    name: str
    id: str
    group_type: str
    owner: str
    state: str = 'Online'
    priority: int = 2000
    preferred_owners: List[str] = field(default_factory=list)
    is_core: bool = False
    auto_failback_type: int = 0
    memory_mb: int = 0
    live_migratable: bool = True
    drained_from: Optional[str] = None   # node this group was drained from (for failback)
    moving: bool = False
    move_target: Optional[str] = None
    downtime: float = 0.0                # lab seconds offline since the lab started (VMs)
    planned_downtime: float = 0.0        # of which the user allowed (configuration version update)
    vm_version: str = ''                 # Hyper-V configuration version (VMs)
    offline_since: Optional[float] = None
    offline_reason: Optional[str] = None  # quorum | volume | no_node_up: why the cluster took it offline
    migration_state: int = 0              # the VM resource's MigrationState: 0 none, 2 data transfer, 5 failure
    volume: Optional[str] = None          # the CSV holding a VM's files
    shares: List[str] = field(default_factory=list)  # a file server's (continuously available) shares

    @property
    def group_type_value(self):
        return GROUP_TYPES[self.group_type]


@dataclass
class SharedVolume:
    name: str
    id: str
    owner: str
    path: str
    state: str = 'Online'
    disk: Optional[str] = None        # the S2D virtual disk under it


@dataclass
class StoragePool:
    friendly_name: str
    version: str
    size: int
    allocated: int
    health: int = 0
    operational: List[int] = field(default_factory=lambda: [2])


@dataclass
class VirtualDisk:
    friendly_name: str
    resiliency: str
    size: int
    footprint: int
    redundancy: int = 2                                          # fault domains it survives (PhysicalDiskRedundancy)
    health: int = 0                                              # MSFT_VirtualDisk.HealthStatus
    operational: List[int] = field(default_factory=lambda: [2])  # MSFT_VirtualDisk.OperationalStatus


@dataclass
class StorageJob:
    name: str
    bytes_total: int
    started: float
    job_state: int = 4  # MSFT_StorageJob.JobState Running
    bytes_processed: int = 0
    is_background: bool = True
    duration: float = 1.0
    node: str = ''
    paused_seconds: float = 0.0       # time spent Suspended (weather), which does not count as progress
    suspended_at: Optional[float] = None

    @property
    def percent(self):
        return int(round(100.0 * self.bytes_processed / self.bytes_total)) if self.bytes_total else 100


@dataclass
class Update:
    kb: str
    title: str
    classification: str
    install_seconds: float
    reboot: bool
    size_mb: int = 100
    ubr: int = 0          # UBR a cumulative update brings after the reboot
    browse_only: bool = False       # optional (BrowseOnly): not installed unless accepted by KB
    after_restart: bool = False     # offered only once the first set is installed and the node restarted
    exclusive: bool = False         # InstallationBehavior.Impact RequiresExclusiveHandling (installed by itself)
    firmware: bool = False          # needs the firmware's initialisation at restart (no kernel soft reboot)


@dataclass
class Quorum:
    quorum_type: str
    resource: Optional[str]
    resource_type: Optional[str]
    resource_state: str = 'Online'


# Windows-time durations (seconds) of the physical work; scenarios override them.
DEFAULT_TIMINGS = {
    'live_migration_gbps': 10.0,            # the migration network, shared by simultaneous live migrations
    'live_migration_overhead': 1.3,         # memory copied per GB of VM memory (pages dirtied during the copy)
    'live_migration_setup_seconds': 2.0,    # negotiation and the final switch-over of one live migration
    'quick_migration_seconds': 20.0,        # save, move, restore
    'group_move_seconds': 3.0,              # non-VM roles (core group, storage, CAU)
    'host_parallel_migrations': 2,          # Set-VMHost -MaximumVirtualMachineMigrations default
    'shutdown_seconds': 30.0,               # services stopping until the power is off
    'updates_shutdown_seconds': 60.0,       # "Working on updates" before a restart that finishes an install
    'post_seconds': 120.0,                  # firmware POST (memory training, option ROMs)
    'os_boot_seconds': 60.0,                # Windows starting until WinRM answers
    'updates_boot_seconds': 90.0,           # "Working on updates" after that restart, before WinRM answers
    'cluster_start_seconds': 45.0,          # WinRM answers, the cluster service is still starting
    'join_seconds': 10.0,                   # Joining until back in membership
    'scan_seconds': 45.0,                   # Windows Update search
    'download_mb_per_second': 25.0,         # update download from WSUS / Microsoft Update (200 Mbit/s, lab choice)
    'resync_write_mb_per_second': 10.0,     # writes the cluster's VMs make, which an absent node misses
    'resync_mb_per_second': 30.0,           # S2D repair throughput (Microsoft's sample: 11.4 GB in 6 min 23 s)
    'repair_job_linger_seconds': 60.0,      # Completed jobs stay listed (TimeBeforeRemoval)
    'os_install_seconds': 1500.0,           # PXE boot to first logon of a freshly deployed image
    'inplace_upgrade_seconds': 3600.0,      # setup.exe in-place upgrade, its restarts included
    'setup_downlevel_seconds': 600.0,       # of which setup works in the running OS before its first restart
    'setup_refusal_seconds': 240.0,        # setup's compatibility scan before it exits refusing (lab choice)
    'powershell_start_seconds': 1.5,        # powershell.exe and the FailoverClusters module loading, per process
    'cau_scan_seconds': 240.0,              # Invoke-CauScan across the cluster
    'add_node_seconds': 90.0,               # Add-ClusterNode (validation of the joining node included)
    'evict_node_seconds': 20.0,             # Remove-ClusterNode
    'functional_level_seconds': 30.0,       # Update-ClusterFunctionalLevel
    'pool_update_seconds': 10.0,            # Update-StoragePool
    'doctor_seconds': 5.0,                  # the doctor's reads on one node
    'validate_seconds': 180.0,              # Test-Cluster (all the categories asked for)
}


class Lab:
    """The datacenter: one cluster, its nodes and what runs on them, under one lock."""

    def __init__(self, name, domain, clock_scale=600.0, recorder=None):
        self.clock = LabClock(clock_scale)
        self.recorder = recorder or Recorder(self.clock)
        self.lock = threading.RLock()
        self.name = name
        self.domain = domain
        self.id = str(uuid.uuid5(uuid.NAMESPACE_DNS, name + '.' + domain))
        self.functional_level = 10
        self.upgrade_version = 3
        self.s2d_enabled = False
        self.dynamic_quorum = True
        self.voters = set()            # nodes whose vote counts now (dynamic quorum)
        self.witness_vote = False      # the witness votes now (dynamic witness)
        self.quorum_lost = False       # the cluster stopped for lack of quorum
        self.s2d_nodes: List[str] = []  # the nodes whose drives make the S2D pool (fault domains)
        self.machines: Dict[str, Node] = {}     # every server, cluster member or not
        self.groups: Dict[str, Group] = {}
        self.shared_volumes: List[SharedVolume] = []
        self.pools: List[StoragePool] = []
        self.virtual_disks: List[VirtualDisk] = []
        self.storage_jobs: List[StorageJob] = []
        self.quorum = Quorum('NodeMajority', None, None)
        self.cau_parameters: Dict[str, str] = {}
        self.cau_run = None            # the Updating Run in progress (tests/lab/cau.py)
        self.cau_reports: List[dict] = []   # Get-CauReport: each finished run's report, the last one last
        self.cau_leftover = None       # the id of a failed run that left the cluster locked (Get-CauRun RunFailed)
        self.cau_task = None           # the shim's CAU run task on the node that started it: its status file
        self.offline = None            # the cluster stopped by Stop-Cluster (the offline update): {'since': t}
        self.cluster_params: Dict[str, str] = {}   # private properties of the cluster object (the run lock)
        self.property_step = None   # called before each read or write of them (interleaving tests)
        self.timings: Dict[str, float] = dict(DEFAULT_TIMINGS)
        self.move_type_threshold = 2000  # DRAINBLOG: High/Medium live-migrate, Low quick-migrates
        self.maximum_parallel_migrations = None  # cluster property (2022-09 CU onward); None: not there
        self.allowed_nodes_out = 1     # the nodes out of service at once the run was configured for (never > 1 on S2D)
        self.network = None            # maintenance.MigrationNetwork: the live migrations in flight
        self.missed_since = None       # S2D: since when copies have been missing writes (resync size)
        self.rng = random.Random(1)    # seeded: the timing jitter and the weather
        self.jitter = 0.1              # each physical duration varies by up to this fraction
        self.weather = None            # weather.Weather when faults happen without being asked for
        self.faults: Dict[str, dict] = {}
        self.wu_jobs: Dict[str, dict] = {}
        self.net_hooks = []            # callables(node_name, mode) when what a node's address does changes
        self.users: Dict[str, str] = {}  # DOMAIN\\user -> password (scheduled-task logons check these)
        self.bmc_user = 'ADMIN'
        self.bmc_password = 'Bmc-Passw0rd!'
        self.images: Dict[str, dict] = {}   # node name -> image the deployment server offers it
        self.setup_media: Dict[str, str] = {}  # setup media path -> os (in-place upgrade)
        self.image_updates: List[Update] = []   # offered by Windows Update on the new release
        self.os_jobs: Dict[str, dict] = {}     # node -> what its OS upgrade task recorded
        self.reference_configs: Dict[str, dict] = {}  # each machine's configuration as built (repairs restore it)
        self._ids = itertools.count(1)

    # -- time -------------------------------------------------------------------------------

    def advance(self):
        """Run everything due by now (scheduled behaviour, storage job progress). Lock held."""
        from .maintenance import update_jobs  # maintenance builds on this module
        self.clock.advance()
        update_jobs(self)

    def tick(self):
        with self.lock:
            self.advance()

    # -- lookups ----------------------------------------------------------------------------

    @property
    def nodes(self):
        """The cluster's nodes (members), by name, in id order."""
        return dict((name, m) for name, m in self.machines.items() if m.member)

    def machine(self, name):
        for node in self.machines.values():
            if node.name.lower() == str(name).lower():
                return node
        return None

    def node(self, name):
        for node in self.nodes.values():
            if node.name.lower() == str(name).lower():
                return node
        return None

    def node_by_address(self, address):
        for node in self.machines.values():
            if node.address == address:
                return node
        return None

    def core_group(self):
        return next(g for g in self.groups.values() if g.group_type == 'Cluster')

    def next_id(self):
        return str(next(self._ids))

    # -- derived state ----------------------------------------------------------------------

    def dynamic_weight(self, node):
        # Dynamic quorum (on by default since 2012 R2): see availability.recompute_votes.
        return node.node_weight if node.name in self.voters else 0

    def witness_dynamic_weight(self):
        return 1 if self.witness_vote else 0

    def quorum_votes(self):
        """(present, needed) by configured votes; the recorder checks the margin from this."""
        total = sum(n.node_weight for n in self.nodes.values()) + (1 if self.quorum.resource else 0)
        present = sum(n.node_weight for n in self.nodes.values() if n.in_membership)
        if self.quorum.resource and self.quorum.resource_state == 'Online':
            present += 1
        return present, total // 2 + 1

    def vary(self, seconds):
        """A physical duration with the scenario's seeded jitter."""
        if not self.jitter:
            return seconds
        return seconds * (1.0 + self.rng.uniform(-self.jitter, self.jitter))

    def parallel_migrations(self):
        """Live migrations at once: the cluster's MaximumParallelMigrations where the cluster has it,
        else the Hyper-V host setting."""
        if self.maximum_parallel_migrations is not None:
            return int(self.maximum_parallel_migrations)
        return int(self.timings['host_parallel_migrations'])

    def node_highest_version(self, node):
        info = node.os_info
        return (info['level'] << 16) | info['upgrade']

    def snapshot(self):
        """Plain-data view of the whole lab, for the control API and the tests' assertions."""
        with self.lock:
            self.advance()
            return {
                'time': self.clock.now(),
                'cluster': {'name': self.name, 'functional_level': self.functional_level,
                            'upgrade_version': self.upgrade_version, 's2d_enabled': self.s2d_enabled,
                            'pool_versions': [p.version for p in self.pools]},
                'nodes': [{'name': n.name, 'state': n.state, 'drain_status': n.drain_status, 'power': n.power,
                           'cluster_service': n.cluster_service, 'os': n.os, 'build': n.os_info['build'],
                           'ubr': n.ubr, 'pending_updates': [u.kb for u in n.updates],
                           'reboot_pending': n.reboot_pending, 'address': n.address, 'boot_time': n.boot_time,
                           'member': n.member, 'chassis': n.chassis, 'boot_device': n.boot_device,
                           'boot_persistent': n.boot_persistent, 'cluster_startup': n.cluster_startup}
                          for n in self.machines.values()],
                'groups': [{'name': g.name, 'type': g.group_type, 'owner': g.owner, 'state': g.state,
                            'priority': g.priority, 'downtime': round(g.downtime, 3), 'vm_version': g.vm_version}
                           for g in self.groups.values()],
                'lock': self.cluster_params.get('WsfcRollingLock'),
                'offline': self.offline is not None,
                'virtual_disks': [{'name': d.friendly_name, 'health': d.health, 'operational': d.operational}
                                  for d in self.virtual_disks],
                'storage_jobs': [{'name': j.name, 'state': j.job_state, 'percent': j.percent}
                                 for j in self.storage_jobs],
            }

    # -- administrative changes (control API; the recorder sees each) -----------------------

    def admin_power(self, name, power):
        """The lab's operator pulls the plug (Off, at once) or presses the power button (On: the node
        boots as any other, POST included): ends any restart in progress."""
        from .maintenance import boot  # maintenance builds on this module
        with self.lock:
            node = self.machine(name)
            node.chassis = power
            node.restart_gen += 1
            node.power_gen += 1
            gen = node.restart_gen
            node.restarting = node.joining = False
            if power == 'Off':
                self.set_power(name, power)
            elif node.power != 'On':
                boot(self, node, lambda: node.restart_gen == gen)

    def set_power(self, name, power, graceful=False):
        """The operating system starts running (On) or stops (Off: ``graceful`` for a shutdown, which
        gives the node's quorum vote up first); listeners follow."""
        with self.lock:
            node = self.machine(name)
            before = node.state
            node.power = power
            if power == 'On':
                node.boot_time = self.clock.now()
            self.recorder.record('node.power', node=node.name, power=power, state_before=before, state=node.state)
            if power != 'On':
                self.out_of_service(node)
            self.after_membership_change(graceful=graceful)
            self.set_net(node.name, 'up' if power == 'On' else 'dark')

    def set_net(self, name, mode):
        """What connecting to a node's WinRM does: up (served), reset (shutting down: connections are
        reset), dark (off or booting: connections time out)."""
        for hook in self.net_hooks:
            hook(name, mode)

    def out_of_service(self, node):
        """A member leaves full service (paused, down, its cluster service stopped): since when (what it will
        have missed); on S2D its copies go stale and every space shows a copy missing (Warning / Degraded,
        HCI-MAINT, SS-STATES). The caller evaluates availability afterwards."""
        if not node.member or self.offline is not None:
            return      # (while the cluster is stopped nothing writes: no copy goes stale)
        if node.out_since is None:
            node.out_since = self.clock.now()
        if self.s2d_enabled:
            node.stale = True
            if self.missed_since is None:
                self.missed_since = node.out_since
            for disk in self.virtual_disks:
                disk.health, disk.operational = 1, [3]

    def set_cluster_service(self, name, status, graceful=False):
        with self.lock:
            node = self.machine(name)
            node.cluster_service = status
            self.recorder.record('node.cluster_service', node=node.name, status=status, state=node.state)
            if status != 'Running':
                self.out_of_service(node)
            self.after_membership_change(graceful=graceful)

    def after_membership_change(self, graceful=False):
        """Quorum, roles and CSVs of nodes that left, S2D volumes: see availability.evaluate."""
        from .availability import evaluate  # availability builds on this module
        evaluate(self, graceful=graceful, membership=True)

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Frozen views of cluster objects, built from the shim's projections (``from_ps``).

Field names are snake_case; ``to_dict`` gives the module return values. Windows enum names are
kept as Windows spells them (``Up``, ``Paused``, ``InProgress``, ``Healthy``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from dataclasses import asdict, dataclass, field
from typing import List, Optional, Tuple

# ClusterFunctionalLevel -> product (Cluster OS Rolling Upgrade doc, windows-behaviour.md §4).
FUNCTIONAL_LEVELS = {8: 'Windows Server 2012 R2', 9: 'Windows Server 2016', 10: 'Windows Server 2019',
                     11: 'Windows Server 2022', 12: 'Windows Server 2025'}


@dataclass(frozen=True)
class Node:
    name: str
    id: str
    state: str
    drain_status: str
    status_information: Optional[str]
    node_weight: int
    dynamic_weight: int
    os_version: str
    build_number: int
    node_highest_version: int
    fault_domain: Tuple[str, ...] = ()
    model: str = ''
    manufacturer: str = ''
    serial_number: str = ''

    @classmethod
    def from_ps(cls, d):
        return cls(
            name=d['Name'], id=d['Id'], state=d['State'], drain_status=d['DrainStatus'],
            status_information=d.get('StatusInformation'), node_weight=int(d['NodeWeight']),
            dynamic_weight=int(d['DynamicWeight']),
            os_version='%s.%s.%s' % (d['MajorVersion'], d['MinorVersion'], d['BuildNumber']),
            build_number=int(d['BuildNumber']), node_highest_version=int(d.get('NodeHighestVersion') or 0),
            fault_domain=tuple(d.get('FaultDomain') or ()), model=d.get('Model') or '',
            manufacturer=d.get('Manufacturer') or '', serial_number=d.get('SerialNumber') or '')

    @property
    def functional_level(self):
        """The highest functional level the node's cluster service supports (high word)."""
        return self.node_highest_version >> 16


@dataclass(frozen=True)
class Group:
    name: str
    id: str
    group_type: str
    group_type_value: int
    owner_node: str
    state: str
    priority: int
    is_core_group: bool
    auto_failback_type: int
    preferred_owners: Tuple[str, ...] = ()

    @classmethod
    def from_ps(cls, d):
        return cls(name=d['Name'], id=d['Id'], group_type=d['GroupType'], group_type_value=int(d['GroupTypeValue']),
                   owner_node=d['OwnerNode'], state=d['State'], priority=int(d['Priority']),
                   is_core_group=bool(d['IsCoreGroup']), auto_failback_type=int(d['AutoFailbackType']),
                   preferred_owners=tuple(d.get('PreferredOwners') or ()))

    @property
    def is_vm(self):
        return self.group_type_value == 111  # CLUSGROUP_TYPE VirtualMachine


@dataclass(frozen=True)
class ClusterProperties:
    name: str
    id: str
    domain: str
    functional_level: int
    upgrade_version: int
    s2d_enabled: bool
    dynamic_quorum: bool
    witness_dynamic_weight: int
    answered_by: str
    product_name: str = ''

    @classmethod
    def from_ps(cls, d):
        return cls(name=d['Name'], id=d['Id'], domain=d.get('Domain') or '',
                   functional_level=int(d['ClusterFunctionalLevel']), upgrade_version=int(d['ClusterUpgradeVersion']),
                   s2d_enabled=bool(d['S2DEnabled']), dynamic_quorum=bool(d['DynamicQuorum']),
                   witness_dynamic_weight=int(d.get('WitnessDynamicWeight') or 0),
                   answered_by=d.get('ComputerName') or '', product_name=d.get('ProductName') or '')


@dataclass(frozen=True)
class Quorum:
    quorum_type: str
    resource: str
    resource_type: Optional[str]
    resource_state: Optional[str]

    @classmethod
    def from_ps(cls, d):
        return cls(quorum_type=d['QuorumType'], resource=d.get('QuorumResource') or '',
                   resource_type=d.get('QuorumResourceType'), resource_state=d.get('QuorumResourceState'))

    @property
    def has_witness(self):
        return bool(self.resource)


@dataclass(frozen=True)
class SharedVolume:
    name: str
    owner_node: str
    state: str
    path: Optional[str]

    @classmethod
    def from_ps(cls, d):
        return cls(name=d['Name'], owner_node=d['OwnerNode'], state=d['State'], path=d.get('FriendlyVolumeName'))


@dataclass(frozen=True)
class StoragePool:
    friendly_name: str
    version: Optional[str]
    health_status: str
    operational_status: Tuple[str, ...]
    is_read_only: bool
    size: int
    allocated_size: int

    @classmethod
    def from_ps(cls, d):
        return cls(friendly_name=d['FriendlyName'], version=d.get('Version'), health_status=d['HealthStatus'],
                   operational_status=tuple(d.get('OperationalStatus') or ()), is_read_only=bool(d['IsReadOnly']),
                   size=int(d['Size']), allocated_size=int(d['AllocatedSize']))


@dataclass(frozen=True)
class VirtualDisk:
    friendly_name: str
    health_status: str
    operational_status: Tuple[str, ...]
    resiliency: str
    size: int
    footprint_on_pool: int

    @classmethod
    def from_ps(cls, d):
        return cls(friendly_name=d['FriendlyName'], health_status=d['HealthStatus'],
                   operational_status=tuple(d.get('OperationalStatus') or ()),
                   resiliency=d.get('ResiliencySettingName') or '', size=int(d['Size']),
                   footprint_on_pool=int(d['FootprintOnPool']))

    @property
    def healthy(self):
        """HealthStatus Healthy: full redundancy, the only state in which another node may be taken out
        (windows-behaviour.md §8). That includes Healthy/Suboptimal (data not spread evenly; newer builds
        report it, Optimize-StoragePool evens it out), which no amount of waiting turns into OK."""
        return self.health_status == 'Healthy'

    @property
    def suboptimal(self):
        return self.healthy and tuple(self.operational_status) != ('OK',)

    @property
    def lost(self):
        """Unhealthy (No Redundancy: data lost) or Unknown (Detached: offline): waiting does not repair it."""
        return self.health_status in ('Unhealthy', 'Unknown')


# MSFT_StorageJob JobState values in which a job ended without completing.
JOB_FAILED_STATES = ('Terminated', 'Killed', 'Exception')


@dataclass(frozen=True)
class StorageJob:
    name: str
    job_state: str
    percent_complete: int
    bytes_processed: int
    bytes_total: int
    is_background_task: bool
    elapsed_time: Optional[str]

    @classmethod
    def from_ps(cls, d):
        return cls(name=d['Name'], job_state=d['JobState'], percent_complete=int(d['PercentComplete']),
                   bytes_processed=int(d['BytesProcessed']), bytes_total=int(d['BytesTotal']),
                   is_background_task=bool(d['IsBackgroundTask']), elapsed_time=d.get('ElapsedTime'))

    @property
    def finished(self):
        # Completed jobs linger for TimeBeforeRemoval; they count as done (windows-behaviour.md §8), and
        # so do jobs that ended without completing: nothing more will come of them.
        return self.job_state in ('Completed',) + JOB_FAILED_STATES

    @property
    def failed(self):
        return self.job_state in JOB_FAILED_STATES


# CLUSGROUP_TYPE ClusterUpdateAgent (clusapi.h): the CAU clustered role's group.
CAU_GROUP_TYPE = 117


@dataclass(frozen=True)
class CauRole:
    group_name: str
    owner_node: str
    state: str
    parameters: dict = field(default_factory=dict)
    settings_read: bool = True   # False: Get-CauClusterRole was refused (a second hop); parameters unknown

    @classmethod
    def from_ps(cls, d):
        return cls(group_name=d['GroupName'], owner_node=d['OwnerNode'], state=d['State'],
                   parameters=dict(d.get('Parameters') or {}), settings_read=d.get('Parameters') is not None)


@dataclass(frozen=True)
class ClusterState:
    """Everything ``cluster_info`` reads, in one snapshot."""

    cluster: ClusterProperties
    quorum: Quorum
    nodes: List[Node]
    groups: List[Group]
    shared_volumes: List[SharedVolume]
    storage_pools: List[StoragePool]
    virtual_disks: List[VirtualDisk]
    storage_jobs: List[StorageJob]
    cau_role: Optional[CauRole]
    run_lock: Optional[dict] = None
    cau_run: Optional[dict] = None          # cau_run_view(): RunState, RunId, CurrentOrchestrator, Nodes, summary

    def node(self, name):
        for node in self.nodes:
            if node.name.lower() == name.lower():
                return node
        return None

    def health(self):
        """The summary an administrator checks before touching a node."""
        nodes_up = [n.name for n in self.nodes if n.state == 'Up']
        not_up = dict((n.name, n.state) for n in self.nodes if n.state != 'Up')
        quorum = quorum_summary(self.nodes, self.quorum)
        running_jobs = [j.name for j in self.storage_jobs if not j.finished]
        unhealthy = dict((d.friendly_name, '%s/%s' % (d.health_status, ','.join(d.operational_status)))
                         for d in self.virtual_disks if not d.healthy)
        storage_healthy = not unhealthy and all(p.health_status == 'Healthy' for p in self.storage_pools)
        groups_failed = [g.name for g in self.groups if g.state in ('Failed', 'PartialOnline')]
        healthy = (not not_up and quorum['margin'] >= 1 and storage_healthy and not running_jobs
                   and not groups_failed)
        return {
            'healthy': healthy,
            'all_nodes_up': not not_up,
            'nodes_up': len(nodes_up),
            'nodes_total': len(self.nodes),
            'nodes_not_up': not_up,
            'quorum': quorum,
            'storage_healthy': storage_healthy,
            'storage_quiet': not running_jobs,
            'storage_jobs_running': running_jobs,
            'virtual_disks_not_healthy': unhealthy,
            'groups_failed': groups_failed,
        }

    def to_dict(self):
        return {
            'cluster': _plain(asdict(self.cluster), functional_level_name=FUNCTIONAL_LEVELS.get(
                self.cluster.functional_level, 'unknown')),
            'quorum': _plain(asdict(self.quorum)),
            'nodes': [_plain(asdict(n), functional_level=n.functional_level) for n in self.nodes],
            'groups': [_plain(asdict(g)) for g in self.groups],
            'shared_volumes': [_plain(asdict(v)) for v in self.shared_volumes],
            'storage_pools': [_plain(asdict(p)) for p in self.storage_pools],
            'virtual_disks': [_plain(asdict(d), healthy=d.healthy) for d in self.virtual_disks],
            'storage_jobs': [_plain(asdict(j)) for j in self.storage_jobs],
            'cau_role': _plain(asdict(self.cau_role)) if self.cau_role else None,
            'run_lock': self.run_lock,
            'cau_run': self.cau_run,
            'health': self.health(),
        }


def cau_run_view(value):
    """Get-CauRun as plain data with a one-line ``summary`` (run, orchestrator, each node's state)."""
    value = dict(value or {})
    state = value.get('RunState') or 'Unknown'
    nodes = [{'node': n.get('Node'), 'status': n.get('Status')} for n in value.get('Nodes') or []]
    summary = state
    if value.get('RunId'):
        summary += ' (run %s orchestrated by %s%s)' % (
            value['RunId'], value.get('CurrentOrchestrator') or 'unknown',
            '; ' + ', '.join('%s %s' % (n['node'], n['status']) for n in nodes) if nodes else '')
    elif value.get('Error'):
        summary += ' (%s)' % value['Error']
    return {'run_state': state, 'run_id': value.get('RunId') or None,
            'orchestrator': value.get('CurrentOrchestrator') or None, 'nodes': nodes, 'summary': summary,
            'in_progress': state not in ('RunNotInProgress', 'NotInstalled')}


def quorum_summary(nodes, quorum):
    """Votes present against the majority needed, counting configured node weights and the witness.

    A node that is Up or Paused is in active membership and keeps its vote; Down/Joining does not.
    The witness counts when the quorum type has one and its resource is Online. The margin is how
    many more votes may be lost before quorum is (margin 0 means: one more lost vote and it is gone).
    """
    node_votes = sum(n.node_weight for n in nodes)
    present = sum(n.node_weight for n in nodes if n.state in ('Up', 'Paused'))
    witness_votes = 1 if quorum.has_witness else 0
    witness_present = 1 if quorum.has_witness and quorum.resource_state == 'Online' else 0
    total = node_votes + witness_votes
    needed = total // 2 + 1
    have = present + witness_present
    return {
        'type': quorum.quorum_type,
        'votes_total': total,
        'votes_present': have,
        'votes_needed': needed,
        'margin': have - needed,
        'has_quorum': have >= needed,
        'witness': quorum.resource or None,
        'witness_online': bool(witness_present),
    }


def _plain(d, **extra):
    out = {}
    for key, value in d.items():
        out[key] = list(value) if isinstance(value, tuple) else value
    out.update(extra)
    return out

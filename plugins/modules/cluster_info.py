#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cluster_info
short_description: Read a Windows Server failover cluster's nodes, roles, quorum and storage health
version_added: 0.1.0
description:
  - Reads, in one WinRM round trip, the cluster properties (name, functional level, upgrade version,
    S2D), the quorum configuration and witness, every node (state, drain status, votes, OS build,
    fault domain), every clustered role (type, owner, state, priority, preferred owners), the cluster
    shared volumes, the Storage Spaces Direct pool, virtual disks and running storage jobs, the
    Cluster-Aware Updating clustered role if there is one, and the wsfc.rolling run lock.
  - Adds a computed RV(health) summary - are all nodes up, how many votes quorum can still lose,
    is storage healthy and quiet - which is what the rolling roles check before they touch a node.
  - Never changes anything.
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
  - wsfc.rolling.winrm.READ_ONLY
options:
  cluster_name:
    description:
      - The name the cluster is expected to have. When set and O(winrm_host) belongs to another cluster,
        the module fails instead of reporting the wrong cluster.
    type: str
  target_build:
    description:
      - A build to plan a rolling OS upgrade to (for example V(20348), Windows Server 2022 or Azure Stack HCI
        21H2, or V(25398), Azure Stack HCI 23H2). The release is the build in the cluster's product (Windows
        Server or Azure Stack HCI, from the ProductName of the node that answers).
      - Adds RV(upgrade); fails when the target is of another product, older than the cluster or a node, or more
        than one release up from a node, naming the allowed next step.
    type: int
  method:
    description:
      - With O(target_build), how the nodes would be upgraded; V(reprovision) (a reinstall) is refused on a
        cluster with Storage Spaces Direct, whose nodes keep their drives only through an in-place upgrade.
    type: str
    choices: [reprovision, in_place]
  lock_stale_after:
    description: Seconds without a heartbeat after which RV(run_lock) is reported as abandoned.
    type: int
    default: 600
seealso:
  - name: Get-ClusterNode
    description: The cmdlet behind RV(nodes).
    link: https://learn.microsoft.com/powershell/module/failoverclusters/get-clusternode
  - name: Get-StorageJob
    description: The cmdlet behind RV(storage_jobs).
    link: https://learn.microsoft.com/powershell/module/storage/get-storagejob
'''

EXAMPLES = r'''
- name: Read the cluster through its cluster name
  wsfc.rolling.cluster_info:
    winrm_host: hvclu01.contoso.com
    winrm_user: CONTOSO\svc-patch
    winrm_password: "{{ vault_patch_password }}"
  delegate_to: localhost
  register: cluster

- name: Stop when the cluster is not healthy
  ansible.builtin.assert:
    that: cluster.health.healthy
    fail_msg: "Cluster is not healthy: {{ cluster.health }}"

- name: Connection options once for every task of the collection
  module_defaults:
    group/wsfc.rolling.winrm:
      winrm_host: hvclu01.contoso.com
      winrm_user: CONTOSO\svc-patch
      winrm_password: "{{ vault_patch_password }}"
  block:
    - name: Read the cluster, which must be HVCLU01
      wsfc.rolling.cluster_info:
        cluster_name: HVCLU01
      delegate_to: localhost
'''

RETURN = r'''
cluster:
  description: Cluster properties.
  returned: success
  type: dict
  sample: {name: HVCLU01, functional_level: 10, functional_level_name: Windows Server 2019,
           upgrade_version: 3, s2d_enabled: false, dynamic_quorum: true, answered_by: HV-N1}
quorum:
  description: Quorum type and witness resource.
  returned: success
  type: dict
  sample: {quorum_type: NodeAndFileShareMajority, resource: File Share Witness,
           resource_type: File Share Witness, resource_state: Online}
nodes:
  description: Every cluster node; C(state) is Up, Down, Paused or Joining, C(drain_status) NotInitiated,
    InProgress, Completed or Failed.
  returned: success
  type: list
  elements: dict
  sample: [{name: HV-N1, id: "1", state: Up, drain_status: NotInitiated, node_weight: 1, dynamic_weight: 1,
            os_version: 10.0.17763, build_number: 17763, functional_level: 10, fault_domain: []}]
groups:
  description: Every clustered role (group), with C(priority) 3000 High, 2000 Medium, 1000 Low, 0 No Auto Start.
  returned: success
  type: list
  elements: dict
  sample: [{name: VM01, group_type: VirtualMachine, group_type_value: 111, owner_node: HV-N1, state: Online,
            priority: 2000, preferred_owners: [HV-N1, HV-N2]}]
shared_volumes:
  description: Cluster shared volumes.
  returned: success
  type: list
  elements: dict
storage_pools:
  description: Non-primordial storage pools (the S2D pool), C([]) without S2D.
  returned: success
  type: list
  elements: dict
virtual_disks:
  description: Virtual disks with C(health_status) and C(operational_status) as Windows names them.
  returned: success
  type: list
  elements: dict
storage_jobs:
  description: Storage jobs (repair, regeneration); C([]) when storage is quiet.
  returned: success
  type: list
  elements: dict
cau_role:
  description:
    - The Cluster-Aware Updating clustered role and its parameters, or null when there is none.
    - C(settings_read) is false when C(Get-CauClusterRole) was refused (it reads the node that owns the role, a
      second hop from a session without delegation); the task then warns and C(parameters) is empty.
  returned: success
  type: dict
run_lock:
  description:
    - The wsfc.rolling run lock when a rolling run holds the cluster (see M(wsfc.rolling.cluster_lock)), else null.
    - C(age) and C(heartbeat_age) are seconds (cluster clock) since it was taken and since its run last showed it
      was alive; C(abandoned) is true when that run is gone (failed, expired, or no heartbeat for
      O(lock_stale_after) seconds), so that the same owner may resume it.
  returned: success
  type: dict
  sample: {owner: patch-job, run_id: 20261201T220000Z, status: running, node: HV-N2, heartbeat_age: 42, abandoned: false}
health:
  description:
    - Summary computed from the above. C(quorum.margin) is how many more votes may be lost before
      quorum is lost, counting configured node weights and the witness (dynamic quorum can only do better).
  returned: success
  type: dict
  sample: {healthy: true, all_nodes_up: true, nodes_up: 4, nodes_total: 4, storage_healthy: true,
           storage_quiet: true, quorum: {votes_total: 5, votes_present: 5, votes_needed: 3, margin: 2}}
upgrade:
  description:
    - With O(target_build), the rolling upgrade plan. The target must be the cluster's functional level or
      the next one, and not older than any node (else the task fails, naming why).
  returned: when O(target_build) is given
  type: dict
  sample: {target_build: 20348, target_level: 11, target_release: Windows Server 2022, product: Windows Server,
           nodes_on_target: [HV-N1], nodes_to_upgrade: [HV-N2, HV-N3, HV-N4]}
round_trips:
  description: WinRM round trips the module made (one PowerShell execution each).
  returned: success
  type: int
  sample: 1
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import winrm_argument_spec
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import upgrade
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.queries import read_cluster_state
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, session_from_module


def _read(module):
    target = module.params['target_build']
    if target is not None:
        upgrade.check_build(target)
    # Through winrm_host, or the next of winrm_fallback_hosts when it cannot be reached.
    with session_from_module(module) as runner:
        state = read_cluster_state(runner, expected_cluster=module.params['cluster_name'],
                                   lock_stale_after=module.params['lock_stale_after'])
        result = state.to_dict()
        if target is not None:
            result['upgrade'] = upgrade.plan(state.cluster, state.nodes, target, module.params['method'])
        result.update(changed=False, round_trips=runner.round_trips)
    return result


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(cluster_name=dict(type='str'), target_build=dict(type='int'),
                         method=dict(type='str', choices=['reprovision', 'in_place']),
                         lock_stale_after=dict(type='int', default=600))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _read)


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cluster_functional_level
short_description: Raise the cluster functional level after a rolling OS upgrade (irreversible, explicit opt-in)
version_added: 0.1.0
description:
  - Finishes a cluster OS rolling upgrade the way Microsoft's procedure does, in this order, each step only
    when needed - C(Update-ClusterFunctionalLevel), then C(Update-StoragePool) for every storage pool, then,
    only for the virtual machines named in O(vm_names), C(Update-VMVersion).
  - B(Each of these steps is permanent.) After the functional level is raised, nodes on the older OS can no
    longer join and the cluster cannot go back; the only way back is an authoritative restore of a System
    State backup of the cluster database taken before. So the module changes nothing unless
    O(accept_irreversible=true).
  - Refuses unless every node is C(Up) (not paused, not down) and every node runs the newer OS.
  - In check mode it runs C(Update-ClusterFunctionalLevel -WhatIf), Windows' own check that the update would
    succeed, and reports what would change.
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
options:
  accept_irreversible:
    description:
      - Must be V(true) for anything to change. It says that you know the functional level, the storage pool
        version and the VM configuration versions cannot be lowered again.
    type: bool
    default: false
  update_storage_pool:
    description: Also update the storage pools' version (after the functional level, as Microsoft requires).
    type: bool
    default: true
  vm_names:
    description:
      - Virtual machines whose configuration version to update to the hosts' default, or V(*) for all. A running
        VM is shut down for it and started again, so it is done only with O(allow_vm_stop=true).
    type: list
    elements: str
    default: []
  allow_vm_stop:
    description: Allow shutting down the running VMs of O(vm_names) for their version update (downtime).
    type: bool
    default: false
  node_hosts:
    description:
      - WinRM address of every node by name; VM versions are updated on the VM's owner node. Needed with
        O(vm_names).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Runs the C(-WhatIf) check and reports; changes nothing.
  diff_mode:
    support: full
    description: Shows the functional level, pool versions and VM versions before and after.
notes:
  - Finish the rolling upgrade within four weeks; Microsoft supports mixed-OS mode only that long.
seealso:
  - module: wsfc.rolling.cluster_node
'''

EXAMPLES = r'''
- name: Check whether the functional level could be raised (no change)
  wsfc.rolling.cluster_functional_level:
  check_mode: true
  delegate_to: localhost

- name: Raise the functional level and update the storage pool, knowing it cannot be undone
  wsfc.rolling.cluster_functional_level:
    accept_irreversible: true
  delegate_to: localhost
'''

RETURN = r'''
functional_level:
  description: The cluster functional level when the task ended (unchanged in check mode).
  returned: success
  type: int
  sample: 11
target_level:
  description: The level of the newest OS among the nodes, which the update raises the cluster to once every node runs it.
  returned: success
  type: int
storage_pools_updated:
  description: Storage pools whose version was (or in check mode would be) updated.
  returned: success
  type: list
  elements: str
vms_updated:
  description: Virtual machines whose configuration version was (or would be) updated.
  returned: success
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import winrm_argument_spec
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import finalize
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, runner_from_module, session_from_module

IRREVERSIBLE = ('This cannot be undone: raising the cluster functional level (and the storage pool and VM '
                'configuration versions) is permanent; set accept_irreversible=true to go ahead.')


def _require_opt_in(module):
    """Every irreversible step needs accept_irreversible, except to report it in check mode."""
    finalize.require(module.check_mode or module.params['accept_irreversible'], IRREVERSIBLE)


def _vms(module, nodes, apply=True):
    """Update the outdated VMs named in vm_names on their owner nodes (or, in check mode, list them).
    With ``apply=False`` only check, before anything changes, that no named VM would need a stop
    that allow_vm_stop does not allow."""
    p = module.params
    wanted = set(p['vm_names'])
    found, updated = set(), []
    for node in nodes:
        if node.name not in p['node_hosts']:
            raise InvalidOption('node_hosts has no WinRM address for node %s (needed for vm_names)' % node.name)
        with runner_from_module(module, host=p['node_hosts'][node.name], node=node.name) as runner:
            for vm in finalize.list_vms(runner, node.name):
                if '*' not in wanted and vm['Name'] not in wanted:
                    continue
                found.add(vm['Name'])
                if not apply:
                    finalize.require(p['allow_vm_stop'] or vm['State'] == 'Off',
                                     "VM '%s' is %s: updating its configuration version shuts it down; set "
                                     'allow_vm_stop=true to allow that' % (vm['Name'], vm['State']))
                    continue
                if not finalize.vm_outdated(vm):
                    continue
                _require_opt_in(module)
                finalize.require(p['allow_vm_stop'] or vm['State'] == 'Off',
                                 "VM '%s' is %s: updating its configuration version shuts it down; set allow_vm_stop=true "
                                 'to allow that' % (vm['Name'], vm['State']))
                if not module.check_mode:
                    finalize.update_vm(runner, vm['Name'], p['allow_vm_stop'])
                updated.append(vm['Name'])
    missing = sorted(wanted - found - {'*'})
    if missing:
        raise InvalidOption('No such virtual machines on the cluster nodes: %s' % ', '.join(missing))
    return updated


def _apply(module):
    p = module.params
    real = not module.check_mode
    with session_from_module(module) as session:
        cluster, nodes, pools = finalize.read(session)
        target = max(n.functional_level for n in nodes)
        before = {'functional_level': cluster.functional_level, 'pools': dict((x['FriendlyName'], x['Version']) for x in pools)}
        result = {'changed': False, 'functional_level': cluster.functional_level, 'target_level': target,
                  'storage_pools_updated': [], 'vms_updated': []}
        raise_level = target > cluster.functional_level
        if p['vm_names'] and not p['allow_vm_stop']:
            _vms(module, nodes, apply=False)  # refuse before the first irreversible step, not after it
        if raise_level:
            blockers = finalize.blockers(nodes)
            finalize.require(not blockers, 'Not raising the functional level of %s from %d: %s'
                             % (cluster.name, cluster.functional_level, '; '.join(blockers)))
            finalize.update_level(session, what_if=True)  # Windows' own check first, in check mode too
            _require_opt_in(module)
            if real:
                result['functional_level'] = finalize.update_level(session, what_if=False)['ClusterFunctionalLevel']
                module.warn('The functional level of %s was raised from %d to %d; this is permanent.'
                            % (cluster.name, cluster.functional_level, result['functional_level']))
        after_pools = dict(before['pools'])
        if p['update_storage_pool']:
            # Nodes below the functional level cannot be members, so ``target`` is the level now or after the raise.
            outdated = [x['FriendlyName'] for x in pools if finalize.pool_outdated(x, target)]
            if outdated and not raise_level:
                _require_opt_in(module)
            if real:
                for name in outdated:
                    after_pools[name] = finalize.update_pool(session, name)['Version']
            result['storage_pools_updated'] = outdated
        if p['vm_names']:
            result['vms_updated'] = _vms(module, nodes)
        result['changed'] = bool(raise_level or result['storage_pools_updated'] or result['vms_updated'])
        result['diff'] = {'before': before, 'after': {'functional_level': target if raise_level else cluster.functional_level,
                                                      'pools': after_pools, 'vms_updated': result['vms_updated']}}
        result['round_trips'] = session.round_trips
    return result


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(
        accept_irreversible=dict(type='bool', default=False),
        update_storage_pool=dict(type='bool', default=True),
        vm_names=dict(type='list', elements='str', default=[]),
        allow_vm_stop=dict(type='bool', default=False),
        node_hosts=dict(type='dict', default={}),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _apply)


if __name__ == '__main__':
    main()

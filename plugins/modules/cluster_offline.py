#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cluster_offline
short_description: Take a whole failover cluster offline for an update and bring it back (the fast offline update)
version_added: 0.4.0
description:
  - The steps of the fast offline update around the installation, for a maintenance window in which the workloads
    stop. V(stopped) records the roles that run, stops them (C(Stop-ClusterGroup)), stops the cluster (C(Stop-Cluster))
    and sets the cluster service to Disabled on every node, so that no node starts it alone while the others are
    updated. V(updated) notes that one node is updated (after M(wsfc.rolling.node_updates) with
    O(wsfc.rolling.node_updates#module:cluster_stopped=true)). V(started) refuses until every node is noted updated,
    then sets the cluster service back to Automatic, starts the cluster (C(Start-Cluster)), waits for every node, for
    the storage jobs and for healthy virtual disks, and brings back every role that was online.
  - The record (roles, phase, each node updated or not) is kept on every node's own disk, not in the cluster database
    (which is not there while the cluster is stopped), so a re-run from any controller finishes what an interrupted
    one began.
  - Taking the cluster offline needs O(confirm) set to the cluster's name.
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
options:
  state:
    description: V(stopped), V(updated) (one node, O(name)) or V(started).
    type: str
    required: true
    choices: [stopped, updated, started]
  confirm:
    description: With O(state=stopped), the cluster's name, to confirm that every role stops until the update ends.
    type: str
  node_hosts:
    description: Every node of the cluster and the address it answers WinRM on (node name to host).
    type: dict
    required: true
  name:
    description: With O(state=updated), the node that is updated.
    type: str
  wait_timeout:
    description: Seconds to wait for the nodes and for the roles to come back.
    type: int
    default: 3600
  storage_timeout:
    description: Seconds to wait for storage jobs to end and virtual disks to be healthy after the start.
    type: int
    default: 14400
  storage_stall_timeout:
    description: Seconds a storage job may make no progress before the wait fails.
    type: int
    default: 1800
  poll_interval:
    description: Seconds between polls.
    type: float
    default: 5.0
notes:
  - Stop-Cluster, Start-Cluster and Stop-/Start-ClusterGroup are documented at
    U(https://learn.microsoft.com/powershell/module/failoverclusters/).
'''

EXAMPLES = r'''
- name: Take the cluster offline for the update
  wsfc.rolling.cluster_offline:
    state: stopped
    confirm: HVCLU01
    node_hosts: {HV-N1: hv-n1.contoso.com, HV-N2: hv-n2.contoso.com}
  delegate_to: localhost
'''

RETURN = r'''
record:
  description: The offline update's record (roles, phase, and for a node whether it is updated), or null once cleared.
  returned: success
  type: dict
lines:
  description: What was done, in words.
  returned: success
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import winrm_argument_spec
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import offline
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, runner_from_module, session_from_module


def _run(module):
    p = module.params
    if not p['node_hosts']:
        raise InvalidOption('node_hosts must name every node of the cluster and its address')
    if p['state'] == 'updated' and p['name'] not in (p['node_hosts'] or {}):
        raise InvalidOption('state=updated needs name, one of node_hosts (%s), got %r' % (', '.join(sorted(p['node_hosts'])), p['name']))
    nodes = offline.Nodes(p['node_hosts'], lambda name, host: runner_from_module(module, host=host, node=name))
    try:
        with session_from_module(module) as session:
            if p['state'] == 'stopped':
                changed, record, lines = offline.stop(session, nodes, p['confirm'], module.check_mode)
            elif p['state'] == 'updated':
                boot = nodes.call(p['name'], 'node.boot')
                if module.check_mode:
                    return {'changed': True, 'record': None, 'lines': ['check mode: %s not marked' % p['name']]}
                changed, record = offline.mark_updated(nodes, p['name'], boot)
                lines = ['%s is updated (build %s)' % (p['name'], record.get('build'))]
            else:
                changed, record, lines = offline.start(session, nodes, p['wait_timeout'], p['poll_interval'], p['storage_timeout'],
                                                       p['storage_stall_timeout'], module.check_mode)
    finally:
        nodes.close()
    return {'changed': changed, 'record': record, 'lines': lines}


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(
        state=dict(type='str', required=True, choices=['stopped', 'updated', 'started']),
        confirm=dict(type='str'),
        node_hosts=dict(type='dict', required=True),
        name=dict(type='str'),
        wait_timeout=dict(type='int', default=3600),
        storage_timeout=dict(type='int', default=14400),
        storage_stall_timeout=dict(type='int', default=1800),
        poll_interval=dict(type='float', default=5.0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _run)


if __name__ == '__main__':
    main()

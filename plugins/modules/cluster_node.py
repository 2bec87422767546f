#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cluster_node
short_description: Pause (drain), resume, evict or add a Windows Server failover cluster node
version_added: 0.1.0
description:
  - O(state=paused) runs C(Suspend-ClusterNode), draining the node by default, and waits until its
    C(DrainStatus) is C(Completed), reporting roles moved and remaining while it waits.
  - O(state=up) runs C(Resume-ClusterNode) with the chosen failback and waits until the node is C(Up)
    and, with O(failback=immediate), its roles are back.
  - O(state=absent) evicts the node (C(Remove-ClusterNode -Force)). Only a node that is drained
    (C(Paused)) or C(Down) is evicted; an C(Up) node is refused, so that no role fails over.
  - O(state=present) adds the node (C(Add-ClusterNode)), run on the joining node itself through
    O(node_host) as the rolling-upgrade procedure asks (a node on the newer OS adds itself), and, with
    O(failback_roles), moves those roles back to it by live migration and waits for them.
  - Evicting, adding and moving roles need a delegated credential over WinRM; see O(winrm_delegation).
  - The commands run on a surviving node (O(winrm_host) or one of O(winrm_fallback_hosts)), never on
    the node being paused or evicted.
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
  - wsfc.rolling.winrm.LEFT_PAUSED
  - wsfc.rolling.winrm.WAIT
  - wsfc.rolling.winrm.HEARTBEAT
attributes:
  check_mode:
    support: full
    description: Reports what would change without pausing or resuming.
  diff_mode:
    support: full
    description: Shows the node state before and after.
options:
  name:
    description: Name of the cluster node.
    type: str
    required: true
  state:
    description:
      - V(paused) pauses the node (and drains it unless O(drain=false)); V(up) resumes it.
      - V(absent) evicts it; V(present) adds it (it stays as it is if it already is a member).
      - There is no default; this module is disruptive.
    type: str
    required: true
    choices: [paused, up, absent, present]
  node_host:
    description:
      - With O(state=present), the WinRM address of the node to add; C(Add-ClusterNode) runs there.
    type: str
  ignore_storage_loss:
    description:
      - With O(state=absent) on Storage Spaces Direct, evict even though the node's drives leave the pool
        (C(-IgnoreStorageConnectivityLoss)). The pool then repairs onto the remaining drives.
    type: bool
    default: false
  drain:
    description: With O(state=paused), move the node's roles to other nodes (live migration for VMs).
    type: bool
    default: true
  force_drain:
    description:
      - With O(state=paused), roles that cannot move are stopped and moved as failed roles, and the
        node is paused anyway. Only on explicit request; this stops workloads.
    type: bool
    default: false
  drain_target:
    description:
      - With O(state=paused) and O(drain), the node to move every role to (C(Suspend-ClusterNode -TargetNode)), as the
        runbooks' leapfrog does with the node updated just before. When that drain fails (a role found no room there),
        the node is drained once more without a target, letting the cluster place what is left.
    type: str
  failback:
    description:
      - With O(state=up), how the roles drained from the node come back.
      - V(immediate) moves them back at once, V(policy) follows each role's failback policy, V(none)
        leaves them where they are.
    type: str
    choices: [immediate, policy, none]
    default: immediate
  failback_roles:
    description:
      - With O(state=up) and O(failback=immediate), the roles to wait for. Defaults to the roles whose
        first preferred owner is this node.
      - With O(state=present), roles to move to the node once it has joined (live migration for VMs), for
        example the roles it owned before it was evicted. Default none.
    type: list
    elements: str
  min_quorum_margin:
    description:
      - With O(state=absent), votes quorum must keep to spare without this node before it is evicted (default 1
        with 4 or more votes, else 0, also for a negative value); every other node must be Up too. An offline witness counts as a lost vote.
    type: int
  failback_placement:
    description:
      - With O(state=up) and O(failback=immediate), RV(placement) of the drain (role name to the node the drain
        moved it to). Only the roles that still run on that node are waited for; roles that failed over or
        were moved elsewhere since are not. Takes precedence over O(failback_roles); V({}) waits for none.
    type: dict
  wait_timeout:
    description: Seconds to wait for the drain or the failback.
    type: int
    default: 1800
notes:
  - A drain that ends C(Failed) fails the task and names the roles that did not move; the node stays
    paused. A paused node is never resumed by this module unless O(state=up) is asked for.
  - On Storage Spaces Direct, C(Suspend-ClusterNode) is refused while a space is degraded or repairing;
    the module says so. Use M(wsfc.rolling.storage_health) to wait first.
seealso:
  - module: wsfc.rolling.cluster_gate
  - module: wsfc.rolling.storage_health
'''

EXAMPLES = r'''
- name: Drain HV-N2 through the cluster name, with the other nodes as fallbacks
  wsfc.rolling.cluster_node:
    name: HV-N2
    state: paused
    winrm_host: hvclu01.contoso.com
    winrm_fallback_hosts: [hv-n1.contoso.com, hv-n3.contoso.com]
  delegate_to: localhost

- name: Resume HV-N2 and bring its roles back
  wsfc.rolling.cluster_node:
    name: HV-N2
    state: up
    failback: immediate
  delegate_to: localhost
'''

RETURN = r'''
node:
  description: The node after the operation (with O(state=absent) or V(present), its membership).
  returned: success
  type: dict
  sample: {name: HV-N2, state: Paused, drain_status: Completed, roles_owned: []}
roles_moved:
  description: Roles that left the node during the drain, or came back during the failback.
  returned: success
  type: list
  elements: str
drain_target:
  description: With O(drain_target), the node the drain moved the roles to, or empty when the cluster placed them.
  returned: when a drain ran with O(drain_target)
  type: str
roles_not_back:
  description: Roles the failback (or the move back after O(state=present)) did not bring back because their live
    migration failed or was cancelled; they run on where they were, and a warning names them.
  returned: when some did not come back
  type: list
  elements: str
placement:
  description: With O(state=paused), where the drain put each role it moved (role name to node); give it to
    O(failback_placement) when resuming.
  returned: when a drain ran
  type: dict
  sample: {VM-07: HV-N3, VM-12: HV-N1}
round_trips:
  description: WinRM round trips made.
  returned: always
  type: int
polls:
  description: How many of RV(round_trips) were status polls of the wait.
  returned: always
  type: int
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import (
    check_wait_options, wait_argument_spec, winrm_argument_spec)
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import membership, nodes
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption, RemoteCommandError
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, runner_from_module, session_from_module


def _membership(module, session):
    """state absent / present: evict, or add and bring the given roles home."""
    p = module.params
    name = p['name']
    cluster, members, quorum = membership.read_members(session)
    node = membership.find(members, name)
    before = {'name': name, 'member': node is not None, 'state': node.state if node else None}
    result = {'changed': False, 'node': before, 'roles_moved': [], 'diff': {'before': before, 'after': before}}
    if p['state'] == 'absent':
        if node is None:
            return result
        after = {'name': name, 'member': False, 'state': None}
        if not module.check_mode:
            membership.evict(session, node, p['ignore_storage_loss'], members, quorum, p['min_quorum_margin'], p['left_paused'])
    else:
        if node is not None:
            return result
        if not p['node_host']:
            raise InvalidOption('node_host (the WinRM address of %s) is required with state=present' % name)
        after = {'name': name, 'member': True, 'state': 'Up'}
        if not module.check_mode:
            with runner_from_module(module, host=p['node_host'], node=name) as runner:
                joined = membership.add(runner, cluster.name, name)
                result['node_round_trips'] = runner.round_trips
            after = {'name': name, 'member': True, 'state': joined.state}
            roles = p['failback_roles'] or []
            if roles:
                membership.move_roles(session, roles, name)
                not_back = []
                if p['wait']:
                    dummy, not_back = nodes.wait_failback(session, name, roles, p['wait_timeout'], p['poll_interval'])
                    _report_not_back(module, result, name, not_back)
                result['roles_moved'] = [r for r in roles if r not in not_back]
    result.update(changed=True, node=after, diff={'before': before, 'after': after})
    return result


def _report_not_back(module, result, name, not_back):
    """Roles a move back to ``name`` did not bring: in the result, and a warning naming them."""
    if not_back:
        result['roles_not_back'] = not_back
        module.warn('The move back to %s did not bring back %s: the live migration failed and the cluster does not '
                    'try again; they run on where they were (move them with Move-ClusterVirtualMachineRole, or leave '
                    'them)' % (name, ', '.join(not_back)))


def _suspend(session, name, p, target):
    """Suspend (drain) the node, to ``target`` if given; a target the cluster refuses (no longer up) is dropped and
    the cluster places the roles. Returns the target the drain went to, or None."""
    if target:
        try:
            nodes.suspend(session, name, p['drain'], p['force_drain'], target=target)
            return target
        except RemoteCommandError:
            pass
    nodes.suspend(session, name, p['drain'], p['force_drain'])
    return None


def _apply(module):
    p = module.params
    check_wait_options(p)
    name, state = p['name'], p['state']
    with session_from_module(module, exclude=name) as session:
        if state in ('absent', 'present'):
            result = _membership(module, session)
            result.update(round_trips=session.round_trips + result.pop('node_round_trips', 0), polls=session.polls)
            return result
        view = nodes.read_node(session, name)
        before = view.to_dict()
        result = {'changed': False, 'node': before, 'roles_moved': [], 'diff': {'before': before, 'after': before}}
        if state == 'paused':
            # Drained means owning nothing: a drain that completed while a role stayed, or a VM whose live migration
            # landed after the drain took its list, gets drained again (a retry of the task then does it).
            done = view.node.state == 'Paused' and (not p['drain'] or (view.node.drain_status == 'Completed' and not view.owned))
            if not done and not module.check_mode:
                owned = [g.name for g in view.owned]
                target = p['drain_target'] if p['drain'] else None
                if view.node.state != 'Paused' or view.node.drain_status != 'InProgress':
                    target = _suspend(session, name, p, target)
                if p['drain'] and p['wait']:
                    try:
                        view = nodes.wait_drained(session, name, p['wait_timeout'], p['poll_interval'])
                    except RemoteCommandError:
                        if not target:
                            raise
                        # What found no room on the target: the cluster places it.
                        target = _suspend(session, name, p, None)
                        view = nodes.wait_drained(session, name, p['wait_timeout'], p['poll_interval'])
                    result['drain_target'] = target or ''
                else:
                    view = nodes.read_node(session, name)
                result['roles_moved'] = [r for r in owned if r not in set(g.name for g in view.owned)]
                owners = dict((g.name, g.owner_node) for g in view.groups)
                result['placement'] = dict((r, owners.get(r)) for r in result['roles_moved'])
        else:
            done = view.node.state == 'Up'
            if not done and not module.check_mode:
                if p['failback_placement'] is not None:
                    # Only the roles this drain moved and that still run where it put them: a role
                    # that failed over or was moved by someone since is not ours to wait for.
                    owners = dict((g.name, g.owner_node) for g in view.groups)
                    roles = [r for r, owner in sorted(p['failback_placement'].items())
                             if owner and (owners.get(r) or '').lower() == owner.lower()]
                elif p['failback_roles'] is not None:
                    roles = p['failback_roles']
                else:
                    roles = nodes.preferred_roles(view)
                away = [r for r in roles if r not in set(g.name for g in view.owned)]
                nodes.resume(session, name, p['failback'])
                if p['wait'] and p['failback'] == 'immediate':
                    view, not_back = nodes.wait_failback(session, name, away, p['wait_timeout'], p['poll_interval'])
                    _report_not_back(module, result, name, not_back)
                else:
                    view = nodes.read_node(session, name)
                result['roles_moved'] = [r for r in away if r in set(g.name for g in view.owned)]
        if not done:
            after = view.to_dict() if not module.check_mode else dict(before, state='Paused' if state == 'paused' else 'Up')
            result.update(changed=True, node=after, diff={'before': before, 'after': after})
        result.update(round_trips=session.round_trips, polls=session.polls)
    return result


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(wait_argument_spec(1800))
    argument_spec.update(
        name=dict(type='str', required=True),
        state=dict(type='str', required=True, choices=['paused', 'up', 'absent', 'present']),
        node_host=dict(type='str'),
        ignore_storage_loss=dict(type='bool', default=False),
        drain=dict(type='bool', default=True),
        force_drain=dict(type='bool', default=False),
        drain_target=dict(type='str'),
        failback=dict(type='str', default='immediate', choices=['immediate', 'policy', 'none']),
        failback_roles=dict(type='list', elements='str'),
        failback_placement=dict(type='dict'),
        min_quorum_margin=dict(type='int'),
        left_paused=dict(type='list', elements='str', default=[]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _apply)


if __name__ == '__main__':
    main()

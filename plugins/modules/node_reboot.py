#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: node_reboot
short_description: Restart a cluster node and wait until it is really back
version_added: 0.1.0
description:
  - Restarts the node O(winrm_host) points at and waits until it has a new boot time, answers WinRM, runs
    the cluster service and is back in cluster membership (C(Paused) if it was paused, since a pause
    survives a restart, otherwise C(Up)).
  - A restart is not idempotent; the module always reports C(changed) when it restarts. With
    O(only_if_required=true) it restarts only when a restart is pending, which makes re-runs safe.
  - The timeout message names the last state seen (WinRM refused, not restarted yet, cluster service
    stopped, node still joining).
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
  - wsfc.rolling.winrm.LEFT_PAUSED
  - wsfc.rolling.winrm.WAIT
  - wsfc.rolling.winrm.NODE_ID
  - wsfc.rolling.winrm.HEARTBEAT
attributes:
  check_mode:
    support: full
    description: Reports whether the node would restart.
  diff_mode:
    support: none
    description: The boot times before and after are returned instead.
options:
  name:
    description: Cluster node name of the node.
    type: str
    required: true
  only_if_required:
    description: Restart only when Windows reports a pending restart.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the node to come back (CAU's RebootTimeoutMinutes, default 15 minutes there).
    type: int
    default: 1800
  wait_for_return:
    description:
      - When the node does not answer at all, take it for a restart already under way (for example one started
        by a run whose controller was killed) and wait until it is back, restarting nothing.
    type: bool
    default: false
  gate:
    description:
      - Right before the restart, check in the same round trip that every other node is Up and that quorum keeps
        O(min_quorum_margin) without this node (an offline witness counts as a lost vote). When that does not
        hold, nothing is restarted and the task fails, naming the conditions.
    type: bool
    default: true
  min_quorum_margin:
    description: Votes quorum must keep to spare without this node; default (also for a negative value) 1 with 4 or more votes, else 0.
    type: int
notes:
  - Drain the node first (M(wsfc.rolling.cluster_node)); this module does not check that, only the cluster-wide
    conditions of O(gate).
  - Every round trip confirms that O(winrm_host) is the node O(name); another machine is refused before anything runs.
'''

EXAMPLES = r'''
- name: Restart HV-N2 if the updates need it
  wsfc.rolling.node_reboot:
    name: HV-N2
    winrm_host: hv-n2.contoso.com
    only_if_required: true
  delegate_to: localhost
'''

RETURN = r'''
rebooted:
  description: Whether the node was restarted.
  returned: success
  type: bool
boot_time_before:
  description: Last boot time before (ISO 8601, UTC).
  returned: success
  type: str
boot_time:
  description: Boot time now.
  returned: success
  type: str
build:
  description: OS build and update revision after the restart, like C(17763.7136).
  returned: success
  type: str
waited_for_return:
  description: With O(wait_for_return), whether the node was found down and waited for (nothing restarted).
  returned: when the node was waited for
  type: bool
cluster_state:
  description: The node's cluster state once back.
  returned: success
  type: str
round_trips:
  description: WinRM round trips made (polls included).
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
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import updates
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, runner_from_module


def _build(state):
    return '%s.%s' % (state.get('BuildNumber'), state.get('UBR'))


def _apply(module):
    p = module.params
    check_wait_options(p)
    with runner_from_module(module, node=p['name']) as runner:
        try:
            before = updates.boot_state(runner, p['name'])
        except updates.UNREACHABLE:
            if not p['wait_for_return'] or module.check_mode:
                raise
            # A restart already under way (its run's controller died): wait for it, restart nothing.
            after = updates.wait_back(runner, p['name'], p['wait_timeout'], p['poll_interval'])
            return {'changed': False, 'rebooted': False, 'waited_for_return': True, 'boot_time_before': None,
                    'boot_time': after['LastBootUpTime'], 'build': _build(after), 'cluster_state': after['ClusterState'],
                    'round_trips': runner.round_trips, 'polls': runner.polls}
        result = {'changed': False, 'rebooted': False, 'boot_time_before': before['LastBootUpTime'],
                  'boot_time': before['LastBootUpTime'], 'build': _build(before), 'cluster_state': before['ClusterState']}
        if p['only_if_required'] and not before.get('RebootPending'):
            result.update(round_trips=runner.round_trips, polls=runner.polls)
            return result
        if p['gate']:
            updates.restart_gate(before, p['name'], p['min_quorum_margin'], p['left_paused'])
        if module.check_mode:
            result.update(changed=True, round_trips=runner.round_trips, polls=runner.polls)
            return result
        before, after = updates.restart_and_wait(runner, p['name'], p['wait_timeout'], p['poll_interval'], before)
        result.update(changed=True, rebooted=True, boot_time=after['LastBootUpTime'], build=_build(after),
                      cluster_state=after['ClusterState'], round_trips=runner.round_trips, polls=runner.polls)
    return result


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(wait_argument_spec(1800))
    argument_spec.update(
        node_id=dict(type='str'),
        name=dict(type='str', required=True),
        only_if_required=dict(type='bool', default=False),
        wait_for_return=dict(type='bool', default=False),
        gate=dict(type='bool', default=True),
        min_quorum_margin=dict(type='int'),
        left_paused=dict(type='list', elements='str', default=[]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _apply)


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cau_run
short_description: Run a Cluster-Aware Updating Updating Run, follow it, and return its report per node
version_added: 0.2.0
description:
  - Starts C(Invoke-CauRun) with the plug-in and options given, follows the run with C(Get-CauRun) (per-node progress
    while it waits) and returns C(Get-CauReport -Last -Detailed) as structured results.
  - C(Invoke-CauRun) returns only when the run ends, hours later. It runs in a scheduled task on the node the
    connection reached, logged on as the user CAU acts as (O(cau_user), else the WinRM credential), with
    C(-Force), as Microsoft's Azure Stack HCI upgrade procedure runs it on a node; no WinRM command
    stays open (C(-ForceSelfUpdate) is added where the node's C(Invoke-CauRun) has it). Parameters that this node's
    C(Invoke-CauRun) lacks (their set differs between releases) are refused
    before anything starts.
  - Refuses while a wsfc.rolling run holds the cluster (its run lock), and the rolling runs refuse while an Updating
    Run holds it. While another Updating Run is going on, it is followed instead of starting one (RV(attached)).
  - A previous run that failed and left the cluster locked (C(Get-CauRun) RunFailed) is refused until
    O(force_recovery=true) asks for C(Invoke-CauRun -ForceRecovery).
  - The task fails when the run ends C(Failed) (more than O(max_failed_nodes) nodes failed); a run that ends
    C(PartiallyFailed) (failed nodes within the budget) succeeds and lists them in RV(failed_nodes).
  - In check mode, checks the options and the cluster and reports what would run; nothing starts.
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
  - wsfc.rolling.cau
options:
  force_recovery:
    description:
      - Clear the lock a previous failed run left (C(Invoke-CauRun -ForceRecovery)) before starting. Only on request;
        check first that no node was left paused or down.
    type: bool
    default: false
  wait:
    description: Follow the run to its end and return its report; V(false) returns once it has started.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to follow the run; past them the task fails and the run goes on.
    type: int
    default: 28800
  poll_interval:
    description: Seconds between looks at C(Get-CauRun).
    type: float
    default: 30.0
notes:
  - C(Invoke-CauRun) and its options are documented at
    U(https://learn.microsoft.com/powershell/module/clusterawareupdating/invoke-caurun).
seealso:
  - module: wsfc.rolling.cau_scan
'''

EXAMPLES = r'''
- name: Patch the cluster with CAU, at most one failed node
  wsfc.rolling.cau_run:
    max_failed_nodes: 1
    require_all_nodes_online: true
    cau_user: CONTOSO\svc-patch
    cau_password: "{{ vault_patch_password }}"
  delegate_to: localhost
  register: cau

- name: Azure Stack HCI 22H2 -> 23H2 through CAU's RollingUpgrade plug-in, setup media on a share
  wsfc.rolling.cau_run:
    plugin: Microsoft.RollingUpgradePlugin
    plugin_arguments: {WuConnected: 'false', PathToSetupMedia: '\\deploy\media\hci23h2'}
    enable_firewall_rules: true
  delegate_to: localhost
'''

RETURN = r'''
started:
  description: Whether this task started an Updating Run.
  returned: success
  type: bool
attached:
  description: An Updating Run was already going on; it was followed instead of starting one.
  returned: success
  type: bool
recovered:
  description: The id of the failed run whose lock O(force_recovery) cleared, or null.
  returned: success
  type: str
report:
  description: The run's report (C(Get-CauReport -Last -Detailed)) once it ended; null when not waited for.
  returned: success
  type: dict
  sample: {run_id: cau-17, status: PartiallyFailed, plugin: Microsoft.WindowsUpdatePlugin, duration_seconds: 5400.0,
           nodes: [{node: HV-N1, status: Succeeded, updates_succeeded: 2, updates_failed: 0, error: null,
                    updates: [{title: 2026-11 Cumulative Update (KB5068791), id: KB5068791, result: Succeeded, error_code: 0}]}],
           failed_nodes: [HV-N3]}
lines:
  description: The run's result as lines of text, one per node (what the playbook prints).
  returned: success
  type: list
  elements: str
failed_nodes:
  description: Nodes whose updating failed (in the report).
  returned: success
  type: list
  elements: str
parameters:
  description: The Invoke-CauRun parameters sent (check mode - would be sent).
  returned: success
  type: dict
round_trips:
  description: WinRM round trips made, polls excluded.
  returned: always
  type: int
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import cau_argument_spec, check_wait_options, winrm_argument_spec
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import cau
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.queries import read_cluster_state
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import RemoteCommandError
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, session_from_module


def _run(module):
    p = module.params
    check_wait_options(p)
    plugin = p['plugin'] or cau.WINDOWS_UPDATE
    arguments = cau.check_plugin(plugin, p['plugin_arguments'])
    credential = cau.credential(p)
    result = {'changed': False, 'started': False, 'attached': False, 'recovered': None, 'report': None, 'failed_nodes': [],
              'lines': []}
    with session_from_module(module) as session:
        state = read_cluster_state(session)
        parameters = cau.check_options(p, [n.name for n in state.nodes])
        result['parameters'] = parameters
        action = cau.refuse_if_held(state, p['force_recovery'])
        if module.check_mode:
            result.update(changed=action != 'attach', attached=action == 'attach', round_trips=session.round_trips,
                          msg='check mode: %s' % ('an Updating Run is going on (%s)' % state.cau_run['summary']
                                                  if action == 'attach' else 'would start %s' % plugin))
            return result
        if action == 'recover':
            result['recovered'] = cau.recover(session, credential) or state.cau_run.get('run_id')
            result['changed'] = True
        if action == 'attach':
            result['attached'] = True
        else:
            cau.start(session, plugin, arguments, parameters, credential)
            result.update(started=True, changed=True)
        if not p['wait']:
            result['lines'] = ['The Updating Run was started; it was not followed to its end (Get-CauRun shows it)']
        else:
            cau.follow(session, credential, p['wait_timeout'], p['poll_interval'], started=result['started'])
            report = cau.report(session, credential)
            result['report'] = report
            result['failed_nodes'] = (report or {}).get('failed_nodes') or []
            result['lines'] = (report or {}).get('lines') or ['The Updating Run left no report']
            if report and report['status'] == 'Failed':
                raise RemoteCommandError('The Updating Run %s ended Failed: %s' % (report['run_id'], '; '.join(
                    '%s %s%s' % (n['node'], n['status'], ' (%s)' % n['error'] if n['error'] else '')
                    for n in report['nodes'] if n['status'] != 'Succeeded')), details={'report': report})
            if report and result['attached'] is False:
                result['changed'] = any(n['updates_succeeded'] for n in report['nodes'])
        result['round_trips'] = session.round_trips
    return result


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(cau_argument_spec())
    argument_spec.update(
        force_recovery=dict(type='bool', default=False),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=28800),
        poll_interval=dict(type='float', default=30.0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _run)


if __name__ == '__main__':
    main()

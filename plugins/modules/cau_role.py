#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cau_role
short_description: Manage the Cluster-Aware Updating clustered role (self-updating) - add, configure, enable, disable, remove
version_added: 0.4.0
description:
  - Adds the CAU clustered role (C(Add-CauClusterRole)), sets its schedule, plug-in and Updating Run options
    (C(Set-CauClusterRole), only the settings that differ), enables or disables it (C(Enable-/Disable-CauClusterRole);
    Microsoft's rolling upgrade procedure disables it for the upgrade) or removes it (C(Remove-CauClusterRole)).
  - Idempotent - the role's settings are read with C(Get-CauClusterRole) and compared first. Check mode and diff mode
    report what would change.
  - The role's settings are compared as C(Get-CauClusterRole) shows them, as text; the names of settings its
    documentation does not show (WeeksOfMonth, the switches, the plug-in arguments) are assumed to be the parameters'.
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
  - wsfc.rolling.cau
options:
  state:
    description: V(present) adds or configures the role, V(absent) removes it.
    type: str
    default: present
    choices: [present, absent]
  enabled:
    description: With O(state=present), the role runs its schedule (V(true)) or is disabled (V(false)); unset leaves it.
    type: bool
  days_of_week:
    description: Days the role's Updating Runs start (C(-DaysOfWeek)).
    type: list
    elements: str
    choices: [Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday]
  weeks_of_month:
    description: Weeks of the month (1-5, 5 the last) the runs start (C(-WeeksOfMonth)); not with O(interval_weeks).
    type: list
    elements: int
  interval_weeks:
    description: Every this many weeks (C(-IntervalWeeks)); not with O(weeks_of_month).
    type: int
  start_date:
    description: The earliest date a run may start (C(-StartDate)), as PowerShell reads a date.
    type: str
notes:
  - The cmdlets are documented at U(https://learn.microsoft.com/powershell/module/clusterawareupdating/).
seealso:
  - module: wsfc.rolling.cau_run
'''

EXAMPLES = r'''
- name: Self-updating on the second and fourth Tuesday, at most one failed node
  wsfc.rolling.cau_role:
    days_of_week: [Tuesday]
    weeks_of_month: [2, 4]
    max_failed_nodes: 1
    require_all_nodes_online: true
    enabled: true
  delegate_to: localhost

- name: Disable self-updating during a rolling OS upgrade
  wsfc.rolling.cau_role:
    enabled: false
  delegate_to: localhost
'''

RETURN = r'''
role:
  description: The role after the task (C(Get-CauClusterRole)), or null when there is none.
  returned: success
  type: dict
  sample: {group_name: CAUHVCLUcau, owner_node: HV-N4, state: Online, parameters: {DaysOfWeek: Tuesday, MaxFailedNodes: '1'}}
changes:
  description: What was (check mode - would be) done.
  returned: success
  type: list
  elements: str
round_trips:
  description: WinRM round trips made.
  returned: always
  type: int
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import cau_argument_spec, winrm_argument_spec
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import cau
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, session_from_module
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import error_for_record


def _role(value):
    if not value:
        return None
    return {'group_name': value.get('GroupName'), 'owner_node': value.get('OwnerNode'), 'state': value.get('State'),
            'parameters': value.get('Parameters') or {}}


def _read(session, credential, calls=()):
    results = session.invoke(list(calls) + [('cau.role', dict(credential)), ('cluster.nodes', {})], stop_on_error=True)
    for result in results:
        if not result.ok:
            raise error_for_record('Failed to configure the CAU clustered role', result.error)
    return _role(results[-2].value), results[-1].value or []


def _configure(module):
    p = module.params
    credential = cau.credential(p)
    arguments = cau.check_plugin(p['plugin'], p['plugin_arguments']) if p['plugin'] else {}
    schedule = cau.check_schedule(p)
    with session_from_module(module) as session:
        role, members = _read(session, credential)
        parameters = dict(cau.check_options(p, [m['Name'] for m in members], keep_false=True), **schedule)
        calls, changes = [], []
        plugin = {'name': p['plugin'], 'arguments': arguments} if p['plugin'] else None
        if p['state'] == 'absent':
            if role:
                calls.append(('cau.role_remove', dict(credential)))
                changes.append('remove the CAU clustered role %s' % role['group_name'])
        elif role is None:
            calls.append(('cau.role_add', dict(credential, parameters=parameters, plugin=plugin)))
            changes.append('add the CAU clustered role')
            if p['enabled'] is False:
                calls.append(('cau.role_enable', dict(credential, enabled=False)))
                changes.append('disable it')
        else:
            differ, plugin_differs = cau.role_changes(role['parameters'], parameters, p['plugin'], arguments)
            if differ or plugin_differs:
                calls.append(('cau.role_set', dict(credential, parameters=differ, plugin=plugin if plugin_differs else None)))
                changes.append('set %s' % ', '.join(sorted(differ) + (['CauPluginName'] if plugin_differs else [])))
            online = str(role['parameters'].get('Status') or role['state']) == 'Online'
            if p['enabled'] is not None and p['enabled'] != online:
                calls.append(('cau.role_enable', dict(credential, enabled=p['enabled'])))
                changes.append('enable it' if p['enabled'] else 'disable it')
        after = role
        if calls and not module.check_mode:
            after, _members = _read(session, credential, calls)
        out = {'changed': bool(calls), 'role': after, 'changes': changes, 'round_trips': session.round_trips}
        if module._diff:
            out['diff'] = {'before': role or {}, 'after': {'changes': changes} if module.check_mode else (after or {})}
        return out


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(cau_argument_spec())
    argument_spec.update(
        state=dict(type='str', default='present', choices=['present', 'absent']),
        enabled=dict(type='bool'),
        days_of_week=dict(type='list', elements='str', choices=list(cau.WEEKDAYS)),
        weeks_of_month=dict(type='list', elements='int'),
        interval_weeks=dict(type='int'),
        start_date=dict(type='str'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _configure)


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cau_scan
short_description: List the updates Cluster-Aware Updating would apply, per node
version_added: 0.1.0
description:
  - Runs C(Invoke-CauScan) for the cluster and returns, per node, the applicable updates (KB, title).
    Nodes with nothing to apply are listed in RV(compliant_nodes); a rolling run skips them.
  - CAU reaches every node itself, which from a WinRM session is a second hop; give it a credential
    (O(cau_user), O(cau_password)) or use a delegating transport. Without O(cau_user), over a transport
    that does not delegate, the WinRM credential (O(winrm_user), O(winrm_password)) is given to CAU.
  - Read-only. The scan lists the initial set of updates; updates that become applicable only after
    those are installed are not listed (Invoke-CauScan docs).
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
  - wsfc.rolling.winrm.READ_ONLY
options:
  plugin:
    description: CAU plug-in.
    type: str
    default: Microsoft.WindowsUpdatePlugin
    choices: [Microsoft.WindowsUpdatePlugin, Microsoft.HotfixPlugin]
  plugin_arguments:
    description:
      - Arguments of the plug-in as name and value, for example C(IncludeRecommendedUpdates) V(True) for the
        Windows Update plug-in, or C(HotfixRootFolderPath) (required) for the hotfix plug-in.
    type: dict
  cau_user:
    description: Account CAU uses to reach the nodes (C(-Credential)).
    type: str
  cau_password:
    description: Password of O(cau_user).
    type: str
'''

EXAMPLES = r'''
- name: Which nodes need updates?
  wsfc.rolling.cau_scan:
    cau_user: CONTOSO\svc-patch
    cau_password: "{{ vault_patch_password }}"
  delegate_to: localhost
  register: scan
'''

RETURN = r'''
nodes:
  description: Applicable updates by node name.
  returned: success
  type: dict
  sample: {HV-N1: [{kb: KB5068791, title: 2026-11 Cumulative Update ...}], HV-N2: []}
compliant_nodes:
  description: Nodes with nothing to apply.
  returned: success
  type: list
  elements: str
noncompliant_nodes:
  description: Nodes with at least one update to apply.
  returned: success
  type: list
  elements: str
round_trips:
  description: WinRM round trips made.
  returned: always
  type: int
'''

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import winrm_argument_spec
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, session_from_module
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import WinRMOptions, error_for_record

KB_IN_TITLE = re.compile(r'\b(KB\d{4,8})\b', re.I)


def _scan(module):
    p = module.params
    if p['plugin'] == 'Microsoft.HotfixPlugin' and not (p['plugin_arguments'] or {}).get('HotfixRootFolderPath'):
        raise InvalidOption('the Microsoft.HotfixPlugin plug-in needs plugin_arguments.HotfixRootFolderPath')
    if bool(p['cau_user']) != bool(p['cau_password']):
        raise InvalidOption('cau_user and cau_password go together')
    params = {'plugin': p['plugin'], 'plugin_arguments': p['plugin_arguments']}
    if p['cau_user']:
        params.update(user=p['cau_user'], password=p['cau_password'])
    else:
        options = WinRMOptions.from_params(p)
        if not options.can_delegate and options.user and options.password:
            params.update(user=options.user, password=options.password)
    with session_from_module(module) as session:
        members, rows = session.invoke([('cluster.nodes', {}), ('cau.scan', params)])
        for what, r in (('cluster nodes', members), ('Invoke-CauScan', rows)):
            if not r.ok:
                raise error_for_record('Failed to read %s' % what, r.error)
        nodes = dict((n['Name'], []) for n in members.value or [])
        for row in rows.value or []:
            match = KB_IN_TITLE.search(row.get('UpdateTitle') or '') or KB_IN_TITLE.search(row.get('UpdateId') or '')
            nodes.setdefault(row['NodeName'], []).append({'kb': match.group(1).upper() if match else None,
                                                          'title': row.get('UpdateTitle'), 'id': row.get('UpdateId')})
        return {'changed': False, 'nodes': nodes, 'round_trips': session.round_trips,
                'compliant_nodes': sorted(n for n, u in nodes.items() if not u),
                'noncompliant_nodes': sorted(n for n, u in nodes.items() if u)}


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(
        plugin=dict(type='str', default='Microsoft.WindowsUpdatePlugin',
                    choices=['Microsoft.WindowsUpdatePlugin', 'Microsoft.HotfixPlugin']),
        plugin_arguments=dict(type='dict'),
        cau_user=dict(type='str'),
        cau_password=dict(type='str', no_log=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _scan)


if __name__ == '__main__':
    main()

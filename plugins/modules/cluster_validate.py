#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cluster_validate
short_description: Validate a failover cluster with Test-Cluster and return the verdict per category
version_added: 0.4.0
description:
  - Runs C(Test-Cluster) once per category asked for and returns per category whether it passed, with warnings, or
    failed (its errors are failures and its warnings warnings, as Windows Admin Center reads them), with the path of
    the validation report on the node (C(%windir%\Cluster\Reports)).
  - Safe on a running cluster by default. The Storage category is not in the default set; without O(disks) its tests
    skip the disks and pools that clustered roles use. Naming O(disks) takes those disks offline for the tests
    (C(-Disk -Force)), and is refused unless O(allow_disruptive_storage_tests=true).
  - Test-Cluster takes minutes; the WinRM command is followed through its operation timeouts.
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
  - wsfc.rolling.winrm.READ_ONLY
options:
  categories:
    description: Test-Cluster categories (C(-Include)).
    type: list
    elements: str
    default: [Inventory, Network, System Configuration, Cluster Configuration]
    choices: [Inventory, Network, System Configuration, Cluster Configuration, Hyper-V Configuration, Storage Spaces Direct, Storage]
  nodes:
    description: Nodes to validate (C(-Node)); default every node.
    type: list
    elements: str
    default: []
  disks:
    description: Disks for the storage tests (C(-Disk), with C(-Force)); they go offline while tested.
    type: list
    elements: str
    default: []
  allow_disruptive_storage_tests:
    description: Allow O(disks) (storage tests that take disks offline). Only in a maintenance window.
    type: bool
    default: false
  fail_on:
    description: Fail the task when a category failed (V(failures)), or also on warnings (V(warnings)), or V(never).
    type: str
    default: failures
    choices: [failures, warnings, never]
notes:
  - Test-Cluster is documented at U(https://learn.microsoft.com/powershell/module/failoverclusters/test-cluster).
'''

EXAMPLES = r'''
- name: Validate the cluster before the first node
  wsfc.rolling.cluster_validate:
    categories: [Inventory, Network, System Configuration, Cluster Configuration, Hyper-V Configuration]
  delegate_to: localhost
  register: validation
'''

RETURN = r'''
result:
  description: C(Passed), C(Warning) (some category warned) or C(Failed) (some category failed).
  returned: success
  type: str
  sample: Warning
summary:
  description: The categories by verdict.
  returned: success
  type: dict
  sample: {result: Warning, Passed: [Inventory, Network], Warning: [Cluster Configuration], Failed: []}
categories:
  description: Per category its verdict, errors, warnings and report path.
  returned: success
  type: list
  elements: dict
  sample: [{category: Network, result: Passed, errors: [], warnings: [], report: 'C:\Windows\Cluster\Reports\wsfc-rolling-validate-20261203-2.htm'}]
msg:
  description: One line, the verdict and the first message of every category that did not pass.
  returned: success
  type: str
round_trips:
  description: WinRM round trips made.
  returned: always
  type: int
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import winrm_argument_spec
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import validation
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import UnsafeToProceed
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, session_from_module


def _validate(module):
    p = module.params
    validation.check(p['categories'], p['disks'], p['allow_disruptive_storage_tests'])
    if module.check_mode and p['disks']:
        return {'changed': False, 'round_trips': 0, 'msg': 'check mode: the storage tests of disks %s were not run (they '
                'take the disks offline)' % ', '.join(p['disks'])}
    with session_from_module(module) as session:
        summary, results = validation.run(session, p['categories'], p['nodes'], p['disks'])
        out = {'changed': False, 'result': summary['result'], 'summary': summary, 'categories': results,
               'msg': validation.line(summary, results), 'round_trips': session.round_trips}
    if (p['fail_on'] == 'failures' and summary['Failed']) or (p['fail_on'] == 'warnings' and summary['result'] != 'Passed'):
        raise UnsafeToProceed(out['msg'], details=dict((k, v) for k, v in out.items() if k not in ('msg', 'changed')))
    return out


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(
        categories=dict(type='list', elements='str', default=list(validation.DEFAULT), choices=list(validation.CATEGORIES)),
        nodes=dict(type='list', elements='str', default=[]),
        disks=dict(type='list', elements='str', default=[]),
        allow_disruptive_storage_tests=dict(type='bool', default=False),
        fail_on=dict(type='str', default='failures', choices=['failures', 'warnings', 'never']),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _validate)


if __name__ == '__main__':
    main()

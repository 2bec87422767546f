#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cluster_doctor
short_description: Check, read-only, that a failover cluster is ready for a rolling run, naming what to change
version_added: 0.3.0
description:
  - Reads the cluster through its name and every node through its own address, and the BMCs where given, and
    reports one finding per check with C(status) (V(ok), V(warning), V(error)), what was found and what to change.
  - "Cluster: WinRM to the cluster name with the chosen transport and certificate validation; the inventory lists
    exactly the cluster's nodes; every node Up; quorum with a margin; storage quiet and healthy; the run lock; the
    Cluster-Aware Updating clustered role and any CAU run in progress."
  - "Each node: WinRM answering as that node; PowerShell 5.1 or later; the FailoverClusters module (and Storage and
    Hyper-V where the cluster uses them, ClusterAwareUpdating for CAU); no pending restart; the Windows Update and
    Task Scheduler services; no execution policy forced by Group Policy (the scheduled tasks run script files);
    clock skew against the controller; whether the double hop is available and for what it is needed."
  - Changes nothing. Fails (after reporting everything) when a finding is an error and O(fail_on_problems) is true.
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
  - wsfc.rolling.winrm.READ_ONLY
options:
  nodes:
    description:
      - The cluster's nodes as the inventory has them.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Cluster node name.
        type: str
        required: true
      winrm_host:
        description: The node's WinRM address (defaults to O(nodes[].name)).
        type: str
      bmc:
        description: The node's BMC, checked when given (as M(wsfc.rolling.bmc_info) reads it).
        type: dict
        suboptions:
          name:
            description: BMC address.
            type: str
            required: true
          user:
            description: BMC user (or the environment variable E(WSFC_BMC_USER)).
            type: str
            required: true
          password:
            description: BMC password (or the environment variable E(WSFC_BMC_PASSWORD)).
            type: str
            required: true
          protocol:
            description: How the BMC is reached (or the environment variable E(WSFC_BMC_PROTOCOL)).
            type: str
            choices: [ipmi, redfish]
            default: ipmi
          port:
            description: BMC port (623 for IPMI, 443 for Redfish by default).
            type: int
          ca_path:
            description: CA bundle for a Redfish BMC's certificate.
            type: path
          validate_certs:
            description: Validate a Redfish BMC's certificate.
            type: bool
            default: true
          fingerprint:
            description: SHA-256 fingerprint of a Redfish BMC's certificate.
            type: str
          system_id:
            description: The Redfish Id of the node's system, for a BMC that manages several.
            type: str
  cau_required:
    description: The Cluster-Aware Updating role is needed (CAU scans or CAU-driven runs); its absence is an error.
    type: bool
    default: false
  lock_stale_after:
    description: Seconds without a heartbeat after which the run lock's run counts as gone.
    type: int
    default: 600
  max_time_skew:
    description:
      - Seconds of clock difference between a node and the cluster (and, with O(check_controller_clock), between the
        cluster and the controller) above which the doctor warns; above 300 it is an error (Kerberos' limit).
    type: int
    default: 60
  check_controller_clock:
    description:
      - Compare the cluster's clock with the controller's too. Turn it off only where the two cannot agree by design
        (the project's lab runs its clock faster than real time).
    type: bool
    default: true
  fail_on_problems:
    description: Fail the task when any finding is an error.
    type: bool
    default: true
'''

EXAMPLES = r'''
- name: Check the cluster before the first run
  wsfc.rolling.cluster_doctor:
    winrm_host: hvclu01.contoso.com
    winrm_user: CONTOSO\patch
    winrm_password: "{{ vault_winrm_password }}"
    nodes:
      - {name: HV-N1, winrm_host: hv-n1.contoso.com}
      - {name: HV-N2, winrm_host: hv-n2.contoso.com}
  delegate_to: localhost
'''

RETURN = r'''
findings:
  description: One entry per check, in the order they ran.
  returned: always
  type: list
  elements: dict
  sample: [{check: pending_restart, target: HV-N2, status: error, detail: a restart is pending from an earlier installation,
            fix: restart HV-N2 before the run}]
problems:
  description: The findings with status V(error).
  returned: always
  type: list
  elements: dict
summary:
  description: Counts of findings by status.
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import winrm_argument_spec
from ansible_collections.wsfc.rolling.plugins.module_utils._bmc.client import BmcOptions, connect
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import doctor
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import UnsafeToProceed
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import WinRMOptions


def _apply(module):
    p = module.params
    options = WinRMOptions.from_params(p)
    nodes = []
    for node in p['nodes']:
        bmc = BmcOptions.from_params(node['bmc']) if node.get('bmc') else None
        nodes.append({'name': node['name'], 'winrm_host': node.get('winrm_host'), 'bmc': bmc})
    findings = doctor.run(options, nodes, p['lock_stale_after'], p['cau_required'],
                          p['max_time_skew'], p['check_controller_clock'], bmc_connect=connect)
    result = {'changed': False, 'findings': findings.items, 'problems': findings.problems,
              'summary': dict((s, len([f for f in findings.items if f['status'] == s]))
                              for s in (doctor.OK, doctor.WARNING, doctor.ERROR))}
    for item in findings.warnings:
        module.warn('%s %s: %s%s' % (item['target'], item['check'], item['detail'], (' - %s' % item['fix']) if item['fix'] else ''))
    if findings.problems and p['fail_on_problems']:
        raise UnsafeToProceed('The cluster is not ready for a rolling run: %s' % '; '.join(
            '%s %s: %s - %s' % (f['target'], f['check'], f['detail'], f['fix']) for f in findings.problems), details=result)
    return result


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(
        nodes=dict(type='list', elements='dict', required=True, options=dict(
            name=dict(type='str', required=True),
            winrm_host=dict(type='str'),
            bmc=dict(type='dict', options=dict(
                name=dict(type='str', required=True),
                user=dict(type='str', required=True, fallback=(env_fallback, ['WSFC_BMC_USER'])),
                password=dict(type='str', required=True, no_log=True, fallback=(env_fallback, ['WSFC_BMC_PASSWORD'])),
                protocol=dict(type='str', default='ipmi', choices=['ipmi', 'redfish'], fallback=(env_fallback, ['WSFC_BMC_PROTOCOL'])),
                port=dict(type='int'),
                ca_path=dict(type='path'),
                validate_certs=dict(type='bool', default=True),
                fingerprint=dict(type='str'),
                system_id=dict(type='str'),
            )),
        )),
        cau_required=dict(type='bool', default=False),
        lock_stale_after=dict(type='int', default=600),
        max_time_skew=dict(type='int', default=60),
        check_controller_clock=dict(type='bool', default=True),
        fail_on_problems=dict(type='bool', default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _apply)


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: node_updates
short_description: Install Windows updates on one cluster node, as a background task on the node
version_added: 0.1.0
description:
  - Searches for and installs the applicable Windows updates on the node O(winrm_host) points at.
  - The Windows Update Agent refuses to download and install from a remote session, so the work runs on
    the node as a scheduled task under SYSTEM. The module starts it, then polls its status file with short
    calls; a dropped WinRM connection does not lose the installation. Once finished and read, the task is
    unregistered; its status file stays in C(%ProgramData%\wsfc.rolling) as a record.
  - In check mode only the search runs and the applicable updates are returned.
  - Does not restart the node; see M(wsfc.rolling.node_reboot) and RV(reboot_required).
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
  - wsfc.rolling.winrm.WAIT
  - wsfc.rolling.winrm.NODE_ID
  - wsfc.rolling.winrm.HEARTBEAT
attributes:
  check_mode:
    support: full
    description: Searches only (through a scheduled task on the node); installs nothing.
  diff_mode:
    support: none
    description: The updates are returned instead.
options:
  state:
    description: V(installed) installs the applicable updates. There is no default.
    type: str
    required: true
    choices: [installed]
  name:
    description: Cluster node name, used in messages (defaults to O(winrm_host)).
    type: str
  category_names:
    description:
      - Only updates of these classifications (for example V(Security Updates), V(Critical Updates)).
      - Optional updates (Windows Update's C(BrowseOnly), such as previews) are never installed unless their
        KB id is in O(accept_list).
    type: list
    elements: str
    default: [Critical Updates, Security Updates, Update Rollups]
  restart_pending:
    description:
      - What to do when the node already waits for a restart from an earlier installation (Windows Update then
        installs nothing more).
      - V(fail) stops with that reason and changes nothing. V(restart) restarts the node first (only when no other
        node is out and quorum keeps O(min_quorum_margin), as M(wsfc.rolling.node_reboot) does), then installs;
        use it on a drained node.
    type: str
    choices: [fail, restart]
    default: fail
  min_quorum_margin:
    description: With O(restart_pending=restart), the quorum margin that must remain while the node restarts.
    type: int
  accept_list:
    description: Only these KB ids (for example V(KB5068791)). All when empty.
    type: list
    elements: str
    default: []
  reject_list:
    description: Never these KB ids.
    type: list
    elements: str
    default: []
  job_id:
    description: Identifier of the task on the node (letters, digits, dashes). Defaults to a new one per run.
    type: str
  wait_timeout:
    description: Seconds to wait for the search and installation.
    type: int
    default: 7200
seealso:
  - module: wsfc.rolling.node_reboot
  - module: wsfc.rolling.cau_scan
'''

EXAMPLES = r'''
- name: Install security and critical updates on HV-N2
  wsfc.rolling.node_updates:
    state: installed
    name: HV-N2
    winrm_host: hv-n2.contoso.com
    category_names: [Security Updates, Critical Updates]
    reject_list: [KB5034439]
  delegate_to: localhost
  register: updates

- name: Search only
  wsfc.rolling.node_updates:
    state: installed
    winrm_host: hv-n2.contoso.com
  check_mode: true
  delegate_to: localhost
'''

RETURN = r'''
updates:
  description: Applicable updates found, with C(result) after installation.
  returned: success
  type: list
  elements: dict
  sample: [{kb: KB5068791, title: 2026-11 Cumulative Update ..., classification: Security Updates, result: Succeeded, hresult: 0}]
installed:
  description: Updates installed successfully.
  returned: success
  type: list
  elements: dict
failed_updates:
  description: Updates that failed, with C(result) and C(hresult).
  returned: always
  type: list
  elements: dict
reboot_required:
  description: Whether the node must restart to finish (also true when a restart was already pending).
  returned: success
  type: bool
restarted_first:
  description: Whether the node was restarted before installing, for a restart that was pending (O(restart_pending=restart)).
  returned: success
  type: bool
round_trips:
  description: WinRM round trips made (polls included).
  returned: always
  type: int
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import (
    check_wait_options, wait_argument_spec, winrm_argument_spec)
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import updates
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import RemoteCommandError, UnsafeToProceed
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, runner_from_module


def _apply(module):
    p = module.params
    check_wait_options(p)
    criteria = updates.validate_criteria(p['category_names'], p['accept_list'], p['reject_list'])
    mode = 'scan' if module.check_mode else 'install'
    job_id = p['job_id'] or 'wsfc-%s-%d' % (mode, int(time.time() * 1000))
    name = p['name'] or p['winrm_host']
    restarted = False
    with runner_from_module(module, node=p['name']) as runner:
        pending, job = updates.start_job(runner, job_id, mode, criteria)
        job_id = job.get('Id') or job_id
        if p['wait']:
            job = updates.wait_job(runner, job_id, p['wait_timeout'], p['poll_interval'])
            if job.get('RestartPending') and p['restart_pending'] == 'restart':
                # Restart first (gated like node_reboot), then install with a new job.
                before = updates.boot_state(runner, name)
                updates.restart_gate(before, name, p['min_quorum_margin'])
                updates.restart_and_wait(runner, name, p['wait_timeout'], p['poll_interval'], before)
                restarted = True
                job_id = '%s-r' % job_id[:62]
                pending, job = updates.start_job(runner, job_id, mode, criteria)
                job = updates.wait_job(runner, job.get('Id') or job_id, p['wait_timeout'], p['poll_interval'])
        summary = updates.summarize(job)
        summary['reboot_required'] = summary['reboot_required'] or (pending and not restarted)
        result = dict(summary, changed=bool(summary['installed']) or restarted or (module.check_mode and bool(summary['updates'])),
                      restarted_first=restarted, round_trips=runner.round_trips, polls=runner.polls,
                      finished=job.get('Phase') in ('Completed', 'Failed'))
    if job.get('RestartPending'):
        raise UnsafeToProceed('Windows Update on %s installed nothing: a restart from an earlier installation is still '
                              'pending there. Restart the node first (wsfc.rolling.node_reboot), or set '
                              'restart_pending=restart' % name, details=result)
    if job.get('Phase') == 'Failed':
        raise RemoteCommandError(updates.failure_message(name, job, summary), details=result)
    return result


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(wait_argument_spec(7200))
    argument_spec.update(
        state=dict(type='str', required=True, choices=['installed']),
        node_id=dict(type='str'),
        name=dict(type='str'),
        category_names=dict(type='list', elements='str', default=list(updates.DEFAULT_CLASSIFICATIONS)),
        restart_pending=dict(type='str', choices=['fail', 'restart'], default='fail'),
        min_quorum_margin=dict(type='int'),
        accept_list=dict(type='list', elements='str', default=[]),
        reject_list=dict(type='list', elements='str', default=[]),
        job_id=dict(type='str'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _apply)


if __name__ == '__main__':
    main()

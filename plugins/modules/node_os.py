#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: node_os
short_description: Upgrade a node's Windows Server in place, or wait until a reinstalled node runs the target build
version_added: 0.1.0
description:
  - Reads the build the node runs. When it is O(build) already, nothing is done.
  - With O(setup_media), starts C(setup.exe /auto upgrade /quiet) from that folder as a scheduled task (SYSTEM) on the
    node, the in-place path of the cluster OS rolling upgrade in which the node keeps its cluster membership, and
    waits until the node answers WinRM on O(build) and is back in membership, its cluster service answering and the
    node Paused or Up (Windows answers WinRM some time before that).
  - Without O(setup_media) it only waits, for a node being reinstalled through its BMC (PXE), until it answers on
    O(build); see O(previous_boot_time) for failing fast on the wrong build.
  - With O(wait=false) and no O(setup_media) it only reads what the node runs (RV(os) is null when the node does
    not answer).
  - Drain the node first (the rolling upgrade playbook does).
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
  - wsfc.rolling.winrm.WAIT
  - wsfc.rolling.winrm.NODE_ID
  - wsfc.rolling.winrm.HEARTBEAT
options:
  name:
    description: The node's name.
    type: str
    required: true
  build:
    description: The Windows Server build to reach, for example V(20348) (Windows Server 2022).
    type: int
    required: true
  setup_media:
    description:
      - Folder holding C(setup.exe) of the target release, as the node sees it (for example a UNC path).
      - Setup runs as SYSTEM from a scheduled task, unattended (C(/Auto Upgrade /Quiet /EULA accept /Compat
        IgnoreWarning)), with C(/ImageIndex) of the image that matches the edition installed on the node, and
        C(/CopyLogs) to C(%ProgramData%\\wsfc.rolling\\setup-logs). A share is read by the node's computer
        account, so it must grant Domain Computers read access; this is checked before anything starts.
      - When setup refuses (a compatibility block, no matching image, too little disk space), the task fails
        within one poll with setup's exit code and what it means.
    type: str
  setup_dynamic_update:
    description: Let setup download Dynamic Update packages during the upgrade (C(/DynamicUpdate Enable)).
    type: bool
    default: false
  previous_boot_time:
    description:
      - When only waiting, the node's boot time before it was restarted (RV(os.boot_time) of an earlier read), or
        an empty string when it did not answer then. An answer on another build after a new boot then fails at
        once (wrong image, or it booted from its old disk). Without it other builds are waited through.
    type: str
  wait_timeout:
    description: Seconds to wait for the node on O(build).
    type: int
    default: 7200
attributes:
  check_mode:
    support: full
    description: Reads the build and reports whether an upgrade would start; a wait for a build (without O(setup_media))
      returns at once with what the node runs now, since check mode started no reinstall.
  diff_mode:
    support: full
    description: Shows the build before and after.
'''

EXAMPLES = r'''
- name: Upgrade HV-N1 in place to Windows Server 2022
  wsfc.rolling.node_os:
    name: HV-N1
    winrm_host: hv-n1.contoso.com
    build: 20348
    setup_media: \\deploy\media\ws2022
  delegate_to: localhost
'''

RETURN = r'''
os:
  description: What the node runs when the task ends; null when it did not answer (O(wait=false)).
  returned: success
  type: dict
  sample: {caption: Microsoft Windows Server 2022 Datacenter, build: 20348, boot_time: "2026-11-22T02:47:10Z"}
  contains:
    caption:
      description: The OS name.
      type: str
    build:
      description: The OS build number.
      type: int
    boot_time:
      description: When the node last booted (ISO 8601, the node's clock).
      type: str
round_trips:
  description: WinRM round trips made (polls included).
  returned: when the node answered
  type: int
polls:
  description: How many of RV(round_trips) were status polls of the wait.
  returned: when the node answered
  type: int
no_answer:
  description: With O(wait=false), why the node did not answer (its RV(os) is then null).
  returned: when the node did not answer
  type: str
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import (
    check_wait_options, wait_argument_spec, winrm_argument_spec)
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import updates, upgrade
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, runner_from_module


def _os(state):
    return {'caption': state.get('Caption'), 'build': int(state.get('BuildNumber') or 0),
            'boot_time': state.get('LastBootUpTime')}


def _apply(module):
    p = module.params
    check_wait_options(p)
    upgrade.check_build(p['build'])
    with runner_from_module(module, node=p['name']) as runner:
        if not p['setup_media'] and (not p['wait'] or module.check_mode):
            # What the node runs now, without waiting; in check mode also in place of the wait for the new build
            # (check mode started no reinstall).
            try:
                state = updates.boot_state(runner, p['name'])
            except updates.UNREACHABLE as exc:
                return {'changed': False, 'os': None, 'no_answer': str(exc)}
            result = {'changed': False, 'os': _os(state), 'round_trips': runner.round_trips, 'polls': runner.polls}
            if p['wait']:
                result['msg'] = 'check mode: not waiting for build %d (%s runs build %s now)' % (
                    p['build'], p['name'], state['BuildNumber'])
            return result
        if not p['setup_media']:
            state = upgrade.wait_for_build(runner, p['name'], p['build'], p['wait_timeout'], p['poll_interval'],
                                           p['previous_boot_time'])
            return {'changed': False, 'os': _os(state), 'round_trips': runner.round_trips, 'polls': runner.polls}
        before = updates.boot_state(runner, p['name'])
        if int(before['BuildNumber']) == p['build']:
            return {'changed': False, 'os': _os(before), 'diff': {'before': _os(before), 'after': _os(before)},
                    'round_trips': runner.round_trips, 'polls': 0}
        if module.check_mode:
            upgrade.check_media(runner, p['name'], p['setup_media'])
            return {'changed': True, 'os': _os(before), 'diff': {'before': _os(before), 'after': {'build': p['build']}},
                    'round_trips': runner.round_trips, 'polls': 0}
        upgrade.start_inplace(runner, p['name'], p['setup_media'], p['setup_dynamic_update'])
        started = time.monotonic()
        state = upgrade.wait_for_build(runner, p['name'], p['build'], p['wait_timeout'], p['poll_interval'],
                                       before['LastBootUpTime'], inplace=True)
        # Upgraded in place the node is still a member: it is back once its cluster service runs and it
        # has joined (Windows answers WinRM before that, and cluster cmdlets fail until then).
        updates.wait_back(runner, p['name'], max(1.0, p['wait_timeout'] - (time.monotonic() - started)),
                          p['poll_interval'])
        return {'changed': True, 'os': _os(state), 'diff': {'before': _os(before), 'after': _os(state)},
                'round_trips': runner.round_trips, 'polls': runner.polls}


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(wait_argument_spec(7200))
    argument_spec.update(
        node_id=dict(type='str'),
        name=dict(type='str', required=True),
        build=dict(type='int', required=True),
        setup_media=dict(type='str'),
        setup_dynamic_update=dict(type='bool', default=False),
        previous_boot_time=dict(type='str'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _apply)


if __name__ == '__main__':
    main()

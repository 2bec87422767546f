#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: storage_health
short_description: Wait until Storage Spaces Direct has resynced and every virtual disk is healthy
version_added: 0.1.0
description:
  - Reads the storage jobs and virtual disks of the cluster and, with O(wait=true), waits until no storage
    job runs and every virtual disk is C(Healthy)/C(OK), which Microsoft requires before another server is
    taken offline.
  - Progress is watched; when the running jobs make no progress for O(stall_timeout) seconds the task fails
    naming the stuck jobs and disks, instead of waiting out one long timeout.
  - Never changes anything. On clusters without Storage Spaces Direct there is nothing to wait for.
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
  - wsfc.rolling.winrm.READ_ONLY
  - wsfc.rolling.winrm.WAIT
  - wsfc.rolling.winrm.HEARTBEAT
options:
  wait_timeout:
    description: Seconds to wait for the storage to be quiet and healthy.
    type: int
    default: 14400
  stall_timeout:
    description: Seconds without any progress of the running storage jobs before failing.
    type: int
    default: 1800
'''

EXAMPLES = r'''
- name: Wait for the resync after a node came back
  wsfc.rolling.storage_health:
    wait: true
    stall_timeout: 900
  delegate_to: localhost
'''

RETURN = r'''
storage:
  description: Storage state when the task ended.
  returned: success
  type: dict
  sample: {quiet_and_healthy: true, jobs: [], unhealthy_disks: {}, percent: 100}
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
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import storage
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, session_from_module


def _read(module):
    p = module.params
    check_wait_options(p)
    if p['stall_timeout'] <= 0:
        raise InvalidOption('stall_timeout must be greater than 0, got %d' % p['stall_timeout'])
    with session_from_module(module) as session:
        if p['wait']:
            view = storage.wait_storage(session, p['wait_timeout'], p['poll_interval'], p['stall_timeout'])
        else:
            view = storage.read_storage(session)
        return {'changed': False, 'storage': view.to_dict(), 'round_trips': session.round_trips, 'polls': session.polls}


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(wait_argument_spec(14400))
    argument_spec.update(stall_timeout=dict(type='int', default=1800))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _read)


if __name__ == '__main__':
    main()
